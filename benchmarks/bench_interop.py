"""End to end from an OpenQASM 2 file: read it, simulate, sample 1000 shots; tqsim against Qiskit Aer.

The circuits are seeded random qelib1 circuits written to a temporary file:
each layer puts one of h, sx, t, rz, u3 on every qubit and cx on a brickwork
of neighbour pairs, then every qubit is measured. Both contenders start from
the file:

- tqsim: ``tq.Circuit.from_qasm(path)`` (Qiskit's Rust OpenQASM 2 parser, then
  conversion), then ``tq.counts(circuit, 1000, seed=..., state=...)``, which
  runs the gates once and samples the final state;
- Qiskit: ``qiskit.qasm2.load(path)``, then ``AerSimulator(method="statevector")``
  with ``shots=1000`` (its default fusion on, one process, all cores).

The contenders alternate round by round so a drift of a shared machine hits
both alike; times are medians. Ratio = tqsim / Aer (below 1: tqsim is faster).
The parse column is tqsim's reading time and its share of tqsim's total.
Both samples are compared with the exact distribution of the first four bits
(total-variation distance, about 0.06 for 1000 shots), so both did the same work.

    pip install -e ".[bench]"
    python benchmarks/bench_interop.py                # 20 and 24 qubits, complex64 and complex128
    python benchmarks/bench_interop.py --busy 2       # the same beside two busy processes
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch

import tqsim as tq
from tqsim.bench.tools import busy_processes

SHOTS = 1000


def random_qasm(n: int, layers: int, seed: int) -> tuple[str, int]:
    """OpenQASM 2 text of a seeded random circuit, and its gate count (measurements excluded)."""
    rng = np.random.default_rng(seed)
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n}];", f"creg c[{n}];"]
    gates = 0
    for layer in range(layers):
        for q in range(n):
            kind = rng.integers(5)
            if kind == 0:
                lines.append(f"h q[{q}];")
            elif kind == 1:
                lines.append(f"sx q[{q}];")
            elif kind == 2:
                lines.append(f"t q[{q}];")
            elif kind == 3:
                lines.append(f"rz({float(rng.uniform(-np.pi, np.pi))!r}) q[{q}];")
            else:
                a, b, c = map(float, rng.uniform(-np.pi, np.pi, 3))
                lines.append(f"u3({a!r},{b!r},{c!r}) q[{q}];")
            gates += 1
        for q in range(layer % 2, n - 1, 2):
            lines.append(f"cx q[{q}],q[{q + 1}];")
            gates += 1
    lines.append("measure q -> c;")
    return "\n".join(lines) + "\n", gates


def run_tqsim(path: str, dtype: torch.dtype, seed: int) -> tuple[float, float, dict[str, int]]:
    start = time.perf_counter()
    circuit = tq.Circuit.from_qasm(path)
    parsed = time.perf_counter()
    counts = tq.counts(circuit, SHOTS, seed=seed, state=tq.StateVector.zeros(circuit.num_qubits, dtype=dtype))
    return parsed - start, time.perf_counter() - start, counts


def run_aer(path: str, precision: str, seed: int) -> tuple[float, dict[str, int]]:
    from qiskit import qasm2
    from qiskit_aer import AerSimulator

    start = time.perf_counter()
    qc = qasm2.load(path, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    result = AerSimulator(method="statevector", precision=precision).run(qc, shots=SHOTS, seed_simulator=seed).result()
    counts = result.get_counts()
    # Aer writes clbit 0 last; tqsim first
    return time.perf_counter() - start, {k.replace(" ", "")[::-1]: v for k, v in counts.items()}


def marginal_distance(counts: dict[str, int], probabilities: torch.Tensor, k: int = 4) -> float:
    """Total-variation distance between the sampled and exact distributions of the first ``k`` bits.

    (1000 shots cannot resolve 2**20 outcomes; 16 of them they can, to about 0.06.)
    """
    n = probabilities.numel().bit_length() - 1
    exact = probabilities.double().reshape(1 << k, 1 << (n - k)).sum(1)
    sampled = torch.zeros(1 << k, dtype=torch.float64)
    for key, v in counts.items():
        sampled[int(key[:k], 2)] += v / SHOTS
    return 0.5 * float((sampled - exact).abs().sum())



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 24])
    parser.add_argument("--layers", type=int, nargs="+", default=[130, 60],
                        help="layers per size (20 qubits x 130 layers = 3900 gates)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0, help="busy processes to run beside the benchmark")
    args = parser.parse_args()
    layers = dict(zip(args.sizes, args.layers + args.layers[-1:] * len(args.sizes)))

    import qiskit
    import qiskit_aer

    with busy_processes(args.busy):
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), qiskit {qiskit.__version__}, "
              f"qiskit-aer {qiskit_aer.__version__}; {os.cpu_count()} CPUs; {args.busy} busy processes beside; "
              f"{SHOTS} shots; medians of {args.rounds} alternating rounds after a warm-up")
        print("| n | gates | dtype | tqsim parse (s) | tqsim total (s) | parse share | Aer total (s) "
              "| ratio tqsim/Aer | TV tqsim | TV Aer |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as folder:
            for n in args.sizes:
                text, gates = random_qasm(n, layers[n], seed=n)
                path = os.path.join(folder, f"random_{n}.qasm")
                with open(path, "w") as f:
                    f.write(text)
                for dtype, precision in ((torch.complex64, "single"), (torch.complex128, "double")):
                    exact = tq.Circuit.from_qasm(path)
                    exact = tq.Circuit(n).extend(op for op in exact if op.name != "measure")
                    probabilities = exact.run(tq.StateVector.zeros(n, dtype=dtype)).probabilities()
                    run_tqsim(path, dtype, 0), run_aer(path, precision, 0)  # warm-up
                    parse, ours, theirs = [], [], []
                    for r in range(args.rounds):
                        p, t, our_counts = run_tqsim(path, dtype, r)
                        a, aer_counts = run_aer(path, precision, r)
                        parse.append(p), ours.append(t), theirs.append(a)
                    p, t, a = (statistics.median(x) for x in (parse, ours, theirs))
                    print(f"| {n} | {gates} | {str(dtype).removeprefix('torch.')} | {p:.3f} | {t:.3f} | "
                          f"{100 * p / t:.1f}% | {a:.3f} | {t / a:.2f} | "
                          f"{marginal_distance(our_counts, probabilities):.3f} | "
                          f"{marginal_distance(aer_counts, probabilities):.3f} |", flush=True)
                    del probabilities


if __name__ == "__main__":
    main()
