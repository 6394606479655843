"""Threads on a shared CPU: small work on one thread, large evolutions on the cores others leave free.

On a CPU that other processes also use, every parallel region of a second
intra-op thread can wait a whole scheduler time slice for that thread; small
states spend most of their time in such waits. Measured on a 2-core machine
(docs/benchmarks.md, "Small states on one thread"): up to 2**14 amplitudes a
training step is as fast on one thread as on two when the machine is quiet,
and beside two busy processes 1.5-4x faster in the mean at 12-14 qubits; at
2**16 one thread costs 1.3x when the machine is quiet and saves 10x in the
mean beside two busy processes (a 16-qubit step collapsed to 40x its quiet
time on two threads). Above that the trade turns (1.6x either way at 18-20
qubits) and work keeps the caller's threads. The rule depends on the size of
the work only, never on the load, so the same seed keeps giving the same bits.

One exception, safe because its bits do not depend on the thread count: a larger
dense evolution with no gradient (gate products and element-wise work only)
runs on the CPUs that other processes leave free (:func:`threads_left_free`).
Its products are MKL's, which tqsim puts in strict reproducible mode at
import (:func:`thread_independent_products`): 1 and 2 threads then give the
same bits. Beside two busy processes on two cores, one thread took 0.59x the
time of two for 20-qubit circuits, and at 22 qubits 0.86x for a real circuit
and 1.19x for a complex one (benchmarks/bench_threads.py, docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import time

import torch

#: Dense work of at most this many amplitudes (a ket of 16 qubits, a density
#: matrix of 8, or a batch of that many entries) runs on one intra-op thread.
ONE_THREAD_AMPLITUDES = 2**16


@contextlib.contextmanager
def one_thread_if_small(amplitudes: int, device: torch.device):
    """Run the block on one CPU thread when it handles at most :data:`ONE_THREAD_AMPLITUDES` amplitudes.

    The caller's thread count is restored afterwards, also on an exception;
    CUDA work and work above the limit run unchanged.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or amplitudes > ONE_THREAD_AMPLITUDES or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def _openblas_threads():
    """``(get, set)`` of the thread count of the OpenBLAS that NumPy runs on, found among the libraries
    this process has mapped (Linux), or None (another BLAS, or another system). Called from NumPy
    paths only, so NumPy and its BLAS are loaded by then."""
    import ctypes
    import re

    try:
        with open("/proc/self/maps") as maps:
            paths = sorted(set(re.findall(r"/\S*openblas\S*\.so\S*", maps.read())))
    except OSError:
        return None
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "")):
            get = getattr(library, f"{prefix}openblas_get_num_threads{suffix}", None)
            set_ = getattr(library, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, set_
    return None


@contextlib.contextmanager
def numpy_on_one_thread():
    """NumPy's BLAS on one thread for the block (a context manager and a decorator).

    tqsim's NumPy paths (small kets, blocks of small matrices) gain nothing from
    a second thread, and OpenBLAS's idle threads spin for a while after every
    call it threads: beside a tqsim training process, Lightning's step took
    3.5x its time. The caller's count is restored afterwards; with another BLAS
    (or off Linux) nothing changes.
    """
    found = _openblas_threads()
    threads = found[0]() if found is not None else 1
    if threads == 1:
        yield
        return
    found[1](1)
    try:
        yield
    finally:
        found[1](threads)


class _OneThreadBackward(torch.autograd.Function):
    """Identity forward; in the backward pass, one thread from here to the end of that pass."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        threads = torch.get_num_threads()
        if threads > 1:
            torch.set_num_threads(1)
            # runs when this backward pass ends (the hook distributed training uses for the same purpose)
            torch.autograd.Variable._execution_engine.queue_callback(lambda: torch.set_num_threads(threads))
        return grad


def backward_on_one_thread_if_small(data: torch.Tensor, amplitudes: int | None = None) -> torch.Tensor:
    """``data``, through which a backward pass runs on one thread when it comes from work on at
    most :data:`ONE_THREAD_AMPLITUDES` amplitudes (``amplitudes``, by default ``data``'s own size;
    on the CPU, when ``data`` requires a gradient).

    A user's own ``loss.backward()`` after a small evolution then runs the evolution's
    backward on one thread, as :func:`one_thread_if_small` runs its forward; the caller's
    count is restored when the pass ends.
    """
    size = data.numel() if amplitudes is None else amplitudes
    if data.device.type != "cpu" or size > ONE_THREAD_AMPLITUDES or not data.requires_grad:
        return data
    return _OneThreadBackward.apply(data)


def small_on_one_thread(method):
    """A dense state's read-out (probabilities, expectations, reduced matrices) on one thread
    when the state is small, forward and backward: the loss of a training step is computed
    from such read-outs in the user's own loop, where tqsim does not choose the threads."""

    @functools.wraps(method)
    def read(state, *args, **kwargs):
        data = state._data
        with one_thread_if_small(data.numel(), data.device):
            result = method(state, *args, **kwargs)
        if isinstance(result, torch.Tensor):
            result = backward_on_one_thread_if_small(result, data.numel())
        return result

    return read


#: ``mkl_cbwr_set`` flags (mkl_cbwr.h): the code path MKL picks for this processor; strict (the same bits on
#: any number of threads); every setting, for ``mkl_cbwr_get``
_MKL_CBWR_AUTO = 2
_MKL_CBWR_STRICT = 0x10000
_MKL_CBWR_ALL = -1


def _mkl_reproducibility():
    """``(set, get)`` of the MKL linked into PyTorch (``mkl_cbwr_set``/``mkl_cbwr_get``), or None
    (no MKL, or a build that does not export them)."""
    if not torch.backends.mkl.is_available():
        return None
    for path in glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.*")):
        try:
            library = ctypes.CDLL(path)
            set_, get = library.mkl_serv_cbwr_set, library.mkl_serv_cbwr_get
        except (OSError, AttributeError):
            continue
        set_.argtypes = get.argtypes = [ctypes.c_int]
        set_.restype = get.restype = ctypes.c_int
        return set_, get
    return None


def _ask_for_thread_independent_products() -> bool:
    """Put PyTorch's MKL in strict conditional numerical reproducibility, and say whether it runs so.

    Without it, the thin products that apply gates to a ket differ in the last bit between one thread
    and two. MKL takes the mode only before its first product, so tqsim asks at import; a process that
    used MKL before, or that chose a mode of its own in ``MKL_CBWR``, keeps its mode (False unless that is
    strict). Quiet-machine cost, bench_dense.py's brickworks at 18-22 qubits: 0.95-1.03x for complex
    amplitudes, 1.14-1.21x for real ones (docs/benchmarks.md).
    """
    found = _mkl_reproducibility()
    if found is None:
        return False
    set_, get = found
    if "MKL_CBWR" not in os.environ:
        set_(_MKL_CBWR_AUTO | _MKL_CBWR_STRICT)  # refused (a negative code) once MKL has run: then the mode stays
    return bool(get(_MKL_CBWR_ALL) & _MKL_CBWR_STRICT)


_THREAD_INDEPENDENT_PRODUCTS = _ask_for_thread_independent_products()


def thread_independent_products() -> bool:
    """Whether PyTorch's matrix products on the CPU give the same bits on any number of threads here
    (MKL in strict reproducible mode, :func:`_ask_for_thread_independent_products`)."""
    return _THREAD_INDEPENDENT_PRODUCTS


#: How long a reading of the load serves (s): evolutions of large kets take milliseconds each, and
#: reading costs about 0.1 ms
_LOAD_READ_EVERY = 0.1
#: How long after a reading that sees other processes running it is confirmed (s)
_CONFIRM_AFTER = 0.002
_load_reading = [-1.0, 0]  # [monotonic time, others' runnable threads]


def _others_running() -> int:
    """Runnable threads of other processes, now: the kernel's count (``/proc/loadavg``) less this
    process's own (its idle OpenMP threads may still be spinning). 0 where Linux's /proc is absent.

    A count above 0 is read again :data:`_CONFIRM_AFTER` later, and the lower of the two is kept: another
    process's OpenMP threads spin for a moment after each parallel region, and a reading taken then would
    put a whole evolution on one thread beside a machine that is in fact idle."""
    now = time.monotonic()
    if now - _load_reading[0] < _LOAD_READ_EVERY:
        return _load_reading[1]
    others = _read_others()
    if others:
        time.sleep(_CONFIRM_AFTER)
        others = min(others, _read_others())
    _load_reading[:] = [time.monotonic(), others]
    return others


def _read_others() -> int:
    try:
        with open("/proc/loadavg") as loadavg:
            running = int(loadavg.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat") as stat:
                    text = stat.read()
            except OSError:  # the thread ended meanwhile
                continue
            own += text[text.rindex(")") + 2] == "R"
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - own)


def _cpus() -> int:
    """CPUs this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


@contextlib.contextmanager
def threads_left_free(device: torch.device):
    """For a dense evolution with no gradient: the caller's thread count, lowered to the CPUs that other
    processes leave free, when the products give the same bits on any thread count
    (:func:`thread_independent_products`); otherwise the caller's count.

    On a shared CPU every parallel region waits for its slowest thread, and a thread that shares its core
    with a busy process waits a scheduler time slice. The lower count never changes the bits: the
    evolution does products and element-wise work only. Read-outs and gradients, whose sums do depend on
    the count, keep the caller's.
    """
    threads = torch.get_num_threads()
    wanted = threads
    if device.type == "cpu" and threads > 1 and _THREAD_INDEPENDENT_PRODUCTS:
        wanted = max(1, min(threads, _cpus() - _others_running()))
    if wanted == threads:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
