"""Where a study's runs train: one after another in this process, or as Ray tasks on a cluster.

An executor is used in a ``with`` block (entering it connects to whatever it
needs and settles the device) and its :meth:`run` takes the work to do, each
a :class:`Job` (one run, or several seeds of one group trained as one batched
state, with their graph and reference), and yields ``(job, results,
wall_seconds)`` as each job finishes. Executors only train: the runner, in
the driver process, writes every result to the database as it arrives, so a
database is only ever written by one process, and a run is stored the moment
it is done, whichever machine trained it.

Both executors call the same ``train_runs(specs, problem, optimum, device)``
with the same arguments, so they give the same numbers for the same seeds:
on the CPU bit for bit, as long as every process uses the same number of
torch threads (docs/reproducibility.md), which the Ray executor sees to.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import torch

from ..._optional import require
from ..problem import MaxCutProblem
from ..train import TrainResult, resolve_device
from .grid import RunSpec

__all__ = ["TASKS_PER_GPU", "Job", "LocalExecutor", "RayExecutor"]

#: Ray tasks that share one GPU by default (each asks for 1/4 of it): one small run leaves a GPU mostly idle
TASKS_PER_GPU = 4
# how long a Ray address may take to answer before it is called unreachable
_CONNECT_TIMEOUT_S = 3.0
# the client preface of HTTP/2 and an empty SETTINGS frame: Ray's GCS speaks gRPC, which answers with SETTINGS
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS_FRAME = 4

TrainRuns = Callable[[tuple[RunSpec, ...], MaxCutProblem, float, Any], list[TrainResult]]


class Job(NamedTuple):
    """Runs to train together (one, or seeds of one group batched), their graph (built once per graph by the
    driver) and the reference of their ratios."""

    specs: tuple[RunSpec, ...]
    problem: MaxCutProblem
    optimum: float
    optimum_kind: str


def _timed(train_runs: TrainRuns, specs: tuple[RunSpec, ...], problem: MaxCutProblem, optimum: float,
           device) -> tuple[list[TrainResult], float]:
    """``train_runs``'s results and their wall time, model building included."""
    began = time.perf_counter()
    results = train_runs(specs, problem, optimum, device)
    return results, time.perf_counter() - began


class LocalExecutor:
    """Every run in this process, one after another, in the order given.

    Parameters
    ----------
    device : str
        "auto" (CUDA when present), "cpu" or "cuda"; checked here, before anything runs.
    train_runs : callable
        ``train_runs(specs, problem, optimum, device) -> [TrainResult, ...]``: one job's runs.
    """

    def __init__(self, device, train_runs: TrainRuns):
        self.device = resolve_device(device)
        self.train_runs = train_runs

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, list[TrainResult], float]]:
        """Train each job when it comes: a reference computed lazily by ``jobs`` waits for no other run."""
        for job in jobs:
            yield (job, *_timed(self.train_runs, job.specs, job.problem, job.optimum, self.device))


class RayExecutor:
    """Every job as one Ray task, on a local Ray cluster or on an existing one; results come back as they finish.

    A job is one run, or the seeds of a group batched into one state (the
    runner's ``batch_seeds``). Without batching a task is one run, so a run is
    stored as soon as it is done and a grid with few groups and many seeds
    still fills the cluster; a task costs milliseconds, a run seconds at least.

    Each task sets ``torch.set_num_threads`` to this process's count (CPU
    results depend on it) and, on the CPU, asks Ray for as many CPUs, so that
    the threads of concurrent runs do not share cores; on CUDA it asks for
    ``1 / tasks_per_gpu`` of a GPU and one CPU. Graphs go to the cluster once
    each, through Ray's object store, so graph files need not exist on the
    other nodes; tqsim must be installed on every node.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        "auto": CUDA when the cluster has GPUs. Ray chooses each task's GPU, so an index is refused.
    train_runs : callable
        ``train_runs(specs, problem, optimum, device) -> [TrainResult, ...]``, run in the Ray workers (Ray
        pickles it: a module-level function is imported there by name).
    address : str or None
        ``HOST:PORT`` of a running cluster's head (``ray start --head`` prints it); None starts a local
        cluster, or joins the one ``ray.init()`` finds (e.g. through ``RAY_ADDRESS``). When Ray is
        already initialized in this process, its cluster is used as it is, and an address is refused.
    tasks_per_gpu : int
        Runs that share one GPU.

    Raises
    ------
    ImportError
        Ray is not installed (it comes with the extra ``distributed``).
    """

    def __init__(self, device, train_runs: TrainRuns, address: str | None = None,
                 tasks_per_gpu: int = TASKS_PER_GPU):
        self.ray = require("ray", "distributed", "--executor ray")
        if str(device) not in ("auto", "cpu", "cuda"):
            raise ValueError(f"with the Ray executor the device must be auto, cpu or cuda (Ray gives each task "
                             f"its GPU), got {device!r}")
        if isinstance(tasks_per_gpu, bool) or not isinstance(tasks_per_gpu, int) or tasks_per_gpu < 1:
            raise ValueError(f"tasks_per_gpu (--tasks-per-gpu) must be an integer >= 1, got {tasks_per_gpu!r}")
        self.device = str(device)
        self.train_runs = train_runs
        self.address = address
        self._host_port = None if address is None else _host_port(address)  # a malformed address: refused now
        self.tasks_per_gpu = tasks_per_gpu
        self.threads = torch.get_num_threads()
        self.resources: dict[str, float] = {}  # what each task asks Ray for, set on entering
        self._started = False  # whether this executor called ray.init (and so calls ray.shutdown)
        self._pending: dict[Any, Job] = {}  # submitted tasks not yet collected
        self._graphs: dict[str, Any] = {}  # graph name -> its problem in the object store

    def __enter__(self) -> "RayExecutor":
        ray = self.ray
        if self._host_port is not None:
            _check_reachable(self.address, *self._host_port)
        if ray.is_initialized():
            if self.address is not None:
                raise ValueError(f"Ray is already initialized in this process; leave the address {self.address!r} "
                                 f"out to use its cluster, or call ray.shutdown() first")
        elif self.address is not None:
            ray.init(address=self.address, logging_level=logging.WARNING)
            self._started = True
        else:
            ray.init(include_dashboard=False, logging_level=logging.WARNING)
            self._started = True
        try:
            self._place()
        except BaseException:
            self.__exit__()
            raise
        self._task = ray.remote(_run_in_worker).options(**self.resources)
        return self

    def _place(self) -> None:
        """Settle the device and what each task asks for, refusing what the cluster cannot give (a task
        that no node can take would wait forever)."""
        nodes = [node["Resources"] for node in self.ray.nodes() if node["Alive"]]
        gpus = sum(node.get("GPU", 0) for node in nodes)
        if self.device == "auto":
            self.device = "cuda" if gpus else "cpu"
        if self.device == "cuda":
            if not gpus:
                raise ValueError("device 'cuda' asked for, but no node of the Ray cluster has a GPU; "
                                 "use device 'cpu' or 'auto'")
            self.resources = {"num_cpus": 1, "num_gpus": 1 / self.tasks_per_gpu}
            return
        largest = max((node.get("CPU", 0) for node in nodes), default=0)
        if self.threads > largest:
            raise ValueError(f"each run uses {self.threads} CPUs (this process's torch threads, so that results "
                             f"match the local executor) but the largest node of the Ray cluster has "
                             f"{largest:g}; set OMP_NUM_THREADS={int(largest)} or fewer")
        self.resources = {"num_cpus": self.threads}

    def __str__(self) -> str:
        asks = {"num_cpus": "CPU", "num_gpus": "GPU"}
        each = " and ".join(f"{value:g} {asks[name]}{'s' if value > 1 else ''}"
                            for name, value in self.resources.items())
        return f"Ray tasks on {self.device}, each with {each}"

    def __exit__(self, *exc) -> None:
        """Cancel the tasks still out (after Ctrl-C or an error), then shut Ray down if this executor
        started it; a cluster it connected to keeps running (ray.shutdown only disconnects from it)."""
        try:
            for ref in self._pending:
                self.ray.cancel(ref)
        finally:
            self._pending.clear()
            self._graphs.clear()
            if self._started:
                self._started = False
                self.ray.shutdown()

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, list[TrainResult], float]]:
        """Submit every job as it comes, yielding the jobs that finish meanwhile, then the rest as they finish.

        ``jobs`` computes each graph's reference at its first run: the cluster trains the runs of the
        graphs before while the driver computes it.
        """
        for job in jobs:
            graph = job.specs[0].graph
            problem = self._graphs.get(graph)
            if problem is None:
                problem = self._graphs[graph] = self.ray.put(job.problem)
            ref = self._task.remote(self.train_runs, job.specs, problem, job.optimum, self.device, self.threads)
            self._pending[ref] = job
            yield from self._collect(block=False)
        yield from self._collect(block=True)

    def _collect(self, block: bool) -> Iterator[tuple[Job, list[TrainResult], float]]:
        """The finished tasks, one at a time: all of them (``block``) or those finished already."""
        while self._pending:
            ready, _ = self.ray.wait(list(self._pending), num_returns=1, timeout=None if block else 0)
            if not ready:
                return
            job = self._pending.pop(ready[0])
            try:
                results, seconds = self.ray.get(ready[0])
            except self.ray.exceptions.RayTaskError as error:
                if isinstance(error.cause, Exception):  # the run's own error, as the local executor raises it
                    raise error.cause from error
                raise
            yield job, results, seconds


def _run_in_worker(train_runs: TrainRuns, specs: tuple[RunSpec, ...], problem: MaxCutProblem, optimum: float,
                   device: str, threads: int) -> tuple[list[TrainResult], float]:
    """One job in a Ray worker, with the driver's number of torch threads: the CPU's last bits depend on it,
    and a Ray worker keeps the count it started with (one, or its first task's CPUs)."""
    torch.set_num_threads(threads)
    return _timed(train_runs, specs, problem, optimum, device)


def _host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` (an IPv6 host in brackets), refusing anything else."""
    host, colon, port = str(address).rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a Ray address is HOST:PORT, the head node and its port (ray start --head prints it, "
                         f"6379 by default), got {address!r}")
    return host, int(port)


def _check_reachable(address: str, host: str, port: int) -> None:
    """Refuse within seconds an address where no Ray cluster answers: ``ray.init`` would retry for minutes.

    A closed port or an unreachable host fails to connect; a port that accepts but is not Ray's (e.g. the
    dashboard's) fails the HTTP/2 greeting that Ray's gRPC server answers at once. Clusters with TLS
    (``RAY_USE_TLS``) answer in TLS: for them only the connection is checked.
    """
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S) as connection:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
                return
            connection.sendall(_HTTP2_PREFACE)
            answer = connection.recv(9)
    except OSError as error:  # refused, timed out, unknown host
        raise ValueError(f"no Ray cluster answers at {address} ({error.strerror or error}); start one there "
                         f"with `ray start --head`, or check the address") from None
    if len(answer) < 9 or answer[3] != _SETTINGS_FRAME:
        raise ValueError(f"{address} answers, but not as a Ray cluster's head (GCS); give the port that "
                         f"`ray start --head` prints (6379 by default)")
