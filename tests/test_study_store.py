"""The study database: round trips, refusals of foreign files, the writer lock across processes,
and a study killed with SIGKILL in the middle of writing a run."""

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta

import pytest

from tqsim.maxcut import TrainResult, make_ansatz, train
from tqsim.maxcut.study import StudyGrid, StudyStore
from tqsim.maxcut.study.store import SCHEMA_VERSION

GRID = StudyGrid(graphs=1, nodes=6, degree=3, seeds=[0, 1, 2, 3], families=["one-directional"], steps=3)
SPECS = GRID.runs()


def fake_result(spec, steps=None, history_type=list, **changes):
    """A TrainResult of ``spec`` without training: step i has loss -i, expected cut 3 + i/10, entropy 0.1 i."""
    rows = history_type({"step": i, "loss": -float(i), "expected_cut": 3 + i / 10, "readout_cut": 5.0 + i % 2,
                         "best_cut": 6.0, "entropy": 0.1 * i, "seconds": 0.01 * i}
                        for i in range(1, (spec.steps if steps is None else steps) + 1))
    fields = dict(family=spec.family, encoding=spec.encoding, backend=spec.backend or "dense", device="cpu",
                  num_qubits=spec.nodes, num_parameters=spec.nodes, steps=spec.steps, optimum=None, best_cut=6.0,
                  best_bits=[0, 1] * (spec.nodes // 2), history=rows)
    return TrainResult(**{**fields, **changes})


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "study.db")


@pytest.fixture
def store(path):
    with StudyStore.create(path, GRID) as s:
        yield s


# ------------------------------------------------------------------ round trip
def test_a_trained_run_round_trips(store):
    spec = SPECS[0]
    model = make_ansatz(spec.family, spec.problem(), spec.depth, seed=spec.seed, max_bond=spec.max_bond)
    result = train(model, steps=spec.steps, lr=spec.lr, optimizer=spec.optimizer, seed=spec.seed, progress=False,
                   device="cpu", optimum="auto")
    store.write_run(spec, result, result.optimum, "exact", wall_seconds=1.5)
    (row,) = store.runs()
    final = result.history[-1]
    assert row["key"] == spec.key and store.done_keys() == {spec.key}
    assert {k: row[k] for k in ("graph", "graph_seed", "nodes", "degree", "family", "depth", "seed", "lr")} == \
        {"graph": "rr-n6-d3-s0", "graph_seed": 0, "nodes": 6, "degree": 3, "family": "one-directional",
         "depth": None, "seed": 0, "lr": 0.05}
    assert (row["loss"], row["expected_cut"], row["readout_cut"], row["best_cut"], row["entropy"]) == \
        (final["loss"], final["expected_cut"], final["readout_cut"], final["best_cut"], final["entropy"])
    # the ratios are computed by train's formulas from the optimum given
    assert row["expected_ratio"] == pytest.approx(final["expected_ratio"], rel=1e-12)
    assert row["readout_ratio"] == pytest.approx(final["readout_ratio"], rel=1e-12)
    assert (row["optimum"], row["optimum_kind"], row["wall_seconds"]) == (result.optimum, "exact", 1.5)
    assert (row["backend"], row["backend_used"], row["device"]) == (None, "dense", "cpu")
    assert row["ms_per_step"] == pytest.approx(result.ms_per_step)
    steps = store.steps(spec.key)
    assert [s["step"] for s in steps] == [1, 2, 3]
    for got, want in zip(steps, result.history):
        assert {k: got[k] for k in want} == pytest.approx(want, rel=1e-12)
        assert got["run_key"] == spec.key


def test_finished_is_an_iso_utc_timestamp(store):
    before = datetime.now().astimezone()
    store.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 0.0)
    finished = datetime.fromisoformat(store.runs()[0]["finished"])
    assert finished.utcoffset() == timedelta(0)
    assert abs(finished - before) < timedelta(minutes=1)
    assert datetime.fromisoformat(store.meta()["created"]).utcoffset() == timedelta(0)


def test_no_optimum_means_no_ratios_and_a_bound_gives_them(store):
    store.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 1.0)
    store.write_run(SPECS[1], fake_result(SPECS[1]), 8.0, "gw-bound", 1.0)
    first, second = store.runs()
    assert first["optimum"] is None and first["expected_ratio"] is None and first["readout_ratio"] is None
    assert all(s["expected_ratio"] is None for s in store.steps(SPECS[0].key))
    assert second["optimum_kind"] == "gw-bound"
    assert second["expected_ratio"] == pytest.approx(3.3 / 8) and second["readout_ratio"] == pytest.approx(6 / 8)
    assert [s["expected_ratio"] for s in store.steps(SPECS[1].key)] == pytest.approx([3.1 / 8, 3.2 / 8, 3.3 / 8])


def test_runs_and_steps_keep_the_order_runs_finished(store):
    for spec in (SPECS[2], SPECS[0], SPECS[1]):
        store.write_run(spec, fake_result(spec), None, "none", 1.0)
    assert [r["seed"] for r in store.runs()] == [2, 0, 1]
    keys = [s["run_key"] for s in store.steps()]
    assert keys == [SPECS[2].key] * 3 + [SPECS[0].key] * 3 + [SPECS[1].key] * 3


def test_settings_and_meta(store):
    assert StudyGrid.from_dict(store.settings()) == GRID
    assert store.meta() == {"format": "tqsim-study", "schema_version": str(SCHEMA_VERSION),
                            "tqsim_version": __import__("tqsim").__version__, "created": store.meta()["created"]}


def test_the_database_is_in_wal_mode(store, path):
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -------------------------------------------------------------- write refusals
@pytest.mark.parametrize("result, optimum, kind, error, message", [
    (dict(steps=2), None, "none", ValueError, "holds 2 of its 3 steps"),
    (dict(interrupted=True), None, "none", ValueError, r"interrupted: True\); only finished runs are stored"),
    (dict(family="deep"), None, "none", ValueError, "result of family 'deep' given for a run of family"),
    (dict(encoding="mbe"), None, "none", ValueError, "result of encoding 'mbe'"),
    ({}, None, "best", ValueError, "unknown optimum_kind 'best'; choose from exact, gw-bound, none"),
    ({}, 7.0, "none", ValueError, "optimum 7.0 with optimum_kind 'none'"),
    ({}, None, "exact", ValueError, "optimum None with optimum_kind 'exact'"),
    ({}, 0.0, "exact", ValueError, "optimum must be a finite number > 0, got 0.0"),
    ({}, math.nan, "exact", ValueError, "optimum must be a finite number > 0, got nan"),
])
def test_write_run_refuses_bad_results(store, result, optimum, kind, error, message):
    spec = SPECS[0]
    steps = result.pop("steps", None)
    with pytest.raises(error, match=message):
        store.write_run(spec, fake_result(spec, steps=steps, **result), optimum, kind, 1.0)
    assert store.runs() == [] and store.steps() == []


def test_write_run_refuses_a_wrong_backend_and_bad_arguments(store):
    spec = StudyGrid(**{**GRID.to_dict(), "backends": ["mps"]}).runs()[0]
    with pytest.raises(ValueError, match="result of backend 'dense' given for a run of backend 'mps'"):
        store.write_run(spec, fake_result(spec, backend="dense"), None, "none", 1.0)
    with pytest.raises(ValueError, match="wall_seconds must be a finite number >= 0, got -1"):
        store.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", -1)
    with pytest.raises(TypeError, match="spec must be a RunSpec, got dict"):
        store.write_run({}, fake_result(SPECS[0]), None, "none", 1.0)
    with pytest.raises(TypeError, match="result must be a TrainResult"):
        store.write_run(SPECS[0], {"history": []}, None, "none", 1.0)


def test_a_run_is_stored_once(store):
    store.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 1.0)
    with pytest.raises(ValueError, match="is already stored in"):
        store.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 1.0)
    assert len(store.runs()) == 1 and len(store.steps()) == 3


def test_a_failing_step_row_rolls_the_whole_run_back(store):
    result = fake_result(SPECS[0])
    del result.history[1]["entropy"]  # the last row is read before the transaction, the middle one inside it
    with pytest.raises(KeyError):
        store.write_run(SPECS[0], result, None, "none", 1.0)
    assert store.runs() == [] and store.steps() == []
    store.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 1.0)  # the store still works
    assert len(store.steps()) == 3


def test_a_reader_cannot_write_and_a_closed_store_is_closed(store, path):
    store.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 1.0)
    reader = StudyStore.open(path)
    assert reader.done_keys() == {SPECS[0].key}  # reads while the writer holds the study
    with pytest.raises(ValueError, match="was opened for reading"):
        reader.write_run(SPECS[1], fake_result(SPECS[1]), None, "none", 1.0)
    reader.close()
    reader.close()
    with pytest.raises(ValueError, match="is closed"):
        reader.runs()


# ------------------------------------------------------------------- resuming
def test_the_same_settings_resume_and_others_are_refused(path):
    with StudyStore.create(path, GRID) as s:
        s.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 1.0)
    with StudyStore.create(path, StudyGrid.from_dict(GRID.to_dict())) as s:
        assert s.done_keys() == {SPECS[0].key}
        s.write_run(SPECS[1], fake_result(SPECS[1]), None, "none", 1.0)
    other = StudyGrid(**{**GRID.to_dict(), "seeds": [0, 1], "lr": 0.1})
    with pytest.raises(ValueError) as info:
        StudyStore.create(path, other)
    message = str(info.value)
    assert "holds a study with other settings (lr 0.05 there, 0.1 now; seeds [0, 1, 2, 3] there, [0, 1] now)" \
        in message and "run the same command as before" in message and "\n" not in message
    assert len(StudyStore.open(path).runs()) == 2


# ------------------------------------------------------------ foreign files
def test_open_refuses_what_is_not_a_study(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(FileNotFoundError, match="no study file .*missing.db"):
        StudyStore.open(missing)
    assert not missing.exists()  # not created by looking
    text = tmp_path / "notes.db"
    text.write_text("hello, this is not a database at all " * 30)
    with pytest.raises(ValueError, match=r"notes.db is not a tqsim study \(not an SQLite database\)$"):
        StudyStore.open(text)
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(ValueError, match=r"empty.db is not a tqsim study \(an empty file\)"):
        StudyStore.open(empty)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(ValueError, match=r"other.db is an SQLite database but not a tqsim study \(it has no meta"):
        StudyStore.open(other)
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE meta (name TEXT, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('format', 'something-else')")
    with pytest.raises(ValueError, match=r"not a tqsim study \(format 'something-else'\)"):
        StudyStore.open(other)
    with pytest.raises(ValueError, match="is a folder"):
        StudyStore.open(tmp_path)


def test_another_schema_version_is_refused(path):
    StudyStore.create(path, GRID).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '3' WHERE name = 'schema_version'")
    for opener in (StudyStore.open, lambda p: StudyStore.create(p, GRID)):
        with pytest.raises(ValueError, match=r"study.db is a tqsim study of schema version 3 \(written by tqsim "
                                             r"0\.1\.0\); this tqsim reads versions 1, 2$"):
            opener(path)


def test_a_schema_1_study_is_read_as_is_and_upgraded_when_resumed(path):
    with StudyStore.create(path, GRID) as store:
        store.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 1.0)
    with sqlite3.connect(path) as db:  # the file as schema 1 wrote it: no batch_size column
        db.execute("ALTER TABLE runs DROP COLUMN batch_size")
        db.execute("UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    with StudyStore.open(path) as reader:  # read only: nothing changes in the file
        assert [run["batch_size"] for run in reader.runs()] == [1]
        assert reader.meta()["schema_version"] == "1"
    with StudyStore.create(path, GRID) as store:  # resumed: upgraded in place, the old run kept
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION)
        store.write_run(SPECS[1], fake_result(SPECS[1]), None, "none", 1.0, batch_size=3)
        assert [run["batch_size"] for run in store.runs()] == [1, 3]


def test_create_leaves_a_foreign_file_untouched(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(ValueError, match="not a tqsim study"):
        StudyStore.create(other, GRID)
    with sqlite3.connect(other) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["t"]
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all " * 30)
    with pytest.raises(ValueError, match=r"notes.txt is not a tqsim study \(not an SQLite database\)"):
        StudyStore.create(text, GRID)
    assert text.read_text().startswith("hello")
    with pytest.raises(ValueError, match="is a folder"):
        StudyStore.create(tmp_path, GRID)


# ------------------------------------------------------------- the writer lock
CHILD = textwrap.dedent("""
    import json, os, sys, time
    from tqsim.maxcut import TrainResult
    from tqsim.maxcut.study import StudyGrid, StudyStore

    path, mode, marker = sys.argv[1:4]
    grid = StudyGrid.from_dict(json.loads(sys.argv[4]))

    class SlowHistory(list):
        # signals the parent and sleeps once its second row has been read: inside write_run's transaction
        def __iter__(self):
            for i, row in enumerate(list.__iter__(self)):
                yield row
                if i == 1:
                    open(marker, "w").close()
                    time.sleep(120)

    def result(spec, history_type=list):
        rows = history_type({"step": i, "loss": -float(i), "expected_cut": 3.0, "readout_cut": 5.0,
                             "best_cut": 6.0, "entropy": 0.1, "seconds": 0.01} for i in range(1, spec.steps + 1))
        return TrainResult(spec.family, spec.encoding, "dense", "cpu", spec.nodes, spec.nodes, spec.steps, None,
                           6.0, [0] * spec.nodes, rows)

    if mode == "create":  # try to open the study for writing; say how long the refusal took
        began = time.perf_counter()
        try:
            StudyStore.create(path, grid).close()
            print("opened")
        except ValueError as error:
            print(f"{time.perf_counter() - began:.3f} {error}")
    elif mode == "hold":  # open for writing, then wait to be killed
        store = StudyStore.create(path, grid)
        open(marker, "w").close()
        time.sleep(120)
    elif mode == "write":  # write two runs, then be killed halfway through the third
        store = StudyStore.create(path, grid)
        specs = grid.runs()
        for spec in specs[:2]:
            store.write_run(spec, result(spec), None, "none", 0.1)
        store.write_run(specs[2], result(specs[2], SlowHistory), None, "none", 0.1)
""")


def child(tmp_path, path, mode):
    """Start the child script; it returns after the marker appears (hold/write) or the child ends (create)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    marker = tmp_path / f"{mode}.marker"
    proc = subprocess.Popen([sys.executable, str(script), path, mode, str(marker), json.dumps(GRID.to_dict())],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if mode == "create":
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        return out.strip()
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"child ended early: {proc.communicate()[1]}")
        assert time.monotonic() < deadline, "child never reached its marker"
        time.sleep(0.05)
    return proc


def kill(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()  # reaped: a zombie would still look alive
    proc.stdout.close()
    proc.stderr.close()


def test_a_second_writer_process_is_refused_at_once(tmp_path, path):
    with StudyStore.create(path, GRID):
        answer = child(tmp_path, path, "create")
        seconds, message = answer.split(" ", 1)
        assert float(seconds) < 1.0
        assert message.startswith(f"{path} is being written by process {os.getpid()} on host")
        assert "one process at a time" in message and "\n" not in message
    assert child(tmp_path, path, "create") == "opened"  # released on close


def test_a_second_writer_in_the_same_process_is_refused(store, path):
    with pytest.raises(ValueError, match=r"already open for writing in this process \(since .*\); close that StudyStore"):
        StudyStore.create(path, GRID)
    store.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 1.0)  # the first still writes


def test_a_live_writer_holds_the_lock_and_a_killed_ones_lock_is_taken_over(tmp_path, path):
    proc = child(tmp_path, path, "hold")
    try:
        with pytest.raises(ValueError, match=f"is being written by process {proc.pid} on host"):
            StudyStore.create(path, GRID)
    finally:
        kill(proc)
    with StudyStore.create(path, GRID) as s:  # the dead process's lock is taken over
        s.write_run(SPECS[0], fake_result(SPECS[0]), None, "none", 1.0)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM writer").fetchone()[0] == 0  # and released


def test_a_lock_of_another_host_is_refused_with_the_way_out(path):
    StudyStore.create(path, GRID).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO writer VALUES (1, 1, 'elsewhere', '2024-01-01T00:00:00+00:00')")
    with pytest.raises(ValueError, match=r"being written by process 1 on host 'elsewhere' since 2024-01-01.*"
                                         r"If that process is gone, remove its lock: sqlite3 .* 'DELETE FROM writer'"):
        StudyStore.create(path, GRID)


def test_sigkill_in_the_middle_of_a_run_leaves_only_complete_runs(tmp_path, path):
    proc = child(tmp_path, path, "write")  # returns while the child sleeps inside its third run's transaction
    try:
        began = time.perf_counter()
        with pytest.raises(ValueError, match="is busy: another process is writing it right now"):
            StudyStore.create(path, GRID)  # no hang behind the child's open transaction
        assert time.perf_counter() - began < 2.0
        with StudyStore.open(path) as reader:  # readers are not blocked by it
            assert len(reader.runs()) == 2
    finally:
        kill(proc)
    with StudyStore.open(path) as reader:
        runs = reader.runs()
        assert [r["key"] for r in runs] == [s.key for s in SPECS[:2]]
        for run in runs:
            assert [s["step"] for s in reader.steps(run["key"])] == [1, 2, 3]
        assert len(reader.steps()) == 6  # no orphan step of the killed run
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM steps WHERE run_key NOT IN (SELECT key FROM runs)").fetchone()[0] == 0
    with StudyStore.create(path, GRID) as s:  # resume: the killed run is not done and can be written
        assert SPECS[2].key not in s.done_keys()
        s.write_run(SPECS[2], fake_result(SPECS[2]), None, "none", 1.0)
        assert len(s.runs()) == 3
