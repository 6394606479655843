"""The faster training paths against oracles nobody here wrote: small kets evolved in NumPy
(tqsim.states.small_kets), blocks composed in NumPy (tqsim.composed_blocks), real kets evolved in real
arithmetic, and batched block products. Values against QuTiP gate matrices applied with NumPy, gradients
against central finite differences of that simulation, gradients of the initial amplitudes against
2 U^H H U psi_0 from Kronecker products."""

import numpy as np
import pytest
import torch

import tqsim as tq
from tqsim.states import StateVector

from oracles import embed, qutip_gate

#: name -> (qubits, angles)
GATES = {"rx": (1, 1), "ry": (1, 1), "rz": (1, 1), "u3": (1, 3), "crx": (2, 1), "cry": (2, 1), "cphase": (2, 1),
         "rzz": (2, 1), "rxx": (2, 1), "h": (1, 0), "t": (1, 0), "cx": (2, 0), "cz": (2, 0), "swap": (2, 0),
         "ccx": (3, 0)}
REAL = ["ry", "cry", "h", "cx", "cz", "swap", "ccx"]  # gates with real matrices


def random_spec(n: int, count: int, seed: int, names=tuple(GATES)):
    """``[(name, qubits, number of angles)]``: a rotation layer, then random gates on random (long-range,
    reversed) qubits."""
    rng = np.random.default_rng(seed)
    spec = [("ry", (q,), 1) for q in range(n)]
    for _ in range(count):
        name = names[rng.integers(len(names))]
        arity, angles = GATES[name]
        spec.append((name, tuple(int(q) for q in rng.choice(n, size=arity, replace=False)), angles))
    return spec


def num_angles(spec) -> int:
    return sum(count for _, _, count in spec)


def tq_circuit(n, spec, theta) -> tq.Circuit:
    c, j = tq.Circuit(n), 0
    for name, qubits, count in spec:
        getattr(c, name)(*[theta[j + a] for a in range(count)], *qubits)
        j += count
    return c


def numpy_state(n, spec, theta, psi0) -> np.ndarray:
    """QuTiP's gate matrices applied one by one with NumPy tensor contractions."""
    psi, j = psi0.reshape((2,) * n), 0
    for name, qubits, count in spec:
        matrix = qutip_gate(name, tuple(float(a) for a in theta[j:j + count]))
        j += count
        k = len(qubits)
        moved = np.tensordot(matrix.reshape((2,) * (2 * k)), psi, axes=(list(range(k, 2 * k)), list(qubits)))
        psi = np.moveaxis(moved, list(range(k)), list(qubits))
    return psi.reshape(-1)


def zero_state(n) -> np.ndarray:
    psi = np.zeros(2**n, dtype=complex)
    psi[0] = 1
    return psi


def weights(n) -> np.ndarray:
    return np.cos(np.arange(2**n) * 0.37)  # a diagonal observable


def loss_of(state) -> torch.Tensor:
    n = state.num_qubits
    w = torch.from_numpy(weights(n)).to(state.probabilities().dtype)
    return (state.probabilities() * w).sum()


# (label, qubits, gates, gradient method, node the evolution must end in)
PATHS = [
    ("small ket in NumPy", 6, tuple(GATES), "auto", "_SmallKetEvolution"),
    ("small ket in NumPy, 12 qubits", 12, tuple(GATES), "auto", "_SmallKetEvolution"),
    ("blocks composed in NumPy", 7, tuple(GATES), "autograd", None),
    ("blocks, batched products", 12, tuple(GATES), "autograd", None),
    ("blocks, a real ket", 13, tuple(REAL), "auto", None),
    ("adjoint, blocks composed in NumPy", 7, tuple(GATES), "adjoint", "_AdjointEvolution"),
    ("adjoint, a real ket", 13, tuple(REAL), "adjoint", None),
]


@pytest.mark.parametrize("label, n, names, method, node", PATHS, ids=[p[0] for p in PATHS])
def test_gradients_match_finite_differences_of_a_numpy_simulation(label, n, names, method, node, monkeypatch):
    spec = random_spec(n, 36, seed=n, names=names)
    theta0 = np.random.default_rng(n + 1).uniform(-np.pi, np.pi, num_angles(spec))
    theta = torch.tensor(theta0, requires_grad=True)
    decided = []
    stays_real = StateVector._stays_real
    monkeypatch.setattr(StateVector, "_stays_real", lambda self, *a: decided.append(stays_real(self, *a)) or decided[-1])
    with tq.set_gradient_method(method):
        state = tq_circuit(n, spec, theta).run(StateVector.zeros(n, dtype=torch.complex128))
        value = loss_of(state)
        value.backward()
    if node is not None:
        assert state.amplitudes().grad_fn.name().startswith(node)
    assert decided == ([True] if "real" in label else [] if "small" in label else [False])

    def numpy_loss(angles):
        return float(weights(n) @ np.abs(numpy_state(n, spec, angles, zero_state(n))) ** 2)

    assert abs(value.item() - numpy_loss(theta0)) < 1e-10
    h = 1e-6
    fd = np.array([(numpy_loss(theta0 + h * e) - numpy_loss(theta0 - h * e)) / (2 * h) for e in np.eye(len(theta0))])
    np.testing.assert_allclose(theta.grad.numpy(), fd, atol=1e-7)
    assert np.abs(fd).max() > 0.05  # the check has something to check


@pytest.mark.parametrize("method", ["auto", "autograd"])
def test_gradient_of_the_initial_amplitudes_is_the_kronecker_oracle(method, dtype, tol):
    n = 5
    spec = random_spec(n, 20, seed=11)
    theta0 = np.random.default_rng(12).uniform(-np.pi, np.pi, num_angles(spec))
    amps = StateVector.random(n, torch.Generator().manual_seed(13), dtype=dtype).amplitudes().clone()
    leaf = amps.requires_grad_()
    with tq.set_gradient_method(method):
        state = tq_circuit(n, spec, torch.tensor(theta0)).run(StateVector(leaf, n))
        loss_of(state).backward()
    unitary, j = np.eye(2**n), 0
    for name, qubits, count in spec:
        unitary = embed(qutip_gate(name, tuple(theta0[j:j + count])), list(qubits), n) @ unitary
        j += count
    psi0 = amps.detach().to(torch.complex128).numpy()
    expected = 2 * unitary.conj().T @ (weights(n) * (unitary @ psi0))  # dL/d(conj psi0), doubled
    np.testing.assert_allclose(leaf.grad.to(torch.complex128).numpy(), expected, atol=50 * tol)


@pytest.mark.parametrize("method", ["auto", "autograd"])
def test_second_derivatives_match_finite_differences(method):
    n = 4
    spec = [("ry", (0,), 1), ("cx", (0, 1), 0), ("rx", (1,), 1), ("rzz", (3, 0), 1), ("u3", (2,), 3),
            ("cry", (2, 0), 1), ("cphase", (1, 3), 1)]
    theta0 = np.array([0.3, -0.7, 1.1, 0.4, -0.2, 0.9, 0.5, -1.3])

    def loss(theta):
        with tq.set_gradient_method(method):
            return loss_of(tq_circuit(n, spec, theta).run(StateVector.zeros(n, dtype=torch.complex128)))

    hessian = torch.autograd.functional.hessian(loss, torch.tensor(theta0)).numpy()

    def numpy_loss(angles):
        return float(weights(n) @ np.abs(numpy_state(n, spec, angles, zero_state(n))) ** 2)

    h, eye = 1e-4, np.eye(len(theta0))
    fd = np.array([[(numpy_loss(theta0 + h * a + h * b) - numpy_loss(theta0 + h * a - h * b)
                     - numpy_loss(theta0 - h * a + h * b) + numpy_loss(theta0 - h * a - h * b)) / (4 * h * h)
                    for b in eye] for a in eye])
    np.testing.assert_allclose(hessian, fd, atol=1e-6)
    assert np.abs(fd).max() > 0.1


@pytest.mark.parametrize("n, method", [(6, "auto"), (12, "autograd")])
def test_same_bits_run_to_run(n, method):
    spec = random_spec(n, 30, seed=21)
    theta0 = np.random.default_rng(22).uniform(-np.pi, np.pi, num_angles(spec))
    found = []
    for _ in range(2):
        theta = torch.tensor(theta0, dtype=torch.float32, requires_grad=True)
        with tq.set_gradient_method(method):
            loss_of(tq_circuit(n, spec, theta).run(StateVector.zeros(n, dtype=torch.complex64))).backward()
        found.append(theta.grad)
    assert torch.equal(found[0], found[1])


@pytest.mark.parametrize("start", ["zeros", "complex"])
def test_real_circuits_on_real_and_complex_kets_match_qutip(start, dtype, tol):
    n = 13
    spec = random_spec(n, 60, seed=31, names=tuple(REAL))
    theta0 = np.random.default_rng(32).uniform(-np.pi, np.pi, num_angles(spec))
    initial = (StateVector.zeros(n, dtype=dtype) if start == "zeros"
               else StateVector.random(n, torch.Generator().manual_seed(33), dtype=dtype))
    gates = list(tq_circuit(n, spec, theta0).operations)
    assert initial._stays_real(initial.amplitudes(), gates) == (start == "zeros")
    got = tq_circuit(n, spec, theta0).run(initial).amplitudes()
    assert got.dtype == dtype
    expected = numpy_state(n, spec, theta0, initial.amplitudes().to(torch.complex128).numpy())
    np.testing.assert_allclose(got.to(torch.complex128).numpy(), expected, atol=10 * tol)


def test_only_real_gates_and_real_kets_take_the_real_path():
    n = 13
    zeros = StateVector.zeros(n)
    real_gates = list(tq.Circuit(n).ry(0.3, 0).cx(0, 1).h(2).cz(2, 3).operations)
    assert zeros._stays_real(zeros.amplitudes(), real_gates)
    assert not zeros._stays_real(zeros.amplitudes(), real_gates + list(tq.Circuit(n).rx(0.3, 4).operations))
    phased = StateVector.from_array(zeros.amplitudes() * 1j)
    assert not phased._stays_real(phased.amplitudes(), real_gates)
    small = StateVector.zeros(4)
    assert not small._stays_real(small.amplitudes(), list(tq.Circuit(4).ry(0.3, 0).operations))
