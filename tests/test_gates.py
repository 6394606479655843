"""Gate matrices against qutip-qip (and exp(-i theta P / 2) for RXX/RYY/RZZ)."""

import numpy as np
import pytest
import torch

import tqsim as tq
from tqsim import gates

from oracles import qutip_gate, random_unitary

ANGLES = (0.37, -1.2, 2.9)
ONE_QUBIT_FIXED = ["i", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg"]
TWO_QUBIT_FIXED = ["cx", "cy", "cz", "swap", "iswap"]
ONE_PARAM_1Q = ["rx", "ry", "rz", "phase"]
ONE_PARAM_2Q = ["cphase", "crx", "cry", "crz", "rxx", "ryy", "rzz"]
DIAGONAL = {"z", "s", "sdg", "t", "tdg", "rz", "phase", "cz", "cphase", "crz", "rzz", "i"}


def make(name, params):
    factory = gates.BUILDERS[name]
    k = {"ccx": 3, "cswap": 3}.get(name, 2 if name in TWO_QUBIT_FIXED + ONE_PARAM_2Q else 1)
    return factory(*params, *range(k))


@pytest.mark.parametrize("name", ONE_QUBIT_FIXED + TWO_QUBIT_FIXED + ["ccx", "cswap"])
def test_fixed_gate_matrices(name, dtype, tol):
    g = make(name, ())
    np.testing.assert_allclose(g.matrix(dtype).numpy(), qutip_gate(name, ()), atol=tol)
    assert g.is_diagonal == (name in DIAGONAL)


@pytest.mark.parametrize("name", ONE_PARAM_1Q + ONE_PARAM_2Q)
@pytest.mark.parametrize("angle", ANGLES)
def test_parametrized_gate_matrices(name, angle, dtype, tol):
    g = make(name, (angle,))
    np.testing.assert_allclose(g.matrix(dtype).numpy(), qutip_gate(name, (angle,)), atol=tol)
    assert g.is_diagonal == (name in DIAGONAL)


def test_u3_matches_openqasm_definition(dtype, tol):
    params = (0.3, -0.8, 1.9)
    g = gates.u3(*params, 0)
    np.testing.assert_allclose(g.matrix(dtype).numpy(), qutip_gate("u3", params), atol=tol)


@pytest.mark.parametrize("name", ONE_PARAM_1Q + ONE_PARAM_2Q)
def test_batched_angles_stack_matrices(name):
    angles = torch.tensor([0.1, -0.7, 2.0], dtype=torch.float64)
    g = make(name, (angles,))
    assert g.batch_shape == (3,)
    m = g.matrix(torch.complex128)
    assert m.shape[0] == 3
    for b, a in enumerate(angles.tolist()):
        np.testing.assert_allclose(m[b].numpy(), qutip_gate(name, (a,)), atol=1e-12)


@pytest.mark.parametrize(
    "name,params",
    [(n, ()) for n in ONE_QUBIT_FIXED + TWO_QUBIT_FIXED + ["ccx", "cswap"]]
    + [(n, (0.61,)) for n in ONE_PARAM_1Q + ONE_PARAM_2Q]
    + [("u3", (0.3, 0.5, -1.1))],
)
def test_inverse_is_adjoint(name, params):
    g = make(name, params) if name != "u3" else gates.u3(*params, 0)
    inv = g.inverse()
    assert inv.qubits == g.qubits
    product = inv.matrix(torch.complex128) @ g.matrix(torch.complex128)
    np.testing.assert_allclose(product.numpy(), np.eye(product.shape[-1]), atol=1e-12)


def test_unitary_and_controlled(rng):
    u = random_unitary(2, rng)
    g = gates.unitary(u, [2, 0])
    assert g.qubits == (2, 0)
    np.testing.assert_allclose(g.matrix(torch.complex128).numpy(), u, atol=1e-14)
    np.testing.assert_allclose(g.inverse().matrix(torch.complex128).numpy(), u.conj().T, atol=1e-14)
    v = random_unitary(1, rng)
    c = gates.controlled(v, controls=[0, 1], targets=[2])
    expected = np.eye(8, dtype=complex)
    expected[6:, 6:] = v
    np.testing.assert_allclose(c.matrix(torch.complex128).numpy(), expected, atol=1e-14)
    # a controlled X on one control equals CNOT from qutip-qip
    cx = gates.controlled([[0, 1], [1, 0]], 0, 1)
    np.testing.assert_allclose(cx.matrix(torch.complex128).numpy(), qutip_gate("cx", ()), atol=1e-14)


def test_gradient_through_gate_matrix():
    theta = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    m = gates.ry(theta, 0).matrix(torch.complex128)
    m[1, 0].real.backward()  # d sin(theta/2) / d theta
    assert abs(theta.grad.item() - 0.5 * np.cos(0.2)) < 1e-12


def test_circuit_builders_mirror_gates():
    c = tq.Circuit(3)
    for name in gates.BUILDERS:
        assert hasattr(c, name), name
    c.rx(0.2, 1).cx(0, 2)
    assert [op.name for op in c] == ["rx", "cx"]
    assert c[1].qubits == (0, 2)


def test_diagonal_gate_on_scattered_and_all_qubits(rng):
    from oracles import embed, random_state

    n = 5
    phases = np.exp(1j * rng.uniform(0, 2 * np.pi, size=4))
    psi0 = random_state(n, rng)
    out = tq.Circuit(n).diagonal(phases, [3, 1]).run(tq.StateVector.from_array(psi0)).amplitudes().numpy()
    np.testing.assert_allclose(out, embed(np.diag(phases), [3, 1], n) @ psi0, atol=1e-12)
    full = np.exp(1j * rng.uniform(0, 2 * np.pi, size=2**n))
    out = tq.Circuit(n).diagonal(full, range(n)).run(tq.StateVector.from_array(psi0)).amplitudes().numpy()
    np.testing.assert_allclose(out, full * psi0, atol=1e-12)
    g = gates.diagonal(phases, [0, 2])
    np.testing.assert_allclose((g.inverse().matrix(torch.complex128) @ g.matrix(torch.complex128)).numpy(), np.eye(4), atol=1e-12)
    with pytest.raises(ValueError, match="not unitary"):
        gates.diagonal([1.0, 0.5], [0])
    with pytest.raises(ValueError, match=r"needs shape \(4,\)"):
        gates.diagonal([1.0, 1.0], [0, 1])
