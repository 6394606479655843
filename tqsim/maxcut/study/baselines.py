"""Classical MaxCut references for graphs too big for brute force.

``one_exchange`` is a greedy local search (networkx): its cut is at least half
the total weight. ``goemans_williamson`` solves the MaxCut semidefinite
relaxation, whose value bounds the optimum from above, and rounds it with
random hyperplanes; the expected rounded cut is at least 0.878 times the bound.
A study measures approximation ratios against the bound when the exact
optimum is out of reach.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import networkx as nx
import numpy as np
import torch

from ... import _checks
from ..._optional import require
from ..problem import MaxCutProblem

__all__ = ["GWResult", "SOLVERS", "goemans_williamson", "one_exchange"]

SOLVERS = ("CLARABEL", "SCS")
# Clarabel (interior point, about 1e-8 accurate) factors a dense system that grows
# as n**4: 0.2 s at 30 nodes, 2 s at 50, 30 s at 100. SCS (first order, about
# 1e-5 accurate) takes 0.5 s at 100 nodes and 20 s at 200.
CLARABEL_NODES = 40


class GWResult(NamedTuple):
    """What ``goemans_williamson`` found.

    Attributes
    ----------
    sdp_bound : float
        Value of the semidefinite relaxation, certified from the solver's dual
        multipliers: an upper bound on the maximum cut whatever the solver's
        accuracy, above the exact SDP value by at most the solver's tolerance.
    best_cut : float
        Largest cut over the hyperplane roundings: a lower bound on the maximum cut.
    mean_cut : float
        Mean cut over the roundings; its expectation is at least ``0.878 * sdp_bound``.
    """

    sdp_bound: float
    best_cut: float
    mean_cut: float


def _check_problem(problem) -> MaxCutProblem:
    if not isinstance(problem, MaxCutProblem):
        hint = "; wrap it as MaxCutProblem(graph)" if isinstance(problem, nx.Graph) else ""
        raise TypeError(f"problem must be a MaxCutProblem, got {type(problem).__name__}{hint}")
    return problem


def one_exchange(problem: MaxCutProblem, seed: int = 0) -> float:
    """Cut found by networkx's one-exchange local search from a random start.

    Nodes are moved one at a time to the other side while that grows the cut.
    At the end every node has at least half of its incident weight cut, so the
    result is at least half the total weight (and at most the optimum).

    Parameters
    ----------
    problem : MaxCutProblem
    seed : int
        Seeds the random initial partition (>= 0).

    Returns
    -------
    float
        ``problem.cut_value`` of the partition found.
    """
    problem = _check_problem(problem)
    seed = _checks.non_negative_int(seed, "seed")
    # The search runs on the problem's own qubit-indexed edges and weights, so
    # a weight stored under another attribute name, or missing, cannot differ.
    graph = nx.Graph()
    graph.add_nodes_from(range(problem.num_nodes))
    for (i, j), w in zip(problem.edges.tolist(), problem.weights.tolist()):
        graph.add_edge(i, j, weight=w)
    _, (side, _) = nx.algorithms.approximation.maxcut.one_exchange(graph, seed=seed, weight="weight")
    bits = torch.zeros(problem.num_nodes, dtype=torch.long)
    bits[sorted(side)] = 1
    return float(problem.cut_value(bits))


def _laplacian(problem: MaxCutProblem) -> np.ndarray:
    n = problem.num_nodes
    laplacian = np.zeros((n, n))
    for (i, j), w in zip(problem.edges.tolist(), problem.weights.tolist()):
        laplacian[i, j] -= w
        laplacian[j, i] -= w
        laplacian[i, i] += w
        laplacian[j, j] += w
    return laplacian


def _solve_sdp(problem: MaxCutProblem, solver: str | None) -> tuple[float, np.ndarray]:
    """``max sum_ij w_ij (1 - X_ij) / 2 = trace(L X) / 4`` over PSD ``X`` with unit diagonal.

    Returns a certified upper bound and the solver's ``X``. For any multipliers
    ``y`` of the diagonal constraints, ``M = diag(y) - L / 4`` gives
    ``trace(L X) / 4 = sum(y) - trace(M X) <= sum(y) - n * lambda_min(M)`` for
    every feasible ``X``. With the solver's ``y`` this equals the SDP value up
    to the solver's tolerance, and stays an upper bound on the maximum cut
    however loose that tolerance is.
    """
    cp = require("cvxpy", "solvers", "the Goemans-Williamson baseline")
    n = problem.num_nodes
    if solver is None:
        solver = "CLARABEL" if n <= CLARABEL_NODES and "CLARABEL" in cp.installed_solvers() else "SCS"
    if solver not in cp.installed_solvers():
        raise ImportError(f"cvxpy has no {solver} solver here (installed: {', '.join(cp.installed_solvers())}): "
                          f"pip install {solver.lower()}")
    laplacian = _laplacian(problem)
    x = cp.Variable((n, n), symmetric=True)
    diagonal = cp.diag(x) == 1
    sdp = cp.Problem(cp.Maximize(cp.trace(laplacian @ x) / 4), [x >> 0, diagonal])
    sdp.solve(solver=solver)
    if sdp.status not in ("optimal", "optimal_inaccurate") or x.value is None or diagonal.dual_value is None:
        raise RuntimeError(f"{solver} did not solve the MaxCut SDP of {problem!r}: status {sdp.status!r}")
    y = np.asarray(diagonal.dual_value, dtype=float)
    bound = float(y.sum() - n * np.linalg.eigvalsh(np.diag(y) - laplacian / 4)[0])
    if not bound - sdp.value <= 1e-3 * max(1.0, abs(sdp.value)):
        raise RuntimeError(f"{solver} solved the MaxCut SDP of {problem!r} inaccurately: value {sdp.value:.9g}, "
                           f"certified bound {bound:.9g}")
    return bound, x.value


def goemans_williamson(problem: MaxCutProblem, seed: int = 0, rounds: int = 100,
                       solver: str | None = None) -> GWResult:
    """The Goemans-Williamson SDP bound and its random-hyperplane roundings.

    The relaxation is solved with cvxpy: Clarabel up to 40 nodes (when
    installed), SCS beyond, where Clarabel's cost grows as ``n**4``.
    Its matrix ``X`` is factored as ``V V^T`` by an eigendecomposition with
    negative eigenvalues (solver noise) clipped to zero; each rounding draws a
    Gaussian direction ``r`` and cuts the nodes by the sign of ``V r``.

    Parameters
    ----------
    problem : MaxCutProblem
    seed : int
        Seeds the ``numpy.random.Generator`` that draws the hyperplanes (>= 0).
    rounds : int
        Number of hyperplanes (>= 1).
    solver : {"CLARABEL", "SCS"} or None
        The cvxpy solver; None chooses by size as above.

    Returns
    -------
    GWResult
        ``(sdp_bound, best_cut, mean_cut)``.

    Raises
    ------
    ImportError
        cvxpy, or the solver asked for, is missing (``pip install "tqsim[solvers]"``).
    RuntimeError
        The solver failed, or its solution is too inaccurate to certify the bound.
    """
    problem = _check_problem(problem)
    seed = _checks.non_negative_int(seed, "seed")
    if isinstance(rounds, bool) or not isinstance(rounds, numbers.Integral):
        raise TypeError(f"rounds must be an int, got {rounds!r}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if solver is not None and solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)} or None (automatic), got {solver!r}")
    bound, x = _solve_sdp(problem, solver)
    values, vectors = np.linalg.eigh((x + x.T) / 2)
    factor = vectors * np.sqrt(np.clip(values, 0.0, None))  # row i: the unit vector of node i
    directions = np.random.default_rng(seed).standard_normal((int(rounds), problem.num_nodes))
    bits = torch.from_numpy((directions @ factor.T < 0).astype(np.int64))  # (rounds, n)
    cuts = problem.cut_value(bits)
    return GWResult(bound, float(cuts.max()), float(cuts.mean()))
