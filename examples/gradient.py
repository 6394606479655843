"""Train a parametrized circuit with autograd: minimise the energy of a small
transverse-field Ising chain, and check one gradient against finite differences.

    python examples/gradient.py
"""

import torch

import tqsim as tq

N = 4
HAMILTONIAN = tq.PauliSum.from_string(" + ".join(f"-1 Z{q} Z{q + 1}" for q in range(N - 1))) + tq.PauliSum.from_string(
    " + ".join(f"-0.8 X{q}" for q in range(N))
)


def energy(params: torch.Tensor) -> torch.Tensor:
    """Two layers of RY rotations and CNOT ladders, then <H>."""
    circuit = tq.Circuit(N)
    for layer in range(2):
        for q in range(N):
            circuit.ry(params[layer, q], q)
        for q in range(N - 1):
            circuit.cx(q, q + 1)
    for q in range(N):
        circuit.ry(params[2, q], q)
    state = circuit.run(tq.StateVector.zeros(N, dtype=torch.complex128))
    return state.expectation(HAMILTONIAN)


def main() -> None:
    torch.manual_seed(0)
    params = (0.1 * torch.randn(3, N, dtype=torch.float64)).requires_grad_()

    value = energy(params)
    value.backward()
    h = 1e-6
    shifted = params.detach().clone()
    shifted[1, 2] += h
    up = energy(shifted).item()
    shifted[1, 2] -= 2 * h
    down = energy(shifted).item()
    print(f"dE/dtheta[1,2]: autograd {params.grad[1, 2].item():+.8f}, finite differences {(up - down) / (2 * h):+.8f}")

    optimizer = torch.optim.Adam([params], lr=0.1)
    for step in range(151):
        optimizer.zero_grad()
        value = energy(params)
        value.backward()
        optimizer.step()
        if step % 30 == 0:
            print(f"step {step:3d}  energy {value.item():+.6f}")
    exact = torch.linalg.eigvalsh(HAMILTONIAN.matrix(N, torch.complex128))[0].item()
    print(f"exact ground-state energy {exact:+.6f}")


if __name__ == "__main__":
    main()
