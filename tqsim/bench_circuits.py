"""The random circuits the benchmarks share, so every peer runs the same work.

A brickwork layer is RY on every qubit with angles uniform in [0, 2 pi), then
CZ on neighbour pairs (0, 1), (2, 3), ... in even layers and (1, 2), (3, 4),
... in odd ones.
"""

from __future__ import annotations

import numpy as np

from .circuit import Circuit

Layers = list[tuple[np.ndarray, list[tuple[int, int]]]]


def brickwork(n: int, depth: int, seed: int) -> Layers:
    """Angles and CZ pairs of each layer, from a seeded NumPy generator."""
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0, 2 * np.pi, n), [(q, q + 1) for q in range(layer % 2, n - 1, 2)]) for layer in range(depth)]


def brickwork_circuit(n: int, layers: Layers) -> Circuit:
    """The tqsim Circuit of ``layers``."""
    circuit = Circuit(n)
    for angles, pairs in layers:
        for q, angle in enumerate(angles):
            circuit.ry(float(angle), q)
        for a, b in pairs:
            circuit.cz(a, b)
    return circuit
