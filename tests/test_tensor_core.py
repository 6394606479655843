"""The shared tensor core against NumPy Kronecker products and einsum."""

import itertools

import numpy as np
import pytest
import torch

from tqsim.tensor import (
    apply_diagonal,
    apply_matrix,
    contract,
    contraction_cache_info,
    flip_qubits,
    mode_product,
    permute_qubits,
    reduce_to,
)

from oracles import embed, random_state, random_unitary

QUBIT_SETS = [[0], [3], [4], [0, 1], [1, 0], [2, 4], [4, 0], [1, 3, 2], [0, 4, 2], [0, 1, 2, 3]]


@pytest.mark.parametrize("qubits", QUBIT_SETS, ids=str)
def test_apply_matrix_matches_kronecker(qubits, dtype, tol, rng):
    n = 5
    u = random_unitary(len(qubits), rng)
    psi = random_state(n, rng)
    expected = embed(u, qubits, n) @ psi
    got = apply_matrix(torch.tensor(psi, dtype=dtype), torch.tensor(u, dtype=dtype), qubits)
    np.testing.assert_allclose(got.numpy(), expected, atol=tol)


def _tensordot_oracle(psi: np.ndarray, matrix: np.ndarray, qubits: list[int]) -> np.ndarray:
    """``matrix`` (big-endian over ``qubits``) contracted with the axes of an n-axis ket by NumPy."""
    n, k = psi.size.bit_length() - 1, len(qubits)
    out = np.tensordot(matrix.reshape((2,) * 2 * k), psi.reshape((2,) * n), axes=(list(range(k, 2 * k)), qubits))
    return np.moveaxis(out, list(range(k)), qubits).reshape(-1)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_apply_matrix_at_every_position(k, dtype, tol, rng):
    """Targets ending anywhere, from the last qubit (rows of 2**k amplitudes) to the first, take
    different products (I ⊗ M on the last two qubits, M ⊗ I on rows of a few trailing amplitudes,
    batched products, plain ones); all match the Kronecker oracle, written into a buffer or not, for
    a matrix contiguous in memory or not."""
    n = 8
    psi = random_state(n, rng)
    for low in range(n - k + 1):
        qubits = list(range(low, low + k))
        u = random_unitary(k, rng)
        expected = embed(u, qubits, n) @ psi
        got = apply_matrix(torch.tensor(psi, dtype=dtype), torch.tensor(u, dtype=dtype), qubits)
        np.testing.assert_allclose(got.numpy(), expected, atol=tol)
        out = torch.full((2**n,), float("nan"), dtype=dtype)
        strided = torch.tensor(u, dtype=dtype).mT.contiguous().mT  # the same matrix, laid out by columns
        apply_matrix(torch.tensor(psi, dtype=dtype), strided, qubits, out=out)
        np.testing.assert_allclose(out.numpy(), expected, atol=tol)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_real_matrices_on_large_complex_kets_at_every_position(k, dtype, tol, rng):
    """A real matrix on a complex ket of 2**14 amplitudes acts on the real and imaginary parts by one
    real product (also as M ⊗ I on rows near the last qubit); it matches NumPy's contraction."""
    n = 14
    psi = random_state(n, rng)
    for low in [0, 3, n - k - 6, n - k - 4, n - k - 3, n - k - 2, n - k - 1, n - k]:
        qubits = list(range(low, low + k))
        u = np.linalg.qr(rng.standard_normal((2**k, 2**k)))[0]
        got = apply_matrix(torch.tensor(psi, dtype=dtype), torch.tensor(u, dtype=dtype), qubits)
        np.testing.assert_allclose(got.numpy(), _tensordot_oracle(psi, u, qubits), atol=tol)


@pytest.mark.parametrize("qubits", [[1], [2], [3], [0, 1], [1, 2], [0, 3], [3, 1]], ids=str)
def test_apply_matrix_batched_state_and_matrix(qubits, rng):
    n, batch = 4, 3
    us = [random_unitary(len(qubits), rng) for _ in range(batch)]
    psis = [random_state(n, rng) for _ in range(batch)]
    states = torch.tensor(np.array(psis))
    mats = torch.tensor(np.array(us))
    # batch of states, one matrix
    got = apply_matrix(states, mats[0], qubits)
    for b in range(batch):
        np.testing.assert_allclose(got[b].numpy(), embed(us[0], qubits, n) @ psis[b], atol=1e-12)
    # one state, batch of matrices
    got = apply_matrix(states[0], mats, qubits)
    for b in range(batch):
        np.testing.assert_allclose(got[b].numpy(), embed(us[b], qubits, n) @ psis[0], atol=1e-12)
    # paired batches
    got = apply_matrix(states, mats, qubits)
    for b in range(batch):
        np.testing.assert_allclose(got[b].numpy(), embed(us[b], qubits, n) @ psis[b], atol=1e-12)


def test_apply_matrix_out_buffer(rng):
    psi = torch.tensor(random_state(6, rng))
    u = torch.tensor(random_unitary(2, rng))
    for qubits in ([2, 3], [0, 5], [5, 4]):
        out = torch.full_like(psi, float("nan"))
        result = apply_matrix(psi, u, qubits, out=out)
        assert result.data_ptr() == out.data_ptr()
        np.testing.assert_allclose(out.numpy(), apply_matrix(psi, u, qubits).numpy(), atol=1e-14)


@pytest.mark.parametrize("qubits", [[0], [2], [1, 3], [3, 0], [0, 2, 3]], ids=str)
def test_apply_diagonal_matches_kronecker(qubits, rng):
    n = 4
    d = np.exp(1j * rng.uniform(0, 2 * np.pi, size=2 ** len(qubits)))
    psi = random_state(n, rng)
    got = apply_diagonal(torch.tensor(psi), torch.tensor(d), qubits)
    np.testing.assert_allclose(got.numpy(), embed(np.diag(d), qubits, n) @ psi, atol=1e-12)


def test_flip_and_permute_and_reduce(rng):
    n = 4
    psi = random_state(n, rng)
    t = torch.tensor(psi)
    x = np.array([[0, 1], [1, 0]])
    for qubits in ([0], [1, 3], [0, 1, 2, 3]):
        full = np.eye(1)
        for q in range(n):
            full = np.kron(full, x if q in qubits else np.eye(2))
        np.testing.assert_allclose(flip_qubits(t, qubits).numpy(), full @ psi, atol=1e-14)
    tensor = psi.reshape([2] * n)
    for order in ([2, 0, 3, 1], [0, 1, 2, 3], [2, 3, 0, 1], [1, 2, 3, 0], [3, 0, 1, 2], [0, 2, 3, 1]):
        np.testing.assert_allclose(
            permute_qubits(t, order).numpy(), np.transpose(tensor, order).reshape(-1), atol=1e-14
        )
    p = np.abs(psi) ** 2
    for keep in ([1], [3, 0], [2, 1, 0]):
        others = tuple(q for q in range(n) if q not in keep)
        expected = np.transpose(p.reshape([2] * n).sum(axis=others), np.argsort(np.argsort(keep)))
        marginal = p.reshape([2] * n).sum(axis=others)  # axes in sorted(keep) order
        expected = np.transpose(marginal, [sorted(keep).index(q) for q in keep]).reshape(-1)
        np.testing.assert_allclose(reduce_to(torch.tensor(p), keep).numpy(), expected, atol=1e-14)


def test_contract_matches_numpy_and_caches(rng):
    a, b, c = (rng.normal(size=s) for s in ((3, 4), (4, 5, 2), (2, 6)))
    before = contraction_cache_info()
    for _ in range(3):
        got = contract("ij,jkl,lm->ikm", *(torch.tensor(v) for v in (a, b, c)))
    np.testing.assert_allclose(got.numpy(), np.einsum("ij,jkl,lm->ikm", a, b, c), atol=1e-12)
    after = contraction_cache_info()
    assert after.misses == before.misses + 1
    assert after.hits >= before.hits + 2


def test_contract_rejects_implicit_equation():
    with pytest.raises(ValueError, match="explicit"):
        contract("ij,jk", torch.ones(2, 2), torch.ones(2, 2))


@pytest.mark.parametrize("mode", [0, 1, 2, -1])
def test_mode_product_matches_einsum(mode, rng):
    t = rng.normal(size=(3, 4, 5))
    m = rng.normal(size=(6, t.shape[mode]))
    letters = "abc"
    ax = letters[mode]
    out = letters.replace(ax, "z")
    expected = np.einsum(f"{letters},z{ax}->{out}", t, m)
    np.testing.assert_allclose(mode_product(torch.tensor(t), torch.tensor(m), mode).numpy(), expected, atol=1e-12)


def test_mode_product_bad_input():
    with pytest.raises(ValueError, match="cannot act on mode 1"):
        mode_product(torch.ones(2, 3), torch.ones(4, 5), 1)
    with pytest.raises(IndexError, match="mode 3"):
        mode_product(torch.ones(2, 3), torch.ones(4, 3), 3)


def test_grouped_view_never_exceeds_cuda_dimension_limit():
    # a 13-qubit density matrix is a 26-qubit flat tensor: (2,)*26 would have 26 axes
    rho = torch.zeros(2**26 // 2**10, dtype=torch.complex64)  # 16-qubit flat tensor, cheap
    u = torch.eye(2, dtype=torch.complex64)
    for qubits in itertools.combinations(range(16), 1):
        assert apply_matrix(rho, u, list(qubits)).shape == rho.shape


def test_ket_reduced_and_trace_out_match_numpy(rng):
    from tqsim.tensor import ket_reduced, trace_out

    n = 6
    psi = random_state(n, rng)
    rho = np.outer(psi, psi.conj())
    for keep in ([0], [1, 2], [0, 3, 5], [4, 5]):
        others = [q for q in range(n) if q not in keep]
        t = psi.reshape([2] * n).transpose(keep + others).reshape(2 ** len(keep), -1)
        expected = t @ t.conj().T
        np.testing.assert_allclose(ket_reduced(torch.tensor(psi), keep).numpy(), expected, atol=1e-12)
        np.testing.assert_allclose(trace_out(torch.tensor(rho), keep).numpy(), expected, atol=1e-12)


def test_tt_merge_contracts_neighbouring_cores(rng):
    from tqsim.tensor.tt import tt_from_dense, tt_merge

    t = torch.tensor(rng.normal(size=(2, 3, 2, 2)))
    cores, _ = tt_from_dense(t)
    merged = tt_merge(cores[1:3])
    assert merged.shape == (cores[1].shape[0], 6, cores[2].shape[-1])
    whole = tt_merge(cores).reshape(2, 3, 2, 2)
    np.testing.assert_allclose(whole.numpy(), t.numpy(), atol=1e-12)


def test_permute_qubits_on_batches_for_random_orders(rng):
    """Batched, against numpy's transpose, for random orders of 12 qubits (runs of qubits that stay
    adjacent are moved as one axis, which these orders exercise in every mix)."""
    n = 12
    psi = rng.normal(size=(3, 2**n)) + 1j * rng.normal(size=(3, 2**n))
    for _ in range(5):
        order = [int(q) for q in rng.permutation(n)]
        expected = np.transpose(psi.reshape(3, *[2] * n), [0] + [1 + o for o in order]).reshape(3, -1)
        np.testing.assert_allclose(permute_qubits(torch.tensor(psi), order).numpy(), expected, atol=1e-14)
    order = list(range(8, 12)) + list(range(4)) + list(range(4, 8))  # three runs
    expected = np.transpose(psi.reshape(3, *[2] * n), [0] + [1 + o for o in order]).reshape(3, -1)
    np.testing.assert_allclose(permute_qubits(torch.tensor(psi), order).numpy(), expected, atol=1e-14)


@pytest.mark.parametrize("qubits", [[0, 1, 2], [4, 5, 6, 7, 8], [9, 10], [10, 11, 12], [0]], ids=str)
def test_real_matrices_on_large_states_match_numpy(qubits, dtype, tol, rng):
    """A real matrix on a state of 2**15 amplitudes takes the real product over interleaved parts."""
    n, k = 15, len(qubits)
    matrix = np.linalg.qr(rng.normal(size=(2**k, 2**k)))[0]  # real orthogonal: RY, CX, H and their products
    psi = random_state(n, rng)
    lo = qubits[0]
    expected = np.einsum("ij,ajb->aib", matrix, psi.reshape(2**lo, 2**k, -1)).reshape(-1)
    state = torch.tensor(psi, dtype=dtype)
    op = torch.tensor(matrix, dtype=dtype)
    np.testing.assert_allclose(apply_matrix(state, op, qubits).numpy(), expected, atol=tol)
    out = torch.full_like(state, float("nan"))
    assert apply_matrix(state, op, qubits, out=out).data_ptr() == out.data_ptr()
    np.testing.assert_allclose(out.numpy(), expected, atol=tol)
    batch = torch.stack([state, 2 * state])
    np.testing.assert_allclose(apply_matrix(batch, op, qubits)[1].numpy(), 2 * expected, atol=2 * tol)
