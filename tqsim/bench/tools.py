"""What the benchmarks share: the same random circuits for every peer, a timer, busy processes.

A brickwork layer is RY on every qubit with angles uniform in [0, 2 pi), then
CZ on neighbour pairs (0, 1), (2, 3), ... in even layers and (1, 2), (3, 4),
... in odd ones.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import statistics
import time
from typing import Callable

import numpy as np

from ..circuit import Circuit

Layers = list[tuple[np.ndarray, list[tuple[int, int]]]]


def brickwork(n: int, depth: int, seed: int) -> Layers:
    """Angles and CZ pairs of each layer, from a seeded NumPy generator."""
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0, 2 * np.pi, n), [(q, q + 1) for q in range(layer % 2, n - 1, 2)]) for layer in range(depth)]


def brickwork_circuit(n: int, layers: Layers, rotation: str = "ry") -> Circuit:
    """The tqsim Circuit of ``layers``, its rotations ``rotation`` ("ry": real amplitudes throughout,
    "rx": complex ones)."""
    circuit = Circuit(n)
    rotate = getattr(circuit, rotation)
    for angles, pairs in layers:
        for q, angle in enumerate(angles):
            rotate(float(angle), q)
        for a, b in pairs:
            circuit.cz(a, b)
    return circuit


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls after one warm-up call, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _spin() -> None:  # pragma: no cover - runs in a child process
    while True:
        pass


@contextlib.contextmanager
def busy_processes(count: int, settle: float = 0.5):
    """``count`` processes spinning on the CPU for the duration of the block: a shared machine, on purpose.

    The block starts ``settle`` seconds after them: a process just started is still being placed by the
    scheduler, and whatever ran first beside it would be timed under another load than the rest."""
    workers = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for w in workers:
        w.start()
    if workers:
        time.sleep(settle)
    try:
        yield
    finally:
        for w in workers:
            w.terminate()


#: seconds between one simulator's timing and the next (:func:`after_a_pause`)
PAUSE = 0.05


def after_a_pause(fn: Callable, *args):
    """``fn(*args)`` after :data:`PAUSE` seconds: the simulator timed before may have OpenMP threads still
    spinning for a few ms after its last run, and whoever ran next would share the cores with them."""
    time.sleep(PAUSE)
    return fn(*args)


def alternating_rounds(names: list[str], rounds: int, conditions: tuple[int, ...],
                       time_one: Callable[[str], object]) -> dict[tuple[int, str], list]:
    """``time_one(name)`` for every name, ``rounds`` times: in each round every name once per condition (a
    number of busy processes beside, 0 for quiet), the names taking every place in turn, each after a
    pause. Alternating, so the machine's drift over the run falls on all alike.
    Returns ``{(busy processes, name): [one result per round]}``."""
    times: dict[tuple[int, str], list] = {(busy, name): [] for busy in conditions for name in names}
    for r in range(rounds):
        turn = names[r % len(names):] + names[:r % len(names)]
        for busy in conditions:
            with busy_processes(busy):
                for name in turn:
                    times[busy, name].append(after_a_pause(time_one, name))
    return times
