"""Partial traces and entropies of dense states against QuTiP."""

import numpy as np
import pytest
import qutip
import torch

import tqsim as tq

from oracles import random_state


@pytest.mark.parametrize("keep", [[0], [2], [1, 3], [3, 1], [4, 0, 2], [0, 1, 2, 3, 4]], ids=str)
def test_partial_trace_of_ket_and_density_matrix(keep, dtype, tol, rng):
    n = 5
    psi0 = random_state(n, rng)
    ket = qutip.Qobj(psi0, dims=[[2] * n, [1] * n])
    got = tq.partial_trace(tq.StateVector.from_array(psi0, dtype=dtype), keep)
    assert got.num_qubits == len(keep)
    np.testing.assert_allclose(got.matrix().numpy(), in_given_order(ket.ptrace(keep).full(), keep), atol=tol)
    rho0 = qutip.rand_dm([2] * n, seed=len(keep))
    got = tq.partial_trace(tq.DensityMatrix.from_array(rho0.full(), dtype=dtype), keep)
    np.testing.assert_allclose(got.matrix().numpy(), in_given_order(rho0.ptrace(keep).full(), keep), atol=tol)


def in_given_order(sorted_rho: np.ndarray, keep: list[int]) -> np.ndarray:
    """QuTiP's ptrace sorts the kept qubits; tqsim keeps the order given."""
    k = len(keep)
    axes = [sorted(keep).index(q) for q in keep]
    tensor = sorted_rho.reshape([2] * (2 * k))
    return tensor.transpose(axes + [k + a for a in axes]).reshape(2**k, 2**k)


@pytest.mark.parametrize("subsystem", [[0], [1, 2], [0, 2, 3], [0, 1, 2, 3]], ids=str)
def test_entropies_match_qutip(subsystem, rng):
    n = 5
    psi0 = random_state(n, rng)
    ket = qutip.Qobj(psi0, dims=[[2] * n, [1] * n])
    reduced = ket.ptrace(subsystem)
    psi = tq.StateVector.from_array(psi0)
    assert abs(tq.entropy(psi, subsystem).item() - qutip.entropy_vn(reduced)) < 1e-10
    assert abs(tq.entropy(psi, subsystem, base=2).item() - qutip.entropy_vn(reduced, base=2)) < 1e-10
    lam = np.linalg.eigvalsh(reduced.full())
    assert abs(tq.entropy(psi, subsystem, alpha=2).item() + np.log(np.sum(lam**2))) < 1e-10
    assert abs(tq.entropy(psi, subsystem, alpha=float("inf")).item() + np.log(lam.max())) < 1e-10
    assert abs(tq.purity(psi, subsystem).item() - np.sum(lam**2)) < 1e-10
    rho = tq.DensityMatrix.from_state(psi)
    assert abs(tq.entropy(rho, subsystem).item() - qutip.entropy_vn(reduced)) < 1e-10


def test_entropy_gradient_is_finite_on_a_product_state():
    theta = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    psi = tq.Circuit(2).ry(theta, 0).cx(0, 1).run(tq.StateVector.zeros(2, dtype=torch.complex128))
    s = tq.entropy(psi, [0])
    s.backward()
    assert s.item() == pytest.approx(0, abs=1e-12)
    assert torch.isfinite(theta.grad)


def test_ghz_entropy_is_log2():
    ghz = tq.Circuit(4).h(0).cx(0, 1).cx(1, 2).cx(2, 3).run(tq.StateVector.zeros(4, dtype=torch.complex128))
    for cut in ([0], [0, 1], [1, 3]):
        assert tq.entropy(ghz, cut).item() == pytest.approx(np.log(2), abs=1e-12)
