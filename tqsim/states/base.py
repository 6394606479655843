"""The state protocol, and what the dense state kinds share.

:class:`QuantumState` is the protocol every state kind implements: the few
operations that :mod:`tqsim.info`, :mod:`tqsim.observables` and
:mod:`tqsim.maxcut` ask of a state (reduced states of qubit subsets, spectra,
Pauli expectations, overlaps and distances, probabilities). Those modules call
it and never ask which kind a state is; a new kind implements the protocol in
its own module and works with all of them. :func:`common_form` is the one
place where two states of different kinds meet.

The rest serves the kinds themselves: operation checks, sampling helpers,
storage, device moves and runs of the dense kinds.
"""

from __future__ import annotations

import abc
import contextlib
import math
import types
from functools import lru_cache
from typing import Callable, ClassVar, Mapping, Sequence

import torch

from .. import _checks, block_plans, composed_blocks, fusion
from .._threads import backward_on_one_thread_if_small, one_thread_if_small, threads_left_free
from .adjoint import evolve_adjoint, uses_adjoint
from ..channels import Channel
from ..gates import Gate
from ..paulis import as_observable
from ..tensor.flat import permute_qubits, reduce_to
from ..tensor.matfunc import hermitian_eigvalsh, unresolved_eigenvalues

#: the most qubits of a reduced state formed as a matrix (2**14 x 2**14)
MAX_DENSE_KEEP = 14


class QuantumState(abc.ABC):
    """The protocol every state kind implements.

    A kind provides the attributes ``num_qubits`` (int), ``dtype`` (complex
    torch dtype), ``device`` and ``batch_shape`` (``()`` for one state,
    ``(batch,)`` for a batch), the flag :attr:`is_pure`, and four methods:
    :meth:`reduced_matrix`, :meth:`pauli_expectation`, :meth:`probabilities`
    and :meth:`to_statevector`. Every other method has a default built on
    those four; a kind overrides a default where its own tensors give the
    answer with less work or fewer rounding errors, and must then give the
    same value to dtype precision.

    The functions of :mod:`tqsim.info` check their arguments (qubits distinct
    and in range, sizes, dtypes, devices, batches) before they call these
    methods, so the methods take checked arguments and check nothing more.
    Results are torch tensors on the state's device, differentiable where the
    state is.
    """

    __slots__ = ()

    # ------------------------------------------------------------- required
    @property
    @abc.abstractmethod
    def is_pure(self) -> bool:
        """Whether every state of this kind is pure (a ket).

        A kind sets it as a class attribute. Pure kinds take the cheaper side
        of a cut for spectra and meet other pure kinds through
        :meth:`inner` and :meth:`distance`; mixed kinds are compared through
        their density matrices.
        """

    @abc.abstractmethod
    def reduced_matrix(self, keep: Sequence[int]) -> torch.Tensor:
        """The reduced density matrix of the ``keep`` qubits, in the order given.

        Parameters
        ----------
        keep : sequence of int
            Distinct qubits, in range, at most ``MAX_DENSE_KEEP`` (14) of them
            unless they are all the qubits; the first one is the most
            significant bit of the result's index.

        Returns
        -------
        torch.Tensor
            Shape ``(*batch_shape, 2**k, 2**k)``, Hermitian with unit trace.
        """

    @abc.abstractmethod
    def pauli_expectation(self, terms: Sequence) -> torch.Tensor:
        """``sum_t c_t <P_t>`` over Pauli terms.

        Parameters
        ----------
        terms : sequence of PauliString
            Each with a real ``coefficient`` and a ``paulis`` mapping of qubit
            to ``"X"``, ``"Y"`` or ``"Z"``; every qubit named is in range.

        Returns
        -------
        torch.Tensor
            Real, shape ``batch_shape``.
        """

    @abc.abstractmethod
    def probabilities(self) -> torch.Tensor:
        """The probability of every basis state, shape ``(*batch_shape, 2**n)``, big-endian."""

    @abc.abstractmethod
    def to_statevector(self):
        """The same state as a :class:`~tqsim.StateVector`.

        Pure kinds only; a mixed kind raises TypeError with a message that
        says what to use instead.
        """

    # ------------------------------------------------- defaults, overridable
    #: True where every state of the kind is a product of single-qubit
    #: states, so that ``<Z_i Z_j> = <Z_i><Z_j>``.
    independent_qubits: ClassVar[bool] = False

    #: The kinds this kind converts to exactly, most specific first, each
    #: with the function that converts a state (see :func:`common_form`).
    #: A StateVector, which every pure kind converts to, is not listed.
    converts_to: ClassVar[Mapping[type, Callable]] = types.MappingProxyType({})

    def spectrum(self, subsystem: Sequence[int]) -> torch.Tensor:
        """The eigenvalues of the reduced state of ``subsystem``.

        The default diagonalises :meth:`reduced_matrix`; a pure state uses the
        smaller side of the cut (both sides have the same nonzero spectrum).
        Eigenvalues that the eigensolver cannot tell from zero are set to zero.

        Parameters
        ----------
        subsystem : tuple of int
            Distinct qubits, in range.

        Returns
        -------
        torch.Tensor
            Real, shape ``(*batch_shape, m)``, ascending unless a kind says
            otherwise; the order does not matter to entropies and purities.
        """
        n = self.num_qubits
        if self.is_pure and 2 * len(subsystem) > n:
            subsystem = complement(subsystem, n) or subsystem  # same spectrum, smaller matrix
        if len(subsystem) == n and self.is_pure:  # one eigenvalue 1 per batch entry
            return torch.ones(*self.batch_shape, 1, dtype=_checks.real_dtype(self.dtype), device=self.device)
        check_reduced_size(len(subsystem))
        lam = hermitian_eigvalsh(self.reduced_matrix(subsystem))
        # eigenvalues the solver cannot tell from zero are zero: a pure 10-qubit state's
        # 1023 noise eigenvalues of ~1e-8 (complex64) put its entropy at 3e-5, not 0
        return torch.where(unresolved_eigenvalues(lam), torch.zeros_like(lam), lam)

    def entropy(self, subsystem: Sequence[int], alpha: float = 1, base: float = math.e) -> torch.Tensor:
        """Von Neumann (``alpha=1``) or Renyi-``alpha`` entropy of the reduced state of ``subsystem``.

        The default is :func:`entropy_of_spectrum` of :meth:`spectrum`; kinds
        whose reduced states factor add up the entropies of the factors.

        Parameters
        ----------
        subsystem : tuple of int
            Distinct qubits, in range.
        alpha : float
            Renyi order, ``> 0`` or ``inf``.
        base : float
            Logarithm base.

        Returns
        -------
        torch.Tensor
            Real, shape ``batch_shape``.
        """
        return entropy_of_spectrum(self.spectrum(subsystem), alpha, base)

    def purity(self, subsystem: Sequence[int]) -> torch.Tensor:
        """``Tr(rho_A**2)`` of the reduced state of ``subsystem``.

        The default sums the squares of :meth:`spectrum`; kinds whose reduced
        states factor multiply the purities of the factors.

        Parameters
        ----------
        subsystem : tuple of int
            Distinct qubits, in range.

        Returns
        -------
        torch.Tensor
            Real, shape ``batch_shape``.
        """
        return (self.spectrum(subsystem) ** 2).sum(-1)

    def qubit_states(self) -> torch.Tensor:
        """Every single-qubit reduced state at once.

        The default stacks :meth:`reduced_matrix` of each qubit.

        Returns
        -------
        torch.Tensor
            Shape ``(*batch_shape, n, 2, 2)``.
        """
        return torch.stack([self.reduced_matrix((q,)) for q in range(self.num_qubits)], dim=-3)

    def schmidt_values(self, cut: int) -> torch.Tensor:
        """Schmidt coefficients of a pure state across the cut between qubits ``cut - 1`` and ``cut``.

        The default takes the singular values of the dense amplitudes from
        :meth:`to_statevector`.

        Parameters
        ----------
        cut : int
            In ``1..n-1``.

        Returns
        -------
        torch.Tensor
            Real, descending, their squares summing to 1; shape
            ``(*batch_shape, m)``.
        """
        amps = self.to_statevector().amplitudes()
        s = torch.linalg.svdvals(amps.reshape(*amps.shape[:-1], 1 << cut, -1))
        return s / torch.linalg.vector_norm(s, dim=-1, keepdim=True)

    def inner(self, other) -> torch.Tensor:
        """``<self|other>`` of two pure states of this kind.

        The default takes the dense amplitudes of both; :func:`common_form`
        brings states of two kinds to one first.

        Parameters
        ----------
        other : a state of the same kind, size, dtype and device

        Returns
        -------
        torch.Tensor
            Complex, shape the batch shape.
        """
        return self.to_statevector().inner(other.to_statevector())

    def distance(self, other) -> torch.Tensor:
        """``sqrt(1 - |<self|other>|**2)`` of two unit pure states of this kind.

        The trace distance of two pure states, computed without the
        cancellation in ``1 - F``: the default is the norm of the part of
        ``other`` orthogonal to ``self``, from the dense amplitudes.

        Parameters
        ----------
        other : a state of the same kind, size, dtype and device

        Returns
        -------
        torch.Tensor
            Real, in ``[0, 1]``, shape the batch shape.
        """
        return orthogonal_part(self.to_statevector().amplitudes(), other.to_statevector().amplitudes())[1]

    def expectation(self, observable) -> torch.Tensor:
        """``<O>`` for a PauliString, PauliSum or text such as ``"Z0 Z1 + 0.5 X2"``.

        Returns
        -------
        torch.Tensor
            Real, shape ``batch_shape``; differentiable.
        """
        return as_observable(observable).expectation(self)

    def diagonal_expectation(self, observable, diagonal: Callable) -> torch.Tensor:
        """``<D>`` of an observable diagonal in the computational basis, given two ways.

        The default evaluates the Pauli form; a kind that holds its amplitudes
        densely weighs its :meth:`probabilities` with the diagonal instead.

        Parameters
        ----------
        observable : PauliSum
            The observable as a sum of Z strings.
        diagonal : callable
            ``diagonal(device, dtype)`` gives the observable's ``2**n``
            diagonal; called only by kinds that use it.

        Returns
        -------
        torch.Tensor
            Real, shape ``batch_shape``.
        """
        return self.expectation(observable)

    def likely_bitstrings(self, count: int, shots: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Bitstrings that the state gives much weight: candidates for its most likely outcome.

        The default takes the ``count`` most probable basis states from
        :meth:`probabilities`; a kind too large for its whole distribution
        draws ``shots`` samples instead.

        Parameters
        ----------
        count : int
            How many of the most probable bitstrings to return.
        shots : int
            How many samples a kind that samples draws.
        generator : torch.Generator, optional
            For the kinds that sample.

        Returns
        -------
        torch.Tensor
            0/1 integers, shape ``(*batch_shape, m, n)``, big-endian.
        """
        probs = self.probabilities()
        index = torch.topk(probs, min(count, probs.shape[-1])).indices
        n = self.num_qubits
        return (index[..., None] >> torch.arange(n - 1, -1, -1, device=index.device)) & 1


def common_form(a: QuantumState, b: QuantumState) -> tuple[QuantumState, QuantumState]:
    """Two pure states held as one kind: where states of different kinds meet.

    The rule: two states of one kind stay as they are. Otherwise each kind
    lists the kinds it converts to exactly (:attr:`QuantumState.converts_to`,
    most specific first): if one state's kind is in the other's list, the
    other is converted to it; else both go to the kind both lists share that
    stands earliest in the two lists together (the same whichever state comes
    first); else both become StateVectors,
    which every pure kind converts to. So a ProductState meets a
    BlockProductState as a BlockProductState and an MPS as an MPS; a
    BlockProductState, an MPS and a StateVector meet as StateVectors. The
    pair is then measured with that kind's :meth:`~QuantumState.inner` and
    :meth:`~QuantumState.distance`.

    A pair with a mixed state in it is compared as two density matrices (the
    rest of the rule, applied by each function of :mod:`tqsim.info`, since
    the formula differs): for the fidelity the pure side may stay a ket,
    ``<psi|rho|psi>``, which is the same number without forming its matrix.

    Parameters
    ----------
    a, b : pure states of the same size, dtype and device

    Returns
    -------
    tuple
        ``(a, b)`` held as one kind, in the order given.
    """
    kind_a, kind_b = type(a), type(b)
    if kind_a is kind_b:
        return a, b
    if kind_b in kind_a.converts_to:
        return kind_a.converts_to[kind_b](a), b
    if kind_a in kind_b.converts_to:
        return a, kind_b.converts_to[kind_a](b)
    order_a, order_b = list(kind_a.converts_to), list(kind_b.converts_to)
    shared = [kind for kind in order_a if kind in order_b]
    if shared:  # the most specific for both, whichever state comes first
        kind = min(shared, key=lambda k: (order_a.index(k) + order_b.index(k), k.__qualname__))
        return kind_a.converts_to[kind](a), kind_b.converts_to[kind](b)
    return a.to_statevector(), b.to_statevector()


# ------------------------------------------------------- helpers of the kinds


def complement(qubits: Sequence[int], n: int) -> tuple[int, ...]:
    """The qubits of ``0..n-1`` not in ``qubits``, ascending."""
    return tuple(q for q in range(n) if q not in qubits)


def check_reduced_size(k: int) -> None:
    """Refuse a reduced state of more than ``MAX_DENSE_KEEP`` qubits as a matrix."""
    if k > MAX_DENSE_KEEP:
        raise ValueError(
            f"a reduced state of {k} qubits is a 2**{k} x 2**{k} matrix; keep at most {MAX_DENSE_KEEP} qubits"
        )


def reorder_reduced(rho: torch.Tensor, keep: Sequence[int], current: Sequence[int]) -> torch.Tensor:
    """A reduced matrix over ``current`` qubits reordered to the order of ``keep``."""
    k = len(keep)
    order = [list(current).index(q) for q in keep]
    if order == list(range(k)):
        return rho
    flat = permute_qubits(rho.reshape(*rho.shape[:-2], -1), order + [k + o for o in order])
    return flat.reshape(rho.shape)


def check_alpha_base(alpha, base) -> None:
    """Refuse a Renyi order that is not ``> 0`` (or inf), or a logarithm base that is not ``> 0`` and ``!= 1``."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"alpha must be a number > 0 (or inf), got {alpha!r}")
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not base > 0 or base == 1:
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")


def entropy_of_spectrum(lam: torch.Tensor, alpha: float = 1, base: float = math.e) -> torch.Tensor:
    """Von Neumann / Renyi entropy of a probability vector (eigenvalues or Schmidt weights).

    Only values ``<= 0`` are dropped here: any fixed positive cutoff would
    change some answer (255 eigenvalues of ``1e-5`` carry a tenth of a nat).
    Eigenvalues of reduced states that an eigensolver cannot resolve from zero
    are zeroed before they get here. The gradient stays finite: ``-log(lam) - 1`` is finite
    for every positive float, and dropped values get none.
    """
    check_alpha_base(alpha, base)
    positive = lam > 0
    safe = torch.where(positive, lam, torch.ones_like(lam))
    if alpha == 1:
        value = -torch.where(positive, safe * torch.log(safe), torch.zeros_like(lam)).sum(-1)
    elif math.isinf(alpha):
        value = -torch.log(lam.max(-1).values)
    else:
        value = torch.log(torch.where(positive, safe**alpha, torch.zeros_like(lam)).sum(-1)) / (1 - alpha)
    return value / math.log(base)


def orthogonal_part(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(<a|b>, ||b - a <a|b>||)`` of unit kets along the last axis (batches broadcast)."""
    c = (a.conj() * b).sum(-1)
    return c, torch.linalg.vector_norm(b - a * c.unsqueeze(-1), dim=-1)


def joint_distance(c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``sqrt(1 - prod_g |c_g|**2)`` of a product over groups from each group's overlap ``c_g`` and
    distance ``t_g``: ``sum_g t_g**2 prod_{h<g} |c_h|**2`` telescopes to it and adds only
    non-negative terms, so nothing cancels."""
    before = torch.cumprod(torch.cat([torch.ones_like(t[:1]), c.abs()[:-1]]), 0)
    return torch.linalg.vector_norm(t * before)


@lru_cache(maxsize=64)
def _parity_signs(k: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(-1)**popcount(j) for j in 0..2**k-1."""
    signs = torch.ones(1, dtype=dtype, device=device)
    step = torch.tensor([1.0, -1.0], dtype=dtype, device=device)
    for _ in range(k):
        signs = (signs[:, None] * step[None, :]).reshape(-1)
    return signs


def dense_pauli_expectation(data: torch.Tensor, terms: Sequence, weights_of: Callable, core: int) -> torch.Tensor:
    """``sum_t c_t <P_t>`` on a dense state from per-basis-state weights.

    A Pauli string maps a basis state to one basis state with a phase:
    ``P|i> = i**n_Y * (-1)**popcount(i & z) |i XOR x>``, where ``x`` marks the X
    and Y qubits and ``z`` the Z and Y qubits. So ``<P>`` is a signed sum of
    the weights ``w[i]`` (``conj(psi[i XOR x]) * psi[i]`` for a ket,
    ``rho[i, i XOR x]`` for a density matrix) that ``weights_of(data, x)``
    returns: one flip of the state and a marginal over the Z qubits, never a
    ``2**n x 2**n`` matrix. Terms sharing their X/Y qubits share the flip.
    ``core`` is the number of trailing axes of ``data`` that hold the state.
    """
    groups: dict[tuple[int, ...], list] = {}
    for t in terms:
        groups.setdefault(t._masks()[0], []).append(t)
    total = torch.zeros(data.shape[: data.ndim - core], dtype=_checks.real_dtype(data.dtype), device=data.device)
    for flips, group in groups.items():
        weights = weights_of(data, flips)
        for t in group:
            _, signs, num_y = t._masks()
            if signs:
                marginal = reduce_to(weights, signs)
                value = (marginal * _parity_signs(len(signs), marginal.real.dtype, data.device)).sum(-1)
            else:
                value = weights.sum(-1)
            if num_y % 4:
                value = value * (1j, -1, -1j)[num_y % 4 - 1]
            total = total + t.coefficient * (value.real if value.is_complex() else value)
    return total


def checked_operations(state, operations, takes_channels: bool, takes_batches: bool = True) -> list:
    """The operations as a list, after the checks every state kind makes.

    Gates and channels only, qubits in range, finite angles (one device sync
    for all tensor angles), channels only where the state can hold mixtures,
    batched gates only where the state can hold a batch.
    """
    operations = list(operations)
    kind = type(state).__name__
    for op in operations:
        if not isinstance(op, (Gate, Channel)):
            raise TypeError(f"expected gates or channels, got {type(op).__name__}")
        _checks.qubits_in_range(op.qubits, state.num_qubits, f"{op.name} qubit")
        if isinstance(op, Channel) and not takes_channels:
            raise TypeError(
                f"channel {op.name} needs a mixed state: run the circuit on "
                f"tq.DensityMatrix.zeros({state.num_qubits}) instead of a {kind}"
            )
        if isinstance(op, Gate) and op.batch_shape and not takes_batches:
            raise ValueError(
                f"gate {op!r} is batched (shape {tuple(op.batch_shape)}); a {kind} holds one state: "
                f"run batches on a StateVector or loop over the batch"
            )
    _checks.finite([p for op in operations if isinstance(op, Gate) for p in op.params], "gate angle")
    return operations


def uniform_draws(shape, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """float64 uniforms in [0, 1), drawn on the generator's device, moved to ``device``."""
    gen_device = generator.device if generator is not None else device
    return torch.rand(*shape, generator=generator, dtype=torch.float64, device=gen_device).to(device)


def inverse_cdf_draws(probs: torch.Tensor, shots: int, generator: torch.Generator | None) -> torch.Tensor:
    """``shots`` indices drawn from each distribution ``probs (..., d)`` (unnormalised is fine): ``(..., shots)``.

    Inverse-CDF sampling in float64, so any ``d`` works (``torch.multinomial``
    stops at 2**24 outcomes).
    """
    cdf = torch.cumsum(probs.to(torch.float64), dim=-1)
    u = uniform_draws((*probs.shape[:-1], shots), generator, probs.device) * cdf[..., -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=probs.shape[-1] - 1)


def check_index_width(num_qubits: int, bits: bool) -> None:
    """Basis indices of more than 62 qubits overflow int64: such samples need ``bits=True``."""
    if not bits and num_qubits > 62:
        raise ValueError(f"indices of {num_qubits} qubits overflow int64; pass bits=True")


def measured_outcomes(outcomes: torch.Tensor, bits: bool) -> torch.Tensor:
    """``(shots, n)`` 0/1 outcomes as they are (``bits``) or as big-endian basis indices."""
    n = outcomes.shape[-1]
    if bits:
        return outcomes
    check_index_width(n, bits)
    powers = 2 ** torch.arange(n - 1, -1, -1, device=outcomes.device)
    return (outcomes * powers).sum(-1)


class Exportable(QuantumState):
    """Conversions every built-in state kind offers: :meth:`to_numpy` and :meth:`to_qutip`.

    A kind provides ``_dense()``, its dense tensor: the amplitudes (the
    default) or, for a density matrix, the matrix.
    """

    __slots__ = ()

    def _dense(self) -> torch.Tensor:
        return self.amplitudes()

    def to_numpy(self):
        """The state as a NumPy array: amplitudes ``(2**n,)`` (the matrix of a
        DensityMatrix), batch axis kept; detached and on the CPU. Dense, so n <= 30."""
        return self._dense().detach().resolve_conj().cpu().numpy()

    def to_qutip(self):
        """The state as a ``qutip.Qobj``: a ket with dims ``[[2]*n, [1]*n]``, or for a
        DensityMatrix an operator with dims ``[[2]*n, [2]*n]``. Needs ``pip install "tqsim[qutip]"``."""
        from ..interop.qutip import to_qutip

        return to_qutip(self)


class DenseState(Exportable):
    """A flat tensor over qubits plus the bookkeeping around it.

    Subclasses define how gates and channels act (:meth:`_apply_step`,
    :meth:`_apply_channel`) and what probabilities are.
    """

    __slots__ = ("_data", "num_qubits")

    def __init__(self, data: torch.Tensor, num_qubits: int):
        self._data = data
        self.num_qubits = num_qubits

    # ----------------------------------------------------------- properties
    @property
    def dtype(self) -> torch.dtype:
        return self._data.dtype

    @property
    def device(self) -> torch.device:
        return self._data.device

    @property
    def batch_shape(self) -> torch.Size:
        """``()`` for one state, ``(batch,)`` for a batch."""
        return self._data.shape[: self._data.ndim - self._core_ndim]

    _core_ndim = 1

    def to(self, device=None, dtype: torch.dtype | None = None):
        """A copy on another device and/or complex dtype (like ``Tensor.to``)."""
        dev = _checks.device(device) if device is not None else self.device
        dt = _checks.complex_dtype(dtype) if dtype is not None else self.dtype
        return type(self)(self._data.to(device=dev, dtype=dt), self.num_qubits)

    # ------------------------------------------------------------- measuring
    def sample(self, shots: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``shots`` basis-state indices (big-endian) from :meth:`probabilities`.

        Returns a LongTensor of shape ``(shots,)`` or ``(batch, shots)`` on the
        state's device. Inverse-CDF sampling, so any ``n`` works (``torch.multinomial``
        stops at 2**24 outcomes).
        """
        shots = _checks.positive_int(shots, "shots")
        return inverse_cdf_draws(self.probabilities().detach(), shots, generator)

    # ------------------------------------------------------------- evolution
    def apply(self, operation):
        """A new state with one gate or channel applied."""
        return self.evolve([operation])

    def evolve(self, operations):
        """A new state with ``operations`` (gates, channels, a Circuit) applied in order.

        Runs of gates between channels are fused into blocks (sizes in
        :func:`tqsim.fusion.block_size`); a controlled gate wider than a block
        acts on the amplitudes whose controls are all 1 only
        (:meth:`_apply_controlled`), its full matrix never built.
        """
        return self._evolve_checked(checked_operations(self, operations, self._takes_channels))

    def _evolve_checked(self, operations: list):
        """:meth:`evolve` for operations that have passed :func:`checked_operations`."""
        with one_thread_if_small(self._data.numel(), self._data.device):
            return self._evolve_fused(operations)

    def _evolve_fused(self, operations: list):
        """Fuse runs of gates into blocks and apply them, channels in between."""
        data = self._data
        track = torch.is_grad_enabled() and (
            data.requires_grad
            or any(isinstance(p, torch.Tensor) and p.requires_grad for op in operations for p in op.params)
        )
        runs = _gate_runs(operations)
        single = len(runs) == 1 and runs[0][1] is None
        if single:
            small = (self._evolve_small_tracked if track else self._evolve_small)(runs[0][0])
            if small is not None:
                return type(self)(small, self.num_qubits)
        real = single and self._stays_real(data, runs[0][0])
        if real:  # real parts only: the imaginary parts are zero before and after
            data = data.real.contiguous()
        if track and self._adjoint and single and uses_adjoint(self._evolved_size(runs[0][0])):
            gates = runs[0][0]
            steps = fusion.schedule(gates, fusion.block_size(data.is_cuda, track))
            operators = self._step_operators(steps, gates, real)
            data = evolve_adjoint(data, steps, operators, gates, _Buffers)
            return type(self)(data.to(self.dtype) if real else data, self.num_qubits)
        buffers = None if track else _Buffers(data if real else None)
        planned = not track and not data.is_cuda and data.shape[-1] >= block_plans.PLANNED_AMPLITUDES
        kernel = None if track else self._kernel_model(data)
        max_qubits = fusion.block_size(data.is_cuda, track, kernel is not None)
        # with no gradient, the threads other processes leave free: the bits stay the same (tqsim/_threads.py)
        with contextlib.nullcontext() if track else threads_left_free(data.device):
            for gates, channel in runs:
                steps = fusion.schedule(gates, max_qubits, self.num_qubits if planned else None, kernel)
                for step, op in zip(steps, self._step_operators(steps, gates, real)):
                    data = self._apply_step(data, op, step, gates[step.members[0]], buffers)
                if channel is not None:
                    data = self._apply_channel(data, channel, buffers)
        if real:
            data = data.to(self.dtype)
        if track:
            data = backward_on_one_thread_if_small(data)
        return type(self)(data, self.num_qubits)

    def _step_operators(self, steps, gates, real: bool = False) -> list[torch.Tensor]:
        """Every step's operator: fused blocks built together, target operators of wide controlled gates;
        their real parts for a ket evolved in real arithmetic (:meth:`_stays_real`)."""
        if composed_blocks.applies(gates, self.device):
            operators = composed_blocks.step_operators(steps, gates, self.dtype, self.device)
        else:
            operators = fusion.step_operators(steps, gates, self.dtype, self.device)
        for i, step in enumerate(steps):
            if step.apart:
                operators[i] = gates[step.members[0]].target_operator(self.dtype, self.device)
        return [op.real.contiguous() for op in operators] if real else operators

    def _kernel_model(self, data: torch.Tensor) -> str | None:
        """The cost model of the compiled kernel ("complex" or "real") when it applies this evolution's steps
        (:mod:`tqsim.tensor.cpu_kernels`), else None (the PyTorch path's model)."""
        return None

    def _stays_real(self, data: torch.Tensor, gates: list[Gate]) -> bool:
        """Whether ``gates`` may act on the real parts of ``data`` alone (:class:`StateVector` decides)."""
        return False

    def _evolve_small(self, gates: list[Gate]) -> torch.Tensor | None:
        """The data after ``gates`` by a path for small states, or None where it does not apply."""
        return None

    def _evolve_small_tracked(self, gates: list[Gate]) -> torch.Tensor | None:
        """:meth:`_evolve_small` when a gradient is tracked."""
        return None

    def _evolved_size(self, gates) -> int:
        """Amplitudes of the evolved kets: the state's, times a batch that batched gates add."""
        batch = torch.broadcast_shapes(self._data.shape[:-1], *(g.batch_shape for g in gates))
        return math.prod(batch) << self.num_qubits

    _takes_channels = False
    #: pure kinds differentiate their gates by the adjoint method (:mod:`tqsim.states.adjoint`)
    _adjoint = False

    def _apply_step(self, data, op, step: fusion.Step, gate: Gate, buffers):  # pragma: no cover
        """One fused step (``op`` its operator; for a wide controlled ``gate``, its target operator)."""
        raise NotImplementedError

    def _apply_channel(self, data, channel, buffers):  # pragma: no cover
        raise NotImplementedError


def _gate_runs(operations: list) -> list[tuple[list[Gate], Channel | None]]:
    """``[(run of gates, the channel after it or None), ...]``."""
    runs, gates = [], []
    for op in operations:
        if isinstance(op, Gate):
            gates.append(op)
        else:
            runs.append((gates, op))
            gates = []
    if gates or not runs:
        runs.append((gates, None))
    return runs


class _Buffers:
    """Two scratch tensors to ping-pong between when no gradient is tracked (or one that the compiled
    kernel updates in place, :func:`tqsim.states.adjoint.ket_step`).

    Freshly allocated large tensors cost page faults on every gate; reusing
    two buffers keeps the work to the arithmetic. The caller's input is never
    written.
    """

    __slots__ = ("pool",)

    def __init__(self, own: torch.Tensor | None = None):
        """``own``: a tensor the evolution made itself (not the caller's), usable as a buffer."""
        self.pool: list[torch.Tensor] = [] if own is None else [own]

    def target(self, like: torch.Tensor, shape: torch.Size, avoid: torch.Tensor) -> torch.Tensor:
        for buf in self.pool:
            if buf.shape == shape and buf.data_ptr() != avoid.data_ptr():
                return buf
        buf = torch.empty(shape, dtype=like.dtype, device=like.device)
        self.pool = [b for b in self.pool if b.shape == shape][:1] + [buf]
        return buf

    def owns(self, tensor: torch.Tensor) -> bool:
        """Whether ``tensor`` is one of the buffers (so it may be written in place)."""
        return any(b.data_ptr() == tensor.data_ptr() and b.shape == tensor.shape and b.dtype == tensor.dtype
                   for b in self.pool)
