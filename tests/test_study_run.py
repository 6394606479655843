"""`tqsim study run`: every run is an ordinary train(), stored once, resumable; references per graph.

Oracles: a direct train() call with the same settings (bit for bit), brute
force over all 2**n cuts written here with itertools, and the cut of an
explicit partition for the classical reference above 26 nodes.
"""

import itertools
import sqlite3

import pytest

from tqsim.cli import main
from tqsim.maxcut import MaxCutProblem, make_ansatz, train
from tqsim.maxcut.study import StudyGrid, StudyStore
from tqsim.maxcut.study import runner

FLAGS = ["--graphs", "2", "--nodes", "6", "--seeds", "0", "1", "--families", "one-directional", "product",
         "--steps", "4", "--no-progress"]


def brute_force_cut(problem: MaxCutProblem) -> float:
    graph = problem.graph
    nodes = sorted(graph.nodes)
    best = 0.0
    for bits in itertools.product((0, 1), repeat=len(nodes)):
        side = dict(zip(nodes, bits))
        best = max(best, sum(d.get("weight", 1.0) for u, v, d in graph.edges(data=True) if side[u] != side[v]))
    return best


def test_cli_study_stores_every_run_as_a_plain_train_would_give(tmp_path):
    db = tmp_path / "study.db"
    assert main(["study", "run", "--db", str(db), *FLAGS]) == 0
    with StudyStore.open(db) as store:
        runs = store.runs()
        assert len(runs) == 2 * 2 * 2
        for row in runs:
            problem = MaxCutProblem.random_regular(6, 3, seed=row["graph_seed"])
            assert row["optimum_kind"] == "exact"
            assert row["optimum"] == pytest.approx(brute_force_cut(problem), abs=1e-9)
        # one run again by hand: the same numbers, bit for bit
        row = next(r for r in runs if r["family"] == "one-directional" and r["seed"] == 1 and r["graph_seed"] == 1)
        problem = MaxCutProblem.random_regular(6, 3, seed=1)
        model = make_ansatz("one-directional", problem, None, seed=1, max_bond=32)
        direct = train(model, steps=4, lr=0.05, optimizer="adam", device="cpu", seed=1, progress=False,
                       optimum=row["optimum"])
        steps = [s for s in store.steps(row["key"])]
        assert [s["loss"] for s in steps] == [h["loss"] for h in direct.history]
        assert [s["entropy"] for s in steps] == [h["entropy"] for h in direct.history]
        assert row["expected_ratio"] == direct.final["expected_ratio"]


def test_running_the_same_command_again_adds_nothing(tmp_path, monkeypatch):
    db = tmp_path / "study.db"
    assert main(["study", "run", "--db", str(db), *FLAGS]) == 0
    calls = []
    monkeypatch.setattr(runner, "_train", lambda *a, **k: calls.append(a))
    assert main(["study", "run", "--db", str(db), *FLAGS]) == 0
    assert calls == []
    assert sqlite3.connect(db).execute("select count(*) from runs").fetchone()[0] == 8


def test_an_interrupted_run_is_not_stored_and_the_study_exits_130(tmp_path, monkeypatch, capsys):
    db = tmp_path / "study.db"
    real = runner._train
    count = []

    def stop_on_third(specs, problem, optimum, device):
        count.append(1)
        results = real(specs, problem, optimum, device)
        if len(count) == 3:
            results[0].interrupted = True
        return results

    monkeypatch.setattr(runner, "_train", stop_on_third)
    assert main(["study", "run", "--db", str(db), *FLAGS]) == 130
    assert "interrupted" in capsys.readouterr().err
    with StudyStore.open(db) as store:
        assert len(store.runs()) == 2
    monkeypatch.setattr(runner, "_train", real)
    assert main(["study", "run", "--db", str(db), *FLAGS]) == 0
    with StudyStore.open(db) as store:
        assert len(store.runs()) == 8


def test_large_graphs_take_the_goemans_williamson_bound_labelled_as_such(tmp_path):
    pytest.importorskip("cvxpy")
    grid = StudyGrid(graphs=1, nodes=28, seeds=(0,), families=("product",), steps=2)
    with runner.run_study(grid, str(tmp_path / "big.db"), device="cpu", progress=False) as store:
        (row,) = store.runs()
    assert row["optimum_kind"] == "gw-bound"
    problem = MaxCutProblem.random_regular(28, 3, seed=0)
    # the SDP bound is at least every cut: the trained read-out and an alternating partition
    alternating = problem.cut_value([q % 2 for q in range(28)]).item()
    assert row["optimum"] >= max(row["best_cut"], alternating) - 1e-6
    assert row["optimum"] <= problem.total_weight + 1e-6


def test_bad_input_is_refused_in_one_line(tmp_path, capsys):
    db = str(tmp_path / "x.db")
    assert main(["study", "run", "--db", db, "--config", "grid.toml", "--nodes", "8"]) == 1
    assert "remove --nodes" in capsys.readouterr().err
    assert main(["study", "run", "--db", db, "--graphs", "1", "--nodes", "30", "--optimum", "exact"]) == 1
    assert "stops at 26 nodes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse: a flag without its values
        main(["study", "run", "--db", db, "--seeds"])
    assert usage.value.code == 2
    with pytest.raises(ValueError, match="optimum must be one of"):
        runner.reference(MaxCutProblem.random_regular(6, 3, seed=0), "best")


def test_report_and_export_read_what_the_run_wrote(tmp_path, capsys):
    pytest.importorskip("scipy")
    pytest.importorskip("matplotlib")
    import csv

    db = str(tmp_path / "study.db")
    assert main(["study", "run", "--db", db, *FLAGS]) == 0
    capsys.readouterr()
    assert main(["study", "report", "--db", db, "--out", str(tmp_path / "report")]) == 0
    table = capsys.readouterr().out
    assert "one-directional" in table and "product" in table
    assert (tmp_path / "report" / "study.png").stat().st_size > 10_000
    assert (tmp_path / "report" / "summary.txt").read_text().strip() in table
    assert main(["study", "export", "--db", db, "--csv", str(tmp_path / "runs.csv")]) == 0
    with open(tmp_path / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(tmp_path / "runs-steps.csv", newline="") as f:
        steps = list(csv.DictReader(f))
    assert len(rows) == 8 and len(steps) == 8 * 4
    with StudyStore.open(db) as store:
        assert sorted(float(r["expected_ratio"]) for r in rows) == sorted(r["expected_ratio"] for r in store.runs())
    assert main(["study", "report", "--db", str(tmp_path / "missing.db"), "--out", str(tmp_path)]) == 1
    assert "missing.db" in capsys.readouterr().err
