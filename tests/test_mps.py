"""Matrix product states against state vectors (themselves checked against QuTiP)."""

import math

import numpy as np
import pytest
import torch

import tqsim as tq

from circuits import random_circuit
from oracles import random_state

TOL = {torch.complex64: 2e-5, torch.complex128: 1e-10}


@pytest.mark.parametrize("n", [2, 3, 5, 8, 10])
def test_exact_mps_reproduces_state_vector_on_random_circuits(n, dtype):
    rng = np.random.default_rng(40 + n)
    circuit, _ = random_circuit(n, 60, rng)  # includes non-adjacent 2-qubit gates and 3-qubit gates
    sv = circuit.run(tq.StateVector.zeros(n, dtype=dtype)).amplitudes()
    mps = circuit.run(tq.MPS.zeros(n, max_bond=None, cutoff=0, dtype=dtype))
    np.testing.assert_allclose(mps.to_statevector().amplitudes().numpy(), sv.numpy(), atol=TOL[dtype] * 10)
    assert mps.truncation_error() < TOL[dtype]  # only rounding-level singular values dropped


def test_from_statevector_round_trip_and_bonds(rng):
    psi = random_state(8, rng)
    mps = tq.MPS.from_statevector(tq.StateVector.from_array(psi), cutoff=0)
    assert mps.bond_dimensions() == [2, 4, 8, 16, 8, 4, 2]
    np.testing.assert_allclose(mps.to_statevector().amplitudes().numpy(), psi, atol=1e-12)
    low = tq.MPS.from_statevector(tq.StateVector.from_array(psi), max_bond=4)
    assert max(low.bond_dimensions()) == 4 and low.truncation_error() > 0


def test_truncation_error_tracks_the_true_infidelity():
    n = 12
    rng = np.random.default_rng(3)
    circuit = tq.Circuit(n)
    for layer in range(8):
        for q in range(n):
            circuit.ry(float(rng.uniform(0, 2 * np.pi)), q).rz(float(rng.uniform(0, 2 * np.pi)), q)
        for q in range(layer % 2, n - 1, 2):
            circuit.cx(q, q + 1)
    exact = circuit.run(tq.StateVector.zeros(n, dtype=torch.complex128))
    for bond in (4, 6, 8):
        mps = circuit.run(tq.MPS.zeros(n, max_bond=bond, dtype=torch.complex128))
        true_infidelity = 1 - tq.fidelity(exact, mps.to_statevector()).item()
        estimate = mps.truncation_error()
        assert 0 < estimate < 0.5
        # for small errors 1 - F ~ sum of discarded weights; allow a factor of two either way
        assert 0.5 * estimate < true_infidelity < 2 * estimate, (bond, estimate, true_infidelity)
        assert abs(mps.fidelity_estimate() - math.prod(1 - d for d in mps.discarded)) < 1e-15
        assert abs(mps.norm().item() - 1) < 1e-10  # kept normalised


def test_schmidt_values_and_entropy_match_state_vector(rng):
    n = 7
    psi = random_state(n, rng)
    sv = tq.StateVector.from_array(psi)
    mps = tq.MPS.from_statevector(sv, cutoff=0)
    for cut in range(1, n):
        expected = np.linalg.svd(psi.reshape(2**cut, -1), compute_uv=False)
        got = mps.schmidt_values(cut).numpy()
        np.testing.assert_allclose(got, expected[: len(got)], atol=1e-12)
        lam = expected**2
        assert abs(mps.entanglement_entropy(cut).item() + np.sum(lam * np.log(lam))) < 1e-10


def test_expectation_probabilities_and_sampling(rng):
    n = 6
    circuit, _ = random_circuit(n, 40, rng)
    sv = circuit.run(tq.StateVector.zeros(n, dtype=torch.complex128))
    mps = circuit.run(tq.MPS.zeros(n, dtype=torch.complex128, cutoff=0))
    obs = "0.5 Z0 Z5 + X2 - 0.3 Y1 Y3 + 0.2 X0 Z2 Y4 + 1.5"
    assert abs(mps.expectation(obs).item() - sv.expectation(obs).item()) < 1e-10
    probs = sv.probabilities().numpy().reshape([2] * n)
    for qubits in ([0], [3, 1], [5, 0, 2], list(range(n))):
        others = tuple(q for q in range(n) if q not in qubits)
        marginal = probs.sum(axis=others) if others else probs
        expected = np.transpose(marginal, [sorted(qubits).index(q) for q in qubits]).reshape(-1)
        np.testing.assert_allclose(mps.probabilities(qubits).numpy(), expected, atol=1e-12)
    assert abs(mps.probability("010011").item() - probs.reshape(-1)[0b010011]) < 1e-12
    samples = mps.sample(40000, generator=torch.Generator().manual_seed(0))
    freq = np.bincount(samples.numpy(), minlength=2**n) / 40000
    assert 0.5 * np.abs(freq - probs.reshape(-1)).sum() < 0.03
    bits = mps.sample(10, generator=torch.Generator().manual_seed(1), bits=True)
    assert bits.shape == (10, n) and set(bits.unique().tolist()) <= {0, 1}


def test_sampling_a_60_qubit_ghz_state():
    n = 60
    c = tq.Circuit(n).h(0)
    for q in range(n - 1):
        c.cx(q, q + 1)
    ghz = c.run(tq.MPS.zeros(n, max_bond=4, dtype=torch.complex128))
    assert max(ghz.bond_dimensions()) == 2
    bits = ghz.sample(200, generator=torch.Generator().manual_seed(0), bits=True)
    rows = bits.sum(-1)
    assert set(rows.tolist()) <= {0, n} and 0 < int((rows == 0).sum()) < 200
    assert abs(ghz.entanglement_entropy(30).item() - math.log(2)) < 1e-10
    assert abs(ghz.expectation("Z0 Z59").item() - 1) < 1e-10


def test_gradients_through_mps_gates_and_measurements():
    n = 5

    def loss(theta, kind):
        c = tq.Circuit(n)
        for q in range(n):
            c.ry(theta[q], q)
        for q in range(n - 1):
            c.cx(q, q + 1)
        c.rzz(theta[n], 0, 4).crx(theta[n + 1], 3, 1)
        start = tq.MPS.zeros(n, dtype=torch.complex128) if kind == "mps" else tq.StateVector.zeros(n, dtype=torch.complex128)
        state = c.run(start)
        return state.expectation("Z0 Z1 + 0.5 X2 + Y3 Z4") + tq.entropy(state, [0, 1])

    theta0 = torch.linspace(0.1, 1.7, n + 2, dtype=torch.float64)
    grads = {}
    for kind in ("mps", "sv"):
        theta = theta0.clone().requires_grad_()
        loss(theta, kind).backward()
        grads[kind] = theta.grad
    np.testing.assert_allclose(grads["mps"].numpy(), grads["sv"].numpy(), atol=1e-8)
    h = 1e-6
    for j in (0, n, n + 1):
        e = torch.zeros_like(theta0)
        e[j] = h
        fd = (loss(theta0 + e, "mps") - loss(theta0 - e, "mps")).item() / (2 * h)
        assert abs(grads["mps"][j].item() - fd) < 1e-6


def test_gradient_stays_finite_on_a_product_state():
    theta = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    c = tq.Circuit(3).ry(theta[0], 0).cx(0, 1).ry(theta[1], 2).cx(1, 2)
    value = c.run(tq.MPS.zeros(3, dtype=torch.complex128)).expectation("X0 + Z1 Z2")
    value.backward()
    assert torch.isfinite(theta.grad).all()


def test_random_mps_is_normalised():
    mps = tq.MPS.random(10, bond=6, generator=torch.Generator().manual_seed(2), dtype=torch.complex128)
    assert max(mps.bond_dimensions()) == 6
    assert abs(mps.norm().item() - 1) < 1e-12
    assert abs(mps.to_statevector().norm().item() - 1) < 1e-12
