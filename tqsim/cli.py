"""The ``tqsim`` command. Sub-commands register themselves in :data:`COMMANDS`."""

from __future__ import annotations

import argparse
import sys

import torch

from . import __version__


def _demo(args: argparse.Namespace) -> int:
    """Simulate a GHZ circuit with a rotation and print what a user looks at first."""
    from . import Circuit, PauliSum, StateVector, entropy

    n = args.qubits
    circuit = Circuit(n).h(0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    circuit.ry(args.angle, n - 1)
    state = circuit.run(StateVector.zeros(n, dtype=torch.complex128))
    print(f"tqsim {__version__}: GHZ circuit on {n} qubits, then RY({args.angle:g}) on qubit {n - 1}\n")
    print(circuit.draw(), "\n")
    print("basis state   amplitude              probability")
    for index, (amp, p) in enumerate(zip(state.amplitudes().tolist(), state.probabilities().tolist())):
        if p > 1e-12:
            print(f"|{index:0{n}b}>  {amp.real:+.6f}{amp.imag:+.6f}j   {p:.6f}")
    zz = PauliSum.from_string("Z0 Z1")
    print(f"\n<Z0 Z1> = {state.expectation(zz).item():+.6f}")
    s = entropy(state, [0]).item()
    print(f"entropy of qubit 0 = {s:.6f} nats ({s / 0.6931471805599453:.6f} bits)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tqsim", description="Tensor-based quantum-circuit simulator.")
    parser.add_argument("--version", action="version", version=f"tqsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command")
    demo = sub.add_parser("demo", help="simulate a small circuit and print state, probabilities, entropy")
    demo.add_argument("--qubits", type=int, default=3, help="number of qubits, 2..12 (default 3)")
    demo.add_argument("--angle", type=float, default=0.5, help="RY angle on the last qubit (default 0.5)")
    demo.set_defaults(run=_demo)
    maxcut = sub.add_parser("maxcut", help="train variational MaxCut circuits (the main job)",
                            description="Train every circuit family on a MaxCut graph and report cut, "
                                        "approximation ratio and entanglement (results.json, history.csv, maxcut.png).")
    _maxcut_arguments(maxcut)
    maxcut.set_defaults(run=_maxcut)
    bench = sub.add_parser("bench", help="benchmarks against other simulators")
    peers = bench.add_subparsers(dest="peer", metavar="peer", required=True)
    qutip = peers.add_parser("qutip", help="partial traces, entropies and circuits against QuTiP")
    from .bench_qutip import add_arguments

    add_arguments(qutip)
    qutip.set_defaults(run=_bench_qutip)
    return parser


def _maxcut_arguments(parser: argparse.ArgumentParser) -> None:
    from .maxcut.ansatz import BACKENDS, FAMILIES
    from .maxcut.job import DEFAULTS
    from .maxcut.objective import ENCODINGS

    d = DEFAULTS
    parser.add_argument("--nodes", type=int, default=d["nodes"], help=f"random regular graph size (default {d['nodes']})")
    parser.add_argument("--degree", type=int, default=d["degree"], help=f"its degree (default {d['degree']})")
    parser.add_argument("--seed", type=int, default=d["seed"], help="graph and initial angles (default 0)")
    parser.add_argument("--graph", metavar="FILE", help="edge list 'u v [weight]' per line, instead of a random graph")
    parser.add_argument("--family", action="append", choices=list(FAMILIES),
                        help="a circuit family; repeat for several (default: every family)")
    parser.add_argument("--depth", type=int, help="layers (default: 1, deep: 6, qaoa: p = 1)")
    parser.add_argument("--steps", type=int, default=d["steps"], help=f"optimizer steps (default {d['steps']})")
    parser.add_argument("--lr", type=float, default=d["lr"], help=f"Adam learning rate (default {d['lr']})")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--out", default=d["out"], help=f"output folder (default {d['out']})")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--encoding", choices=ENCODINGS, default="node",
                        help="node: one node per qubit; mbe: two nodes per qubit (multi-basis encoding)")
    parser.add_argument("--backend", choices=BACKENDS, help="state backend (default: dense up to 26 qubits, then mps)")
    parser.add_argument("--max-bond", type=int, default=32, help="MPS bond dimension (default 32)")
    parser.add_argument("--entropy-penalty", type=float, default=0.0,
                        help="lambda of loss + lambda * S(watched qubits) (default 0)")


def _maxcut(args: argparse.Namespace) -> int:
    from .maxcut.ansatz import FAMILIES
    from .maxcut.job import run_job
    from .maxcut.problem import MaxCutProblem

    if args.graph:
        problem = MaxCutProblem.from_edge_list(args.graph)
    else:
        problem = MaxCutProblem.random_regular(args.nodes, args.degree, seed=args.seed)
    run_job(problem, families=args.family or tuple(FAMILIES), depth=args.depth, steps=args.steps, lr=args.lr,
            device=args.device, out=args.out, resume=args.resume, progress=not args.no_progress, seed=args.seed,
            encoding=args.encoding, backend=args.backend, max_bond=args.max_bond,
            entropy_penalty=args.entropy_penalty)
    return 0


def _bench_qutip(args: argparse.Namespace) -> int:
    from .bench_qutip import launch

    return launch(args.quick, args.out, args.device, not args.no_memory, args.sections)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) is None:
        parser.print_help()
        return 2
    if args.command == "demo" and not 2 <= args.qubits <= 12:
        print(f"tqsim demo: --qubits must be in 2..12, got {args.qubits}", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except (ValueError, TypeError, IndexError) as error:
        print(f"tqsim {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
