"""Losses and read-outs of MaxCut states.

Two encodings:

- ``"node"``: one node per qubit. The loss is ``-<C>``; the read-out is the
  best cut among the state's likely bitstrings (the 64 most likely of a
  dense state, 256 samples of an MPS), or ``bit_q = [<Z_q> < 0]`` where the
  qubits are independent (product states).
- ``"mbe"``, multi-basis encoding (Patti, Kossaifi, Anandkumar and Yelin,
  arXiv:2106.13304): two nodes per qubit, node ``q`` read from ``<Z_q>`` and
  node ``n + q`` from ``<X_q>``. The loss is the Ising energy
  ``sum w_ij tanh(s_i) tanh(s_j)`` of the relaxed spins; the read-out rounds
  them, ``bit = [s < 0]``.

The state kind is never asked for: each kind says through the state protocol
(:class:`tqsim.states.base.QuantumState`) whether its qubits are independent,
how it weighs a diagonal observable and which bitstrings it proposes.
"""

from __future__ import annotations

import math
from functools import partial

import torch

from ..info import qubit_states
from .problem import MaxCutProblem

__all__ = [
    "ENCODINGS", "qubits_needed", "expected_cut", "mbe_spins", "readout", "readout_candidates", "best_candidate",
    "READOUT_CANDIDATES", "READOUT_SHOTS",
]

#: How a cut is read from qubits: one qubit per node (``"node"``), or the
#: multi-basis encoding (``"mbe"``), two nodes per qubit.
ENCODINGS = ("node", "mbe")
READOUT_CANDIDATES = 64
READOUT_SHOTS = 256


def qubits_needed(problem: MaxCutProblem, encoding: str) -> int:
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; choose from {', '.join(ENCODINGS)}")
    return problem.num_nodes if encoding == "node" else math.ceil(problem.num_nodes / 2)


def expected_cut(problem: MaxCutProblem, state) -> torch.Tensor:
    """``<C>``: one pass over the probabilities of a dense ket, local contractions otherwise."""
    if state.independent_qubits:  # <Z_i Z_j> = <Z_i><Z_j>: a few vectorised operations
        return (problem.total_weight - problem.spin_energy(_z_expectations(state))) / 2
    return state.diagonal_expectation(problem.cost_observable(), partial(problem.cached_tensor, "diagonal"))


def mbe_spins(state, num_nodes: int) -> torch.Tensor:
    """``(<Z_0>, ..., <Z_{n-1}>, <X_0>, ...)`` cut to ``num_nodes`` spins."""
    rho = qubit_states(state)
    z = (rho[..., 0, 0] - rho[..., 1, 1]).real
    x = 2 * rho[..., 0, 1].real
    return torch.cat([z, x], dim=-1)[..., :num_nodes]


def readout_candidates(problem: MaxCutProblem, state, encoding: str, generator: torch.Generator | None = None):
    """Candidate assignments ``(k, n)`` and their cut values ``(k,)``, left on the state's device;
    ``(batch, k, n)`` and ``(batch, k)`` for a batched dense state.

    Nothing here waits for the device, so a CUDA graph can record it.
    """
    with torch.no_grad():
        if encoding == "mbe" or state.independent_qubits:
            spins = mbe_spins(state, problem.num_nodes) if encoding == "mbe" else _z_expectations(state)
            candidates = (spins < 0).long().unsqueeze(-2)
        else:
            candidates = state.likely_bitstrings(READOUT_CANDIDATES, READOUT_SHOTS, generator)
        return candidates, problem.unchecked_cut_value(candidates)


def best_candidate(candidates: torch.Tensor, values: torch.Tensor) -> tuple[float, torch.Tensor]:
    """The best of the candidates, on the host: ``(cut value, bits)``."""
    values = values.cpu()
    best = int(values.argmax())
    return float(values[best]), candidates[best].cpu()


def readout(problem: MaxCutProblem, state, encoding: str, generator: torch.Generator | None = None):
    """The best assignment the state points to: ``(cut value, bits)``."""
    return best_candidate(*readout_candidates(problem, state, encoding, generator))


def _z_expectations(state) -> torch.Tensor:
    rho = qubit_states(state)
    return (rho[..., 0, 0] - rho[..., 1, 1]).real
