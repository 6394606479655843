"""Quantum information on every state kind, against QuTiP.

The same state is held as a StateVector, a DensityMatrix, an MPS and (for
product states) a ProductState; every function must agree with QuTiP on each.
"""

import math

import numpy as np
import pytest
import qutip
import torch

import tqsim as tq

from circuits import random_circuit

N = 6


def entangled_state(seed, dtype=torch.complex128):
    rng = np.random.default_rng(seed)
    circuit, _ = random_circuit(N, 30, rng)
    return circuit.run(tq.StateVector.zeros(N, dtype=dtype))


def kinds(sv: tq.StateVector):
    yield "statevector", sv
    yield "density", tq.DensityMatrix.from_state(sv)
    yield "mps", tq.MPS.from_statevector(sv, cutoff=0)


def as_qutip(sv: tq.StateVector) -> qutip.Qobj:
    return qutip.Qobj(sv.amplitudes().numpy().astype(complex), dims=[[2] * N, [1] * N])


def tol_for(dtype):
    return 1e-9 if dtype == torch.complex128 else 5e-4


@pytest.mark.parametrize("keep", [[0], [2, 3], [5, 1], [0, 2, 4], [3, 4, 5, 0]], ids=str)
def test_partial_trace_on_every_kind(keep, dtype):
    sv = entangled_state(1, dtype)
    ket = as_qutip(sv)
    expected = ket.ptrace(sorted(keep)).full()
    axes = [sorted(keep).index(q) for q in keep]
    k = len(keep)
    expected = expected.reshape([2] * 2 * k).transpose(axes + [k + a for a in axes]).reshape(2**k, 2**k)
    for name, state in kinds(sv):
        got = tq.partial_trace(state, keep).matrix().numpy()
        np.testing.assert_allclose(got, expected, atol=tol_for(dtype), err_msg=name)


@pytest.mark.parametrize("subsystem", [[0], [1, 2], [0, 1, 2], [3, 4, 5], [0, 5], [1, 2, 3, 4], [0, 2, 4]], ids=str)
def test_entropies_on_every_kind(subsystem, dtype):
    sv = entangled_state(2, dtype)
    reduced = as_qutip(sv).ptrace(subsystem)
    lam = np.clip(np.linalg.eigvalsh(reduced.full()), 0, None)
    expected = {
        (1, math.e): qutip.entropy_vn(reduced),
        (1, 2): qutip.entropy_vn(reduced, base=2),
        (2, math.e): -np.log(np.sum(lam**2)),
        (float("inf"), math.e): -np.log(lam.max()),
    }
    for name, state in kinds(sv):
        for (alpha, base), value in expected.items():
            got = tq.entropy(state, subsystem, alpha=alpha, base=base).item()
            assert abs(got - value) < 10 * tol_for(dtype), (name, alpha, base)
        assert abs(tq.purity(state, subsystem).item() - np.sum(lam**2)) < 10 * tol_for(dtype), name


@pytest.mark.parametrize("a,b", [([0], [1]), ([0, 1], [4]), ([2], [3, 5])], ids=str)
def test_mutual_information_and_negativity(a, b):
    sv = entangled_state(3)
    ket = as_qutip(sv)
    rho_ab = ket.ptrace(sorted(a + b))
    mi = qutip.entropy_mutual(rho_ab, [sorted(a + b).index(q) for q in a], [sorted(a + b).index(q) for q in b])
    # QuTiP's negativity transposes one subsystem of a bipartite state: group a and b first
    dims_a, dims_b = 2 ** len(a), 2 ** len(b)
    order = a + b
    rho_ordered = ket.ptrace(sorted(order)).full().reshape([2] * 2 * len(order))
    axes = [sorted(order).index(q) for q in order]
    rho_ordered = rho_ordered.transpose(axes + [len(order) + x for x in axes]).reshape(dims_a * dims_b, -1)
    bipartite = qutip.Qobj(rho_ordered, dims=[[dims_a, dims_b], [dims_a, dims_b]])
    # exact values from NumPy's eigenvalues of the partial transpose; QuTiP's trace
    # norm goes through a matrix square root and rounds at ~1e-9 (2e-9 for a zero
    # log-negativity), so it is checked to that looser bound only
    transposed = rho_ordered.reshape(dims_a, dims_b, dims_a, dims_b).transpose(2, 1, 0, 3)
    trace_norm = np.abs(np.linalg.eigvalsh(transposed.reshape(dims_a * dims_b, -1))).sum()
    neg, log_neg = (trace_norm - 1) / 2, np.log2(trace_norm)
    assert abs(qutip.negativity(bipartite, 0) - neg) < 1e-8
    assert abs(qutip.negativity(bipartite, 0, logarithmic=True) - log_neg) < 1e-8
    for name, state in kinds(sv):
        assert abs(tq.mutual_information(state, a, b).item() - mi) < 1e-9, name
        assert abs(tq.negativity(state, a, b).item() - neg) < 1e-12, name
        assert abs(tq.log_negativity(state, a, b).item() - log_neg) < 1e-12, name


def test_negativity_of_a_bell_pair_and_a_product_state():
    bell = tq.Circuit(2).h(0).cx(0, 1).run(tq.StateVector.zeros(2, dtype=torch.complex128))
    assert tq.negativity(bell, [0], [1]).item() == pytest.approx(0.5, abs=1e-12)
    assert tq.log_negativity(bell, [0], [1]).item() == pytest.approx(1.0, abs=1e-12)
    product = tq.ProductState.random(3, generator=torch.Generator().manual_seed(0), dtype=torch.complex128)
    assert tq.negativity(product, [0], [2]).item() == pytest.approx(0.0, abs=1e-12)


def test_fidelity_and_trace_distance_match_qutip():
    a, b = entangled_state(4), entangled_state(5)
    qa, qb = as_qutip(a), as_qutip(b)
    f = qutip.fidelity(qa, qb) ** 2  # QuTiP returns the square root
    # brute force: half the sum of |eigenvalues| of the difference of projectors (QuTiP's
    # tracedist goes through a matrix square root and is off by ~3e-7 on these rank-2 matrices)
    x, y = a.amplitudes().numpy(), b.amplitudes().numpy()
    d = np.abs(np.linalg.eigvalsh(np.outer(x, x.conj()) - np.outer(y, y.conj()))).sum() / 2
    for (_, x), (_, y) in zip(kinds(a), kinds(b)):
        assert abs(tq.fidelity(x, y).item() - f) < 1e-9
        assert abs(tq.trace_distance(x, y).item() - d) < 1e-9
    # mixed states: reduced states of two qubits
    ra, rb = tq.partial_trace(a, [0, 3]), tq.partial_trace(b, [0, 3])
    qra, qrb = qa.ptrace([0, 3]), qb.ptrace([0, 3])
    assert abs(tq.fidelity(ra, rb).item() - qutip.fidelity(qra, qrb) ** 2) < 1e-8
    assert abs(tq.trace_distance(ra, rb).item() - qutip.tracedist(qra, qrb)) < 1e-9
    # pure against mixed
    assert abs(tq.fidelity(a, tq.DensityMatrix.from_state(b)).item() - f) < 1e-9


def test_product_state_quantities_match_its_state_vector():
    p = tq.ProductState.random(N, generator=torch.Generator().manual_seed(4), dtype=torch.complex128)
    sv = p.to_statevector()
    for keep in ([0], [4, 1], [0, 2, 5]):
        np.testing.assert_allclose(tq.partial_trace(p, keep).matrix().numpy(), tq.partial_trace(sv, keep).matrix().numpy(), atol=1e-12)
        assert abs(tq.entropy(p, keep).item()) < 1e-12 and abs(tq.entropy(sv, keep).item()) < 1e-7
        assert abs(tq.purity(p, keep).item() - 1) < 1e-12
    q = tq.ProductState.random(N, generator=torch.Generator().manual_seed(5), dtype=torch.complex128)
    for x, y in ((p, q), (p, q.to_mps()), (p.to_mps(), q.to_statevector())):
        assert abs(tq.fidelity(x, y).item() - tq.fidelity(sv, q.to_statevector()).item()) < 1e-12
    assert tq.schmidt_values(p, 3).tolist() == [1.0]


def test_schmidt_values_agree_across_kinds():
    sv = entangled_state(6)
    mps = tq.MPS.from_statevector(sv, cutoff=0)
    for cut in range(1, N):
        expected = np.linalg.svd(sv.amplitudes().numpy().reshape(2**cut, -1), compute_uv=False)
        got_sv = tq.schmidt_values(sv, cut).numpy()
        got_mps = tq.schmidt_values(mps, cut).numpy()
        np.testing.assert_allclose(got_sv, expected, atol=1e-12)
        np.testing.assert_allclose(got_mps, expected[: len(got_mps)], atol=1e-12)


def test_entropy_gradient_matches_finite_differences_on_every_kind():
    def value(theta, kind):
        c = tq.Circuit(4).ry(theta[0], 0).cx(0, 1).ry(theta[1], 1).cx(1, 2).rx(theta[2], 3).cz(2, 3)
        start = {"sv": tq.StateVector.zeros(4, dtype=torch.complex128),
                 "mps": tq.MPS.zeros(4, dtype=torch.complex128),
                 "dm": tq.DensityMatrix.zeros(4, dtype=torch.complex128)}[kind]
        state = c.run(start)
        return tq.entropy(state, [0, 1]) + tq.entropy(state, [1, 3], alpha=2) + tq.negativity(state, [0], [2])

    theta0 = torch.tensor([0.7, 1.3, -0.4], dtype=torch.float64)
    for kind in ("sv", "mps", "dm"):
        theta = theta0.clone().requires_grad_()
        value(theta, kind).backward()
        h = 1e-6
        for j in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[j] = h
            fd = (value(theta0 + e, kind) - value(theta0 - e, kind)).item() / (2 * h)
            assert abs(theta.grad[j].item() - fd) < 1e-6, (kind, j)


def test_batched_kets_give_batched_reduced_states():
    thetas = torch.tensor([0.0, 0.8, 1.6], dtype=torch.float64)
    psi = tq.Circuit(3).ry(thetas, 0).cx(0, 1).h(2).run(tq.StateVector.zeros(3, dtype=torch.complex128))
    s = tq.entropy(psi, [0])
    p = torch.cos(thetas / 2) ** 2
    expected = -(p * torch.log(p.clamp_min(1e-300)) + (1 - p) * torch.log((1 - p).clamp_min(1e-300)))
    np.testing.assert_allclose(s.numpy(), expected.numpy(), atol=1e-10)


def test_qubit_states_on_every_kind():
    sv = entangled_state(7)
    ket = as_qutip(sv)
    expected = np.stack([ket.ptrace(q).full() for q in range(N)])
    for name, state in kinds(sv):
        np.testing.assert_allclose(tq.qubit_states(state).numpy(), expected, atol=1e-10, err_msg=name)
    p = tq.ProductState.random(N, generator=torch.Generator().manual_seed(8), dtype=torch.complex128)
    np.testing.assert_allclose(tq.qubit_states(p).numpy(), tq.qubit_states(p.to_statevector()).numpy(), atol=1e-12)


def test_mps_qubit_states_from_every_centre_and_their_gradient():
    """MPS single-qubit states with the centre at every site equal QuTiP's ptrace, and their gradient
    equals the dense state's (the dense gradient is checked against finite differences elsewhere)."""
    sv = entangled_state(7)
    expected = np.stack([as_qutip(sv).ptrace(q).full() for q in range(N)])
    mps = tq.MPS.from_statevector(sv)
    for centre in range(N):
        got = tq.qubit_states(mps.canonical(centre)).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-10, err_msg=f"centre {centre}")
    weights = torch.linspace(-1, 1, 3 * N, dtype=torch.float64).reshape(N, 3)
    grads = []
    for start in (tq.StateVector.zeros(N, dtype=torch.complex128), tq.MPS.zeros(N, dtype=torch.complex128)):
        theta = torch.linspace(0.1, 2.0, 2 * N, dtype=torch.float64).reshape(2, N).requires_grad_(True)
        c = tq.Circuit(N)
        for q in range(N):
            c.ry(theta[0, q], q)
        for q in range(N - 1):
            c.cx(q, q + 1)
        for q in range(N):
            c.rx(theta[1, q], q)
        rho = tq.qubit_states(c.run(start))
        paulis = torch.stack([2 * rho[:, 0, 1].real, -2 * rho[:, 0, 1].imag, (rho[:, 0, 0] - rho[:, 1, 1]).real], -1)
        (weights * paulis).sum().backward()
        grads.append(theta.grad)
    torch.testing.assert_close(grads[1], grads[0], atol=1e-10, rtol=1e-10)
