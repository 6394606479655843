"""Dense state-vector speed: tqsim against qsim, Lightning and Qiskit Aer on the CPU, bandwidth on the GPU.

CPU: random circuits, RY on every qubit then a CZ brickwork, 10 layers, from
|0...0>, at ``--sizes`` (default n = 12, 16, 20, 22, 24) in ``--dtypes``
(default complex64 and complex128), through the simulators below. Every gate
of that circuit is real, so tqsim evolves the real parts alone (the imaginary
parts stay zero); ``--rotation rx`` puts RX in place of RY, for complex
amplitudes throughout, a circuit every simulator handles in complex arithmetic.

- tqsim: ``Circuit.run``, with the circuit built inside the timed region, so
  its gate fusion is timed too,
- qsim (``qsimcirq.QSimSimulator``) with ``max_fused_gate_size`` 2, 3 and 4,
  the best of the three reported; qsim is single precision only, so it runs
  in complex64 only,
- PennyLane's ``lightning.qubit`` (``c_dtype`` the dtype), a QNode returning
  ``qml.state()``,
- Qiskit Aer's statevector method (``precision`` "single" or "double"), its
  default gate fusion on.

Every simulator gets the threads torch uses (qsim's own default is one
thread). Cirq and PennyLane order qubits as tqsim does (qubit 0 most
significant); Qiskit is little-endian, so our qubit q is its qubit n-1-q.
Before timing, each peer's final state is compared with tqsim's: the script
refuses to time a peer whose fidelity |<a|b>|^2 is off 1 by 1e-5 or more
(complex64; 1e-10 in complex128), so all did the same work.

Each simulator runs in a process of its own (two OpenMP runtimes in one
process slow each other down, docs/benchmarks.md), one stepping at a time, in
``--rounds`` alternating rounds; each round runs every simulator once to warm
up, then times ``--calls`` runs and keeps their median. The table shows the
median over rounds in ms, the ratio tqsim / peer (below 1: tqsim is faster)
and the worst 1 - F. ``--busy 2`` runs everything beside two processes
spinning on the CPU, as on a shared machine; ``--slowdown 2`` times every
simulator quiet and beside two busy processes in alternate passes of each
round, and prints each one's slowdown (busy / quiet) and tqsim's slowdown over
each peer's. Beside them runs a reference job: plain one-thread NumPy
arithmetic on a small array, as long as tqsim's quiet run, which shows what the
scheduler alone does to a job of that length. ``--threads 1`` runs every simulator on one thread, so the
slowdowns compare simulators that use the same share of the machine when
quiet. ``--peers`` picks a subset;
a peer whose package is missing is skipped unless asked for by name.

``--bandwidth``: the CPU's side of memory speed instead of the peers. For each
size, a copy of the ket into a buffer (what the memory system gives), then
blocks of 1-5 qubits in the middle of the register, ending at its last qubit,
and spread over it, and a diagonal on 2 qubits, each through
``tqsim.tensor.apply_matrix`` into a buffer (the PyTorch path) and through the
compiled kernel in place (``tqsim.tensor.cpu_kernels``); each block's result
is checked against ``torch.einsum`` on the grouped view before it is timed. Effective bandwidth = bytes read + written
(2 x 2**n x the amplitude size) / time; the last column is the share of the
copy's bandwidth.

GPU (complex64): effective bandwidth of one 1-qubit and one 2-qubit gate
(bytes read + written / time) at n = 24, 28, 30, through ``tqsim.tensor.apply_matrix``
(the routine every gate goes through), next to plain ``torch.einsum`` on the
grouped view and a device-to-device copy; ``state.apply`` adds the Python
around it (building the gate matrix, checks), shown in its own column.

    pip install -e ".[bench]"
    python benchmarks/bench_dense.py            # CPU part, then GPU part if CUDA is present
    python benchmarks/bench_dense.py --busy 2   # the CPU part beside two busy processes
    python benchmarks/bench_dense.py --slowdown 2 --sizes 20 22   # quiet and busy alternately: slowdowns
    python benchmarks/bench_dense.py --rotation rx   # a circuit with complex amplitudes
    python benchmarks/bench_dense.py --sizes 12 16 --dtypes complex64 --peers qsim --rounds 1   # a quick look
    python benchmarks/bench_dense.py --bandwidth --sizes 20 22 24   # CPU bandwidth against a copy
    python benchmarks/bench_dense.py --gpu      # GPU part only (no peer packages needed)
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import statistics
import sys
import time
import traceback

import numpy as np
import torch

import tqsim as tq
from tqsim.bench.tools import (after_a_pause, alternating_rounds, brickwork, brickwork_circuit, busy_processes,
                                median_time)

DEPTH = 10
DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}
TOLERANCE = {"complex64": 1e-5, "complex128": 1e-10}  # on 1 - fidelity
QSIM_FUSIONS = (2, 3, 4)
# peer: (modules it needs, distribution whose version labels it, label, dtypes it runs)
PEERS = {
    "qsim": (("qsimcirq", "cirq"), "qsimcirq", "qsim {} (best fusion)", ("complex64",)),
    "lightning": (("pennylane", "pennylane_lightning"), "pennylane_lightning", "lightning.qubit {}",
                  ("complex64", "complex128")),
    "aer": (("qiskit", "qiskit_aer"), "qiskit-aer", "Aer {}", ("complex64", "complex128")),
}
SHORT = {"qsim": "qsim", "lightning": "lightning.qubit", "aer": "Aer"}


def qiskit_circuit(n, layers, rotation):
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(n)
    # Qiskit is little-endian: our qubit q is its qubit n-1-q, so amplitudes line up
    for angles, pairs in layers:
        for q, a in enumerate(angles):
            getattr(qc, rotation)(float(a), n - 1 - q)
        for a, b in pairs:
            qc.cz(n - 1 - a, n - 1 - b)
    qc.save_statevector()
    return qc


def cirq_circuit(n, layers, rotation):
    import cirq

    # Cirq orders qubits by LineQubit index, the first most significant: our qubit q is LineQubit(q)
    qubits = cirq.LineQubit.range(n)
    circuit = cirq.Circuit()
    for angles, pairs in layers:
        circuit.append(cirq.Moment(getattr(cirq, rotation)(float(a)).on(qubits[q]) for q, a in enumerate(angles)))
        circuit.append(cirq.Moment(cirq.CZ(qubits[a], qubits[b]) for a, b in pairs))
    return circuit


def runners(simulator: str, n: int, dtype: str, threads: int, rotation: str, seconds: float = 0.0) -> dict:
    """``{variant: (run, state_of)}``: ``run()`` simulates the circuit, ``state_of(run())`` is its final
    state as a NumPy vector in tqsim's qubit order. qsim has one variant per fusion size, the others one.
    "reference" is no simulator: :func:`reference_job` of ``seconds``."""
    if simulator == "reference":
        return {"": (reference_job(seconds), lambda result: None)}
    layers = brickwork(n, DEPTH, seed=n)
    if simulator == "tqsim":
        torch.set_num_threads(threads)
        start = tq.StateVector.zeros(n, dtype=DTYPES[dtype])

        def run_tqsim():
            return brickwork_circuit(n, layers, rotation).run(start)  # circuit built inside: fusion is timed

        return {"": (run_tqsim, lambda state: state.amplitudes().detach().cpu().numpy())}
    if simulator == "qsim":
        import qsimcirq

        circuit = cirq_circuit(n, layers, rotation)
        sims = {f: qsimcirq.QSimSimulator(qsimcirq.QSimOptions(max_fused_gate_size=f, cpu_threads=threads))
                for f in QSIM_FUSIONS}
        return {f: (lambda sim=sim: sim.simulate(circuit), lambda result: result.final_state_vector)
                for f, sim in sims.items()}
    if simulator == "lightning":
        import pennylane as qml

        device = qml.device("lightning.qubit", wires=n, c_dtype=np.dtype(dtype).type)

        @qml.qnode(device)
        def state():  # PennyLane wires are big-endian as tqsim
            for angles, pairs in layers:
                for q, a in enumerate(angles):
                    (qml.RY if rotation == "ry" else qml.RX)(float(a), wires=q)
                for a, b in pairs:
                    qml.CZ(wires=[a, b])
            return qml.state()

        return {"": (state, np.asarray)}
    if simulator == "aer":
        from qiskit_aer import AerSimulator

        sim = AerSimulator(method="statevector", precision="single" if dtype == "complex64" else "double",
                           max_parallel_threads=threads)
        qc = qiskit_circuit(n, layers, rotation)
        return {"": (lambda: sim.run(qc).result(), lambda result: np.asarray(result.get_statevector()))}
    raise ValueError(simulator)


def reference_job(seconds: float):
    """A job that takes ``seconds`` on this machine when it is quiet, on one thread: plain NumPy arithmetic on
    4096 numbers in place, so no memory traffic and no second thread. Beside busy processes it shows what the
    scheduler alone does to a job of that length (a job of a few ms waits out whole time slices of theirs)."""
    numbers = np.ones(4096)

    def job(steps: int) -> None:
        for _ in range(steps):
            np.multiply(numbers, 1.0000001, out=numbers)

    job(1000)
    per_step = min(_timed(job, 2000) for _ in range(5)) / 2000
    steps = max(1, round(seconds / per_step))
    return lambda: job(steps)


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def median_call_time(run, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def serve(connection, simulator: str, n: int, dtype: str, threads: int, rotation: str,
          seconds: float = 0.0) -> None:  # pragma: no cover - a worker
    """One simulator in a process of its own: answers "check" with ``{variant: final state}``, a number k
    with ``{variant: median time of k runs}`` (each variant warmed up first), None by exiting."""
    try:
        variants = runners(simulator, n, dtype, threads, rotation, seconds)
        while True:
            request = connection.recv()
            if request is None:
                return
            if request == "check":
                connection.send({v: state_of(run()) for v, (run, state_of) in variants.items()})
            else:
                times = {}
                for v, (run, _) in variants.items():
                    run()  # warm-up inside the round, so each timing starts from the same cache state
                    times[v] = median_call_time(run, request)
                connection.send(times)
    except Exception:
        connection.send(("error", traceback.format_exc()))


def ask(workers: dict, name: str, request):
    connection = workers[name][1]
    connection.send(request)
    answer = connection.recv()
    if isinstance(answer, tuple) and answer[:1] == ("error",):
        raise SystemExit(f"{name} failed:\n{answer[1]}")
    return answer


def fidelity(a: np.ndarray, b: np.ndarray) -> float:
    """|<a|b>|^2 in double precision: blind to a global phase, not to a wrong norm."""
    return abs(np.vdot(a.astype(np.complex128), b.astype(np.complex128))) ** 2


def measure(n: int, dtype: str, rounds: int, calls: int, peers: list[str], rotation: str, contention: int = 0) -> dict:
    """Every simulator in its own process, stepping one at a time, in alternating rounds. With
    ``contention`` (a number of busy processes), each round times every simulator quiet and then beside
    that many busy processes, and the row holds both and each simulator's slowdown."""
    context = multiprocessing.get_context("spawn")
    threads = torch.get_num_threads()
    workers = {}
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)  # Lightning's OpenMP threads: as many as torch's
    try:
        for name in ["tqsim", *peers]:
            parent, child = context.Pipe()
            process = context.Process(target=serve, args=(child, name, n, dtype, threads, rotation), daemon=True)
            process.start()
            workers[name] = (process, parent)
        if saved is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = saved
        reference = ask(workers, "tqsim", "check")[""]
        infidelity = {}
        for name in peers:
            for variant, state in ask(workers, name, "check").items():
                miss = abs(1 - fidelity(reference, state))
                infidelity[f"{name} {variant}".strip()] = miss
                if not miss < TOLERANCE[dtype]:
                    raise SystemExit(f"n={n} {dtype}: {name} {variant} disagrees with tqsim: "
                                     f"1 - fidelity = {miss:.2e} (tolerance {TOLERANCE[dtype]:.0e})")
        del reference
        if contention:  # a plain one-thread job as long as tqsim's quiet run, started now that all is quiet
            length = statistics.median(after_a_pause(ask, workers, "tqsim", calls)[""] for _ in range(3))
            parent, child = context.Pipe()
            process = context.Process(target=serve, args=(child, "reference", n, dtype, 1, rotation, length),
                                      daemon=True)
            process.start()
            workers["reference"] = (process, parent)
            ask(workers, "reference", "check")  # calibrated before any round starts
        times = alternating_rounds(list(workers), rounds, (0, contention) if contention else (0,),
                                   lambda name: ask(workers, name, calls))
    finally:
        for process, connection in workers.values():
            try:
                connection.send(None)
            except OSError:
                pass
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    every = {key: {v: statistics.median(r[v] for r in t) for v in t[0]} for key, t in times.items()}
    medians = {name: m for (busy, name), m in every.items() if busy == 0}
    ms = {name: 1e3 * min(m.values()) for name, m in medians.items()}
    row = {"n": n, "dtype": dtype, "ms": ms, "ratio": {p: ms["tqsim"] / ms[p] for p in peers},
           "one_minus_fidelity": infidelity}
    if contention:
        busy_ms = {name: 1e3 * min(m.values()) for (busy, name), m in every.items() if busy}
        slowdown = {name: busy_ms[name] / ms[name] for name in ms}
        row.update(busy_ms=busy_ms, slowdown=slowdown,
                   slowdown_ratio={p: slowdown["tqsim"] / slowdown[p] for p in [*peers, "reference"]})
    if "qsim" in medians:
        row["qsim_fusion_ms"] = {f: 1e3 * t for f, t in medians["qsim"].items()}
        row["qsim_best_fusion"] = min(medians["qsim"], key=medians["qsim"].get)
    return row


def available_peers(asked: list[str] | None) -> list[str]:
    """The peers to time: those asked for (all must be installed), or every installed one."""
    chosen = []
    for peer in asked or PEERS:
        missing = [m for m in PEERS[peer][0] if importlib.util.find_spec(m) is None]
        if not missing:
            chosen.append(peer)
            continue
        message = f"bench_dense.py: {peer} needs {', '.join(missing)}: pip install 'tqsim[bench]'"
        if asked:
            raise SystemExit(message)
        print(message + f" (skipping {peer})", file=sys.stderr)
    return chosen


def cpu_part(sizes, dtypes, rounds, calls, peers, busy, rotation="ry", contention=0):
    threads = torch.get_num_threads()
    labels = {p: PEERS[p][2].format(".".join(importlib.metadata.version(PEERS[p][1]).split(".")[:2]))
              for p in peers}
    versions = "".join(f", {PEERS[p][1]} {importlib.metadata.version(PEERS[p][1])}" for p in peers)
    beside = (f"quiet and beside {contention} busy processes, alternately" if contention
              else f"{busy} busy processes beside")
    print(f"\nCPU, {rotation.upper()} + CZ brickwork, depth {DEPTH}; torch {torch.__version__} ({threads} threads){versions}; "
          f"{beside}; medians of {rounds} alternating rounds of {calls} runs")
    if contention:
        names, compared = ["tqsim", *peers, "reference"], [*peers, "reference"]
        long, short = {**labels, "tqsim": "tqsim", "reference": "reference job"}, {**SHORT, "reference": "reference job"}
        print("| " + " | ".join(["n", "dtype", *(f"{long[p]} quiet / busy ms" for p in names),
                                 *(f"{short.get(p, p)} slowdown" for p in names),
                                 *(f"tqsim slowdown / {short[p]}'s" for p in compared)]) + " |")
        print("|" + "---|" * (1 + 3 * len(names)))
    else:
        print("| n | dtype | tqsim ms | " + "".join(f"{labels[p]} ms | " for p in peers)
              + "".join(f"tqsim / {SHORT[p]} | " for p in peers) + "worst 1-F |")
        print("|" + "---|" * (4 + 2 * len(peers)))
    rows = []
    with busy_processes(0 if contention else busy):
        for n in sizes:
            for dtype in dtypes:
                here = [p for p in peers if dtype in PEERS[p][3]]
                row = measure(n, dtype, rounds, calls, here, rotation, contention)
                rows.append(row)
                if contention:
                    timed = [p for p in names if p in row["ms"]]
                    cells = [str(n), dtype,
                             *(f"{row['ms'][p]:.1f} / {row['busy_ms'][p]:.1f}" if p in timed else "-" for p in names),
                             *(f"{row['slowdown'][p]:.2f}x" if p in timed else "-" for p in names),
                             *(f"{row['slowdown_ratio'][p]:.2f}" if p in row["slowdown_ratio"] else "-"
                               for p in compared)]
                    print("| " + " | ".join(cells) + " |", flush=True)
                    continue
                cells = "".join(f"{row['ms'][p]:.3f} | " if p in here else "- | " for p in peers)
                ratios = "".join(f"{row['ratio'][p]:.2f} | " if p in here else "- | " for p in peers)
                worst = f"{max(row['one_minus_fidelity'].values()):.1e}" if here else "-"
                print(f"| {n} | {dtype} | {row['ms']['tqsim']:.3f} | {cells}{ratios}{worst} |", flush=True)
    return {"busy": busy, "contention": contention, "threads": threads, "rotation": rotation, "labels": labels,
            "rows": rows}


def cpu_bandwidth(sizes, dtypes, repeats: int) -> list[dict]:
    """Effective bandwidth of single blocks through ``apply_matrix`` (the PyTorch path) and through the
    compiled kernel (in place), against a plain copy of the ket."""
    from tqsim.tensor import apply_diagonal, apply_matrix, cpu_kernels

    kernel = cpu_kernels.available()
    print(f"\nCPU, torch {torch.__version__} ({torch.get_num_threads()} threads): effective bandwidth = "
          f"2 * 2**n * amplitude bytes / time; median of {repeats} calls; kernel: {cpu_kernels.status()}")
    print("| n | dtype | block | qubits | PyTorch ms | kernel ms | PyTorch GB/s | kernel GB/s "
          "| PyTorch share of a copy | kernel share of a copy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    gen = torch.Generator().manual_seed(0)
    for n in sizes:
        for dtype in dtypes:
            amps = tq.StateVector.random(n, generator=gen, dtype=DTYPES[dtype]).amplitudes()
            out, work = torch.empty_like(amps), amps.clone()
            nbytes = 2 * amps.numel() * amps.element_size()
            cases = [("copy", None, [])]
            for k in range(1, 6):
                u = torch.linalg.qr(torch.randn(1 << k, 1 << k, dtype=DTYPES[dtype], generator=gen))[0]
                middle = n // 2 - k // 2
                cases += [(f"{k}-qubit", u, list(range(middle, middle + k))), (f"{k}-qubit", u, list(range(n - k, n)))]
                if k > 1:  # targets between other qubits, the last among them
                    cases.append((f"{k}-qubit", u, [round(j * (n - 1) / (k - 1)) for j in range(k)]))
            phases = torch.exp(1j * torch.rand(4, generator=gen, dtype=torch.float64)).to(DTYPES[dtype])
            cases.append(("2-qubit diagonal", phases, [n // 2, n // 2 + 1]))
            copy_rate = None
            for label, op, qubits in cases:
                diagonal = op is not None and op.ndim == 1
                if op is None:
                    run = lambda: out.copy_(amps)  # noqa: E731
                elif diagonal:
                    expected = amps * torch.kron(torch.ones(1 << qubits[0], dtype=op.dtype),
                                                 torch.kron(op, torch.ones(1 << (n - 2 - qubits[0]), dtype=op.dtype)))
                    run = lambda op=op, qubits=qubits: apply_diagonal(amps, op, qubits, out=out)  # noqa: E731
                else:
                    expected = einsum_gate(amps, op, qubits, n)
                    run = lambda op=op, qubits=qubits: apply_matrix(amps, op, qubits, out=out)  # noqa: E731
                seconds, _ = median_time(run, repeats)
                kernel_seconds = float("nan")
                if op is not None:
                    if not torch.allclose(out, expected, atol=TOLERANCE[dtype] ** 0.5):
                        raise SystemExit(f"{label} on {qubits} at n = {n} differs from torch.einsum")
                    if kernel:
                        work.copy_(amps)
                        cpu_kernels.apply_in_place(work, op, qubits, diagonal)
                        if not torch.allclose(work, expected, atol=TOLERANCE[dtype] ** 0.5):
                            raise SystemExit(f"the kernel's {label} on {qubits} at n = {n} differs from torch.einsum")
                        kernel_seconds, _ = median_time(
                            lambda op=op, qubits=qubits: cpu_kernels.apply_in_place(work, op, qubits, diagonal), repeats)
                rate, kernel_rate = nbytes / seconds / 1e9, nbytes / kernel_seconds / 1e9
                copy_rate = copy_rate or rate
                span = ",".join(map(str, qubits)) if qubits else "-"
                print(f"| {n} | {dtype} | {label} | {span} | {seconds * 1e3:.3f} | {kernel_seconds * 1e3:.3f} "
                      f"| {rate:.2f} | {kernel_rate:.2f} | {rate / copy_rate:.2f} | {kernel_rate / copy_rate:.2f} |",
                      flush=True)
                rows.append({"n": n, "dtype": dtype, "block": label, "qubits": qubits, "ms": seconds * 1e3,
                             "kernel_ms": kernel_seconds * 1e3, "gb_per_s": rate, "kernel_gb_per_s": kernel_rate,
                             "share_of_copy": rate / copy_rate, "kernel_share_of_copy": kernel_rate / copy_rate})
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
    """The plain baseline: torch.einsum on the grouped view, what a first version writes (adjacent qubits in
    order; others by a tensordot over the view with one axis per qubit)."""
    k = len(qubits)
    if list(qubits) != list(range(qubits[0], qubits[0] + k)):
        moved = torch.tensordot(matrix.reshape([2] * (2 * k)), state.reshape([2] * n),
                                dims=(list(range(k, 2 * k)), list(qubits)))
        return torch.movedim(moved, list(range(k)), list(qubits)).reshape(-1)
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
        scratch = None  # free it (not del: the timing lambdas close over the name)
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
        out = state = amps = None
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
    parser.add_argument("--sizes", type=int, nargs="+", help="CPU sizes (default 12 16 20 22 24; --quick: 12 16)")
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES), default=list(DTYPES),
                        help="CPU dtypes (default complex64 complex128)")
    parser.add_argument("--peers", nargs="+", choices=list(PEERS),
                        help="CPU peers to time (default: every one installed)")
    parser.add_argument("--rounds", type=int, help="alternating rounds on the CPU (default 5; --quick: 2)")
    parser.add_argument("--calls", type=int, default=3, help="timed runs per simulator per round (default 3)")
    parser.add_argument("--busy", type=int, default=0, help="processes spinning beside the CPU part (default 0)")
    parser.add_argument("--slowdown", type=int, metavar="K", default=0,
                        help="time every simulator quiet and beside K busy processes in alternate passes of each "
                             "round, and print each one's slowdown")
    parser.add_argument("--threads", type=int,
                        help="threads for every simulator (default: torch's, which follows OMP_NUM_THREADS)")
    parser.add_argument("--rotation", choices=["ry", "rx"], default="ry",
                        help="the CPU circuit's rotations: ry (real amplitudes, the default) or rx (complex)")
    parser.add_argument("--bandwidth", action="store_true",
                        help="CPU: bandwidth of single blocks against a copy of the ket, instead of the peers")
    parser.add_argument("--out", help="folder for bench_dense.json")
    args = parser.parse_args(argv)
    if args.slowdown and args.busy:
        parser.error("--slowdown K already runs beside K busy processes; drop --busy")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    results = {}
    if args.bandwidth and not args.gpu:
        sizes = args.sizes or ([16, 20] if args.quick else [20, 22, 24])
        results["cpu_bandwidth"] = cpu_bandwidth(sizes, args.dtypes, repeats=5 if args.quick else 15)
    elif not args.gpu:
        sizes = args.sizes or ([12, 16] if args.quick else [12, 16, 20, 22, 24])
        rounds = args.rounds or (2 if args.quick else 5)
        results["cpu"] = cpu_part(sizes, args.dtypes, rounds, args.calls, available_peers(args.peers), args.busy,
                                  args.rotation, args.slowdown)
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
