"""Pure states as flat amplitude vectors, shape ``(2**n,)`` or ``(batch, 2**n)``."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .. import _checks, fusion
from .._threads import small_on_one_thread
from ..gates import has_real_matrix
from ..tensor import cpu_kernels
from ..tensor.flat import flip_qubits, ket_reduced, num_qubits_of
from . import small_kets
from .adjoint import gradient_method, ket_step
from .base import DenseState, dense_pauli_expectation, reorder_reduced

__all__ = ["StateVector", "REAL_KET_AMPLITUDES"]

#: Real kets of at least this many amplitudes (batch included) evolve in real arithmetic under
#: gates with real matrices (:meth:`StateVector._stays_real`); below, the check costs what it saves.
REAL_KET_AMPLITUDES = 2**13


class StateVector(DenseState):
    """A pure state of ``n`` qubits, big-endian (qubit 0 is the leftmost bit).

    Build one with :meth:`zeros`, :meth:`basis`, :meth:`from_array` or
    :meth:`random`; evolve it with ``circuit.run(state)`` or :meth:`apply`.
    States are immutable: every operation returns a new state, and autograd
    flows through amplitudes and gate parameters.
    """

    __slots__ = ()
    is_pure = True

    # ----------------------------------------------------------- constructors
    @classmethod
    def zeros(cls, num_qubits: int, dtype: torch.dtype | None = None, device=None) -> "StateVector":
        """``|0...0>`` on ``num_qubits`` qubits."""
        n = _checks.num_qubits(num_qubits)
        dtype, dev = _checks.complex_dtype(dtype), _checks.device(device)
        _checks.dense_fits("state vector", n, 1 << n, dtype, dev)
        amps = torch.zeros(1 << n, dtype=dtype, device=dev)
        amps[:1].fill_(1)  # a fill, not a copy from a host scalar (which a CUDA graph cannot record)
        return cls(amps, n)

    @classmethod
    def basis(cls, bits: str | Sequence[int], dtype: torch.dtype | None = None, device=None) -> "StateVector":
        """The basis state ``|bits>``, e.g. ``basis("0110")`` or ``basis([0, 1, 1, 0])``."""
        if isinstance(bits, str):
            if not bits or set(bits) - {"0", "1"}:
                raise ValueError(f"bits must be a non-empty string of 0 and 1, got {bits!r}")
            values = [int(b) for b in bits]
        else:
            values = list(bits)
            if not values or any(isinstance(b, bool) or b not in (0, 1) for b in values):
                raise ValueError(f"bits must be a non-empty sequence of 0 and 1, got {bits!r}")
        n = len(values)
        index = int("".join(str(b) for b in values), 2)
        dtype, dev = _checks.complex_dtype(dtype), _checks.device(device)
        _checks.dense_fits("state vector", n, 1 << n, dtype, dev)
        amps = torch.zeros(1 << n, dtype=dtype, device=dev)
        amps[index] = 1
        return cls(amps, n)

    @classmethod
    def from_array(
        cls, array, dtype: torch.dtype | None = None, device=None, normalize: bool = False
    ) -> "StateVector":
        """A state from amplitudes of shape ``(2**n,)`` or ``(batch, 2**n)``.

        Accepts tensors (gradients kept), NumPy arrays and lists. The vector must
        have unit norm within ``sqrt(eps)`` unless ``normalize=True``; either way
        it is stored divided by its norm, so the state's norm is 1 to rounding.
        """
        if isinstance(array, torch.Tensor):
            amps = array
        else:
            try:
                amps = torch.as_tensor(np.asarray(array))
            except (TypeError, ValueError):
                raise TypeError(f"cannot read amplitudes from {type(array).__name__}") from None
        if dtype is None:
            dtype = amps.dtype if amps.dtype in _checks.COMPLEX_DTYPES else (
                torch.complex128 if amps.dtype == torch.float64 else _checks.complex_dtype(None))
        dtype = _checks.complex_dtype(dtype)
        # resolve a lazily conjugated tensor (a.conj()): views of its real parts need real memory
        amps = amps.to(device=_checks.device(device) if device is not None else amps.device, dtype=dtype).resolve_conj()
        if amps.ndim not in (1, 2):
            raise ValueError(f"amplitudes must have shape (2**n,) or (batch, 2**n), got {tuple(amps.shape)}")
        n = num_qubits_of(amps)
        if n < 1:
            raise ValueError("a state needs at least one qubit (2 amplitudes)")
        _check_finite(amps)
        norms = torch.linalg.vector_norm(amps.detach(), dim=-1)
        if normalize:
            if bool((norms == 0).any()):
                raise ValueError("cannot normalize a zero vector")
        else:
            error = (norms - 1).abs().max().item()
            if error > _checks.tolerance(dtype):
                raise ValueError(
                    f"amplitudes have norm {_checks.farthest_from_one(norms)}, not 1 "
                    f"(pass normalize=True to rescale)"
                )
        # accepted within sqrt(eps) of 1, stored at 1: an error of 1e-9 kept would put
        # every distance of the state to itself at 1e-9
        amps = amps / torch.linalg.vector_norm(amps, dim=-1, keepdim=True)
        return cls(amps, n)

    @classmethod
    def from_qutip(cls, qobj, dtype: torch.dtype | None = None) -> "StateVector":
        """From a QuTiP ket on qubits (dims ``[[2]*n, [1]*n]``). Needs ``pip install "tqsim[qutip]"``."""
        from ..interop.qutip import statevector_from_qutip

        return statevector_from_qutip(qobj, dtype)

    @classmethod
    def random(
        cls,
        num_qubits: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device=None,
        batch: int | None = None,
    ) -> "StateVector":
        """A Haar-random state (normalised complex Gaussian vector)."""
        n = _checks.num_qubits(num_qubits)
        dtype = _checks.complex_dtype(dtype)
        dev = _checks.device(device)
        shape = (1 << n,) if batch is None else (_checks.positive_int(batch, "batch"), 1 << n)
        _checks.dense_fits("state vector", n, 1 << n, dtype, dev, 1 if batch is None else shape[0])
        gen_device = generator.device if generator is not None else dev
        amps = torch.randn(shape, generator=generator, dtype=dtype, device=gen_device).to(dev)
        return cls(amps / torch.linalg.vector_norm(amps, dim=-1, keepdim=True), n)

    # -------------------------------------------------------------- read-out
    def amplitudes(self) -> torch.Tensor:
        """The amplitude tensor, shape ``(2**n,)`` or ``(batch, 2**n)``."""
        return self._data

    @small_on_one_thread
    def probabilities(self) -> torch.Tensor:
        """``|amplitude|**2`` for every basis state (real, differentiable)."""
        return _SquaredModulus.apply(self._data)

    @small_on_one_thread
    def norm(self) -> torch.Tensor:
        """The 2-norm of the amplitudes (1 for a normalised state)."""
        return torch.linalg.vector_norm(self._data, dim=-1)

    @small_on_one_thread
    def inner(self, other: "StateVector") -> torch.Tensor:
        """<self|other>."""
        _same_size(self, other)
        return (self._data.conj() * other._data).sum(-1)

    def to_statevector(self) -> "StateVector":
        return self

    # --------------------------------------------------- the state protocol
    @small_on_one_thread
    def reduced_matrix(self, keep: Sequence[int]) -> torch.Tensor:
        """Reduced density matrix ``(*batch, 2**k, 2**k)`` of distinct qubits ``keep``, in the order given.

        ``rho_A = C C^dagger`` (``C``: kept qubits as rows) is built chunk by
        chunk from a grouped view, so it costs ``O(2**n * 2**k)``, never forms
        a ``2**n x 2**n`` matrix, and peaks at about 1.25 times the state.
        """
        targets = sorted(keep)
        return reorder_reduced(ket_reduced(self._data, targets), keep, targets)

    @small_on_one_thread
    def pauli_expectation(self, terms) -> torch.Tensor:
        """``sum_t c_t <psi|P_t|psi>``: per group of terms with the same X/Y qubits,
        one flip of the amplitudes and a marginal over the Z qubits."""
        return dense_pauli_expectation(self._data, terms, _ket_weights, 1)

    @small_on_one_thread
    def qubit_states(self) -> torch.Tensor:
        """Every single-qubit reduced state, shape ``(*batch, n, 2, 2)``, in two elementwise passes per qubit."""
        # per qubit, the diagonal from one reduction of the probabilities and
        # the coherence from one product of the two halves: elementwise passes
        # over the state (a contraction "asb,atb->st" is a matrix product with
        # a 2 x 2 result and 2**(n-1) summands, which GPUs run on a few SMs)
        n = self.num_qubits
        amps = self.amplitudes()
        batch = amps.shape[:-1]
        probs = torch.view_as_real(amps).square().sum(-1)
        rhos = []
        for q in range(n):
            shape = (*batch, 1 << q, 2, 1 << (n - q - 1))
            p0, p1 = probs.reshape(shape).sum((-3, -1)).unbind(-1)
            x = amps.reshape(shape)
            c = (x[..., 0, :] * x[..., 1, :].conj()).sum((-2, -1))
            rhos.append(torch.stack([p0.to(c.dtype), c, c.conj(), p1.to(c.dtype)], -1).reshape(*batch, 2, 2))
        return torch.stack(rhos, dim=-3)

    @small_on_one_thread
    def diagonal_expectation(self, observable, diagonal) -> torch.Tensor:
        """``<D>`` in one pass over the probabilities, weighed with the ``2**n`` diagonal ``diagonal(device, dtype)``."""
        probs = self.probabilities()
        return (probs * diagonal(probs.device, probs.dtype)).sum(-1)

    def __repr__(self) -> str:
        batch = f", batch={self.batch_shape[0]}" if self.batch_shape else ""
        return f"StateVector(num_qubits={self.num_qubits}{batch}, dtype={self.dtype}, device={self.device})"

    # ------------------------------------------------------------- evolution
    _adjoint = True

    def _apply_step(self, data, op, step, gate, buffers):
        return ket_step(data, op, step, gate, buffers)

    def _kernel_model(self, data):
        if not cpu_kernels.serves(data):
            return None
        return "complex" if data.is_complex() else "real"

    def _stays_real(self, data, gates):
        """A ket whose imaginary parts are all zero stays real under gates with real matrices (RY and
        CNOT ansätze, CZ brickworks): its real parts then evolve alone, in the real dtype, with a quarter
        of the arithmetic and half the memory traffic of complex products.

        Not when the input amplitudes take a gradient (that of their imaginary parts would be lost),
        and on the CPU only (the CUDA kernels take complex states; not measured on a device yet).
        """
        if (data.device.type != "cpu" or data.numel() < REAL_KET_AMPLITUDES
                or (data.requires_grad and torch.is_grad_enabled())
                or not all(has_real_matrix(g) for g in gates)):
            return False
        return not bool(torch.count_nonzero(data.imag))

    def _evolve_small_tracked(self, gates):
        """A small ket on the CPU with a gradient, under "auto" differentiation: block by block in NumPy
        (:mod:`tqsim.states.small_kets`)."""
        if gradient_method() != "auto" or not small_kets.applies(self._data, gates):
            return None
        return small_kets.evolve(self._data, gates)

    def _evolve_small(self, gates):
        """A small ket on the CPU under gates with no tensor parameters (a circuit read from a file):
        :func:`tqsim.fusion.evolve_small_ket` in NumPy, complex128, cast back once."""
        data = self._data
        if (data.device.type != "cpu" or data.ndim != 1 or data.numel() > fusion.SMALL_KET_AMPLITUDES
                or any(g.is_controlled and fusion.applies_apart(g, fusion.small_ket_block_size(data.numel()))
                       for g in gates)
                or any(isinstance(p, torch.Tensor) for g in gates for p in g.params)):
            return None
        psi = fusion.evolve_small_ket(data.detach().to(torch.complex128).resolve_conj().numpy(), gates)
        return torch.from_numpy(psi).to(data.dtype)


class _SquaredModulus(torch.autograd.Function):
    """``|a|**2`` with a backward of one product, ``2 g a``; autograd through the real and imaginary parts
    takes six passes over the state (two zero-filled complex gradients among them): a third of a
    16-qubit training step's read-out."""

    @staticmethod
    def forward(ctx, amps):
        ctx.save_for_backward(amps)
        parts = torch.view_as_real(amps.resolve_conj())
        return parts[..., 0].square() + parts[..., 1].square()

    @staticmethod
    def backward(ctx, grad):
        (amps,) = ctx.saved_tensors
        return amps * (2 * grad)


def _ket_weights(amps: torch.Tensor, flips: tuple[int, ...]) -> torch.Tensor:
    """w[i] = conj(psi[i XOR x]) psi[i] (real |psi|**2 when nothing flips)."""
    if not flips:
        return _SquaredModulus.apply(amps)
    return flip_qubits(amps, flips).conj() * amps


def _check_finite(amps: torch.Tensor) -> None:
    if not bool(torch.isfinite(torch.view_as_real(amps.detach())).all()):
        raise ValueError("amplitudes hold NaN or infinite values")


def _same_size(a, b) -> None:
    if type(b) is not type(a):
        raise TypeError(f"expected a {type(a).__name__}, got {type(b).__name__}")
    if a.num_qubits != b.num_qubits:
        raise ValueError(f"states have {a.num_qubits} and {b.num_qubits} qubits; they must match")
    if a.device != b.device:
        raise ValueError(f"states live on {a.device} and {b.device}; move one with .to()")
