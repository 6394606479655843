"""Statistics, a figure and flat files from a study's runs.

Every function reads a store through two methods only (``StudyStore`` has
them): ``runs()``, one dict per finished run (the RunSpec fields, ``key``,
``optimum_kind`` and the final values), and ``steps()``, one dict per training
step naming its run in ``run_key``. Ratios are ``cut / reference``: the exact
optimum (``optimum_kind`` "exact") or the Goemans-Williamson SDP bound
("gw-bound", an upper bound, so such ratios understate the true ones). The two
kinds are never pooled: each row of :func:`summary`, and each curve of
:func:`plot`, has one reference and says which.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import math
import numbers
import os

import numpy as np

from ... import _checks
from ..._optional import require

__all__ = ["GROUP_FIELDS", "METRICS", "REFERENCES", "export_csv", "format_summary", "plot", "summary"]

#: the fields a summary row groups runs by (pooling graphs and seeds)
GROUP_FIELDS = ("nodes", "family", "depth", "encoding", "backend", "penalty")
#: the final values a summary row describes
METRICS = ("expected_ratio", "readout_ratio", "entropy")
#: optimum_kind -> what the ratios of such a run are taken against
REFERENCES = {"exact": "optimum", "gw-bound": "GW bound", "none": "none"}

_TITLES = {"expected_ratio": "expected ratio", "readout_ratio": "read-out ratio", "entropy": "entropy"}


def _reference(run: dict) -> str:
    kind = run.get("optimum_kind")
    if kind not in REFERENCES:
        raise ValueError(f"run {run.get('key')!r} has optimum_kind {kind!r}; expected one of {', '.join(REFERENCES)}")
    return REFERENCES[kind]


def _value(x) -> float | None:
    """A stored number as a float; None for a missing or NaN value (an entropy not tracked, a ratio without optimum)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(x)


def _order(value) -> tuple:
    """Sort key that puts None (automatic backend, default depth) last and never compares None with a value."""
    return (value is None, "" if value is None else value)


# --------------------------------------------------------------------- summary
def _bootstrap(stats, values: np.ndarray, confidence: float, rng: np.random.Generator) -> tuple[float, float]:
    """BCa bootstrap interval of the mean; NaN below two values, the value itself when all are equal."""
    if values.size < 2:
        return math.nan, math.nan
    if np.ptp(values) == 0:  # BCa divides by the spread: a constant sample has the point interval
        return float(values[0]), float(values[0])
    # scipy >= 1.15 takes the generator as ``rng``; older versions as ``random_state``
    generator = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
    result = stats.bootstrap((values,), np.mean, confidence_level=confidence, method="BCa", **{generator: rng})
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _generator(seed: int, group: tuple, metric: str) -> np.random.Generator:
    """A generator of its own per row and metric: a row's interval does not change when runs join other rows."""
    digest = hashlib.sha256(json.dumps([list(group), metric]).encode()).digest()
    return np.random.default_rng([seed, *np.frombuffer(digest[:16], dtype="<u4").tolist()])


def summary(store, confidence: float = 0.95, seed: int = 0) -> list[dict]:
    """One row per (nodes, family, depth, encoding, backend, penalty) and ratio reference.

    Parameters
    ----------
    store : StudyStore or any object with ``runs()``
    confidence : float
        Level of the bootstrap confidence intervals, in (0, 1).
    seed : int
        Seeds the bootstrap resampling, so the same runs give the same report.

    Returns
    -------
    list of dict
        Sorted by the group fields. Each row holds the group fields,
        ``ratio_reference`` ("optimum", "GW bound" or "none"), ``runs``,
        ``graphs`` and ``seeds`` (distinct counts), ``confidence`` and, for
        each metric ``m`` of :data:`METRICS`, ``m_mean``, ``m_std`` (ddof=1),
        ``m_ci_low`` and ``m_ci_high``: the BCa bootstrap interval of the mean
        (``scipy.stats.bootstrap``, 9999 resamples). A metric's statistics use
        the runs that have it (no entropy when none was tracked, no ratio
        without a reference); the std and interval are NaN below two values.
    """
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    seed = _checks.non_negative_int(seed, "seed")
    stats = require("scipy.stats", "study", "Study statistics")
    groups: dict[tuple, list[dict]] = {}
    for run in store.runs():
        groups.setdefault(tuple(run[f] for f in GROUP_FIELDS) + (_reference(run),), []).append(run)
    rows = []
    for group in sorted(groups, key=lambda g: tuple(_order(v) for v in g)):
        runs = sorted(groups[group], key=lambda r: r["key"])  # resampling sees the runs in a fixed order
        row = dict(zip(GROUP_FIELDS + ("ratio_reference",), group))
        row.update(runs=len(runs), graphs=len({r["graph"] for r in runs}), seeds=len({r["seed"] for r in runs}),
                   confidence=float(confidence))
        for metric in METRICS:
            values = np.array([v for v in (_value(r[metric]) for r in runs) if v is not None], dtype=float)
            low, high = _bootstrap(stats, values, float(confidence), _generator(seed, group, metric))
            row[f"{metric}_mean"] = float(values.mean()) if values.size else math.nan
            row[f"{metric}_std"] = float(values.std(ddof=1)) if values.size > 1 else math.nan
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = low, high
        rows.append(row)
    return rows


def _statistic(row: dict, metric: str) -> str:
    def number(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{x:.3f}"

    mean = row[f"{metric}_mean"]
    if math.isnan(mean):
        return "n/a"
    low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    interval = "n/a" if math.isnan(low) else f"{number(low)}, {number(high)}"
    return f"{number(mean)} ± {number(row[f'{metric}_std'])} [{interval}]"


def format_summary(rows: list[dict]) -> str:
    """The rows of :func:`summary` as a fixed-width text table: ``mean ± std [CI]`` per metric."""
    if not rows:
        return "no finished runs"
    header = ["nodes", "family", "depth", "encoding", "backend", "penalty", "ratio vs", "runs",
              *(_TITLES[m] for m in METRICS)]
    table = [header] + [
        [str(r["nodes"]), str(r["family"]), "default" if r["depth"] is None else str(r["depth"]),
         str(r["encoding"]), "auto" if r["backend"] is None else str(r["backend"]), f"{r['penalty']:g}",
         r["ratio_reference"], str(r["runs"]), *(_statistic(r, m) for m in METRICS)]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    text_columns = {1, 3, 4, 6}  # left-aligned; numbers are right-aligned

    def render(line: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in text_columns else c.rjust(w)
                         for i, (c, w) in enumerate(zip(line, widths))).rstrip()

    level = f"{rows[0]['confidence']:.0%}"
    notes = [f"mean ± std (ddof=1) [{level} BCa bootstrap interval of the mean] over each row's runs "
             "(graphs and seeds pooled)",
             "ratio = final cut / reference: the exact optimum, or the Goemans-Williamson SDP upper bound "
             "(GW bound: such ratios understate the true ones)",
             "entropy: of the watched qubits after the last step, in nats; n/a: fewer than two runs, or no value"]
    lines = [render(header), render(["-" * w for w in widths])] + [render(line) for line in table[1:]]
    return "\n".join(notes + [""] + lines)


# ------------------------------------------------------------------------ plot
def _band(values_by_step: dict[int, list[float]], t_quantile) -> tuple[np.ndarray, ...]:
    steps = np.array(sorted(values_by_step))
    mean, half = [], []
    for step in steps:
        v = np.asarray(values_by_step[step])
        mean.append(v.mean())
        half.append(t_quantile(v.size) * v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else math.nan)
    return steps, np.array(mean), np.array(half)


def plot(store, path: str | os.PathLike) -> str:
    """Write the study's figure (PNG through matplotlib's Agg canvas) to ``path``; returns ``path``.

    Panels: (1) expected ratio against training step, (2) entropy of the
    watched qubits against step, each with the mean over runs and a shaded
    95% band per family; (3) final expected ratio against final entropy, one
    point per run, coloured by family. The bands are Student-t intervals of
    the mean, ``mean ± t(0.975, n-1) s / sqrt(n)`` over the ``n`` runs at each
    step (a bootstrap per step would be too slow); none where ``n = 1``.
    Ratios against the GW bound are drawn dashed (panel 1) and as crosses
    (panel 3), and named in the legend. Runs of every size, depth, encoding,
    backend and penalty are pooled per family; the title names the axes pooled.
    """
    require("matplotlib", "plot", "Plotting a study")
    stats = require("scipy.stats", "study", "Study statistics")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = {run["key"]: run for run in store.runs()}
    if not runs:
        raise ValueError("the study holds no finished runs: nothing to plot")
    families = sorted({run["family"] for run in runs.values()})
    colour = {family: f"C{i % 10}" for i, family in enumerate(families)}
    ratios: dict[tuple[str, str], dict[int, list[float]]] = {}  # (family, reference) -> step -> values
    entropies: dict[str, dict[int, list[float]]] = {}
    for step in store.steps():
        run = runs[step["run_key"]]
        ratio, entropy = _value(step["expected_ratio"]), _value(step["entropy"])
        if ratio is not None:
            ratios.setdefault((run["family"], _reference(run)), {}).setdefault(step["step"], []).append(ratio)
        if entropy is not None:
            entropies.setdefault(run["family"], {}).setdefault(step["step"], []).append(entropy)

    def t_quantile(n: int) -> float:
        return float(stats.t.ppf(0.975, n - 1))

    fig = Figure(figsize=(17, 5.2))
    FigureCanvasAgg(fig)
    ratio_ax, entropy_ax, final_ax = fig.subplots(1, 3)
    for (family, reference), series in sorted(ratios.items()):
        steps, mean, half = _band(series, t_quantile)
        gw = reference == "GW bound"
        label = f"{family} (/ GW bound)" if gw else family
        ratio_ax.plot(steps, mean, "--" if gw else "-", color=colour[family], label=label)
        ratio_ax.fill_between(steps, mean - half, mean + half, color=colour[family], alpha=0.2, linewidth=0)
    for family, series in sorted(entropies.items()):
        steps, mean, half = _band(series, t_quantile)
        entropy_ax.plot(steps, mean, color=colour[family], label=family)
        entropy_ax.fill_between(steps, mean - half, mean + half, color=colour[family], alpha=0.2, linewidth=0)
    for family in families:
        for reference, marker in (("optimum", "o"), ("GW bound", "x")):
            points = [(_value(r["entropy"]), _value(r["expected_ratio"])) for r in runs.values()
                      if r["family"] == family and _reference(r) == reference]
            points = [p for p in points if None not in p]
            if points:
                x, y = zip(*points)
                final_ax.scatter(x, y, marker=marker, color=colour[family], alpha=0.75, s=28,
                                 label=family if reference == "optimum" else f"{family} (/ GW bound)")

    references = {_reference(r) for r in runs.values()} - {"none"}
    against = {frozenset({"optimum"}): "optimum", frozenset({"GW bound"}): "GW bound"}.get(
        frozenset(references), "reference")  # mixed: the legend marks the GW-bound curves
    ratio_ax.set(xlabel="training step", ylabel=f"expected cut / {against}",
                 title="approximation ratio (mean, 95% t-interval band)")
    entropy_ax.set(xlabel="training step", ylabel="entropy of the watched qubits (nats)",
                   title="entanglement entropy (mean, 95% t-interval band)")
    final_ax.set(xlabel="final entropy of the watched qubits (nats)", ylabel=f"final expected cut / {against}",
                 title="final ratio against final entropy (one point per run)")
    for ax, empty in ((ratio_ax, "no ratios: no optimum or reference is known"),
                      (entropy_ax, "no entropy was tracked"), (final_ax, "no run has both values")):
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
    graphs = len({r["graph"] for r in runs.values()})
    seeds = len({r["seed"] for r in runs.values()})
    pooled = [name for field, name in (("nodes", "sizes"), ("depth", "depths"), ("encoding", "encodings"),
                                       ("backend", "backends"), ("penalty", "penalties"))
              if len({r[field] for r in runs.values()}) > 1]
    fig.suptitle(f"tqsim study: {len(runs)} runs, {graphs} graph{'s' * (graphs != 1)}, "
                 f"{seeds} seed{'s' * (seeds != 1)}"
                 + (f"; each family pooled over {', '.join(pooled)}" if pooled else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return os.fspath(path)


# ---------------------------------------------------------------------- export
def _columns(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(name for row in rows for name in row))


def export_csv(store, path: str | os.PathLike) -> list[str]:
    """Write the runs to ``path`` and the steps to ``<path without .csv>-steps.csv``.

    One row per run (every field ``runs()`` gives, ``key`` first) and one row
    per training step (``run_key`` names its run); a missing value is an empty
    cell. When pyarrow is importable the same two tables are also written as
    ``.parquet`` beside them; without it only the CSV files are written.

    Returns
    -------
    list of str
        The paths written.
    """
    path = os.fspath(path)
    runs, steps = store.runs(), store.steps()
    if not runs:
        raise ValueError("the study holds no finished runs: nothing to export")
    stem = path[:-4] if path.lower().endswith(".csv") else path
    tables = {path: runs, f"{stem}-steps.csv": steps}
    for name, rows in tables.items():
        with open(name, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=_columns(rows))
            writer.writeheader()
            writer.writerows(rows)
    written = list(tables)
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        return written
    for name, rows in ((f"{stem}.parquet", runs), (f"{stem}-steps.parquet", steps)):
        pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), name)
        written.append(name)
    return written
