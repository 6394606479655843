"""
Bell and GHZ states and their entanglement
==========================================

A Bell pair and a GHZ state: their amplitudes, samples, correlations, the
entropy of every cut, and what 10% depolarizing noise does to them. A GHZ state
carries exactly one bit of entanglement across every cut, however many qubits
sit on each side; a random circuit of the same size carries nearly the
maximum, min(k, n - k) bits, which is what the figure shows.

    python examples/bell_ghz.py
"""

import math
import pathlib

import matplotlib.pyplot as plt
import torch

import tqsim as tq


def ghz(n: int) -> tq.Circuit:
    """H on qubit 0, then a CNOT ladder: (|0...0> + |1...1>) / sqrt(2)."""
    circuit = tq.Circuit(n).h(0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    return circuit


# %%
# A Bell pair
# -----------
# Two qubits, sampled 1000 times from a seeded generator: only ``|00>`` and
# ``|11>`` appear, and both qubits are perfectly correlated in the Z and the X
# basis.

bell = ghz(2).run(tq.StateVector.zeros(2, dtype=torch.complex128))
print("Bell state amplitudes:", bell.amplitudes().tolist())
samples = bell.sample(1000, generator=torch.Generator().manual_seed(0))
counts = torch.bincount(samples, minlength=4).tolist()
print("1000 shots of |00>, |01>, |10>, |11>:", counts)
print("<Z0 Z1> =", round(bell.expectation("Z0 Z1").item(), 12), " <X0 X1> =", round(bell.expectation("X0 X1").item(), 12))

# %%
# A GHZ state on five qubits
# --------------------------
# ``tq.entropy`` computes the von Neumann entropy of any set of qubits straight
# from the state's tensor; ``base=2`` gives bits.

n = 5
circuit = ghz(n)
print(f"GHZ circuit on {n} qubits:\n{circuit}")
state = circuit.run(tq.StateVector.zeros(n, dtype=torch.complex128))
for cut in ([0], [0, 1], [1, 3]):
    s = tq.entropy(state, cut, base=2).item()
    print(f"entropy of qubits {cut}: {s:.6f} bits (GHZ: exactly 1)")
rho = tq.partial_trace(state, [0, 4])
print("reduced state of qubits 0 and 4 (diagonal):", rho.probabilities().tolist())

# %%
# With noise
# ----------
# The same circuit on a density matrix, with a depolarizing channel on qubit 2:
# the state is no longer pure and the correlation between the end qubits drops.

noisy = circuit.depolarizing(0.1, 2).run(tq.DensityMatrix.zeros(n, dtype=torch.complex128))
print(f"with 10% depolarizing noise on qubit 2: purity {tq.purity(noisy, list(range(n))).item():.4f}, "
      f"<Z0 Z4> = {noisy.expectation('Z0 Z4').item():.4f}, "
      f"entropy of qubit 0 = {tq.entropy(noisy, [0]).item() / math.log(2):.4f} bits")

# %%
# Entropy across every cut
# ------------------------
# The entropy of the first ``k`` qubits of a 10-qubit GHZ state, beside a
# random circuit (a brickwork of seeded Haar-random two-qubit gates, depth 20).
# GHZ stays at one bit; the random state climbs to Page's average for a random
# pure state, ``k - 2**(2k - n) / (2 ln 2)`` bits for ``k <= n/2``.

n = 10
cuts = range(1, n)
ghz_state = ghz(n).run(tq.StateVector.zeros(n, dtype=torch.complex128))
ghz_entropy = [tq.entropy(ghz_state, list(range(k)), base=2).item() for k in cuts]

generator = torch.Generator().manual_seed(1)


def haar_unitary(dim: int) -> torch.Tensor:
    """A Haar-random unitary: QR of a complex Gaussian matrix, phases fixed."""
    z = torch.complex(torch.randn(dim, dim, generator=generator, dtype=torch.float64),
                      torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    q, r = torch.linalg.qr(z)
    return q * (r.diagonal() / r.diagonal().abs())


brickwork = tq.Circuit(n)
for layer in range(20):
    for q in range(layer % 2, n - 1, 2):
        brickwork.unitary(haar_unitary(4), [q, q + 1])
random_state = brickwork.run(tq.StateVector.zeros(n, dtype=torch.complex128))
random_entropy = [tq.entropy(random_state, list(range(k)), base=2).item() for k in cuts]
page = [min(k, n - k) - 2.0 ** (2 * min(k, n - k) - n) / (2 * math.log(2)) for k in cuts]
print("random state, entropy of qubits 0..k-1 (bits):", [round(v, 3) for v in random_entropy])
print("Page's average for a random pure state:        ", [round(v, 3) for v in page])

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(cuts, [min(k, n - k) for k in cuts], ":", color="gray", label="maximum, min(k, n - k)")
ax.plot(cuts, page, "--", color="black", label="Page's average")
ax.plot(cuts, random_entropy, "o-", label="random circuit, depth 20")
ax.plot(cuts, ghz_entropy, "s-", label="GHZ")
ax.set_xlabel("k (entropy of qubits 0 .. k-1)")
ax.set_ylabel("entropy (bits)")
ax.set_title(f"Entanglement across each cut of {n} qubits")
ax.set_ylim(0, 5.4)
ax.legend(loc="upper left", fontsize="small")
fig.tight_layout()
# sphinx_gallery_start_ignore
if "__file__" in globals():  # run as a script: the figure also goes to results/examples/
    out = pathlib.Path(__file__).resolve().parent.parent / "results" / "examples"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "bell_ghz.png", dpi=120)
# sphinx_gallery_end_ignore
plt.show()
