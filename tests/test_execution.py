"""Measurement, reset, classical conditions and counts.

Oracles: the deferred-measurement circuit evaluated by qiskit.quantum_info and
Qiskit Aer's counts (circuits built here in Qiskit by hand, little-endian
converted), Born's rule on Kronecker-product states
computed with NumPy, and chi-square tests (scipy) of sampled counts against
exact distributions.
"""

import numpy as np
import pytest
import torch
from scipy import stats

import tqsim as tq

C128 = torch.complex128
KINDS = {
    "statevector": lambda n: tq.StateVector.zeros(n, dtype=C128),
    "mps": lambda n: tq.MPS.zeros(n, dtype=C128),
    "blocks": lambda n: tq.BlockProductState.zeros(n, dtype=C128),
}


def chi_square_p(counts: dict[str, int], probabilities: dict[str, float]) -> float:
    """p-value of the counts under the exact distribution (outcomes of probability 0 must not occur)."""
    shots = sum(counts.values())
    impossible = [k for k in counts if probabilities.get(k, 0.0) < 1e-12]
    assert not impossible, f"outcomes of probability 0 were drawn: {impossible}"
    keys = [k for k, p in probabilities.items() if p > 1e-12]
    observed = np.array([counts.get(k, 0) for k in keys], dtype=float)
    expected = np.array([probabilities[k] for k in keys]) * shots
    if len(keys) == 1:
        return 1.0 if observed[0] == shots else 0.0
    return stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue


def teleportation(theta: float, phi: float) -> tq.Circuit:
    """Teleport u3(theta, phi, 0)|0> from qubit 0 to qubit 2 with two measured bits and two conditions."""
    c = tq.Circuit(3, 2).u3(theta, phi, 0.0, 0)
    c.h(1).cx(1, 2).cx(0, 1).h(0)
    c.measure(0, 0).measure(1, 1)
    c.x(2).c_if(1, 1).z(2).c_if(0, 1)
    return c


def ket(theta: float, phi: float) -> np.ndarray:
    return np.array([np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)])


# ------------------------------------------------------------- trajectories


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_teleportation_delivers_the_state_on_every_trajectory(kind, seed):
    theta, phi = 1.1, 0.4
    result = teleportation(theta, phi).simulate(KINDS[kind](3), torch.Generator().manual_seed(seed))
    received = tq.partial_trace(result.state, keep=[2]).matrix().numpy()
    psi = ket(theta, phi)
    np.testing.assert_allclose(received, np.outer(psi, psi.conj()), atol=1e-10)
    # the measured qubits collapsed onto the bits written
    b0, b1 = result.bits.tolist()
    marginal = tq.partial_trace(result.state, keep=[0, 1]).matrix().numpy()
    assert marginal[2 * b0 + b1, 2 * b0 + b1].real == pytest.approx(1.0, abs=1e-10)


def test_teleportation_is_exact_on_a_density_matrix():
    theta, phi = 0.7, 2.0
    result = teleportation(theta, phi).simulate(tq.DensityMatrix.zeros(3, dtype=C128))
    received = tq.partial_trace(result.state, keep=[2]).matrix().numpy()
    psi = ket(theta, phi)
    np.testing.assert_allclose(received, np.outer(psi, psi.conj()), atol=1e-12)
    assert result.bit_probabilities == pytest.approx({"00": 0.25, "01": 0.25, "10": 0.25, "11": 0.25}, abs=1e-12)
    assert result.bits is None


def test_batched_statevector_runs_one_trajectory_per_entry():
    c = tq.Circuit(1, 1).h(0).measure(0, 0)
    batch = tq.StateVector(torch.tensor([[1, 0]] * 64, dtype=C128), 1)
    result = c.simulate(batch, torch.Generator().manual_seed(5))
    bits = result.bits[:, 0]
    assert 0 < int(bits.sum()) < 64  # both outcomes occur in 64 fair draws (p = 2**-63 otherwise)
    # each entry collapsed onto its own outcome
    np.testing.assert_allclose(result.state.probabilities()[:, 1].numpy(), bits.numpy(), atol=1e-12)


def test_reset_returns_the_qubit_to_zero_on_every_kind():
    c = tq.Circuit(2).ry(1.2, 0).cx(0, 1).reset(0)
    for make in KINDS.values():
        state = c.run(make(2), generator=torch.Generator().manual_seed(0))
        p0 = tq.partial_trace(state, keep=[0]).matrix()[0, 0].real
        assert float(p0) == pytest.approx(1.0, abs=1e-12)
    rho = c.run(tq.DensityMatrix.zeros(2, dtype=C128))
    # exact: qubit 0 reset, qubit 1 keeps its mixed marginal cos^2(0.6), sin^2(0.6)
    expected = np.diag([np.cos(0.6) ** 2, np.sin(0.6) ** 2, 0, 0])
    np.testing.assert_allclose(rho.matrix().numpy(), expected, atol=1e-12)


def test_same_seed_same_bits_and_other_seeds_differ():
    c = tq.Circuit(4, 4).h(0).h(1).cx(1, 2).measure(0, 0).x(3).c_if(0, 1).measure(1, 1).reset(1).h(1)
    c.measure(1, 2).measure(3, 3)
    first = tq.counts(c, 500, seed=11)
    assert tq.counts(c, 500, seed=11) == first
    assert tq.counts(c, 500, seed=12) != first
    bits = [c.simulate(generator=torch.Generator().manual_seed(7)).bits.tolist() for _ in range(2)]
    assert bits[0] == bits[1]


# ------------------------------------------------------------------- counts


def test_terminal_counts_follow_born_rule_from_kronecker_products():
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, np.pi, size=3)
    c = tq.Circuit(3, 3)
    for q, a in enumerate(angles):
        c.ry(float(a), q)
    c.cz(0, 2).h(2).measure_all()
    # oracle: the state as a Kronecker product, then CZ and H as explicit matrices
    ry = [np.array([[np.cos(a / 2), -np.sin(a / 2)], [np.sin(a / 2), np.cos(a / 2)]]) for a in angles]
    psi = np.kron(np.kron(ry[0] @ [1, 0], ry[1] @ [1, 0]), ry[2] @ [1, 0])
    psi = np.diag([1, 1, 1, 1, 1, -1, 1, -1]) @ psi
    h = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    psi = np.kron(np.eye(4), h) @ psi
    exact = {format(i, "03b"): abs(a) ** 2 for i, a in enumerate(psi)}
    for kind, make in KINDS.items():
        found = tq.counts(c, 20000, seed=3, state=make(3))
        assert sum(found.values()) == 20000
        assert chi_square_p(found, exact) > 1e-3, kind


def test_bit_order_is_clbit_zero_first():
    c = tq.Circuit(3, 3).x(0).measure(0, 0).measure(1, 1).measure(2, 2)
    assert tq.counts(c, 10, seed=0) == {"100": 10}
    d = tq.Circuit(2, 3).x(1).measure(1, 0)  # qubit 1 into bit 0
    assert tq.counts(d, 10, seed=0) == {"100": 10}


def test_mid_circuit_counts_match_the_exact_branch_distribution():
    c = tq.Circuit(3, 3).h(0).measure(0, 0).ry(0.8, 1).c_if(0, 1).cx(1, 2).measure(1, 1)
    c.reset(0).h(0).cx(0, 2).measure(2, 2)
    exact = c.simulate(tq.DensityMatrix.zeros(3, dtype=C128)).bit_probabilities
    assert sum(exact.values()) == pytest.approx(1.0, abs=1e-12)
    for kind, make in KINDS.items():
        found = tq.counts(c, 4000 if kind == "statevector" else 600, seed=5, state=make(3))
        assert chi_square_p(found, exact) > 1e-3, kind


# ---------------------------------------------------------------- Qiskit Aer


def _aer_counts(qc, shots: int) -> dict[str, int]:
    aer = pytest.importorskip("qiskit_aer")
    from qiskit import transpile

    sim = aer.AerSimulator()
    counts = sim.run(transpile(qc, sim), shots=shots, seed_simulator=1).result().get_counts()
    return {k.replace(" ", "")[::-1]: v for k, v in counts.items()}  # Aer's keys put clbit 0 last


def test_conditioned_circuit_matches_deferred_measurement_and_aer_counts():
    """Exact oracle: the deferred-measurement circuit in qiskit.quantum_info (bits as ancillas
    written by CNOTs, conditions as controlled gates, reset as a swap with a fresh qubit)."""
    qiskit = pytest.importorskip("qiskit")
    from qiskit.quantum_info import Statevector, partial_trace

    qc = qiskit.QuantumCircuit(3, 2)
    qc.ry(0.9, 0)
    qc.h(1)
    qc.cx(1, 2)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.rx(0.5, 2)
    qc.measure(1, 1)
    qc.reset(1)
    with qc.if_test((qc.cregs[0], 3)):
        qc.x(1)
    # qubits 3, 4 hold bits 0, 1; qubit 5 takes what the reset removes
    deferred = qiskit.QuantumCircuit(6)
    deferred.ry(0.9, 0)
    deferred.h(1)
    deferred.cx(1, 2)
    deferred.cx(0, 3)
    deferred.crx(0.5, 3, 2)
    deferred.cx(1, 4)
    deferred.swap(1, 5)
    deferred.ccx(3, 4, 1)
    full = Statevector(deferred)
    system = _big_endian_density(np.asarray(partial_trace(full, [3, 4, 5]).data), 3)
    bits = np.asarray(partial_trace(full, [0, 1, 2, 5]).data).real.diagonal()  # little-endian over (b0, b1)
    exact_bits = {f"{i & 1}{i >> 1}": p for i, p in enumerate(bits)}

    c = tq.Circuit(3, 2).ry(0.9, 0).h(1).cx(1, 2).measure(0, 0).rx(0.5, 2).c_if(0, 1).measure(1, 1)
    c.reset(1).x(1).c_if([0, 1], 3)
    result = c.simulate(tq.DensityMatrix.zeros(3, dtype=C128))
    np.testing.assert_allclose(result.state.matrix().numpy(), system, atol=1e-12)
    assert result.bit_probabilities == pytest.approx(exact_bits, abs=1e-12)
    assert chi_square_p(_aer_counts(qc, 20000), exact_bits) > 1e-3
    ours = tq.counts(c, 20000, seed=2, state=tq.StateVector.zeros(3, dtype=C128))
    assert chi_square_p(ours, exact_bits) > 1e-3


def _big_endian_density(rho: np.ndarray, n: int) -> np.ndarray:
    """Qiskit's little-endian matrix with the qubit order reversed."""
    t = rho.reshape([2] * (2 * n))
    rows, cols = list(range(n))[::-1], list(range(n, 2 * n))[::-1]
    return t.transpose(rows + cols).reshape(1 << n, 1 << n)


# ---------------------------------------------------------------- bad input


def test_bad_input_is_refused_with_a_message():
    c = tq.Circuit(2, 1).h(0).measure(0, 0)
    with pytest.raises(ValueError, match="shots must be >= 1"):
        tq.counts(c, 0)
    with pytest.raises(TypeError, match="shots must be an int"):
        tq.counts(c, 2.5)
    with pytest.raises(TypeError, match="expects a Circuit"):
        tq.counts("h q[0];", 10)
    with pytest.raises(ValueError, match="measures no qubit"):
        tq.counts(tq.Circuit(2).h(0), 10)
    with pytest.raises(ValueError, match="no earlier measurement writes"):
        tq.Circuit(2, 2).measure(0, 0).x(1).c_if(1, 1)
    with pytest.raises(ValueError, match=r"c_if on bit\(s\) \[1, 2\], which no earlier"):
        tq.Circuit(2, 3).measure(0, 0).x(1).c_if([1, 2], 1)
    with pytest.raises(IndexError, match="measure bit 3 out of range for 1 classical bits"):
        tq.Circuit(2, 1).measure(0, 3)
    with pytest.raises(IndexError, match="num_clbits"):
        tq.Circuit(2).measure(0, 0)
    with pytest.raises(ValueError, match="does not fit in 1 bit"):
        tq.Circuit(2, 1).measure(0, 0).x(1).c_if(0, 2)
    with pytest.raises(ValueError, match="empty"):
        tq.Circuit(2, 1).c_if(0, 1)
    with pytest.raises(TypeError, match="has no unitary matrix"):
        c.to_matrix()
    with pytest.raises(TypeError, match="has no inverse"):
        c.inverse()
    batch = tq.DensityMatrix(torch.eye(4, dtype=C128).expand(2, 4, 4) / 4, 2)
    with pytest.raises(ValueError, match="batch of density matrices"):
        c.simulate(batch)
    with pytest.raises(ValueError, match="one initial state"):
        tq.counts(c, 5, state=tq.StateVector(torch.eye(4, dtype=C128)[:2], 2))
    # a failed c_if leaves the circuit as it was
    d = tq.Circuit(2, 1).measure(0, 0).x(1)
    with pytest.raises(ValueError):
        d.c_if(0, 5)
    assert len(d) == 2 and d[-1].name == "x"


def test_register_condition_reads_unmeasured_bits_as_zero():
    # bit 1 is never written: ``c == 1`` over bits (0, 1) holds exactly when bit 0 reads 1
    c = tq.Circuit(2, 2).x(0).measure(0, 0).x(1).c_if([0, 1], 1).measure(1, 1)
    assert tq.counts(c, 20, seed=0) == {"11": 20}
    d = tq.Circuit(2, 2).x(0).measure(0, 0).x(1).c_if([0, 1], 3)
    assert float(d.run().probabilities()[2]) == pytest.approx(1.0)  # not applied: the register reads 1


def test_barriers_change_nothing():
    c = tq.Circuit(3).h(0).barrier().cx(0, 1).barrier(1, 2).ry(0.3, 2)
    plain = tq.Circuit(3).h(0).cx(0, 1).ry(0.3, 2)
    torch.testing.assert_close(c.run().amplitudes(), plain.run().amplitudes(), rtol=0, atol=0)
    torch.testing.assert_close(c.to_matrix(), plain.to_matrix(), rtol=0, atol=0)
    assert c.inverse().compose(c).run(tq.StateVector.zeros(3, dtype=C128)).probabilities()[0] == pytest.approx(1.0)
