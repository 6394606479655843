"""Per-gate cost of long circuits on few qubits: tqsim's ``Circuit.run`` against Qiskit Aer's run.

Where the state is small, a circuit of 10**5 gates is bound by the work done
per gate, not by the amplitudes. The circuits are the seeded random qelib1
circuits of bench_interop.py without the measurements (h, sx, t, rz or u3 on
every qubit, then cx on a brickwork of neighbour pairs), read once into both
simulators; reading files is bench_interop.py's business. Timed:

- tqsim, first run: ``circuit.run(tq.StateVector.zeros(n))`` of a circuit
  never run before (its seed differs from every earlier round's), so fusion
  plans it (the plan is kept per circuit structure);
- tqsim, again: the same circuit once more, its plan reused, as a loop over
  many states or a sweep of angles would run it;
- Aer: ``AerSimulator(method="statevector")`` running the same QuantumCircuit
  with ``save_statevector`` (its conversion of the circuit included, as a
  user's call includes it), one process, all cores.

Contenders alternate round by round; times are medians; the ratio is
tqsim / Aer (below 1: tqsim is faster). Every round checks that the two final
states agree (fidelity of the normalised states above 1 - 1e-9 in complex128,
1 - 1e-4 in complex64).

    pip install -e ".[bench]"
    python benchmarks/bench_gates.py                   # 6-12 qubits, 100 000 gates or so, both precisions
    python benchmarks/bench_gates.py --busy 2          # the same beside two busy processes
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

import tqsim as tq
from bench_interop import random_qasm
from tqsim.bench.tools import busy_processes

PRECISION = {torch.complex64: "single", torch.complex128: "double"}
AGREEMENT = {torch.complex64: 1e-4, torch.complex128: 1e-9}


def circuits(n: int, gates: int, seed: int):
    """The Qiskit circuit and the tqsim circuit of one seeded random circuit of about ``gates`` gates."""
    from qiskit import qasm2

    layers = max(1, round(gates / (n + (n - 1) / 2)))
    text, count = random_qasm(n, layers, seed)
    qc = qasm2.loads(text.replace("measure q -> c;\n", ""), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    return qc, tq.Circuit.from_qiskit(qc), count


def run_tqsim(circuit: tq.Circuit, dtype: torch.dtype) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    state = circuit.run(tq.StateVector.zeros(circuit.num_qubits, dtype=dtype))
    return time.perf_counter() - start, state.amplitudes().numpy()


def run_aer(qc, dtype: torch.dtype) -> tuple[float, np.ndarray]:
    from qiskit_aer import AerSimulator

    qc = qc.copy()
    qc.save_statevector()
    simulator = AerSimulator(method="statevector", precision=PRECISION[dtype])
    start = time.perf_counter()
    result = simulator.run(qc, shots=1).result()
    elapsed = time.perf_counter() - start
    # Aer's index is little-endian (qubit 0 last bit), tqsim's big-endian
    amplitudes = np.asarray(result.get_statevector())
    n = qc.num_qubits
    return elapsed, amplitudes.reshape((2,) * n).transpose(range(n - 1, -1, -1)).reshape(-1)


def check(ours: np.ndarray, theirs: np.ndarray, dtype: torch.dtype) -> None:
    """Fidelity of the normalised states (rounding drifts the norm of both over 10**5 single-precision gates)."""
    ours, theirs = (x.astype(complex) / np.linalg.norm(x) for x in (ours, theirs))
    fidelity = abs(np.vdot(ours, theirs)) ** 2
    if not 1 - fidelity < AGREEMENT[dtype]:
        raise SystemExit(f"tqsim and Aer disagree: fidelity {fidelity}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 8, 10, 12])
    parser.add_argument("--gates", type=int, default=100_000, help="about this many gates per circuit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0, help="busy processes to run beside the benchmark")
    args = parser.parse_args()

    import qiskit_aer

    with busy_processes(args.busy):
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), qiskit-aer {qiskit_aer.__version__}; "
              f"{os.cpu_count()} CPUs; {args.busy} busy processes beside; "
              f"medians of {args.rounds} alternating rounds after a warm-up")
        print("| n | gates | dtype | tqsim first run (us/gate) | tqsim again (us/gate) | Aer (us/gate) "
              "| ratio first / Aer | ratio again / Aer |")
        print("|---|---|---|---|---|---|---|---|")
        for n in args.sizes:
            for d, dtype in enumerate((torch.complex64, torch.complex128)):
                qc, circuit, count = circuits(n, args.gates, seed=0)
                run_tqsim(circuit, dtype), run_aer(qc, dtype)  # warm-up
                first, again, aer = [], [], []
                for r in range(args.rounds):
                    qc, circuit, count = circuits(n, args.gates, seed=1000 * n + 100 * d + r + 1)  # never planned before
                    t, ours = run_tqsim(circuit, dtype)
                    first.append(t)
                    t, ours = run_tqsim(circuit, dtype)
                    again.append(t)
                    t, theirs = run_aer(qc, dtype)
                    aer.append(t)
                    check(ours, theirs, dtype)
                f, g, a = (1e6 * statistics.median(x) / count for x in (first, again, aer))
                print(f"| {n} | {count} | {str(dtype).removeprefix('torch.')} | {f:.2f} | {g:.2f} | {a:.2f} | "
                      f"{f / a:.2f} | {g / a:.2f} |", flush=True)


if __name__ == "__main__":
    main()
