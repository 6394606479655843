"""One variational training step: tqsim against PennyLane Lightning's adjoint method.

The step is the one ``tqsim maxcut`` takes: the one-directional family (per
layer RY on every qubit, then the CNOT ladder q -> q+1) on a random 3-regular
graph, loss ``-<C>`` with ``C = sum_(ij) w_ij (1 - Z_i Z_j) / 2``, forward and
backward, complex64. The same circuit runs through

- tqsim (``model.loss(model())`` then ``backward()``), with its default
  gradient method ("auto": autograd below 2**21 amplitudes, the adjoint
  method from there) or the ones ``--methods`` names,
- PennyLane's ``lightning.qubit`` with ``diff_method="adjoint"`` (one forward
  pass, then one sweep that un-computes the gates: the fastest CPU gradient
  PennyLane offers for this case),
- PennyLane's ``default.qubit`` with torch backprop (``--default-qubit``; slow
  past 16 qubits).

Each simulator runs in a process of its own: Lightning's OpenMP threads,
spinning after their parallel regions, slowed tqsim's next step by up to 7x
when both ran in one process on a loaded machine (docs/benchmarks.md). Before
timing, the loss and the gradient of every peer are compared with tqsim's, so
all did the same work. Rounds alternate the simulators, one stepping at a
time; each round times ``--calls`` steps of each and keeps their median; the
table shows the median over rounds and the ratio tqsim / peer (below 1: tqsim
is faster).
``--busy 2`` runs everything beside two processes spinning on the CPU, as on
a shared machine; ``--slowdown 2`` times every simulator quiet and beside two
busy processes in alternate passes of each round and prints each one's
slowdown (busy / quiet), as ``bench_dense.py --slowdown`` does. "peak" is how much the process's peak resident memory grew
while it stepped, in states of ``2**n`` complex64 amplitudes (each simulator
runs in a fresh process, so this is the step's own memory).

    pip install -e ".[bench]"
    python benchmarks/bench_train.py                       # n = 12, 16, 20; depth 1, 3, 6
    python benchmarks/bench_train.py --busy 2              # the same beside two busy processes
    python benchmarks/bench_train.py --slowdown 2 --sizes 16 20 --depths 1 3   # quiet and busy alternately
    python benchmarks/bench_train.py --sizes 12 --depths 1 --rounds 1   # a quick look
    python benchmarks/bench_train.py --sizes 22 24 --depths 6 --methods adjoint autograd --rounds 1 --calls 1
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import time

import numpy as np
import torch

import tqsim as tq
from tqsim.bench.tools import alternating_rounds, busy_processes
from tqsim.states.adjoint import GRADIENT_METHODS
from tqsim.maxcut import MaxCutProblem, make_ansatz


def require_pennylane():
    try:
        import pennylane as qml
    except ImportError:
        raise SystemExit("bench_train.py needs PennyLane and Lightning: pip install 'tqsim[bench]'") from None
    return qml


def tqsim_step(n: int, depth: int):
    """A closure taking one training step, and a function returning (loss, gradient) of the current angles."""
    problem = MaxCutProblem.random_regular(n, 3, seed=n)
    model = make_ansatz("one-directional", problem, depth=depth, seed=0, dtype=torch.complex64)

    def step():
        model.zero_grad()
        loss, _ = model.loss(model())
        loss.backward()
        return loss

    def loss_and_grad():
        loss = step()
        return float(loss.detach()), model.theta.grad.detach().to(torch.float64).numpy().copy()

    return problem, model.theta.detach().clone(), step, loss_and_grad


def pennylane_step(qml, device_name: str, diff_method: str, problem: MaxCutProblem, theta: torch.Tensor):
    """The same circuit and loss as a PennyLane QNode (PennyLane wires are qubits, big-endian as tqsim)."""
    n = problem.num_nodes
    edges = problem.edges.tolist()
    weights = problem.weights.tolist()
    observable = qml.Hamiltonian([-0.5 * w for w in weights], [qml.PauliZ(i) @ qml.PauliZ(j) for i, j in edges])
    constant = 0.5 * sum(weights)
    if device_name == "lightning.qubit":
        device = qml.device(device_name, wires=n, c_dtype=np.complex64)
    else:
        device = qml.device(device_name, wires=n)

    @qml.qnode(device, interface="torch", diff_method=diff_method)
    def energy(angles):
        for layer in range(angles.shape[0]):
            for q in range(n):
                qml.RY(angles[layer, q], wires=q)
            for q in range(n - 1):
                qml.CNOT(wires=[q, q + 1])
        return qml.expval(observable)

    angles = theta.to(torch.float32).clone().requires_grad_()

    def step():
        angles.grad = None
        loss = -(constant + energy(angles))
        loss.backward()
        return loss

    def loss_and_grad():
        loss = step()
        return float(loss.detach()), angles.grad.detach().to(torch.float64).numpy().copy()

    return step, loss_and_grad


def median_call_time(step, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def serve(connection, simulator: str, n: int, depth: int, threads: int) -> None:  # pragma: no cover - a worker
    """One simulator in a process of its own: answers "check" with (loss, gradient), "peak" with the growth of
    its peak resident memory in states, a number k with a timing."""
    torch.set_num_threads(threads)
    problem, theta, step, loss_and_grad = tqsim_step(n, depth)
    if simulator.startswith("tqsim"):
        tq.set_gradient_method(simulator.split()[1])
    else:
        device_name, diff_method = PEERS[simulator]
        step, loss_and_grad = pennylane_step(require_pennylane(), device_name, diff_method, problem, theta)
    problem.cached_tensor("diagonal", torch.device("cpu"), torch.float32)  # data, not the step's memory
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    while True:
        request = connection.recv()
        if request is None:
            return
        if request == "check":
            connection.send(loss_and_grad())
        elif request == "peak":
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
            connection.send(grown * 1024 / (8 << n))
        else:
            step()  # warm-up inside the round, so each timing starts from the same cache state
            connection.send(median_call_time(step, request))


PEERS = {"lightning adjoint": ("lightning.qubit", "adjoint"), "default.qubit backprop": ("default.qubit", "backprop")}


def measure(n: int, depth: int, rounds: int, calls: int, methods: list[str], peers: list[str],
            contention: int = 0) -> dict:
    """Every simulator in its own process (two OpenMP runtimes in one process slow each other down,
    see docs/benchmarks.md), stepping one at a time, in alternating rounds. With ``contention`` (a number
    of busy processes), each round times every simulator quiet and then beside them."""
    context = multiprocessing.get_context("spawn")
    ours = [f"tqsim {m}" for m in methods]
    workers = {}
    try:
        for name in [*ours, *peers]:
            parent, child = context.Pipe()
            process = context.Process(target=serve, args=(child, name, n, depth, torch.get_num_threads()),
                                      daemon=True)
            process.start()
            workers[name] = (process, parent)
        workers[ours[0]][1].send("check")
        loss, grad = workers[ours[0]][1].recv()
        agreement = {}
        for name in [*ours[1:], *peers]:
            workers[name][1].send("check")
            their_loss, their_grad = workers[name][1].recv()
            agreement[name] = max(abs(loss - their_loss), float(np.abs(grad - their_grad).max()))
            if agreement[name] > 1e-3 * max(1.0, abs(loss)):
                raise SystemExit(f"n={n} depth={depth}: {name} disagrees with {ours[0]} by {agreement[name]:.2e}")
        times = alternating_rounds(list(workers), rounds, (0, contention) if contention else (0,),
                                   lambda name: _timed_steps(workers[name][1], calls))
        peaks = {}
        for name, (_, connection) in workers.items():
            connection.send("peak")
            peaks[name] = connection.recv()
    finally:
        for process, connection in workers.values():
            connection.send(None)
            process.join(timeout=10)
    medians = {name: statistics.median(t) for (busy, name), t in times.items() if busy == 0}
    row = {"n": n, "depth": depth, "ms": {k: 1e3 * v for k, v in medians.items()},
           "ratio": {(m, p): medians[m] / medians[p] for m in ours for p in peers},
           "peak_states": peaks, "max_abs_difference": agreement}
    if contention:
        busy_ms = {name: 1e3 * statistics.median(t) for (busy, name), t in times.items() if busy}
        row["busy_ms"] = busy_ms
        row["slowdown"] = {name: busy_ms[name] / row["ms"][name] for name in busy_ms}
    return row


def _timed_steps(connection, calls: int) -> float:
    connection.send(calls)
    return connection.recv()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 16, 20])
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--calls", type=int, default=5, help="timed steps per simulator per round (default 5)")
    parser.add_argument("--busy", type=int, default=0, help="processes spinning beside the benchmark (default 0)")
    parser.add_argument("--slowdown", type=int, metavar="K", default=0,
                        help="time every simulator quiet and beside K busy processes in alternate passes of each "
                             "round, and print each one's slowdown")
    parser.add_argument("--default-qubit", action="store_true", help="also time default.qubit with torch backprop")
    parser.add_argument("--methods", nargs="+", default=["auto"], choices=GRADIENT_METHODS,
                        help="tqsim's gradient methods to time, each in its own process (default: auto)")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.slowdown and args.busy:
        parser.error("--slowdown K already runs beside K busy processes; drop --busy")
    qml = require_pennylane()
    from importlib.metadata import version

    print(f"training step, one-directional family, complex64; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), pennylane {qml.__version__}, "
          f"lightning {version('pennylane_lightning')}; "
          + (f"quiet and beside {args.slowdown} busy processes, alternately; " if args.slowdown
             else f"{args.busy} busy processes beside; ")
          + f"medians of {args.rounds} alternating rounds of {args.calls} steps")
    peers = ["lightning adjoint"] + (["default.qubit backprop"] if args.default_qubit else [])
    ours = [f"tqsim {m}" for m in args.methods]
    if args.slowdown:
        print("| n | depth | " + " | ".join(f"{name} quiet / busy ms" for name in ours + peers) + " | "
              + " | ".join(f"{name} slowdown" for name in ours + peers) + " | "
              + " | ".join(f"{m} slowdown / {p}'s" for m in ours for p in peers) + " |")
        print("|" + "---|" * (2 + 2 * len(ours + peers) + len(ours) * len(peers)))
    else:
        print("| n | depth | " + " | ".join(f"{m} ms | {m} peak" for m in ours)
              + " | " + " | ".join(f"{p} ms | {p} peak" for p in peers) + " | "
              + " | ".join(f"{m} / {p}" for m in ours for p in peers) + " | largest loss or gradient difference |")
        columns = 2 * (len(ours) + len(peers)) + len(ours) * len(peers) + 3
        print("|" + "---|" * columns)
    rows = []
    with busy_processes(0 if args.slowdown else args.busy):
        for n in args.sizes:
            for depth in args.depths:
                row = measure(n, depth, args.rounds, args.calls, args.methods, peers, args.slowdown)
                rows.append(row)
                if args.slowdown:
                    slow = row["slowdown"]
                    print(f"| {n} | {depth} | "
                          + " | ".join(f"{row['ms'][k]:.2f} / {row['busy_ms'][k]:.2f}" for k in ours + peers) + " | "
                          + " | ".join(f"{slow[k]:.2f}x" for k in ours + peers) + " | "
                          + " | ".join(f"{slow[m] / slow[p]:.2f}" for m in ours for p in peers) + " |", flush=True)
                    continue
                cells = " | ".join(f"{row['ms'][name]:.2f} | {row['peak_states'][name]:.1f}" for name in ours + peers)
                ratios = " | ".join(f"{row['ratio'][(m, p)]:.2f}" for m in ours for p in peers)
                print(f"| {n} | {depth} | {cells} | {ratios} | {max(row['max_abs_difference'].values()):.1e} |",
                      flush=True)
    for row in rows:  # JSON keys are strings
        row["ratio"] = {f"{m} / {p}": r for (m, p), r in row["ratio"].items()}
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"busy": args.busy, "slowdown": args.slowdown, "threads": torch.get_num_threads(), "rows": rows},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
