"""Study throughput: runs per hour of a MaxCut study, sequential, with batched seeds, or on a local Ray cluster.

The study is the issue's: GRAPHS random 3-regular graphs x SEEDS seeds x three
families (one-directional, two-directional, QAOA), STEPS steps each, at every
size in --nodes. Each mode trains the whole grid into a fresh database with
`run_study` (brute-force optima included, as a user's study would):

- ``sequential``: one run after another in this process, with all of torch's threads;
- ``batched``: the same, but the seeds of each graph and family train together
  as one batched state (``batch_seeds`` = SEEDS);
- ``ray``: a local Ray cluster started by the study, one task per run; the
  driver runs with one torch thread, so every task takes one CPU and the
  cluster trains as many runs at once as the machine has cores.

Modes run one after the other per size; the figure is runs per hour of wall
time, and the speed-up is against the sequential mode. The last column is the
largest difference of a run's final expected ratio from the sequential mode's.
Batches and the Ray tasks' single thread change the last bits of each step
(docs/reproducibility.md) and 80 steps of Adam amplify that, as any change of
kernel does (docs/study.md measures it); with equal settings the modes agree
bit for bit (tests/test_study_ray.py).

Before the studies, a first table times one training step of SEEDS seeds of
each family, batched and one seed at a time, at every size in --step-nodes
(alternating rounds, medians): the batched mode's gain without brute force,
references or database in the way.

    python benchmarks/bench_study.py                                   # 20 x 5 x 3 at 16 and 20 nodes (hours)
    python benchmarks/bench_study.py --graphs 2 --seeds 2 --steps 40   # minutes
    python benchmarks/bench_study.py --busy 2                          # beside two busy processes
    python benchmarks/bench_study.py --nodes --step-nodes 12 16 20 --seeds 8   # the step table alone
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from tqsim.bench.tools import busy_processes
from tqsim.maxcut import MaxCutProblem, make_ansatz, train
from tqsim.maxcut.study import StudyGrid, run_study

FAMILIES = ("one-directional", "two-directional", "qaoa")
MODES = ("sequential", "batched", "ray")


def timed_study(grid: StudyGrid, db: str, mode: str) -> tuple[float, dict[str, float]]:
    """Wall seconds of the whole study in ``mode``, and each run's final expected ratio by key."""
    threads = torch.get_num_threads()
    if mode == "ray":
        torch.set_num_threads(1)
    batch = len(grid.seeds) if mode == "batched" else 1
    try:
        began = time.perf_counter()
        with run_study(grid, db, device="cpu", progress=False, executor="ray" if mode == "ray" else "local",
                       batch_seeds=batch) as store:
            seconds = time.perf_counter() - began
            return seconds, {row["key"]: row["expected_ratio"] for row in store.runs()}
    finally:
        torch.set_num_threads(threads)


def step_seconds(family: str, problem: MaxCutProblem, seeds: list[int], batched: bool, steps: int = 6) -> float:
    """Median seconds of a training step of every seed in ``seeds`` (batched: one step of the batch)."""
    if batched:
        history = train(make_ansatz(family, problem, seed=seeds), steps=steps, device="cpu", progress=False,
                        optimum=None)[0].history
        return statistics.median(h["seconds"] for h in history[1:]) * len(seeds)  # a seed's share x seeds
    return sum(statistics.median(h["seconds"] for h in train(make_ansatz(family, problem, seed=s), steps=steps,
                                                              device="cpu", progress=False, optimum=None).history[1:])
               for s in seeds)


def step_table(sizes: list[int], seeds: int, rounds: int) -> None:
    print(f"one training step of {seeds} seeds, batched and one seed at a time, ms (median of {rounds} "
          f"alternating rounds)")
    print("| nodes | family | one at a time | batched | speed-up |")
    print("|---|---|---|---|---|")
    for n in sizes:
        problem = MaxCutProblem.random_regular(n, 3, seed=0)
        for family in FAMILIES:
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(rounds):
                for batched in (False, True):
                    times[batched].append(step_seconds(family, problem, list(range(seeds)), batched))
            alone, together = (1e3 * statistics.median(times[b]) for b in (False, True))
            print(f"| {n} | {family} | {alone:.1f} | {together:.1f} | {alone / together:.2f} |", flush=True)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="*", default=[16, 20])
    parser.add_argument("--step-nodes", type=int, nargs="*", default=[12, 16, 20])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the step table")
    parser.add_argument("--graphs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--busy", type=int, default=0, help="busy processes to run beside the benchmark")
    args = parser.parse_args()

    with busy_processes(args.busy):
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), {os.cpu_count()} CPUs, "
              f"{args.busy} busy processes beside; {args.graphs} graphs x {args.seeds} seeds x "
              f"{len(FAMILIES)} families ({', '.join(FAMILIES)}), {args.steps} steps")
        if args.step_nodes:
            step_table(args.step_nodes, args.seeds, args.rounds)
        if args.nodes:
            print("| nodes | mode | runs | seconds | runs per hour | speed-up vs sequential | max ratio difference |")
            print("|---|---|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as folder:
            for n in args.nodes:
                grid = StudyGrid(graphs=args.graphs, nodes=n, seeds=tuple(range(args.seeds)), families=FAMILIES,
                                 steps=args.steps)
                results: dict[str, tuple[float, dict[str, float]]] = {}
                for mode in args.modes:
                    seconds, ratios = timed_study(grid, os.path.join(folder, f"{mode}-{n}.db"), mode)
                    results[mode] = (seconds, ratios)
                    local_seconds, local_ratios = results.get("sequential", (seconds, ratios))
                    difference = max(abs(local_ratios[k] - ratios[k]) for k in ratios)
                    print(f"| {n} | {mode} | {len(ratios)} | {seconds:.1f} | {3600 * len(ratios) / seconds:.0f} | "
                          f"{local_seconds / seconds:.2f} | {difference:.1e} |", flush=True)


if __name__ == "__main__":
    main()
