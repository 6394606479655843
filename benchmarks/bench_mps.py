"""MPS circuits: tqsim against quimb's CircuitMPS on the same work, in one run.

Random brickwork circuits (RY on every qubit, then CZ on alternating
neighbour pairs, 10 layers) at n = 20, 40, 60, with the same ``max_bond`` (32)
and relative ``cutoff`` (1e-12, quimb's default mode 'rsum2') in both. Both
report the truncation error they accumulated: quimb's ``error_estimate()``
and tqsim's ``truncation_error()`` (sum of discarded weights). At n = 20 the
two final states are also compared with each other.

    python benchmarks/bench_mps.py [--quick]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

import tqsim as tq
from tqsim.bench.tools import brickwork, brickwork_circuit, median_time

MAX_BOND = 32
CUTOFF = 1e-12
DEPTH = 10


def run_quimb(n: int, layers):
    import quimb.tensor as qtn

    circ = qtn.CircuitMPS(n, max_bond=MAX_BOND, cutoff=CUTOFF)
    for angles, pairs in layers:
        for q, a in enumerate(angles):
            circ.apply_gate("RY", float(a), q)
        for a, b in pairs:
            circ.apply_gate("CZ", a, b)
    return circ


def run_tqsim(n: int, layers) -> tq.MPS:
    start = tq.MPS.zeros(n, max_bond=MAX_BOND, cutoff=CUTOFF, dtype=torch.complex128)
    return brickwork_circuit(n, layers).run(start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    import quimb

    sizes = (12, 20) if args.quick else (20, 40, 60)
    repeats = 3 if args.quick else 7
    print(f"CPU ({torch.get_num_threads()} threads), complex128, brickwork depth {DEPTH}, max_bond {MAX_BOND}, "
          f"cutoff {CUTOFF}; torch {torch.__version__}, quimb {quimb.__version__}")
    print("| n | tqsim (s) | quimb (s) | ratio tqsim/quimb | tqsim truncation error | quimb error estimate | max bond tqsim / quimb |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        layers = brickwork(n, DEPTH, seed=n)
        t_q, circ = median_time(lambda: run_quimb(n, layers), repeats)
        t_t, mps = median_time(lambda: run_tqsim(n, layers), repeats)
        print(f"| {n} | {t_t:.4f} | {t_q:.4f} | {t_t / t_q:.2f} | {mps.truncation_error():.3e} | "
              f"{circ.error_estimate():.3e} | {max(mps.bond_dimensions())} / {max(circ.psi.bond_sizes())} |")
        if n <= 20:
            dense = circ.psi.to_dense().ravel()
            overlap = abs(np.vdot(dense, mps.to_statevector().amplitudes().numpy())) ** 2
            print(f"|   | fidelity between the two final states at n = {n}: {overlap:.12f} | | | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
