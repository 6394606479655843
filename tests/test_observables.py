"""Pauli expectation values against qutip.expect."""

import numpy as np
import pytest
import qutip
import torch

import tqsim as tq
from tqsim import PauliString, PauliSum

from oracles import random_state

QOPS = {"X": qutip.sigmax(), "Y": qutip.sigmay(), "Z": qutip.sigmaz()}


def qutip_operator(paulis: dict, n: int) -> qutip.Qobj:
    return qutip.tensor([QOPS[paulis[q]] if q in paulis else qutip.qeye(2) for q in range(n)])


def random_pauli_sum(n: int, terms: int, rng) -> tuple[PauliSum, qutip.Qobj]:
    total = PauliSum()
    oracle = 0
    for _ in range(terms):
        k = rng.integers(1, n + 1)
        qubits = rng.choice(n, size=k, replace=False)
        paulis = {int(q): "XYZ"[rng.integers(3)] for q in qubits}
        c = float(rng.normal())
        total = total + PauliString(paulis, c)
        oracle = oracle + c * qutip_operator(paulis, n)
    return total, oracle


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_ket_expectations_match_qutip(n, dtype, tol):
    rng = np.random.default_rng(n)
    obs, oracle = random_pauli_sum(n, 12, rng)
    psi0 = random_state(n, rng)
    got = tq.StateVector.from_array(psi0, dtype=dtype).expectation(obs)
    expected = qutip.expect(oracle, qutip.Qobj(psi0, dims=[[2] * n, [1] * n]))
    assert got.dtype == (torch.float32 if dtype == torch.complex64 else torch.float64)
    assert abs(got.item() - expected) < tol * 100


@pytest.mark.parametrize("n", [1, 3, 5])
def test_density_expectations_match_qutip(n, dtype, tol):
    rng = np.random.default_rng(10 + n)
    obs, oracle = random_pauli_sum(n, 10, rng)
    rho0 = qutip.rand_dm([2] * n, seed=n)
    got = tq.DensityMatrix.from_array(rho0.full(), dtype=dtype).expectation(obs)
    assert abs(got.item() - qutip.expect(oracle, rho0)) < tol * 100


def test_parsing_and_arithmetic():
    s = PauliSum.from_string("0.5 Z0 Z1 + X2 - 1e-1 Y0*Y3 - Z1")
    assert [t.paulis for t in s] == [{0: "Z", 1: "Z"}, {2: "X"}, {0: "Y", 3: "Y"}, {1: "Z"}]
    assert [t.coefficient for t in s] == [0.5, 1.0, -0.1, -1.0]
    assert s.num_qubits == 4
    combined = 2 * PauliString("X0") - PauliString({1: "Z"}, 0.5) + "Y2"
    assert [(t.coefficient, t.paulis) for t in combined] == [(2.0, {0: "X"}), (-0.5, {1: "Z"}), (1.0, {2: "Y"})]
    psi = tq.StateVector.random(4, generator=torch.Generator().manual_seed(0), dtype=torch.complex128)
    assert abs(psi.expectation(s).item() - psi.expectation("0.5 Z0 Z1 + X2 - 0.1 Y0 Y3 - Z1").item()) < 1e-12
    # a constant term is the identity
    assert abs(psi.expectation("2.5").item() - 2.5) < 1e-12


def test_pauli_matrix_matches_qutip():
    p = PauliString("Y0 X2", 0.7)
    np.testing.assert_allclose(p.matrix(3, torch.complex128).numpy(), 0.7 * qutip_operator({0: "Y", 2: "X"}, 3).full())


def test_batched_expectation():
    thetas = torch.linspace(0, np.pi, 5, dtype=torch.float64)
    psi = tq.Circuit(1).ry(thetas, 0).run(tq.StateVector.zeros(1, dtype=torch.complex128))
    np.testing.assert_allclose(psi.expectation("Z0").numpy(), np.cos(thetas.numpy()), atol=1e-12)
    np.testing.assert_allclose(psi.expectation("X0").numpy(), np.sin(thetas.numpy()), atol=1e-12)


def test_as_observable_accepts_every_form_and_refuses_others():
    from tqsim.observables import as_observable

    text = as_observable("Z0 + 0.5 X1")
    assert isinstance(text, PauliSum) and len(text) == 2
    single = as_observable(PauliString("Y2"))
    assert [t.paulis for t in single] == [{2: "Y"}]
    assert as_observable(text) is text
    with pytest.raises(TypeError, match="got int"):
        as_observable(3)
