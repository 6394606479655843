"""Circuits against Kronecker-product oracles and qutip-qip."""

import numpy as np
import pytest
import qutip
import torch
from qutip_qip.circuit import QubitCircuit

import tqsim as tq

from circuits import oracle_state, oracle_unitary, random_circuit
from oracles import random_state


@pytest.mark.parametrize("n", range(1, 11))
def test_random_circuits_match_kronecker_oracle(n, dtype, tol):
    rng = np.random.default_rng(100 + n)
    circuit, oracle = random_circuit(n, 40, rng)
    psi0 = random_state(n, rng)
    state = circuit.run(tq.StateVector.from_array(psi0, dtype=dtype))
    expected = oracle_state(n, oracle, psi0)
    np.testing.assert_allclose(state.amplitudes().numpy(), expected, atol=tol * 10)


QUTIP_NAMES = {"rx": "RX", "ry": "RY", "rz": "RZ", "h": "SNOT", "x": "X", "y": "Y", "z": "Z",
               "s": "S", "t": "T", "sx": "SQRTNOT", "cx": "CNOT", "cz": "CSIGN", "swap": "SWAP",
               "iswap": "ISWAP", "cphase": "CPHASE", "crx": "CRX", "ccx": "TOFFOLI", "cswap": "FREDKIN"}


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_random_circuits_match_qutip_qip_run(n, dtype, tol):
    rng = np.random.default_rng(7 + n)
    circuit, _ = random_circuit(n, 30, rng, names=list(QUTIP_NAMES))
    qc = QubitCircuit(n)
    for op in circuit:
        name = QUTIP_NAMES[op.name]
        arg = float(op.params[0]) if op.params else None
        if op.name in ("cx", "cz", "cphase", "crx"):
            qc.add_gate(name, controls=[op.qubits[0]], targets=[op.qubits[1]], arg_value=arg)
        elif op.name == "ccx":
            qc.add_gate(name, controls=list(op.qubits[:2]), targets=[op.qubits[2]])
        elif op.name == "cswap":
            qc.add_gate(name, controls=[op.qubits[0]], targets=list(op.qubits[1:]))
        else:
            qc.add_gate(name, targets=list(op.qubits), arg_value=arg)
    expected = qc.run(qutip.basis([2] * n, [0] * n)).full().ravel()
    got = circuit.run(tq.StateVector.zeros(n, dtype=dtype)).amplitudes().numpy()
    np.testing.assert_allclose(got, expected, atol=tol * 10)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_to_matrix_matches_oracle_unitary(n, dtype, tol):
    rng = np.random.default_rng(n)
    circuit, oracle = random_circuit(n, 25, rng)
    np.testing.assert_allclose(circuit.to_matrix(dtype).numpy(), oracle_unitary(n, oracle), atol=tol * 10)


def test_inverse_undoes_the_circuit(rng):
    circuit, _ = random_circuit(5, 40, rng)
    psi0 = random_state(5, rng)
    state = circuit.compose(circuit.inverse()).run(tq.StateVector.from_array(psi0, dtype=torch.complex128))
    np.testing.assert_allclose(state.amplitudes().numpy(), psi0, atol=1e-12)


def test_batched_parameters_equal_separate_runs():
    thetas = torch.tensor([0.1, 0.9, -2.3], dtype=torch.float64)
    c = tq.Circuit(3).h(0).ry(thetas, 1).cx(1, 2).rzz(thetas * 2, 0, 2).rx(0.4, 2)
    batched = c.run(tq.StateVector.zeros(3, dtype=torch.complex128)).amplitudes()
    assert batched.shape == (3, 8)
    for b, t in enumerate(thetas.tolist()):
        single = tq.Circuit(3).h(0).ry(t, 1).cx(1, 2).rzz(2 * t, 0, 2).rx(0.4, 2)
        np.testing.assert_allclose(batched[b].numpy(), single.run(tq.StateVector.zeros(3, dtype=torch.complex128)).amplitudes().numpy(), atol=1e-12)


def test_batched_states_through_a_circuit(rng):
    psis = np.array([random_state(4, rng) for _ in range(5)])
    circuit, oracle = random_circuit(4, 20, rng)
    out = circuit.run(tq.StateVector.from_array(psis)).amplitudes().numpy()
    for b in range(5):
        np.testing.assert_allclose(out[b], oracle_state(4, oracle, psis[b]), atol=1e-10)


def test_run_leaves_the_input_state_alone(rng):
    psi0 = random_state(4, rng)
    start = tq.StateVector.from_array(psi0)
    before = start.amplitudes().clone()  # from_array stores psi0 at norm 1 exactly
    circuit, _ = random_circuit(4, 30, rng)
    circuit.run(start)
    np.testing.assert_array_equal(start.amplitudes().numpy(), before.numpy())


def test_depth_counts_layers():
    c = tq.Circuit(3).h(0).h(1).cx(0, 1).x(2)
    assert c.depth() == 2
    c.ccx(0, 1, 2)
    assert c.depth() == 3
    assert tq.Circuit(2).depth() == 0


def test_parameters_are_the_distinct_grad_tensors():
    a = torch.tensor(0.1, requires_grad=True)
    b = torch.tensor([0.2, 0.3], requires_grad=True)
    c = tq.Circuit(2).rx(a, 0).ry(0.5, 1).rz(a, 1).rzz(b, 0, 1).ry(torch.tensor(0.3), 0)
    params = c.parameters()
    assert len(params) == 2 and params[0] is a and params[1] is b


def test_draw_shows_every_gate_on_its_wire():
    c = tq.Circuit(3).h(0).cx(0, 2).ry(0.25, 1).swap(1, 2)
    lines = c.draw().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("q0:") and "H" in lines[0] and "●" in lines[0]
    assert "RY(0.25)" in lines[1] and "┼" in lines[1]
    assert "X" in lines[2] and lines[2].count("×") == 1 and lines[1].count("×") == 1
    assert str(c) == c.draw()


def test_iteration_and_len():
    c = tq.Circuit(2).h(0).cx(0, 1)
    assert len(c) == 2 and [g.name for g in c] == ["h", "cx"]
