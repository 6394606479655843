"""Does a study's entanglement curve depend on the precision it trains in?

The one-directional family has an angle the cut cannot see: the first RY of
qubit 0 (the CNOT ladder turns an X on qubit 0 into an X on every qubit, and
flipping every bit keeps every cut). Its gradient is rounding, yet the entropy
of the watched qubits depends on it, and Adam divides by the gradient's root
mean square: in complex64 that rounding (about 1e-6) exceeds Adam's eps
(1e-8), so the angle walks by up to the learning rate per step. This script
trains the default study's families in complex64 and complex128 from the same
seeds and prints, per family and precision, the mean entropy of the watched
qubits at a few steps, the mean final expected ratio, and how far the first
angle of qubit 0 moved.

    python benchmarks/study_precision.py                 # 5 graphs x 3 seeds, 16 nodes, 80 steps (minutes)
    python benchmarks/study_precision.py --graphs 1 --seeds 1 --nodes 8 --steps 5
"""

from __future__ import annotations

import argparse
import statistics

import torch

from tqsim.maxcut import MaxCutProblem, make_ansatz, train

FAMILIES = ("one-directional", "two-directional", "deep")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--steps", type=int, default=80)
    args = parser.parse_args()
    marks = sorted({1, max(1, args.steps // 8), max(1, args.steps // 3), args.steps})

    print(f"{args.graphs} random 3-regular graphs of {args.nodes} nodes x {args.seeds} seeds, {args.steps} steps "
          f"of Adam (lr 0.05); means over the runs")
    print(f"| family | dtype | {' | '.join(f'entropy at step {m}' for m in marks)} | expected ratio | "
          f"first angle of qubit 0 moved by |")
    print("|---|---|" + "---|" * (len(marks) + 2))
    for family in FAMILIES:
        for dtype in (torch.complex64, torch.complex128):
            curves, ratios, moved = [], [], []
            for graph in range(args.graphs):
                problem = MaxCutProblem.random_regular(args.nodes, 3, seed=graph)
                for seed in range(args.seeds):
                    model = make_ansatz(family, problem, seed=seed, dtype=dtype)
                    start = model.theta.detach().flatten()[0].item()
                    result = train(model, steps=args.steps, device="cpu", progress=False)
                    curves.append([result.history[m - 1]["entropy"] for m in marks])
                    ratios.append(result.final["expected_ratio"])
                    moved.append(abs(model.theta.detach().flatten()[0].item() - start))
            means = [statistics.fmean(column) for column in zip(*curves)]
            print(f"| {family} | {str(dtype).removeprefix('torch.')} | {' | '.join(f'{m:.3f}' for m in means)} | "
                  f"{statistics.fmean(ratios):.4f} | {statistics.fmean(moved):.2e} |", flush=True)


if __name__ == "__main__":
    main()
