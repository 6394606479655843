"""Autograd through every parametrized gate and expectation, against finite differences."""

import numpy as np
import pytest
import torch

import tqsim as tq

PARAMETRIZED = {
    "rx": 1, "ry": 1, "rz": 1, "phase": 1, "u3": 3, "cphase": 2, "crx": 2, "cry": 2,
    "crz": 2, "rxx": 2, "ryy": 2, "rzz": 2,
}
OBS = "0.7 X0 + 0.4 Y1 Z2 - 0.9 Z0 Z1 + 0.3 X1 X2 + 0.2 Y0"


def loss(name, params, kind):
    n = 3
    c = tq.Circuit(n).h(0).ry(0.3, 1).rx(-0.6, 2).cx(0, 2)
    qubits = [0, 1] if PARAMETRIZED[name] == 2 else [1]
    if name == "u3":
        getattr(c, name)(*params, 1)
    else:
        getattr(c, name)(params[0], *qubits)
    c.cx(1, 2).h(2).rz(0.4, 1)
    state = tq.StateVector.zeros(n, dtype=torch.complex128) if kind == "ket" else tq.DensityMatrix.zeros(n, dtype=torch.complex128)
    if kind == "density":
        c.depolarizing(0.05, 1)
    return c.run(state).expectation(OBS)


@pytest.mark.parametrize("kind", ["ket", "density"])
@pytest.mark.parametrize("name", list(PARAMETRIZED))
def test_gradient_matches_central_differences(name, kind):
    count = 3 if name == "u3" else 1
    values = [0.37, -1.1, 0.8][:count]
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    loss(name, params, kind).backward()
    h = 1e-6
    for j in range(count):
        plus = [torch.tensor(v + (h if i == j else 0), dtype=torch.float64) for i, v in enumerate(values)]
        minus = [torch.tensor(v - (h if i == j else 0), dtype=torch.float64) for i, v in enumerate(values)]
        fd = (loss(name, plus, kind) - loss(name, minus, kind)).item() / (2 * h)
        assert abs(params[j].grad.item() - fd) < 1e-7, (name, j)


def test_gradient_with_respect_to_amplitudes_and_batched_angles():
    thetas = torch.tensor([0.2, 1.3], dtype=torch.float64, requires_grad=True)
    psi = tq.Circuit(2).ry(thetas, 0).cx(0, 1).run(tq.StateVector.zeros(2, dtype=torch.complex128))
    value = psi.expectation("Z0 Z1 + X0").sum()
    value.backward()
    # <Z0 Z1> = 1 and <X0> = 0 after CX of a product state... checked numerically:
    h = 1e-6
    for b in range(2):
        t = thetas.detach().clone()
        t[b] += h
        up = tq.Circuit(2).ry(t, 0).cx(0, 1).run(tq.StateVector.zeros(2, dtype=torch.complex128)).expectation("Z0 Z1 + X0").sum()
        t[b] -= 2 * h
        down = tq.Circuit(2).ry(t, 0).cx(0, 1).run(tq.StateVector.zeros(2, dtype=torch.complex128)).expectation("Z0 Z1 + X0").sum()
        assert abs(thetas.grad[b].item() - (up - down).item() / (2 * h)) < 1e-7

    amps = torch.tensor(np.array([0.6, 0.8j, 0, 0]), requires_grad=True)
    start = tq.StateVector.from_array(amps)
    out = tq.Circuit(2).h(1).cx(1, 0).run(start).expectation("Z0 + X1")
    out.backward()
    assert amps.grad is not None and torch.isfinite(torch.view_as_real(amps.grad)).all()


def test_noise_parameter_is_differentiable():
    gamma = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    rho = tq.Circuit(1).x(0).amplitude_damping(gamma, 0).run(tq.DensityMatrix.zeros(1, dtype=torch.complex128))
    z = rho.expectation("Z0")  # <Z> = 2 gamma - 1
    z.backward()
    assert abs(z.item() - (2 * 0.3 - 1)) < 1e-12
    assert abs(gamma.grad.item() - 2) < 1e-10
