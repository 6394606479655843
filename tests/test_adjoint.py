"""Gradients by the adjoint method: against finite differences of a NumPy (QuTiP-gate) simulation,
and equal to autograd's for every loss, batch and gate kind; second derivatives; the method choice."""

import numpy as np
import pytest
import torch

import tqsim as tq
from tqsim.states import adjoint

from oracles import embed, qutip_gate

N = 8
OBS = "0.7 X0 Z3 + 0.4 Y1 Y6 - 0.9 Z2 Z7 + 0.3 X5 + 0.2 Z0 Z1 Z2"
PAULI = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]),
         "Z": np.diag([1, -1])}
#: name -> (qubits, angles)
GATES = {"rx": (1, 1), "ry": (1, 1), "rz": (1, 1), "phase": (1, 1), "u3": (1, 3), "crx": (2, 1), "cry": (2, 1),
         "cphase": (2, 1), "rzz": (2, 1), "ryy": (2, 1), "rxx": (2, 1), "h": (1, 0), "cx": (2, 0), "cz": (2, 0),
         "swap": (2, 0), "ccx": (3, 0), "t": (1, 0)}


def circuit_spec(seed: int, count: int = 40):
    """``[(name, qubits, number of angles), ...]``: random gates, long-range pairs, a 7-qubit controlled phase."""
    rng = np.random.default_rng(seed)
    spec = [("ry", (q,), 1) for q in range(N)]
    names = list(GATES)
    for _ in range(count):
        name = names[rng.integers(len(names))]
        arity, angles = GATES[name]
        spec.append((name, tuple(int(q) for q in rng.choice(N, size=arity, replace=False)), angles))
    spec += [("cx", (0, 7), 0), ("rzz", (1, 6), 1), ("mcphase", (0, 1, 2, 3, 4, 5, 7), 1), ("rx", (3,), 1)]
    return spec


def num_angles(spec) -> int:
    return sum(count for _, _, count in spec)


def tq_circuit(spec, theta) -> tq.Circuit:
    c, j = tq.Circuit(N), 0
    for name, qubits, count in spec:
        angles = [theta[..., j + a] for a in range(count)]
        j += count
        if name == "mcphase":
            c.mcphase(angles[0], list(qubits[:-1]), qubits[-1])
        else:
            getattr(c, name)(*angles, *qubits)
    return c


def numpy_state(spec, theta: np.ndarray) -> np.ndarray:
    psi = np.zeros(2**N, dtype=complex)
    psi[0] = 1
    j = 0
    for name, qubits, count in spec:
        angles = tuple(float(a) for a in theta[j:j + count])
        j += count
        if name == "mcphase":
            matrix = np.diag([1] * (2 ** len(qubits) - 1) + [np.exp(1j * angles[0])])
        else:
            matrix = qutip_gate(name, angles)
        psi = embed(matrix, list(qubits), N) @ psi
    return psi


def numpy_observable() -> np.ndarray:
    total = np.zeros((2**N, 2**N), dtype=complex)
    for term in OBS.replace("- ", "+ -").split("+"):
        coefficient, *factors = term.split()
        letters = ["I"] * N
        for f in factors:
            letters[int(f[1:])] = f[0]
        matrix = np.array([[1.0]])
        for letter in letters:
            matrix = np.kron(matrix, PAULI[letter])
        total += float(coefficient) * matrix
    return total


def gradient(spec, theta0, loss, method: str, dtype=torch.complex128, initial=None):
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    with tq.set_gradient_method(method):
        state = tq_circuit(spec, theta).run(initial if initial is not None else tq.StateVector.zeros(N, dtype=dtype))
        value = loss(state)
        value.sum().backward()
    return value.detach(), theta.grad, state


def expectation(state):
    return state.expectation(OBS)


def test_adjoint_gradient_matches_finite_differences_of_a_numpy_simulation():
    spec = circuit_spec(0)
    rng = np.random.default_rng(1)
    theta0 = rng.uniform(-np.pi, np.pi, num_angles(spec))
    H = numpy_observable()

    def numpy_loss(theta):
        psi = numpy_state(spec, theta)
        return float(np.real(psi.conj() @ H @ psi))

    value, grad, state = gradient(spec, theta0, expectation, "adjoint")
    assert state.amplitudes().grad_fn.name().startswith("_AdjointEvolution")
    assert abs(float(value) - numpy_loss(theta0)) < 1e-10
    h = 1e-6
    fd = np.array([(numpy_loss(theta0 + h * e) - numpy_loss(theta0 - h * e)) / (2 * h) for e in np.eye(len(theta0))])
    np.testing.assert_allclose(grad.numpy(), fd, atol=1e-7)


def fidelity_loss(target):
    return lambda state: state.inner(target).abs().square()


@pytest.mark.parametrize("which", ["expectation", "fidelity", "entropy", "probabilities"])
def test_adjoint_and_autograd_agree_for_any_loss_of_the_final_state(which, dtype, tol):
    spec = circuit_spec(2)
    theta0 = np.random.default_rng(3).uniform(-np.pi, np.pi, num_angles(spec))
    target = tq.StateVector.random(N, torch.Generator().manual_seed(4), dtype=dtype)
    weights = torch.linspace(-1, 1, 2**N, dtype=torch.float64)
    loss = {
        "expectation": expectation,
        "fidelity": fidelity_loss(target),
        "entropy": lambda s: tq.entropy(s, [0, 1, 5]),
        "probabilities": lambda s: (s.probabilities() * weights.to(s.probabilities().dtype)).sum(),
    }[which]
    initial = tq.StateVector.zeros(N, dtype=dtype)
    value_a, grad_a, _ = gradient(spec, theta0, loss, "adjoint", dtype, initial)
    value_b, grad_b, _ = gradient(spec, theta0, loss, "autograd", dtype, initial)
    assert torch.allclose(value_a, value_b, atol=tol)
    scale = max(1.0, float(grad_b.abs().max()))
    np.testing.assert_allclose(grad_a.numpy(), grad_b.numpy(), atol=10 * tol * scale)


def test_gradient_reaches_the_initial_amplitudes():
    spec = circuit_spec(5, count=20)
    theta0 = np.random.default_rng(6).uniform(-np.pi, np.pi, num_angles(spec))
    amps = tq.StateVector.random(N, torch.Generator().manual_seed(7), dtype=torch.complex128).amplitudes()
    grads = {}
    for method in ("adjoint", "autograd"):
        leaf = amps.clone().requires_grad_()
        theta = torch.tensor(theta0, requires_grad=True)
        with tq.set_gradient_method(method):
            expectation(tq_circuit(spec, theta).run(tq.StateVector(leaf, N))).backward()
        grads[method] = (leaf.grad, theta.grad)
    for a, b in zip(grads["adjoint"], grads["autograd"]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-10)


@pytest.mark.parametrize("batched", ["angles", "states", "both"])
def test_batches_of_angles_and_of_states(batched):
    spec = circuit_spec(8, count=25)
    rng = np.random.default_rng(9)
    theta0 = rng.uniform(-np.pi, np.pi, (3, num_angles(spec)) if batched != "states" else num_angles(spec))
    amps = tq.StateVector.random(N, torch.Generator().manual_seed(10), dtype=torch.complex128,
                                 batch=3 if batched != "angles" else None).amplitudes()
    found = {}
    for method in ("adjoint", "autograd"):
        theta = torch.tensor(theta0, requires_grad=True)
        leaf = amps.clone().requires_grad_()
        with tq.set_gradient_method(method):
            state = tq_circuit(spec, theta).run(tq.StateVector(leaf, N))
            assert state.batch_shape == (3,)
            (expectation(state) * torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)).sum().backward()
        found[method] = (theta.grad, leaf.grad)
    for a, b in zip(found["adjoint"], found["autograd"]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-10)


def test_second_derivatives_replay_the_evolution():
    spec = [("ry", (0,), 1), ("cx", (0, 1), 0), ("rx", (1,), 1), ("rzz", (0, 2), 1), ("u3", (2,), 3),
            ("cry", (2, 0), 1)]
    theta0 = torch.tensor([0.3, -0.7, 1.1, 0.4, -0.2, 0.9, 0.5], dtype=torch.float64)

    def loss(theta):
        c, j = tq.Circuit(3), 0
        for name, qubits, count in spec:
            getattr(c, name)(*[theta[j + a] for a in range(count)], *qubits)
            j += count
        return c.run(tq.StateVector.zeros(3, dtype=torch.complex128)).expectation("X0 Z1 + 0.5 Y2")

    hessians = {}
    for method in ("adjoint", "autograd"):
        with tq.set_gradient_method(method):
            hessians[method] = torch.autograd.functional.hessian(loss, theta0)
    np.testing.assert_allclose(hessians["adjoint"].numpy(), hessians["autograd"].numpy(), atol=1e-10)
    assert float(hessians["adjoint"].abs().max()) > 0.1


def test_qaoa_cost_layer_is_a_diagonal_on_every_qubit():
    from tqsim.maxcut import MaxCutProblem, make_ansatz

    problem = MaxCutProblem.random_regular(10, 3, seed=1)
    found = {}
    for method in ("adjoint", "autograd"):
        model = make_ansatz("qaoa", problem, depth=2, dtype=torch.complex128)
        with tq.set_gradient_method(method):
            loss, _ = model.loss(model())
            loss.backward()
        found[method] = torch.cat([model.gamma.grad, model.beta.grad])
    np.testing.assert_allclose(found["adjoint"].numpy(), found["autograd"].numpy(), atol=1e-10)
    assert float(found["adjoint"].abs().max()) > 1e-3


def test_the_same_seed_gives_the_same_gradient_bits():
    spec = circuit_spec(11)
    theta0 = np.random.default_rng(12).uniform(-np.pi, np.pi, num_angles(spec))
    first = gradient(spec, theta0, expectation, "adjoint", torch.complex64)[1]
    second = gradient(spec, theta0, expectation, "adjoint", torch.complex64)[1]
    assert torch.equal(first, second)


def test_auto_uses_the_adjoint_method_from_the_size_threshold(monkeypatch):
    theta = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    c = tq.Circuit(3).ry(theta, 0).cx(0, 1).rx(theta, 2)
    assert tq.gradient_method() == "auto"
    adjoint_used = lambda state: c.run(state).amplitudes().grad_fn.name().startswith("_AdjointEvolution")
    single = tq.StateVector.zeros(3)  # 8 amplitudes
    pair = tq.StateVector(torch.eye(8, dtype=torch.complex64)[:2], 3)  # a batch of two: 16 amplitudes
    monkeypatch.setattr(adjoint, "ADJOINT_AMPLITUDES", 16)
    assert adjoint_used(pair) and not adjoint_used(single)
    monkeypatch.setattr(adjoint, "ADJOINT_AMPLITUDES", 17)
    assert not adjoint_used(pair)
    batched_gate = tq.Circuit(3).ry(torch.tensor([0.1, 0.2], requires_grad=True), 0)  # a batch from the gate
    assert batched_gate.run(single).amplitudes().grad_fn.name().startswith("_AdjointEvolution") is False
    monkeypatch.setattr(adjoint, "ADJOINT_AMPLITUDES", 16)
    assert batched_gate.run(single).amplitudes().grad_fn.name().startswith("_AdjointEvolution")
    with tq.set_gradient_method("adjoint"):
        assert c.run(tq.StateVector.zeros(3)).amplitudes().grad_fn.name().startswith("_AdjointEvolution")
        with torch.no_grad():
            assert c.run(tq.StateVector.zeros(3)).amplitudes().grad_fn is None
    # mixed states and circuits with channels keep autograd
    with tq.set_gradient_method("adjoint"):
        rho = c.run(tq.DensityMatrix.zeros(3))
        assert not rho._data.grad_fn.name().startswith("_AdjointEvolution")


def test_set_gradient_method_checks_its_argument_and_restores_the_previous_method():
    with pytest.raises(ValueError, match="'auto', 'adjoint', 'autograd'.*'fast'"):
        tq.set_gradient_method("fast")
    with pytest.raises(ValueError, match="got True"):
        tq.set_gradient_method(True)
    with tq.set_gradient_method("autograd"):
        assert tq.gradient_method() == "autograd"
        with tq.set_gradient_method("adjoint"):
            assert tq.gradient_method() == "adjoint"
        assert tq.gradient_method() == "autograd"
    assert tq.gradient_method() == "auto"
    tq.set_gradient_method("adjoint")
    try:
        assert tq.gradient_method() == "adjoint"
    finally:
        tq.set_gradient_method("auto")


@pytest.mark.parametrize("chunk", [8, 64, 1 << 18])
def test_the_in_place_backward_sweep_in_chunks_of_any_size(chunk, monkeypatch):
    monkeypatch.setattr(adjoint, "_CHUNK", chunk)
    spec = circuit_spec(13)
    theta0 = np.random.default_rng(14).uniform(-np.pi, np.pi, num_angles(spec))
    _, grad_a, _ = gradient(spec, theta0, expectation, "adjoint")
    _, grad_b, _ = gradient(spec, theta0, expectation, "autograd")
    np.testing.assert_allclose(grad_a.numpy(), grad_b.numpy(), atol=1e-10)


@pytest.mark.gpu
def test_adjoint_and_autograd_agree_on_a_gpu():
    spec = circuit_spec(15)
    theta0 = np.random.default_rng(16).uniform(-np.pi, np.pi, num_angles(spec))
    found = {}
    for method in ("adjoint", "autograd"):
        theta = torch.tensor(theta0, requires_grad=True, device="cuda")
        with tq.set_gradient_method(method):
            state = tq_circuit(spec, theta).run(tq.StateVector.zeros(N, dtype=torch.complex128, device="cuda"))
            expectation(state).backward()
        found[method] = theta.grad.cpu()
    np.testing.assert_allclose(found["adjoint"].numpy(), found["autograd"].numpy(), atol=1e-10)
