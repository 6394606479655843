"""OpenQASM 2 and 3 in and out (tqsim.interop.qasm) against Qiskit and Qiskit Aer.

Oracles: Qiskit writes the programs (``qasm2.dumps``, ``qasm3.dumps``) of
circuits it builds, and Aer simulates those circuits: the statevector method
for gate-only circuits, the density-matrix method for circuits that measure,
reset and branch (its per-outcome states, ``conditional=True``, are exact;
the outcome frequencies are compared with tqsim's exact probabilities by a
chi-square test). Aer and Qiskit are little-endian; states are converted to
tqsim's big-endian order before comparing, at 1e-10 in complex128 up to a
global phase. Every random choice is seeded.
"""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("openqasm3")
pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")
from qiskit import QuantumCircuit, qasm2, qasm3, transpile  # noqa: E402
from qiskit.circuit import ClassicalRegister, QuantumRegister  # noqa: E402
from qiskit.circuit import library as qlib  # noqa: E402
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector  # noqa: E402
from qiskit_aer import AerSimulator  # noqa: E402
from scipy.stats import chisquare  # noqa: E402

import tqsim as tq  # noqa: E402
from tqsim.interop import names  # noqa: E402
from tqsim.interop.qasm import QASMError, from_qasm, load_qasm, to_qasm  # noqa: E402

C128 = torch.complex128
TOL = 1e-10
DATA = Path(__file__).parent / "data" / "qasm"
HEAD2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
HEAD3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
QELIB1_BASIS = ["u3", "u2", "u1", "cx", "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "rx", "ry", "rz",
                "cz", "ccx", "swap", "p", "sx"]


# ------------------------------------------------------------------ helpers


def big_endian_vector(v, n: int) -> np.ndarray:
    return np.asarray(v).reshape([2] * n).transpose(list(range(n))[::-1]).reshape(-1)


def big_endian_matrix(m, n: int) -> np.ndarray:
    axes = list(range(n))[::-1] + list(range(2 * n - 1, n - 1, -1))
    return np.asarray(m).reshape([2] * (2 * n)).transpose(axes).reshape(1 << n, 1 << n)


def aer_state(qc: QuantumCircuit) -> np.ndarray:
    """Aer's statevector of a gate-only Qiskit circuit, big-endian."""
    qc = qc.copy()
    qc.save_statevector()
    sim = AerSimulator(method="statevector", precision="double")
    result = sim.run(transpile(qc, sim, optimization_level=0), shots=1, seed_simulator=11).result()
    return big_endian_vector(result.get_statevector(), qc.num_qubits)


def qiskit_matrix(qc: QuantumCircuit) -> np.ndarray:
    return big_endian_matrix(Operator(qc).data, qc.num_qubits)


def tq_state(circuit: tq.Circuit) -> np.ndarray:
    return circuit.run(tq.StateVector.zeros(circuit.num_qubits, dtype=C128)).amplitudes().numpy()


def assert_same_up_to_phase(a, b, tol: float = TOL) -> None:
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    overlap = np.vdot(a, b)
    phase = overlap / abs(overlap) if abs(overlap) > 1e-300 else 1.0
    error = np.abs(a * phase - b).max()
    assert error < tol, f"max |a e^(i phi) - b| = {error:.3g}"


def assert_matches_aer_branches(circuit: tq.Circuit, qc: QuantumCircuit, shots: int = 4000, seed: int = 5) -> None:
    """tqsim's exact mixture equals sum_k p_k rho_k with Aer's per-outcome states rho_k; Aer's counts fit p_k.

    Every clbit must be written at most once, so that the final register
    names the branch and Aer's conditional states are exact.
    """
    n = qc.num_qubits
    qc = qc.copy()
    qc.save_density_matrix(conditional=True, label="rho")
    sim = AerSimulator(method="density_matrix", precision="double")
    result = sim.run(transpile(qc, sim, optimization_level=0), shots=shots, seed_simulator=seed).result()
    branches = {int(key, 16): big_endian_matrix(rho.data, n) for key, rho in result.data()["rho"].items()}
    counts = {int(key.replace(" ", ""), 2): c for key, c in result.get_counts().items()}

    res = circuit.simulate(tq.DensityMatrix.zeros(n, dtype=C128))
    probs = {int(bits[::-1], 2): p for bits, p in res.bit_probabilities.items() if p > 1e-14}
    missing = {k: p for k, p in probs.items() if k not in branches}
    assert not missing, f"branches Aer never reached (increase shots or change the seed): {missing}"
    assert set(branches) <= set(probs), f"Aer reached branches tqsim gives probability 0: {set(branches) - set(probs)}"
    mixture = sum(p * branches[k] for k, p in probs.items())
    error = np.abs(res.state.matrix().numpy() - mixture).max()
    assert error < TOL, f"density matrices differ by {error:.3g}"
    keys = sorted(probs)
    observed = np.array([counts.get(k, 0) for k in keys], dtype=float)
    expected = np.array([probs[k] for k in keys]) * shots
    if len(keys) > 1:
        assert chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-4


def qiskit_loads(text: str, version: int) -> QuantumCircuit:
    """Qiskit's own reading of a program (its ctrl @ support warns about Gate.control defaults)."""
    if version == 2:
        return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return qasm3.loads(text)


# ---------------------------------------------------------- random circuits


def qiskit_gate_table():
    """(name, Qiskit constructor, number of angles, number of qubits) of every tqsim gate Qiskit has."""
    mapping = qlib.get_standard_gate_name_mapping()
    table = [(name, mapping[name].base_class, std.num_params, std.num_qubits)
             for name, std in sorted(names.QISKIT.items())]
    table += [("c3x", lambda: qlib.C3XGate(), 0, 4), ("c4x", lambda: qlib.C4XGate(), 0, 5),
              ("mcx3", lambda: qlib.MCXGate(3), 0, 4), ("mcx5", lambda: qlib.MCXGate(5), 0, 6),
              ("mcphase2", lambda lam: qlib.MCPhaseGate(lam, 2), 1, 3),
              ("mcphase4", lambda lam: qlib.MCPhaseGate(lam, 4), 1, 5)]
    return table


def random_qiskit_circuit(n: int, extra: int, seed: int) -> QuantumCircuit:
    """Every gate of :func:`qiskit_gate_table` once (shuffled), then ``extra`` random ones, after RY layer."""
    rng = random.Random(seed)
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(rng.uniform(0.2, 2.9), q)
    table = qiskit_gate_table()
    rng.shuffle(table)
    for name, make, num_params, num_qubits in table + [rng.choice(table) for _ in range(extra)]:
        angles = [rng.uniform(-math.pi, math.pi) for _ in range(num_params)]
        qc.append(make(*angles), rng.sample(range(n), num_qubits))
    return qc


def random_tq_circuit(n: int, seed: int, inverses: bool = True) -> tq.Circuit:
    """Every tqsim gate builder that has an OpenQASM form (and its inverse), on random qubits."""
    rng = random.Random(seed)
    c = tq.Circuit(n)
    for q in range(n):
        c.ry(rng.uniform(0.2, 2.9), q)
    builders = sorted(set(tq.gates.BUILDERS) - {"unitary", "controlled", "diagonal", "mcx", "mcphase"})
    for name in builders:
        builder = tq.gates.BUILDERS[name]
        num_qubits = _builder_qubits(name)
        num_angles = builder.__code__.co_argcount - num_qubits
        angles = [rng.uniform(-math.pi, math.pi) for _ in range(num_angles)]
        gate = builder(*angles, *rng.sample(range(n), num_qubits))
        c.append(gate)
        if inverses:
            c.append(gate.inverse())
    for k in (1, 2, 3, 4, 5):
        qs = rng.sample(range(n), k + 1)
        c.mcx(qs[:-1], qs[-1])
        c.mcphase(rng.uniform(-math.pi, math.pi), qs[1:], qs[0])
    return c


def _builder_qubits(name: str) -> int:
    code = tq.gates.BUILDERS[name].__code__
    args = code.co_varnames[:code.co_argcount]
    return sum(1 for a in args if a not in ("theta", "phi", "lam", "gamma", "beta"))


# ------------------------------------------------------------ Qiskit writes


@pytest.mark.parametrize("seed", range(4))
def test_qiskit_random_circuits_oq2(seed):
    qc = random_qiskit_circuit(6, 20, seed)
    circuit = from_qasm(qasm2.dumps(qc))
    assert circuit.num_qubits == 6
    assert_same_up_to_phase(tq_state(circuit), aer_state(qc))


@pytest.mark.parametrize("seed", range(4))
def test_qiskit_random_circuits_oq3(seed):
    qc = random_qiskit_circuit(6, 20, seed)
    circuit = from_qasm(qasm3.dumps(qc))
    assert_same_up_to_phase(tq_state(circuit), aer_state(qc))


def test_standard_definitions_become_native_gates():
    """Qiskit writes definitions for rzx, ecr, mcx_...; checked against the standard gate, they map to it."""
    qc = QuantumCircuit(6)
    qc.rzx(0.3, 0, 1)
    qc.ecr(1, 2)
    qc.append(qlib.XXPlusYYGate(0.4, 0.5), [2, 3])
    qc.append(qlib.MCXGate(5), range(6))
    qc.append(qlib.MCXGate(4), range(5))
    for text in (qasm2.dumps(qc), qasm3.dumps(qc)):
        circuit = from_qasm(text)
        assert [op.name for op in circuit.operations] == ["rzx", "ecr", "xx_plus_yy", "mcx", "mcx"]
        assert circuit.operations[3].num_controls == 5


def test_a_definition_under_a_standard_name_that_differs_is_kept():
    """A program's own ``ecr`` that is not Qiskit's ECR keeps its body (no silent substitution)."""
    body = "gate ecr a, b { cx a, b; }\n"
    for text in (HEAD2 + body + "qreg q[2];\nh q[0];\necr q[0], q[1];\n",
                 HEAD3 + body + "qubit[2] q;\nh q[0];\necr q[0], q[1];\n"):
        circuit = from_qasm(text)
        assert [op.name for op in circuit.operations] == ["h", "cx"]


def mid_circuit_qiskit(seed: int, single_bits: bool) -> QuantumCircuit:
    """Gates, a reset, measurements each writing a fresh clbit, and conditions on measured registers or bits."""
    rng = random.Random(seed)
    q = QuantumRegister(4, "q")
    a, b, m = ClassicalRegister(1, "a"), ClassicalRegister(2, "b"), ClassicalRegister(1, "m")
    qc = QuantumCircuit(q, a, b, m)

    def layer():
        for j in range(4):
            qc.u(rng.uniform(0.3, 2.8), rng.uniform(-3, 3), rng.uniform(-3, 3), j)
        x, y = rng.sample(range(4), 2)
        qc.cx(x, y)
        qc.rzz(rng.uniform(-3, 3), *rng.sample(range(4), 2))

    layer()
    qc.measure(0, a[0])
    with qc.if_test((a, 1)):
        qc.ry(rng.uniform(0.3, 2.8), 1)
    qc.reset(0)
    layer()
    qc.measure(1, b[0])
    qc.measure(2, b[1])
    with qc.if_test((b, rng.randrange(4))):
        qc.crx(rng.uniform(0.3, 2.8), 3, 0)
    with qc.if_test((b, rng.randrange(4))):
        qc.reset(3)
    if single_bits:
        with qc.if_test((b[1], 1)) as else_:
            qc.h(3)
        with else_:
            qc.sx(3)
    layer()
    with qc.if_test((a, 1)):
        qc.measure(3, m[0])
    return qc


@pytest.mark.parametrize("seed", range(3))
def test_mid_circuit_measurement_oq2(seed):
    qc = mid_circuit_qiskit(seed, single_bits=False)
    circuit = from_qasm(qasm2.dumps(qc))
    assert circuit.cregs == {"a": (0,), "b": (1, 2), "m": (3,)}
    assert_matches_aer_branches(circuit, qc)


@pytest.mark.parametrize("seed", range(3))
def test_mid_circuit_measurement_oq3(seed):
    qc = mid_circuit_qiskit(seed, single_bits=True)
    circuit = from_qasm(qasm3.dumps(qc))
    assert_matches_aer_branches(circuit, qc)


# ---------------------------------------------------------- circuit library


def _grover(rng) -> QuantumCircuit:
    oracle = QuantumCircuit(3)
    oracle.cz(0, 2)
    oracle.append(qlib.MCPhaseGate(math.pi, 2), [0, 1, 2])
    return _with_layer(qlib.grover_operator(oracle), 3, rng)


def _bound(qc: QuantumCircuit, rng) -> QuantumCircuit:
    return _with_layer(qc.assign_parameters(rng.uniform(-3, 3, qc.num_parameters)), qc.num_qubits, rng)


#: Qiskit library circuits, each after a layer of RY (so the input state is generic)
LIBRARY = {
    "qft": lambda rng: _with_layer(qlib.QFTGate(5), 5, rng),
    "grover": _grover,
    "efficient_su2": lambda rng: _bound(qlib.efficient_su2(4, reps=2), rng),
    "qaoa": lambda rng: _bound(qlib.QAOAAnsatz(SparsePauliOp(["ZZII", "IZZI", "IIZZ", "ZIIZ"],
                                                             coeffs=[1.0, 0.5, -0.7, 1.2]), reps=2), rng),
    **{f"mcx{k}": (lambda rng, k=k: _with_layer(qlib.MCXGate(k), k + 1, rng)) for k in (3, 4, 5, 6)},
}


def _with_layer(op, n: int, rng) -> QuantumCircuit:
    """RY on every qubit (so the state is generic), then ``op`` (a gate or circuit)."""
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(float(rng.uniform(0.3, 2.8)), q)
    qc.compose(op, range(n), inplace=True) if isinstance(op, QuantumCircuit) else qc.append(op, range(n))
    return qc


@pytest.mark.parametrize("name", sorted(LIBRARY))
@pytest.mark.parametrize("how", ["transpile", "decompose"])
def test_circuit_library(name, how):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # QAOAAnsatz is an NLocal, deprecated in 2.1
        qc = LIBRARY[name](np.random.default_rng(3))
    if how == "transpile":
        flat = transpile(qc, basis_gates=QELIB1_BASIS, optimization_level=0)
    else:
        flat = qc.decompose(reps=3)
    expected = aer_state(qc)
    for dumps in (qasm2.dumps, qasm3.dumps):
        assert_same_up_to_phase(tq_state(from_qasm(dumps(flat))), expected)


# ------------------------------------------------------------ hand-written


NESTED = """gate inner(a, b) x, y { rx(sin(a)) x; ry(-2*b) y; cx x, y; rz(pi/4 + cos(b)) y; }
gate outer(t) x, y, z { inner(t, t/2) x, y; inner(-t, 3*t) z, x; u3(t, -t, 2*t) z; }
"""


def _nested_qiskit() -> QuantumCircuit:
    def inner(qc, a, b, x, y):
        qc.rx(math.sin(a), x)
        qc.ry(-2 * b, y)
        qc.cx(x, y)
        qc.rz(math.pi / 4 + math.cos(b), y)

    def outer(qc, t, x, y, z):
        inner(qc, t, t / 2, x, y)
        inner(qc, -t, 3 * t, z, x)
        qc.u(t, -t, 2 * t, z)

    qc = QuantumCircuit(3)
    outer(qc, 0.7, 0, 1, 2)
    outer(qc, -1.1, 2, 0, 1)
    return qc


@pytest.mark.parametrize("head,reg", [(HEAD2, "qreg q[3];"), (HEAD3, "qubit[3] q;")])
def test_nested_gates_with_expressions(head, reg):
    text = head + NESTED + reg + "\nouter(0.7) q[0], q[1], q[2];\nouter(-1.1) q[2], q[0], q[1];\n"
    circuit = from_qasm(text)
    assert_same_up_to_phase(circuit.to_matrix(C128).numpy(), qiskit_matrix(_nested_qiskit()))
    if head == HEAD3:  # exact, global phase included: OpenQASM 3's rx, ry, rz and u3 are Qiskit's
        assert np.abs(circuit.to_matrix(C128).numpy() - qiskit_matrix(_nested_qiskit())).max() < TOL


@pytest.mark.parametrize("version", [2, 3])
def test_registers_map_in_declaration_order(version):
    if version == 2:
        text = HEAD2 + "qreg a[2];\ncreg m[2];\nqreg b[3];\ncreg k[1];\nx b[1];\nx a[0];\n"
    else:
        text = HEAD3 + "qubit[2] a;\nbit[2] m;\nqubit[3] b;\nbit k;\nx b[1];\nx a[0];\n"
    circuit = from_qasm(text)
    assert circuit.qregs == {"a": (0, 1), "b": (2, 3, 4)}
    assert circuit.cregs == {"m": (0, 1), "k": (2,)}
    expected = np.zeros(32)
    expected[0b10010] = 1  # a[0] is qubit 0 (most significant), b[1] is qubit 3
    np.testing.assert_allclose(tq_state(circuit), expected, atol=1e-15)


@pytest.mark.parametrize("version", [2, 3])
def test_broadcast_and_barrier(version):
    if version == 2:
        text = (HEAD2 + "qreg a[2];\nqreg b[2];\ncreg m[2];\nh a;\ncx a, b;\nrz(0.3) b;\ncx a[0], b;\n"
                "barrier a, b[0];\nmeasure b -> m;\n")
    else:
        text = (HEAD3 + "qubit[2] a;\nqubit[2] b;\nbit[2] m;\nh a;\ncx a, b;\nrz(0.3) b;\ncx a[0], b;\n"
                "barrier a, b[0];\nm = measure b;\n")
    circuit = from_qasm(text)
    qc = QuantumCircuit(4)
    qc.h([0, 1])
    qc.cx(0, 2)
    qc.cx(1, 3)
    qc.rz(0.3, [2, 3])
    qc.cx(0, 2)
    qc.cx(0, 3)
    barrier = [op for op in circuit.operations if op.name == "barrier"]
    assert [tuple(op.qubits) for op in barrier] == [(0, 1, 2)]
    measures = [(op.qubits[0], op.bit) for op in circuit.operations if op.name == "measure"]
    assert measures == [(2, 0), (3, 1)]
    gates_only = tq.Circuit(4).extend([op for op in circuit.operations if isinstance(op, tq.gates.Gate)])
    assert_same_up_to_phase(gates_only.to_matrix(C128).numpy(), qiskit_matrix(qc))


def test_modifiers_oq3():
    text = HEAD3 + """gate g(t) a, b { rx(t) a; cx a, b; gphase(t/3); }
qubit[3] q;
ctrl @ rx(0.3) q[0], q[1];
negctrl @ ry(0.2) q[1], q[2];
inv @ U(0.1, 0.2, 0.3) q[0];
pow(3) @ t q[2];
pow(-2) @ sx q[1];
ctrl(2) @ h q[0], q[1], q[2];
negctrl(2) @ x q[2], q[0], q[1];
ctrl @ inv @ g(0.4) q[2], q[0], q[1];
ctrl @ gphase(0.3) q[0];
ctrl @ negctrl @ pow(2) @ rz(0.25) q[1], q[0], q[2];
inv @ ctrl @ p(0.9) q[2], q[1];
"""
    sub = QuantumCircuit(2, global_phase=0.4 / 3)
    sub.rx(0.4, 0)
    sub.cx(0, 1)
    qc = QuantumCircuit(3)
    for q in range(3):
        qc.h(q)
    qc.append(qlib.RXGate(0.3).control(1, annotated=False), [0, 1])
    qc.append(qlib.RYGate(0.2).control(1, ctrl_state=0, annotated=False), [1, 2])
    qc.append(qlib.UGate(0.1, 0.2, 0.3).inverse(), [0])
    qc.t(2)
    qc.t(2)
    qc.t(2)
    qc.sxdg(1)
    qc.sxdg(1)
    qc.append(qlib.HGate().control(2, annotated=False), [0, 1, 2])
    qc.append(qlib.XGate().control(2, ctrl_state=0, annotated=False), [2, 0, 1])
    qc.append(sub.to_gate().inverse().control(1, annotated=False), [2, 0, 1])
    qc.append(qlib.GlobalPhaseGate(0.3).control(1, annotated=False), [0])
    rz2 = QuantumCircuit(1)
    rz2.rz(0.25, 0)
    rz2.rz(0.25, 0)
    qc.append(rz2.to_gate().control(2, ctrl_state=0b01, annotated=False), [1, 0, 2])  # ctrl_state bit j: control j
    qc.append(qlib.PhaseGate(0.9).control(1, annotated=False).inverse(), [2, 1])
    circuit = from_qasm(text.replace("qubit[3] q;\n", "qubit[3] q;\nh q;\n"))
    np.testing.assert_allclose(circuit.to_matrix(C128).numpy(), qiskit_matrix(qc), atol=TOL)


def test_definition_equal_up_to_phase_keeps_the_phase_under_ctrl():
    """``gate y`` = e^{0.1i} Y reads as the native y, and ctrl @ y still puts e^{0.1i} on the control."""
    text = HEAD3 + "gate y a { gphase(0.1); U(pi, pi/2, pi/2) a; }\nqubit[2] q;\nh q;\nctrl @ y q[0], q[1];\n"
    circuit = from_qasm(text)
    qc = QuantumCircuit(2)
    qc.h([0, 1])
    qc.cy(0, 1)
    qc.p(0.1, 0)
    np.testing.assert_allclose(circuit.to_matrix(C128).numpy(), qiskit_matrix(qc), atol=TOL)
    plain = from_qasm(text.replace("ctrl @ y q[0], q[1];", "y q[1];"))
    assert [op.name for op in plain.operations] == ["h", "h", "y"]


def test_no_header_is_read_as_openqasm3():
    circuit = from_qasm('include "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n')
    assert [op.name for op in circuit.operations] == ["h", "cx"]


def test_files_with_includes():
    bell = load_qasm(DATA / "bell2.qasm")
    assert bell.cregs == {"c": (0, 1)}
    probs = bell.simulate(tq.DensityMatrix.zeros(2, dtype=C128)).bit_probabilities
    assert probs["00"] == pytest.approx(0.5, abs=1e-12) and probs["11"] == pytest.approx(0.5, abs=1e-12)
    teleport = from_qasm(DATA / "teleport3.qasm")  # a Path is a file
    assert from_qasm(str(DATA / "teleport3.qasm")).num_qubits == 3  # so is a str without ';'
    rho = teleport.run(tq.DensityMatrix.zeros(3, dtype=C128))
    kept = tq.partial_trace(rho, keep=[2]).matrix().numpy()
    psi = np.array([math.cos(0.35), math.sin(0.35)])  # RY(0.7)|0> teleported to q[2]
    np.testing.assert_allclose(kept, np.outer(psi, psi), atol=1e-12)
    qc = qasm3.loads((DATA / "teleport3.qasm").read_text().replace('include "mygates3.inc";\n', "").replace(
        "bell q[1], q[2];", "h q[1];\ncx q[1], q[2];"))
    assert_matches_aer_branches(teleport, qc)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_round_trip_every_gate(version, seed):
    circuit = random_tq_circuit(6, seed)
    text = to_qasm(circuit, version)
    back = from_qasm(text)
    assert back.num_qubits == 6
    assert_same_up_to_phase(tq_state(back), tq_state(circuit), 1e-12)
    assert_same_up_to_phase(big_endian_vector(Statevector(qiskit_loads(text, version)).data, 6), tq_state(circuit))


@pytest.mark.parametrize("version", [2, 3])
def test_round_trip_keeps_registers_and_reads_tensor_angles(version):
    circuit = tq.Circuit(5, 3)
    circuit.qregs, circuit.cregs = {"a": (0, 1), "b": (2, 3, 4)}, {"m": (0, 1), "k": (2,)}
    circuit.rx(torch.tensor(0.3, dtype=torch.float64), 0).ry(1e-7, 3).rz(-2.5e-300, 4).cx(0, 2)
    back = from_qasm(to_qasm(circuit, version))
    assert back.qregs == circuit.qregs and back.cregs == circuit.cregs
    assert [op.params for op in back.operations] == [(0.3,), (1e-7,), (-2.5e-300,), ()]


def tq_mid_circuit(seed: int) -> tq.Circuit:
    rng = random.Random(seed)
    c = tq.Circuit(4, 4)
    c.cregs = {"a": (0,), "b": (1, 2), "m": (3,)}
    for q in range(4):
        c.u(rng.uniform(0.3, 2.8), rng.uniform(-3, 3), rng.uniform(-3, 3), q)
    c.cx(0, 1).measure(0, 0).ry(0.4, 1).c_if(0, 1).reset(0).h(0).iswap(0, 2)
    c.measure(1, 1).measure(2, 2).crx(0.7, 3, 0).c_if([1, 2], rng.randrange(4)).reset(3).c_if([1, 2], 2)
    c.rzz(0.9, 0, 3).barrier(0, 3).measure(3, 3).c_if(0, 1).x(2).c_if(3, 1).ry(0.3, 1).c_if([0, 3], 2)
    return c


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("seed", [0, 2])
def test_round_trip_measure_reset_if(version, seed):
    circuit = tq_mid_circuit(seed)
    if version == 2:  # drop the conditions on bits that form no register: version 2 cannot say them
        circuit.operations = circuit.operations[:-2]
    text = to_qasm(circuit, version)
    if version == 3:
        assert "if (a[0]) { if (m[0]) { ry(0.3) q[1]; } }" not in text  # value 2: a[0] = 0, m[0] = 1
        assert "if (!a[0]) { if (m[0]) { ry(0.3) q[1]; } }" in text
    back = from_qasm(text)
    assert back.cregs == circuit.cregs
    rho = back.simulate(tq.DensityMatrix.zeros(4, dtype=C128))
    expected = circuit.simulate(tq.DensityMatrix.zeros(4, dtype=C128))
    assert np.abs(rho.state.matrix().numpy() - expected.state.matrix().numpy()).max() < 1e-12
    assert_matches_aer_branches(circuit, qiskit_loads(text, version))


def test_version2_condition_on_loose_bits():
    """Bits that form no register get one register each when every condition reads one bit."""
    c = tq.Circuit(2, 2).h(0).measure(0, 1).x(1).c_if(1, 1)
    text = to_qasm(c, 2)
    assert "if (c1 == 1) x q[1];" in text
    back = from_qasm(text)
    rho = back.run(tq.DensityMatrix.zeros(2, dtype=C128)).matrix().numpy()
    np.testing.assert_allclose(rho, c.run(tq.DensityMatrix.zeros(2, dtype=C128)).matrix().numpy(), atol=1e-12)


def test_written_text_shapes():
    c = tq.Circuit(7).mcx([0, 1, 2, 3, 4, 5], 6).mcphase(0.5, [0, 1], 2).iswap(0, 1).iswap(0, 1).inverse()
    text3 = to_qasm(c, 3)
    assert "ctrl(6) @ x q[0], q[1], q[2], q[3], q[4], q[5], q[6];" in text3
    assert "ctrl(2) @ p(-0.5) q[0], q[1], q[2];" in text3 and "inv @ iswap q[0], q[1];" in text3
    text2 = to_qasm(c, 2)
    assert 'include "qelib1.inc";' in text2 and "gate iswap_dg a, b" in text2 and "gate mcx_6" in text2
    assert to_qasm(tq.Circuit(1).rx(1e-20, 0), 2).splitlines()[-1] == "rx(1.0e-20) q[0];"


# -------------------------------------------------------------------- errors


def _raises(text: str, *fragments: str, line: int | None = None, kind=QASMError):
    with pytest.raises(kind) as info:
        from_qasm(text)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    if line is not None:
        assert info.value.line == line and f"line {line}" in message, message
    return info


def test_errors_are_value_errors():
    assert issubclass(QASMError, ValueError)


def test_file_not_found():
    with pytest.raises(FileNotFoundError, match="no_such_circuit.qasm"):
        load_qasm("no_such_circuit.qasm")
    with pytest.raises(FileNotFoundError, match="missing.qasm"):
        from_qasm(Path("missing.qasm"))
    _raises(HEAD3 + 'include "nowhere.inc";\n', "nowhere.inc", line=3)


@pytest.mark.parametrize("head", [HEAD2, HEAD3])
def test_syntax_error(head):
    _raises(head + ("qreg q[2];" if head == HEAD2 else "qubit[2] q;") + "\nh q[0]\nx q[1];\n", line=5)


@pytest.mark.parametrize("head,reg", [(HEAD2, "qreg q[2];\ncreg c[2];"), (HEAD3, "qubit[2] q;\nbit[2] c;")])
@pytest.mark.parametrize("statement,fragment", [
    ("foo q[0];", "foo"),                               # unknown gate
    ("rx(0.1, 0.2) q[0];", "rx"),                       # wrong parameter count
    ("cx q[0];", "cx"),                                 # wrong qubit count
    ("x q[2];", "2"),                                   # index out of range
    ("x r[0];", "r"),                                   # register not declared (yet)
    ("cx q[0], q[0];", ""),                             # the same qubit twice
    ("if (c == 1) x q[1];", "no earlier measurement"),  # a condition on bits never measured
])
def test_program_errors_name_the_line(head, reg, statement, fragment):
    _raises(head + reg + "\n" + statement + "\n", fragment, line=5)


def test_register_used_before_it_is_declared():
    _raises(HEAD2 + "qreg q[1];\nx r[0];\nqreg r[1];\n", "'r'", line=4)
    _raises(HEAD3 + "qubit q;\nx r[0];\nqubit r;\n", "'r'", line=4)


def test_missing_parameter_list_oq2():
    """qiskit.qasm2 raises a TypeError without a line here; the line is found."""
    _raises(HEAD2 + "qreg q[2];\nh q[0];\nrx q[0];\nh q[1];\n", "rx q[0]", line=5)
    _raises(HEAD2 + "gate g(a) x { rx(a) x; }\nqreg q[2];\nh q[0];\ng q[1];\n", "g q[1]", line=6)
    _raises(HEAD3 + "qubit[2] q;\nrx q[0];\n", "rx", line=4)


def test_opaque_is_refused_by_name():
    _raises(HEAD2 + "qreg q[2];\nopaque magic(a) x, y;\nmagic(0.1) q[0], q[1];\n", "opaque", "magic", line=4)
    _raises(HEAD3 + "qubit[2] q;\n// opaque is a comment here\nopaque magic q;\n", "magic", line=5)


@pytest.mark.parametrize("statement,name", [
    ("for int i in [0:1] { h q[i]; }", "for"),
    ("while (c[0]) { h q[0]; }", "while"),
    ("def f(qubit a) { h a; }", "def"),
    ("switch (1) { case 0 { h q[0]; } }", "switch"),
    ("box { h q[0]; }", "box"),
    ("delay[100ns] q[0];", "delay"),
    ("extern f(int) -> int;", "extern"),
    ("input float theta;", "input"),
    ("output bit o;", "output"),
    ("int i = 1;", "classical variable"),
    ("c[0] = c[1];", "classical assignment"),
    ("pow(0.5) @ x q[0];", "pow"),
    ("if (c[0] + 1 == 2) { x q[0]; }", "conditions"),
])
def test_unsupported_openqasm3_is_refused_by_name(statement, name):
    _raises(HEAD3 + "qubit[2] q;\nbit[2] c;\n" + statement + "\n", name, line=5)


def test_other_program_errors():
    _raises("OPENQASM 4.0;\nqubit q;\n", "4.0", line=1)
    _raises(HEAD3 + "qubit[2] q;\nbit[1] c;\nc = measure q;\n", "measure", line=5)
    _raises(HEAD3 + "gate g a { h b; }\n", "b", line=3)                      # a body names an unknown qubit
    _raises(HEAD3 + "qubit[2] q;\nbit[2] c;\nc = measure q;\nif (c[0]) { c[0] = measure q[1]; x q[0]; }\n",
            "enclosing if", line=6)
    _raises(HEAD3 + "qubit q;\nrx(sqrt(-1)) q;\n", "sqrt", line=4)
    _raises(HEAD3 + "bit c;\n", "no qubits")


# ------------------------------------------------------------ writer refusals


def test_writer_refuses_what_openqasm_cannot_say():
    eye = np.eye(2)
    for gate in (tq.gates.unitary(eye, [0]), tq.gates.controlled(eye, [0], [1]), tq.gates.diagonal([1, 1], [0])):
        with pytest.raises(ValueError, match="matrix"):
            to_qasm(tq.Circuit(2).append(gate))
    with pytest.raises(ValueError, match="batched"):
        to_qasm(tq.Circuit(1).rx(torch.tensor([0.1, 0.2]), 0))
    with pytest.raises(ValueError, match="requires grad"):
        to_qasm(tq.Circuit(1).rx(torch.tensor(0.1, requires_grad=True), 0))
    with pytest.raises(ValueError, match="version=3"):
        to_qasm(tq.Circuit(12).mcx(list(range(11)), 11), 2)
    assert "ctrl(11) @ x" in to_qasm(tq.Circuit(12).mcx(list(range(11)), 11), 3)
    with pytest.raises(ValueError, match="no OpenQASM form"):
        to_qasm(tq.Circuit(1).append(tq.channels.depolarizing(0.1, 0)))
    with pytest.raises(ValueError, match="register"):
        to_qasm(tq.Circuit(1, 2).measure(0, 0).measure(0, 1).x(0).c_if([0, 1], 1).x(0).c_if(1, 1), 2)
    with pytest.raises(ValueError, match="version"):
        to_qasm(tq.Circuit(1), 4)
