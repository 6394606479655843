"""
Matrix product states at scale
==============================

A dense state of 50 qubits holds ``2**50`` amplitudes, 16 PiB in
``complex128``. A matrix product state (MPS) holds one small tensor per qubit
instead, joined by bonds whose dimension caps how much entanglement can cross
each cut: with bond dimension ``chi`` the entropy across a cut is at most
``log chi``. ``tq.MPS.zeros(n, max_bond=..., cutoff=...)`` starts from
``|0...0>`` and every two-qubit gate splits its cores again with a truncated
SVD, keeping at most ``max_bond`` singular values and dropping those whose
relative weight is below ``cutoff``. The discarded weight is recorded, so the
state says how much it has lost.

This example runs a random brickwork circuit on 50 qubits layer by layer,
watches the bond dimensions, the truncation error and the entanglement
entropy across every cut grow, and checks the same circuit on 12 qubits
against the dense ``StateVector``. Run it with::

    python examples/mps_at_scale.py
"""

import math
import pathlib

import matplotlib.pyplot as plt
import numpy as np
import torch

import tqsim as tq

# %%
# The circuit
# -----------
#
# Each layer puts ``RY`` and ``RZ`` rotations with random angles on every
# qubit, then ``CZ`` on neighbouring pairs, ``(0, 1), (2, 3), ...`` in even
# layers and ``(1, 2), (3, 4), ...`` in odd ones. Each layer can raise the
# entropy across a cut by at most ``log 2``, so the bond dimensions double
# every layer or two until they reach ``max_bond``; from then on the MPS
# truncates. The angles come from a seeded generator, so every run builds the
# same circuit.


def brickwork_layer(n, index, angles):
    """Layer ``index`` of the brickwork on ``n`` qubits, with ``angles`` of shape (n, 2)."""
    layer = tq.Circuit(n)
    for q in range(n):
        layer.ry(angles[q, 0], q).rz(angles[q, 1], q)
    for q in range(index % 2, n - 1, 2):
        layer.cz(q, q + 1)
    return layer


def random_angles(n, depth, seed):
    generator = torch.Generator().manual_seed(seed)
    return 2 * math.pi * torch.rand(depth, n, 2, generator=generator, dtype=torch.float64)


def entropy_profile(mps):
    """The entropy across every cut, in nats, from one sweep of the orthogonality centre.

    ``mps.entanglement_entropy(cut)`` moves the centre next to the cut first;
    walking it one site at a time costs one move per cut instead of up to ``n``.
    """
    walker = mps.canonical(0)
    entropies = []
    for cut in range(1, mps.num_qubits):
        walker = walker.canonical(cut - 1)
        entropies.append(walker.entanglement_entropy(cut).item())
    return np.array(entropies)


# %%
# 50 qubits
# ---------
#
# ``max_bond=32`` and ``cutoff=1e-12``, in ``complex128``. After every layer
# the loop records the bond dimensions, the accumulated truncation error (the
# sum of the discarded weights), the fidelity estimate ``prod(1 - w)`` over
# the discarded weights ``w``, and the entropy of the first half of the chain;
# after a few of the layers, the entropy across every cut too. The memory the
# MPS takes is the size of its cores.

N, DEPTH, MAX_BOND, CUTOFF = 50, 16, 32, 1e-12
SHOWN = (2, 4, 8, 12, 16)  # layers after which the entropy across every cut is recorded
angles = random_angles(N, DEPTH, seed=0)
state = tq.MPS.zeros(N, max_bond=MAX_BOND, cutoff=CUTOFF, dtype=torch.complex128)
bonds, errors, profiles = [], [], {}
print(f"{'layer':>5s} {'max bond':>8s} {'truncation error':>16s} {'fidelity estimate':>17s} "
      f"{f'S(0..{N // 2 - 1}) (nats)':>15s}")
for layer in range(1, DEPTH + 1):
    state = brickwork_layer(N, layer - 1, angles[layer - 1]).run(state)
    bonds.append(state.bond_dimensions())
    errors.append(state.truncation_error())
    if layer in SHOWN:
        profiles[layer] = entropy_profile(state)
    print(f"{layer:5d} {max(bonds[-1]):8d} {errors[-1]:16.3e} {state.fidelity_estimate():17.12f} "
          f"{state.entanglement_entropy(N // 2).item():15.4f}")
print(state)
print("bond dimensions after the last layer:", bonds[-1])
megabytes = sum(core.numel() * core.element_size() for core in state.cores) / 2**20
print(f"memory of the MPS: {megabytes:.2f} MiB (a dense state of {N} qubits: "
      f"{2**N * 16 / 2**50:.0f} PiB)")

# %%
# Entropy and bond dimension across the chain
# -------------------------------------------
#
# Top: the entropy across each cut after a few of the layers. It grows layer
# by layer in the bulk of the chain and stays small near the ends, where
# few qubits lie on one side (a cut with ``c`` qubits on one side carries at
# most ``c log 2``). The dotted line is ``log 32``, the most a bond of
# dimension 32 can carry. Middle: the bond dimensions; they reach ``max_bond``
# in the bulk after 9 layers (after 12 layers they lie under those after 16,
# at 32 almost everywhere). Bottom: the accumulated truncation error, which
# stays at the level of the cutoff while the bonds have room, jumps by orders
# of magnitude in the layers where they fill up (10 to 12), then keeps
# growing, three- to tenfold per layer. The entropy then
# still lies below ``log 32``: a bond can carry that much only when all 32
# Schmidt values are equal, and those of a random circuit are not.

cuts = np.arange(1, N)
fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(8, 9.5))
colours = plt.cm.viridis(np.linspace(0, 0.9, len(SHOWN)))
for depth, colour in zip(SHOWN, colours):
    top.plot(cuts, profiles[depth], color=colour, label=f"{depth} layers")
    middle.step(cuts, bonds[depth - 1], where="mid", color=colour, label=f"{depth} layers")
top.axhline(math.log(MAX_BOND), color="gray", ls=":", lw=1, label="log 32")
top.set_ylabel("entropy (nats)")
top.set_title(f"Random brickwork on {N} qubits, MPS with max_bond={MAX_BOND}: entropy of qubits 0..c-1",
              fontsize=9)
top.legend(fontsize=8, ncol=3, loc="upper center")
middle.set_yscale("log", base=2)
middle.set_ylabel("bond dimension")
middle.set_xlabel("cut c (between qubits c-1 and c)")
middle.set_title("bond dimension at each cut", fontsize=9)
for axis in (top, middle):
    axis.set_xlim(0, N)
    axis.grid(alpha=0.3)
layers = np.arange(1, DEPTH + 1)
bottom.semilogy(layers, np.maximum(errors, 1e-18), "o-", color="C3")
bottom.set_xlabel("layers applied")
bottom.set_ylabel("truncation error")
bottom.set_title("accumulated discarded weight (values below 1e-18, rounding noise, drawn at 1e-18)", fontsize=9)
bottom.grid(alpha=0.3)
fig.tight_layout()

# sphinx_gallery_start_ignore
# Run as a script, the figure also goes to results/examples/ beside the repository. The gallery
# build defines no __file__ (sphinx-gallery never does) and keeps its own copy of the figure.
if "__file__" in globals():
    out = pathlib.Path(__file__).resolve().parent.parent / "results" / "examples"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "mps_at_scale.png", dpi=110)
# sphinx_gallery_end_ignore
plt.show()

# %%
# A check against the dense state
# -------------------------------
#
# On 12 qubits the same brickwork fits a dense ``StateVector``. With
# ``max_bond=64 = 2**6`` and ``cutoff=0`` nothing is ever dropped, so the MPS
# must agree with the dense state to rounding: the fidelity is 1 to about
# ``1e-15``.
# The entropies across the cuts are checked against an outside oracle too:
# NumPy's SVD of the dense amplitudes reshaped into a ``2**c x 2**(12 - c)``
# matrix gives the Schmidt values across cut ``c``.

n = 12
small_angles = random_angles(n, DEPTH, seed=1)
circuit = tq.Circuit(n)
for layer in range(DEPTH):
    circuit = circuit.compose(brickwork_layer(n, layer, small_angles[layer]))
dense = circuit.run(tq.StateVector.zeros(n, dtype=torch.complex128))
exact_mps = circuit.run(tq.MPS.zeros(n, max_bond=2 ** (n // 2), cutoff=0.0, dtype=torch.complex128))

amplitudes = dense.amplitudes().numpy()
svd_entropies = []
for cut in range(1, n):
    weights = np.linalg.svd(amplitudes.reshape(2**cut, 2 ** (n - cut)), compute_uv=False) ** 2
    weights = weights[weights > 0]
    svd_entropies.append(-(weights * np.log(weights)).sum())
entropy_gap = np.abs(entropy_profile(exact_mps) - np.array(svd_entropies)).max()
print(f"{n} qubits, max_bond {2 ** (n // 2)}, cutoff 0: bonds {exact_mps.bond_dimensions()}")
print(f"fidelity with the dense StateVector: {tq.fidelity(exact_mps, dense).item():.15f}")
print(f"truncation error: {exact_mps.truncation_error():.3e}")
print(f"max |entropy from the MPS - entropy from numpy's SVD of the dense state| over all cuts: {entropy_gap:.2e}")

# %%
# With bonds too small for the state, the truncation error says what is lost:
# the fidelity estimate ``prod(1 - w)`` over the discarded weights ``w`` of
# every split is close to the true fidelity with the dense state.

for max_bond in (32, 16, 8):
    truncated = circuit.run(tq.MPS.zeros(n, max_bond=max_bond, cutoff=CUTOFF, dtype=torch.complex128))
    print(f"max_bond {max_bond:2d}: truncation error {truncated.truncation_error():.3e}, "
          f"fidelity estimate {truncated.fidelity_estimate():.6f}, "
          f"true fidelity {tq.fidelity(truncated, dense).item():.6f}")
