"""Matrix functions of PSD matrices (tqsim.tensor.matfunc) against SciPy and finite differences,
and tensor-train sums (tqsim.tensor.tt.tt_sum) against dense addition."""

import numpy as np
import pytest
import scipy.linalg
import torch

from tqsim.tensor.matfunc import hermitian_eigvalsh, logm_support, sqrtm_psd, unresolved_eigenvalues
from tqsim.tensor.tt import tt_from_dense, tt_sum, tt_to_dense


def random_psd(d: int, rank: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(d, rank)) + 1j * rng.normal(size=(d, rank))
    rho = x @ x.conj().T
    return rho / np.trace(rho).real


@pytest.mark.parametrize("rank", [1, 3, 8])
def test_square_root_squares_back_and_matches_scipy(rank):
    rho = random_psd(8, rank, rank)
    root = sqrtm_psd(torch.tensor(rho)).numpy()
    np.testing.assert_allclose(root @ root, rho, atol=1e-13)
    np.testing.assert_allclose(root, root.conj().T, atol=1e-14)
    if rank == 8:  # SciPy's sqrtm is accurate on full-rank matrices
        np.testing.assert_allclose(root, scipy.linalg.sqrtm(rho), atol=1e-12)


def test_kernel_of_a_pure_state_counts_as_zero():
    psi = np.random.default_rng(0).normal(size=16) + 0j
    rho = np.outer(psi, psi.conj()) / np.vdot(psi, psi).real
    lam = torch.linalg.eigvalsh(torch.tensor(rho))
    assert unresolved_eigenvalues(lam).sum().item() == 15
    # without that, sqrt of rounding noise (~1e-8 each) would pile up in the trace
    assert abs(torch.trace(sqrtm_psd(torch.tensor(rho))).real.item() - 1) < 1e-13


def test_log_on_the_support_matches_scipy():
    full = random_psd(8, 8, 11)
    np.testing.assert_allclose(logm_support(torch.tensor(full)).numpy(), scipy.linalg.logm(full), atol=1e-11)
    # rank 2: log on the support, zero on the kernel
    low = random_psd(8, 2, 12)
    lam, vec = np.linalg.eigh(low)
    expected = (vec[:, -2:] * np.log(lam[-2:])) @ vec[:, -2:].conj().T
    np.testing.assert_allclose(logm_support(torch.tensor(low)).numpy(), expected, atol=1e-11)


@pytest.mark.parametrize("function", [sqrtm_psd, logm_support], ids=["sqrt", "log"])
def test_gradients_match_central_differences(function):
    rho = torch.tensor(random_psd(4, 4, 5))
    direction = torch.tensor(random_psd(4, 4, 6)) - torch.eye(4) / 4  # Hermitian, traceless
    weights = torch.tensor(np.random.default_rng(7).normal(size=(4, 4)))

    def f(t):
        return (function(rho + t * direction).real * weights).sum()

    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    f(t).backward()
    h = 1e-6
    numeric = (f(torch.tensor(h)) - f(torch.tensor(-h))) / (2 * h)
    assert abs(t.grad.item() - numeric.item()) < 1e-7


def test_gradient_stays_finite_on_repeated_eigenvalues():
    rho = (torch.eye(4, dtype=torch.complex128) / 4).requires_grad_()
    sqrtm_psd(rho).real.sum().backward()
    assert torch.isfinite(torch.view_as_real(rho.grad)).all()


def test_tt_sum_is_dense_addition():
    rng = np.random.default_rng(2)
    a, b = (torch.tensor(rng.normal(size=(2, 3, 2, 2))) for _ in range(2))
    cores_a, _ = tt_from_dense(a, max_rank=None)
    cores_b, _ = tt_from_dense(b, max_rank=None)
    total = tt_to_dense(tt_sum(cores_a, cores_b))
    np.testing.assert_allclose(total.numpy(), (a + b).numpy(), atol=1e-12)


@pytest.mark.parametrize("breakdown", ["raises", "nan"])
def test_single_precision_breakdowns_are_retried_in_double(monkeypatch, breakdown):
    # MKL's cheevd failed to converge (or gave NaN) on a complex64 matrix of rounding noise;
    # the retry must give NumPy's answer in the input's precision
    rho = torch.tensor(random_psd(6, 3, 4), dtype=torch.complex64)
    solver = torch.linalg.eigvalsh

    def flaky(m):
        if m.dtype == torch.complex64:
            if breakdown == "raises":
                raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge")
            return torch.full(m.shape[:-1], float("nan"))
        return solver(m)

    monkeypatch.setattr(torch.linalg, "eigvalsh", flaky)
    lam = hermitian_eigvalsh(rho)
    assert lam.dtype == torch.float32
    np.testing.assert_allclose(lam.numpy(), np.linalg.eigvalsh(rho.numpy().astype(np.complex128)), atol=1e-6)
