"""States to and from QuTiP, and to NumPy.

QuTiP's tensor order is big-endian like tqsim's: ``qutip.tensor(basis(2, 1),
basis(2, 0))`` is |10>, amplitude index 2, in both. So amplitudes and matrices
cross unchanged; only the ``dims`` ([[2]*n, [1]*n] for a ket, [[2]*n, [2]*n]
for an operator) are added or checked.
"""

from __future__ import annotations

import torch

from .. import _checks
from ..states import DensityMatrix, StateVector
from .._optional import require

__all__ = ["to_qutip", "statevector_from_qutip", "density_matrix_from_qutip"]


def _qutip():
    return require("qutip", "qutip", "QuTiP conversion")


def to_qutip(state):
    """``state`` as a ``qutip.Qobj``: a ket, or an operator for a DensityMatrix.

    Kets have ``dims [[2]*n, [1]*n]`` and operators ``[[2]*n, [2]*n]`` (QuTiP 5
    prints a ket's column dims as ``[1]``). Batched states are refused: make one
    Qobj per entry. Pure kinds are made dense, so ``n`` is at most 30.
    """
    qutip = _qutip()
    if not isinstance(state, DensityMatrix) and not hasattr(state, "to_statevector"):
        raise TypeError(f"to_qutip expects a tqsim state, got {type(state).__name__}")
    if tuple(getattr(state, "batch_shape", ())):
        raise ValueError(f"to_qutip: the state is batched {tuple(state.batch_shape)}; a Qobj holds one state, "
                         f"so convert one entry at a time")
    n = state.num_qubits
    _checks.fits_dense(n, "to_qutip: a dense ket of")
    data = state.to_numpy()
    if isinstance(state, DensityMatrix):
        return qutip.Qobj(data, dims=[[2] * n, [2] * n])
    return qutip.Qobj(data.reshape(-1, 1), dims=[[2] * n, [1] * n])


def statevector_from_qutip(qobj, dtype: torch.dtype | None = None) -> StateVector:
    """The StateVector of a QuTiP ket on qubits (``dims [[2]*n, [1]*n]``), normalised within sqrt(eps)."""
    qobj = _checked(qobj, "statevector_from_qutip")
    if not qobj.isket:
        raise ValueError(f"statevector_from_qutip needs a ket, got an operator (dims {qobj.dims}); "
                         f"use density_matrix_from_qutip for density matrices")
    return StateVector.from_array(qobj.full().reshape(-1), dtype=dtype)


def density_matrix_from_qutip(qobj, dtype: torch.dtype | None = None) -> DensityMatrix:
    """The DensityMatrix of a QuTiP density matrix, or |psi><psi| of a ket.

    The operator is checked Hermitian, of trace 1 and positive semidefinite
    (within sqrt(eps) of its dtype).
    """
    qobj = _checked(qobj, "density_matrix_from_qutip")
    if qobj.isket:
        return DensityMatrix.from_state(statevector_from_qutip(qobj, dtype))
    return DensityMatrix.from_array(qobj.full(), dtype=dtype)


def _checked(qobj, caller: str):
    """A Qobj that is a ket or a square operator over qubits; anything else is refused by name."""
    qutip = _qutip()
    if not isinstance(qobj, qutip.Qobj):
        raise TypeError(f"{caller} expects a qutip.Qobj, got {type(qobj).__name__}")
    if qobj.isbra:
        raise ValueError(f"{caller}: got a bra (dims {qobj.dims}); pass its ket, qobj.dag()")
    if not (qobj.isket or qobj.isoper):
        raise ValueError(f"{caller}: got a Qobj of type {qobj.type!r}; only kets and operators are states")
    rows, cols = qobj.dims
    if qobj.isoper and rows != cols:
        raise ValueError(f"{caller}: an operator from {cols} to {rows} is not a state")
    if any(d != 2 for d in rows):
        size = qobj.shape[0]
        n = size.bit_length() - 1 if size > 1 and size & (size - 1) == 0 else 0
        hint = f"; as {n} qubits: Qobj(data, dims={[[2] * n, [1] * n if qobj.isket else [2] * n]})" if n else ""
        raise ValueError(f"{caller}: dims {qobj.dims} hold a dimension other than 2; tqsim states are "
                         f"qubits{hint}")
    return qobj
