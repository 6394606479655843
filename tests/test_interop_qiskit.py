"""from_qiskit / to_qiskit against Qiskit's own simulators (quantum_info and Aer).

Qiskit is little-endian: its states and matrices are compared here after
``reverse_qargs()``, which puts qubit 0 first as tqsim does.
"""

import math
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("qiskit")

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile  # noqa: E402
from qiskit.circuit import AnnotatedOperation, Gate, Instruction, InverseModifier, Parameter  # noqa: E402
from qiskit.circuit.classical import expr  # noqa: E402
from qiskit.circuit.library import (  # noqa: E402
    CCXGate, CCZGate, C3SXGate, CRYGate, CUGate, CXGate, GlobalPhaseGate, HGate, MCPhaseGate, MCXGate,
    QFTGate, RYGate, SGate, UnitaryGate, efficient_su2, get_standard_gate_name_mapping,
    grover_operator, qaoa_ansatz,
)
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector, random_unitary  # noqa: E402

import tqsim as tq  # noqa: E402
from tqsim.classical import Conditioned  # noqa: E402
from tqsim.interop.names import QISKIT  # noqa: E402
from tqsim.interop.qiskit import from_qiskit, to_qiskit  # noqa: E402

TOL = 1e-10
STANDARD = get_standard_gate_name_mapping()
#: every Qiskit standard gate that acts on qubits (global_phase, measure, reset, delay apart)
GATE_NAMES = sorted(n for n, g in STANDARD.items() if isinstance(g, Gate) and g.num_qubits)


# ------------------------------------------------------------------ helpers


def amplitudes(circuit: tq.Circuit) -> np.ndarray:
    return circuit.run(tq.StateVector.zeros(circuit.num_qubits, dtype=torch.complex128)).amplitudes().numpy()


def qiskit_amplitudes(qc: QuantumCircuit) -> np.ndarray:
    """Qiskit's statevector, big-endian."""
    return Statevector(qc).reverse_qargs().data


def qiskit_matrix(qc) -> np.ndarray:
    return Operator(qc).reverse_qargs().data


def assert_equal_up_to_phase(a: np.ndarray, b: np.ndarray, tol: float = TOL) -> None:
    k = int(np.argmax(np.abs(b)))
    assert abs(abs(a[k]) - abs(b[k])) < tol
    phase = b[k] / a[k]
    np.testing.assert_allclose(a * phase, b, rtol=0, atol=tol)


def imported(qc: QuantumCircuit) -> tq.Circuit:
    """from_qiskit with every warning an error: gates with counterparts must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return from_qiskit(qc)


def random_gate(name: str, rng: np.random.Generator):
    std = STANDARD[name]
    return std.base_class(*rng.uniform(-2 * math.pi, 2 * math.pi, len(std.params)))


def generic_start(qc: QuantumCircuit, rng: np.random.Generator) -> None:
    """A random U on each qubit, so that diagonal and controlled gates act on a generic state."""
    for q in range(qc.num_qubits):
        qc.u(*rng.uniform(0, 2 * math.pi, 3), q)


def random_circuit(n: int, depth: int, rng: np.random.Generator) -> QuantumCircuit:
    """Standard gates on random qubits, plus mcx, mcphase and open controls."""
    qc = QuantumCircuit(n)
    generic_start(qc, rng)
    names = [m for m in GATE_NAMES if STANDARD[m].num_qubits <= n] + ["mcx", "mcphase", "open"]
    for _ in range(depth):
        name = str(rng.choice(names))
        if name == "mcx":
            gate = MCXGate(int(rng.integers(1, n)))
        elif name == "mcphase":
            gate = MCPhaseGate(rng.uniform(-math.pi, math.pi), int(rng.integers(1, n)))
        elif name == "open":
            k = int(rng.integers(1, n))
            gate = RYGate(rng.uniform(-math.pi, math.pi)).control(
                k, ctrl_state=int(rng.integers(0, 2**k - 1)), annotated=False)
        else:
            gate = random_gate(name, rng)
        qc.append(gate, [int(q) for q in rng.permutation(n)[: gate.num_qubits]])
    return qc


# ------------------------------------------------------------ single gates


def test_docs_example_bit_order():
    qc = QuantumCircuit(2)
    qc.x(0)
    assert Statevector(qc).data[1] == 1  # Qiskit: qubit 0 is the least significant bit
    assert amplitudes(from_qiskit(qc))[2] == 1  # tqsim: qubit 0 is the most significant, |10>
    assert from_qiskit(qc).operations[0].qubits == (0,)


@pytest.mark.parametrize("name", GATE_NAMES)
def test_every_standard_gate_maps_to_its_counterpart_exactly(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    gate = random_gate(name, rng)
    qc = QuantumCircuit(5)
    qc.append(gate, [int(q) for q in rng.permutation(5)[: gate.num_qubits]])
    c = imported(qc)
    assert len(c.operations) == 1
    op = c.operations[0]
    assert op.name != "unitary", f"{name} became a plain unitary"
    if name in QISKIT:
        assert op.name == QISKIT[name].builder
    # the same matrix, global phase included
    np.testing.assert_allclose(c.to_matrix(torch.complex128).numpy(), qiskit_matrix(qc), rtol=0, atol=TOL)


@pytest.mark.parametrize("gate", [
    CXGate(ctrl_state=0), CCXGate(ctrl_state=2), CCZGate(ctrl_state=1), CRYGate(0.7, ctrl_state=0),
    CUGate(0.3, -1.1, 2.0, 0.4, ctrl_state=0), C3SXGate(ctrl_state=5), MCXGate(4, ctrl_state=0b0101),
    MCPhaseGate(0.9, 3, ctrl_state=2), HGate().control(2, ctrl_state="01", annotated=False),
], ids=lambda g: g.name)
def test_open_controls(gate):
    qc = QuantumCircuit(gate.num_qubits + 1)
    qc.append(gate, list(range(gate.num_qubits))[::-1])
    c = imported(qc)
    assert all(op.name != "unitary" for op in c.operations)
    np.testing.assert_allclose(c.to_matrix(torch.complex128).numpy(), qiskit_matrix(qc), rtol=0, atol=TOL)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_multi_controlled_x_and_phase(k):
    rng = np.random.default_rng(k)
    qc = QuantumCircuit(k + 1)
    generic_start(qc, rng)
    qc.append(MCXGate(k), [int(q) for q in rng.permutation(k + 1)])
    qc.append(MCPhaseGate(rng.uniform(-3, 3), k), [int(q) for q in rng.permutation(k + 1)])
    qc.mcx(list(range(1, k + 1)), 0)
    qc.mcp(rng.uniform(-3, 3), list(range(k)), k)
    c = imported(qc)
    assert {op.name for op in c.operations[k + 1:]} <= {"cx", "ccx", "c3x", "c4x", "mcx", "cp", "mcphase"}
    np.testing.assert_allclose(c.to_matrix(torch.complex128).numpy(), qiskit_matrix(qc), rtol=0, atol=TOL)


def test_controlled_custom_gates_keep_their_phase():
    """Inside a control a global phase matters: controlled(base matrix) keeps it."""
    sub = QuantumCircuit(1, global_phase=0.5)
    sub.x(0)
    qc = QuantumCircuit(4)
    qc.append(sub.to_gate().control(1, annotated=False), [2, 0])
    qc.append(UnitaryGate(random_unitary(4, seed=3)).control(2, annotated=False), [3, 0, 1, 2])
    qc.append(GlobalPhaseGate(0.7).control(2, annotated=False), [1, 3])
    qc.append(GlobalPhaseGate(-0.4).control(1, annotated=False), [2])
    qc.append(UnitaryGate(random_unitary(8, seed=4)), [1, 3, 0])
    qc.append(GlobalPhaseGate(1.3), [])
    c = imported(qc)
    assert [op.name for op in c.operations] == ["controlled", "controlled", "mcphase", "p", "unitary"]
    np.testing.assert_allclose(c.to_matrix(torch.complex128).numpy(), qiskit_matrix(qc) * np.exp(-1.3j),
                               rtol=0, atol=TOL)


def test_a_gate_without_counterpart_warns_and_is_exact():
    rng = np.random.default_rng(7)
    inner = random_circuit(3, 10, rng)
    qc = QuantumCircuit(4)
    generic_start(qc, rng)
    qc.append(inner.to_gate(label=None).copy("mygate"), [3, 1, 0])
    qc.append(QFTGate(3), [0, 2, 1])
    qc.append(AnnotatedOperation(SGate(), InverseModifier()), [2])
    with pytest.warns(UserWarning) as record:
        c = from_qiskit(qc)
    messages = " ".join(str(w.message) for w in record)
    assert "'mygate'" in messages and "'qft'" in messages
    assert_equal_up_to_phase(amplitudes(c), qiskit_amplitudes(qc))


# --------------------------------------------------------- whole circuits


@pytest.mark.parametrize("seed", range(8))
def test_random_circuits_match_qiskit_statevector(seed):
    rng = np.random.default_rng(100 + seed)
    n = 3 + seed % 4
    qc = random_circuit(n, 60, rng)
    qc.global_phase = rng.uniform(0, 6)
    assert_equal_up_to_phase(amplitudes(imported(qc)), qiskit_amplitudes(qc))


def _library_circuits():
    rng = np.random.default_rng(11)
    qft = QuantumCircuit(4)
    generic_start(qft, rng)
    qft.append(QFTGate(4), [0, 1, 2, 3])

    oracle = QuantumCircuit(3)
    oracle.h(2)
    oracle.ccx(0, 1, 2)
    oracle.h(2)
    grover = QuantumCircuit(3)
    grover.h([0, 1, 2])
    grover.compose(grover_operator(oracle), inplace=True)
    grover.compose(grover_operator(oracle), inplace=True)

    su2 = efficient_su2(4, reps=2)
    su2 = su2.assign_parameters(rng.uniform(-math.pi, math.pi, su2.num_parameters))

    cost = SparsePauliOp.from_list([("ZZII", 1.0), ("IZZI", 0.7), ("ZIIZ", -0.4), ("IIIZ", 0.3)])
    qaoa = qaoa_ansatz(cost, reps=2)
    qaoa = qaoa.assign_parameters(rng.uniform(-math.pi, math.pi, qaoa.num_parameters))

    mcx = QuantumCircuit(6)
    generic_start(mcx, rng)
    mcx.append(MCXGate(5), [5, 0, 1, 2, 3, 4])
    mcx.append(MCPhaseGate(0.8, 4), [1, 2, 3, 4, 0])
    return {"qft": qft, "grover": grover, "efficient_su2": su2, "qaoa": qaoa, "mcx": mcx}


LIBRARY = _library_circuits()
BASES = {"u_cx": ["u", "cx"], "ibm": ["rz", "sx", "x", "cx"], "rich": ["u1", "u2", "u3", "cz", "ecr", "rzz"]}


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_circuits_directly(name):
    qc = LIBRARY[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # QFTGate and PauliEvolutionGate come in as matrices
        c = from_qiskit(qc)
    assert_equal_up_to_phase(amplitudes(c), qiskit_amplitudes(qc))


@pytest.mark.parametrize("basis", sorted(BASES))
@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_circuits_transpiled(name, basis):
    qc = transpile(LIBRARY[name], basis_gates=BASES[basis], optimization_level=1, seed_transpiler=0)
    c = imported(qc)
    assert all(op.name != "unitary" for op in c.operations)
    assert_equal_up_to_phase(amplitudes(c), qiskit_amplitudes(LIBRARY[name]))


def test_registers_become_named_index_tuples():
    qc = QuantumCircuit(QuantumRegister(2, "a"), QuantumRegister(3, "b"), ClassicalRegister(2, "m"),
                        ClassicalRegister(1, "flag"))
    qc.x(qc.qregs[1][0])
    c = from_qiskit(qc)
    assert c.qregs == {"a": (0, 1), "b": (2, 3, 4)} and c.cregs == {"m": (0, 1), "flag": (2,)}
    assert c.num_clbits == 3 and c.operations[0].qubits == (2,)
    back = to_qiskit(c)
    assert [(r.name, r.size) for r in back.qregs] == [("a", 2), ("b", 3)]
    assert [(r.name, r.size) for r in back.cregs] == [("m", 2), ("flag", 1)]


# ------------------------------------------------------------- round trips


def random_tq_circuit(n: int, depth: int, rng: np.random.Generator) -> tq.Circuit:
    """Every tqsim gate kind (named, matrix, inverses) on random qubits."""
    specs = {g.builder: g for g in QISKIT.values()} | {"phase": QISKIT["p"], "cphase": QISKIT["cp"]}
    c = tq.Circuit(n)
    for q in range(n):
        c.u3(*rng.uniform(0, 2 * math.pi, 3), q)
    choices = sorted(b for b, g in specs.items() if g.num_qubits <= n) + ["mcx", "mcphase", "matrix"]
    for _ in range(depth):
        name = str(rng.choice(choices))
        order = [int(q) for q in rng.permutation(n)]
        if name == "mcx":
            k = int(rng.integers(1, n))
            gate = tq.gates.mcx(order[:k], order[k])
        elif name == "mcphase":
            k = int(rng.integers(1, n))
            gate = tq.gates.mcphase(rng.uniform(-3, 3), order[:k], order[k])
        elif name == "matrix":
            kind = int(rng.integers(3))
            if kind == 0:
                gate = tq.gates.unitary(random_unitary(4, seed=int(rng.integers(1000))).data, order[:2])
            elif kind == 1:
                gate = tq.gates.controlled(random_unitary(2, seed=int(rng.integers(1000))).data, order[:2], order[2:3])
            else:
                gate = tq.gates.diagonal(np.exp(1j * rng.uniform(-3, 3, 4)), order[:2])
        else:
            g = specs[name]
            angles = rng.uniform(-2 * math.pi, 2 * math.pi, g.num_params)
            gate = tq.gates.BUILDERS[name](*angles, *order[: g.num_qubits])
        c.append(gate.inverse() if rng.random() < 0.3 else gate)
    return c


@pytest.mark.parametrize("seed", range(5))
def test_round_trip_through_qiskit(seed):
    rng = np.random.default_rng(200 + seed)
    n = 3 + seed % 3
    c = random_tq_circuit(n, 50, rng)
    qc = to_qiskit(c)
    # the same unitary, phase included
    np.testing.assert_allclose(qiskit_matrix(qc), c.to_matrix(torch.complex128).numpy(), rtol=0, atol=TOL)
    back = imported(qc)
    assert_equal_up_to_phase(amplitudes(back), amplitudes(c))
    named = [op.name for op in c.operations if op.name in QISKIT or op.name in ("phase", "cphase")]
    assert len(named) > 20


@pytest.mark.parametrize("builder", sorted({g.builder for g in QISKIT.values()} | {"phase", "cphase"}))
def test_every_named_gate_and_its_inverse_exports_exactly(builder):
    spec = {g.builder: g for g in QISKIT.values()}.get(builder) or QISKIT["p" if builder == "phase" else "cp"]
    rng = np.random.default_rng(sum(map(ord, builder)))
    qubits = [int(q) for q in rng.permutation(5)[: spec.num_qubits]]
    gate = tq.gates.BUILDERS[builder](*rng.uniform(-2 * math.pi, 2 * math.pi, spec.num_params), *qubits)
    for g in (gate, gate.inverse()):
        c = tq.Circuit(5).append(g)
        qc = to_qiskit(c)
        np.testing.assert_allclose(qiskit_matrix(qc), c.to_matrix(torch.complex128).numpy(), rtol=0, atol=TOL)


def test_to_qiskit_uses_standard_gates():
    c = tq.Circuit(4).h(0).cx(0, 1).phase(0.3, 2).cphase(0.2, 0, 2).rzx(0.4, 1, 2).c3x(0, 1, 2, 3).i(3)
    qc = to_qiskit(c)
    assert [i.operation.name for i in qc.data] == ["h", "cx", "p", "cp", "rzx", "mcx", "id"]
    assert [[qc.find_bit(q).index for q in i.qubits] for i in qc.data][-3:] == [[1, 2], [0, 1, 2, 3], [3]]


# ------------------------------------------------------------ conditionals


def _aer_branches(qc: QuantumCircuit, shots: int = 4000):
    """Aer's exact state per classical outcome (big-endian, keyed clbit 0 first) and its counts."""
    from qiskit_aer import AerSimulator

    qc = qc.copy()
    qc.save_density_matrix(conditional=True, label="rho")
    sim = AerSimulator(method="density_matrix", seed_simulator=5)
    result = sim.run(transpile(qc, sim, optimization_level=0), shots=shots).result()
    m = qc.num_clbits
    branches = {
        "".join(str((int(key, 16) >> j) & 1) for j in range(m)): rho.reverse_qargs().data
        for key, rho in result.data()["rho"].items()
    }
    counts = {k.replace(" ", "")[::-1]: v for k, v in result.get_counts().items()}
    return branches, counts


def assert_matches_aer(qc: QuantumCircuit, c: tq.Circuit) -> None:
    """Our exact mixture = sum_k p_k rho_k with Aer's branch states; our p_k agree with Aer's counts."""
    from scipy.stats import chisquare

    branches, counts = _aer_branches(qc)
    result = c.simulate(tq.DensityMatrix.zeros(c.num_qubits, dtype=torch.complex128))
    probs = {k: p for k, p in result.bit_probabilities.items() if p > 1e-12}
    assert set(probs) == set(branches) == set(counts)
    mixture = sum(p * branches[k] for k, p in probs.items())
    np.testing.assert_allclose(result.state.matrix().numpy(), mixture, rtol=0, atol=TOL)
    keys = sorted(probs)
    shots = sum(counts.values())
    assert chisquare([counts[k] for k in keys], [probs[k] * shots for k in keys]).pvalue > 1e-3


def _conditional_circuits():
    circuits = {}
    qc = QuantumCircuit(3, 1)
    qc.ry(1.1, 0)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(1)
        qc.h(2)
        qc.append(CXGate(ctrl_state=0), [2, 1])
    qc.cry(0.4, 1, 2)
    circuits["bit"] = qc

    qr, cr = QuantumRegister(3, "q"), ClassicalRegister(3, "c")
    qc = QuantumCircuit(qr, cr)
    qc.ry(1.3, 0)
    qc.ry(2.0, 1)
    qc.measure([0, 1, 2], [0, 1, 2])  # tqsim conditions only on bits measured before
    with qc.if_test((cr, 2)):  # c[1] = 1, c[0] = c[2] = 0
        qc.rx(0.9, 2)
        qc.cz(0, 2)
    with qc.if_test((cr, 1)):
        qc.reset(1)
        qc.h(2)
        qc.measure(2, 2)  # the block's last op may write a condition bit
    circuits["register"] = qc

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.measure(0, 1)
    with qc.if_test((qc.clbits[1], 0)) as else_:
        qc.ry(0.5, 1)
    with else_:
        qc.ry(2.2, 1)
        qc.reset(0)
    qc.measure(1, 0)
    circuits["else"] = qc

    qc = QuantumCircuit(3, 3)
    qc.h(0)
    qc.cx(0, 1)
    qc.ry(0.8, 2)
    qc.measure([0, 2], [0, 2])
    qc.barrier()
    qc.delay(100, 1)
    with qc.if_test((qc.clbits[2], 1)):
        qc.measure(1, 1)
        qc.append(MCXGate(2, ctrl_state=1), [0, 2, 1])
    qc.reset(0)
    circuits["measure_in_body"] = qc

    qc = QuantumCircuit(2, 1)
    qc.h(0)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(1)
        qc.measure(1, 0)
    circuits["overwrite"] = qc
    return circuits


CONDITIONAL = _conditional_circuits()


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_conditionals_match_aer(name):
    qc = CONDITIONAL[name]
    c = imported(qc)
    assert any(isinstance(op, Conditioned) for op in c.operations)
    assert_matches_aer(qc, c)


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_conditionals_round_trip_through_to_qiskit(name):
    c = from_qiskit(CONDITIONAL[name])
    assert_matches_aer(to_qiskit(c), c)


def test_to_qiskit_conditions_on_bits_that_form_no_register():
    c = tq.Circuit(3, 3)
    c.h(0).h(1).h(2).measure(0, 0).measure(1, 1).measure(2, 2)
    c.x(0).c_if([2, 0], 1)  # bit 2 = 1, bit 0 = 0
    c.ry(0.7, 1).c_if([0, 1, 2], 5)
    c.cregs = {"a": (0, 2), "b": (1,)}  # not in order: one plain register instead
    qc = to_qiskit(c)
    assert [r.name for r in qc.cregs] == ["c"]
    assert_matches_aer(qc, c)


# --------------------------------------------------------------- bad input


def _refused(qc, *words):
    before = qc.copy()
    with pytest.raises(ValueError) as info:
        from_qiskit(qc)
    for word in words:
        assert word in str(info.value)
    assert qc == before  # the input is untouched (and nothing was returned)


def test_unbound_parameters_are_named():
    theta = Parameter("theta")
    qc = QuantumCircuit(2)
    qc.rx(2 * theta, 0)
    _refused(qc, "theta", "assign_parameters")


def test_unsupported_instructions_are_named():
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.initialize([0, 1], 1)
    _refused(qc, "initialize")

    qc = QuantumCircuit(2)
    qc.x(0)
    qc.append(Instruction("mynoise", 1, 0, []), [1])
    _refused(qc, "mynoise")


def test_loops_and_expression_conditions_are_refused():
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    with qc.while_loop((qc.clbits[0], 1)):
        qc.x(0)
        qc.measure(0, 0)
    _refused(qc, "while_loop")

    qc = QuantumCircuit(1, 1)
    with qc.for_loop(range(2)):
        qc.x(0)
    _refused(qc, "for_loop")

    qc = QuantumCircuit(2, 2)
    qc.measure([0, 1], [0, 1])
    with qc.if_test(expr.logic_and(qc.clbits[0], qc.clbits[1])):
        qc.x(0)
    _refused(qc, "expression")


def test_else_on_a_register_and_nested_conditions_are_refused():
    qc = QuantumCircuit(2, 2)
    qc.measure([0, 1], [0, 1])
    with qc.if_test((qc.cregs[0], 3)) as else_:
        qc.x(0)
    with else_:
        qc.x(1)
    _refused(qc, "else", "register")

    qc = QuantumCircuit(2, 2)
    qc.measure([0, 1], [0, 1])
    with qc.if_test((qc.clbits[0], 1)):
        with qc.if_test((qc.clbits[1], 1)):
            qc.x(0)
    _refused(qc, "nested")


def test_measure_into_the_condition_bit_is_refused():
    qc = QuantumCircuit(2, 1)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.measure(1, 0)
        qc.x(0)
    _refused(qc, "condition bit 0")


def test_not_a_circuit():
    with pytest.raises(TypeError, match="QuantumCircuit"):
        from_qiskit(tq.Circuit(1))
    with pytest.raises(TypeError, match="tqsim Circuit"):
        to_qiskit(QuantumCircuit(1))


def test_to_qiskit_refuses_channels_and_batches():
    with pytest.raises(ValueError, match="depolarizing"):
        to_qiskit(tq.Circuit(1).h(0).depolarizing(0.1, 0))
    with pytest.raises(ValueError, match="batched"):
        to_qiskit(tq.Circuit(1).rx(torch.tensor([0.1, 0.2]), 0))
