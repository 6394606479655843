"""Quantum-information quantities computed from the state's tensors.

``partial_trace`` of a ket never forms the ``2**n x 2**n`` matrix: the ket is
reshaped into a ``2**k x 2**(n-k)`` matrix ``A`` (kept qubits as rows) and
``rho_A = A A^dagger``, which costs ``O(2**n * 2**k)``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from . import _checks
from .states import DensityMatrix, StateVector
from .tensor.flat import grouped_shape, permute_qubits

__all__ = ["partial_trace", "entropy", "purity"]


def _dense(state) -> None:
    if not isinstance(state, (StateVector, DensityMatrix)):
        raise TypeError(f"expected a StateVector or DensityMatrix, got {type(state).__name__}")


def _subsystem(qubits, num_qubits: int, name: str, allow_empty: bool = False) -> tuple[int, ...]:
    qubits = _checks.qubit_list(qubits, name)
    _checks.qubits_in_range(qubits, num_qubits, f"{name} qubit")
    if not qubits and not allow_empty:
        raise ValueError(f"{name} is empty; name at least one qubit")
    return qubits


def _split_kept(flat: torch.Tensor, num_qubits: int, keep: Sequence[int]) -> torch.Tensor:
    """Reshape ``(*batch, 2**n)`` into ``(*batch, 2**k, 2**(n-k))``, sorted kept qubits first."""
    targets = sorted(keep)
    shape = grouped_shape(num_qubits, targets)
    nb = flat.ndim - 1
    x = flat.reshape(*flat.shape[:-1], *shape)
    kept_axes = [nb + 2 * j + 1 for j in range(len(targets))]
    x = torch.movedim(x, kept_axes, list(range(nb, nb + len(targets))))
    return x.reshape(*flat.shape[:-1], 1 << len(targets), -1)


def _to_given_order(rho: torch.Tensor, keep: Sequence[int]) -> torch.Tensor:
    """Reorder a reduced matrix over sorted ``keep`` into the order of ``keep``."""
    k = len(keep)
    targets = sorted(keep)
    order = [targets.index(q) for q in keep]
    if order == list(range(k)):
        return rho
    flat = rho.reshape(*rho.shape[:-2], -1)
    flat = permute_qubits(flat, order + [k + o for o in order])
    return flat.reshape(rho.shape)


def partial_trace(state, keep: Sequence[int]) -> DensityMatrix:
    """The reduced state of the ``keep`` qubits, in the order given.

    Keeping every qubit returns the full density matrix.
    """
    _dense(state)
    n = state.num_qubits
    keep = _subsystem(keep, n, "keep")
    if isinstance(state, StateVector):
        a = _split_kept(state.amplitudes(), n, keep)
        rho = a @ a.mH
    else:
        dim = 1 << n
        data = state.matrix()
        flat = data.reshape(*data.shape[:-2], dim * dim)
        # rows and columns split alike: (*batch, kept rows, traced rows, kept cols, traced cols)
        rows_first = _split_kept(flat, 2 * n, list(keep) + [n + q for q in keep])
        kk = 1 << len(keep)
        x = rows_first.reshape(*data.shape[:-2], kk, kk, dim // kk, dim // kk)
        rho = torch.diagonal(x, dim1=-2, dim2=-1).sum(-1)
    return DensityMatrix(_to_given_order(rho, keep), len(keep))


def _spectrum(state, subsystem) -> torch.Tensor:
    """Eigenvalues of the reduced state, smaller side of the cut for pure states."""
    _dense(state)
    n = state.num_qubits
    subsystem = _subsystem(subsystem, n, "subsystem")
    if isinstance(state, StateVector) and 2 * len(subsystem) > n:
        subsystem = tuple(q for q in range(n) if q not in subsystem) or subsystem
    rho = partial_trace(state, subsystem).matrix()
    return torch.linalg.eigvalsh(rho)


def entropy(state, subsystem: Sequence[int], alpha: float = 1, base: float = math.e) -> torch.Tensor:
    """Von Neumann (``alpha=1``) or Renyi-``alpha`` entropy of ``subsystem``.

    ``alpha=float('inf')`` gives the min-entropy. Natural log unless ``base``
    is given (2 for bits). Differentiable; eigenvalues below ``sqrt(eps)`` count
    as zero, so the gradient stays finite.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"alpha must be a number > 0 (or inf), got {alpha!r}")
    if not isinstance(base, (int, float)) or base <= 0 or base == 1:
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")
    lam = _spectrum(state, subsystem)
    eps = _checks.tolerance(lam.dtype) ** 2 * 100
    positive = lam > eps
    lam = torch.where(positive, lam, torch.zeros_like(lam))
    if alpha == 1:
        safe = torch.where(positive, lam, torch.ones_like(lam))
        value = -(lam * torch.log(safe)).sum(-1)
    elif math.isinf(alpha):
        value = -torch.log(lam.max(-1).values)
    else:
        value = torch.log((torch.where(positive, lam, torch.zeros_like(lam)) ** alpha).sum(-1)) / (1 - alpha)
    return value / math.log(base)


def purity(state, subsystem: Sequence[int]) -> torch.Tensor:
    """Tr(rho_A**2) of the reduced state of ``subsystem``."""
    rho = partial_trace(state, subsystem).matrix()
    return (rho * rho.mT).sum((-2, -1)).real
