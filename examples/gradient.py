"""
Gradients of a parametrized circuit
===================================

Train a parametrized circuit with autograd: minimise the energy of a small
transverse-field Ising chain, after checking one gradient against finite
differences. The circuit parameters are an ordinary ``torch`` tensor with
``requires_grad``, so any ``torch.optim`` optimizer trains them.

    python examples/gradient.py
"""

import pathlib

import matplotlib.pyplot as plt
import torch

import tqsim as tq

# %%
# The model
# ---------
# Four qubits, ``H = -sum Z_q Z_{q+1} - 0.8 sum X_q``. The ansatz is two layers
# of RY rotations and CNOT ladders, then a last layer of RY rotations; the
# energy ``<psi(theta)|H|psi(theta)>`` is a differentiable torch scalar.

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


# %%
# One gradient, two ways
# ----------------------
# ``backward()`` fills ``params.grad``; a central finite difference with step
# ``1e-6`` agrees to about 1e-9.

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

# %%
# Training
# --------
# 150 steps of Adam. The exact ground-state energy comes from diagonalising the
# 16 x 16 matrix of ``H``.

optimizer = torch.optim.Adam([params], lr=0.1)
history = []
for step in range(151):
    optimizer.zero_grad()
    value = energy(params)
    value.backward()
    optimizer.step()
    history.append(value.item())
    if step % 30 == 0:
        print(f"step {step:3d}  energy {value.item():+.6f}")
exact = torch.linalg.eigvalsh(HAMILTONIAN.matrix(N, torch.complex128))[0].item()
print(f"exact ground-state energy {exact:+.6f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(history, label="<H> while training")
ax.axhline(exact, color="black", linestyle="--", label="exact ground state")
ax.set_xlabel("Adam step")
ax.set_ylabel("energy")
ax.set_title(f"Transverse-field Ising chain, {N} qubits")
ax.legend()
fig.tight_layout()
# sphinx_gallery_start_ignore
if "__file__" in globals():  # run as a script: the figure also goes to results/examples/
    out = pathlib.Path(__file__).resolve().parent.parent / "results" / "examples"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "gradient.png", dpi=120)
# sphinx_gallery_end_ignore
plt.show()
