"""``tqsim maxcut``: train every family on one graph and report."""

from __future__ import annotations

import sys

from .ansatz import FAMILIES, default_entropy_qubits, make_ansatz
from .problem import MaxCutProblem
from .report import table, write_outputs
from .train import resolve_device, train

__all__ = ["DEFAULTS", "run_job"]

# Chosen so that the default run (20 nodes, every family) takes under 5 minutes
# on a 2-core CPU and under 30 seconds on one H100 (docs/maxcut.md has the timings).
DEFAULTS = {"nodes": 20, "degree": 3, "seed": 0, "steps": 80, "lr": 0.05, "out": "results/maxcut"}


def run_job(
    problem: MaxCutProblem,
    families=tuple(FAMILIES),
    depth: int | None = None,
    steps: int = DEFAULTS["steps"],
    lr: float = DEFAULTS["lr"],
    device="auto",
    out: str = DEFAULTS["out"],
    resume: bool = False,
    progress: bool = True,
    seed: int = DEFAULTS["seed"],
    encoding: str = "node",
    backend: str | None = None,
    max_bond: int | None = 32,
    entropy_penalty: float = 0.0,
    checkpoint_every: int | None = 25,
):
    """Train each family in turn; print the table, write the outputs, return the results."""
    dev = resolve_device(device)
    models = [make_ansatz(f, problem, depth, seed=seed, encoding=encoding, backend=backend if f != "product" else None,
                          max_bond=max_bond, entropy_penalty=entropy_penalty) for f in families]
    k = default_entropy_qubits(models[0].num_qubits)
    optimum = problem.brute_force(device=dev)[0] if problem.num_nodes <= 26 else None
    results = []
    for model in models:
        results.append(train(model, steps=steps, lr=lr, device=dev, seed=seed, progress=progress, track_entropy=k,
                             out=out, checkpoint_every=checkpoint_every, resume=resume, optimum=optimum))
        if results[-1].interrupted:
            break
    print(table(results, problem, k))
    settings = {"families": list(families), "depth": depth, "steps": steps, "lr": lr, "device": str(dev),
                "seed": seed, "encoding": encoding, "backend": backend, "max_bond": max_bond,
                "entropy_penalty": entropy_penalty, "entropy_qubits": k}
    paths = write_outputs(results, problem, out, settings)
    print("wrote " + ", ".join(paths), file=sys.stderr)
    return results
