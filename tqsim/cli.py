"""The ``tqsim`` command. Sub-commands register themselves in :data:`COMMANDS`."""

from __future__ import annotations

import argparse
import math
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
                                        "approximation ratio and entanglement (results.json, history.csv, maxcut.png).",
                            epilog="Exit status: 0 done, 1 bad input (one line on stderr), 2 bad usage, "
                                   "130 interrupted (Ctrl-C keeps the steps done; continue with --resume).")
    _maxcut_arguments(maxcut)
    maxcut.set_defaults(run=_maxcut)
    from .maxcut.study.command import add_study_commands

    add_study_commands(sub)
    bench = sub.add_parser("bench", help="benchmarks against other simulators")
    peers = bench.add_subparsers(dest="peer", metavar="peer", required=True)
    qutip = peers.add_parser("qutip", help="partial traces, entropies and circuits against QuTiP")
    from .bench.qutip import add_arguments

    add_arguments(qutip)
    qutip.set_defaults(run=_bench_qutip)
    return parser


def _maxcut_arguments(parser: argparse.ArgumentParser) -> None:
    from .maxcut.ansatz import BACKENDS, FAMILIES
    from .maxcut.job import DEFAULTS
    from .maxcut.objective import ENCODINGS

    d = DEFAULTS
    # --nodes, --degree and --max-bond default to None here, so that a flag that does not apply is known to be given
    parser.add_argument("--nodes", type=int, help=f"random regular graph size, >= 2 (default {d['nodes']})")
    parser.add_argument("--degree", type=int, help=f"its degree, >= 1 (default {d['degree']})")
    parser.add_argument("--seed", type=int, default=d["seed"],
                        help="graph and initial angles, 0..2**64-1 (default 0)")
    parser.add_argument("--graph", metavar="FILE",
                        help="edge list 'u v [weight]' per line (each edge once, weights >= 0), "
                             "instead of a random graph")
    parser.add_argument("--family", action="append", choices=list(FAMILIES),
                        help="a circuit family; repeat for several (default: every family; with --encoding mbe every "
                             "one but qaoa, which needs one node per qubit)")
    parser.add_argument("--depth", type=int, help="layers, >= 1 (default: 1, deep: 6, qaoa: p = 1)")
    parser.add_argument("--steps", type=int, default=d["steps"], help=f"optimizer steps, >= 1 (default {d['steps']})")
    parser.add_argument("--lr", type=float, default=d["lr"], help=f"Adam learning rate, > 0 (default {d['lr']})")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present; the default), cpu or cuda")
    parser.add_argument("--out", metavar="DIR", default=d["out"],
                        help=f"output folder (default {d['out']}); it must not hold an earlier run's results")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the results and checkpoints of an earlier run in --out first")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoints")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--encoding", choices=ENCODINGS, default="node",
                        help="node: one node per qubit; mbe: two nodes per qubit (multi-basis encoding)")
    parser.add_argument("--backend", choices=BACKENDS,
                        help="state backend of every family (default: product states for the product family; "
                             "the others dense up to 26 qubits, then mps)")
    parser.add_argument("--max-bond", type=int,
                        help=f"MPS bond dimension, >= 1 (default {d['max_bond']}); only for the mps backend")
    parser.add_argument("--entropy-penalty", type=float, default=0.0,
                        help="lambda >= 0 of loss + lambda * S(watched qubits) (default 0)")


# the allowed range of each integer flag (None: no upper limit); seeds are those torch.Generator.manual_seed takes
_INT_RANGES = {"nodes": (2, None), "degree": (1, None), "seed": (0, 2**64 - 1), "steps": (1, None),
               "depth": (1, None), "max_bond": (1, None)}


def _check_maxcut_numbers(args: argparse.Namespace) -> None:
    """Refuse a number out of range before any work, naming the flag, the value and what is allowed."""
    for name, (low, high) in _INT_RANGES.items():
        value = getattr(args, name)
        if value is not None and not (low <= value and (high is None or value <= high)):
            allowed = f">= {low}" if high is None else f"in {low}..{high}"
            raise ValueError(f"--{name.replace('_', '-')} must be {allowed}, got {value}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr must be a finite number > 0, got {args.lr}")
    if not (math.isfinite(args.entropy_penalty) and args.entropy_penalty >= 0):
        raise ValueError(f"--entropy-penalty must be a finite number >= 0, got {args.entropy_penalty}")


def _maxcut_families(args: argparse.Namespace) -> tuple[str, ...]:
    """The families asked for, each once (a repeat is dropped with a warning), or the default ones."""
    from .maxcut.job import default_families, warn

    if not args.family:
        return default_families(args.encoding)
    families = tuple(dict.fromkeys(args.family))
    for family in families:
        if args.family.count(family) > 1:
            warn(f"--family {family} is given {args.family.count(family)} times; it is trained once")
    return families


def _maxcut(args: argparse.Namespace) -> int:
    from .maxcut.job import DEFAULTS, make_models, run_job, warn
    from .maxcut.problem import MaxCutProblem

    _check_maxcut_numbers(args)
    if args.graph:
        ignored = [flag for flag, value in (("--nodes", args.nodes), ("--degree", args.degree)) if value is not None]
        if ignored:
            warn(f"{' and '.join(ignored)} ignored: --graph {args.graph} gives the graph")
        problem = MaxCutProblem.from_edge_list(args.graph)
    else:
        problem = MaxCutProblem.random_regular(args.nodes or DEFAULTS["nodes"], args.degree or DEFAULTS["degree"],
                                               seed=args.seed)
    models = make_models(problem, _maxcut_families(args), depth=args.depth, seed=args.seed, encoding=args.encoding,
                         backend=args.backend, max_bond=args.max_bond or DEFAULTS["max_bond"],
                         entropy_penalty=args.entropy_penalty)
    if args.max_bond is not None and all(m.backend != "mps" for m in models):
        warn(f"--max-bond {args.max_bond} ignored: no family runs on the mps backend (--backend mps, or > 26 qubits)")
    if args.entropy_penalty and "product" in [m.family for m in models]:
        warn(f"--entropy-penalty {args.entropy_penalty:g} does nothing to the product family: its entropy is always 0")
    results = run_job(models, steps=args.steps, lr=args.lr, device=args.device, out=args.out, resume=args.resume,
                      overwrite=args.overwrite, progress=False if args.no_progress else None, seed=args.seed)
    if any(r.interrupted for r in results):
        print(f"tqsim maxcut: interrupted; the steps done are kept in {args.out} (continue with --resume)",
              file=sys.stderr)
        return 130
    return 0


def _bench_qutip(args: argparse.Namespace) -> int:
    from .bench.qutip import launch

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
    except (ValueError, TypeError, IndexError, FileNotFoundError, ImportError) as error:  # bad input, missing extra
        print(f"tqsim {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # outside a training loop (which keeps its steps and returns)
        newline = "\n" if sys.stderr.isatty() else ""  # after the terminal's ^C
        print(f"{newline}tqsim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `tqsim demo | head`: the reader left, nothing more to say
        sys.stderr.close()
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
