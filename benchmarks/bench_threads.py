"""tqsim's dense evolution beside busy processes: on the threads other processes leave free (tqsim's rule)
against the caller's fixed thread count.

    python benchmarks/bench_threads.py [--sizes 20 22] [--rotations ry rx] [--rounds 10] [--busy 2]

The brickwork circuits of ``bench_dense.py`` (complex64), in one process. The two rules alternate round by
round (the median of three runs after a warm-up, the order flipped every round), first on the quiet machine, then beside ``--busy``
spinning processes. Before timing, the script checks that both rules give the same bits, quiet and busy:
the free rule is only allowed because the products ignore the thread count (``tqsim._threads``).

Prints medians over the rounds (ms), each rule's slowdown (busy / the fixed rule's quiet time) and
free / fixed beside the busy processes. The fixed rule is reached by switching off the flag the free rule
checks, as a process whose MKL was used before ``import tqsim`` has it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from unittest import mock

import torch

import tqsim as tq
import tqsim._threads as threads_rule
from tqsim.bench.tools import brickwork, brickwork_circuit, busy_processes, median_time

RULES = ("fixed", "free")


def run_under(rule: str, circuit, start) -> tq.StateVector:
    with mock.patch.object(threads_rule, "_THREAD_INDEPENDENT_PRODUCTS", rule == "free"):
        return circuit.run(start)


def same_bits(circuit, start) -> bool:
    states = {run_under(rule, circuit, start).amplitudes().numpy().tobytes() for rule in RULES}
    return len(states) == 1


def rounds_of(circuit, start, rounds: int) -> dict[str, float]:
    times = {rule: [] for rule in RULES}
    for r in range(rounds):
        for rule in RULES if r % 2 == 0 else RULES[::-1]:
            times[rule].append(median_time(lambda: run_under(rule, circuit, start), 3)[0])
    return {rule: 1e3 * statistics.median(t) for rule, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 22])
    parser.add_argument("--rotations", nargs="+", choices=["ry", "rx"], default=["ry", "rx"])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--busy", type=int, default=2, help="processes spinning beside the second part (default 2)")
    args = parser.parse_args(argv)
    if not threads_rule.thread_independent_products():
        raise SystemExit("bench_threads.py: this process's MKL is not in strict reproducible mode, so tqsim keeps "
                         "the caller's threads; nothing to compare")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; complex64; medians of {args.rounds} "
          f"alternating rounds of 3 runs (after a warm-up each); then beside {args.busy} busy processes")
    print("| n | circuit | quiet, fixed ms | quiet, free ms | busy, fixed ms | busy, free ms | slowdown, fixed | "
          "slowdown, free | busy: free / fixed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        for rotation in args.rotations:
            circuit = brickwork_circuit(n, brickwork(n, 10, seed=n), rotation)
            start = tq.StateVector.zeros(n, dtype=torch.complex64)
            if not same_bits(circuit, start):
                raise SystemExit(f"n={n} {rotation}: the two rules give different bits")
            quiet = rounds_of(circuit, start, args.rounds)
            with busy_processes(args.busy):
                time.sleep(0.5)
                if not same_bits(circuit, start):
                    raise SystemExit(f"n={n} {rotation}: the two rules give different bits beside busy processes")
                busy = rounds_of(circuit, start, args.rounds)
            print(f"| {n} | {rotation.upper()} | {quiet['fixed']:.1f} | {quiet['free']:.1f} | {busy['fixed']:.1f} | "
                  f"{busy['free']:.1f} | {busy['fixed'] / quiet['fixed']:.2f} | {busy['free'] / quiet['fixed']:.2f} | "
                  f"{busy['free'] / busy['fixed']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
