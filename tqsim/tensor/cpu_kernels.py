"""A compiled CPU kernel for small gate matrices on large kets, built once per machine.

Through PyTorch operations a gate on a large ket is a matrix product over a
grouped view: targets between other qubits need a batched product or a copy
to another layout, and every product writes a second ket. The kernel in
``cpu_kernel.cpp`` mixes each group of amplitudes in registers and writes it
back in place, wherever the targets lie; its bits do not depend on the thread
count (each amplitude is one thread's fixed sum). At 22 qubits, complex64, it
applies a 1-qubit gate in about a third of the time of the PyTorch path, and a
block on targets spread over the register 6-29x faster (docs/benchmarks.md).

It is a PyTorch C++ extension, compiled on first use with this machine's C++
compiler and ninja (``pip install "tqsim[kernel]"`` brings ninja) into
``~/.cache/tqsim`` (``TQSIM_CACHE`` moves it), for this machine's own vector
instructions: the cache key holds the CPU's flags, so machines that share a
home directory each build their own. Where no compiler is found the build
fails once and tqsim keeps its PyTorch path: same results to rounding, slower.
``TQSIM_CPU_KERNEL=0`` turns the kernel off.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pathlib
import platform
import shutil
import sys
import time
import warnings
from typing import Sequence

import numpy as np
import torch

from .flat import _reorder_operator

__all__ = ["MAX_QUBITS", "accepts", "apply_in_place", "apply_numpy_in_place", "available", "build", "serves",
           "status"]

#: blocks up to this many qubits (the C++ side instantiates these)
MAX_QUBITS = 5
#: kets from this many amplitudes on; smaller ones stay with the PyTorch and NumPy paths
MIN_AMPLITUDES = 2**10

_SOURCE = pathlib.Path(__file__).with_name("cpu_kernel.cpp")
#: -fopenmp: at::parallel_for is inline in ATen's headers, and serial without it
_FLAGS = ["-O3", "-march=native", "-ffp-contract=fast", "-fopenmp"]
if platform.machine() in ("x86_64", "AMD64"):
    _FLAGS.append("-mprefer-vector-width=512")  # GCC's default on AVX-512 machines splits every vector in two
_KINDS = {torch.complex64: "complex64", torch.complex128: "complex128", torch.float32: "float32",
          torch.float64: "float64"}
_NUMPY_KINDS = {np.dtype(np.complex64): "complex64", np.dtype(np.complex128): "complex128",
                np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
#: a build lock older than this was left by a killed build (a build takes well under a minute)
_STALE_LOCK_S = 600
#: log2 of the amplitudes in one 64-byte vector
_LANE_BITS = {"complex64": 3, "complex128": 2, "float32": 4, "float64": 3}

_state = {"module": None, "tried": False, "error": None}


def _cpu_flags() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _build_directory() -> pathlib.Path:
    key = hashlib.sha256("\n".join([_SOURCE.read_text(), " ".join(_FLAGS), _cpu_flags(), torch.__version__,
                                    sys.version]).encode()).hexdigest()[:16]
    root = pathlib.Path(os.environ.get("TQSIM_CACHE", pathlib.Path.home() / ".cache" / "tqsim"))
    return root / f"cpu_kernel_{key}"


def build(verbose: bool = False):
    """Compile the kernel now if it is not built yet, and return its module (raises on failure)."""
    from torch.utils import cpp_extension

    directory = _build_directory()
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / "lock"
    if lock.exists() and time.time() - lock.stat().st_mtime > _STALE_LOCK_S:
        lock.unlink(missing_ok=True)  # left by a build that was killed: PyTorch would wait for it forever
    if shutil.which("ninja") is None:  # the ninja of tqsim[kernel], in an environment that is not activated
        os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    if not any(directory.glob("tqsim_cpu_kernel*.so")):
        print(f"tqsim: compiling its CPU kernel into {directory} (once per machine, under a minute)",
              file=sys.stderr, flush=True)
    return cpp_extension.load("tqsim_cpu_kernel", [str(_SOURCE)], extra_cflags=_FLAGS, extra_ldflags=["-fopenmp"],
                              build_directory=str(directory), verbose=verbose)


def _module():
    if not _state["tried"]:
        _state["tried"] = True
        if os.environ.get("TQSIM_CPU_KERNEL", "1") == "0":
            _state["error"] = "turned off by TQSIM_CPU_KERNEL=0"
        else:
            try:
                _state["module"] = build()
            except Exception as error:  # no compiler, no ninja, a failed build: keep the PyTorch path
                _state["error"] = f"{type(error).__name__}: {error}".strip()
                warnings.warn(
                    "tqsim could not build its CPU kernel and uses its PyTorch path (same results, slower). "
                    'It needs a C++ compiler and ninja: pip install "tqsim[kernel]". '
                    f"The build said: {_state['error'][:500]}",
                    RuntimeWarning, stacklevel=3)
    return _state["module"]


def available() -> bool:
    """Whether the kernel is built and loaded (building it on the first call)."""
    return _module() is not None


def status() -> str:
    """"compiled" when the kernel is in use, "not used" before anything asked for it, otherwise why not
    (for results files and bug reports). Builds nothing."""
    if not _state["tried"]:
        return "not used"
    return "compiled" if _state["module"] is not None else f"PyTorch path ({_state['error']})"


def serves(ket: torch.Tensor) -> bool:
    """Whether the kernel takes steps on ``ket``: a contiguous CPU ket ``(*batch, 2**n)`` of at least
    :data:`MIN_AMPLITUDES` amplitudes per batch entry, complex64/128 or float32/64 (building the kernel
    on the first call)."""
    if ket.device.type != "cpu" or ket.dtype not in _KINDS or ket.shape[-1] < MIN_AMPLITUDES:
        return False
    return ket.is_contiguous() and not (ket.is_conj() or ket.is_neg()) and _module() is not None


def accepts(ket: torch.Tensor, operator: torch.Tensor, qubits: Sequence[int], diagonal: bool = False) -> bool:
    """Whether :func:`apply_in_place` can take this call: a ket the kernel :func:`serves`, one operator (no
    batch) of its dtype on at most :data:`MAX_QUBITS` qubits, a matrix or (``diagonal``) its diagonal, and
    no gradient to track."""
    if operator.dtype != ket.dtype or operator.ndim != (1 if diagonal else 2) or len(qubits) > MAX_QUBITS:
        return False
    if torch.is_grad_enabled() and (ket.requires_grad or operator.requires_grad):
        return False
    return serves(ket)


def apply_in_place(ket: torch.Tensor, operator: torch.Tensor, qubits: Sequence[int],
                   diagonal: bool = False) -> torch.Tensor:
    """Overwrite ``ket`` with ``operator`` applied to ``qubits`` (big-endian, the operator's index order)
    and return it. ``operator`` is a matrix, or its diagonal when ``diagonal``: a diagonal of a few qubits
    costs as much as a matrix in the kernel, one pass. Only after :func:`accepts` said yes."""
    matrix = torch.diag_embed(operator) if diagonal else operator
    _apply(_module(), ket.data_ptr(), ket.numel(), ket.shape[-1], _KINDS[ket.dtype],
           matrix.detach().resolve_conj().resolve_neg().numpy(), tuple(qubits))
    return ket


def apply_numpy_in_place(ket: np.ndarray, blocks: Sequence[tuple[np.ndarray, Sequence[int]]]) -> np.ndarray:
    """Overwrite the NumPy ``ket`` with each ``(matrix, qubits)`` of ``blocks`` in turn and return it.

    For the thousands of blocks of a long circuit on a few thousand amplitudes
    (:func:`tqsim.fusion.evolve_small_ket`), where a tensor wrapper per call costs as much as the
    kernel's arithmetic. ``ket``: C-contiguous, 1-D, complex64/128 or float32/64, at least
    :data:`MIN_AMPLITUDES` amplitudes; each matrix of its dtype on at most :data:`MAX_QUBITS` qubits.
    Only where :func:`available`.
    """
    kind = _NUMPY_KINDS.get(ket.dtype)
    if kind is None or ket.ndim != 1 or not ket.flags.c_contiguous or ket.size < MIN_AMPLITUDES:
        raise ValueError(f"the kernel takes a C-contiguous 1-D ket of at least {MIN_AMPLITUDES} amplitudes, "
                         f"complex64/128 or float32/64; got {ket.dtype}, shape {ket.shape}")
    if ket.size & (ket.size - 1):
        raise ValueError(f"the kernel takes a ket of 2**n amplitudes; got {ket.size}")
    module = _module()
    if module is None:
        raise RuntimeError(f"the compiled kernel is not available: {status()}")
    address = ket.ctypes.data
    for matrix, qubits in blocks:
        if matrix.dtype != ket.dtype or matrix.shape != (1 << len(qubits),) * 2 or len(qubits) > MAX_QUBITS:
            raise ValueError(f"a block on qubits {tuple(qubits)} must be a {ket.dtype} matrix of shape "
                             f"{(1 << len(qubits),) * 2} on at most {MAX_QUBITS} qubits; got {matrix.dtype}, "
                             f"shape {matrix.shape}")
        _apply(module, address, ket.size, ket.size, kind, matrix, tuple(qubits))
    return ket


def _apply(module, address: int, amplitudes: int, dimension: int, kind: str, matrix: np.ndarray,
           qubits: tuple[int, ...]) -> None:
    """The compiled call: ``matrix`` (NumPy, the ket's dtype) on ``qubits`` of the kets of ``dimension``
    amplitudes stored at ``address`` (``amplitudes`` in all), its qubits put in ascending order first."""
    order, high, low = _layout(dimension.bit_length() - 1, qubits, _LANE_BITS[kind])
    if order is not None:
        matrix = _reorder_operator(torch.from_numpy(matrix), order, 2).numpy()
    if not matrix.flags.c_contiguous:
        matrix = np.ascontiguousarray(matrix)
    module.apply(address, amplitudes, matrix.ctypes.data, high, low, kind)


@functools.lru_cache(maxsize=4096)
def _layout(n: int, qubits: tuple[int, ...], lane_bits: int) -> tuple[list[int] | None, list[int], int]:
    """For targets ``qubits`` of an ``n``-qubit ket: the order that sorts them (None when sorted), the bit
    positions of the targets above a vector's lanes (ascending), and the mask of those inside them.
    Ascending qubits are descending bit positions, so matrix index bit b is the b-th lowest position.
    Checked here, once per layout: the compiled side trusts these positions with the ket's memory."""
    if len(set(qubits)) != len(qubits) or not all(isinstance(q, (int, np.integer)) and 0 <= q < n for q in qubits):
        raise ValueError(f"the kernel's targets must be distinct qubits in range(0, {n}); got {qubits}")
    order = sorted(range(len(qubits)), key=qubits.__getitem__)
    positions = sorted(n - 1 - q for q in qubits)
    low = sum(1 << p for p in positions if p < lane_bits)
    return (None if order == list(range(len(qubits))) else order), [p for p in positions if p >= lane_bits], low
