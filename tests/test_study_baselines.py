"""Classical MaxCut baselines against brute force, a closed form and the known guarantees."""

import importlib.util
import math
import sys

import networkx as nx
import numpy as np
import pytest

from tqsim.maxcut import MaxCutProblem
from tqsim.maxcut.study.baselines import GWResult, goemans_williamson, one_exchange

needs_cvxpy = pytest.mark.skipif(importlib.util.find_spec("cvxpy") is None, reason="needs cvxpy (tqsim[solvers])")

BOUND_TOL = 1e-9  # the SDP bound is certified from the dual: only eigvalsh rounding is left


def weighted_random(n: int, p: float, seed: int) -> MaxCutProblem:
    graph = nx.gnp_random_graph(n, p, seed=seed)
    weights = np.random.default_rng(seed).uniform(0.1, 2.0, graph.number_of_edges())
    for (u, v), w in zip(graph.edges, weights):
        graph.edges[u, v]["weight"] = float(w)
    return MaxCutProblem(graph)


def small_problems():
    problems = {f"rr-n{n}-s{s}": MaxCutProblem.random_regular(n, 3, seed=s)
                for n, s in ((8, 0), (10, 1), (12, 2), (12, 3))}
    problems.update({f"weighted-n{n}-s{s}": weighted_random(n, 0.5, seed=s) for n, s in ((7, 4), (9, 5), (11, 6))})
    labelled = nx.Graph([("a", "b"), ("b", "c"), ("c", "d"), ("d", "a"), ("a", "c")])
    labelled.add_node("lonely")  # an isolated node, and labels that are not 0..n-1
    problems["labelled"] = MaxCutProblem(labelled)
    problems["K7"] = MaxCutProblem(nx.complete_graph(7))
    return [pytest.param(problem, id=name) for name, problem in problems.items()]


# ------------------------------------------------------------- Goemans-Williamson
@needs_cvxpy
def test_five_cycle_sdp_closed_form():
    """C5: the optimal vectors sit 4 pi / 5 apart, so the SDP value is 5 (1 - cos(4 pi / 5)) / 2."""
    problem = MaxCutProblem(nx.cycle_graph(5))
    exact = 5 * (1 - math.cos(4 * math.pi / 5)) / 2
    for solver in ("CLARABEL", "SCS"):
        result = goemans_williamson(problem, seed=0, solver=solver)
        assert isinstance(result, GWResult)
        assert result.sdp_bound == pytest.approx(exact, abs=1e-4)
        assert result.sdp_bound >= exact - BOUND_TOL  # certified: never below the true value
    # The solution is a planar pentagram: every hyperplane cuts exactly 4 of its 5 edges.
    result = goemans_williamson(problem, seed=3, rounds=50, solver="CLARABEL")
    assert result.best_cut == result.mean_cut == 4.0


@needs_cvxpy
@pytest.mark.parametrize("problem", small_problems())
def test_gw_sandwiches_the_brute_force_optimum(problem):
    optimum, _ = problem.brute_force()
    result = goemans_williamson(problem, seed=1, rounds=100)
    assert result.best_cut <= optimum + 1e-12
    assert optimum <= result.sdp_bound + BOUND_TOL
    assert result.mean_cut <= result.best_cut + 1e-12


@needs_cvxpy
def test_gw_rounding_keeps_the_0878_guarantee():
    """E[rounded cut] >= 0.87856 SDP; 200 roundings of 12-node graphs: std of the mean is about 0.1."""
    for seed in range(6):
        problem = MaxCutProblem.random_regular(12, 3, seed=seed)
        result = goemans_williamson(problem, seed=seed, rounds=200)
        assert result.mean_cut >= 0.878 * result.sdp_bound - 0.3, (seed, result)


@needs_cvxpy
def test_gw_solvers_agree_and_scale():
    problem = MaxCutProblem.random_regular(12, 3, seed=7)
    clarabel = goemans_williamson(problem, solver="CLARABEL")
    scs = goemans_williamson(problem, solver="SCS")
    assert scs.sdp_bound == pytest.approx(clarabel.sdp_bound, rel=1e-4)
    big = MaxCutProblem.random_regular(60, 3, seed=0)  # beyond 40 nodes: SCS by default
    result = goemans_williamson(big, seed=0, rounds=50)
    assert 0.878 * result.sdp_bound - 3 <= result.mean_cut <= result.best_cut <= result.sdp_bound
    assert one_exchange(big) <= result.sdp_bound


@needs_cvxpy
def test_gw_is_deterministic():
    problem = weighted_random(10, 0.5, seed=8)
    assert goemans_williamson(problem, seed=5) == goemans_williamson(problem, seed=5)


def test_gw_without_cvxpy_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cvxpy", None)  # import cvxpy now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "tqsim\[solvers\]"'):
        goemans_williamson(MaxCutProblem(nx.cycle_graph(4)))


# ------------------------------------------------------------------ one exchange
@pytest.mark.parametrize("problem", small_problems())
def test_one_exchange_between_half_the_weight_and_the_optimum(problem):
    optimum, _ = problem.brute_force()
    for seed in range(5):
        cut = one_exchange(problem, seed=seed)
        assert isinstance(cut, float)
        assert problem.total_weight / 2 - 1e-12 <= cut <= optimum + 1e-12


def test_one_exchange_uses_the_problems_weights():
    """Weights stored under another attribute: unit weights could stop at the cut {c} (value 2 < 6)."""
    graph = nx.Graph()
    graph.add_edge("a", "b", w=10.0)
    graph.add_edge("b", "c", w=1.0)
    graph.add_edge("a", "c", w=1.0)
    problem = MaxCutProblem(graph, weight="w")
    assert {one_exchange(problem, seed=seed) for seed in range(10)} == {11.0}


def test_one_exchange_is_deterministic():
    problem = MaxCutProblem.random_regular(20, 3, seed=0)
    assert one_exchange(problem, seed=3) == one_exchange(problem, seed=3)


# ------------------------------------------------------------------- bad input
def test_baselines_refuse_bad_input():
    edgeless = nx.empty_graph(3)
    with pytest.raises(ValueError, match="no edges"):
        MaxCutProblem(edgeless)  # so no MaxCutProblem without edges reaches a baseline
    for baseline in (one_exchange, goemans_williamson):
        with pytest.raises(TypeError, match=r"MaxCutProblem, got Graph; wrap it as MaxCutProblem\(graph\)"):
            baseline(edgeless)
        with pytest.raises(TypeError, match="MaxCutProblem, got list"):
            baseline([(0, 1)])
        with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
            baseline(MaxCutProblem(nx.path_graph(3)), seed=-1)
        with pytest.raises(TypeError, match="seed must be an int, got 1.5"):
            baseline(MaxCutProblem(nx.path_graph(3)), seed=1.5)
    problem = MaxCutProblem(nx.path_graph(3))
    with pytest.raises(ValueError, match="rounds must be >= 1, got 0"):
        goemans_williamson(problem, rounds=0)
    with pytest.raises(TypeError, match="rounds must be an int, got 2.0"):
        goemans_williamson(problem, rounds=2.0)
    with pytest.raises(ValueError, match="solver must be one of CLARABEL, SCS or None"):
        goemans_williamson(problem, solver="MOSEK")
