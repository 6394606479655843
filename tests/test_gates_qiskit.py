"""Every gate with a Qiskit counterpart against ``qiskit.quantum_info.Operator``.

Oracle: Qiskit builds the operator of a circuit that applies its gate to
qubits ``0..k-1`` (or to the same scattered qubits as tqsim). Qiskit is
little-endian; ``Operator(qc).reverse_qargs()`` makes Qiskit's qubit 0 the
most significant bit, tqsim's convention, so the two matrices must agree
entry by entry (1e-12 in complex128). Inverses are checked against Qiskit's
``Gate.inverse()``, gradients against central finite differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("qiskit")
from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit import library as qlib  # noqa: E402
from qiskit.quantum_info import Operator  # noqa: E402

import tqsim as tq  # noqa: E402
from tqsim import gates  # noqa: E402

C128 = torch.complex128
TOL = 1e-12

# name -> (Qiskit gate from the angles, number of angles, number of qubits)
QISKIT = {
    "i": (lambda: qlib.IGate(), 0, 1), "x": (lambda: qlib.XGate(), 0, 1), "y": (lambda: qlib.YGate(), 0, 1),
    "z": (lambda: qlib.ZGate(), 0, 1), "h": (lambda: qlib.HGate(), 0, 1), "s": (lambda: qlib.SGate(), 0, 1),
    "sdg": (lambda: qlib.SdgGate(), 0, 1), "t": (lambda: qlib.TGate(), 0, 1), "tdg": (lambda: qlib.TdgGate(), 0, 1),
    "sx": (lambda: qlib.SXGate(), 0, 1), "sxdg": (lambda: qlib.SXdgGate(), 0, 1),
    "rx": (qlib.RXGate, 1, 1), "ry": (qlib.RYGate, 1, 1), "rz": (qlib.RZGate, 1, 1),
    "phase": (qlib.PhaseGate, 1, 1), "p": (qlib.PhaseGate, 1, 1), "u1": (qlib.U1Gate, 1, 1),
    "u2": (qlib.U2Gate, 2, 1), "u3": (qlib.U3Gate, 3, 1), "u": (qlib.UGate, 3, 1),
    "cx": (lambda: qlib.CXGate(), 0, 2), "cy": (lambda: qlib.CYGate(), 0, 2), "cz": (lambda: qlib.CZGate(), 0, 2),
    "swap": (lambda: qlib.SwapGate(), 0, 2), "iswap": (lambda: qlib.iSwapGate(), 0, 2),
    "ch": (lambda: qlib.CHGate(), 0, 2), "csx": (lambda: qlib.CSXGate(), 0, 2),
    "ecr": (lambda: qlib.ECRGate(), 0, 2), "dcx": (lambda: qlib.DCXGate(), 0, 2),
    "cphase": (qlib.CPhaseGate, 1, 2), "cp": (qlib.CPhaseGate, 1, 2), "cu1": (qlib.CU1Gate, 1, 2),
    "crx": (qlib.CRXGate, 1, 2), "cry": (qlib.CRYGate, 1, 2), "crz": (qlib.CRZGate, 1, 2),
    "cu3": (qlib.CU3Gate, 3, 2), "cu": (qlib.CUGate, 4, 2),
    "rxx": (qlib.RXXGate, 1, 2), "ryy": (qlib.RYYGate, 1, 2), "rzz": (qlib.RZZGate, 1, 2),
    "rzx": (qlib.RZXGate, 1, 2),
    "xx_plus_yy": (qlib.XXPlusYYGate, 2, 2), "xx_minus_yy": (qlib.XXMinusYYGate, 2, 2),
    "ccx": (lambda: qlib.CCXGate(), 0, 3), "cswap": (lambda: qlib.CSwapGate(), 0, 3),
    "rccx": (lambda: qlib.RCCXGate(), 0, 3), "rc3x": (lambda: qlib.RC3XGate(), 0, 4),
    "c3x": (lambda: qlib.C3XGate(), 0, 4), "c3sqrtx": (lambda: qlib.C3SXGate(), 0, 4),
    "c4x": (lambda: qlib.C4XGate(), 0, 5),
}
PARAMETRIZED = [name for name, (_, k, _) in QISKIT.items() if k]
FIXED = [name for name, (_, k, _) in QISKIT.items() if not k]
DIAGONAL = {"i", "z", "s", "sdg", "t", "tdg", "rz", "phase", "p", "u1", "cz", "cphase", "cp", "cu1", "crz", "rzz"}
NUM_CONTROLS = {"cx": 1, "cy": 1, "cz": 1, "ch": 1, "csx": 1, "cphase": 1, "cp": 1, "cu1": 1, "crx": 1, "cry": 1,
                "crz": 1, "cu3": 1, "cu": 1, "ccx": 2, "cswap": 1, "c3x": 3, "c3sqrtx": 3, "c4x": 4}
NEW_GATES = ["u1", "u2", "u", "p", "cu1", "cp", "cu3", "cu", "ch", "csx", "rzx", "ecr", "dcx", "xx_plus_yy",
             "xx_minus_yy", "rccx", "rc3x", "c3x", "c3sqrtx", "c4x", "mcx", "mcphase"]


def qiskit_matrix(gate, qargs, num_qubits: int) -> np.ndarray:
    """Big-endian operator (Qiskit qubit 0 most significant) of ``gate`` on ``qargs``."""
    qc = QuantumCircuit(num_qubits)
    qc.append(gate, list(qargs))
    return Operator(qc).reverse_qargs().data


def angle_sets(count: int, seed: int) -> list[tuple[float, ...]]:
    rng = np.random.default_rng(seed)
    return [tuple(float(a) for a in rng.uniform(-2 * np.pi, 2 * np.pi, size=count)) for _ in range(3)]


def ours(name: str, angles, qubits) -> gates.Gate:
    return gates.BUILDERS[name](*angles, *qubits)


def test_every_new_gate_is_exported_and_documented():
    for name in NEW_GATES:
        assert name in gates.__all__ and name in gates.BUILDERS, name
        doc = gates.BUILDERS[name].__doc__
        assert doc and doc.strip() and "\n" not in doc.strip(), name
        assert hasattr(tq.Circuit(2), name), name


# ------------------------------------------------------------ the matrices


@pytest.mark.parametrize("name", FIXED)
def test_fixed_gate_matches_qiskit(name):
    make, _, k = QISKIT[name]
    g = ours(name, (), range(k))
    np.testing.assert_allclose(g.matrix(C128).numpy(), qiskit_matrix(make(), range(k), k), atol=TOL, rtol=0)
    assert g.is_diagonal == (name in DIAGONAL)
    assert g.num_controls == NUM_CONTROLS.get(name, 0)


@pytest.mark.parametrize("name", PARAMETRIZED)
def test_parametrized_gate_matches_qiskit(name):
    make, count, k = QISKIT[name]
    for angles in angle_sets(count, seed=len(name)):
        g = ours(name, angles, range(k))
        np.testing.assert_allclose(g.matrix(C128).numpy(), qiskit_matrix(make(*angles), range(k), k),
                                   atol=TOL, rtol=0, err_msg=f"{name}{angles}")
        assert g.is_diagonal == (name in DIAGONAL)
        assert g.num_controls == NUM_CONTROLS.get(name, 0)


@pytest.mark.parametrize("k", range(1, 7))
def test_mcx_and_mcphase_match_qiskit(k):
    controls, target = list(range(k)), k
    np.testing.assert_allclose(gates.mcx(controls, target).matrix(C128).numpy(),
                               qiskit_matrix(qlib.MCXGate(k), controls + [target], k + 1), atol=TOL, rtol=0)
    for (lam,) in angle_sets(1, seed=k):
        g = gates.mcphase(lam, controls, target)
        assert g.is_diagonal and g.num_controls == k
        np.testing.assert_allclose(g.matrix(C128).numpy(),
                                   qiskit_matrix(qlib.MCPhaseGate(lam, k), controls + [target], k + 1),
                                   atol=TOL, rtol=0)
    assert gates.mcx(controls, target).num_controls == k and not gates.mcx(controls, target).is_diagonal


def test_matrix_gates_match_qiskit_with_explicit_endianness(rng):
    """unitary / controlled / diagonal take big-endian matrices; Qiskit's UnitaryGate reads its matrix
    little-endian (qargs[0] least significant), so it gets the qubits reversed."""
    from oracles import random_unitary

    u = random_unitary(2, rng)
    np.testing.assert_allclose(gates.unitary(u, [0, 1]).matrix(C128).numpy(),
                               qiskit_matrix(qlib.UnitaryGate(u), [1, 0], 2), atol=TOL, rtol=0)
    # controls first, then the targets reversed for the little-endian base gate
    cu = gates.controlled(u, [0, 1], [2, 3])
    np.testing.assert_allclose(cu.matrix(C128).numpy(),
                               qiskit_matrix(qlib.UnitaryGate(u).control(2), [0, 1, 3, 2], 4), atol=TOL, rtol=0)
    phases = np.exp(1j * rng.uniform(0, 2 * np.pi, size=8))
    np.testing.assert_allclose(gates.diagonal(phases, [0, 1, 2]).matrix(C128).numpy(),
                               qiskit_matrix(qlib.DiagonalGate(list(phases)), [2, 1, 0], 3), atol=TOL, rtol=0)


def _placed_cases():
    cases = [(name, count, k) for name, (_, count, k) in QISKIT.items() if k > 1]
    return cases + [("mcx", 0, 7), ("mcphase", 1, 7)]


@pytest.mark.parametrize("name,count,k", _placed_cases(), ids=[c[0] for c in _placed_cases()])
def test_gate_on_scattered_qubits_matches_qiskit_circuit(name, count, k):
    """The gate on shuffled qubits of a larger register, through the simulator (Circuit.to_matrix)."""
    n = k + 1
    rng = np.random.default_rng(k * 31 + count)
    qubits = [int(q) for q in rng.permutation(n)[:k]]
    angles = angle_sets(count, seed=k)[0]
    if name == "mcx":
        g, q = gates.mcx(qubits[:-1], qubits[-1]), qlib.MCXGate(k - 1)
    elif name == "mcphase":
        g, q = gates.mcphase(angles[0], qubits[:-1], qubits[-1]), qlib.MCPhaseGate(angles[0], k - 1)
    else:
        g, q = ours(name, angles, qubits), QISKIT[name][0](*angles)
    ours_matrix = tq.Circuit(n).append(g).to_matrix(C128).numpy()
    np.testing.assert_allclose(ours_matrix, qiskit_matrix(q, qubits, n), atol=TOL, rtol=0)


# ------------------------------------------------------------ inverses


def _all_cases():
    cases = []
    for name, (make, count, k) in QISKIT.items():
        for angles in (angle_sets(count, seed=7)[:1] if count else [()]):
            cases.append((name, angles, k, make(*angles)))
    for k in (1, 3, 5):
        cases.append(("mcx", None, k + 1, qlib.MCXGate(k)))
        cases.append(("mcphase", (0.83,), k + 1, qlib.MCPhaseGate(0.83, k)))
    return cases


@pytest.mark.parametrize("name,angles,k,qgate", _all_cases(), ids=[f"{c[0]}-{c[2]}" for c in _all_cases()])
def test_inverse_is_adjoint_and_matches_qiskit(name, angles, k, qgate):
    if name == "mcx":
        g = gates.mcx(list(range(k - 1)), k - 1)
    elif name == "mcphase":
        g = gates.mcphase(angles[0], list(range(k - 1)), k - 1)
    else:
        g = ours(name, angles, range(k))
    inv = g.inverse()
    assert inv.qubits == g.qubits and inv.num_controls == g.num_controls and inv.is_diagonal == g.is_diagonal
    m, mi = g.matrix(C128).numpy(), inv.matrix(C128).numpy()
    np.testing.assert_allclose(mi @ m, np.eye(1 << k), atol=TOL, rtol=0)
    np.testing.assert_allclose(mi, qiskit_matrix(qgate.inverse(), range(k), k), atol=TOL, rtol=0)
    np.testing.assert_allclose(inv.inverse().matrix(C128).numpy(), m, atol=TOL, rtol=0)


# ------------------------------------------------------------ batches and gradients


@pytest.mark.parametrize("name", [n for n in PARAMETRIZED if n in NEW_GATES] + ["mcphase"])
def test_batched_angles_match_qiskit_per_entry(name):
    make, count, k = QISKIT[name] if name != "mcphase" else (lambda lam: qlib.MCPhaseGate(lam, 2), 1, 3)
    rng = np.random.default_rng(99)
    values = rng.uniform(-np.pi, np.pi, size=(count, 4))
    # one angle a plain float, the others (4,) tensors: they broadcast
    angles = [torch.tensor(v) for v in values]
    if count > 1:
        angles[1] = float(values[1, 0])
        values[1] = values[1, 0]
    g = gates.mcphase(angles[0], [0, 1], 2) if name == "mcphase" else ours(name, angles, range(k))
    assert g.batch_shape == (4,)
    m = g.matrix(C128)
    assert m.shape == (4, 1 << k, 1 << k)
    for b in range(4):
        expected = qiskit_matrix(make(*(float(v) for v in values[:, b])), range(k), k)
        np.testing.assert_allclose(m[b].numpy(), expected, atol=TOL, rtol=0)


@pytest.mark.parametrize("name", ["cu", "xx_plus_yy", "u2", "mcphase"])
def test_gradient_of_gate_matrix_matches_finite_differences(name):
    count = {"cu": 4, "xx_plus_yy": 2, "u2": 2, "mcphase": 1}[name]
    rng = np.random.default_rng(5)
    base = rng.uniform(-np.pi, np.pi, size=count)

    def make(*angles):
        return gates.mcphase(angles[0], [0, 2], 1) if name == "mcphase" else ours(name, angles, range(QISKIT[name][2]))

    dim = make(*base).matrix(C128).shape[-1]
    weights = torch.tensor(rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim)))

    def loss(*angles):
        return (make(*angles).matrix(C128) * weights).sum().real

    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in base]
    loss(*params).backward()
    h = 1e-6
    for j in range(count):
        up, down = list(base), list(base)
        up[j] += h
        down[j] -= h
        fd = (loss(*up) - loss(*down)).item() / (2 * h)
        assert abs(params[j].grad.item() - fd) < 1e-7, (name, j, params[j].grad.item(), fd)


def test_gradient_through_a_simulated_new_gate():
    """d<Z_1>/d theta through cu3 on a state, against finite differences."""
    psi0 = tq.StateVector.from_array(np.array([1, 1, 1, 1j]) / 2, dtype=C128)

    def expectation(theta):
        return tq.Circuit(2).cu3(theta, 0.4, -0.9, 0, 1).run(psi0).expectation("Z1")

    theta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    expectation(theta).backward()
    h = 1e-6
    fd = (expectation(0.7 + h) - expectation(0.7 - h)).item() / (2 * h)
    assert abs(theta.grad.item() - fd) < 1e-8


# ------------------------------------------------------------ bad input

BAD = {
    "mcx-no-controls": (lambda: gates.mcx([], 1), ValueError, r"at least one control.*\(\)"),
    "mcx-target-is-control": (lambda: gates.mcx([0, 1, 2], 1), ValueError,
                              r"target 1 is also a control in \[0, 1, 2\]"),
    "mcx-repeated-control": (lambda: gates.mcx([0, 3, 0], 1), ValueError, r"\[0, 3, 0\] repeat a qubit"),
    "mcx-float-control": (lambda: gates.mcx([0, 1.5], 2), TypeError, r"ints, got 1.5"),
    "mcx-list-target": (lambda: gates.mcx([0, 1], [2]), TypeError, r"one int qubit, got \[2\]"),
    "mcx-bool-target": (lambda: gates.mcx([0, 1], True), TypeError, r"one int qubit, got True"),
    "mcx-negative-target": (lambda: gates.mcx([0, 1], -2), IndexError, r"qubit -2"),
    "mcphase-nan": (lambda: gates.mcphase(float("nan"), [0], 1), ValueError, r"mcphase lam must be finite, got nan"),
    "mcphase-no-controls": (lambda: gates.mcphase(0.1, [], 1), ValueError, r"at least one control"),
    "mcphase-target-is-control": (lambda: gates.mcphase(0.1, [2], 2), ValueError, r"target 2 is also a control"),
    "cu-inf-gamma": (lambda: gates.cu(0.1, 0.2, 0.3, float("inf"), 0, 1), ValueError,
                     r"cu gamma must be finite, got inf"),
    "u2-string": (lambda: gates.u2("a", 0.1, 0), TypeError, r"u2 phi must be a real number or tensor, got 'a'"),
    "u-complex": (lambda: gates.u(1 + 2j, 0.1, 0.2, 0), TypeError, r"u theta must be a real number"),
    "xx-plus-yy-complex-tensor": (lambda: gates.xx_plus_yy(torch.tensor(1j), 0.0, 0, 1), TypeError,
                                  r"xx_plus_yy theta must be real"),
    "rzx-2d-tensor": (lambda: gates.rzx(torch.zeros(2, 2), 0, 1), ValueError, r"rzx theta .* got shape \(2, 2\)"),
    "ch-control-is-target": (lambda: gates.ch(1, 1), ValueError, r"\[1, 1\] repeat a qubit"),
    "ecr-repeated": (lambda: gates.ecr(0, 0), ValueError, r"\[0, 0\] repeat a qubit"),
    "xx-minus-yy-repeated": (lambda: gates.xx_minus_yy(0.1, 0.2, 3, 3), ValueError, r"\[3, 3\] repeat"),
    "c3x-target-is-control": (lambda: gates.c3x(0, 1, 2, 2), ValueError, r"target 2 is also a control in \[0, 1, 2\]"),
    "c4x-repeated-control": (lambda: gates.c4x(0, 1, 1, 2, 3), ValueError, r"\[0, 1, 1, 2\] repeat"),
    "rc3x-repeated": (lambda: gates.rc3x(0, 1, 2, 0), ValueError, r"\[0, 1, 2, 0\] repeat"),
    "cp-float-qubit": (lambda: gates.cp(0.1, 0, 1.0), TypeError, r"ints, got 1.0"),
    "mcx-too-wide-for-matrix": (lambda: gates.mcx(list(range(12)), 12).matrix(), ValueError,
                                r"mcx acts on 13 qubits.*k <= 12"),
    "mcx-out-of-range-on-state": (lambda: tq.StateVector.zeros(3).apply(gates.mcx([0, 1], 3)), IndexError,
                                  r"mcx qubit 3 out of range for 3 qubits"),
    "mcphase-nan-tensor-on-state": (lambda: tq.StateVector.zeros(3).apply(
        gates.mcphase(torch.tensor(float("nan")), [0, 1], 2)), ValueError, r"finite, got nan"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_names_the_bad_value(case):
    call, error, pattern = BAD[case]
    with pytest.raises(error, match=pattern):
        call()


def test_existing_gates_unchanged_by_the_new_ones():
    """cx/ccx/cswap stay ordinary fixed gates (their fast paths), u3 and u share one matrix."""
    for g in (gates.cx(0, 1), gates.ccx(0, 1, 2), gates.cswap(0, 1, 2), gates.crx(0.3, 0, 1)):
        assert not g.is_controlled
    np.testing.assert_array_equal(gates.u(0.1, 0.2, 0.3, 0).matrix(C128).numpy(),
                                  gates.u3(0.1, 0.2, 0.3, 0).matrix(C128).numpy())
    assert math.isclose(gates.u1(0.4, 0).matrix(C128)[1, 1].imag, math.sin(0.4))
