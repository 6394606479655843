"""from_cirq against Cirq's own simulators, in the qubit order sorted(circuit.all_qubits())."""

import math

import numpy as np
import pytest
import torch

cirq = pytest.importorskip("cirq")
sympy = pytest.importorskip("sympy")

import tqsim as tq  # noqa: E402
from tqsim.classical import Conditioned  # noqa: E402
from tqsim.interop.cirq import from_cirq  # noqa: E402

TOL = 1e-10


def amplitudes(c: tq.Circuit) -> np.ndarray:
    return c.run(tq.StateVector.zeros(c.num_qubits, dtype=torch.complex128)).amplitudes().numpy()


def cirq_amplitudes(circuit) -> np.ndarray:
    order = sorted(circuit.all_qubits())
    return cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=order).final_state_vector


def assert_equal_up_to_phase(a: np.ndarray, b: np.ndarray, tol: float = TOL) -> None:
    k = int(np.argmax(np.abs(b)))
    assert abs(abs(a[k]) - abs(b[k])) < tol
    np.testing.assert_allclose(a * (b[k] / a[k]), b, rtol=0, atol=tol)


def random_op(qubits, rng: np.random.Generator):
    """One random operation: named gates, powers with global shifts, matrices, controls."""
    a = lambda: float(rng.uniform(-2 * math.pi, 2 * math.pi))  # noqa: E731
    e = lambda: float(rng.uniform(-2, 2))  # noqa: E731
    seed = int(rng.integers(1 << 30))
    makers = [
        (1, lambda: cirq.H), (1, lambda: cirq.X), (1, lambda: cirq.Y), (1, lambda: cirq.Z),
        (1, lambda: cirq.S), (1, lambda: cirq.T), (1, lambda: cirq.S**-1), (1, lambda: cirq.T**-1),
        (1, lambda: cirq.rx(a())), (1, lambda: cirq.ry(a())), (1, lambda: cirq.rz(a())),
        (1, lambda: cirq.XPowGate(exponent=e(), global_shift=e())),
        (1, lambda: cirq.YPowGate(exponent=e(), global_shift=e())),
        (1, lambda: cirq.ZPowGate(exponent=e(), global_shift=e())),
        (1, lambda: cirq.PhasedXPowGate(phase_exponent=e(), exponent=e())),
        (1, lambda: cirq.MatrixGate(cirq.testing.random_unitary(2, random_state=seed))),
        (2, lambda: cirq.CNOT), (2, lambda: cirq.CZ), (2, lambda: cirq.SWAP), (2, lambda: cirq.ISWAP),
        (2, lambda: cirq.CZPowGate(exponent=e(), global_shift=e())),
        (2, lambda: cirq.CXPowGate(exponent=e())), (2, lambda: cirq.ISWAP**e()),
        (2, lambda: cirq.FSimGate(theta=a(), phi=a())),
        (2, lambda: cirq.PhasedISwapPowGate(phase_exponent=e(), exponent=e())),
        (2, lambda: cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=seed))),
        (2, lambda: cirq.ControlledGate(cirq.ry(a()))),
        (3, lambda: cirq.CCX), (3, lambda: cirq.CSWAP), (3, lambda: cirq.CCZ**e()),
        (3, lambda: cirq.ControlledGate(cirq.H, num_controls=2, control_values=[1, 0])),
        (3, lambda: cirq.ControlledGate(cirq.MatrixGate(cirq.testing.random_unitary(2, random_state=seed)),
                                        num_controls=2)),
        (3, lambda: cirq.ControlledGate(cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=seed)))),
    ]
    k, make = makers[int(rng.integers(len(makers)))]
    chosen = [qubits[int(j)] for j in rng.permutation(len(qubits))[:k]]
    return make().on(*chosen)


QUBITS = {
    "line": cirq.LineQubit.range(5),
    "grid": [cirq.GridQubit(r, c) for r in range(2) for c in range(2)],
    "named": [cirq.NamedQubit(s) for s in ("zed", "alpha", "b10", "b9")],
}


@pytest.mark.parametrize("kind", sorted(QUBITS))
@pytest.mark.parametrize("seed", range(3))
def test_random_circuits_match_cirq(kind, seed):
    rng = np.random.default_rng(seed)
    qubits = QUBITS[kind]
    circuit = cirq.Circuit(random_op(qubits, rng) for _ in range(60))
    circuit.append(cirq.global_phase_operation(np.exp(0.3j)))
    assert_equal_up_to_phase(amplitudes(from_cirq(circuit)), cirq_amplitudes(circuit))


def test_qubit_order_is_sorted_and_big_endian():
    b, a = cirq.NamedQubit("b"), cirq.NamedQubit("a")
    circuit = cirq.Circuit(cirq.X(a), cirq.I(b))
    c = from_cirq(circuit)
    assert c.qregs == {"a": (0,), "b": (1,)}
    assert amplitudes(c)[2] == 1  # |a b> = |10>
    assert cirq.final_state_vector(circuit, qubit_order=[a, b])[2] == 1
    assert from_cirq(cirq.Circuit(cirq.CNOT(b, a))).operations[0].qubits == (1, 0)


@pytest.mark.parametrize("gate,name", [
    (cirq.H, "h"), (cirq.X, "x"), (cirq.Y, "y"), (cirq.Z, "z"), (cirq.S, "s"), (cirq.S**-1, "sdg"),
    (cirq.Z**1.5, "sdg"), (cirq.T, "t"), (cirq.T**-1, "tdg"), (cirq.rx(0.3), "rx"), (cirq.ry(-1.2), "ry"),
    (cirq.rz(2.5), "rz"), (cirq.CNOT, "cx"), (cirq.CZ, "cz"), (cirq.SWAP, "swap"), (cirq.ISWAP, "iswap"),
    (cirq.CCX, "ccx"), (cirq.CSWAP, "cswap"), (cirq.ControlledGate(cirq.Y), "controlled"),
    (cirq.ControlledGate(cirq.FSimGate(0.3, 0.8)), "controlled"),
    (cirq.X**0.5, "unitary"), (cirq.FSimGate(0.2, 0.4), "unitary"),
], ids=str)
def test_named_gates_are_exact(gate, name):
    qubits = cirq.LineQubit.range(gate.num_qubits())[::-1]  # reversed: qubit order matters
    circuit = cirq.Circuit(gate.on(*qubits))
    c = from_cirq(circuit)
    assert [op.name for op in c.operations] == [name]
    expected = circuit.unitary(qubit_order=sorted(circuit.all_qubits()))  # q(0) first
    np.testing.assert_allclose(c.to_matrix(torch.complex128).numpy(), expected, rtol=0, atol=TOL)


# ------------------------------------------------- measurements and controls


def _branch_states(circuit, num_records: int):
    """Cirq's density-matrix trajectories: the final state for each measurement record seen."""
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128, seed=3)
    order = sorted(circuit.all_qubits())
    states = {}
    for _ in range(400):
        result = sim.simulate(circuit, qubit_order=order)
        record = tuple((k, tuple(v)) for k, v in sorted(result.measurements.items()))
        states.setdefault(record, result.final_density_matrix)
        if len(states) == num_records:
            break
    return states


def _bitstring(record, cregs) -> str:
    bits = {}
    for key, values in record:
        bits.update(zip(cregs[key], values))
    return "".join(str(int(bits[j])) for j in range(len(bits)))


def assert_matches_cirq(circuit, c: tq.Circuit) -> None:
    """Our exact mixture = sum_k p_k rho_k over Cirq's per-record states; p_k against Cirq's sampler."""
    from scipy.stats import chisquare

    result = c.simulate(tq.DensityMatrix.zeros(c.num_qubits, dtype=torch.complex128))
    probs = {k: p for k, p in result.bit_probabilities.items() if p > 1e-12}
    states = {_bitstring(rec, c.cregs): rho for rec, rho in _branch_states(circuit, len(probs)).items()}
    assert set(states) == set(probs)
    mixture = sum(p * states[k] for k, p in probs.items())
    np.testing.assert_allclose(result.state.matrix().numpy(), mixture, rtol=0, atol=TOL)
    runs = cirq.Simulator(seed=4).run(circuit, repetitions=3000)
    seen: dict[str, int] = {}
    for row in range(3000):
        record = [(k, runs.records[k][row, 0]) for k in runs.records]
        key = _bitstring(record, c.cregs)
        seen[key] = seen.get(key, 0) + 1
    keys = sorted(probs)
    assert set(seen) == set(keys)
    assert chisquare([seen[k] for k in keys], [probs[k] * 3000 for k in keys]).pvalue > 1e-3


def _measured_circuits():
    a, b, c, d = cirq.LineQubit.range(4)
    return {
        "control": cirq.Circuit([
            cirq.ry(1.1)(a), cirq.measure(a, key="m"),
            cirq.X(b).with_classical_controls("m"), cirq.H(c).with_classical_controls("m"),
            cirq.CZ(b, c) ** 0.3, cirq.measure(b, c, key="out"),
        ]),
        "two_keys_and_reset": cirq.Circuit([
            cirq.H(a), cirq.ry(2.0)(b), cirq.measure(a, key="x"), cirq.measure(b, key="y"),
            cirq.reset(a),
            cirq.ry(0.7)(c).with_classical_controls("x", "y"),  # both bits 1
            cirq.FSimGate(0.4, 0.9)(c, d).with_classical_controls("y"),
            cirq.measure(d, key="z"),
        ]),
        "inverted": cirq.Circuit([
            cirq.ry(0.9)(a), cirq.ry(2.1)(b), cirq.measure(a, b, key="ab", invert_mask=(True, False)),
            cirq.measure(c, key="flag", invert_mask=(True,)),  # always reads 1
            cirq.rx(0.5)(d).with_classical_controls("flag"),
        ]),
    }


MEASURED = _measured_circuits()


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_measurements_and_classical_controls_match_cirq(name):
    c = from_cirq(MEASURED[name])
    assert any(isinstance(op, Conditioned) for op in c.operations)
    assert_matches_cirq(MEASURED[name], c)


def test_measurement_keys_become_registers():
    c = from_cirq(MEASURED["two_keys_and_reset"])
    assert c.num_clbits == 3 and c.cregs == {"x": (0,), "y": (1,), "z": (2,)}
    assert [type(op).__name__ for op in c.operations if not isinstance(op, tq.gates.Gate)][:3] == [
        "Measure", "Measure", "Reset"]
    cond = [op for op in c.operations if isinstance(op, Conditioned)]
    assert [(sorted(op.bits), op.value) for op in cond] == [([0, 1], 3), ([1], 1)]  # all bits 1


# --------------------------------------------------------------- bad input


def test_symbols_are_named():
    q = cirq.LineQubit(0)
    with pytest.raises(ValueError, match="theta"):
        from_cirq(cirq.Circuit(cirq.rx(sympy.Symbol("theta"))(q)))


def test_qudits_are_refused():
    with pytest.raises(ValueError, match="dimension 3"):
        from_cirq(cirq.Circuit(cirq.IdentityGate(qid_shape=(3,)).on(cirq.LineQid(0, dimension=3))))


@pytest.mark.parametrize("op,word", [
    (cirq.depolarize(0.1).on(cirq.LineQubit(0)), "depolarize"),
    (cirq.amplitude_damp(0.2).on(cirq.LineQubit(0)), "amplitude_damp"),
    (cirq.bit_flip(0.3).on(cirq.LineQubit(0)), "bit_flip"),
], ids=lambda x: str(x)[:20])
def test_noise_is_refused_by_name(op, word):
    circuit = cirq.Circuit(cirq.H(cirq.LineQubit(0)), op)
    with pytest.raises(ValueError, match=word):
        from_cirq(circuit)


def test_unsupported_conditions_are_refused():
    a, b, c = cirq.LineQubit.range(3)
    multi = cirq.Circuit(cirq.measure(a, b, key="m"), cirq.X(c).with_classical_controls("m"))
    with pytest.raises(ValueError, match="'m' of 2 bits"):
        from_cirq(multi)
    expression = cirq.Circuit(cirq.measure(a, key="m"),
                              cirq.X(c).with_classical_controls(sympy.Eq(sympy.Symbol("m"), 0)))
    with pytest.raises(ValueError, match="not supported"):
        from_cirq(expression)
    twice = cirq.Circuit(cirq.measure(a, key="m"), cirq.measure(b, key="m"))
    with pytest.raises(ValueError, match="'m' is used twice"):
        from_cirq(twice)


def test_not_a_circuit():
    with pytest.raises(TypeError, match="cirq.Circuit"):
        from_cirq([cirq.H(cirq.LineQubit(0))])
