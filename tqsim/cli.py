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
    bench = sub.add_parser("bench", help="benchmarks against other simulators")
    peers = bench.add_subparsers(dest="peer", metavar="peer", required=True)
    qutip = peers.add_parser("qutip", help="partial traces, entropies and circuits against QuTiP")
    from .bench_qutip import add_arguments

    add_arguments(qutip)
    qutip.set_defaults(run=_bench_qutip)
    return parser


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
