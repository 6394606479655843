"""The main job's outputs: a table per family, results.json, history.csv, maxcut.png."""

from __future__ import annotations

import csv
import json
import os
import sys

from .problem import MaxCutProblem
from .train import TrainResult

__all__ = ["OUTPUTS", "table", "write_outputs"]

OUTPUTS = ("results.json", "history.csv", "maxcut.png")

COLUMNS = ("family", "params", "expected cut", "best cut", "optimum", "ratio", "expected ratio",
           "entropy", "ms/step", "device", "backend")


def _row(r: TrainResult) -> list[str]:
    f = r.final  # below, "+ 0.0" prints the entropy -0.0 of a product state as 0.000
    optimum = "-" if r.optimum is None else f"{r.optimum:g}"
    ratio = "-" if r.optimum is None else f"{r.best_cut / r.optimum:.3f}"
    expected_ratio = "-" if r.optimum is None else f"{f['expected_cut'] / r.optimum:.3f}"
    return [r.family, str(r.num_parameters), f"{f['expected_cut']:.2f}", f"{r.best_cut:g}", optimum, ratio,
            expected_ratio, f"{f['entropy'] + 0.0:.3f}", f"{r.ms_per_step:.1f}", r.device + (" (graph)" if r.cuda_graph else ""), r.backend]


def table(results: list[TrainResult], problem: MaxCutProblem, entropy_qubits: int) -> str:
    """A plain-text table: one line per family, after the problem's description."""
    rows = [list(COLUMNS)] + [_row(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [f"MaxCut on {problem!r}; ratio = best cut / optimum, entropy of qubits 0..{entropy_qubits - 1}"]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.rjust(w) if j else cell.ljust(w) for j, (cell, w) in enumerate(zip(row, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_outputs(results: list[TrainResult], problem: MaxCutProblem, out: str, settings: dict) -> list[str]:
    """Write results.json, history.csv and maxcut.png into ``out``; returns their paths.

    history.csv holds no wall times (they are in results.json), so two runs
    with the same seed on the same machine write the same bytes.
    """
    os.makedirs(out, exist_ok=True)
    paths = [os.path.join(out, name) for name in OUTPUTS]
    with open(paths[0], "w") as f:
        json.dump({
            "problem": {"nodes": [repr(v) for v in problem.nodes], "edges": problem.edges.tolist(),
                        "weights": problem.weights.tolist()},
            "settings": settings,
            "results": [r.to_dict() for r in results],
        }, f, indent=2)
    keys = ["family", "step", "loss", "expected_cut", "readout_cut", "best_cut", "expected_ratio",
            "readout_ratio", "entropy"]
    with open(paths[1], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        for r in results:
            for row in r.history:
                writer.writerow({"family": r.family, **row})
    try:
        _plot(results, paths[2], problem, settings.get("entropy_qubits"))
    except ImportError:
        print("matplotlib is not installed (pip install 'tqsim[plot]'): no maxcut.png", file=sys.stderr)
        return paths[:2]
    return paths


def _plot(results: list[TrainResult], path: str, problem: MaxCutProblem, k: int | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for r in results:
        steps = [h["step"] for h in r.history]
        if r.optimum:
            line, = top.plot(steps, [h["expected_cut"] / r.optimum for h in r.history], label=f"{r.family}")
            top.plot(steps, [h["best_cut"] / r.optimum for h in r.history], "--", color=line.get_color(), alpha=0.6)
        else:
            top.plot(steps, [h["expected_cut"] for h in r.history], label=r.family)
        bottom.plot(steps, [h["entropy"] for h in r.history], label=r.family)
    top.set_ylabel("approximation ratio" if any(r.optimum for r in results) else "expected cut")
    top.set_title(f"MaxCut, {problem.num_nodes} nodes, {len(problem.edges)} edges: "
                  "expected cut / optimum (solid), best read-out / optimum (dashed)", fontsize=9)
    top.grid(alpha=0.3)
    top.legend(fontsize=8)
    bottom.set_ylabel("entanglement entropy (nats)")
    watched = f"qubits 0..{k - 1}" if k else "the watched qubits"
    bottom.set_title(f"von Neumann entropy of {watched} against the rest", fontsize=9)
    bottom.set_xlabel("training step")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
