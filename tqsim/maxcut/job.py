"""``tqsim maxcut``: train every family on one graph and report.

Nothing is trained before the output folder has proved writable and free of
another run's results: an error found after an hour of training loses the hour.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import tempfile

import torch

from .._threads import thread_independent_products
from ..tensor import cpu_kernels
from .ansatz import FAMILIES, MaxCutAnsatz, default_entropy_qubits, make_ansatz
from .problem import BRUTE_FORCE_LIMIT, MaxCutProblem
from .report import OUTPUTS, table, write_outputs
from .train import (Progress, TrainResult, checkpoint_path, read_checkpoint, resolve_device, resolve_progress, train,
                    training_settings)

__all__ = ["DEFAULTS", "default_families", "make_models", "run_job", "warn"]

# Chosen so that the default run (16 nodes, every family) takes about 10 s on a
# quiet 2-core CPU and about a minute beside two busy processes (README.md has
# the timings); 20 nodes (--nodes 20) take 16 s on an H100 but 2-14 minutes there.
DEFAULTS = {"nodes": 16, "degree": 3, "seed": 0, "steps": 80, "lr": 0.05, "out": "results/maxcut", "max_bond": 32,
            "optimizer": "adam"}


def warn(message: str) -> None:
    """A one-line warning on stderr, for an option that does not apply."""
    print(f"tqsim maxcut: warning: {message}", file=sys.stderr)


def default_families(encoding: str) -> tuple[str, ...]:
    """Every family that supports ``encoding``: QAOA needs one node per qubit, so not 'mbe'."""
    return tuple(f for f in FAMILIES if encoding == "node" or f != "qaoa")


def make_models(
    problem: MaxCutProblem,
    families=tuple(FAMILIES),
    depth: int | None = None,
    seed: int = DEFAULTS["seed"],
    encoding: str = "node",
    backend: str | None = None,
    max_bond: int | None = DEFAULTS["max_bond"],
    entropy_penalty: float = 0.0,
) -> list[MaxCutAnsatz]:
    """One model per family, all built before any work, so that a bad option fails at once."""
    return [make_ansatz(f, problem, depth, seed=seed, encoding=encoding, backend=backend, max_bond=max_bond,
                        entropy_penalty=entropy_penalty) for f in families]


def run_job(
    models: list[MaxCutAnsatz],
    steps: int = DEFAULTS["steps"],
    lr: float = DEFAULTS["lr"],
    device="auto",
    out: str = DEFAULTS["out"],
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    seed: int = DEFAULTS["seed"],
    checkpoint_every: int | None = 25,
) -> list[TrainResult]:
    """Train each model in turn; print the table, write the outputs, return the results.

    ``out`` must not hold results of an earlier run: ``resume`` continues them
    from their checkpoints, ``overwrite`` deletes them first. ``progress`` is
    that of :func:`tqsim.maxcut.train`, for the brute force and every family.
    """
    if resume and overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it; give one of them")
    progress = resolve_progress(progress)  # before any work, and a missing tqdm is told once
    dev = resolve_device(device)
    resuming = _resumable(out, models, steps, lr, seed) if resume else []  # before --out is created
    _check_writable(out)
    if not resume:
        _clear_earlier_run(out, overwrite)
    problem = models[0].problem
    k = default_entropy_qubits(models[0].num_qubits)
    optimum = _optimum(problem, dev, progress)
    results = []
    try:
        for model in models:
            results.append(train(model, steps=steps, lr=lr, optimizer=DEFAULTS["optimizer"], device=dev, seed=seed,
                                 progress=progress, track_entropy=k, out=out, checkpoint_every=checkpoint_every,
                                 resume=model.family in resuming, optimum=optimum))
            if results[-1].interrupted:
                break
    finally:  # a family that fails must not take the finished ones' report with it
        if results:
            _report(results, models, k, steps, lr, seed, dev, out)
    return results


def _report(results: list[TrainResult], models: list[MaxCutAnsatz], k: int, steps: int, lr: float, seed: int,
            dev, out: str) -> None:
    """Print the table and write the outputs of the families that finished (or were interrupted)."""
    problem = models[0].problem
    print(table(results, problem, k))
    first = models[0]
    settings = {"families": [m.family for m in models], "depths": [m.depth for m in models], "steps": steps,
                "lr": lr, "device": str(dev), "seed": seed, "encoding": first.encoding, "max_bond": first.max_bond,
                "entropy_penalty": first.entropy_penalty, "entropy_qubits": k,
                # CPU bits depend on both (docs/reproducibility.md)
                "threads": torch.get_num_threads(), "reproducible_products": thread_independent_products(),
                "cpu_kernel": cpu_kernels.status()}
    paths = write_outputs(results, problem, out, settings)
    print("wrote " + ", ".join(paths), file=sys.stderr)


def _check_writable(out: str) -> None:
    """Create ``out`` and write a file in it now, so that a bad folder fails before training, not after."""
    if not out:
        raise ValueError("--out must name a folder, got ''")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out!r} is a file; --out names a folder")
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise ValueError(f"cannot write into --out {out!r}: {error.strerror}") from None


def _resumable(out: str, models: list[MaxCutAnsatz], steps: int, lr: float, seed: int) -> list[str]:
    """The families whose checkpoints in ``out`` can be resumed, every one checked before any trains;
    none at all is an error (there is nothing to resume)."""
    found = [m for m in models if os.path.exists(checkpoint_path(out, m.family))]
    if not found:
        raise ValueError(f"--resume: {out!r} holds no checkpoint of {', '.join(m.family for m in models)} "
                         f"to continue from")
    for model in found:  # a bad checkpoint of the last family must not wait for the others to train
        settings = training_settings(model, DEFAULTS["optimizer"], lr, seed)
        read_checkpoint(checkpoint_path(out, model.family), model, steps, settings)
    missing = [m.family for m in models if m not in found]
    if missing:
        warn(f"--resume: no checkpoint in {out!r} for {', '.join(missing)} (trained from step 0)")
    return [m.family for m in found]


def _clear_earlier_run(out: str, overwrite: bool) -> None:
    """Refuse to write beside an earlier run's files, or with ``overwrite`` delete them all
    (its checkpoints too: they may belong to another graph)."""
    # checkpoints are named by train.checkpoint_path; "*.pt.tmp" is one that a kill interrupted
    earlier = sorted(name for name in os.listdir(out) if name in OUTPUTS or fnmatch.fnmatch(name, "checkpoint-*.pt*"))
    if earlier and not overwrite:
        raise ValueError(f"--out {out!r} holds the results of an earlier run ({', '.join(earlier)}); replace them "
                         f"with --overwrite, continue them with --resume, or choose another --out")
    for name in earlier:
        os.remove(os.path.join(out, name))


def _optimum(problem: MaxCutProblem, device, progress: bool) -> float | None:
    """The exact optimum up to 26 nodes (None beyond), with a progress bar: 26 nodes take most of a minute."""
    if problem.num_nodes > BRUTE_FORCE_LIMIT:
        return None
    with Progress("brute force", progress, unit="cut") as bar:  # closed at Ctrl-C too
        return problem.brute_force(device=device,
                                   progress=lambda done, total: bar.update(done, total, "cuts scored"))[0]
