"""Truncated SVD (values and gradients) and tensor-train helpers against NumPy."""

import numpy as np
import pytest
import torch

from tqsim.tensor.svd import svd, truncated_svd
from tqsim.tensor.tt import (
    tt_from_dense,
    tt_inner,
    tt_move_center,
    tt_norm,
    tt_orthogonalize,
    tt_round,
    tt_to_dense,
    ttm_apply,
    ttm_from_dense,
    ttm_to_dense,
)


def complex_randn(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.complex128, generator=g)


def test_truncation_by_rank_and_cutoff():
    s_true = torch.tensor([4.0, 2.0, 1.0, 0.5, 0.1], dtype=torch.float64)
    q1, _ = torch.linalg.qr(complex_randn(7, 5, seed=1))
    q2, _ = torch.linalg.qr(complex_randn(6, 5, seed=2))
    a = q1 @ torch.diag(s_true).to(q1.dtype) @ q2.mH
    full = truncated_svd(a)
    np.testing.assert_allclose(full.s.numpy(), s_true.numpy(), atol=1e-12)
    assert full.discarded == pytest.approx(0.0, abs=1e-25)
    total = float((s_true**2).sum())
    r2 = truncated_svd(a, max_rank=2)
    assert r2.s.shape == (2,) and r2.discarded == pytest.approx((1 + 0.25 + 0.01) / total)
    # relative cutoff: dropping 0.5 and 0.1 discards 0.26/21.26 = 0.0122
    assert truncated_svd(a, cutoff=0.013).s.shape == (3,)
    assert truncated_svd(a, cutoff=0.012).s.shape == (4,)
    # absolute cutoff on the discarded weight
    assert truncated_svd(a, cutoff=0.27, relative=False).s.shape == (3,)
    rec = full.u @ torch.diag(full.s).to(a.dtype) @ full.vh
    np.testing.assert_allclose(rec.numpy(), a.numpy(), atol=1e-12)


def test_numerically_zero_singular_values_are_dropped():
    v = complex_randn(5, 1, seed=3)
    rank_one = v @ v.mH
    assert truncated_svd(rank_one).s.shape == (1,)


def gauge_invariant_loss(a, weights):
    u, s, vh = svd(a)
    # depends on U and V only through gauge-invariant products
    return (weights * (u @ torch.diag(s**1.5).to(u.dtype) @ vh).abs() ** 2).sum() + (s**3).sum()


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_svd_gradient_matches_finite_differences(shape, dtype):
    g = torch.Generator().manual_seed(5)
    a0 = torch.randn(*shape, dtype=dtype, generator=g)
    weights = torch.rand(*shape, dtype=torch.float64, generator=g)
    a = a0.clone().requires_grad_()
    gauge_invariant_loss(a, weights).backward()
    h = 1e-6
    for idx in [(0, 0), (1, 2), (shape[0] - 1, shape[1] - 1)]:
        for unit in ([1.0, 1j] if dtype.is_complex else [1.0]):
            d = torch.zeros_like(a0)
            d[idx] = unit
            fd = (gauge_invariant_loss(a0 + h * d, weights) - gauge_invariant_loss(a0 - h * d, weights)).item() / (2 * h)
            # PyTorch's convention: grad = dL/dRe + i dL/dIm
            got = a.grad[idx].real.item() if unit == 1.0 else a.grad[idx].imag.item()
            assert abs(got - fd) < 1e-5 * max(1, abs(fd))


def test_svd_gradient_finite_on_degenerate_and_zero_spectrum():
    # torch.linalg.svd's own backward is NaN/inf here
    for a0 in (torch.eye(4, dtype=torch.complex128), torch.zeros(3, 5, dtype=torch.complex128),
               torch.outer(torch.ones(4), torch.ones(3)).to(torch.complex128)):
        a = a0.clone().requires_grad_()
        u, s, vh = svd(a)
        loss = (u[:, :1] @ vh[:1]).abs().sum() + s.sum()
        loss.backward()
        assert torch.isfinite(torch.view_as_real(a.grad)).all()


def test_tt_round_trip_and_inner_products():
    t = complex_randn(2, 3, 2, 4, 2, seed=7)
    cores, discarded = tt_from_dense(t)
    assert discarded == pytest.approx(0.0, abs=1e-20)
    np.testing.assert_allclose(tt_to_dense(cores).numpy(), t.numpy(), atol=1e-12)
    other = complex_randn(2, 3, 2, 4, 2, seed=8)
    other_cores, _ = tt_from_dense(other)
    assert abs(tt_inner(cores, other_cores).item() - np.vdot(t.numpy(), other.numpy())) < 1e-10
    assert abs(tt_norm(cores).item() - np.linalg.norm(t.numpy())) < 1e-10


def _is_left_orthogonal(core):
    m = core.reshape(-1, core.shape[-1])
    return torch.allclose(m.mH @ m, torch.eye(m.shape[1], dtype=m.dtype), atol=1e-10)


def _is_right_orthogonal(core):
    m = core.reshape(core.shape[0], -1)
    return torch.allclose(m @ m.mH, torch.eye(m.shape[0], dtype=m.dtype), atol=1e-10)


def test_canonical_forms_and_moving_the_centre():
    t = complex_randn(2, 2, 2, 2, 2, 2, seed=9)
    cores, _ = tt_from_dense(t)
    for center in range(6):
        canon = tt_orthogonalize(cores, center)
        assert all(_is_left_orthogonal(c) for c in canon[:center])
        assert all(_is_right_orthogonal(c) for c in canon[center + 1:])
        np.testing.assert_allclose(tt_to_dense(canon).numpy(), t.numpy(), atol=1e-12)
        assert abs(torch.linalg.vector_norm(canon[center]).item() - np.linalg.norm(t.numpy())) < 1e-10
    canon = tt_orthogonalize(cores, 1)
    tt_move_center(canon, 1, 4)
    assert all(_is_left_orthogonal(c) for c in canon[:4]) and _is_right_orthogonal(canon[5])
    np.testing.assert_allclose(tt_to_dense(canon).numpy(), t.numpy(), atol=1e-12)


def test_rounding_matches_best_low_rank_error():
    # a train with redundant ranks: the sum of two identical trains rounds to rank of one
    t = complex_randn(2, 2, 2, 2, seed=10)
    cores, _ = tt_from_dense(t)
    # the sum of a train with itself: ranks double, the tensor is 2 t
    doubled = [torch.cat([cores[0], cores[0]], dim=2)] + [_block(c) for c in cores[1:-1]]
    doubled.append(torch.cat([cores[-1], cores[-1]], dim=0))
    np.testing.assert_allclose(tt_to_dense(doubled).numpy(), 2 * t.numpy(), atol=1e-12)
    rounded, discarded = tt_round(doubled)
    assert [c.shape[2] for c in rounded[:-1]] == [c.shape[2] for c in cores[:-1]]
    np.testing.assert_allclose(tt_to_dense(rounded).numpy(), 2 * t.numpy(), atol=1e-10)
    # truncating to rank 1: error equals the dropped singular values at each bond, at most
    low, discarded = tt_round(cores, max_rank=1)
    err = np.linalg.norm(tt_to_dense(low).numpy() - t.numpy()) ** 2 / np.linalg.norm(t.numpy()) ** 2
    assert err <= discarded + 1e-12 and discarded > 0


def _block(core):
    r0, n, r1 = core.shape
    out = torch.zeros(2 * r0, n, 2 * r1, dtype=core.dtype)
    out[:r0, :, :r1] = core
    out[r0:, :, r1:] = core
    return out


def test_tt_matrix_from_dense_apply_and_back():
    g = torch.Generator().manual_seed(11)
    m = torch.randn(12, 8, dtype=torch.float64, generator=g)
    mcores, discarded = ttm_from_dense(m, [3, 4], [2, 4])
    assert discarded == pytest.approx(0.0, abs=1e-20)
    np.testing.assert_allclose(ttm_to_dense(mcores).numpy(), m.numpy(), atol=1e-12)
    x = torch.randn(2, 4, dtype=torch.float64, generator=g)
    xcores, _ = tt_from_dense(x)
    y = tt_to_dense(ttm_apply(mcores, xcores))
    np.testing.assert_allclose(y.reshape(-1).numpy(), m.numpy() @ x.reshape(-1).numpy(), atol=1e-12)
