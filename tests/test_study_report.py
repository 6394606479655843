"""Study statistics, figure and export over a fake store whose numbers are made up here."""

import csv
import math
import sys

import numpy as np
import pytest

from tqsim.maxcut.study.report import METRICS, export_csv, format_summary, plot, summary

stats = pytest.importorskip("scipy.stats")

STEPS = 12


class FakeStore:
    """The two methods report.py reads, over lists built by the test."""

    def __init__(self, runs, steps):
        self._runs, self._steps = runs, steps

    def runs(self):
        return [dict(r) for r in self._runs]

    def steps(self, key=None):
        return [dict(s) for s in self._steps if key is None or s["run_key"] == key]


def make_run(nodes, family, seed, graph_seed, *, kind="exact", depth=2, encoding="node", backend=None,
             penalty=0.0, ratio=0.8, entropy=0.3, steps=STEPS):
    """A run whose ratio climbs to ``ratio`` and whose entropy rises to ``entropy``, with its step rows."""
    optimum = None if kind == "none" else 16.0
    key = f"{family}|n{nodes}|g{graph_seed}|s{seed}|d{depth}|{encoding}|{backend}|p{penalty}|{kind}"
    history = []
    for step in range(steps):
        fraction = (step + 1) / steps
        r = 0.5 + (ratio - 0.5) * fraction
        history.append({
            "run_key": key, "step": step, "loss": -r * 16, "expected_cut": r * 16, "readout_cut": r * 16 + 1,
            "best_cut": 15.0, "entropy": None if entropy is None else entropy * fraction,
            "expected_ratio": None if optimum is None else r, "readout_ratio": None if optimum is None else r + 0.05,
            "seconds": 0.01,
        })
    final = history[-1]
    run = {
        "key": key, "graph": f"rr-n{nodes}-d3-s{graph_seed}", "graph_seed": graph_seed, "graph_path": None,
        "nodes": nodes, "degree": 3, "family": family, "depth": depth, "encoding": encoding, "backend": backend,
        "penalty": penalty, "seed": seed, "steps": steps, "lr": 0.05, "optimizer": "adam", "max_bond": None,
        "optimum": optimum, "optimum_kind": kind, "loss": final["loss"], "expected_cut": final["expected_cut"],
        "readout_cut": final["readout_cut"], "best_cut": final["best_cut"], "expected_ratio": final["expected_ratio"],
        "readout_ratio": final["readout_ratio"], "entropy": final["entropy"], "wall_seconds": 1.5,
        "ms_per_step": 3.25, "device": "cpu", "finished": "2024-01-01T00:00:00+00:00",
    }
    return run, history


def build(specs):
    runs, steps = [], []
    for args, kwargs in specs:
        run, history = make_run(*args, **kwargs)
        runs.append(run)
        steps.extend(history)
    return FakeStore(runs, steps)


def qaoa_values(seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.7, 0.95, 6), rng.uniform(0.1, 0.6, 6)


@pytest.fixture
def store():
    ratios, entropies = qaoa_values(0)
    specs = [((10, "qaoa", s % 3, s // 3), dict(ratio=r, entropy=e)) for s, r, e in zip(range(6), ratios, entropies)]
    # product states: entropy exactly 0 in every run
    specs += [((10, "product", s, 0), dict(ratio=0.7 + 0.01 * s, entropy=0.0, backend="product")) for s in range(3)]
    specs += [((10, "qaoa", 0, 0), dict(depth=4, ratio=0.91, entropy=0.5))]  # a lone run
    # the same group measured against the GW bound on bigger graphs, and a run with neither
    specs += [((30, "qaoa", s, 0), dict(kind="gw-bound", ratio=0.75 + 0.02 * s, entropy=None)) for s in range(3)]
    specs += [((30, "qaoa", s, 1), dict(kind="exact", ratio=0.85 + 0.02 * s)) for s in range(2)]
    specs += [((40, "hea", 0, 0), dict(kind="none", entropy=0.2))]
    return build(specs)


def row_for(rows, **fields):
    matches = [r for r in rows if all(r[k] == v for k, v in fields.items())]
    assert len(matches) == 1, (fields, matches)
    return matches[0]


# --------------------------------------------------------------------- summary
def test_summary_matches_numpy_and_keeps_references_apart(store):
    rows = summary(store)
    assert len(rows) == 6
    ratios, entropies = qaoa_values(0)
    qaoa = row_for(rows, nodes=10, family="qaoa", depth=2)
    assert (qaoa["runs"], qaoa["graphs"], qaoa["seeds"], qaoa["ratio_reference"]) == (6, 2, 3, "optimum")
    assert qaoa["expected_ratio_mean"] == pytest.approx(ratios.mean(), rel=1e-12)
    assert qaoa["expected_ratio_std"] == pytest.approx(ratios.std(ddof=1), rel=1e-12)
    assert qaoa["readout_ratio_mean"] == pytest.approx(ratios.mean() + 0.05, rel=1e-12)
    assert qaoa["entropy_mean"] == pytest.approx(entropies.mean(), rel=1e-12)
    assert qaoa["entropy_std"] == pytest.approx(entropies.std(ddof=1), rel=1e-12)
    for metric in METRICS:
        assert qaoa[f"{metric}_ci_low"] < qaoa[f"{metric}_mean"] < qaoa[f"{metric}_ci_high"]
        assert qaoa[f"{metric}_ci_low"] >= qaoa[f"{metric}_mean"] - 3 * qaoa[f"{metric}_std"]

    product = row_for(rows, family="product")
    assert (product["entropy_mean"], product["entropy_ci_low"], product["entropy_ci_high"]) == (0.0, 0.0, 0.0)

    lone = row_for(rows, depth=4)
    assert lone["runs"] == 1 and lone["expected_ratio_mean"] == pytest.approx(0.91)
    assert all(math.isnan(lone[f"{m}_{s}"]) for m in METRICS for s in ("std", "ci_low", "ci_high"))

    gw = row_for(rows, nodes=30, ratio_reference="GW bound")
    exact = row_for(rows, nodes=30, ratio_reference="optimum")
    assert (gw["runs"], exact["runs"]) == (3, 2)
    assert gw["expected_ratio_mean"] == pytest.approx(0.77)
    assert exact["expected_ratio_mean"] == pytest.approx(0.86)
    assert math.isnan(gw["entropy_mean"])  # no entropy tracked in those runs

    unknown = row_for(rows, family="hea")
    assert unknown["ratio_reference"] == "none" and math.isnan(unknown["expected_ratio_mean"])
    assert unknown["entropy_mean"] == pytest.approx(0.2)


def test_bootstrap_interval_agrees_with_the_t_interval_on_a_normal_sample():
    """For 40 normal values both intervals estimate the same thing: endpoints within a fifth of the width."""
    values = np.random.default_rng(3).normal(0.8, 0.05, 40)
    store = build([((12, "qaoa", s, 0), dict(ratio=v)) for s, v in enumerate(values)])
    row = summary(store)[0]
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    width = high - low
    assert abs(row["expected_ratio_ci_low"] - low) < 0.2 * width
    assert abs(row["expected_ratio_ci_high"] - high) < 0.2 * width
    wider = summary(store, confidence=0.99)[0]
    assert wider["expected_ratio_ci_low"] < row["expected_ratio_ci_low"]
    assert wider["expected_ratio_ci_high"] > row["expected_ratio_ci_high"]


def test_summary_is_reproducible(store):
    first = summary(store, seed=4)
    assert repr(first) == repr(summary(store, seed=4))  # repr: NaN != NaN
    # reversed run order, same rows
    assert repr(first) == repr(summary(FakeStore(store.runs()[::-1], store.steps()), seed=4))
    other = row_for(summary(store, seed=5), nodes=10, family="qaoa", depth=2)
    assert other["expected_ratio_ci_low"] != row_for(first, nodes=10, family="qaoa", depth=2)["expected_ratio_ci_low"]


def test_summary_refuses_bad_arguments(store):
    with pytest.raises(ValueError, match="confidence must be a number in \\(0, 1\\), got 1.5"):
        summary(store, confidence=1.5)
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        summary(store, seed=-1)
    runs = store.runs()
    runs[0]["optimum_kind"] = "guess"
    with pytest.raises(ValueError, match="optimum_kind 'guess'; expected one of exact, gw-bound, none"):
        summary(FakeStore(runs, []))
    assert summary(FakeStore([], [])) == []


def test_summary_without_scipy_names_the_extra(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    with pytest.raises(ImportError, match=r'pip install "tqsim\[study\]"'):
        summary(store)


def test_format_summary(store):
    rows = summary(store)
    text = format_summary(rows)
    lines = text.splitlines()
    table = lines[lines.index("") + 1:]
    assert table[0].split()[:8] == ["nodes", "family", "depth", "encoding", "backend", "penalty", "ratio", "vs"]
    assert len(table) == 2 + len(rows)
    assert "95% BCa bootstrap" in text and "Goemans-Williamson SDP upper bound" in text
    qaoa = row_for(rows, nodes=10, family="qaoa", depth=2)
    line = table[2 + rows.index(qaoa)]
    m = "expected_ratio"
    assert (f"{qaoa[m + '_mean']:.3f} ± {qaoa[m + '_std']:.3f} "
            f"[{qaoa[m + '_ci_low']:.3f}, {qaoa[m + '_ci_high']:.3f}]") in line
    lone = table[2 + rows.index(row_for(rows, depth=4))]
    assert "0.910 ± n/a [n/a]" in lone
    assert " auto " in line and " product " in table[2 + rows.index(row_for(rows, family="product"))]
    gw = table[2 + rows.index(row_for(rows, ratio_reference="GW bound"))]
    assert "GW bound" in gw and gw.rstrip().endswith("n/a")  # its entropy column
    assert format_summary([]) == "no finished runs"


# ------------------------------------------------------------------------ plot
def test_plot_writes_a_png(store, tmp_path):
    image = pytest.importorskip("matplotlib.image")
    path = plot(store, tmp_path / "study.png")
    assert path == str(tmp_path / "study.png")
    pixels = image.imread(path)
    assert pixels.shape[0] > 400 and pixels.shape[1] > 1200
    assert pixels.std() > 0.05  # not a blank canvas
    with pytest.raises(ValueError, match="no finished runs"):
        plot(FakeStore([], []), tmp_path / "empty.png")


def test_plot_says_when_a_panel_has_nothing(tmp_path):
    """No reference and no entropy: the panels say so instead of failing on empty data."""
    pytest.importorskip("matplotlib")
    store = build([((40, "hea", s, 0), dict(kind="none", entropy=None)) for s in range(2)])
    assert plot(store, tmp_path / "study.png") == str(tmp_path / "study.png")


def test_plot_without_matplotlib_names_the_extra(store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "tqsim\[plot\]"'):
        plot(store, tmp_path / "study.png")
    assert not (tmp_path / "study.png").exists()


# ---------------------------------------------------------------------- export
def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def same(cell: str, value) -> bool:
    if value is None:
        return cell == ""
    if isinstance(value, float):
        return float(cell) == value
    return cell == str(value)


def test_export_csv_round_trips(store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if pyarrow were not installed: no error, CSV only
    written = export_csv(store, tmp_path / "study.csv")
    assert written == [str(tmp_path / "study.csv"), str(tmp_path / "study-steps.csv")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study-steps.csv", "study.csv"]
    for path, rows in zip(written, (store.runs(), store.steps())):
        back = read_csv(path)
        assert len(back) == len(rows)
        assert list(back[0]) == list(rows[0])  # every column, in the store's order
        for cells, row in zip(back, rows):
            assert all(same(cells[k], v) for k, v in row.items()), (cells, row)
    with pytest.raises(ValueError, match="no finished runs"):
        export_csv(FakeStore([], []), tmp_path / "empty.csv")
