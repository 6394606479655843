"""``tqsim study run | report | export``: the command-line face of a study."""

from __future__ import annotations

import argparse
import os
import sys

from ..ansatz import BACKENDS, FAMILIES
from ..objective import ENCODINGS
from .executors import TASKS_PER_GPU
from .runner import EXECUTORS, OPTIMUM_CHOICES

# grid flags, each the StudyGrid field of the same name
_GRID_FLAGS = ("graphs", "nodes", "degree", "graph_dir", "seeds", "families", "depths", "encodings", "backends",
               "penalties", "steps", "lr", "optimizer", "max_bond")


def add_study_commands(sub) -> None:
    """Register ``study`` and its three sub-commands on the ``tqsim`` parser's sub-parsers."""
    study = sub.add_parser("study", help="grids of MaxCut runs over graphs, seeds, families and depths",
                           description="Train a grid of MaxCut runs into a SQLite database, then report "
                                       "statistics and plots or export CSV.")
    commands = study.add_subparsers(dest="study_command", metavar="command", required=True)

    run = commands.add_parser("run", help="train every run of the grid not yet in the database",
                              epilog="The grid comes from --config study.toml or from the flags (not both). "
                                     "Running the same command again continues a study: finished runs are kept. "
                                     "Exit status: 0 done, 1 bad input, 2 bad usage, 130 interrupted.")
    run.add_argument("--db", required=True, help="the study's SQLite file (created when missing)")
    run.add_argument("--config", metavar="TOML", help="the grid as a TOML file (see docs/study.md)")
    run.add_argument("--graphs", type=int, help="random regular graphs, seeds 0..K-1 (default 5)")
    run.add_argument("--nodes", type=int, help="their size (default 16)")
    run.add_argument("--degree", type=int, help="their degree (default 3)")
    run.add_argument("--graph-dir", metavar="DIR", help="a folder of edge-list files instead of random graphs")
    run.add_argument("--seeds", type=int, nargs="+", help="initial-angle seeds (default 0 1 2)")
    run.add_argument("--families", nargs="+", choices=list(FAMILIES), help="circuit families (default: all)")
    run.add_argument("--depths", type=int, nargs="+", help="layers (default: each family's own)")
    run.add_argument("--encodings", nargs="+", choices=ENCODINGS, help="node and/or mbe (default node)")
    run.add_argument("--backends", nargs="+", choices=BACKENDS, help="state backends (default: automatic)")
    run.add_argument("--penalties", type=float, nargs="+", help="entanglement-penalty weights (default 0)")
    run.add_argument("--steps", type=int, help="optimizer steps per run (default 80)")
    run.add_argument("--lr", type=float, help="learning rate (default 0.05)")
    run.add_argument("--optimizer", help="adam, sgd or adamw (default adam)")
    run.add_argument("--max-bond", type=int, help="MPS bond dimension (default 32)")
    run.add_argument("--optimum", choices=OPTIMUM_CHOICES, default="auto",
                     help="ratios against the exact optimum (brute force, <= 26 nodes), or 'reference': the "
                          "Goemans-Williamson SDP bound; auto: exact when possible (default)")
    run.add_argument("--device", default="auto",
                     help="auto (CUDA when present; with --executor ray, when the cluster has GPUs), cpu or cuda")
    run.add_argument("--executor", choices=EXECUTORS, default="local",
                     help="local: one run after another in this process (default); ray: every run a Ray task, on "
                          "a local Ray cluster or --ray-address (pip install \"tqsim[distributed]\"); same results")
    run.add_argument("--ray-address", metavar="HOST:PORT",
                     help="with --executor ray: the head of a running cluster (ray start --head); "
                          "default: start a local one")
    run.add_argument("--tasks-per-gpu", type=int, metavar="N",
                     help=f"with --executor ray on CUDA: runs that share one GPU (default {TASKS_PER_GPU})")
    run.add_argument("--batch-seeds", type=int, default=1, metavar="N",
                     help="train up to N runs that differ only in seed as one batched dense state (one Ray task "
                          "with --executor ray); default 1: every run alone")
    run.add_argument("--no-progress", action="store_true", help="no line per finished run")
    run.set_defaults(run=_run)

    report = commands.add_parser("report", help="statistics table and study.png")
    report.add_argument("--db", required=True, help="the study's SQLite file")
    report.add_argument("--out", required=True, metavar="DIR", help="folder for summary.txt and study.png")
    report.set_defaults(run=_report)

    export = commands.add_parser("export", help="runs and steps as CSV (and Parquet with pyarrow)")
    export.add_argument("--db", required=True, help="the study's SQLite file")
    export.add_argument("--csv", required=True, metavar="FILE", help="the runs' CSV (steps go beside it)")
    export.set_defaults(run=_export)


def _grid(args: argparse.Namespace):
    from .grid import StudyGrid

    given = {name: getattr(args, name) for name in _GRID_FLAGS if getattr(args, name) is not None}
    if args.config:
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise ValueError(f"the grid comes from --config {args.config}; remove {flags} or put them in the file")
        return StudyGrid.from_toml(args.config)
    return StudyGrid(**{name: tuple(v) if isinstance(v, list) else v for name, v in given.items()})


def _run(args: argparse.Namespace) -> int:
    from .runner import run_study

    grid = _grid(args)
    try:
        run_study(grid, args.db, device=args.device, optimum=args.optimum, progress=not args.no_progress,
                  executor=args.executor, ray_address=args.ray_address, tasks_per_gpu=args.tasks_per_gpu,
                  batch_seeds=args.batch_seeds).close()
    except KeyboardInterrupt:
        print(f"tqsim study: interrupted; the finished runs are in {args.db} (run the same command to continue)",
              file=sys.stderr)
        return 130
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import format_summary, plot, summary
    from .store import StudyStore

    store = StudyStore.open(args.db)
    table = format_summary(summary(store))
    print(table)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(table + "\n")
    plot(store, os.path.join(args.out, "study.png"))
    print(f"wrote {os.path.join(args.out, 'summary.txt')} and {os.path.join(args.out, 'study.png')}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .report import export_csv
    from .store import StudyStore

    written = export_csv(StudyStore.open(args.db), args.csv)
    print("wrote " + ", ".join(map(str, written or [args.csv])))
    return 0
