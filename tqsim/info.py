"""Quantum-information quantities computed from each state kind's own tensors.

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
from .states import MPS, DensityMatrix, StateVector
from .states.blocks import BlockProductState, device_index
from .states.product import ProductState
from .tensor.contract import contract
from .tensor.flat import ket_reduced, permute_qubits, trace_out
from .tensor.matfunc import hermitian_eigh, hermitian_eigvalsh, logm_support, sqrtm_psd, unresolved_eigenvalues
from .tensor.tt import tt_inner, tt_orthogonalize, tt_sum

__all__ = [
    "partial_trace", "qubit_states", "entropy", "entropy_of_spectrum", "mutual_information", "purity",
    "linear_entropy", "conditional_entropy", "relative_entropy", "negativity", "log_negativity",
    "partial_transpose", "concurrence", "fidelity", "trace_distance", "bures_distance", "hellinger_distance",
    "schmidt_values",
]

STATE_KINDS = (StateVector, DensityMatrix, MPS, ProductState, BlockProductState)
PURE_KINDS = (StateVector, MPS, ProductState, BlockProductState)
_MAX_DENSE_KEEP = 14  # reduced density matrices of at most 2**14 x 2**14


def _check_state(state) -> None:
    if not isinstance(state, STATE_KINDS):
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


def _complement(qubits: Sequence[int], n: int) -> tuple[int, ...]:
    return tuple(q for q in range(n) if q not in qubits)


# ----------------------------------------------------------------- partial trace


def _product_reduced(state: ProductState, keep: Sequence[int]) -> torch.Tensor:
    rho = torch.ones(1, 1, dtype=state.dtype, device=state.device)
    for q in keep:
        v = state.vectors[q]
        rho = torch.kron(rho, torch.outer(v, v.conj()))
    return rho


def _blocks_with(state: BlockProductState, qubits: Sequence[int]) -> list:
    """``(kept qubits, block StateVector, their local positions)`` for every block holding any of ``qubits``."""
    found = []
    for block, sv in state.blocks():
        local = [j for j, q in enumerate(block) if q in qubits]
        if local:
            found.append((tuple(block[j] for j in local), sv, local))
    return found


def _blocks_reduced(state: BlockProductState, keep: Sequence[int]) -> tuple[torch.Tensor, list[int]]:
    """The Kronecker product of the blocks' reduced states, and the qubit order it is in."""
    rho, joined = None, []
    for kept, sv, local in _blocks_with(state, keep):
        part = ket_reduced(sv.amplitudes(), local)
        rho = part if rho is None else torch.kron(rho, part)
        joined += kept
    return rho, joined


def _reorder(rho: torch.Tensor, keep: Sequence[int], current: Sequence[int]) -> torch.Tensor:
    """A reduced matrix over ``current`` qubits reordered to the order of ``keep``."""
    k = len(keep)
    order = [list(current).index(q) for q in keep]
    if order == list(range(k)):
        return rho
    flat = permute_qubits(rho.reshape(*rho.shape[:-2], -1), order + [k + o for o in order])
    return flat.reshape(rho.shape)


def partial_trace(state, keep: Sequence[int]) -> DensityMatrix:
    """The reduced state of the ``keep`` qubits, in the order given.

    Works on every state kind; keeping every qubit returns the full density
    matrix. QuTiP's ``ptrace`` sorts the kept qubits, tqsim keeps your order.
    """
    _check_state(state)
    n = state.num_qubits
    keep = _subsystem(keep, n, "keep")
    if len(keep) > _MAX_DENSE_KEEP:
        raise ValueError(
            f"a reduced state of {len(keep)} qubits is a 2**{len(keep)} x 2**{len(keep)} matrix; "
            f"keep at most {_MAX_DENSE_KEEP} qubits"
        )
    targets = sorted(keep)  # the order each kind's reduced state comes in
    if isinstance(state, StateVector):
        rho = ket_reduced(state.amplitudes(), targets)
    elif isinstance(state, DensityMatrix):
        rho = trace_out(state.matrix(), targets)
    elif isinstance(state, MPS):
        rho = state.reduced_matrix(targets)
    elif isinstance(state, BlockProductState):
        rho, targets = _blocks_reduced(state, keep)
    else:
        rho = _product_reduced(state, targets)
    return DensityMatrix(_reorder(rho, keep, targets), len(keep))


def qubit_states(state) -> torch.Tensor:
    """Every single-qubit reduced state at once: shape ``(*batch, n, 2, 2)``.

    ``<P_q> = Tr(rho_q P)`` for all qubits from one call: a ket costs two
    elementwise passes per qubit, an MPS two sweeps of environments out from
    its orthogonality centre, a product state nothing but outer products, a
    block product state the ket's passes over each stack of blocks at once.
    Multi-basis encodings read their spins from here.
    """
    _check_state(state)
    n = state.num_qubits
    if isinstance(state, StateVector):
        # per qubit, the diagonal from one reduction of the probabilities and
        # the coherence from one product of the two halves: elementwise passes
        # over the state (a contraction "asb,atb->st" is a matrix product with
        # a 2 x 2 result and 2**(n-1) summands, which GPUs run on a few SMs)
        amps = state.amplitudes()
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
    if isinstance(state, DensityMatrix):
        return torch.stack([partial_trace(state, [q]).matrix() for q in range(n)], dim=-3)
    if isinstance(state, ProductState):
        v = state.vectors
        return v.unsqueeze(-1) * v.conj().unsqueeze(-2)
    if isinstance(state, BlockProductState):
        rhos, order = [], []
        for stack in state.stacks:
            m, k = len(stack.qubits), len(stack.qubits[0])
            rhos.append(qubit_states(StateVector(stack.amplitudes, k)).reshape(m * k, 2, 2))
            order += [q for qubits in stack.qubits for q in qubits]
        rho = torch.cat(rhos)
        if order == list(range(n)):
            return rho
        return rho.index_select(0, device_index(tuple(sorted(range(n), key=order.__getitem__)), rho.device))
    # mixed canonical form: every core left of the centre is left-orthogonal,
    # every core right of it right-orthogonal, so a site's reduced state needs
    # only the environment between it and the centre, grown one core at a time
    # (contractions, where moving the centre would cost a QR per site)
    cores, c = state.cores, state.center
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


# -------------------------------------------------------------------- entropies


def _check_alpha_base(alpha, base) -> None:
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
    _check_alpha_base(alpha, base)
    positive = lam > 0
    safe = torch.where(positive, lam, torch.ones_like(lam))
    if alpha == 1:
        value = -torch.where(positive, safe * torch.log(safe), torch.zeros_like(lam)).sum(-1)
    elif math.isinf(alpha):
        value = -torch.log(lam.max(-1).values)
    else:
        value = torch.log(torch.where(positive, safe**alpha, torch.zeros_like(lam)).sum(-1)) / (1 - alpha)
    return value / math.log(base)


def _mps_cut(state: MPS, subsystem: Sequence[int]) -> int | None:
    """The bond that separates ``subsystem`` from the rest, if it is a prefix or suffix."""
    s = sorted(subsystem)
    n = state.num_qubits
    if s == list(range(len(s))) and len(s) < n:
        return len(s)
    if s == list(range(n - len(s), n)) and len(s) < n:
        return n - len(s)
    return None


def _spectrum(state, subsystem: Sequence[int]) -> torch.Tensor:
    """Eigenvalues of the reduced state of ``subsystem``."""
    _check_state(state)
    n = state.num_qubits
    subsystem = _subsystem(subsystem, n, "subsystem")
    if isinstance(state, MPS):
        cut = _mps_cut(state, subsystem)
        if cut is not None:
            return state.schmidt_values(cut) ** 2
    if isinstance(state, PURE_KINDS) and 2 * len(subsystem) > n:
        subsystem = _complement(subsystem, n) or subsystem  # same spectrum, smaller matrix
    if len(subsystem) == n and isinstance(state, PURE_KINDS):  # one eigenvalue 1 per batch entry
        return torch.ones(*state.batch_shape, 1, dtype=_checks.real_dtype(state.dtype), device=state.device)
    lam = hermitian_eigvalsh(partial_trace(state, subsystem).matrix())
    # eigenvalues the solver cannot tell from zero are zero: a pure 10-qubit state's
    # 1023 noise eigenvalues of ~1e-8 (complex64) put its entropy at 3e-5, not 0
    return torch.where(unresolved_eigenvalues(lam), torch.zeros_like(lam), lam)


def _per_qubit_spectra(state: ProductState, subsystem: Sequence[int]) -> torch.Tensor:
    """Eigenvalues of each kept qubit's (pure) state, shape (k, 2)."""
    v = state.vectors[list(subsystem)]
    rho = v.unsqueeze(-1) * v.conj().unsqueeze(-2)
    return hermitian_eigvalsh(rho / torch.diagonal(rho, dim1=-2, dim2=-1).sum(-1)[:, None, None])


def entropy(state, subsystem: Sequence[int], alpha: float = 1, base: float = math.e) -> torch.Tensor:
    """Von Neumann (``alpha=1``) or Renyi-``alpha`` entropy of ``subsystem``.

    ``alpha=float('inf')`` gives the min-entropy. Natural log unless ``base``
    is given (2 for bits), as QuTiP's ``entropy_vn``. Differentiable.
    """
    _check_alpha_base(alpha, base)
    if isinstance(state, ProductState):
        subsystem = _subsystem(subsystem, state.num_qubits, "subsystem")
        return entropy_of_spectrum(_per_qubit_spectra(state, subsystem), alpha, base).sum(-1)
    if isinstance(state, BlockProductState):  # additive over the blocks
        subsystem = _subsystem(subsystem, state.num_qubits, "subsystem")
        return sum(entropy(sv, local, alpha, base) for _, sv, local in _blocks_with(state, subsystem))
    return entropy_of_spectrum(_spectrum(state, subsystem), alpha, base)


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
    if isinstance(state, ProductState):
        subsystem = _subsystem(subsystem, state.num_qubits, "subsystem")
        return (_per_qubit_spectra(state, subsystem) ** 2).sum(-1).prod(-1)
    if isinstance(state, BlockProductState):  # multiplicative over the blocks
        subsystem = _subsystem(subsystem, state.num_qubits, "subsystem")
        return torch.stack([purity(sv, local) for _, sv, local in _blocks_with(state, subsystem)]).prod()
    return (_spectrum(state, subsystem) ** 2).sum(-1)


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


def _overlap(a, b) -> torch.Tensor:
    """<a|b> of two pure states of any kinds, in the cheapest common form."""
    if isinstance(a, ProductState) and isinstance(b, ProductState):
        return (a.vectors.conj() * b.vectors).sum(-1).prod()
    if isinstance(a, (BlockProductState, ProductState)) and isinstance(b, (BlockProductState, ProductState)):
        a, b = (s if isinstance(s, BlockProductState) else BlockProductState.from_product(s) for s in (a, b))
        return a.inner(b)
    if isinstance(a, (StateVector, BlockProductState)) or isinstance(b, (StateVector, BlockProductState)):
        return a.to_statevector().inner(b.to_statevector())
    as_mps = [s.to_mps() if isinstance(s, ProductState) else s for s in (a, b)]
    return tt_inner(as_mps[0].cores, as_mps[1].cores)


def _density(state, what: str) -> torch.Tensor:
    """The whole state's density matrix (``*batch, 2**n, 2**n``), for the functions that need one."""
    n = state.num_qubits
    if n > _MAX_DENSE_KEEP:
        raise ValueError(
            f"{what} needs the 2**{n} x 2**{n} density matrix of a {n}-qubit state; "
            f"it takes states of at most {_MAX_DENSE_KEEP} qubits"
        )
    return state.matrix() if isinstance(state, DensityMatrix) else partial_trace(state, range(n)).matrix()


def fidelity(a, b) -> torch.Tensor:
    """Squared fidelity ``F = (Tr sqrt(sqrt(rho) sigma sqrt(rho)))**2``; ``|<a|b>|**2`` for pure states.

    QuTiP's ``fidelity`` returns ``sqrt(F)``. A pure state against a mixed one
    is ``<psi|sigma|psi>``; two density matrices give the squared nuclear norm
    ``||sqrt(rho) sqrt(sigma)||_1**2``, singular values of a product, which
    keep their digits on low-rank states (the eigenvalues of
    ``sqrt(rho) sigma sqrt(rho)`` lose half of them: ``F(rho, rho)`` of a pure
    7-qubit density matrix came out ``1 + 4e-7``).

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
    if isinstance(a, PURE_KINDS) and isinstance(b, PURE_KINDS):
        return _overlap(a, b).abs().square()
    if isinstance(a, PURE_KINDS) or isinstance(b, PURE_KINDS):
        pure, mixed = (a, b) if isinstance(a, PURE_KINDS) else (b, a)
        psi = pure.to_statevector().amplitudes()
        return torch.einsum("...i,...ij,...j->...", psi.conj(), mixed.matrix(), psi).real
    return torch.linalg.svdvals(sqrtm_psd(a.matrix()) @ sqrtm_psd(b.matrix())).sum(-1).square()


def _orthogonal_part(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(<a|b>, ||b - a <a|b>||)`` of unit kets along the last axis (batches broadcast)."""
    c = (a.conj() * b).sum(-1)
    return c, torch.linalg.vector_norm(b - a * c.unsqueeze(-1), dim=-1)


def _joint_distance(c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``sqrt(1 - prod_g |c_g|**2)`` of a product over groups from each group's overlap ``c_g`` and
    distance ``t_g``: ``sum_g t_g**2 prod_{h<g} |c_h|**2`` telescopes to it and adds only
    non-negative terms, so nothing cancels."""
    before = torch.cumprod(torch.cat([torch.ones_like(t[:1]), c.abs()[:-1]]), 0)
    return torch.linalg.vector_norm(t * before)


def _mps_distance(a: MPS, b: MPS) -> torch.Tensor:
    """``sqrt(1 - |<a|b>|**2)`` of unit MPS as the norm of the train ``b - <a|b> a``.

    The norm is read off the first core after orthogonal sweeps, which are
    backward stable: about ``n eps`` absolute, however small the result. The
    gradient is that of ``sqrt(1 - |<a|b>|**2)`` (QR factors of the
    rank-deficient sum train have no reliable one), zero where it vanishes.
    """
    c = tt_inner(a.cores, b.cores)
    with torch.no_grad():
        difference = tt_sum([-c * a.cores[0], *a.cores[1:]], b.cores)
        t = torch.linalg.vector_norm(tt_orthogonalize(difference, 0)[0])
    lost = -c.abs().square()
    safe = torch.where(t > 0, 2 * t, torch.ones_like(t))
    return t + torch.where(t > 0, (lost - lost.detach()) / safe, torch.zeros_like(t))


def _pure_distance(a, b) -> torch.Tensor:
    """``sqrt(1 - |<a|b>|**2)`` of two unit pure states, accurate to a few eps absolute.

    Never through ``1 - F``, which cancels to rounding below ``sqrt(eps)``
    (1.5e-8 in complex128: states 1e-9 apart came out 0). Dense kets: the norm
    of ``b - a <a|b>``; product and block states: that per group, joined by
    :func:`_joint_distance`; MPS (and products against them): a train.
    """
    if isinstance(a, ProductState) and isinstance(b, ProductState):
        return _joint_distance(*_orthogonal_part(a.vectors, b.vectors))
    if all(isinstance(s, (BlockProductState, ProductState)) for s in (a, b)):
        a, b = (s if isinstance(s, BlockProductState) else BlockProductState.from_product(s) for s in (a, b))
        c, t = zip(*(_orthogonal_part(x, y) for x, y in a.joint_kets(b)))
        return _joint_distance(torch.stack(c), torch.stack(t))
    if isinstance(a, (StateVector, BlockProductState)) or isinstance(b, (StateVector, BlockProductState)):
        return _orthogonal_part(a.to_statevector().amplitudes(), b.to_statevector().amplitudes())[1]
    return _mps_distance(*(s.to_mps() if isinstance(s, ProductState) else s for s in (a, b)))


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
    if isinstance(a, PURE_KINDS) and isinstance(b, PURE_KINDS):
        return _pure_distance(a, b)
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
    if isinstance(a, PURE_KINDS) and isinstance(b, PURE_KINDS):
        return math.sqrt(2) * _pure_distance(a, b) / (1 + _overlap(a, b).abs()).sqrt()
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
    if isinstance(a, PURE_KINDS) and isinstance(b, PURE_KINDS):
        return math.sqrt(2) * _pure_distance(a, b)
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
    _check_alpha_base(1, base)
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
    if isinstance(state, DensityMatrix):
        raise TypeError("schmidt_values needs a pure state; a DensityMatrix has none (use entropy instead)")
    if isinstance(state, MPS):
        return state.schmidt_values(cut)
    if isinstance(state, ProductState):
        return torch.ones(1, dtype=_checks.real_dtype(state.dtype), device=state.device)
    if isinstance(state, BlockProductState):  # the blocks cut in two contribute, multiplied
        values = torch.ones(1, dtype=_checks.real_dtype(state.dtype), device=state.device)
        for block, sv in state.blocks():
            left = sum(q < cut for q in block)
            if 0 < left < len(block):
                values = (values.unsqueeze(-1) * schmidt_values(sv, left)).flatten()
        return values.sort(descending=True).values
    amps = state.amplitudes()
    s = torch.linalg.svdvals(amps.reshape(*amps.shape[:-1], 1 << cut, -1))
    return s / torch.linalg.vector_norm(s, dim=-1, keepdim=True)
