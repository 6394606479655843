"""Input checks shared by the public API; every message names the bad value and what is allowed."""

from __future__ import annotations

import math
import numbers
import os
from typing import Iterable, Sequence

import torch

COMPLEX_DTYPES = (torch.complex64, torch.complex128)


def qubit_list(qubits, name: str = "qubits") -> tuple[int, ...]:
    """Distinct non-negative integer qubits as a tuple (range is checked later)."""
    if type(qubits) is tuple or type(qubits) is list:  # the common case, checked quickly (files of 10**5 gates)
        for q in qubits:  # a plain loop: half the time of all() over a generator
            if type(q) is not int or q < 0:
                break
        else:
            if len(set(qubits)) == len(qubits):
                return tuple(qubits)
    if isinstance(qubits, (numbers.Integral, torch.Tensor)) and not isinstance(qubits, bool):
        qubits = [qubits]
    try:
        items = list(qubits)
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints, got {qubits!r}") from None
    result = []
    for q in items:
        if isinstance(q, torch.Tensor) and q.ndim == 0 and not q.is_floating_point():
            q = int(q)
        if isinstance(q, bool) or not isinstance(q, numbers.Integral):
            raise TypeError(f"{name} must be ints, got {q!r} in {items!r}")
        if q < 0:
            raise IndexError(f"qubit {q} in {name} {items!r} is negative; qubits are 0..n-1")
        result.append(int(q))
    if len(set(result)) != len(result):
        raise ValueError(f"{name} {result} repeat a qubit; each qubit may appear once")
    return tuple(result)


def qubits_in_range(qubits: Iterable[int], num_qubits: int, what: str = "qubit") -> None:
    for q in qubits:
        if not 0 <= q < num_qubits:
            raise IndexError(f"{what} {q} out of range for {num_qubits} qubits (allowed 0..{num_qubits - 1})")


def num_qubits(n, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"number of qubits must be an int, got {n!r}")
    if n < minimum:
        raise ValueError(f"number of qubits must be >= {minimum}, got {n}")
    return int(n)


def complex_dtype(dtype) -> torch.dtype:
    """The complex dtype to use: the one given, or the complex twin of torch's default."""
    if dtype is None:
        return torch.complex128 if torch.get_default_dtype() == torch.float64 else torch.complex64
    if dtype not in COMPLEX_DTYPES:
        raise TypeError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
    return dtype


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.complex128 else torch.float32


def device(dev) -> torch.device:
    """A torch.device, refusing CUDA devices that this machine does not have."""
    if dev is None:
        return torch.device("cpu")
    try:
        dev = torch.device(dev)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {dev!r}; use 'cpu' or 'cuda'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(dev)!r} requested but CUDA is not available on this machine; use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(dev)!r} does not exist: {torch.cuda.device_count()} CUDA device(s) present")
    return dev


def tolerance(dtype: torch.dtype) -> float:
    """Tolerance for unitarity, normalisation and similar checks: sqrt(machine epsilon)."""
    return math.sqrt(torch.finfo(real_dtype(dtype) if dtype.is_complex else dtype).eps)


MAX_DENSE_QUBITS = 30  # dense vectors built from factorized states


def fits_dense(num_qubits: int, what: str = "a dense state of", limit: str = "keep n <=") -> None:
    """Refuse a dense vector of more than :data:`MAX_DENSE_QUBITS` qubits (2**30 amplitudes, 8-16 GiB)."""
    if num_qubits > MAX_DENSE_QUBITS:
        raise ValueError(f"{what} {num_qubits} qubits does not fit; {limit} {MAX_DENSE_QUBITS}")


def device_memory(dev: torch.device) -> int | None:
    """Total memory of ``dev`` in bytes (None where the platform does not tell)."""
    if dev.type == "cuda":
        return torch.cuda.get_device_properties(dev).total_memory
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def byte_size(nbytes: int) -> str:
    """``nbytes`` in binary units: ``16 TiB``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    if nbytes.bit_length() > 1000:  # too large for a float
        return f"2**{nbytes.bit_length() - 1} bytes"
    k = min(max(nbytes.bit_length() - 1, 0) // 10, len(units) - 1)
    return f"{nbytes / (1 << (10 * k)):.4g} {units[k]}"


def fits_memory(entries: int, dtype: torch.dtype, dev: torch.device, what: str) -> None:
    """Refuse, before allocating, a tensor of ``entries`` elements larger than the whole memory of ``dev``.

    The total rather than the free memory: the answer must not depend on what
    else runs at the moment, and what cannot fit into an empty device never will.
    """
    needed = entries * dtype.itemsize
    total = device_memory(dev)
    if total is not None and needed > total:
        raise ValueError(f"{what} needs {byte_size(needed)} as {str(dtype).removeprefix('torch.')} and does not fit "
                         f"in the {byte_size(total)} of memory of {dev}")


def dense_fits(kind: str, num_qubits: int, entries: int, dtype: torch.dtype, dev: torch.device,
               batch: int = 1) -> None:
    """:func:`fits_memory` for ``batch`` dense states (``kind``: "state vector", "density matrix") of
    ``entries`` elements each, named as the user asked for them."""
    what = f"a {kind} of {num_qubits} qubits" if batch == 1 else f"a batch of {batch} {kind}s of {num_qubits} qubits"
    fits_memory(batch * entries, dtype, dev, what)


def farthest_from_one(values: torch.Tensor) -> str:
    """The entry of ``values`` farthest from 1, printed with enough digits to differ from 1."""
    flat = values.detach().reshape(-1)
    worst = flat[(flat - 1).abs().argmax()].item()
    text = f"{worst:.6g}"
    return text if float(text) != 1 else f"{worst:.15g}"


def recording_cuda_graph(tensor: torch.Tensor) -> bool:
    """True while a CUDA graph is being recorded for ``tensor``'s device.

    Value checks that wait for the device cannot run then; they ran in the
    eager warm-up steps before the recording (tqsim.maxcut.graphed), and the
    replayed loss shows any NaN.
    """
    return tensor.is_cuda and torch.cuda.is_current_stream_capturing()


def finite(values: Sequence[torch.Tensor], what: str = "parameter") -> None:
    """Raise if any tensor holds NaN or infinity (one device sync for all of them)."""
    tensors = [v.detach() for v in values if isinstance(v, torch.Tensor) and not v.is_complex()]
    if not tensors or recording_cuda_graph(tensors[0]):
        return
    first = tensors[0]
    if all(t.ndim == 0 and t.dtype == first.dtype and t.device == first.device for t in tensors):
        flat = torch.stack(tensors)  # the angles of a circuit: one call, not three per angle
    else:
        flat = torch.cat([t.reshape(-1).to(first.device, torch.float64) for t in tensors])
    if not bool(torch.isfinite(flat).all()):
        bad = flat[~torch.isfinite(flat)][0].item()
        raise ValueError(f"{what} values must be finite, got {bad}")


def non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def bits(value, num_qubits: int) -> list[int]:
    """A bitstring ("0110" or a sequence of 0/1 ints) of exactly ``num_qubits`` bits."""
    items = list(value) if isinstance(value, (str, list, tuple)) or hasattr(value, "__iter__") else None
    ok = items is not None and len(items) == num_qubits and all(
        (isinstance(b, str) and b in ("0", "1"))
        or (isinstance(b, numbers.Integral) and not isinstance(b, bool) and b in (0, 1))
        or (isinstance(b, torch.Tensor) and b.ndim == 0 and not b.is_floating_point() and int(b) in (0, 1))
        for b in items
    )
    if not ok:
        raise ValueError(f"bits must be {num_qubits} values of 0 or 1, got {value!r}")
    return [int(b) for b in items]
