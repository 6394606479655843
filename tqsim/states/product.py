"""Product states: one 2-vector per qubit (a rank-1 CP tensor).

Everything is O(n): 1-qubit gates multiply one vector, expectation values of
Pauli strings multiply single-qubit expectations, sampling draws every qubit
on its own. A gate on several qubits is applied to the product of their
vectors and factored back; if the result is entangled the gate is refused with
a pointer to MPS, so a ProductState never silently stops being one. A
controlled gate (mcx, mcphase, controlled, ...) acts on that product vector
through its target operator only, never as a ``2**k x 2**k`` matrix.
"""

from __future__ import annotations

import math
import types
from typing import Sequence

import numpy as np
import torch

from .. import _checks
from ..gates import Gate
from ..paulis import pauli_factors
from ..tensor.flat import apply_controlled, apply_diagonal, apply_matrix
from ..tensor.matfunc import hermitian_eigvalsh
from ..tensor.svd import svd
from .base import (Exportable, check_index_width, checked_operations, entropy_of_spectrum, joint_distance,
                   measured_outcomes, orthogonal_part, reorder_reduced, uniform_draws)
from .blocks import BlockProductState
from .mps import MPS
from .statevector import StateVector

__all__ = ["ProductState"]


class ProductState(Exportable):
    """A product state ``|v_0> ⊗ |v_1> ⊗ ⋯ ⊗ |v_{n-1}>``.

    ``vectors`` has shape ``(n, 2)``; each row is normalised.
    """

    __slots__ = ("vectors", "num_qubits")
    is_pure = True
    independent_qubits = True

    def __init__(self, vectors: torch.Tensor):
        self.vectors = vectors
        self.num_qubits = vectors.shape[0]

    # ----------------------------------------------------------- constructors
    @classmethod
    def zeros(cls, num_qubits: int, dtype=None, device=None) -> "ProductState":
        """``|0...0>``."""
        n = _checks.num_qubits(num_qubits)
        vectors = torch.zeros(n, 2, dtype=_checks.complex_dtype(dtype), device=_checks.device(device))
        vectors[:, 0] = 1
        return cls(vectors)

    @classmethod
    def from_angles(cls, theta, phi=None, dtype=None, device=None) -> "ProductState":
        """Bloch-sphere angles: ``cos(theta/2)|0> + e^{i phi} sin(theta/2)|1>`` per qubit.

        ``theta`` and ``phi`` are sequences or 1-D tensors of length n
        (tensors keep their gradients).
        """
        dtype = _checks.complex_dtype(dtype)
        real = _checks.real_dtype(dtype)
        theta = torch.as_tensor(theta, dtype=real, device=_checks.device(device) if device else None)
        if theta.ndim != 1 or theta.numel() < 1:
            raise ValueError(f"theta must be a 1-D sequence of n >= 1 angles, got shape {tuple(theta.shape)}")
        phi = torch.zeros_like(theta) if phi is None else torch.as_tensor(phi, dtype=real, device=theta.device)
        if phi.shape != theta.shape:
            raise ValueError(f"phi has shape {tuple(phi.shape)}, theta {tuple(theta.shape)}; they must match")
        _checks.finite([theta, phi], "Bloch angle")
        zero = torch.cos(theta / 2).to(dtype)
        one = torch.polar(torch.sin(theta / 2), phi).to(dtype)
        return cls(torch.stack([zero, one], -1))

    @classmethod
    def from_vectors(cls, vectors, dtype=None, device=None, normalize: bool = False) -> "ProductState":
        """From an ``(n, 2)`` array of single-qubit vectors (unit norm unless ``normalize``)."""
        v = vectors if isinstance(vectors, torch.Tensor) else torch.as_tensor(np.asarray(vectors))
        if dtype is None:
            dtype = v.dtype if v.dtype in _checks.COMPLEX_DTYPES else (
                torch.complex128 if v.dtype == torch.float64 else _checks.complex_dtype(None))
        v = v.to(device=_checks.device(device) if device is not None else v.device, dtype=_checks.complex_dtype(dtype))
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 1:
            raise ValueError(f"vectors must have shape (n, 2), got {tuple(v.shape)}")
        if not bool(torch.isfinite(torch.view_as_real(v.detach())).all()):
            raise ValueError("vectors hold NaN or infinite values")
        norms = torch.linalg.vector_norm(v.detach(), dim=-1)
        if normalize:
            if bool((norms == 0).any()):
                zero = int((norms == 0).nonzero()[0])
                raise ValueError(f"vector of qubit {zero} is zero; cannot normalize it")
            v = v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)
        elif (norms - 1).abs().max().item() > _checks.tolerance(v.dtype):
            bad = int((norms - 1).abs().argmax())
            raise ValueError(f"vector of qubit {bad} has norm {_checks.farthest_from_one(norms)}, not 1 (pass normalize=True)")
        return cls(v)

    @classmethod
    def random(cls, num_qubits: int, generator: torch.Generator | None = None, dtype=None, device=None) -> "ProductState":
        """Each qubit Haar-random."""
        n = _checks.num_qubits(num_qubits)
        dtype = _checks.complex_dtype(dtype)
        dev = _checks.device(device)
        gen_device = generator.device if generator is not None else dev
        v = torch.randn(n, 2, generator=generator, dtype=dtype, device=gen_device).to(dev)
        return cls(v / torch.linalg.vector_norm(v, dim=-1, keepdim=True))

    # ------------------------------------------------------------- properties
    @property
    def dtype(self) -> torch.dtype:
        return self.vectors.dtype

    @property
    def device(self) -> torch.device:
        return self.vectors.device

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size()

    def to(self, device=None, dtype=None) -> "ProductState":
        dev = _checks.device(device) if device is not None else self.device
        dt = _checks.complex_dtype(dtype) if dtype is not None else self.dtype
        return ProductState(self.vectors.to(device=dev, dtype=dt))

    def norm(self) -> torch.Tensor:
        return torch.linalg.vector_norm(self.vectors, dim=-1).prod()

    def __repr__(self) -> str:
        return f"ProductState(num_qubits={self.num_qubits}, dtype={self.dtype}, device={self.device})"

    # ----------------------------------------------------------- conversions
    def to_statevector(self) -> StateVector:
        """The dense state (n <= 30)."""
        _checks.fits_dense(self.num_qubits)
        amps = self.vectors[0]
        for v in self.vectors[1:]:
            amps = (amps.unsqueeze(-1) * v).reshape(-1)
        return StateVector(amps, self.num_qubits)

    def to_mps(self, max_bond: int | None = None, cutoff: float = 1e-12) -> MPS:
        """The same state as an MPS of bond dimension 1."""
        return MPS([v.reshape(1, 2, 1) for v in self.vectors], max_bond, cutoff)

    #: exact conversions, most specific first: where a product state meets another kind
    converts_to = types.MappingProxyType({BlockProductState: BlockProductState.from_product, MPS: to_mps})

    def amplitudes(self) -> torch.Tensor:
        return self.to_statevector().amplitudes()

    # --------------------------------------------------- the state protocol
    def reduced_matrix(self, keep: Sequence[int]) -> torch.Tensor:
        """Reduced density matrix of distinct qubits ``keep`` (in the order given):
        the Kronecker product of their 1-qubit states."""
        targets = sorted(keep)
        rho = torch.ones(1, 1, dtype=self.dtype, device=self.device)
        for q in targets:
            v = self.vectors[q]
            rho = torch.kron(rho, torch.outer(v, v.conj()))
        return reorder_reduced(rho, keep, targets)

    def _qubit_spectra(self, subsystem: Sequence[int]) -> torch.Tensor:
        """Eigenvalues of each kept qubit's (pure) state, shape (k, 2)."""
        v = self.vectors[list(subsystem)]
        rho = v.unsqueeze(-1) * v.conj().unsqueeze(-2)
        return hermitian_eigvalsh(rho / torch.diagonal(rho, dim1=-2, dim2=-1).sum(-1)[:, None, None])

    def entropy(self, subsystem: Sequence[int], alpha: float = 1, base: float = math.e) -> torch.Tensor:
        """Entropy of ``subsystem``: the sum of its qubits' entropies (each qubit's state is its own)."""
        return entropy_of_spectrum(self._qubit_spectra(subsystem), alpha, base).sum(-1)

    def purity(self, subsystem: Sequence[int]) -> torch.Tensor:
        """Purity of ``subsystem``: the product of its qubits' purities."""
        return (self._qubit_spectra(subsystem) ** 2).sum(-1).prod(-1)

    def qubit_states(self) -> torch.Tensor:
        """Every single-qubit state ``v v^dagger``, shape ``(n, 2, 2)``: outer products only."""
        v = self.vectors
        return v.unsqueeze(-1) * v.conj().unsqueeze(-2)

    def schmidt_values(self, cut: int) -> torch.Tensor:
        """The one Schmidt value of a product state across any cut: ``[1.]``."""
        return torch.ones(1, dtype=_checks.real_dtype(self.dtype), device=self.device)

    def inner(self, other: "ProductState") -> torch.Tensor:
        """<self|other> of two product states: the product of the qubits' overlaps."""
        _same_kind(self, other)
        return (self.vectors.conj() * other.vectors).sum(-1).prod()

    def distance(self, other: "ProductState") -> torch.Tensor:
        """``sqrt(1 - |<self|other>|**2)`` from each qubit's overlap and orthogonal part, joined
        without cancellation (see :func:`tqsim.states.base.joint_distance`)."""
        _same_kind(self, other)
        return joint_distance(*orthogonal_part(self.vectors, other.vectors))

    def pauli_expectation(self, terms) -> torch.Tensor:
        """``sum_t c_t <P_t>`` through :meth:`expectation_of_products`."""
        return self.expectation_of_products(pauli_factors(terms, self.dtype, self.device))

    # -------------------------------------------------------------- read-out
    def expectation_of_products(self, terms) -> torch.Tensor:
        total = torch.zeros((), dtype=_checks.real_dtype(self.dtype), device=self.device)
        v = self.vectors
        norms = v.abs().square().sum(-1)
        for coefficient, ops in terms:
            value = norms.prod()
            for q, op in ops.items():
                value = value * (v[q].conj() @ op @ v[q]).real / norms[q]
            total = total + coefficient * value
        return total

    def probability(self, bits: str | Sequence[int]) -> torch.Tensor:
        """``|<bits|psi>|**2`` = product of single-qubit probabilities."""
        values = _checks.bits(bits, self.num_qubits)
        index = torch.tensor(values, device=self.device)
        return self.vectors.abs().square().gather(1, index[:, None]).prod()

    def probabilities(self, qubits: Sequence[int] | None = None) -> torch.Tensor:
        """Marginal distribution over ``qubits`` (order given; default all): a Kronecker product."""
        qubits = range(self.num_qubits) if qubits is None else _checks.qubit_list(qubits)
        _checks.qubits_in_range(qubits, self.num_qubits)
        p = self.vectors.abs().square()
        result = torch.ones(1, dtype=p.dtype, device=p.device)
        for q in qubits:
            result = (result.unsqueeze(-1) * p[q]).reshape(-1)
        return result

    def sample(self, shots: int, generator: torch.Generator | None = None, bits: bool = False) -> torch.Tensor:
        """Every qubit measured on its own: indices (n <= 62) or ``(shots, n)`` bits."""
        shots = _checks.positive_int(shots, "shots")
        check_index_width(self.num_qubits, bits)
        p1 = self.vectors.detach().abs().square()
        p1 = (p1[:, 1] / p1.sum(-1)).double()
        outcomes = (uniform_draws((shots, self.num_qubits), generator, self.device) < p1).long()
        return measured_outcomes(outcomes, bits)

    # ------------------------------------------------------------- evolution
    def apply(self, operation) -> "ProductState":
        return self.evolve([operation])

    def evolve(self, operations) -> "ProductState":
        """A new product state; a gate that would entangle raises ValueError."""
        gates = checked_operations(self, operations, takes_channels=False, takes_batches=False)
        rows = list(self.vectors.unbind(0))
        for gate in gates:
            if gate.is_controlled and gate.num_qubits > 2:
                op = None  # applied below from its target operator
            else:
                op = gate.operator(self.dtype, self.device)
            if gate.num_qubits == 1:
                rows[gate.qubits[0]] = op * rows[gate.qubits[0]] if gate.is_diagonal else op @ rows[gate.qubits[0]]
                continue
            joint = rows[gate.qubits[0]]
            for q in gate.qubits[1:]:
                joint = (joint.unsqueeze(-1) * rows[q]).reshape(-1)
            local = list(range(gate.num_qubits))
            if op is None:
                target = gate.target_operator(self.dtype, self.device)
                joint = apply_controlled(joint, target, local[: gate.num_controls], local[gate.num_controls:],
                                         gate.is_diagonal)
            else:
                joint = apply_diagonal(joint, op, local) if gate.is_diagonal else apply_matrix(joint, op, local)
            for q, v in zip(gate.qubits, _factor(joint, gate)):
                rows[q] = v
        return ProductState(torch.stack(rows))


def _same_kind(a: ProductState, b) -> None:
    if not isinstance(b, ProductState):
        raise TypeError(f"expected a ProductState, got {type(b).__name__}")
    if a.num_qubits != b.num_qubits:
        raise ValueError(f"states have {a.num_qubits} and {b.num_qubits} qubits; they must match")


def _factor(joint: torch.Tensor, gate: Gate) -> list[torch.Tensor]:
    """Split a k-qubit vector into k single-qubit vectors, or refuse if entangled."""
    k = gate.num_qubits
    vectors = []
    rest = joint
    tol = _checks.tolerance(joint.dtype)
    for j in range(k - 1):
        u, s, vh = svd(rest.reshape(2, -1))
        if s[1].detach().abs().item() > tol * s[0].detach().abs().item():
            raise ValueError(
                f"gate {gate!r} entangles the product state (second Schmidt value "
                f"{s[1].item():.3g}); use tq.MPS or tq.StateVector for entangled states"
            )
        # rank 1: rest = s0 * u0 ⊗ vh0; keep the phase and norm on the remainder
        vectors.append(u[:, 0])
        rest = s[0].to(vh.dtype) * vh[0]
    vectors.append(rest)
    return vectors
