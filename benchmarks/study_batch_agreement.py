"""How far a batched run parts from the same seed trained alone, beside a run alone on another thread count.

Each family trains from seeds 0..S-1 on one random 3-regular graph three ways:
alone with all of torch's threads (the reference), alone on one thread, and
all seeds as one batched model with all threads. The table gives the largest
difference from the reference over every step and seed, of the expected cut
and of the entropy of the watched qubits, in complex128 and complex64, and of
the first five steps alone. A batch is "equal to the run alone to dtype
precision" when it parts no further than a change of thread count does.

    python benchmarks/study_batch_agreement.py                  # 18 nodes, 3 seeds, 80 steps (minutes)
    python benchmarks/study_batch_agreement.py --nodes 8 --seeds 2 --steps 6
"""

from __future__ import annotations

import argparse

import torch

from tqsim.maxcut import MaxCutProblem, make_ansatz, train

FAMILIES = ("one-directional", "two-directional", "qaoa")
EARLY = 5  # steps compared on their own: before training has amplified anything


def histories(family: str, problem: MaxCutProblem, seeds: list[int], steps: int, dtype, threads: int,
              batched: bool) -> list[list[tuple[float, float]]]:
    """Per seed, per step: (expected cut, entropy)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        if batched:
            results = train(make_ansatz(family, problem, seed=seeds, dtype=dtype), steps=steps, device="cpu",
                            progress=False)
        else:
            results = [train(make_ansatz(family, problem, seed=s, dtype=dtype), steps=steps, device="cpu",
                             progress=False) for s in seeds]
    finally:
        torch.set_num_threads(before)
    return [[(h["expected_cut"], h["entropy"]) for h in r.history] for r in results]


def largest(a, b, column: int, steps: int | None = None) -> float:
    return max(abs(x[column] - y[column]) for ra, rb in zip(a, b) for x, y in zip(ra[:steps], rb[:steps]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=18)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=80)
    args = parser.parse_args()
    problem = MaxCutProblem.random_regular(args.nodes, 3, seed=1)
    seeds = list(range(args.seeds))
    threads = torch.get_num_threads()

    print(f"random 3-regular graph of {args.nodes} nodes (seed 1), seeds {seeds}, {args.steps} steps of Adam; "
          f"largest difference from the run alone on {threads} threads")
    print("| family | compared | complex128: expected cut / entropy | complex64: expected cut / entropy | "
          f"first {EARLY} steps, expected cut: complex128 / complex64 |")
    print("|---|---|---|---|---|")
    for family in FAMILIES:
        cells: dict[str, list[str]] = {"batched": [], "alone on 1 thread": []}
        early: dict[str, list[str]] = {name: [] for name in cells}
        for dtype in (torch.complex128, torch.complex64):
            reference = histories(family, problem, seeds, args.steps, dtype, threads, batched=False)
            others = {"batched": histories(family, problem, seeds, args.steps, dtype, threads, batched=True),
                      "alone on 1 thread": histories(family, problem, seeds, args.steps, dtype, 1, batched=False)}
            for name, other in others.items():
                cells[name].append(f"{largest(reference, other, 0):.1e} / {largest(reference, other, 1):.1e}")
                early[name].append(f"{largest(reference, other, 0, EARLY):.1e}")
        for name in cells:
            print(f"| {family} | {name} | {' | '.join(cells[name])} | {' / '.join(early[name])} |", flush=True)


if __name__ == "__main__":
    main()
