"""A study's grid: its axes and training settings, checked once, and the runs they span.

A study trains one model per point of graphs x families x depths x encodings x
backends x entropy penalties x seeds. :class:`StudyGrid` holds those axes (from
flags or a ``study.toml``) and refuses a bad value before anything trains: an
error found after an hour of training loses the hour. :class:`RunSpec` is one
point, with a text key that names it in the study's database, so that a
resumed study knows which runs are done.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..ansatz import BACKENDS, FAMILIES
from ..job import default_families
from ..objective import ENCODINGS
from ..problem import BRUTE_FORCE_LIMIT, MaxCutProblem
from ..train import OPTIMIZERS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the package tomli
    tomllib = None

__all__ = ["GRAPH_SUFFIXES", "RunSpec", "StudyGrid"]

GRAPH_SUFFIXES = (".txt", ".edges", ".edgelist")
# SQLite stores integers in 64 signed bits: a larger seed could not be kept
_MAX_SEED = 2**63 - 1
# the words a list in study.toml (or a flag) uses for None, which TOML cannot write
_DEFAULT_DEPTH, _AUTO_BACKEND = "default", "auto"


def _canonical(data: dict) -> str:
    """Sorted keys, no spaces, ASCII: the same text for the same values in every process and Python 3."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class RunSpec:
    """One training run of a study: a graph, a model and its training settings.

    Parameters
    ----------
    graph : str
        ``rr-n{nodes}-d{degree}-s{graph_seed}`` for a random regular graph, else the edge-list file's name.
    graph_seed : int or None
        Seed of the random regular graph (None for a file).
    graph_path : str or None
        The edge-list file (None for a random graph).
    nodes : int
        Nodes of the graph.
    degree : int or None
        Degree of the random regular graph (None for a file).
    family, depth, encoding, backend, penalty, max_bond
        ``make_ansatz(family, problem, depth, encoding=..., backend=..., entropy_penalty=penalty,
        max_bond=...)``; depth None is the family's default, backend None the automatic choice.
    seed : int
        Seeds the initial angles and the training (``make_ansatz(seed=)``, ``train(seed=)``).
    steps, lr, optimizer
        Passed to :func:`tqsim.maxcut.train`.
    """

    graph: str
    graph_seed: int | None
    graph_path: str | None
    nodes: int
    degree: int | None
    family: str
    depth: int | None
    encoding: str
    backend: str | None
    penalty: float
    seed: int
    steps: int
    lr: float
    optimizer: str
    max_bond: int

    @property
    def key(self) -> str:
        """Canonical JSON of every field: readable, and the same text in every process and Python version
        (``hash()`` is salted per process; JSON prints floats by their shortest repr)."""
        return _canonical(asdict(self))

    @property
    def group(self) -> str:
        """Canonical JSON of every field but ``seed``: the runs that statistics pool together."""
        data = asdict(self)
        del data["seed"]
        return _canonical(data)

    def problem(self) -> MaxCutProblem:
        """The graph, built again (random regular from its seed, or read from its file)."""
        if self.graph_path is None:
            return MaxCutProblem.random_regular(self.nodes, self.degree, seed=self.graph_seed)
        problem = MaxCutProblem.from_edge_list(self.graph_path)
        if problem.num_nodes != self.nodes:  # a result must not be filed under another graph
            raise ValueError(f"graph file {self.graph_path!r} now has {problem.num_nodes} nodes, not the "
                             f"{self.nodes} it had when the study's runs were listed; it was changed")
        return problem


@dataclass(frozen=True)
class StudyGrid:
    """The axes and training settings of a study, each checked on construction.

    Lists become tuples; a repeated value on an axis is refused, not merged
    (``seeds = [0, 1, 1]`` is more likely a typo than a wish), and so is an
    empty axis. Unknown families, encodings, backends and optimizers are
    refused by name, with the allowed names.

    A combination that cannot run at all is left out of :meth:`runs`, so that
    one grid can cross every family with both encodings: QAOA with the
    ``"mbe"`` encoding (it needs one node per qubit), and the ``"product"``
    backend with any family but ``"product"`` (they entangle qubits).
    :meth:`skipped` lists what was left out. A family, encoding or backend left
    with no run at all is refused instead: it was asked for and would do
    nothing.

    Parameters
    ----------
    graphs : int
        Random regular graphs, seeded ``0..graphs-1`` (ignored with ``graph_dir``).
    nodes, degree : int
        Their size and degree (ignored with ``graph_dir``).
    graph_dir : str or None
        A folder of edge-list files to use instead: every ``*.txt``, ``*.edges``
        and ``*.edgelist`` file in it, sorted by name, read with
        :meth:`MaxCutProblem.from_edge_list` by :meth:`runs` (so that a stored
        grid can be read on a machine without the folder).
    seeds : ints in 0..2**63-1
        Seeds of the initial angles and the training; 2**63 - 1 is SQLite's largest integer.
    families : names in ``tqsim.maxcut.FAMILIES`` or None
        None: every family that can run with at least one of the encodings and backends.
    depths : ints >= 1, or None / ``"default"`` for the family's default depth
    encodings : names in ``tqsim.maxcut.ENCODINGS``
    backends : names in ``tqsim.maxcut.BACKENDS``, or None / ``"auto"`` for the automatic choice
    penalties : numbers >= 0
        Entropy-penalty weights (``make_ansatz(entropy_penalty=)``).
    steps : int >= 1
    lr : number > 0
    optimizer : name in ``tqsim.maxcut.train.OPTIMIZERS``
    max_bond : int >= 1
        MPS bond dimension (used by the MPS backend only).
    """

    graphs: int = 5
    nodes: int = 16
    degree: int = 3
    graph_dir: str | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    families: tuple[str, ...] | None = None
    depths: tuple[int | None, ...] = (None,)
    encodings: tuple[str, ...] = ("node",)
    backends: tuple[str | None, ...] = (None,)
    penalties: tuple[float, ...] = (0.0,)
    steps: int = 80
    lr: float = 0.05
    optimizer: str = "adam"
    max_bond: int = 32

    def __post_init__(self):
        def put(name: str, value) -> None:
            object.__setattr__(self, name, value)  # frozen: normalised values are set once, here

        put("graphs", _count(self.graphs, "graphs"))
        put("nodes", _count(self.nodes, "nodes"))
        put("degree", _count(self.degree, "degree"))
        if self.graph_dir is None and (self.degree >= self.nodes or (self.degree * self.nodes) % 2):
            raise ValueError(f"no {self.degree}-regular graph on {self.nodes} nodes: need degree < nodes and "
                             f"degree * nodes even")
        if self.graph_dir is not None:
            if not isinstance(self.graph_dir, (str, os.PathLike)) or not str(self.graph_dir):
                raise TypeError(f"graph_dir must name a folder, got {self.graph_dir!r}")
            put("graph_dir", os.fspath(self.graph_dir))
        put("seeds", _axis(self.seeds, "seeds", _seed))
        put("depths", _axis(self.depths, "depths", _depth))
        put("encodings", _axis(self.encodings, "encodings", lambda v: _name(v, ENCODINGS, "encoding")))
        put("backends", _axis(self.backends, "backends", _backend))
        put("penalties", _axis(self.penalties, "penalties", _penalty))
        if self.families is None:
            put("families", tuple(f for f in FAMILIES if self._combinations(f)))
        put("families", _axis(self.families, "families", lambda v: _name(v, FAMILIES, "family")))
        put("steps", _count(self.steps, "steps"))
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real) or not math.isfinite(self.lr) \
                or self.lr <= 0:
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        put("lr", float(self.lr))
        put("optimizer", _name(self.optimizer, OPTIMIZERS, "optimizer"))
        put("max_bond", _count(self.max_bond, "max_bond"))
        self._check_combinations()

    # -------------------------------------------------------------- combinations
    def _combinations(self, family: str) -> list[tuple[str, str | None]]:
        """The (encoding, backend) pairs of the grid that ``family`` can run with."""
        return [(e, b) for e in self.encodings for b in self.backends if _runnable(family, e, b)]

    def _check_combinations(self) -> None:
        """Refuse a family, encoding or backend that no combination of the grid can run."""
        why = "(qaoa needs encoding 'node'; backend 'product' runs only the product family)"
        for family in self.families:
            if not self._combinations(family):
                raise ValueError(f"family {family!r} cannot run with encodings {list(self.encodings)} and "
                                 f"backends {list(self.backends)} {why}")
        for encoding in self.encodings:
            if not any(_runnable(f, encoding, b) for f in self.families for b in self.backends):
                raise ValueError(f"encoding {encoding!r} cannot run with families {list(self.families)} {why}")
        for backend in self.backends:
            if not any(_runnable(f, e, backend) for f in self.families for e in self.encodings):
                raise ValueError(f"backend {backend!r} cannot run with families {list(self.families)} and "
                                 f"encodings {list(self.encodings)} {why}")

    def skipped(self) -> list[tuple[str, str, str | None]]:
        """The (family, encoding, backend) combinations of the axes that :meth:`runs` leaves out."""
        return [(f, e, b) for f in self.families for e in self.encodings for b in self.backends
                if not _runnable(f, e, b)]

    # ---------------------------------------------------------------------- runs
    def graph_list(self) -> list[tuple[str, int | None, str | None, MaxCutProblem]]:
        """``(name, graph_seed, graph_path, problem)`` of every graph, in study order.

        Graph files are read here, not on construction, so that a grid read
        back from a study's database needs no folder to exist.
        """
        if self.graph_dir is None:
            return [(f"rr-n{self.nodes}-d{self.degree}-s{s}", s, None,
                     MaxCutProblem.random_regular(self.nodes, self.degree, seed=s)) for s in range(self.graphs)]
        if not os.path.isdir(self.graph_dir):
            raise ValueError(f"graph_dir {self.graph_dir!r} is not a folder")
        names = sorted(n for n in os.listdir(self.graph_dir)
                       if n.endswith(GRAPH_SUFFIXES) and os.path.isfile(os.path.join(self.graph_dir, n)))
        if not names:
            raise ValueError(f"graph_dir {self.graph_dir!r} holds no graph file (*{', *'.join(GRAPH_SUFFIXES)})")
        return [(n, None, os.path.join(self.graph_dir, n),
                 MaxCutProblem.from_edge_list(os.path.join(self.graph_dir, n))) for n in names]

    def runs(self) -> list[RunSpec]:
        """Every run, ordered by graph, family, depth, encoding, backend, penalty, then seed.

        Seeds vary fastest, so runs that differ only in seed are adjacent. A
        dense backend asked for a graph of more than 26 qubits is refused here
        (graph files are only read here).
        """
        specs = []
        for name, graph_seed, path, problem in self.graph_list():
            n = problem.num_nodes
            for family in self.families:
                for depth in self.depths:
                    for encoding, backend in self._combinations(family):
                        qubits = n if encoding == "node" else math.ceil(n / 2)
                        if backend == "dense" and qubits > BRUTE_FORCE_LIMIT:
                            raise ValueError(f"graph {name!r} needs {qubits} qubits with encoding {encoding!r}; "
                                             f"backend 'dense' holds at most {BRUTE_FORCE_LIMIT} "
                                             f"(use 'mps' or 'auto')")
                        for penalty in self.penalties:
                            for seed in self.seeds:
                                specs.append(RunSpec(
                                    name, graph_seed, path, n, self.degree if path is None else None, family,
                                    depth, encoding, backend, penalty, seed, self.steps, self.lr, self.optimizer,
                                    self.max_bond))
        return specs

    # ------------------------------------------------------------------- storage
    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (lists, None), as stored in a study's database."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> "StudyGrid":
        """The grid of :meth:`to_dict`'s values; unknown keys refused by name.

        ``source`` (a file name) begins every error message, so that a bad value says where it was written.
        """
        if not isinstance(data, dict):
            raise TypeError(f"the settings must be a dict, got {type(data).__name__}")
        allowed = [f.name for f in fields(cls)]
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                where = f" in {source}" if source else ""
                raise ValueError(f"unknown key {key!r}{where}{hint}; allowed: {', '.join(allowed)}")
        if source is None:
            return cls(**data)
        try:
            return cls(**data)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{source}: {error}") from None

    @classmethod
    def from_toml(cls, path: str | os.PathLike) -> "StudyGrid":
        """The grid of a ``study.toml``: one ``[study]`` table whose keys are this class's fields.

        A table rather than top-level keys leaves room for other tables later,
        and a stray key outside it is refused, not ignored. TOML has no null:
        ``depths = ["default", 4]`` and ``backends = ["auto", "mps"]`` spell
        None. A relative ``graph_dir`` is relative to the TOML file's folder,
        so that the file works from any working directory. Example::

            [study]
            graphs = 3
            nodes = 12
            families = ["qaoa", "deep"]
            depths = ["default", 2]
            penalties = [0.0, 0.1]
        """
        path = os.fspath(path)
        parser = tomllib
        if parser is None:
            try:
                import tomli as parser
            except ModuleNotFoundError:
                raise ImportError("reading a study.toml on Python 3.10 needs the package 'tomli': "
                                  "pip install \"tqsim[study]\"") from None
        try:
            with open(path, "rb") as f:
                document = parser.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"no study file {path!r}") from None
        except OSError as error:
            raise ValueError(f"cannot read study file {path!r}: {error.strerror}") from None
        except parser.TOMLDecodeError as error:
            raise ValueError(f"{path} is not valid TOML: {error}") from None
        extra = [k for k in document if k != "study"]
        if extra:
            raise ValueError(f"unknown key {extra[0]!r} in {path}; the settings go in one [study] table")
        if "study" not in document:
            raise ValueError(f"{path} has no [study] table; write the settings under a [study] line")
        data = document["study"]
        if not isinstance(data, dict):
            raise ValueError(f"'study' in {path} must be a table ([study]), got {data!r}")
        if isinstance(data.get("graph_dir"), str):
            data = {**data, "graph_dir": os.path.join(os.path.dirname(path), data["graph_dir"])}
        return cls.from_dict(data, source=path)


def _runnable(family: str, encoding: str, backend: str | None) -> bool:
    """Whether ``make_ansatz`` accepts the combination (MaxCutAnsatz._choose_backend, QAOAAnsatz)."""
    return family in default_families(encoding) and (backend != "product" or family == "product")


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _axis(values, name: str, check) -> tuple:
    """An axis as a tuple of checked values: a list, not one bare value; not empty; no repeats."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list, got {values!r}")
    items = tuple(check(v) for v in values)
    if not items:
        raise ValueError(f"empty grid: {name} has no values")
    repeated = sorted({repr(v) for v in items if items.count(v) > 1})
    if repeated:
        raise ValueError(f"{name} {list(items)} repeat {', '.join(repeated)}; give each value once")
    return items


def _seed(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seeds must be ints, got {value!r}")
    if not 0 <= value <= _MAX_SEED:
        raise ValueError(f"seed {value} is out of range; seeds are 0..2**63-1")
    return int(value)


def _depth(value) -> int | None:
    if value is None or value == _DEFAULT_DEPTH:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"depths must be ints >= 1 or {_DEFAULT_DEPTH!r} (the family's default), got {value!r}")
    if value < 1:
        raise ValueError(f"depth must be >= 1, got {value}")
    return int(value)


def _backend(value) -> str | None:
    if value is None or value == _AUTO_BACKEND:
        return None
    return _name(value, BACKENDS, "backend", extra=(_AUTO_BACKEND,))


def _penalty(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"penalties must be finite numbers >= 0, got {value!r}")
    return float(value)


def _name(value, allowed, what: str, extra: tuple = ()) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; choose from {', '.join([*allowed, *extra])}")
    return value
