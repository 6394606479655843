"""MaxCut problems: a weighted graph, its cut function and its exact optimum.

Nodes are mapped to qubits 0..n-1 in sorted order (the mapping is kept).
Bit ``b_q = 1`` puts node ``q`` on one side of the cut; the cut value is
``C(b) = sum_ij w_ij [b_i != b_j] = sum_ij w_ij (1 - z_i z_j) / 2`` with
``z = 1 - 2 b``, which is the diagonal of the cost Hamiltonian
``sum_ij w_ij (1 - Z_i Z_j) / 2`` over the basis states.
"""

from __future__ import annotations

import math
import numbers
import os
from functools import lru_cache
from typing import Callable

import networkx as nx
import torch

from .. import _checks
from ..observables import PauliString, PauliSum

__all__ = ["MaxCutProblem", "BRUTE_FORCE_LIMIT"]

BRUTE_FORCE_LIMIT = 26


def _sorted_nodes(graph: nx.Graph) -> list:
    try:
        return sorted(graph.nodes)
    except TypeError:  # mixed label types: sort by type name, then text
        return sorted(graph.nodes, key=lambda v: (type(v).__name__, repr(v)))


class MaxCutProblem:
    """MaxCut on a weighted undirected graph.

    Parameters
    ----------
    graph : networkx.Graph
        Any hashable node labels; at least one edge, no self-loops.
    weight : str
        Edge attribute holding the weight (missing: 1.0). Weights must be finite
        and >= 0: with negative weights, approximation ratios (cut / optimum)
        are no longer in 0..1 and compare nothing.
    """

    def __init__(self, graph: nx.Graph, weight: str = "weight"):
        if not isinstance(graph, nx.Graph):
            raise TypeError(f"graph must be a networkx.Graph, got {type(graph).__name__}")
        if graph.is_directed():
            raise ValueError("MaxCut needs an undirected graph; convert with graph.to_undirected()")
        if graph.is_multigraph():
            raise ValueError("MaxCut needs a simple graph; merge parallel edges first")
        loops = list(nx.selfloop_edges(graph))
        if loops:
            raise ValueError(f"graph has self-loops {loops[:3]}; a node cannot be cut from itself")
        if graph.number_of_edges() == 0:
            raise ValueError("graph has no edges: every cut is 0")
        self.graph = graph
        self.nodes = _sorted_nodes(graph)
        self.index = {node: q for q, node in enumerate(self.nodes)}
        edges, weights = [], []
        for u, v, data in graph.edges(data=True):
            w = data.get(weight, 1.0)
            if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(float(w)) or w < 0:
                raise ValueError(f"edge ({u!r}, {v!r}) has weight {w!r}; weights must be finite numbers >= 0")
            edges.append(sorted((self.index[u], self.index[v])))
            weights.append(float(w))
        if not any(weights):
            raise ValueError("every edge has weight 0: every cut is 0, so there is nothing to maximise")
        self.edges = torch.tensor(edges, dtype=torch.long)
        self.weights = torch.tensor(weights, dtype=torch.float64)
        self._observable: PauliSum | None = None
        # device copies and cost diagonals, built once: a training step must
        # not copy from the host (a CUDA graph cannot record such a copy)
        self._device_cache: dict[tuple, torch.Tensor] = {}

    # ----------------------------------------------------------- constructors
    @classmethod
    def random_regular(cls, num_nodes: int, degree: int, seed: int | None = 0) -> "MaxCutProblem":
        """``networkx.random_regular_graph(degree, num_nodes, seed=seed)`` with unit weights."""
        num_nodes = _checks.positive_int(num_nodes, "number of nodes")
        degree = _checks.positive_int(degree, "degree")
        if degree >= num_nodes or (degree * num_nodes) % 2:
            raise ValueError(
                f"no {degree}-regular graph on {num_nodes} nodes: need degree < nodes and degree * nodes even"
            )
        return cls(nx.random_regular_graph(degree, num_nodes, seed=seed))

    @classmethod
    def from_edge_list(cls, path: str | os.PathLike) -> "MaxCutProblem":
        """Read ``u v [weight]`` lines (``#`` starts a comment); integer labels become ints.

        An edge given twice (``u v`` and ``v u`` are the same edge) is refused,
        not merged: one of the two lines is probably a typo.
        """
        try:
            with open(path) as f:
                lines = f.readlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read graph file {str(path)!r}: {error}") from None
        graph = nx.Graph()
        first_line = {}  # edge -> the line that gave it
        for number, line in enumerate(lines, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) not in (2, 3):
                raise ValueError(f"{path}:{number}: expected 'u v [weight]', got {line.strip()!r}")
            u, v = (int(x) if x.lstrip("-").isdigit() else x for x in fields[:2])
            try:
                w = float(fields[2]) if len(fields) == 3 else 1.0
            except ValueError:
                raise ValueError(f"{path}:{number}: weight {fields[2]!r} is not a number") from None
            edge = frozenset((u, v))
            if edge in first_line:
                raise ValueError(f"{path}:{number}: edge ({u!r}, {v!r}) repeats line {first_line[edge]}; "
                                 "give each edge once")
            first_line[edge] = number
            graph.add_edge(u, v, weight=w)
        if graph.number_of_edges() == 0:
            raise ValueError(f"graph file {str(path)!r} holds no edges")
        return cls(graph)

    # ------------------------------------------------------------ properties
    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def total_weight(self) -> float:
        return float(self.weights.sum())

    def __repr__(self) -> str:
        return f"MaxCutProblem(nodes={self.num_nodes}, edges={len(self.edges)}, total weight={self.total_weight:g})"

    # --------------------------------------------------------------- cut value
    def cut_value(self, bits) -> torch.Tensor:
        """Cut of assignments ``bits`` (0/1, shape ``(..., n)``): ``sum w_ij [b_i != b_j]``."""
        b = torch.as_tensor(bits)
        if b.shape[-1:] != (self.num_nodes,):
            raise ValueError(f"bits must end in {self.num_nodes} values (one per node), got shape {tuple(b.shape)}")
        if b.is_floating_point() or b.is_complex():
            raise TypeError(f"bits must be integers or booleans 0/1, got {b.dtype}")
        if b.numel() and not bool(((b == 0) | (b == 1)).all()):
            raise ValueError("bits must be 0 or 1")
        return self.unchecked_cut_value(b)

    def unchecked_cut_value(self, bits: torch.Tensor) -> torch.Tensor:
        """``cut_value`` of trusted 0/1 tensors, without the checks: no host sync, so a CUDA graph can record it."""
        edges = self.cached_tensor("edges", bits.device)
        differ = bits[..., edges[:, 0]] != bits[..., edges[:, 1]]
        return (differ.to(torch.float64) * self.cached_tensor("weights", bits.device, torch.float64)).sum(-1)

    def spin_energy(self, spins: torch.Tensor) -> torch.Tensor:
        """Ising energy ``sum w_ij s_i s_j`` of (relaxed) spins ``(..., n)``; minimal at the max cut."""
        edges = self.cached_tensor("edges", spins.device)
        w = self.cached_tensor("weights", spins.device, spins.dtype)
        return (spins[..., edges[:, 0]] * spins[..., edges[:, 1]] * w).sum(-1)

    def cached_tensor(self, what: str, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``edges``, ``weights`` or the cost ``diagonal`` on ``device``, made once."""
        if what not in ("edges", "weights", "diagonal"):
            raise ValueError(f"cached_tensor holds 'edges', 'weights' or 'diagonal', not {what!r}")
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())  # one copy for "cuda" and "cuda:0"
        key = (what, device, dtype)
        if key not in self._device_cache:
            if what == "diagonal":
                value = _cost_diagonal(self, dtype, key[1])
            else:
                value = getattr(self, what).to(device=key[1], dtype=dtype)
            self._device_cache[key] = value
        return self._device_cache[key]

    def cost_diagonal(self, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
        """``C(x)`` for every basis state ``x`` (big-endian), shape ``(2**n,)``."""
        if self.num_nodes > BRUTE_FORCE_LIMIT:
            raise ValueError(
                f"the cost diagonal of {self.num_nodes} nodes has 2**{self.num_nodes} entries; "
                f"it is built for n <= {BRUTE_FORCE_LIMIT} (use the MPS backend beyond)"
            )
        return self.cached_tensor("diagonal", _checks.device(device), dtype).clone()

    def cost_observable(self) -> PauliSum:
        """``sum w_ij (1 - Z_i Z_j) / 2`` as a PauliSum (for MPS and product states)."""
        if self._observable is None:
            terms = [PauliString({}, self.total_weight / 2)]
            for (i, j), w in zip(self.edges.tolist(), self.weights.tolist()):
                terms.append(PauliString({i: "Z", j: "Z"}, -w / 2))
            self._observable = PauliSum(terms)
        return self._observable

    def brute_force(self, device=None, chunk: int = 1 << 20,
                    progress: Callable[[int, int], None] | None = None) -> tuple[float, torch.Tensor]:
        """The exact maximum cut and one optimal assignment (node 0 on side 0).

        Every assignment with node 0 fixed is scored in vectorised chunks of
        ``chunk`` assignments, so memory stays bounded; n <= 26. 26 nodes take
        most of a minute on a CPU: ``progress(done, total)`` is called with the
        assignments scored after each chunk.
        """
        n = self.num_nodes
        if n > BRUTE_FORCE_LIMIT:
            raise ValueError(
                f"brute force over 2**{n - 1} assignments of {n} nodes is too slow; it is limited to "
                f"n <= {BRUTE_FORCE_LIMIT}: train a variational model (tqsim.maxcut.train) instead"
            )
        dev = _checks.device(device)
        chunk = _checks.positive_int(chunk, "chunk")
        edges = self.edges.to(dev)
        weights = self.weights.to(dev)
        shifts = torch.arange(n - 1, -1, -1, device=dev)
        best_value, best_index = -math.inf, 0
        total = 1 << (n - 1)  # node 0 (the most significant bit) stays 0: cuts are symmetric
        for start in range(0, total, chunk):
            index = torch.arange(start, min(start + chunk, total), device=dev)
            bits = (index[:, None] >> shifts) & 1
            values = ((bits[:, edges[:, 0]] != bits[:, edges[:, 1]]).to(weights.dtype) * weights).sum(-1)
            value, where = values.max(0)
            if float(value) > best_value:
                best_value, best_index = float(value), start + int(where)
            if progress:
                progress(min(start + chunk, total), total)
        bits = (torch.tensor(best_index) >> torch.arange(n - 1, -1, -1)) & 1
        return best_value, bits


@lru_cache(maxsize=8)
def _cost_diagonal(problem: MaxCutProblem, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    n = problem.num_nodes
    index = torch.arange(1 << n, device=device)
    cost = torch.zeros(1 << n, dtype=dtype, device=device)
    for (i, j), w in zip(problem.edges.tolist(), problem.weights.tolist()):
        differ = ((index >> (n - 1 - i)) ^ (index >> (n - 1 - j))) & 1
        cost += w * differ.to(dtype)
    return cost
