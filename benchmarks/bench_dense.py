"""Dense state-vector speed: tqsim against Qiskit Aer on the CPU, bandwidth on the GPU.

CPU (complex128): random circuits, RY on every qubit then a CZ brickwork, 10
layers, at n = 16, 20, 22; the same circuit through Qiskit Aer's statevector
method (its default gate fusion on) and through ``Circuit.run``, timed side by
side in one process. Ratio = tqsim time / Aer time (below 1: tqsim is faster).
The two final states are compared, so both did the same work.

GPU (complex64): effective bandwidth of one 1-qubit and one 2-qubit gate
(bytes read + written / time) at n = 24, 28, 30, through ``tqsim.tensor.apply_matrix``
(the routine every gate goes through), next to plain ``torch.einsum`` on the
grouped view and a device-to-device copy; ``state.apply`` adds the Python
around it (building the gate matrix, checks), shown in its own column.

    python benchmarks/bench_dense.py            # CPU part, then GPU part if CUDA is present
    python benchmarks/bench_dense.py --gpu      # GPU part only (no Qiskit needed)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import numpy as np
import torch

import tqsim as tq
from tqsim.bench.tools import brickwork, brickwork_circuit, median_time


def qiskit_circuit(n, layers):
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(n)
    # Qiskit is little-endian: our qubit q is its qubit n-1-q, so amplitudes line up
    for angles, pairs in layers:
        for q, a in enumerate(angles):
            qc.ry(float(a), n - 1 - q)
        for a, b in pairs:
            qc.cz(n - 1 - a, n - 1 - b)
    qc.save_statevector()
    return qc


def cpu_part(sizes, depth, repeats):
    from qiskit_aer import AerSimulator
    import qiskit_aer

    sim = AerSimulator(method="statevector", precision="double")
    rows = []
    print(f"\nCPU, complex128, RY + CZ brickwork, depth {depth}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), qiskit-aer {qiskit_aer.__version__}")
    print("| n | tqsim (s) | Aer (s) | ratio tqsim/Aer | max |amp diff| |")
    print("|---|---|---|---|---|")
    for n in sizes:
        layers = brickwork(n, depth, seed=n)
        qc = qiskit_circuit(n, layers)
        start = tq.StateVector.zeros(n, dtype=torch.complex128)

        def run_tqsim():
            return brickwork_circuit(n, layers).run(start)  # circuit built inside: fusion is timed

        t_aer, res = median_time(lambda: sim.run(qc).result(), repeats)
        t_tq, state = median_time(run_tqsim, repeats)
        aer_state = np.asarray(res.get_statevector())
        diff = float(np.abs(aer_state - state.amplitudes().numpy()).max())
        rows.append({"n": n, "tqsim_s": t_tq, "aer_s": t_aer, "ratio": t_tq / t_aer, "max_diff": diff})
        print(f"| {n} | {t_tq:.4f} | {t_aer:.4f} | {t_tq / t_aer:.2f} | {diff:.1e} |")
    return rows


def cuda_time(fn, repeats: int) -> float:
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    return statistics.median(times)


def einsum_gate(state: torch.Tensor, matrix: torch.Tensor, qubits, n: int) -> torch.Tensor:
    """The plain baseline: torch.einsum on the grouped view, what a first version writes."""
    k = len(qubits)
    lo = qubits[0]
    view = state.view(1 << lo, 1 << k, 1 << (n - lo - k))
    return torch.einsum("ij,ajb->aib", matrix, view).reshape(-1)


def gpu_part(sizes, repeats):
    print(f"\nGPU {torch.cuda.get_device_name()}, complex64, torch {torch.__version__}: "
          "effective bandwidth = 2 * 8 bytes * 2**n / time")
    print("| n | gate | qubits | kernel ms | TB/s | einsum TB/s | copy TB/s | speed-up vs einsum | state.apply ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    gen = torch.Generator(device="cuda").manual_seed(0)
    for n in sizes:
        state = tq.StateVector.random(n, generator=gen, dtype=torch.complex64, device="cuda")
        amps = state.amplitudes()
        nbytes = 2 * amps.numel() * amps.element_size()
        scratch = torch.empty_like(amps)
        t_copy = cuda_time(lambda: scratch.copy_(amps), repeats)
        del scratch
        u2 = torch.linalg.qr(torch.randn(4, 4, dtype=torch.complex64, device="cuda", generator=gen))[0]
        cases = [
            ("1q RY", tq.gates.ry(0.3, n // 2), [n // 2]),
            ("1q RY", tq.gates.ry(0.3, n - 1), [n - 1]),
            ("2q unitary", tq.gates.unitary(u2, [n // 2, n // 2 + 1]), [n // 2, n // 2 + 1]),
            ("2q unitary", tq.gates.unitary(u2, [n - 2, n - 1]), [n - 2, n - 1]),
        ]
        out = torch.empty_like(amps)
        for label, gate, qubits in cases:
            with torch.no_grad():
                m = gate.matrix(torch.complex64, "cuda")
                t = cuda_time(lambda: tq.tensor.apply_matrix(amps, m, qubits, out=out), repeats)
                t_einsum = cuda_time(lambda: einsum_gate(amps, m, qubits, n), repeats)
                t_api = cuda_time(lambda: state.apply(gate), repeats)
            row = {"n": n, "gate": label, "qubits": qubits, "kernel_ms": t * 1e3, "tb_s": nbytes / t / 1e12,
                   "einsum_tb_s": nbytes / t_einsum / 1e12, "copy_tb_s": nbytes / t_copy / 1e12,
                   "apply_ms": t_api * 1e3}
            rows.append(row)
            print(f"| {n} | {label} | {qubits} | {t * 1e3:.3f} | {row['tb_s']:.2f} | {row['einsum_tb_s']:.2f} | "
                  f"{row['copy_tb_s']:.2f} | {t_einsum / t:.1f}x | {t_api * 1e3:.3f} |")
        del out
        del state, amps
        torch.cuda.empty_cache()
    print("\n| n | brickwork depth 10 on the GPU, complex64 (ms) |\n|---|---|")
    for n in sizes:
        layers = brickwork(n, 10, seed=n)
        start = tq.StateVector.zeros(n, dtype=torch.complex64, device="cuda")
        with torch.no_grad():
            t = cuda_time(lambda: brickwork_circuit(n, layers).run(start), max(3, repeats // 5))
        rows.append({"n": n, "circuit": "brickwork depth 10", "ms": t * 1e3})
        print(f"| {n} | {t * 1e3:.2f} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="GPU part only")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--out", help="folder for bench_dense.json")
    args = parser.parse_args(argv)
    results = {}
    if not args.gpu:
        sizes = (12, 16) if args.quick else (16, 20, 22)
        results["cpu"] = cpu_part(sizes, depth=10, repeats=3 if args.quick else 7)
    if torch.cuda.is_available():
        sizes = (20, 24) if args.quick else (24, 28, 30)
        results["gpu"] = gpu_part(sizes, repeats=10 if args.quick else 30)
    elif args.gpu:
        print("no CUDA device: nothing to do", file=sys.stderr)
        return 1
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "bench_dense.json"), "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
