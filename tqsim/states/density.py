"""Mixed states as density matrices, shape ``(2**n, 2**n)`` or ``(batch, 2**n, 2**n)``.

For gates and channels the matrix is viewed as one flat tensor over ``2n``
qubits, rows first: row qubit ``q`` is flat qubit ``q`` and column qubit ``q``
is flat qubit ``n + q``. ``U rho U^dagger`` is then ``U`` on the row qubits and
``conj(U)`` on the column qubits, through the same routine that evolves kets.
A wide controlled gate is the same twice over: its target operator on the
rows whose row controls are all 1, then its conjugate on the columns whose
column controls are all 1 (two passes, no ``2**k x 2**k`` matrix).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from .. import _checks
from .._threads import small_on_one_thread
from ..tensor.flat import apply_controlled, apply_diagonal, apply_matrix, broadcast, num_qubits_of, trace_out
from ..tensor.matfunc import hermitian_eigvalsh
from .base import DenseState, dense_pauli_expectation, reorder_reduced
from .statevector import StateVector

__all__ = ["DensityMatrix"]


class DensityMatrix(DenseState):
    """A mixed state of ``n`` qubits (big-endian), evolved as ``U rho U^dagger``."""

    __slots__ = ()
    _core_ndim = 2
    _takes_channels = True
    is_pure = False

    # ----------------------------------------------------------- constructors
    @classmethod
    def zeros(cls, num_qubits: int, dtype: torch.dtype | None = None, device=None) -> "DensityMatrix":
        """``|0...0><0...0|``."""
        n = _checks.num_qubits(num_qubits)
        dtype, dev = _checks.complex_dtype(dtype), _checks.device(device)
        _checks.dense_fits("density matrix", n, 1 << (2 * n), dtype, dev)
        rho = torch.zeros(1 << n, 1 << n, dtype=dtype, device=dev)
        rho[0, 0] = 1
        return cls(rho, n)

    @classmethod
    def from_state(cls, state: StateVector) -> "DensityMatrix":
        """``|psi><psi|`` (batched states give batched matrices)."""
        if not isinstance(state, StateVector):
            raise TypeError(f"from_state expects a StateVector, got {type(state).__name__}")
        amps = state.amplitudes()
        n = state.num_qubits
        _checks.dense_fits("density matrix", n, 1 << (2 * n), state.dtype, state.device, math.prod(state.batch_shape))
        return cls(amps.unsqueeze(-1) * amps.conj().unsqueeze(-2), state.num_qubits)

    @classmethod
    def from_array(cls, array, dtype: torch.dtype | None = None, device=None) -> "DensityMatrix":
        """A density matrix from a ``(2**n, 2**n)`` or ``(batch, 2**n, 2**n)`` array.

        Checked: Hermitian, unit trace and positive semidefinite within ``sqrt(eps)``;
        stored as its Hermitian part divided by its trace.
        """
        rho = array if isinstance(array, torch.Tensor) else torch.as_tensor(np.asarray(array))
        if dtype is None:
            dtype = rho.dtype if rho.dtype in _checks.COMPLEX_DTYPES else (
                torch.complex128 if rho.dtype == torch.float64 else _checks.complex_dtype(None))
        rho = rho.to(device=_checks.device(device) if device is not None else rho.device,
                     dtype=_checks.complex_dtype(dtype))
        if rho.ndim not in (2, 3) or rho.shape[-1] != rho.shape[-2]:
            raise ValueError(f"a density matrix must have shape (2**n, 2**n) or (batch, 2**n, 2**n), got {tuple(rho.shape)}")
        n = num_qubits_of(rho)
        if n < 1:
            raise ValueError("a density matrix needs at least one qubit")
        values = rho.detach()
        if not bool(torch.isfinite(torch.view_as_real(values)).all()):
            raise ValueError("density matrix holds NaN or infinite values")
        tol = _checks.tolerance(rho.dtype)
        asym = (values - values.mH).abs().max().item()
        if asym > tol:
            raise ValueError(f"density matrix is not Hermitian: max |rho - rho^dagger| = {asym:.3g}")
        trace = torch.diagonal(values, dim1=-2, dim2=-1).sum(-1).real
        if (trace - 1).abs().max().item() > tol:
            raise ValueError(f"density matrix has trace {_checks.farthest_from_one(trace)}, not 1")
        # positive semidefinite within tol: rho + tol*I has a Cholesky factor
        shifted = values + tol * torch.eye(values.shape[-1], dtype=values.dtype, device=values.device)
        if bool((torch.linalg.cholesky_ex(shifted).info != 0).any()):
            lowest = hermitian_eigvalsh(values).min().item()
            raise ValueError(f"density matrix is not positive semidefinite: eigenvalue {lowest:.3g} < 0")
        # accepted within sqrt(eps), stored exact: Hermitian, trace 1 (a trace of 1 + 1e-9 kept
        # would put purities above 1 and entropies below 0)
        rho = (rho + rho.mH) / 2
        return cls(rho / torch.diagonal(rho, dim1=-2, dim2=-1).sum(-1).real[..., None, None], n)

    # -------------------------------------------------------------- read-out
    def _dense(self) -> torch.Tensor:
        return self._data

    @classmethod
    def from_qutip(cls, qobj, dtype: torch.dtype | None = None) -> "DensityMatrix":
        """From a QuTiP density matrix (dims ``[[2]*n, [2]*n]``) or ket (giving ``|psi><psi|``).
        Needs ``pip install "tqsim[qutip]"``."""
        from ..interop.qutip import density_matrix_from_qutip

        return density_matrix_from_qutip(qobj, dtype)

    def matrix(self) -> torch.Tensor:
        """The ``(2**n, 2**n)`` (or batched) matrix."""
        return self._data

    @small_on_one_thread
    def probabilities(self) -> torch.Tensor:
        """Diagonal of rho: the probability of each basis state."""
        return torch.diagonal(self._data, dim1=-2, dim2=-1).real

    def trace(self) -> torch.Tensor:
        """Tr(rho), real."""
        return self.probabilities().sum(-1)

    def to_statevector(self):
        raise TypeError(
            "a DensityMatrix is mixed in general and has no state vector; "
            "take tq.partial_trace or eigenvectors of .matrix() instead"
        )

    # --------------------------------------------------- the state protocol
    @small_on_one_thread
    def reduced_matrix(self, keep: Sequence[int]) -> torch.Tensor:
        """Reduced density matrix ``(*batch, 2**k, 2**k)`` of distinct qubits ``keep``, in the order given.

        Traced through diagonal views of the grouped axes: only the entries
        with equal traced indices are read. Every qubit in order is the
        matrix itself.
        """
        if tuple(keep) == tuple(range(self.num_qubits)):
            return self._data
        targets = sorted(keep)
        return reorder_reduced(trace_out(self._data, targets), keep, targets)

    @small_on_one_thread
    def pauli_expectation(self, terms) -> torch.Tensor:
        """``sum_t c_t Tr(rho P_t)``: per group of terms with the same X/Y qubits, one
        gather of the entries ``rho[i, i XOR x]`` and a marginal over the Z qubits."""
        return dense_pauli_expectation(self._data, terms, _density_weights, 2)

    def __repr__(self) -> str:
        batch = f", batch={self.batch_shape[0]}" if self.batch_shape else ""
        return f"DensityMatrix(num_qubits={self.num_qubits}{batch}, dtype={self.dtype}, device={self.device})"

    # ------------------------------------------------------------- channels
    def depolarizing(self, p, qubit: int) -> "DensityMatrix":
        """See :func:`tqsim.channels.depolarizing`."""
        from ..channels import depolarizing

        return self.apply(depolarizing(p, qubit))

    def amplitude_damping(self, gamma, qubit: int) -> "DensityMatrix":
        """See :func:`tqsim.channels.amplitude_damping`."""
        from ..channels import amplitude_damping

        return self.apply(amplitude_damping(gamma, qubit))

    def phase_damping(self, lam, qubit: int) -> "DensityMatrix":
        """See :func:`tqsim.channels.phase_damping`."""
        from ..channels import phase_damping

        return self.apply(phase_damping(lam, qubit))

    def kraus(self, operators, qubits) -> "DensityMatrix":
        """See :func:`tqsim.channels.kraus`."""
        from ..channels import kraus

        return self.apply(kraus(operators, qubits))

    # ------------------------------------------------------------- evolution
    def _flat(self, data: torch.Tensor) -> torch.Tensor:
        return data.reshape(*data.shape[:-2], -1)

    def _apply_step(self, data, op, step, gate, buffers):
        if step.apart:
            return self._apply_controlled(data, op, gate, buffers)
        return self._apply_gate_operator(data, op, step.qubits, step.is_diagonal, buffers)

    def _apply_gate_operator(self, data, op, qubits, is_diagonal, buffers):
        n = self.num_qubits
        columns = [n + q for q in qubits]
        apply = apply_diagonal if is_diagonal else apply_matrix
        core = 1 if is_diagonal else 2
        flat = self._flat(data)
        batch = broadcast(flat.shape[:-1], op.shape[: op.ndim - core])
        shape = batch + flat.shape[-1:]
        first = apply(flat, op, qubits, out=buffers.target(flat, shape, flat) if buffers else None)
        second = apply(first, op.conj(), columns, out=buffers.target(first, shape, first) if buffers else None)
        return second.reshape(*batch, 1 << n, 1 << n)

    def _apply_controlled(self, data, op, gate, buffers):
        n = self.num_qubits
        core = 1 if gate.is_diagonal else 2
        flat = self._flat(data)
        batch = broadcast(flat.shape[:-1], op.shape[: op.ndim - core])
        shape = batch + flat.shape[-1:]
        controls, targets = gate.controls, gate.targets
        first = apply_controlled(flat, op, controls, targets, gate.is_diagonal,
                                 out=buffers.target(flat, shape, flat) if buffers else None)
        second = apply_controlled(first, op.conj(), [n + q for q in controls], [n + q for q in targets],
                                  gate.is_diagonal, out=buffers.target(first, shape, first) if buffers else None)
        return second.reshape(*batch, 1 << n, 1 << n)

    def _apply_channel(self, data, channel, buffers):
        n = self.num_qubits
        sup = channel.superoperator(self.dtype, self.device)
        qubits = list(channel.qubits) + [n + q for q in channel.qubits]
        flat = self._flat(data)
        out = buffers.target(flat, flat.shape, flat) if buffers else None
        return apply_matrix(flat, sup, qubits, out=out).reshape(data.shape)


def _density_weights(rho: torch.Tensor, flips: tuple[int, ...]) -> torch.Tensor:
    """w[i] = rho[i, i XOR x]."""
    dim = rho.shape[-1]
    n = dim.bit_length() - 1
    rows = torch.arange(dim, device=rho.device)
    mask = sum(1 << (n - 1 - q) for q in flips)
    weights = rho.reshape(*rho.shape[:-2], dim * dim)[..., rows * dim + (rows ^ mask)]
    return weights.real if not flips else weights
