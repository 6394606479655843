"""Matrix product states: a tensor train of ``n`` cores ``(chi_left, 2, chi_right)``.

The state is kept in mixed canonical form around an orthogonality centre, so
Schmidt values, norms and local expectation values need only the tensors near
the centre. A 2-qubit gate on neighbours contracts the two cores, applies the
gate and splits them again with a truncated SVD (``max_bond``, ``cutoff``);
the discarded weight of every split is recorded and the state renormalised, so
every MPS has unit norm (the constructor refuses cores that are not a unit
state unless told to normalise them). Gates on qubits that are not
neighbours are brought together by a network of SWAPs and sent back afterwards
(each SWAP is an exact gate followed by the same truncated split); gates on 3
or more qubits are applied to the merged block of their cores and split back
one bond at a time.

A controlled gate on 3 or more qubits (``Gate.is_controlled``: mcx, mcphase,
controlled, ...) is never merged into a ``2**k`` block: it is the MPO
``I + P_controls ⊗ (U - I)`` (``P`` the projector on 1 of every control),
of bond dimension 2 for one target, applied across the gate's span without
SWAPs, then the span is brought back to canonical form by a QR sweep and
truncated by an SVD sweep (``max_bond``, ``cutoff``, discarded weights as for
any split).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .. import _checks, fusion
from ..paulis import pauli_factors
from ..tensor.contract import contract
from ..tensor.flat import gram_over_axes, permute_qubits, run_grouped_shape
from ..tensor.svd import svd, truncated_svd
from ..tensor.tt import (check_cores, tt_from_dense, tt_inner, tt_merge, tt_move_center, tt_orthogonalize, tt_sum,
                         tt_to_dense, ttm_from_dense)
from .base import (Exportable, check_index_width, checked_operations, entropy_of_spectrum,
                   measured_outcomes, reorder_reduced, uniform_draws)
from .statevector import StateVector

__all__ = ["MPS"]

_SWAP = [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]]


def check_truncation(max_bond, cutoff) -> tuple[int | None, float]:
    """Validated ``(max_bond, cutoff)``: a positive int or None, and a number >= 0."""
    if max_bond is not None:
        if isinstance(max_bond, bool) or not isinstance(max_bond, int):
            raise TypeError(f"max_bond must be an int or None, got {max_bond!r}")
        if max_bond < 1:
            raise ValueError(f"max_bond must be >= 1 (or None for no limit), got {max_bond}")
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not cutoff >= 0:
        raise ValueError(f"cutoff must be a number >= 0, got {cutoff!r}")
    return max_bond, float(cutoff)


class MPS(Exportable):
    """A pure state of ``n`` qubits as a matrix product state (big-endian sites).

    Build one with :meth:`zeros`, :meth:`from_statevector` or :meth:`random`.

    Parameters
    ----------
    cores : list of torch.Tensor
        ``n`` cores of shape ``(chi_{q-1}, 2, chi_q)``, boundary bonds 1.
    max_bond : int or None
        Largest bond dimension kept after a gate (None: no limit).
    cutoff : float
        Largest relative discarded weight per split (quimb's ``'rsum2'``).
    center : int
        Site of the orthogonality centre: the cores are brought into mixed
        canonical form around it (left of it left-orthogonal, right of it
        right-orthogonal).
    discarded : sequence of float
        Discarded weights of earlier truncations, carried into
        :meth:`truncation_error`.
    normalize : bool
        Rescale the state to unit norm; without it, cores whose state does
        not have unit norm (within ``sqrt(eps)``) are refused.
    """

    __slots__ = ("cores", "num_qubits", "max_bond", "cutoff", "center", "discarded")
    is_pure = True

    def __init__(
        self,
        cores: Sequence[torch.Tensor],
        max_bond: int | None = None,
        cutoff: float = 1e-12,
        center: int = 0,
        discarded: Sequence[float] = (),
        normalize: bool = False,
    ):
        cores = list(cores)
        check_cores(cores)
        if any(c.shape[1] != 2 for c in cores):
            raise ValueError(f"MPS cores need a physical size of 2, got {[c.shape[1] for c in cores]}")
        if len({c.dtype for c in cores}) > 1:
            raise TypeError(f"MPS cores must share one dtype, got {sorted({str(c.dtype) for c in cores})}")
        _checks.complex_dtype(cores[0].dtype)
        max_bond, cutoff = check_truncation(max_bond, cutoff)
        if isinstance(center, bool) or not isinstance(center, int) or not 0 <= center < len(cores):
            raise IndexError(f"center {center!r} out of range for {len(cores)} sites (allowed 0..{len(cores) - 1})")
        if not bool(torch.stack([torch.isfinite(c.detach()).all() for c in cores]).all()):
            raise ValueError("MPS cores hold NaN or infinite values")
        # canonical form makes the norm that of one core (and the centre what it claims to be)
        cores = tt_orthogonalize(cores, center)
        norm = torch.linalg.vector_norm(cores[center])
        if normalize and norm.item() == 0:
            raise ValueError("cannot normalize a zero state")
        if not normalize and abs(norm.item() - 1) > _checks.tolerance(cores[0].dtype):
            raise ValueError(f"MPS cores have norm {_checks.farthest_from_one(norm)}, not 1 "
                             f"(pass normalize=True to rescale)")
        cores[center] = cores[center] / norm  # accepted within sqrt(eps), stored at norm 1
        self._set(cores, max_bond, cutoff, center, discarded)

    def _set(self, cores: list[torch.Tensor], max_bond, cutoff, center: int, discarded) -> None:
        self.cores = cores
        self.num_qubits = len(cores)
        self.max_bond, self.cutoff = max_bond, cutoff
        self.center = center
        #: relative discarded weight of every truncating split, in order
        self.discarded = list(discarded)

    @classmethod
    def _trusted(cls, cores, max_bond, cutoff, center: int, discarded=()) -> "MPS":
        """An MPS of cores that tqsim itself made canonical around ``center``
        with unit norm: skips the constructor's checks and its canonical sweep."""
        mps = cls.__new__(cls)
        mps._set(list(cores), max_bond, cutoff, center, discarded)
        return mps

    # ----------------------------------------------------------- constructors
    @classmethod
    def zeros(
        cls, num_qubits: int, max_bond: int | None = None, cutoff: float = 1e-12, dtype=None, device=None
    ) -> "MPS":
        """``|0...0>`` with bond dimension 1."""
        n = _checks.num_qubits(num_qubits)
        max_bond, cutoff = check_truncation(max_bond, cutoff)
        core = torch.zeros(1, 2, 1, dtype=_checks.complex_dtype(dtype), device=_checks.device(device))
        core[0, 0, 0] = 1
        return cls._trusted([core.clone() for _ in range(n)], max_bond, cutoff, 0)

    @classmethod
    def from_statevector(cls, state: StateVector, max_bond: int | None = None, cutoff: float = 1e-12) -> "MPS":
        """Split a state vector into an MPS by successive truncated SVDs.

        The state is renormalised after truncation (what was dropped is in
        :meth:`truncation_error`); a zero vector is refused.
        """
        if not isinstance(state, StateVector):
            raise TypeError(f"from_statevector expects a StateVector, got {type(state).__name__}")
        if state.batch_shape:
            raise ValueError("from_statevector takes one state, not a batch")
        max_bond, cutoff = check_truncation(max_bond, cutoff)
        n = state.num_qubits
        cores, discarded = tt_from_dense(state.amplitudes(), max_bond, cutoff, shape=[2] * n)
        # all cores but the last are left-orthogonal: the last one carries the norm
        norm = torch.linalg.vector_norm(cores[-1])
        if norm.item() == 0:
            raise ValueError("from_statevector got a zero vector; a state needs a nonzero norm")
        cores[-1] = cores[-1] / norm
        return cls._trusted(cores, max_bond, cutoff, n - 1, [discarded] if discarded else [])

    @classmethod
    def random(
        cls,
        num_qubits: int,
        bond: int,
        generator: torch.Generator | None = None,
        dtype=None,
        device=None,
        max_bond: int | None = None,
        cutoff: float = 1e-12,
    ) -> "MPS":
        """A normalised MPS with random Gaussian cores of bond dimension up to ``bond``."""
        n = _checks.num_qubits(num_qubits)
        bond = _checks.positive_int(bond, "bond")
        max_bond, cutoff = check_truncation(max_bond, cutoff)
        dtype = _checks.complex_dtype(dtype)
        dev = _checks.device(device)
        dims = [1] + [min(bond, 2 ** min(q, n - q)) for q in range(1, n)] + [1]
        gen_device = generator.device if generator is not None else dev
        cores = [
            torch.randn(dims[q], 2, dims[q + 1], generator=generator, dtype=dtype, device=gen_device).to(dev)
            for q in range(n)
        ]
        cores = tt_orthogonalize(cores, 0)
        cores[0] = cores[0] / torch.linalg.vector_norm(cores[0])
        return cls._trusted(cores, max_bond, cutoff, 0)

    # ------------------------------------------------------------- properties
    @property
    def dtype(self) -> torch.dtype:
        return self.cores[0].dtype

    @property
    def device(self) -> torch.device:
        return self.cores[0].device

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size()

    def to(self, device=None, dtype=None) -> "MPS":
        """A copy on another device and/or complex dtype.

        A new dtype gets a fresh canonical form and norm: complex64 cores are
        orthogonal and normalised only to complex64 precision.
        """
        dev = _checks.device(device) if device is not None else self.device
        dt = _checks.complex_dtype(dtype) if dtype is not None else self.dtype
        cores = [c.to(device=dev, dtype=dt) for c in self.cores]
        if dt == self.dtype:
            return MPS._trusted(cores, self.max_bond, self.cutoff, self.center, self.discarded)
        return MPS(cores, self.max_bond, self.cutoff, self.center, self.discarded, normalize=True)

    def bond_dimensions(self) -> list[int]:
        """The ``n - 1`` bond dimensions, left to right."""
        return [c.shape[-1] for c in self.cores[:-1]]

    def truncation_error(self) -> float:
        """Accumulated discarded weight: the sum over all truncating splits."""
        return float(sum(self.discarded))

    def fidelity_estimate(self) -> float:
        """Estimated fidelity with the untruncated state: prod(1 - discarded weight)."""
        return float(math.prod(1 - d for d in self.discarded))

    def norm(self) -> torch.Tensor:
        return torch.linalg.vector_norm(self.cores[self.center])

    def __repr__(self) -> str:
        return (f"MPS(num_qubits={self.num_qubits}, max_bond={self.max_bond}, "
                f"bonds max {max(self.bond_dimensions(), default=1)}, dtype={self.dtype}, device={self.device})")

    # ----------------------------------------------------------- conversions
    def to_statevector(self) -> StateVector:
        """The dense state (n <= 30, and no larger than the device's memory)."""
        n = self.num_qubits
        _checks.fits_dense(n)
        _checks.fits_memory(1 << n, self.dtype, self.device, f"a dense state of {n} qubits")
        return StateVector(tt_to_dense(self.cores).reshape(-1), n)

    def amplitudes(self) -> torch.Tensor:
        """The dense amplitude vector (n <= 30)."""
        return self.to_statevector().amplitudes()

    def canonical(self, center: int) -> "MPS":
        """The same state with its orthogonality centre at site ``center``."""
        if not 0 <= center < self.num_qubits:
            raise IndexError(f"center {center} out of range for {self.num_qubits} sites")
        cores = list(self.cores)
        tt_move_center(cores, self.center, center)
        return MPS._trusted(cores, self.max_bond, self.cutoff, center, self.discarded)

    # ----------------------------------------------------------- entanglement
    def schmidt_values(self, cut: int) -> torch.Tensor:
        """Schmidt coefficients across the bond between qubits ``cut - 1`` and ``cut``
        (normalised: their squares sum to 1)."""
        if isinstance(cut, bool) or not isinstance(cut, int) or not 1 <= cut < self.num_qubits:
            raise ValueError(f"cut must be an int in 1..{self.num_qubits - 1}, got {cut!r}")
        centred = self.canonical(cut - 1)
        core = centred.cores[cut - 1]
        s = svd(core.reshape(-1, core.shape[-1]))[1]
        return s / torch.linalg.vector_norm(s)

    def entanglement_entropy(self, cut: int, alpha: float = 1, base: float = math.e) -> torch.Tensor:
        """Entropy of qubits ``0..cut-1`` from the Schmidt values at that bond."""
        return entropy_of_spectrum(self.schmidt_values(cut) ** 2, alpha, base)

    def spectrum(self, subsystem: Sequence[int]) -> torch.Tensor:
        """Eigenvalues of the reduced state of ``subsystem``: the squared Schmidt values
        (descending) where ``subsystem`` is a prefix or suffix of the chain, else
        those of :meth:`reduced_matrix` of the smaller side."""
        cut = _cut_of(subsystem, self.num_qubits)
        if cut is not None:
            return self.schmidt_values(cut) ** 2
        return super().spectrum(subsystem)

    def qubit_states(self) -> torch.Tensor:
        """Every single-qubit reduced state, shape ``(n, 2, 2)``, from two sweeps of
        environments out from the orthogonality centre (no centre moves, no QR)."""
        # mixed canonical form: every core left of the centre is left-orthogonal,
        # every core right of it right-orthogonal, so a site's reduced state needs
        # only the environment between it and the centre, grown one core at a time
        # (contractions, where moving the centre would cost a QR per site)
        n = self.num_qubits
        cores, c = self.cores, self.center
        rhos: list = [None] * n
        env = None  # right environment (bond x bond) of the site being reduced
        for q in range(c, -1, -1):
            a = cores[q]
            rhos[q] = contract("asb,atb->st", a, a.conj()) if env is None else contract("asb,bd,atd->st", a, env, a.conj())
            env = contract("asb,csb->ac", a, a.conj()) if env is None else contract("asb,bd,csd->ac", a, env, a.conj())
        env = None  # left environment, from the centre rightwards
        for q in range(c + 1, n):
            left = cores[q - 1]
            env = contract("asb,asd->bd", left, left.conj()) if env is None else contract("ac,asb,csd->bd", env, left, left.conj())
            rhos[q] = contract("ac,asb,ctb->st", env, cores[q], cores[q].conj())
        return torch.stack(rhos)

    def inner(self, other: "MPS") -> torch.Tensor:
        """<self|other> of two MPS, contracted core by core."""
        _same_kind(self, other)
        return tt_inner(self.cores, other.cores)

    def distance(self, other: "MPS") -> torch.Tensor:
        """``sqrt(1 - |<self|other>|**2)`` of two unit MPS, as the norm of the train ``other - <self|other> self``.

        The norm is read off the first core after orthogonal sweeps, which are
        backward stable: about ``n eps`` absolute, however small the result. The
        gradient is that of ``sqrt(1 - |<a|b>|**2)`` (QR factors of the
        rank-deficient sum train have no reliable one), zero where it vanishes.
        """
        _same_kind(self, other)
        c = tt_inner(self.cores, other.cores)
        with torch.no_grad():
            difference = tt_sum([-c * self.cores[0], *self.cores[1:]], other.cores)
            t = torch.linalg.vector_norm(tt_orthogonalize(difference, 0)[0])
        lost = -c.abs().square()
        safe = torch.where(t > 0, 2 * t, torch.ones_like(t))
        return t + torch.where(t > 0, (lost - lost.detach()) / safe, torch.zeros_like(t))

    def reduced_matrix(self, keep: Sequence[int]) -> torch.Tensor:
        """Reduced density matrix ``(2**k, 2**k)`` of distinct qubits ``keep``, in the order given
        (:func:`tqsim.partial_trace` checks them).

        With the orthogonality centre inside ``[first, last]`` the chain outside
        contracts to the identity, and the span between is contracted the
        cheaper of two ways (counted in multiplications from the bonds):

        - merged into one ket ``(left, 2**span, right)``, whose Gram matrix over
          the kept qubits is the answer: ``O(2**(span + k) chi**2)``, best when
          the bonds are large, as in a state that is dense anyway;
        - two environments that carry the open ket and bra indices, grown from
          both ends to meet in the middle, so neither holds more than about half
          of the kept qubits: ``O(span 4**(k/2) chi**3)``, best for long spans
          of small bonds.
        """
        targets = sorted(keep)
        return reorder_reduced(self._sorted_reduced(targets), keep, targets)

    def _sorted_reduced(self, keep: Sequence[int]) -> torch.Tensor:
        """:meth:`reduced_matrix` of ascending ``keep``."""
        first, last = keep[0], keep[-1]
        cores = list(self.cores)
        center = min(max(self.center, first), last)
        tt_move_center(cores, self.center, center)
        span = cores[first:last + 1]
        local = [q - first for q in keep]
        if _merged_cost(span, len(keep)) <= _environments_cost(span, local):
            shape, axes = run_grouped_shape(len(span), local)
            block = tt_merge(span).reshape(span[0].shape[0], *shape, span[-1].shape[-1])
            return gram_over_axes(block, [a + 1 for a in axes])
        return _environments_reduced(span, local)

    # -------------------------------------------------------------- read-out
    def pauli_expectation(self, terms) -> torch.Tensor:
        """``sum_t c_t <psi|P_t|psi>`` through :meth:`expectation_of_products`."""
        return self.expectation_of_products(pauli_factors(terms, self.dtype, self.device))

    def expectation_of_products(self, terms) -> torch.Tensor:
        """``sum_t c_t <prod_q O_{t,q}>`` for terms ``(c_t, {qubit: 2x2 matrix})``.

        Terms are visited in order of their first qubit while the orthogonality
        centre sweeps right, so each costs ``O(span * chi**3)``.
        """
        cores = list(self.cores)
        center = self.center
        total = torch.zeros((), dtype=_checks.real_dtype(self.dtype), device=self.device)
        for coefficient, ops in sorted(terms, key=lambda t: min(t[1], default=0)):
            if not ops:
                total = total + coefficient * torch.linalg.vector_norm(cores[center]).square()
                continue
            first, last = min(ops), max(ops)
            tt_move_center(cores, center, first)
            center = first
            env = None
            for q in range(first, last + 1):
                ket = cores[q] if q not in ops else contract("st,atb->asb", ops[q], cores[q])
                if env is None:
                    env = contract("asb,asc->bc", cores[q].conj(), ket)
                else:
                    env = contract("xy,xsz,ysw->zw", env, cores[q].conj(), ket)
            total = total + coefficient * torch.diagonal(env).sum().real
        return total

    def probability(self, bits: str | Sequence[int]) -> torch.Tensor:
        """``|<bits|psi>|**2`` for one bitstring, in O(n chi**2)."""
        values = _checks.bits(bits, self.num_qubits)
        row = self.cores[0][:, values[0], :]
        for core, b in zip(self.cores[1:], values[1:]):
            row = row @ core[:, b, :]
        return row.reshape(()).abs().square()

    def probabilities(self, qubits: Sequence[int] | None = None) -> torch.Tensor:
        """Marginal distribution of ``qubits`` (in the order given; default all).

        A subset costs ``O(2**k * chi**2)`` per site, never the dense state;
        all qubits (n <= 30) contracts the dense amplitudes.
        """
        if qubits is None:
            return self.to_statevector().probabilities()
        qubits = _checks.qubit_list(qubits)
        _checks.qubits_in_range(qubits, self.num_qubits)
        if not qubits:
            raise ValueError("qubits is empty; name at least one qubit")
        targets = sorted(qubits)
        first, last = targets[0], targets[-1]
        centred = self.canonical(first)
        env = None  # (2**j outcomes so far, bra bond, ket bond)
        for q in range(first, last + 1):
            core = centred.cores[q]
            if env is None:
                step = contract("asb,asc->sbc", core.conj(), core)
            else:
                step = contract("pxy,xsz,ysw->pszw", env, core.conj(), core)
            if q in qubits:
                env = step.reshape(-1, *step.shape[-2:])
            else:
                env = step.sum(-3) if env is not None else step.sum(0, keepdim=True)
        marginal = torch.diagonal(env, dim1=-2, dim2=-1).sum(-1).real
        order = [targets.index(q) for q in qubits]
        return permute_qubits(marginal, order) if order != list(range(len(qubits))) else marginal

    def sample(self, shots: int, generator: torch.Generator | None = None, bits: bool = False) -> torch.Tensor:
        """Draw ``shots`` measurements of every qubit by sequential sampling.

        Each qubit is drawn from its probability conditioned on the ones before
        it, with the state right-canonical so the rest of the chain contracts to
        the identity: ``O(shots * n * chi**2)``, no dense state. Returns basis
        indices (big-endian, needs n <= 62) or, with ``bits=True``, a
        ``(shots, n)`` tensor of 0/1.
        """
        shots = _checks.positive_int(shots, "shots")
        check_index_width(self.num_qubits, bits)
        cores = [c.detach() for c in self.canonical(0).cores]
        uniform = uniform_draws((shots, self.num_qubits), generator, self.device)
        left = torch.ones(shots, 1, dtype=self.dtype, device=self.device)
        outcomes = torch.empty(shots, self.num_qubits, dtype=torch.long, device=self.device)
        for q, core in enumerate(cores):
            branch0, branch1 = left @ core[:, 0, :], left @ core[:, 1, :]
            w0 = branch0.abs().square().sum(-1).double()
            w1 = branch1.abs().square().sum(-1).double()
            pick = uniform[:, q] * (w0 + w1) >= w0
            outcomes[:, q] = pick.long()
            chosen = torch.where(pick[:, None], branch1, branch0)
            weight = torch.where(pick, w1, w0).sqrt().to(chosen.real.dtype)
            left = chosen / weight[:, None]
        return measured_outcomes(outcomes, bits)

    def likely_bitstrings(self, count: int, shots: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``shots`` samples ``(shots, n)`` of 0/1 from :meth:`sample`: no dense distribution."""
        return self.sample(shots, generator=generator, bits=True)

    # ------------------------------------------------------------- evolution
    def apply(self, operation) -> "MPS":
        return self.evolve([operation])

    def evolve(self, operations) -> "MPS":
        """A new MPS with the gates applied (runs of 1-qubit gates are merged
        into neighbouring 2-qubit gates first, which changes no truncation)."""
        gates = checked_operations(self, operations, takes_channels=False, takes_batches=False)
        run = _Evolution(self)
        operators = fusion.gate_operators([g for g in gates if not fusion.applies_apart(g, 2)],
                                          self.dtype, self.device)
        for block in fusion.plan(gates, 2):
            gate = block.gates[0]
            if fusion.applies_apart(gate, 2):  # a controlled gate on 3+ qubits, alone in its block
                op = gate.target_operator(self.dtype, self.device)
                run.apply_controlled(torch.diag_embed(op) if gate.is_diagonal else op, gate.controls, gate.targets)
                continue
            op = fusion.build_operator(block, self.dtype, self.device, operators)
            run.apply(torch.diag_embed(op) if block.is_diagonal else op, list(block.qubits))
        return MPS._trusted(run.cores, self.max_bond, self.cutoff, run.center, run.discarded)


def _cut_of(subsystem: Sequence[int], n: int) -> int | None:
    """The bond that separates ``subsystem`` from the rest of ``n`` sites, if it is a prefix or suffix."""
    s = sorted(subsystem)
    if s == list(range(len(s))) and len(s) < n:
        return len(s)
    if s == list(range(n - len(s), n)) and len(s) < n:
        return n - len(s)
    return None


def _same_kind(a: MPS, b) -> None:
    if not isinstance(b, MPS):
        raise TypeError(f"expected an MPS, got {type(b).__name__}")
    if a.num_qubits != b.num_qubits:
        raise ValueError(f"states have {a.num_qubits} and {b.num_qubits} qubits; they must match")


def _merged_cost(span: Sequence[torch.Tensor], k: int) -> int:
    """Multiplications to merge ``span`` into one ket and take its Gram matrix over ``k`` qubits."""
    rows, cost = 2 * span[0].shape[0], 0
    for core in span[1:]:  # (left, 2**j, bond) times the core (bond, 2, bond')
        cost += rows * core.numel()
        rows *= 2
    return cost + (rows * span[-1].shape[-1] << k)


def _left_half(keep: Sequence[int]) -> int:
    """How many kept sites the left environment takes (the right one takes the rest)."""
    return max(1, len(keep) // 2)


def _environments_cost(span: Sequence[torch.Tensor], keep: Sequence[int]) -> int:
    """Multiplications of :func:`_environments_reduced`: per site ``P**2 a b (2a + 2b)``, or
    ``(2a + 4b)`` on a kept site, for ``P`` kept outcomes so far and bonds ``a`` (outer), ``b``."""
    split = keep[_left_half(keep) - 1]
    cost = 0
    for sites, outer in ((range(split + 1), 0), (range(len(span) - 1, split, -1), 2)):
        outcomes = 1
        for q in sites:
            a, b = span[q].shape[outer], span[q].shape[2 - outer]
            kept = q in keep
            cost += outcomes * outcomes * a * b * (2 * a + (4 if kept else 2) * b)
            outcomes <<= kept
    return cost + (span[split].shape[-1] ** 2 << 2 * len(keep))  # where the two meet


def _environments_reduced(span: Sequence[torch.Tensor], keep: Sequence[int]) -> torch.Tensor:
    """Reduced state over two or more ``keep`` (positions in ``span``, first and last included)
    from two environments (one kept site always merges more cheaply)."""
    k, k_left = len(keep), _left_half(keep)
    split = keep[k_left - 1]
    left = _environment(span, range(split + 1), keep, from_right=False)
    right = _environment(span, range(len(span) - 1, split, -1), keep, from_right=True)
    rho = contract("pqzw,rszw->prqs", left, right).reshape(1 << k, 1 << k)
    if k - k_left > 1:
        # the right environment listed its qubits from the last one down: put them back in order
        order = list(range(k_left)) + list(range(k - 1, k_left - 1, -1))
        rho = permute_qubits(rho.reshape(-1), order + [k + o for o in order]).reshape(rho.shape)
    return rho


def _environment(cores, sites: Sequence[int], keep: Sequence[int], from_right: bool) -> torch.Tensor:
    """Ket and bra contracted over ``sites`` (in the order given), kept indices left open.

    Returns ``(ket outcomes, bra outcomes, ket bond, bra bond)``; the outcomes
    are ordered as the kept sites were visited. The first visited site is a
    kept one, and the chain beyond it must contract to the identity (canonical form).
    """
    env = None
    for q in sites:
        core = cores[q].permute(2, 1, 0) if from_right else cores[q]  # (outer bond, 2, inner bond)
        if env is None:
            env = contract("asy,atx->styx", core, core.conj())
        elif q in keep:
            env = contract("pqzw,zsy,wtx->psqtyx", env, core, core.conj())
            p, s, qq, t = env.shape[:4]
            env = env.reshape(p * s, qq * t, *env.shape[4:])
        else:
            env = contract("pqzw,zsy,wsx->pqyx", env, core, core.conj())
    return env


class _Evolution:
    """Working copy of an MPS while gates are applied."""

    def __init__(self, mps: MPS):
        self.cores = list(mps.cores)
        self.center = mps.center
        self.discarded = list(mps.discarded)
        self.max_bond, self.cutoff = mps.max_bond, mps.cutoff
        self._swap = torch.tensor(_SWAP, dtype=mps.dtype, device=mps.device)

    def move_center(self, site: int) -> None:
        tt_move_center(self.cores, self.center, site)
        self.center = site

    def apply(self, matrix: torch.Tensor, qubits: list[int]) -> None:
        """Apply a matrix on ``qubits`` (ascending), through SWAPs if they are apart."""
        k = len(qubits)
        if k == 1:
            q = qubits[0]
            self.cores[q] = contract("st,atb->asb", matrix, self.cores[q])
            return
        # move qubit j next to qubit j-1, remembering the swaps to undo them
        swaps = []
        for j in range(1, k):
            for site in range(qubits[j] - 1, qubits[0] + j - 1, -1):
                self.apply_block(self._swap, site, 2)
                swaps.append(site)
        self.apply_block(matrix, qubits[0], k)
        for site in reversed(swaps):
            self.apply_block(self._swap, site, 2)

    def apply_controlled(self, target: torch.Tensor, controls: Sequence[int], targets: Sequence[int]) -> None:
        """Apply ``target`` (a matrix on ``targets``, order given) where every control is 1.

        The gate is the MPO ``I + P ⊗ W`` over the span of its qubits, ``P``
        the projector on 1 of each control and ``W = U - I`` on the targets (a
        TT-matrix over the target sites, rank 1 for one target); other sites
        of the span carry identities. Applied exactly (bond dimensions grow by
        at most ``1 + rank W``), then a QR sweep left to right and a truncating
        SVD sweep back leave the centre at the span's first site.
        """
        dtype, device = target.dtype, target.device
        order = sorted(range(len(targets)), key=lambda j: targets[j])
        t = len(targets)
        if order != list(range(t)):  # big-endian over the target sites in ascending order
            target = permute_qubits(target.reshape(-1), order + [t + o for o in order]).reshape(target.shape)
        sites = sorted(targets)
        eye2 = torch.eye(2, dtype=dtype, device=device)
        w = target - torch.eye(1 << t, dtype=dtype, device=device)
        w_cores = [w.reshape(1, 2, 2, 1)] if t == 1 else ttm_from_dense(w, [2] * t, [2] * t)[0]
        projector = torch.zeros(2, 2, dtype=dtype, device=device)
        projector[1, 1] = 1
        lo, hi = min(min(controls), sites[0]), max(max(controls), sites[-1])
        identity, correction = [], []
        rank = 1  # bond of W at this point of the span (1 outside the targets)
        for q in range(lo, hi + 1):
            identity.append(eye2.reshape(1, 4, 1))
            if q in sites:
                core = w_cores[sites.index(q)]
                rank = core.shape[-1]
            else:  # a control (projector) or another site (identity), times the identity on W's bond
                local = projector if q in controls else eye2
                core = contract("ab,st->astb", torch.eye(rank, dtype=dtype, device=device), local)
            correction.append(core.reshape(core.shape[0], 4, core.shape[-1]))
        mpo = [c.reshape(c.shape[0], 2, 2, c.shape[-1]) for c in tt_sum(identity, correction)]
        if not lo <= self.center <= hi:  # canonical around the span: what compress_span needs
            self.move_center(lo if self.center < lo else hi)
        for q, o in zip(range(lo, hi + 1), mpo):
            # (a, out, in, b) x (x, in, y) -> (a x, out, b y)
            core = contract("aijb,xjy->axiby", o, self.cores[q])
            self.cores[q] = core.reshape(o.shape[0] * core.shape[1], 2, o.shape[-1] * core.shape[-1])
        self.compress_span(lo, hi)

    def compress_span(self, lo: int, hi: int) -> None:
        """Restore canonical form over sites ``lo..hi`` (cores outside are canonical
        around the span) and truncate its bonds, right to left; centre ends at ``lo``."""
        tt_move_center(self.cores, lo, hi)  # QR: lo..hi-1 left-orthogonal, the norm at hi
        for site in range(hi, lo, -1):
            core = self.cores[site]
            a, _, b = core.shape
            split = truncated_svd(core.reshape(a, 2 * b), self.max_bond, self.cutoff)
            self.cores[site] = split.vh.reshape(-1, 2, b)
            s = split.s
            if split.discarded > 0:
                self.discarded.append(split.discarded)
                s = s / torch.linalg.vector_norm(s)
            self.cores[site - 1] = contract("xsa,ar->xsr", self.cores[site - 1], split.u * s.to(split.u.dtype))
        self.center = lo

    def apply_block(self, matrix: torch.Tensor, first: int, k: int) -> None:
        """Apply a ``2**k`` matrix on sites ``first .. first+k-1`` and split them again."""
        if not first <= self.center <= first + k - 1:
            self.move_center(first if self.center < first else first + k - 1)
        block = contract("st,atb->asb", matrix, tt_merge(self.cores[first:first + k]))
        left_bond, right_bond = block.shape[0], block.shape[-1]
        for site in range(first, first + k - 1):
            rest = 1 << (first + k - 1 - site)
            split = truncated_svd(block.reshape(left_bond * 2, rest * right_bond), self.max_bond, self.cutoff)
            self.cores[site] = split.u.reshape(left_bond, 2, -1)
            s = split.s
            if split.discarded > 0:
                self.discarded.append(split.discarded)
                # back to norm 1 exactly: rescaling by 1/sqrt(1 - discarded) carried the
                # previous rounding forward, and complex64 drifted to 1 + 3e-6 in 46 splits
                s = s / torch.linalg.vector_norm(s)
            block = (s.to(split.vh.dtype).unsqueeze(-1) * split.vh).reshape(-1, rest, right_bond)
            left_bond = block.shape[0]
        self.cores[first + k - 1] = block
        self.center = first + k - 1
