"""Training loop: autograd, progress, entanglement tracking, atomic checkpoints.

Every step runs the circuit once; the same state gives the loss (with its
gradient), the read-out and the entropy of the watched qubits. Read-outs that
sample draw from a generator seeded by (seed, step), so a run resumed from a
checkpoint retraces the uninterrupted run exactly on the CPU.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import torch

from .. import _checks
from .._optional import require
from .._threads import one_thread_if_small
from ..info import entropy
from .ansatz import MaxCutAnsatz, check_entropy_qubits, default_entropy_qubits
from .graphed import GraphedStep
from .objective import readout_candidates

__all__ = ["TrainResult", "train", "OPTIMIZERS", "Progress", "checkpoint_path", "read_checkpoint", "resolve_device",
           "resolve_progress", "training_settings"]

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}
AUTO_OPTIMUM_NODES = 24  # brute force runs by default up to this many nodes


@dataclass
class TrainResult:
    """What a training run produced; ``history`` has one dict per step."""

    family: str
    encoding: str
    backend: str
    device: str
    num_qubits: int
    num_parameters: int
    steps: int
    optimum: float | None
    best_cut: float
    best_bits: list[int]
    history: list[dict] = field(default_factory=list)
    interrupted: bool = False
    cuda_graph: bool = False  # steps replayed as a CUDA graph

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}

    @property
    def ms_per_step(self) -> float:
        """Median wall time of a step, the first (warm-up) step left out."""
        times = [h["seconds"] for h in self.history[1:]] or [h["seconds"] for h in self.history]
        return 1e3 * statistics.median(times) if times else math.nan

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ms_per_step"] = self.ms_per_step
        return data


def resolve_device(device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return _checks.device(device)


def _fingerprint(model: MaxCutAnsatz) -> str:
    """Identifies the problem and model a checkpoint belongs to."""
    p = model.problem
    text = repr((model.family, model.encoding, model.backend, model.depth, model.num_qubits,
                 [repr(v) for v in p.nodes], p.edges.tolist(), p.weights.tolist()))
    return hashlib.sha256(text.encode()).hexdigest()


def _save_atomically(payload: dict, path: str) -> None:
    tmp = f"{path}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)  # readers see the old checkpoint or the new one, never half of one


def resolve_progress(progress: bool | None) -> bool:
    """Whether to show progress, given ``progress=`` (True, False, or None for "by default").

    A terminal (stderr a TTY) gets a tqdm bar, which needs the optional package
    tqdm; anything else gets plain lines, which need nothing. Without tqdm in a
    terminal, ``True`` (a bar asked for) raises ImportError, while ``None`` (on
    only by default, as in ``tqsim maxcut``) prints one line on stderr that
    says so and how to install it, and returns False (no progress at all).
    """
    if progress is not None and not progress:
        return False
    if not sys.stderr.isatty():
        return True  # plain lines: no tqdm needed
    try:
        require("tqdm", "progress", "the progress bar")
    except ImportError as error:
        if progress:
            raise
        print(f"tqsim: {error}; running without it", file=sys.stderr, flush=True)
        return False
    return True


class Progress:
    """Progress of a loop on stderr: a tqdm bar in a terminal, plain lines elsewhere.

    When stderr is not a terminal (a log file, a pipe), a plain line is printed
    at every tenth of the total and at the end, so that a log holds a few
    whole lines and a reader of a pipe gets each as it comes; tqdm is not
    needed then. Use it as a context manager: leaving the block closes the bar
    (its last state stays on screen), also after an error or Ctrl-C.

    Parameters
    ----------
    label : str
        What runs, shown before the bar (tqdm's ``desc``).
    enabled : bool or None
        As ``progress=`` of :func:`train`; see :func:`resolve_progress`.
    unit : str
        What is counted (tqdm's ``unit``).
    total : int or None
        The count at the end, when known now; :meth:`update` gives it otherwise.
    initial : int
        The count already done (a resumed run).
    """

    def __init__(self, label: str, enabled: bool | None, unit: str = "it", total: int | None = None,
                 initial: int = 0):
        self.label, self.enabled = label, resolve_progress(enabled)
        self.tty = sys.stderr.isatty()
        self.done = 0  # of the plain lines: the count at the last update
        self.start = time.perf_counter()
        self.bar = None  # the tqdm bar, in a terminal
        if self.enabled and self.tty:
            tqdm = require("tqdm", "progress", "the progress bar").tqdm
            self.bar = tqdm(total=total, initial=initial, desc=label, unit=unit, file=sys.stderr, leave=True,
                            dynamic_ncols=True, mininterval=0.2)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def update(self, done: int, total: int, text: str = "") -> None:
        """Show ``done`` of ``total``, then ``text`` (the bar's postfix); at ``done == total`` the bar closes."""
        if not self.enabled:
            return
        if self.bar is not None:
            if self.bar.disable:  # closed: a finished loop
                return
            if self.bar.total != total:
                self.bar.total = total
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(done - self.bar.n)
            if done == total:
                self.bar.close()
            return
        finished = done == total
        milestone = finished or done * 10 // total != self.done * 10 // total
        self.done = done
        if not milestone:
            return
        width = 24
        bar = "#" * (width * done // total)
        line = f"{self.label:16s} [{bar:<{width}}] {done}/{total}  {text}  {time.perf_counter() - self.start:.1f}s"
        print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        """End the bar's line (nothing to do for plain lines or when off)."""
        if self.bar is not None:
            self.bar.close()


def _progress_text(row: dict) -> str:
    """What training progress shows after the bar (tqdm's postfix): loss, best cut (and ratio), entropy."""
    ratio = row.get("readout_ratio")
    return (f"loss {row['loss']:+.4f}  best cut {row['best_cut']:g}" + (f" ({ratio:.3f})" if ratio is not None else "")
            + (f"  S {row['entropy']:.3f}" if row.get("entropy") is not None else ""))


def training_settings(model: MaxCutAnsatz, optimizer: str, lr: float, seed: int) -> dict:
    """What a run depends on beside its problem and circuit, kept in each checkpoint: a resume must not
    change it (Adam's saved state would silently bring back the old lr)."""
    return {"optimizer": optimizer, "lr": lr, "seed": seed, "max_bond": model.max_bond, "cutoff": model.cutoff,
            "entropy_penalty": model.entropy_penalty}


def checkpoint_path(out: str, family: str) -> str:
    """Where :func:`train` keeps the checkpoint of ``family`` in ``out``."""
    return os.path.join(out, f"checkpoint-{family}.pt")


def train(
    model: MaxCutAnsatz,
    steps: int = 100,
    lr: float = 0.05,
    optimizer: str = "adam",
    device="auto",
    seed: int = 0,
    progress: bool | None = None,
    track_entropy: int | None = None,
    out: str | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    optimum: float | None | str = "auto",
    cuda_graph: bool = True,
) -> TrainResult | list[TrainResult]:
    """Train ``model`` for ``steps`` optimizer steps and return a :class:`TrainResult`.

    A batched model (:func:`~tqsim.maxcut.make_ansatz` with a list of seeds)
    trains all its seeds at once, as one batched dense state, and ``train``
    returns a list with one :class:`TrainResult` per seed. Each equals the
    seed trained alone, to dtype precision: the loss minimised is the sum of
    the seeds' losses, so each seed's angles get their own gradient, and
    every optimizer here updates each angle from its own gradient and state
    (Adam's moments), so each seed keeps its own optimizer. A step's
    ``seconds`` in each seed's history is its share of the batched step.

    Parameters
    ----------
    progress : bool or None
        Show the step, loss, best cut (and its ratio) and entropy on stderr:
        a tqdm bar in a terminal, a plain line every tenth of the steps
        elsewhere. None (the default) shows them, but in a terminal without
        tqdm says so in one line and shows nothing; True raises ImportError
        there (``pip install "tqsim[progress]"``); False shows nothing.
    track_entropy : int or None
        Size k of the watched subsystem (qubits 0..k-1); default 6 for 20 qubits.
    out, checkpoint_every, resume
        With ``out``, a checkpoint ``checkpoint-<family>.pt`` is written every
        ``checkpoint_every`` steps and at the end (Ctrl-C ends the step in progress first); ``resume``
        continues from it, refusing a missing one, one written for another
        graph or family, one that holds more than ``steps`` steps, and one
        trained with other :func:`training_settings`.
    optimum : float, None or "auto"
        The best cut, for approximation ratios; "auto" brute-forces it up to 24 nodes.
    cuda_graph : bool
        On a CUDA device with a dense or product state, record the step once
        and replay it as a CUDA graph (:class:`GraphedStep`); the MPS backend
        (bond dimensions change from step to step) and runs with an entropy
        penalty (its eigensolver waits for the host) always run eagerly.
    """
    if not isinstance(model, MaxCutAnsatz):
        raise TypeError(f"model must be a MaxCut ansatz (tqsim.maxcut.make_ansatz), got {type(model).__name__}")
    steps = _checks.positive_int(steps, "steps")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    if checkpoint_every is not None:
        checkpoint_every = _checks.positive_int(checkpoint_every, "checkpoint_every")
    seeds = model.seeds  # None: one unbatched run
    batch = 1 if seeds is None else len(seeds)
    if seeds is not None and (out is not None or checkpoint_every or resume):
        raise ValueError(f"a checkpoint holds one run; train the {batch} seeds without out=, checkpoint_every= "
                         f"and resume=, or one at a time to checkpoint them")
    if (checkpoint_every or resume) and out is None:
        raise ValueError("checkpoints and resume need an output folder (out=...)")
    k = default_entropy_qubits(model.num_qubits) if track_entropy is None else track_entropy
    check_entropy_qubits(k, model.num_qubits)
    progress = resolve_progress(progress)  # a missing tqdm is found before any work
    dev = resolve_device(device)
    if optimum == "auto":
        optimum = model.problem.brute_force()[0] if model.problem.num_nodes <= AUTO_OPTIMUM_NODES else None

    model.to(dev)
    # MPS bond dimensions change from step to step and the entropy penalty
    # needs an eigensolver that waits for the host: both stay eager
    graphed = bool(cuda_graph) and dev.type == "cuda" and model.backend != "mps" and not model.entropy_penalty
    capturable = {"capturable": True} if graphed and optimizer in ("adam", "adamw") else {}
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr, **capturable)
    results = [TrainResult(model.family, model.encoding, model.backend, str(dev), model.num_qubits,
                           sum(p.numel() for p in model.parameters()) // batch, steps, optimum, -math.inf, [])
               for _ in range(batch)]
    result = results[0]  # the one that checkpoints hold (a batch has none)
    path = checkpoint_path(out, model.family) if out else None
    start_step = 0
    if out:
        os.makedirs(out, exist_ok=True)
    training = training_settings(model, optimizer, lr, seed)
    if resume:
        start_step = _restore(path, model, opt, result, training)

    def checkpoint(step_done: int) -> None:
        if path:
            _save_atomically({
                "fingerprint": _fingerprint(model), "step": step_done, "model": model.state_dict(),
                "optimizer": opt.state_dict(), "history": result.history, "best_cut": result.best_cut,
                "best_bits": result.best_bits, "training": training,
            }, path)

    # MPS read-outs sample: from a generator seeded per step, so resumed runs retrace
    sampler: list[torch.Generator | None] = [None]

    def compute():
        state = model()
        losses, values = model.loss(state)  # one per seed of a batch: their sum trains each seed alone
        return (losses.sum(), losses, values, state,
                *readout_candidates(model.problem, state, model.encoding, sampler[0]))

    def eager_step():
        opt.zero_grad()
        outputs = compute()
        outputs[0].backward()
        opt.step()
        return outputs

    run_step = GraphedStep(compute, opt) if graphed else eager_step
    bar = Progress(model.family if seeds is None else f"{model.family} x{batch}", progress, unit="step",
                   total=steps, initial=start_step)
    params = list(model.parameters())
    entries = torch.arange(batch, device=dev)  # picks each seed's best candidate
    consistent = True  # the model and optimizer hold exactly the steps in the history
    # dense and product steps of small states run on one thread (tqsim/_threads.py); an MPS's
    # work is set by its bonds, which grow while it trains, so it keeps the caller's threads
    amplitudes = {"dense": batch * 2**model.num_qubits, "product": batch * 2 * model.num_qubits}.get(
        model.backend, math.inf)
    with bar, _StopRequest() as stop, one_thread_if_small(amplitudes, dev):  # the bar closes before any message below
        try:
            for step in range(start_step, steps):
                if stop.requested:
                    break
                began = time.perf_counter()
                if model.backend == "mps":
                    # modulo 2**64: manual_seed takes any seed below 2**64
                    sampler[0] = torch.Generator(device=dev).manual_seed((seed * 1_000_003 + step) % 2**64)
                total, losses, values, state, candidates, cut_values = run_step()
                with torch.no_grad():
                    s = entropy(state, range(k)) if model.backend != "product" else torch.zeros((), device=dev)
                    cut_values = cut_values.reshape(batch, -1)
                    candidates = candidates.reshape(batch, cut_values.shape[1], -1)
                    best = cut_values.argmax(-1)
                    # the updated angles as the circuit will read them (in its real dtype), per seed
                    angles_finite = torch.stack([torch.isfinite(p.to(model.real_dtype)).reshape(batch, -1).all(-1)
                                                 for p in params]).all(0)
                    # everything the rows need in one copy to the host (each copy waits for the device)
                    numbers = torch.stack([losses.reshape(batch), values.reshape(batch), s.reshape(batch),
                                           cut_values[entries, best], angles_finite]).to(torch.float64)
                    host = torch.cat([numbers.T, candidates[entries, best].to(torch.float64)], 1).tolist()
                seconds = (time.perf_counter() - began) / batch  # each seed's share of the step
                for entry, (loss_value, _, _, _, angles_ok, *_) in enumerate(host):
                    _check_step(loss_value, angles_ok, step, model, lr,
                                "" if seeds is None else f" for seed {seeds[entry]}")
                for run, (loss_value, expected, s_value, cut, _, *bits) in zip(results, host):
                    if cut > run.best_cut:
                        run.best_cut, run.best_bits = cut, [int(b) for b in bits]
                    row = {
                        "step": step + 1, "loss": loss_value, "expected_cut": expected, "readout_cut": cut,
                        "best_cut": run.best_cut, "entropy": s_value, "seconds": seconds,
                    }
                    if optimum:
                        row["expected_ratio"] = row["expected_cut"] / optimum
                        row["readout_ratio"] = run.best_cut / optimum
                    run.history.append(row)
                shown = max(results, key=lambda r: r.best_cut)  # of a batch, the seed with the best cut
                bar.update(step + 1, steps, _progress_text(shown.history[-1]))
                # drop this step's autograd graph before the next step starts (a
                # CUDA graph recording must not meet nodes from an eager step)
                del total, losses, values, state, candidates, cut_values
                if checkpoint_every and (step + 1) % checkpoint_every == 0:
                    checkpoint(step + 1)
        except KeyboardInterrupt:  # a second Ctrl-C, or one raised by code: mid-step, maybe after the update
            consistent = False
    interrupted = not consistent or (stop.requested and len(result.history) < steps)
    if interrupted:
        kept = ("stopped mid-step (the model may hold one more update); the last checkpoint written is kept"
                if not consistent else "the checkpoint holds them" if path else "keeping what was done")
        lead = "" if bar.bar is not None else "\n"  # a closed tqdm bar has ended its line
        print(f"{lead}{model.family}: interrupted after {len(result.history)} steps; {kept}", file=sys.stderr)
    for run in results:
        run.interrupted = interrupted
        run.cuda_graph = getattr(run_step, "captured", False)
    if consistent:
        checkpoint(len(result.history))
    return result if seeds is None else results


def _check_step(loss: float, angles_finite: float, step: int, model: MaxCutAnsatz, lr: float, whose: str) -> None:
    """Refuse a step whose loss is not finite or whose update took the angles out of range."""
    if not math.isfinite(loss) and step == 0:  # no update yet: not the learning rate
        raise ValueError(f"the loss{whose} is {loss} before any update; check the entropy penalty "
                         f"({model.entropy_penalty:g}) and the graph's weights")
    if not math.isfinite(loss):
        raise ValueError(f"the loss{whose} became {loss} at step {step + 1}; lower the learning rate (lr={lr:g})")
    if not angles_finite:
        raise ValueError(f"step {step + 1} took the angles{whose} beyond {model.real_dtype} range; "
                         f"the learning rate lr={lr:g} is too large, lower it")


class _StopRequest:
    """Ctrl-C during training stops after the step in progress, so that the checkpoint's
    angles and optimizer state belong to the last step in its history (a KeyboardInterrupt
    between the update and the history row would make a resumed run skip a step).
    A second Ctrl-C stops at once. Outside the main thread signals cannot be caught: nothing changes."""

    def __init__(self):
        self.requested = False
        self.installed = False

    def __enter__(self) -> "_StopRequest":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(signal.SIGINT)  # None: set outside Python
            signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this step (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, signal.default_int_handler if self.previous is None else self.previous)


def read_checkpoint(path: str, model: MaxCutAnsatz, steps: int, training: dict) -> dict:
    """The checkpoint at ``path``, refused unless ``model`` with ``training`` settings can resume from it
    for ``steps`` steps (the main job checks every family's before it trains any)."""
    if not os.path.exists(path):
        raise ValueError(f"no checkpoint {path!r} to resume from")
    try:
        saved = torch.load(path, map_location=model.device, weights_only=False)
    except Exception as error:  # a torn or foreign file: say which
        raise ValueError(f"cannot read checkpoint {path!r}: {error}") from None
    if saved.get("fingerprint") != _fingerprint(model):
        raise ValueError(
            f"checkpoint {path!r} was written for another graph or family (or depth, backend, encoding); "
            f"remove it or choose another --out"
        )
    if saved["step"] > steps:  # its angles are those after all of its steps: it cannot be cut back
        raise ValueError(f"checkpoint {path!r} holds {saved['step']} steps, more than the {steps} asked for; "
                         f"ask for at least {saved['step']} steps")
    before = saved.get("training", {})  # absent in checkpoints of earlier releases: every setting unknown
    changed = [f"{key} {before.get(key, 'unknown')!r} (now {value!r})" for key, value in training.items()
               if before.get(key) != value]
    if changed:
        raise ValueError(f"checkpoint {path!r} was trained with {', '.join(changed)}; resume with the same "
                         f"settings or choose another --out")
    return saved


def _restore(path: str, model: MaxCutAnsatz, opt, result: TrainResult, training: dict) -> int:
    """Load the checkpoint at ``path`` into model, optimizer and result; return the steps it holds."""
    saved = read_checkpoint(path, model, result.steps, training)
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    result.history = list(saved["history"])
    result.best_cut, result.best_bits = saved["best_cut"], list(saved["best_bits"])
    return int(saved["step"])
