"""Noise channels in Kraus form, for density matrices.

A channel maps rho to ``sum_k K_k rho K_k^dagger``. Density matrices apply it
as one matrix on the row and column qubits together (the superoperator
``sum_k K_k ⊗ conj(K_k)``), so a channel costs one grouped contraction.
Parameters may be tensors that require grad.
"""

from __future__ import annotations

import numbers
from typing import Callable, Sequence

import numpy as np
import torch

from . import _checks
from .tensor.contract import contract

__all__ = ["Channel", "depolarizing", "amplitude_damping", "phase_damping", "kraus", "BUILDERS"]

# build(params, dtype, device) -> Kraus operators, shape (K, d, d)
KrausBuilder = Callable[[tuple, torch.dtype, torch.device], torch.Tensor]


class Channel:
    """A completely positive, trace-preserving map on specific qubits."""

    __slots__ = ("name", "qubits", "params", "_build")

    def __init__(self, name: str, qubits: Sequence[int], params: tuple, build: KrausBuilder):
        self.name = name
        self.qubits = _checks.qubit_list(qubits)
        self.params = params
        self._build = build

    @property
    def num_qubits(self) -> int:
        return len(self.qubits)

    def kraus_operators(self, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
        """The Kraus operators stacked into shape ``(K, 2**k, 2**k)``."""
        return self._build(self.params, _checks.complex_dtype(dtype), _checks.device(device))

    def superoperator(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """``sum_k K_k ⊗ conj(K_k)``, acting on (row qubits, column qubits)."""
        ops = self._build(self.params, dtype, device)
        d = ops.shape[-1]
        return contract("kac,kbd->abcd", ops, ops.conj()).reshape(d * d, d * d)

    def label(self) -> str:
        if not self.params or self.name == "kraus":
            return self.name.upper()
        return f"{self.name.upper()}({', '.join(f'{float(p):.3g}' for p in self.params)})"

    def __repr__(self) -> str:
        return f"{self.label()} on {list(self.qubits)}"


def _probability(value, name: str):
    if isinstance(value, torch.Tensor):
        if value.ndim != 0 or value.is_complex():
            raise ValueError(f"{name} must be a real scalar, got a tensor of shape {tuple(value.shape)}")
        checked = float(value.detach())
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    else:
        checked = float(value)
    if not 0.0 <= checked <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {checked}")
    return value if isinstance(value, torch.Tensor) else checked


def _scalar(p, dtype, device) -> torch.Tensor:
    return torch.as_tensor(p, device=device).to(dtype=_checks.real_dtype(dtype), device=device).to(dtype)


_PAULIS = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])


def depolarizing(p, qubit: int) -> Channel:
    """rho -> (1 - p) rho + (p / 3) (X rho X + Y rho Y + Z rho Z), p in [0, 1].

    This is the convention of Cirq's ``depolarize``: with probability ``p`` one
    of the three Pauli errors occurs. Qiskit's ``depolarizing_error(lam)``
    equals this channel with ``p = 3 lam / 4``.
    """
    params = (_probability(p, "depolarizing probability p"),)

    def build(params, dtype, device):
        prob = _scalar(params[0], dtype, device)
        weights = torch.stack([torch.sqrt(1 - prob), *([torch.sqrt(prob / 3)] * 3)])
        paulis = torch.as_tensor(_PAULIS, dtype=dtype, device=device)
        return weights[:, None, None] * paulis

    return Channel("depolarizing", [qubit], params, build)


def _damping(name: str, value, what: str, qubit: int, jump: tuple[int, int]) -> Channel:
    """K0 = diag(1, sqrt(1 - g)) and K1 with sqrt(g) at entry ``jump``."""
    params = (_probability(value, what),)

    def build(params, dtype, device):
        g = _scalar(params[0], dtype, device)
        zero, one = torch.zeros_like(g), torch.ones_like(g)
        k0 = [[one, zero], [zero, torch.sqrt(1 - g)]]
        k1 = [[zero, zero], [zero, zero]]
        k1[jump[0]][jump[1]] = torch.sqrt(g)
        return torch.stack([torch.stack([torch.stack(row) for row in k]) for k in (k0, k1)])

    return Channel(name, [qubit], params, build)


def amplitude_damping(gamma, qubit: int) -> Channel:
    """Energy loss |1> -> |0> with probability ``gamma`` (Nielsen & Chuang 8.3.5)."""
    return _damping("amplitude_damping", gamma, "amplitude damping gamma", qubit, (0, 1))


def phase_damping(lam, qubit: int) -> Channel:
    """Loss of phase coherence: off-diagonals shrink by sqrt(1 - lam) (N&C 8.3.6)."""
    return _damping("phase_damping", lam, "phase damping lambda", qubit, (1, 1))


def kraus(operators, qubits: Sequence[int]) -> Channel:
    """A general channel from Kraus operators, each ``(2**k, 2**k)``.

    Completeness ``sum_k K_k^dagger K_k = I`` is checked within ``sqrt(eps)`` of
    the operators' dtype; a map that is not trace preserving is refused.
    """
    qubits = _checks.qubit_list(qubits)
    if not qubits:
        raise ValueError("kraus needs at least one qubit")
    if isinstance(operators, torch.Tensor):
        ops = operators
    else:
        try:
            ops = torch.as_tensor(np.asarray([np.asarray(k) for k in operators]))
        except (TypeError, ValueError):
            raise TypeError("Kraus operators must be a sequence of square matrices") from None
    if not ops.is_complex():
        ops = ops.to(torch.complex128)
    d = 1 << len(qubits)
    if ops.ndim != 3 or ops.shape[1:] != (d, d) or ops.shape[0] < 1:
        raise ValueError(
            f"Kraus operators on {len(qubits)} qubit(s) must have shape (K, {d}, {d}), got {tuple(ops.shape)}"
        )
    values = ops.detach()
    total = contract("kba,kbc->ac", values.conj(), values)
    error = (total - torch.eye(d, dtype=values.dtype, device=values.device)).abs().max().item()
    tol = _checks.tolerance(values.dtype)
    if not error <= tol:
        raise ValueError(
            f"Kraus operators are not trace preserving: max |sum K^dagger K - I| = {error:.3g} "
            f"exceeds {tol:.1e}"
        )

    def build(params, dtype, device):
        return params[0].to(device=device, dtype=dtype)

    return Channel("kraus", qubits, (ops,), build)


#: Channel builders by name: the noise methods of :class:`~tqsim.Circuit`.
BUILDERS: dict[str, Callable[..., Channel]] = {
    f.__name__: f for f in (depolarizing, amplitude_damping, phase_damping, kraus)
}
