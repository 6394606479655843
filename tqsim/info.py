"""Quantum-information quantities of any state kind, through the state protocol.

Every function here takes any state that implements
:class:`tqsim.states.base.QuantumState` and asks it only for what the
protocol offers; each kind computes those from its own tensors:

- A ket's reduced state ``rho_A = C C^dagger`` (``C``: kept qubits as rows) is
  built chunk by chunk from a grouped view, so it costs ``O(2**n * 2**k)``, never
  forms a ``2**n x 2**n`` matrix, and peaks at about 1.25 times the state.
- A density matrix is traced through diagonal views of its grouped axes: only
  the entries with equal traced indices are read.
- An MPS is moved into canonical form around the kept qubits and contracted
  with its conjugate there; the rest of the chain contracts to the identity.
- A product state's reduced state is a Kronecker product of 1-qubit states;
  a block product state's, of its blocks' reduced states. Entropies add up
  and purities multiply over blocks, so neither ever joins two blocks.

Every function accepts every kind and gives the same value (to dtype
precision) for the same state. Entropies of pure states use the smaller side
of the cut; an MPS cut that splits the chain in two uses its Schmidt values.
Two states of different kinds meet by the one rule of
:func:`tqsim.states.base.common_form`.

Distances never subtract nearly equal numbers: the trace distance of pure
states is the norm of an orthogonal part, the fidelity of density matrices
comes from singular values of ``sqrt(rho) sqrt(sigma)``, Bures and Hellinger
distances are norms of differences. Matrix square roots and logarithms are
differentiated by the Daleckii-Krein formula, finite on repeated eigenvalues.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from . import _checks
from .states import DensityMatrix
from .states.base import (
    MAX_DENSE_KEEP,
    QuantumState,
    check_alpha_base,
    check_reduced_size,
    common_form,
    entropy_of_spectrum,
)
from .tensor.flat import permute_qubits
from .tensor.matfunc import hermitian_eigh, hermitian_eigvalsh, logm_support, sqrtm_psd, unresolved_eigenvalues

__all__ = [
    "partial_trace", "qubit_states", "entropy", "entropy_of_spectrum", "mutual_information", "purity",
    "linear_entropy", "conditional_entropy", "relative_entropy", "negativity", "log_negativity",
    "partial_transpose", "concurrence", "fidelity", "trace_distance", "bures_distance", "hellinger_distance",
    "schmidt_values",
]

def _check_state(state) -> None:
    if not isinstance(state, QuantumState):
        raise TypeError(
            f"expected a StateVector, DensityMatrix, MPS, ProductState or BlockProductState, "
            f"got {type(state).__name__}"
        )


def _subsystem(qubits, num_qubits: int, name: str) -> tuple[int, ...]:
    qubits = _checks.qubit_list(qubits, name)
    _checks.qubits_in_range(qubits, num_qubits, f"{name} qubit")
    if not qubits:
        raise ValueError(f"{name} is empty; name at least one qubit")
    return qubits


# ----------------------------------------------------------------- partial trace


def partial_trace(state, keep: Sequence[int]) -> DensityMatrix:
    """The reduced state of the ``keep`` qubits, in the order given.

    Works on every state kind; keeping every qubit returns the full density
    matrix. QuTiP's ``ptrace`` sorts the kept qubits, tqsim keeps your order.
    """
    _check_state(state)
    n = state.num_qubits
    keep = _subsystem(keep, n, "keep")
    check_reduced_size(len(keep))
    return DensityMatrix(state.reduced_matrix(keep), len(keep))


def qubit_states(state) -> torch.Tensor:
    """Every single-qubit reduced state at once: shape ``(*batch, n, 2, 2)``.

    ``<P_q> = Tr(rho_q P)`` for all qubits from one call: a ket costs two
    elementwise passes per qubit, an MPS two sweeps of environments out from
    its orthogonality centre, a product state nothing but outer products, a
    block product state the ket's passes over each stack of blocks at once.
    Multi-basis encodings read their spins from here.
    """
    _check_state(state)
    return state.qubit_states()


# -------------------------------------------------------------------- entropies


def entropy(state, subsystem: Sequence[int], alpha: float = 1, base: float = math.e) -> torch.Tensor:
    """Von Neumann (``alpha=1``) or Renyi-``alpha`` entropy of ``subsystem``.

    ``alpha=float('inf')`` gives the min-entropy. Natural log unless ``base``
    is given (2 for bits), as QuTiP's ``entropy_vn``. Differentiable.
    """
    check_alpha_base(alpha, base)
    _check_state(state)
    return state.entropy(_subsystem(subsystem, state.num_qubits, "subsystem"), alpha, base)


def _disjoint(a, b, n) -> tuple[tuple[int, ...], tuple[int, ...]]:
    a = _subsystem(a, n, "subsystem a")
    b = _subsystem(b, n, "subsystem b")
    overlap = set(a) & set(b)
    if overlap:
        raise ValueError(f"subsystems a and b share qubits {sorted(overlap)}; they must be disjoint")
    return a, b


def mutual_information(state, a: Sequence[int], b: Sequence[int], base: float = math.e) -> torch.Tensor:
    """``S(a) + S(b) - S(a ∪ b)``."""
    _check_state(state)
    a, b = _disjoint(a, b, state.num_qubits)
    return entropy(state, a, base=base) + entropy(state, b, base=base) - entropy(state, a + b, base=base)


def purity(state, subsystem: Sequence[int]) -> torch.Tensor:
    """Tr(rho_A**2) of the reduced state of ``subsystem``."""
    _check_state(state)
    return state.purity(_subsystem(subsystem, state.num_qubits, "subsystem"))


def linear_entropy(state, subsystem: Sequence[int]) -> torch.Tensor:
    """Linear entropy ``1 - Tr(rho_A**2)`` of ``subsystem`` (QuTiP's ``entropy_linear`` of the reduced state).

    Parameters
    ----------
    state : StateVector, DensityMatrix, MPS, ProductState or BlockProductState
    subsystem : sequence of int
        The qubits of ``A``.

    Returns
    -------
    torch.Tensor
        Real, shape ``batch_shape``; in ``[0, 1 - 2**-k]``. Differentiable.
    """
    return 1 - purity(state, subsystem)


def conditional_entropy(state, a: Sequence[int], b: Sequence[int], base: float = math.e) -> torch.Tensor:
    """Conditional entropy ``S(A|B) = S(AB) - S(B)`` of disjoint qubit sets ``a`` and ``b``.

    QuTiP's ``entropy_conditional(rho, selB)`` conditions the whole state on
    ``selB``; here ``A`` is named too, so ``rho`` need not be reduced first.
    Negative values mean entanglement between ``A`` and ``B``.

    Parameters
    ----------
    state : any state kind
    a, b : sequence of int
        Disjoint, non-empty qubit sets.
    base : float
        Logarithm base (natural log by default, 2 for bits).

    Returns
    -------
    torch.Tensor
        Real, shape ``batch_shape``. Differentiable.
    """
    _check_state(state)
    a, b = _disjoint(a, b, state.num_qubits)
    return entropy(state, a + b, base=base) - entropy(state, b, base=base)


def _transpose_qubits(rho: torch.Tensor, qubits: Sequence[int]) -> torch.Tensor:
    """``rho (*batch, 2**k, 2**k)`` with the row and column index of each of ``qubits`` exchanged."""
    k = rho.shape[-1].bit_length() - 1
    order = list(range(2 * k))  # flat qubits: rows 0..k-1, then columns k..2k-1
    for q in qubits:
        order[q], order[k + q] = k + q, q
    return permute_qubits(rho.reshape(*rho.shape[:-2], -1), order).reshape(rho.shape)


def partial_transpose(state, subsystem: Sequence[int]) -> torch.Tensor:
    """The whole state's density matrix with ``subsystem`` transposed: ``rho^{T_A}``.

    QuTiP's ``partial_transpose(rho, mask)`` takes a 0/1 mask over the qubits;
    here the qubits are listed (their order does not matter).

    Parameters
    ----------
    state : any state kind of at most 14 qubits
    subsystem : sequence of int
        The qubits whose row and column indices are exchanged.

    Returns
    -------
    torch.Tensor
        Shape ``(*batch, 2**n, 2**n)``, Hermitian with trace 1; differentiable.
    """
    _check_state(state)
    subsystem = _subsystem(subsystem, state.num_qubits, "subsystem")
    return _transpose_qubits(_density(state, "partial_transpose"), subsystem)


def _partial_transpose_spectrum(state, a, b) -> torch.Tensor:
    _check_state(state)
    a, b = _disjoint(a, b, state.num_qubits)
    return hermitian_eigvalsh(_transpose_qubits(partial_trace(state, a + b).matrix(), range(len(a))))


def negativity(state, a: Sequence[int], b: Sequence[int]) -> torch.Tensor:
    """The magnitudes of the negative eigenvalues of ``rho_ab^{T_a}`` summed, over its trace.

    That is ``(||rho_ab^{T_a}||_1 - 1) / 2`` for a unit-trace state, written so
    that it cannot come out below zero: rounding never makes a sum of
    magnitudes negative, and a state that is off unit norm by rounding is
    measured as the state it stands for.
    """
    lam = _partial_transpose_spectrum(state, a, b)
    return (-lam).clamp_min(0).sum(-1) / lam.sum(-1)


def log_negativity(state, a: Sequence[int], b: Sequence[int]) -> torch.Tensor:
    """``log2 ||rho_ab^{T_a}||_1`` (QuTiP's ``negativity(..., logarithmic=True)``), as
    ``log2(1 + 2 N)`` from :func:`negativity`: never below zero, accurate for small ``N``."""
    return torch.log1p(2 * negativity(state, a, b)) / math.log(2)


def concurrence(state, a: int | None = None, b: int | None = None) -> torch.Tensor:
    """Wootters' concurrence of qubits ``a`` and ``b`` (both default to 0, 1 for a 2-qubit state).

    ``C = max(0, l1 - l2 - l3 - l4)`` with ``l_i`` the singular values of
    ``sqrt(rho) (Y x Y) conj(sqrt(rho))`` for the two qubits' reduced state
    ``rho``: the square roots of the eigenvalues of ``rho (Y x Y) rho* (Y x Y)``
    that QuTiP's ``concurrence`` takes, without a square root of rounding noise.

    Parameters
    ----------
    state : any state kind
    a, b : int, optional
        Two different qubits; required unless the state has exactly two.

    Returns
    -------
    torch.Tensor
        Real, in ``[0, 1]``, shape ``batch_shape``. Differentiable.
    """
    _check_state(state)
    n = state.num_qubits
    if a is None and b is None and n == 2:
        a, b = 0, 1
    if a is None or b is None:
        raise ValueError(f"concurrence of a {n}-qubit state needs two qubits a and b, got a={a!r}, b={b!r}")
    (a,), (b,) = _disjoint([a], [b], n)
    root = sqrtm_psd(partial_trace(state, [a, b]).matrix())
    yy = torch.tensor([[0, 0, 0, -1], [0, 0, 1, 0], [0, 1, 0, 0], [-1, 0, 0, 0]], dtype=root.dtype, device=root.device)
    lam = torch.linalg.svdvals(root @ yy @ root.conj())  # descending
    return (2 * lam[..., 0] - lam.sum(-1)).clamp_min(0)


# ------------------------------------------------------------- state distances


def _same_register(a, b) -> None:
    _check_state(a)
    _check_state(b)
    if a.num_qubits != b.num_qubits:
        raise ValueError(f"states have {a.num_qubits} and {b.num_qubits} qubits; they must match")
    if a.device != b.device:
        raise ValueError(f"states live on {a.device} and {b.device}; move one with .to()")
    if a.dtype != b.dtype:
        raise ValueError(f"states have dtypes {a.dtype} and {b.dtype}; convert one with .to(dtype=...)")
    if a.batch_shape and b.batch_shape and a.batch_shape != b.batch_shape:
        raise ValueError(
            f"states hold batches of {a.batch_shape[0]} and {b.batch_shape[0]}; pair a batch with one state "
            f"or with a batch of the same size"
        )


def _whole(state) -> torch.Tensor:
    """The whole state's density matrix (``*batch, 2**n, 2**n``)."""
    return state.reduced_matrix(tuple(range(state.num_qubits)))


def _density(state, what: str) -> torch.Tensor:
    """The whole state's density matrix, for the functions that need one, at most 14 qubits."""
    n = state.num_qubits
    if n > MAX_DENSE_KEEP:
        raise ValueError(
            f"{what} needs the 2**{n} x 2**{n} density matrix of a {n}-qubit state; "
            f"it takes states of at most {MAX_DENSE_KEEP} qubits"
        )
    return _whole(state)


def fidelity(a, b) -> torch.Tensor:
    """Squared fidelity ``F = (Tr sqrt(sqrt(rho) sigma sqrt(rho)))**2``; ``|<a|b>|**2`` for pure states.

    QuTiP's ``fidelity`` returns ``sqrt(F)``. A pure state against a mixed one
    is ``<psi|sigma|psi>``; two density matrices give the squared nuclear norm
    ``||sqrt(rho) sqrt(sigma)||_1**2``, singular values of a product, which
    keep their digits on low-rank states (the eigenvalues of
    ``sqrt(rho) sigma sqrt(rho)`` lose half of them: ``F(rho, rho)`` of a pure
    7-qubit density matrix came out ``1 + 4e-7``). Two pure states of
    different kinds are first brought to one kind, by the rule of
    ``tqsim.states.base.common_form``.

    Parameters
    ----------
    a, b : any state kinds of the same size, dtype and device
        A batch pairs with one state or with a batch of the same size.

    Returns
    -------
    torch.Tensor
        Real, in ``[0, 1]``, shape the batch shape. Differentiable, with finite
        gradients on pure and rank-deficient density matrices.
    """
    _same_register(a, b)
    if a.is_pure and b.is_pure:
        a, b = common_form(a, b)
        return a.inner(b).abs().square()
    if a.is_pure or b.is_pure:
        pure, mixed = (a, b) if a.is_pure else (b, a)
        psi = pure.to_statevector().amplitudes()
        return torch.einsum("...i,...ij,...j->...", psi.conj(), _whole(mixed), psi).real
    return torch.linalg.svdvals(sqrtm_psd(_whole(a)) @ sqrtm_psd(_whole(b))).sum(-1).square()


def trace_distance(a, b) -> torch.Tensor:
    """Trace distance ``||rho - sigma||_1 / 2`` (QuTiP's ``tracedist``).

    Two pure states: ``sqrt(1 - |<a|b>|**2)``, as the norm of the part of ``b``
    orthogonal to ``a`` (accurate to a few eps absolute, where ``1 - F`` stops
    at ``sqrt(eps)``); MPS pairs as the norm of a difference train. With a
    density matrix: half the absolute eigenvalues of ``rho - sigma``.

    Parameters
    ----------
    a, b : any state kinds of the same size, dtype and device
        A batch pairs with one state or with a batch of the same size.

    Returns
    -------
    torch.Tensor
        Real, in ``[0, 1]``, shape the batch shape. Differentiable.
    """
    _same_register(a, b)
    if a.is_pure and b.is_pure:
        a, b = common_form(a, b)
        return a.distance(b)
    difference = _density(a, "trace_distance") - _density(b, "trace_distance")
    return hermitian_eigvalsh(difference).abs().sum(-1) / 2


def bures_distance(a, b) -> torch.Tensor:
    """Bures distance ``sqrt(2 (1 - sqrt(F)))``, ``F`` the squared fidelity (QuTiP's ``bures_dist``).

    Computed without the cancellation in ``1 - sqrt(F)``: two pure states give
    ``sqrt(2) T / sqrt(1 + |<a|b>|)`` with ``T`` the accurate
    :func:`trace_distance`; otherwise ``min_U ||sqrt(rho) - sqrt(sigma) U||_F``
    with ``U`` the polar factor of ``sqrt(sigma)^H sqrt(rho)`` (the minimiser,
    so its own derivative drops out of the gradient).

    Parameters
    ----------
    a, b : any state kinds of the same size, dtype and device (density matrices of at most 14 qubits)

    Returns
    -------
    torch.Tensor
        Real, in ``[0, sqrt(2)]``, shape the batch shape. Differentiable.
    """
    _same_register(a, b)
    if a.is_pure and b.is_pure:
        a, b = common_form(a, b)
        return math.sqrt(2) * a.distance(b) / (1 + a.inner(b).abs()).sqrt()
    x, y = (sqrtm_psd(_density(s, "bures_distance")) for s in (a, b))
    with torch.no_grad():
        w, _, vh = torch.linalg.svd(y.mH @ x)
    return torch.linalg.vector_norm(x - y @ (w @ vh), dim=(-2, -1))


def hellinger_distance(a, b) -> torch.Tensor:
    """Quantum Hellinger distance ``||sqrt(rho) - sqrt(sigma)||_F = sqrt(2 - 2 Tr(sqrt(rho) sqrt(sigma)))``.

    QuTiP's ``hellinger_dist``; a pure state is its own square root, so two
    pure states give ``sqrt(2)`` times their :func:`trace_distance`. The norm
    of the difference, unlike ``2 - 2 Tr(...)``, keeps its digits near zero.

    Parameters
    ----------
    a, b : any state kinds of the same size, dtype and device (density matrices of at most 14 qubits)

    Returns
    -------
    torch.Tensor
        Real, in ``[0, sqrt(2)]``, shape the batch shape. Differentiable.
    """
    _same_register(a, b)
    if a.is_pure and b.is_pure:
        a, b = common_form(a, b)
        return math.sqrt(2) * a.distance(b)
    x, y = (sqrtm_psd(_density(s, "hellinger_distance")) for s in (a, b))
    return torch.linalg.vector_norm(x - y, dim=(-2, -1))


def relative_entropy(rho, sigma, base: float = math.e) -> torch.Tensor:
    """Quantum relative entropy ``S(rho||sigma) = Tr rho (log rho - log sigma)`` (QuTiP's ``entropy_relative``).

    ``+inf`` when ``rho`` has weight outside the support of ``sigma``, as in
    QuTiP. Where QuTiP counts eigenvalues below a fixed ``1e-12`` as zero,
    tqsim counts those an eigensolver cannot resolve (at most ``2 sqrt(d) eps``
    times the largest), and weight of ``rho`` beyond rounding (``d eps``) on
    them makes the result infinite. Natural log unless ``base`` is given; any
    base > 0 other than 1 is allowed (QuTiP takes ``e`` and 2).

    Parameters
    ----------
    rho, sigma : any state kinds of the same size, dtype and device (at most 14 qubits)
    base : float

    Returns
    -------
    torch.Tensor
        Real, ``>= 0`` (to rounding; for a base above 1) or ``inf``, shape the batch shape.
        Differentiable in both arguments where finite (``log(sigma)`` through
        the Daleckii-Krein formula, finite on repeated eigenvalues).
    """
    _same_register(rho, sigma)
    check_alpha_base(1, base)
    r, s = _density(rho, "relative_entropy"), _density(sigma, "relative_entropy")
    with torch.no_grad():
        q, v = hermitian_eigh(s)
        weight = torch.diagonal(v.mH @ r @ v, dim1=-2, dim2=-1).real  # rho's weight on each eigenvector of sigma
        outside = (weight * unresolved_eigenvalues(q)).sum(-1) > r.shape[-1] * torch.finfo(q.dtype).eps
    cross = (r * logm_support(s).mT).sum((-2, -1)).real  # Tr(rho log sigma)
    value = -entropy_of_spectrum(hermitian_eigvalsh(r)) - cross
    return torch.where(outside, math.inf, value) / math.log(base)


def schmidt_values(state, cut: int) -> torch.Tensor:
    """Schmidt coefficients of a pure state across the cut between qubits
    ``cut - 1`` and ``cut`` (descending; their squares sum to 1).

    A ket gives all ``2**min(cut, n - cut)`` values, zeros included; an MPS
    as many as the bond holds; a product or block product state only the
    products of the values of the blocks the cut splits."""
    _check_state(state)
    n = state.num_qubits
    if isinstance(cut, bool) or not isinstance(cut, int) or not 1 <= cut < n:
        raise ValueError(f"cut must be an int in 1..{n - 1}, got {cut!r}")
    if not state.is_pure:
        name = type(state).__name__
        raise TypeError(f"schmidt_values needs a pure state; a {name} has none (use entropy instead)")
    return state.schmidt_values(cut)
