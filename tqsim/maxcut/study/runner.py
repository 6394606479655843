"""Run a study: every run of a grid that the database does not hold yet, one ordinary ``train()`` each.

A run's rows reach the database in one transaction when it completes, so a
study killed at any moment keeps every finished run, and running the same
command again continues with the rest (the grid must be the same: the store
refuses another one).

The reference a ratio is taken against is fixed per graph, before any run on
it: the exact optimum by brute force when the graph is small enough, else the
Goemans-Williamson SDP bound (an upper bound on the optimum, so those ratios
are lower bounds on the true ones), labelled as such in the database.

Where the runs train is the executor's business (:mod:`.executors`: this
process, or Ray tasks); this module, in the driver process, is the only one
that writes the database, one run at a time as results come back.

With ``batch_seeds`` > 1, runs that differ only in seed train together as one
batched dense state (``make_ansatz(seed=[...])``), up to ``batch_seeds`` seeds
and :data:`BATCH_STATE_BYTES` of amplitudes at a time (on the CPU, only up to
:data:`CPU_BATCH_QUBITS` qubits, where batching still pays). A batched run equals the
run trained alone to dtype precision step by step, but over a whole training
the two part as far as two sequential runs with different thread counts do
(docs/study.md measures it), so a run's batch size is stored with it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from ... import _checks
from ..ansatz import choose_backend, make_ansatz
from ..objective import qubits_needed
from ..problem import MaxCutProblem
from ..train import TrainResult, train
from .executors import TASKS_PER_GPU, Job, LocalExecutor, RayExecutor
from .grid import RunSpec, StudyGrid
from .store import StudyStore

__all__ = ["BATCH_STATE_BYTES", "BRUTE_FORCE_NODES", "CPU_BATCH_QUBITS", "EXECUTORS", "OPTIMUM_CHOICES", "reference", "run_study"]

#: largest graph whose optimum is found by brute force (2**26 cuts, a few seconds)
BRUTE_FORCE_NODES = 26
#: how a study takes the reference of its ratios: exact up to BRUTE_FORCE_NODES ("auto"), always exact, or
#: always the classical reference
OPTIMUM_CHOICES = ("auto", "exact", "reference")
#: where runs train: one after another in this process, or as Ray tasks (see :mod:`.executors`)
EXECUTORS = ("local", "ray")
#: the most amplitude memory one batched state may take (complex64): 32 seeds of 20 qubits, 2 of 24. Training
#: keeps a copy of the state per fused block for the backward pass, so a batch's peak is tens of these
BATCH_STATE_BYTES = 2**28
#: the largest runs the CPU batches: a batch saves per-gate host work, which stops mattering as states grow;
#: on a 2-core CPU a step of 8 seeds ran 4.2-4.9x faster batched at 12 qubits, 1.4-1.7x at 16, and 0.4-0.8x
#: (slower) at 18-20 for the ladder families (bench_study.py's step table)
CPU_BATCH_QUBITS = 16


def reference(problem: MaxCutProblem, optimum: str = "auto", seed: int = 0) -> tuple[float, str]:
    """``(value, kind)`` to divide cuts by: ``(optimum, "exact")`` or ``(SDP bound, "gw-bound")``."""
    if optimum not in OPTIMUM_CHOICES:
        raise ValueError(f"optimum must be one of {', '.join(OPTIMUM_CHOICES)}, got {optimum!r}")
    small = problem.num_nodes <= BRUTE_FORCE_NODES
    if optimum == "exact" and not small:
        raise ValueError(f"--optimum exact needs brute force over 2**{problem.num_nodes} cuts; it stops at "
                         f"{BRUTE_FORCE_NODES} nodes: use --optimum auto (the Goemans-Williamson bound above that)")
    if optimum == "exact" or (optimum == "auto" and small):
        return float(problem.brute_force()[0]), "exact"
    from .baselines import goemans_williamson

    return float(goemans_williamson(problem, seed=seed).sdp_bound), "gw-bound"


def run_study(
    grid: StudyGrid,
    db: str,
    device="auto",
    optimum: str = "auto",
    progress: bool = True,
    executor: str = "local",
    ray_address: str | None = None,
    tasks_per_gpu: int | None = None,
    batch_seeds: int = 1,
) -> StudyStore:
    """Train every run of ``grid`` not yet in the database at ``db``; return the store, still open
    (close it, or use it in a ``with`` block, to release the writer lock).

    Parameters
    ----------
    grid : StudyGrid
        The runs. A database made for another grid is refused.
    db : str
        The SQLite file, created when missing.
    device : str
        "auto" (CUDA when present: on this machine, or with Ray on the cluster), "cpu" or "cuda"; every run
        uses it.
    optimum : {"auto", "exact", "reference"}
        What ratios are taken against (see :func:`reference`).
    progress : bool
        One line on stderr per finished run.
    executor : {"local", "ray"}
        "local": one run after another in this process. "ray": every run a Ray task, on a local cluster or
        the one at ``ray_address`` (:class:`~.executors.RayExecutor`); the results are the same.
    ray_address : str or None
        With "ray": ``HOST:PORT`` of a running cluster's head; None starts a local cluster (or uses the one
        this process has already initialized).
    tasks_per_gpu : int or None
        With "ray" on CUDA: runs that share one GPU (default :data:`~.executors.TASKS_PER_GPU`, 4).
    batch_seeds : int
        Up to this many runs that differ only in seed train together as one batched dense state (one Ray task
        with "ray"); 1 (the default) trains every run alone. MPS and product-state runs always train alone.

    Raises
    ------
    KeyboardInterrupt
        After Ctrl-C: the runs in progress are dropped (Ray tasks cancelled), the finished ones stay.
    """
    if optimum not in OPTIMUM_CHOICES:
        raise ValueError(f"optimum must be one of {', '.join(OPTIMUM_CHOICES)}, got {optimum!r}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    batch_seeds = _checks.positive_int(batch_seeds, "batch_seeds (--batch-seeds)")
    if executor == "local":
        for name, flag, value in (("ray_address", "--ray-address", ray_address),
                                  ("tasks_per_gpu", "--tasks-per-gpu", tasks_per_gpu)):
            if value is not None:  # silently training here instead of on the cluster asked for would mislead
                raise ValueError(f"{name} {value!r} ({flag}) is for executor 'ray' (--executor ray), "
                                 f"not 'local'")
        trainer = LocalExecutor(device, _train)
    else:
        trainer = RayExecutor(device, _train, ray_address,
                              TASKS_PER_GPU if tasks_per_gpu is None else tasks_per_gpu)
    runs = grid.runs()
    if optimum == "exact":  # refuse before any work, not at the first big graph
        biggest = max(runs, key=lambda spec: spec.nodes)
        if biggest.nodes > BRUTE_FORCE_NODES:
            reference(biggest.problem(), "exact")
    with trainer:  # a cluster is reached before the database is touched
        store = StudyStore.create(db, grid)
        done = store.done_keys()
        todo = [spec for spec in runs if spec.key not in done]
        if progress and done:
            print(f"tqsim study: {len(done)} of {len(runs)} runs already in {db}; running the other {len(todo)}",
                  file=sys.stderr)
        if progress and executor == "ray":
            print(f"tqsim study: runs as {trainer}", file=sys.stderr)
        try:
            count = 0
            jobs = _jobs(todo, optimum, batch_seeds, cpu=str(trainer.device).startswith("cpu"))
            for job, results, wall_seconds in trainer.run(jobs):
                if any(result.interrupted for result in results):  # a partial run is not a result: stop
                    raise KeyboardInterrupt
                batch = len(job.specs)
                for spec, result in zip(job.specs, results, strict=True):
                    store.write_run(spec, result, job.optimum, job.optimum_kind, wall_seconds / batch, batch)
                    count += 1
                    if progress:
                        _report_run(count, len(todo), spec, result, job.optimum_kind, batch)
        except BaseException:  # Ctrl-C or an error: release the writer lock, keep the finished runs
            store.close()
            raise
    return store


def _report_run(count: int, total: int, spec: RunSpec, result: TrainResult, kind: str, batch: int) -> None:
    final = result.final
    print(f"[{count}/{total}] {spec.graph} {spec.family} depth={spec.depth or 'default'} seed={spec.seed}: "
          f"expected ratio {final.get('expected_ratio', float('nan')):.4f}"
          f"{'' if kind == 'exact' else ' (of the GW bound)'}, entropy {final['entropy']:.3f}, "
          f"{result.ms_per_step:.1f} ms/step{f' (a batch of {batch})' if batch > 1 else ''}", file=sys.stderr)


def _jobs(todo: list[RunSpec], optimum: str, batch_seeds: int = 1, cpu: bool = True) -> Iterator[Job]:
    """The runs in jobs (seeds of one group together, up to ``batch_seeds``, where they can batch), each with
    its graph and reference, both made at the graph's first run and shared by the rest.

    A generator, so that an executor can train the runs of one graph while the next graph's reference
    (up to a minute of brute force) is computed. Runs of a graph are adjacent in a grid's order, and the
    seeds of a group adjacent within it, so only the current graph and group are kept.
    """
    name = problem = value = kind = None
    batch: list[RunSpec] = []
    for spec in todo:
        if batch and (spec.group != batch[0].group
                      or len(batch) == _batch_limit(batch[0], problem, batch_seeds, cpu)):
            yield Job(tuple(batch), problem, value, kind)
            batch = []
        if spec.graph != name:
            name, problem = spec.graph, spec.problem()
            value, kind = reference(problem, optimum)
        batch.append(spec)
    if batch:
        yield Job(tuple(batch), problem, value, kind)


def _batch_limit(spec: RunSpec, problem: MaxCutProblem, batch_seeds: int, cpu: bool) -> int:
    """How many seeds of ``spec``'s group may train as one state: 1 off the dense backend and, on the CPU,
    past :data:`CPU_BATCH_QUBITS`; else up to ``batch_seeds`` within :data:`BATCH_STATE_BYTES` of complex64
    amplitudes."""
    qubits = qubits_needed(problem, spec.encoding)
    if batch_seeds == 1 or choose_backend(spec.family, qubits, spec.backend) != "dense":
        return 1
    if cpu and qubits > CPU_BATCH_QUBITS:
        return 1
    return max(1, min(batch_seeds, BATCH_STATE_BYTES // (8 << qubits)))


def _train(specs: tuple[RunSpec, ...], problem: MaxCutProblem, optimum: float, device) -> list[TrainResult]:
    """One run, exactly as ``tqsim maxcut`` trains a family, or the seeds of one group as one batched model."""
    first = specs[0]
    seeds = [spec.seed for spec in specs]
    model = make_ansatz(first.family, problem, first.depth, seed=seeds if len(seeds) > 1 else seeds[0],
                        encoding=first.encoding, backend=first.backend, max_bond=first.max_bond,
                        entropy_penalty=first.penalty)
    results = train(model, steps=first.steps, lr=first.lr, optimizer=first.optimizer, device=device,
                    seed=first.seed, progress=False, optimum=optimum)
    return results if len(seeds) > 1 else [results]
