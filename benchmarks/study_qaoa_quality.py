"""QAOA on 3-regular graphs: trained angles against the fixed-angle guarantees, over many graphs.

Wurtz and Lykov (Phys. Rev. A 104, 052419, 2021) give, for 3-regular graphs,
angles that need no training and guarantee an expected cut of at least
0.6925, 0.7559 and 0.7924 of the edges at p = 1, 2, 3 on graphs without short
cycles. This script checks three things:

1. the angle convention: on the tree around an edge (the only part of a
   large-girth graph that p-layer QAOA sees), the fixed angles give the
   guaranteed value for that edge (p = 1, 2; p = 3's tree has 30 nodes);
2. a study: `tqsim study run` over GRAPHS random 3-regular graphs of NODES
   nodes at p = 1, 2, 3 (QAOA's start does not depend on the seed, so one
   seed per graph), mean expected ratio with a 95% bootstrap interval, against
   the guarantee;
3. the same graphs with the fixed angles: by how much training beats them.

    python benchmarks/study_qaoa_quality.py --graphs 20 --nodes 14 --steps 150 --db /tmp/qaoa.db
"""

from __future__ import annotations

import argparse
import statistics

import networkx as nx
import torch

from tqsim.maxcut import MaxCutProblem, make_ansatz
from tqsim.maxcut.study import StudyGrid, run_study, summary

#: (gammas, betas) of Wurtz and Lykov's Table for 3-regular graphs, in tqsim's convention
#: (exp(-i gamma C) with C the cut value, then exp(-i beta X) on every qubit)
FIXED = {
    1: ((0.616,), (0.393,)),
    2: ((0.488, 0.898), (0.555, 0.293)),
    3: ((0.422, 0.798, 0.937), (0.609, 0.459, 0.235)),
}
GUARANTEE = {1: 0.6925, 2: 0.7559, 3: 0.7924}


def fixed_angle_state(problem: MaxCutProblem, p: int):
    """The QAOA-p model set to the fixed angles, and its state."""
    model = make_ansatz("qaoa", problem, p, seed=0)
    gammas, betas = FIXED[p]
    with torch.no_grad():
        model.gamma.copy_(torch.tensor(gammas, dtype=torch.float64))
        model.beta.copy_(torch.tensor(betas, dtype=torch.float64))
        return model, model()


def fixed_angle_cut(problem: MaxCutProblem, p: int) -> float:
    """Expected cut of QAOA-p with the fixed angles."""
    model, state = fixed_angle_state(problem, p)
    with torch.no_grad():
        return float(model.loss(state)[1])


def tree_edge_value(p: int) -> float:
    """<(1 - Z_u Z_v)/2> of the central edge of the 3-regular tree of radius p around it."""
    graph = nx.Graph()
    graph.add_edge(0, 1)
    frontier, nodes = [0, 1], 2
    for _ in range(p):
        grown = []
        for v in frontier:
            for _ in range(2):  # each node gets two new neighbours: degree 3 inside the tree
                graph.add_edge(v, nodes)
                grown.append(nodes)
                nodes += 1
        frontier = grown
    _, state = fixed_angle_state(MaxCutProblem(graph), p)
    with torch.no_grad():
        return float((1 - state.expectation("Z0 Z1")) / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=14)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--db", default="qaoa_quality.db")
    args = parser.parse_args()

    print("1. convention check: the central edge of the 3-regular tree of radius p")
    for p in (1, 2):
        print(f"   p = {p}: {tree_edge_value(p):.4f} (guarantee {GUARANTEE[p]})")

    grid = StudyGrid(graphs=args.graphs, nodes=args.nodes, seeds=(0,), families=("qaoa",), depths=(1, 2, 3),
                     steps=args.steps, lr=args.lr)
    with run_study(grid, args.db, device="cpu", progress=False) as store:
        rows = {row["depth"]: row for row in summary(store)}
        runs = store.runs()
    print(f"\n2-3. {args.graphs} random 3-regular graphs of {args.nodes} nodes, {args.steps} Adam steps "
          f"(lr {args.lr}); expected cut / optimum")
    print("| p | trained: mean [95% CI] | fixed angles: mean | trained - fixed: mean, min, max | guarantee |")
    print("|---|---|---|---|---|")
    for p in (1, 2, 3):
        trained = {r["graph_seed"]: r["expected_ratio"] for r in runs if r["depth"] == p}
        fixed = {g: fixed_angle_cut(MaxCutProblem.random_regular(args.nodes, 3, seed=g), p) / trained_opt
                 for g, trained_opt in ((r["graph_seed"], r["optimum"]) for r in runs if r["depth"] == p)}
        gains = [trained[g] - fixed[g] for g in trained]
        row = rows[p]
        print(f"| {p} | {row['expected_ratio_mean']:.4f} [{row['expected_ratio_ci_low']:.4f}, "
              f"{row['expected_ratio_ci_high']:.4f}] | {statistics.mean(fixed.values()):.4f} | "
              f"{statistics.mean(gains):+.4f}, {min(gains):+.4f}, {max(gains):+.4f} | {GUARANTEE[p]} |")


if __name__ == "__main__":
    main()
