"""A study's SQLite database: its settings, one row per finished run, one per training step.

Everything goes through the standard library's ``sqlite3``, so a study needs
no server and its file can be copied, inspected with any SQLite client and
read while a study is still writing it (WAL journal mode: readers never wait
for the writer). A run's rows are written in one transaction when the run
completes, so a killed study loses at most the run in flight and never leaves
half a run behind; a resumed study skips :meth:`StudyStore.done_keys`.

Only one process writes a study at a time: :meth:`StudyStore.create` takes a
writer lock (a row holding the writer's pid and host) and :meth:`close`
releases it. A lock left by a killed process of this host is taken over; one
held by a live process, or by a process of another host (whose liveness
cannot be checked from here), is refused at once with a message naming it.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import urllib.parse
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any

from ..train import TrainResult
from .grid import RunSpec, StudyGrid

__all__ = ["FORMAT", "OPTIMUM_KINDS", "SCHEMA_VERSION", "StudyStore"]

FORMAT = "tqsim-study"
SCHEMA_VERSION = 2  # 2: runs.batch_size
# versions this tqsim still reads; create() upgrades them in place (1 lacks runs.batch_size: every run alone)
_UPGRADES = {"1": "ALTER TABLE runs ADD COLUMN batch_size INTEGER NOT NULL DEFAULT 1"}
OPTIMUM_KINDS = ("exact", "gw-bound", "none")
# how long a connection waits for another's write lock: a second writer must hear "busy" at once,
# not hang; the writer itself, holding the writer lock, only ever meets such short checks
_LOCK_WAIT_S = 0.5
_WRITE_WAIT_S = 30.0

_SPEC_FIELDS = [f.name for f in fields(RunSpec)]
_SPEC_TYPES = {"graph": "TEXT", "graph_seed": "INTEGER", "graph_path": "TEXT", "nodes": "INTEGER",
               "degree": "INTEGER", "family": "TEXT", "depth": "INTEGER", "encoding": "TEXT", "backend": "TEXT",
               "penalty": "REAL", "seed": "INTEGER", "steps": "INTEGER", "lr": "REAL", "optimizer": "TEXT",
               "max_bond": "INTEGER"}
# what a run row holds beyond its RunSpec fields; the final values are the last step's
_RESULT_COLUMNS = {"backend_used": "TEXT", "num_qubits": "INTEGER", "num_parameters": "INTEGER",
                   "optimum": "REAL", "optimum_kind": "TEXT", "loss": "REAL", "expected_cut": "REAL",
                   "readout_cut": "REAL", "best_cut": "REAL", "expected_ratio": "REAL", "readout_ratio": "REAL",
                   "entropy": "REAL", "wall_seconds": "REAL", "ms_per_step": "REAL", "batch_size": "INTEGER",
                   "device": "TEXT", "finished": "TEXT"}
_STEP_COLUMNS = ["step", "loss", "expected_cut", "readout_cut", "best_cut", "entropy", "expected_ratio",
                 "readout_ratio", "seconds"]
_RUN_COLUMNS = ["key", *_SPEC_FIELDS, *_RESULT_COLUMNS]

_SCHEMA = f"""
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE writer (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, host TEXT NOT NULL,
                     since TEXT NOT NULL);
CREATE TABLE runs (key TEXT PRIMARY KEY,
                   {", ".join(f"{c} {t}" for c, t in {**_SPEC_TYPES, **_RESULT_COLUMNS}.items())},
                   CHECK (optimum_kind IN ({", ".join(repr(k) for k in OPTIMUM_KINDS)})));
CREATE TABLE steps (run_key TEXT NOT NULL REFERENCES runs (key), step INTEGER NOT NULL,
                    {", ".join(f"{c} REAL" for c in _STEP_COLUMNS[1:])},
                    PRIMARY KEY (run_key, step)) WITHOUT ROWID
"""


def _now() -> str:
    """The time as an ISO 8601 UTC string: sortable as text, and the same in every time zone."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class StudyStore:
    """A study's database, opened by :meth:`create` (to write) or :meth:`open` (to read).

    Use it as a context manager, or call :meth:`close`, so that the writer
    lock is released.
    """

    def __init__(self, path: str, connection: sqlite3.Connection, writer: bool):
        self.path = path
        self._db = connection
        self.writer = writer
        # runs' columns as this file has them: a study of schema 1, read here, has every run alone
        version = dict(connection.execute("SELECT name, value FROM meta"))["schema_version"]
        self._run_columns = [c if c != "batch_size" or version != "1" else "1 AS batch_size" for c in _RUN_COLUMNS]

    # --------------------------------------------------------------- opening
    @classmethod
    def create(cls, path: str | os.PathLike, grid: StudyGrid) -> "StudyStore":
        """Open ``path`` to write the study of ``grid``, creating the file if it does not exist.

        An existing study with the same settings is opened to be resumed
        (this is how a study is continued: the same command again); one with
        other settings is refused, as is a file that is not a tqsim study, and
        a study that another process is writing.
        """
        if not isinstance(grid, StudyGrid):
            raise TypeError(f"grid must be a StudyGrid, got {type(grid).__name__}")
        path = os.fspath(path)
        if os.path.isdir(path):
            raise ValueError(f"study file {path!r} is a folder; name a file (e.g. study.db)")
        try:
            db = sqlite3.connect(path, timeout=_LOCK_WAIT_S, isolation_level=None)
        except sqlite3.Error as error:
            raise ValueError(f"cannot open study file {path!r}: {error}") from None
        try:
            try:
                if _tables(db):  # before anything changes the file: it may be another program's database
                    _check_meta(db, path)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise ValueError(_busy_or(error, path)) from None
            except sqlite3.DatabaseError:
                raise ValueError(f"{path} is not a tqsim study (not an SQLite database); "
                                 f"choose another file") from None
            with _Transaction(db, begun=True):
                if not _tables(db):  # looked again inside the transaction: another process may have created it
                    for statement in _SCHEMA.split(";"):
                        db.execute(statement)
                    _write_meta(db, grid)
                else:
                    _check_meta(db, path)
                    _check_settings(db, path, grid)
                    _upgrade(db)
                _take_lock(db, path)
            db.execute(f"PRAGMA busy_timeout={int(_WRITE_WAIT_S * 1000)}")
        except BaseException:
            db.close()
            raise
        return cls(path, db, writer=True)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "StudyStore":
        """Open the study at ``path`` to read (report, export); a study being written can be read."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no study file {path!r}")
        if os.path.isdir(path):
            raise ValueError(f"study file {path!r} is a folder, not a study")
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=_WRITE_WAIT_S, isolation_level=None)  # opens lazily
        try:
            try:
                tables = _tables(db)
            except sqlite3.OperationalError as error:  # e.g. a read-only folder that lacks the WAL index
                raise ValueError(f"cannot read study file {path!r}: {error}") from None
            except sqlite3.DatabaseError:
                raise ValueError(f"{path} is not a tqsim study (not an SQLite database)") from None
            if not tables:
                raise ValueError(f"{path} is not a tqsim study (an empty file)")
            _check_meta(db, path)
        except BaseException:
            db.close()
            raise
        return cls(path, db, writer=False)

    def close(self) -> None:
        """Release the writer lock (if this store holds it) and close the database; closing twice is harmless."""
        if self._db is None:
            return
        try:
            if self.writer:
                with self._transaction():
                    self._db.execute("DELETE FROM writer WHERE pid = ? AND host = ?", (os.getpid(), _host()))
        finally:
            self._db.close()
            self._db = None

    def __enter__(self) -> "StudyStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StudyStore({self.path!r}, {'writing' if self.writer else 'reading'})"

    # --------------------------------------------------------------- reading
    def settings(self) -> dict[str, Any]:
        """The grid's settings (:meth:`StudyGrid.to_dict`); ``StudyGrid.from_dict`` makes the grid again."""
        return json.loads(self._meta()["settings"])

    def meta(self) -> dict[str, str]:
        """format, schema_version, tqsim_version and created (ISO UTC) of the study."""
        return {k: v for k, v in self._meta().items() if k != "settings"}

    def done_keys(self) -> set[str]:
        """The :attr:`RunSpec.key` of every stored run."""
        return {row[0] for row in self._connection().execute("SELECT key FROM runs")}

    def runs(self) -> list[dict[str, Any]]:
        """One dict per stored run, in the order they finished: the RunSpec fields, key and the results."""
        return self._dicts(f"SELECT {', '.join(self._run_columns)} FROM runs ORDER BY rowid")

    def steps(self, key: str | None = None) -> list[dict[str, Any]]:
        """One dict per training step (``run_key`` names the run), of run ``key`` or of every run,
        ordered by run (as in :meth:`runs`) then step."""
        columns = ", ".join(f"s.{c}" for c in ["run_key", *_STEP_COLUMNS])
        sql = f"SELECT {columns} FROM steps s JOIN runs r ON r.key = s.run_key"
        if key is None:
            return self._dicts(sql + " ORDER BY r.rowid, s.step")
        return self._dicts(sql + " WHERE s.run_key = ? ORDER BY s.step", (key,))

    # --------------------------------------------------------------- writing
    def write_run(self, spec: RunSpec, result, optimum: float | None, optimum_kind: str,
                  wall_seconds: float, batch_size: int = 1) -> None:
        """Store a finished run and its steps in one transaction.

        Parameters
        ----------
        spec : RunSpec
        result : TrainResult
            Of ``train`` on ``spec``'s model; an interrupted run, or one with
            fewer steps than ``spec.steps``, is refused (it is not done: a
            resumed study must run it again).
        optimum : float or None
            The reference cut of the ratios: the exact optimum, or a classical
            bound for graphs too big to brute-force. The ratios are computed
            here from it with ``train``'s formulas (expected cut / optimum,
            best read-out cut so far / optimum), so that a reference found
            after training gives ratios too.
        optimum_kind : "exact", "gw-bound" or "none"
            What ``optimum`` is ("none" exactly when it is None).
        wall_seconds : float
            The run's wall time as the caller measured it (building the model included); for a run trained in a
            batch of seeds, its share of the batch's wall time.
        batch_size : int
            How many seeds trained together with this one as one batched state (1: alone). A run's last bits
            depend on it, as they do on the number of threads.
        """
        if not self.writer:
            raise ValueError(f"{self.path} was opened for reading (StudyStore.open); "
                             f"StudyStore.create opens it for writing")
        if not isinstance(spec, RunSpec):
            raise TypeError(f"spec must be a RunSpec, got {type(spec).__name__}")
        if optimum_kind not in OPTIMUM_KINDS:
            raise ValueError(f"unknown optimum_kind {optimum_kind!r}; choose from {', '.join(OPTIMUM_KINDS)}")
        if (optimum is None) != (optimum_kind == "none"):
            raise ValueError(f"optimum {optimum!r} with optimum_kind {optimum_kind!r}: give a number with "
                             f"'exact' or 'gw-bound', None with 'none'")
        if optimum is not None and (isinstance(optimum, bool) or not isinstance(optimum, (int, float))
                                    or not math.isfinite(optimum) or optimum <= 0):
            raise ValueError(f"optimum must be a finite number > 0, got {optimum!r}")
        if isinstance(wall_seconds, bool) or not isinstance(wall_seconds, (int, float)) \
                or not math.isfinite(wall_seconds) or wall_seconds < 0:
            raise ValueError(f"wall_seconds must be a finite number >= 0, got {wall_seconds!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        _check_result(spec, result)
        final = result.history[-1]
        ratio = (lambda cut: cut / optimum) if optimum else (lambda cut: None)
        run = {**{f: getattr(spec, f) for f in _SPEC_FIELDS}, "key": spec.key, "backend_used": result.backend,
               "num_qubits": result.num_qubits, "num_parameters": result.num_parameters, "optimum": optimum,
               "optimum_kind": optimum_kind, "loss": final["loss"], "expected_cut": final["expected_cut"],
               "readout_cut": final["readout_cut"], "best_cut": final["best_cut"],
               "expected_ratio": ratio(final["expected_cut"]), "readout_ratio": ratio(final["best_cut"]),
               "entropy": final["entropy"], "wall_seconds": float(wall_seconds), "ms_per_step": result.ms_per_step,
               "batch_size": batch_size, "device": result.device, "finished": _now()}
        step_rows = ((spec.key, h["step"], h["loss"], h["expected_cut"], h["readout_cut"], h["best_cut"],
                      h["entropy"], ratio(h["expected_cut"]), ratio(h["best_cut"]), h["seconds"])
                     for h in result.history)  # read inside the transaction: a kill there loses the whole run
        db = self._connection()
        try:
            with self._transaction():
                db.execute(f"INSERT INTO runs ({', '.join(run)}) VALUES ({', '.join('?' * len(run))})",
                           list(run.values()))
                db.executemany(f"INSERT INTO steps (run_key, {', '.join(_STEP_COLUMNS)}) "
                               f"VALUES ({', '.join('?' * (len(_STEP_COLUMNS) + 1))})", step_rows)
        except sqlite3.IntegrityError:
            raise ValueError(f"run {spec.key} is already stored in {self.path}") from None

    # -------------------------------------------------------------- plumbing
    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise ValueError(f"study {self.path!r} is closed")
        return self._db

    def _transaction(self):
        return _Transaction(self._connection())

    def _meta(self) -> dict[str, str]:
        return dict(self._connection().execute("SELECT name, value FROM meta"))

    def _dicts(self, sql: str, parameters=()) -> list[dict[str, Any]]:
        cursor = self._connection().execute(sql, parameters)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]


class _Transaction:
    """``BEGIN IMMEDIATE`` (unless ``begun``) ... ``COMMIT``, or ``ROLLBACK`` on any exception
    (KeyboardInterrupt too).

    The connection is in autocommit mode (``isolation_level=None``) and every transaction is spelled
    out: the sqlite3 module's implicit transactions would start them with a plain (deferred) BEGIN,
    which can fail with "database is locked" halfway through instead of at the start.
    """

    def __init__(self, db: sqlite3.Connection, begun: bool = False):
        self.db, self.begun = db, begun

    def __enter__(self) -> None:
        if not self.begun:
            self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, error, traceback) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _host() -> str:
    return socket.gethostname()


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _busy_or(error: sqlite3.OperationalError, path: str) -> str:
    if "locked" in str(error) or "busy" in str(error):
        return f"{path} is busy: another process is writing it right now; a study is written by one process at a time"
    return f"cannot open study file {path!r}: {error}"


def _write_meta(db: sqlite3.Connection, grid: StudyGrid) -> None:
    from ... import __version__  # here, not at import: tqsim/__init__ may still be importing this package

    rows = {"format": FORMAT, "schema_version": str(SCHEMA_VERSION), "tqsim_version": __version__,
            "created": _now(), "settings": json.dumps(grid.to_dict(), sort_keys=True)}
    db.executemany("INSERT INTO meta (name, value) VALUES (?, ?)", rows.items())


def _check_meta(db: sqlite3.Connection, path: str) -> None:
    """Refuse a database that is not a tqsim study, or a study of a schema version this tqsim cannot read."""
    if "meta" not in _tables(db):
        raise ValueError(f"{path} is an SQLite database but not a tqsim study (it has no meta table)")
    meta = dict(db.execute("SELECT name, value FROM meta"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is an SQLite database but not a tqsim study (format {meta.get('format')!r})")
    if meta.get("schema_version") not in (str(SCHEMA_VERSION), *_UPGRADES):
        raise ValueError(f"{path} is a tqsim study of schema version {meta.get('schema_version')} "
                         f"(written by tqsim {meta.get('tqsim_version')}); this tqsim reads versions "
                         f"{', '.join([*_UPGRADES, str(SCHEMA_VERSION)])}")


def _upgrade(db: sqlite3.Connection) -> None:
    """Bring a study of an older schema to this one, inside the caller's transaction."""
    version = dict(db.execute("SELECT name, value FROM meta"))["schema_version"]
    if version in _UPGRADES:
        db.execute(_UPGRADES[version])
        db.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION),))


def _check_settings(db: sqlite3.Connection, path: str, grid: StudyGrid) -> None:
    """Refuse to resume a study with other settings: its runs would mix with the new grid's."""
    stored = json.loads(dict(db.execute("SELECT name, value FROM meta"))["settings"])
    wanted = grid.to_dict()
    changed = [f"{k} {stored.get(k)!r} there, {wanted.get(k)!r} now" for k in sorted({*stored, *wanted})
               if stored.get(k) != wanted.get(k)]
    if changed:
        raise ValueError(f"{path} holds a study with other settings ({'; '.join(changed)}); to resume it, run the "
                         f"same command as before; to start another study, choose another file")


def _take_lock(db: sqlite3.Connection, path: str) -> None:
    """Take the writer lock inside the caller's transaction, or refuse naming its holder."""
    row = db.execute("SELECT pid, host, since FROM writer").fetchone()
    if row is not None:
        pid, host, since = row
        if host == _host() and pid == os.getpid():
            raise ValueError(f"{path} is already open for writing in this process (since {since}); "
                             f"close that StudyStore first")
        if host != _host() or _pid_alive(pid):
            raise ValueError(f"{path} is being written by process {pid} on host {host!r} since {since}; "
                             f"a study is written by one process at a time. If that process is gone, remove its "
                             f"lock: sqlite3 {path} 'DELETE FROM writer'")
        db.execute("DELETE FROM writer")  # left by a killed process of this host
    db.execute("INSERT INTO writer (id, pid, host, since) VALUES (1, ?, ?, ?)", (os.getpid(), _host(), _now()))


def _check_result(spec: RunSpec, result) -> None:
    """Refuse a result that is not a finished training of ``spec``'s model."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult (tqsim.maxcut.train), got {type(result).__name__}")
    if result.interrupted or len(result.history) != spec.steps:
        raise ValueError(f"run {spec.key} holds {len(result.history)} of its {spec.steps} steps "
                         f"(interrupted: {result.interrupted}); only finished runs are stored")
    for what in ("family", "encoding"):
        if getattr(result, what) != getattr(spec, what):
            raise ValueError(f"result of {what} {getattr(result, what)!r} given for a run of {what} "
                             f"{getattr(spec, what)!r}")
    if spec.backend is not None and result.backend != spec.backend:
        raise ValueError(f"result of backend {result.backend!r} given for a run of backend {spec.backend!r}")
