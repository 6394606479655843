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
from .tensor.flat import gram_over_axes, ket_reduced, permute_qubits, trace_out
from .tensor.tt import tt_inner, tt_merge, tt_move_center

__all__ = [
    "partial_trace", "qubit_states", "entropy", "entropy_of_spectrum", "mutual_information", "purity",
    "negativity", "log_negativity", "fidelity", "trace_distance", "schmidt_values",
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


_MPS_BLOCK_ELEMENTS = 1 << 22


def _environment(cores, sites: Sequence[int], keep: Sequence[int], from_right: bool) -> torch.Tensor:
    """Ket and bra contracted over ``sites`` (in the order given), kept indices left open.

    Returns ``(ket outcomes, bra outcomes, ket bond, bra bond)``; the outcomes
    are ordered as the kept sites were visited. The chain beyond the first
    visited site must contract to the identity (canonical form).
    """
    env = None
    for q in sites:
        core = cores[q].permute(2, 1, 0) if from_right else cores[q]  # (outer bond, 2, inner bond)
        if env is None:
            env = contract("asy,atx->styx", core, core.conj())
            if q not in keep:
                env = torch.diagonal(env, dim1=0, dim2=1).sum(-1)[None, None]
            continue
        if q in keep:
            env = contract("pqzw,zsy,wtx->psqtyx", env, core, core.conj())
            p, s, qq, t = env.shape[:4]
            env = env.reshape(p * s, qq * t, *env.shape[4:])
        else:
            env = contract("pqzw,zsy,wsx->pqyx", env, core, core.conj())
    return env


def _mps_reduced(mps: MPS, keep: Sequence[int]) -> torch.Tensor:
    """Reduced state over sorted ``keep`` of an MPS.

    With the orthogonality centre inside ``[first, last]`` the chain outside
    contracts to the identity. A contiguous block is merged into one tensor
    ``(left, 2**k, right)`` whose Gram matrix is the answer. Otherwise two
    environments carrying the open ket and bra indices grow from both ends
    towards the middle and meet there, so neither holds more than half of the
    kept qubits: ``O(span * 4**(k/2) * chi**3)`` instead of ``O(4**k chi**3)``.
    """
    first, last = keep[0], keep[-1]
    cores = list(mps.cores)
    center = min(max(mps.center, first), last)
    tt_move_center(cores, mps.center, center)
    if last - first + 1 == len(keep) and cores[first].shape[0] * cores[last].shape[-1] << len(keep) <= _MPS_BLOCK_ELEMENTS:
        return gram_over_axes(tt_merge(cores[first:last + 1]), [1])
    tt_move_center(cores, center, first)
    left_keep = list(keep[: max(1, len(keep) // 2)])
    split = left_keep[-1]
    left = _environment(cores, range(first, split + 1), keep, from_right=False)
    if split == last:
        return torch.diagonal(left, dim1=-2, dim2=-1).sum(-1)
    right = _environment(cores, range(last, split, -1), keep, from_right=True)
    k_left, k_right = len(left_keep), len(keep) - len(left_keep)
    rho = contract("pqzw,rszw->prqs", left, right)
    rho = rho.reshape(1 << len(keep), 1 << len(keep))
    # the right environment listed its qubits from the last one down: put them back in order
    order = list(range(k_left)) + list(range(len(keep) - 1, k_left - 1, -1))
    if k_right > 1:
        k = len(keep)
        rho = permute_qubits(rho.reshape(-1), order + [k + o for o in order]).reshape(rho.shape)
    return rho


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
        rho = _mps_reduced(state, targets)
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

    Values below ``100 * eps`` count as zero, so the gradient stays finite.
    """
    _check_alpha_base(alpha, base)
    eps = _checks.tolerance(lam.dtype) ** 2 * 100
    positive = lam > eps
    lam = torch.where(positive, lam, torch.zeros_like(lam))
    if alpha == 1:
        safe = torch.where(positive, lam, torch.ones_like(lam))
        value = -(lam * torch.log(safe)).sum(-1)
    elif math.isinf(alpha):
        value = -torch.log(lam.max(-1).values)
    else:
        value = torch.log((lam**alpha).sum(-1)) / (1 - alpha)
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
    if len(subsystem) == n and isinstance(state, PURE_KINDS):
        return torch.ones(1, dtype=_checks.real_dtype(state.dtype), device=state.device)
    return torch.linalg.eigvalsh(partial_trace(state, subsystem).matrix())


def _per_qubit_spectra(state: ProductState, subsystem: Sequence[int]) -> torch.Tensor:
    """Eigenvalues of each kept qubit's (pure) state, shape (k, 2)."""
    v = state.vectors[list(subsystem)]
    rho = v.unsqueeze(-1) * v.conj().unsqueeze(-2)
    return torch.linalg.eigvalsh(rho / torch.diagonal(rho, dim1=-2, dim2=-1).sum(-1)[:, None, None])


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


def _partial_transpose_spectrum(state, a, b) -> torch.Tensor:
    _check_state(state)
    a, b = _disjoint(a, b, state.num_qubits)
    rho = partial_trace(state, a + b).matrix()
    ka, kb = len(a), len(b)
    k = ka + kb
    # swap the row and column indices of the a qubits
    order = list(range(k, k + ka)) + list(range(ka, k)) + list(range(ka)) + list(range(k + ka, 2 * k))
    flat = permute_qubits(rho.reshape(*rho.shape[:-2], -1), order)
    return torch.linalg.eigvalsh(flat.reshape(rho.shape))


def negativity(state, a: Sequence[int], b: Sequence[int]) -> torch.Tensor:
    """``(||rho_ab^{T_a}||_1 - 1) / 2``: the sum of the negative eigenvalues' magnitudes."""
    lam = _partial_transpose_spectrum(state, a, b)
    return (lam.abs().sum(-1) - 1) / 2


def log_negativity(state, a: Sequence[int], b: Sequence[int]) -> torch.Tensor:
    """``log2 ||rho_ab^{T_a}||_1`` (QuTiP's ``negativity(..., logarithmic=True)``)."""
    lam = _partial_transpose_spectrum(state, a, b)
    return torch.log2(lam.abs().sum(-1))


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


def _density(state) -> torch.Tensor:
    return state.matrix() if isinstance(state, DensityMatrix) else partial_trace(state, range(state.num_qubits)).matrix()


def _sqrtm_psd(rho: torch.Tensor) -> torch.Tensor:
    lam, vec = torch.linalg.eigh(rho)
    return (vec * lam.clamp_min(0).sqrt().to(vec.dtype).unsqueeze(-2)) @ vec.mH


def fidelity(a, b) -> torch.Tensor:
    """Squared fidelity: ``|<a|b>|**2`` for pure states, ``(Tr sqrt(sqrt(rho) sigma sqrt(rho)))**2``
    for mixed ones. QuTiP's ``fidelity`` returns the square root of this."""
    _same_register(a, b)
    if isinstance(a, PURE_KINDS) and isinstance(b, PURE_KINDS):
        return _overlap(a, b).abs().square()
    if isinstance(a, PURE_KINDS) or isinstance(b, PURE_KINDS):
        pure, mixed = (a, b) if isinstance(a, PURE_KINDS) else (b, a)
        psi = pure.to_statevector().amplitudes()
        return (psi.conj() @ mixed.matrix() @ psi).real
    root = _sqrtm_psd(a.matrix())
    inner = root @ b.matrix() @ root
    return torch.linalg.eigvalsh(inner).clamp_min(0).sqrt().sum(-1).square()


def trace_distance(a, b) -> torch.Tensor:
    """``||rho - sigma||_1 / 2`` (``sqrt(1 - F)`` for two pure states)."""
    _same_register(a, b)
    if isinstance(a, PURE_KINDS) and isinstance(b, PURE_KINDS):
        return (1 - fidelity(a, b)).clamp_min(0).sqrt()
    return torch.linalg.eigvalsh(_density(a) - _density(b)).abs().sum(-1) / 2


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
