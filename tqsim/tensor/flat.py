"""Operations on flat qubit tensors through grouped views.

A tensor over ``n`` qubits is stored flat, shape ``(*batch, 2**n)``, with qubit 0
the most significant bit of the last index (big-endian). An operation on
qubits ``q_1 < ... < q_k`` reshapes the last axis into the grouped view
``(2**q_1, 2, 2**(q_2-q_1-1), 2, ..., 2, 2**(n-1-q_k))``; adjacent untouched
qubits share one axis, so the view never has more than ``2k + 1`` axes and
stays within what CUDA kernels accept (25 dimensions), whatever ``n`` is.

A density matrix is the same flat tensor over ``2n`` qubits (rows first), so
these routines serve every dense state kind.
"""

from __future__ import annotations

import math
import string
from functools import lru_cache
from typing import Sequence

import torch

from . import cuda_kernels
from .contract import contract

__all__ = [
    "apply_controlled",
    "broadcast",
    "apply_diagonal",
    "apply_matrix",
    "controlled_subspace",
    "cross_gram",
    "flip_qubits",
    "grouped_shape",
    "num_qubits_of",
    "permute_qubits",
    "reduce_to",
    "run_grouped_shape",
    "gram_over_axes",
    "ket_reduced",
    "trace_out",
]


def num_qubits_of(flat: torch.Tensor) -> int:
    """Number of qubits ``n`` of a flat tensor whose last axis has size ``2**n``."""
    size = flat.shape[-1] if flat.ndim else 0
    if size < 1 or size & (size - 1):
        raise ValueError(
            f"last axis must have size 2**n, got shape {tuple(flat.shape)}"
        )
    return size.bit_length() - 1


def grouped_shape(num_qubits: int, qubits: Sequence[int]) -> list[int]:
    """Grouped view of ``2**num_qubits`` around sorted ``qubits``.

    Returns ``[2**g_0, 2, 2**g_1, 2, ..., 2, 2**g_k]``; the target axes sit at
    the odd positions ``1, 3, ..., 2k - 1``.
    """
    shape = []
    previous = -1
    for q in qubits:
        shape += [1 << (q - previous - 1), 2]
        previous = q
    shape.append(1 << (num_qubits - previous - 1))
    return shape


def run_grouped_shape(num_qubits: int, qubits: Sequence[int]) -> tuple[list[int], list[int]]:
    """Grouped view where each run of adjacent sorted ``qubits`` is one axis.

    Returns the shape and the positions of the run axes, e.g. qubits (1, 2, 5)
    of 7: shape ``[2, 4, 4, 2, 2]``, run axes ``[1, 3]``. A run of ``r`` qubits
    is one axis of size ``2**r``, big-endian like the flat index, so an operator
    on all ``n`` qubits needs three axes, not ``2n + 1``.
    """
    shape, axes, end = [], [], 0
    j = 0
    while j < len(qubits):
        start = qubits[j]
        while j + 1 < len(qubits) and qubits[j + 1] == qubits[j] + 1:
            j += 1
        shape += [1 << (start - end), 1 << (qubits[j] - start + 1)]
        axes.append(len(shape) - 1)
        end = qubits[j] + 1
        j += 1
    shape.append(1 << (num_qubits - end))
    return shape, axes


def _sorted_order(qubits: Sequence[int]) -> list[int]:
    return sorted(range(len(qubits)), key=lambda i: qubits[i])


def _reorder_operator(op: torch.Tensor, order: list[int], nmats: int) -> torch.Tensor:
    """Reorder the qubits of a matrix (``nmats=2``) or diagonal (``nmats=1``).

    The new qubit ``j`` of every index is the old qubit ``order[j]``.
    """
    k = len(order)
    lead = op.shape[: op.ndim - nmats]
    tensor = op.reshape(*lead, *([2] * (k * nmats)))
    base = len(lead)
    dims = list(range(base))
    for m in range(nmats):
        dims += [base + m * k + o for o in order]
    return tensor.permute(dims).reshape(op.shape)


def apply_matrix(
    state: torch.Tensor,
    matrix: torch.Tensor,
    qubits: Sequence[int],
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Apply a ``2**k x 2**k`` matrix to ``qubits`` of a flat state.

    Parameters
    ----------
    state : torch.Tensor
        Shape ``(*batch, 2**n)``.
    matrix : torch.Tensor
        Shape ``(*mbatch, 2**k, 2**k)``; its row and column indices are
        big-endian over ``qubits`` in the order given. ``mbatch`` broadcasts
        against ``batch``.
    qubits : sequence of int
        ``k`` distinct qubits in ``0..n-1``, any order, adjacent or not.
    out : torch.Tensor, optional
        Buffer of the result's shape to write into (not with autograd).

    Returns
    -------
    torch.Tensor
        Shape ``(*broadcast(batch, mbatch), 2**n)``.
    """
    n = num_qubits_of(state)
    k = len(qubits)
    dim = 1 << k
    if matrix.shape[-2:] != (dim, dim):
        raise ValueError(
            f"a matrix on {k} qubit(s) must end in shape ({dim}, {dim}), "
            f"got {tuple(matrix.shape)}"
        )
    order = _sorted_order(qubits)
    if order != list(range(k)):
        matrix = _reorder_operator(matrix, order, 2)
    targets = [qubits[i] for i in order]

    if cuda_kernels.accepts(state, matrix, out):
        positions = [n - 1 - q for q in reversed(targets)]
        return cuda_kernels.apply_small_matrix(state, matrix, positions, out)

    batch = state.shape[:-1]
    mbatch = matrix.shape[:-2]
    lo, hi = targets[0], targets[-1]
    if hi - lo + 1 == k:
        # contiguous targets: one (batched) matrix product, no permutation
        before, after = 1 << lo, 1 << (n - 1 - hi)
        if after >= 4 and _real_product_pays(state, matrix, out):
            return _apply_real(state, matrix.real.contiguous(), before, dim, after, out)
        if after == 1 and k == 1 and before > 1 and not mbatch:
            # rows of 2 amplitudes make a poor product: I ⊗ M on rows of the last two qubits
            # (0.6-0.7x the time in complex64, 0.8x in complex128, at 16-22 qubits)
            x = state.reshape(*batch, before >> 1, 4)
            result = _matmul(x, _with_identity(matrix, 2, before=True).mT, out)
        elif after == 1:
            x = state.reshape(*batch, before, dim)
            result = _matmul(x, matrix.mT, out)
        elif before == 1:  # a plain product (a batch axis of one would make matmul copy the state)
            result = _matmul(matrix, state.reshape(*batch, dim, after), out)
            return result.reshape(*result.shape[:-2], 1 << n)
        elif not mbatch and _rows_with_identity_pay(dim, after):
            # a product batched over rows of a few amplitudes is slow: act on (targets, trailing qubits)
            # rows with M ⊗ I instead, more arithmetic in one efficient product (2-5x faster at n = 20)
            x = state.reshape(*batch, before, dim * after)
            result = _matmul(x, _with_identity(matrix, after).mT, out)
            after = 1
        elif not mbatch and not state.is_cuda and (after >= _BATCHED_PRODUCT_AFTER or not _tracked(state, matrix)):
            return _stacked_product(matrix, state.reshape(-1, dim, after), out).reshape(*batch, 1 << n)
        else:
            x = state.reshape(*batch, before, dim, after)
            m = matrix.unsqueeze(-3) if mbatch else matrix
            result = _matmul(m, x, out)
        return result.reshape(*result.shape[: result.ndim - (2 if after == 1 else 3)], 1 << n)

    # scattered targets: move them to the front (after the batch axes), one plain product, move them back;
    # copies that keep the other qubits in order are 2-6x faster than moving the targets last (n = 20)
    shape = grouped_shape(n, targets)
    nb = len(batch)
    moved = torch.movedim(state.reshape(*batch, *shape), [nb + 2 * j + 1 for j in range(k)], list(range(nb, nb + k)))
    product = torch.matmul(matrix, moved.reshape(*batch, dim, -1))
    nb_out = product.ndim - 2  # a batched matrix may add batch axes
    y = product.reshape(*product.shape[:nb_out], *moved.shape[nb:])
    y = torch.movedim(y, list(range(nb_out, nb_out + k)), [nb_out + 2 * j + 1 for j in range(k)])
    if out is not None:
        out.view(y.shape).copy_(y)
        return out
    return y.reshape(*y.shape[:nb_out], 1 << n)


def _rows_with_identity_pay(dim: int, after: int) -> bool:
    """Whether ``M ⊗ I`` on rows of ``dim * after`` amplitudes beats a product batched over the rows
    (complex64, 20 qubits: 0.5-1.6 ms against 2-4.6 ms; docs/benchmarks.md)."""
    return after == 2 or (after < _BATCHED_PRODUCT_AFTER and (dim * after <= 32 or (dim <= 4 and after <= 16)))


def _with_identity(matrix: torch.Tensor, size: int, before: bool = False) -> torch.Tensor:
    """``matrix ⊗ I_size`` (the identity on trailing amplitudes), or ``I_size ⊗ matrix`` when ``before``:
    one matrix of the same dtype, whatever the memory layout of ``matrix`` (``torch.kron`` fails on some)."""
    dim = matrix.shape[-1]
    eye = torch.eye(size, dtype=matrix.dtype, device=matrix.device)
    if before:
        wide = eye[:, None, :, None] * matrix[..., None, :, None, :]
    else:
        wide = matrix[..., :, None, :, None] * eye[:, None, :]
    return wide.reshape(*matrix.shape[:-2], dim * size, dim * size)


#: Under autograd a batched product of targets between other qubits pays from this many amplitudes after
#: them; with fewer, the backward's products over many small batches cost more (measured at 12-20 qubits).
_BATCHED_PRODUCT_AFTER = 32


def _tracked(state: torch.Tensor, matrix: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and (state.requires_grad or matrix.requires_grad)


#: below this many amplitudes the check for a real matrix costs more than it saves
_REAL_PRODUCT_AMPLITUDES = 1 << 14


def _real_product_pays(state: torch.Tensor, matrix: torch.Tensor, out: torch.Tensor | None) -> bool:
    """True for a real matrix (RY, CX, CZ, H and their products) on a large CPU state, with no gradient.

    Such a matrix acts on the real and imaginary parts alike: one real product over the
    interleaved parts does half the arithmetic of a complex one (2x faster at n = 20). Never
    under autograd: a matrix that is real at these angles may have a complex derivative.
    """
    if state.is_cuda or matrix.ndim != 2 or state.shape[-1] < _REAL_PRODUCT_AMPLITUDES or not state.is_complex():
        return False
    if _tracked(state, matrix):
        return False
    if (out is not None and not out.is_contiguous()) or not state.is_contiguous():
        return False
    return not bool(torch.count_nonzero(torch.view_as_real(matrix.resolve_conj())[..., 1]))


def _apply_real(state, real_matrix, before: int, dim: int, after: int, out):
    """The real ``real_matrix`` on targets with ``before`` and ``after`` (at least 4) amplitudes around them."""
    parts = torch.view_as_real(state)  # (..., 2**n, 2): real and imaginary parts interleaved
    target = torch.view_as_real(out) if out is not None else None
    if before == 1:
        result = _matmul(real_matrix, parts.reshape(*parts.shape[:-2], dim, 2 * after), target)
    elif _rows_with_identity_pay(dim, after):  # the same arithmetic per amplitude as the complex product
        rows = parts.reshape(*parts.shape[:-2], before, dim * 2 * after)
        result = _matmul(rows, _with_identity(real_matrix, 2 * after).mT, target)
    else:
        result = _stacked_product(real_matrix, parts.reshape(-1, dim, 2 * after), target)
    if out is not None:
        return out
    return torch.view_as_complex(result.reshape(*state.shape, 2))


def _stacked_product(matrix: torch.Tensor, stack: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    """``matrix @ stack[i]`` for every slice of ``stack`` ``(s, d, c)``, as one batched product with the
    matrix repeated by a zero stride. ``torch.matmul`` of a matrix and a stack copies the stack to a
    transposed layout, forward and backward: 2-3x slower for complex kets, and up to 1.7x for real ones
    under MKL's strict mode (docs/benchmarks.md)."""
    dim = matrix.shape[-1]
    return torch.bmm(matrix.expand(stack.shape[0], dim, dim), stack,
                     out=out.view(stack.shape) if out is not None else None)


def broadcast(a: torch.Size, b: torch.Size) -> torch.Size:
    """``torch.broadcast_shapes(a, b)``, without its Python cost (~10 us) when one is empty or both agree:
    a file of 10**5 gates meets these checks once per fused block."""
    if a == b or not b:
        return a
    return b if not a else torch.broadcast_shapes(a, b)


def _matmul(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    if out is None:
        return torch.matmul(a, b)
    shape = broadcast(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    return torch.matmul(a, b, out=out.view(shape))


def apply_diagonal(
    state: torch.Tensor,
    diagonal: torch.Tensor,
    qubits: Sequence[int],
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multiply a flat state elementwise by a diagonal operator on ``qubits``.

    ``diagonal`` has shape ``(*mbatch, 2**k)``, big-endian over ``qubits`` in
    the order given; the cost is one elementwise product, no contraction.
    """
    n = num_qubits_of(state)
    k = len(qubits)
    if diagonal.shape[-1] != 1 << k:
        raise ValueError(
            f"a diagonal on {k} qubit(s) must end in size {1 << k}, got {tuple(diagonal.shape)}"
        )
    order = _sorted_order(qubits)
    if order != list(range(k)):
        diagonal = _reorder_operator(diagonal, order, 1)
    targets = [qubits[i] for i in order]
    shape, axes = run_grouped_shape(n, targets)
    dshape = [size if i in axes else 1 for i, size in enumerate(shape)]
    d = diagonal.reshape(*diagonal.shape[:-1], *dshape)
    x = state.reshape(*state.shape[:-1], *shape)
    if out is not None:
        full = broadcast(x.shape, d.shape)
        torch.mul(x, d, out=out.view(full))
        return out
    y = x * d
    return y.reshape(*y.shape[: y.ndim - len(shape)], 1 << n)


def controlled_subspace(
    num_qubits: int, controls: Sequence[int], targets: Sequence[int], device: torch.device
) -> torch.Tensor:
    """Flat indices of the amplitudes whose ``controls`` bits are all 1, shape ``(2**f, 2**t)``.

    Row ``j`` runs over the ``f`` other qubits (big-endian, ascending qubits,
    so rows are in memory order); column ``i`` over the ``t`` targets,
    big-endian in the order given. Index ``r * 2**t + i`` is a sum of one
    power of two per set bit: built on ``device`` from ``arange`` steps, no
    copy from the host. Small patterns are cached.
    """
    free = num_qubits - len(controls) - len(targets)
    key = (num_qubits, tuple(controls), tuple(targets), device)
    return _subspace_cached(*key) if free <= 12 else _subspace(*key)


@lru_cache(maxsize=256)
def _subspace_cached(num_qubits, controls, targets, device) -> torch.Tensor:
    return _subspace(num_qubits, controls, targets, device)


def _subspace(num_qubits: int, controls: tuple, targets: tuple, device: torch.device) -> torch.Tensor:
    def weight(q: int) -> int:
        return 1 << (num_qubits - 1 - q)

    def bits_sum(qubits) -> torch.Tensor:
        # every sum of a subset of the weights, big-endian in the order of ``qubits``
        index = torch.zeros(1, dtype=torch.long, device=device)
        for q in qubits:
            index = (index.unsqueeze(-1) + torch.arange(2, dtype=torch.long, device=device) * weight(q)).reshape(-1)
        return index

    taken = set(controls) | set(targets)
    rows = bits_sum([q for q in range(num_qubits) if q not in taken])
    return sum(weight(c) for c in controls) + rows.unsqueeze(-1) + bits_sum(targets)


def apply_controlled(
    state: torch.Tensor,
    operator: torch.Tensor,
    controls: Sequence[int],
    targets: Sequence[int],
    is_diagonal: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Apply ``operator`` to ``targets`` of the amplitudes whose ``controls`` are all 1.

    The operator of the whole gate, identity outside that subspace, is never
    built: a 20-control X on 22 qubits reads and writes 4 amplitude pairs and
    copies the rest (one pass over the state).

    Parameters
    ----------
    state : torch.Tensor
        Shape ``(*batch, 2**n)``.
    operator : torch.Tensor
        The target operator: a matrix ``(*mbatch, 2**t, 2**t)``, or its
        diagonal ``(*mbatch, 2**t)`` when ``is_diagonal``, big-endian over
        ``targets`` in the order given.
    controls, targets : sequence of int
        Distinct qubits, any order, adjacent or not.
    out : torch.Tensor, optional
        Buffer of the result's shape to write into (not with autograd).

    Returns
    -------
    torch.Tensor
        Shape ``(*broadcast(batch, mbatch), 2**n)``, a new tensor (autograd
        flows to ``state`` and ``operator``).

    Notes
    -----
    The qubits above the first and below the last gate qubit stay strided
    axes of the view ``(*batch, 2**lo, 2**m, 2**tail)``; only the ``m``
    qubits of the gate's span are addressed through
    :func:`controlled_subspace`, gathered with ``index_select`` and written
    back with an out-of-place ``index_copy``.
    """
    n = num_qubits_of(state)
    controls, targets = list(controls), list(targets)
    t = len(targets)
    dim = 1 << t
    core = 1 if is_diagonal else 2
    if operator.shape[operator.ndim - core:] != (dim,) * core:
        raise ValueError(
            f"a {'diagonal' if is_diagonal else 'matrix'} on {t} target qubit(s) must end in shape "
            f"{(dim,) * core}, got {tuple(operator.shape)}"
        )
    qubits = controls + targets
    lo, hi = min(qubits), max(qubits)
    m = hi - lo + 1
    lead, tail = 1 << lo, 1 << (n - 1 - hi)
    index = controlled_subspace(m, [c - lo for c in controls], [q - lo for q in targets], state.device)
    rows = index.shape[0]
    flat_index = index.reshape(-1)
    batch = state.shape[:-1]
    mbatch = operator.shape[: operator.ndim - core]
    x = state.reshape(*batch, lead, 1 << m, tail)
    sub = x.index_select(-2, flat_index).reshape(*batch, lead, rows, dim, tail)
    if is_diagonal:
        new = sub * operator.reshape(*mbatch, 1, 1, dim, 1)
    elif tail == 1:  # the target axis is last: rows times the transposed matrix
        new = (sub.squeeze(-1) @ operator.mT.reshape(*mbatch, 1, dim, dim)).unsqueeze(-1)
    else:
        new = operator.reshape(*mbatch, 1, 1, dim, dim) @ sub
    shape = new.shape[:-4]
    base = x if x.shape[:-3] == shape else x.expand(*shape, lead, 1 << m, tail)
    source = new.reshape(*shape, lead, rows * dim, tail)
    if out is not None:
        view = out.view(*shape, lead, 1 << m, tail)
        view.copy_(base)
        view.index_copy_(-2, flat_index, source)
        return out
    return base.index_copy(-2, flat_index, source).reshape(*shape, 1 << n)


def flip_qubits(state: torch.Tensor, qubits: Sequence[int]) -> torch.Tensor:
    """Flip the bits of ``qubits`` (X on each): ``out[i] = state[i XOR mask]``."""
    n = num_qubits_of(state)
    if not qubits:
        return state
    targets = sorted(qubits)
    shape = grouped_shape(n, targets)
    nb = state.ndim - 1
    x = state.reshape(*state.shape[:-1], *shape)
    y = torch.flip(x, dims=[nb + 2 * j + 1 for j in range(len(targets))])
    return y.reshape(state.shape)


def permute_qubits(state: torch.Tensor, order: Sequence[int]) -> torch.Tensor:
    """Reorder qubits: qubit ``j`` of the result is qubit ``order[j]`` of ``state``.

    Uses a view with one axis per run of qubits that stay adjacent (up to
    ``(2,) * n`` for a perfect shuffle), so it is meant for small ``n``
    (matrices of gates, reduced density matrices, joining blocks); states use
    :func:`apply_matrix` instead.
    """
    n = num_qubits_of(state)
    if sorted(order) != list(range(n)):
        raise ValueError(f"order {list(order)} is not a permutation of 0..{n - 1}")
    # qubits that stay adjacent and in order move as one axis: fewer, larger axes
    runs = [[order[0]]]
    for o in order[1:]:
        if o == runs[-1][-1] + 1:
            runs[-1].append(o)
        else:
            runs.append([o])
    source = sorted(runs, key=lambda run: run[0])
    nb = state.ndim - 1
    x = state.reshape(*state.shape[:-1], *(1 << len(run) for run in source))
    return x.permute(*range(nb), *(nb + source.index(run) for run in runs)).reshape(state.shape)


def reduce_to(values: torch.Tensor, keep: Sequence[int]) -> torch.Tensor:
    """Sum a flat tensor over every qubit not in ``keep``.

    Returns shape ``(*batch, 2**len(keep))`` over ``keep`` in the order given;
    used for marginal probabilities and for Pauli expectations.
    """
    n = num_qubits_of(values)
    k = len(keep)
    targets = sorted(keep)
    shape = grouped_shape(n, targets)
    nb = values.ndim - 1
    x = values.reshape(*values.shape[:-1], *shape)
    summed = x.sum(dim=[nb + 2 * j for j in range(k + 1)])
    reduced = summed.reshape(*values.shape[:-1], 1 << k)
    order = [targets.index(q) for q in keep]
    if order != list(range(k)):
        reduced = permute_qubits(reduced, order)
    return reduced


# rows kept per chunk of a reduced-state product
_CHUNK_ELEMENTS = 1 << 16


def gram_over_axes(x: torch.Tensor, kept_axes: list[int], batch: int = 0) -> torch.Tensor:
    """``sum over the other axes of x[kept] conj(x[kept'])`` as a ``(K, K)`` matrix.

    ``x``'s first ``batch`` axes are kept apart. The sum is split into chunks:
    when the kept axes lead or trail, each chunk (a sixteenth of ``x`` on the
    CPU) is a slice of a matrix view and costs no copy; otherwise each chunk
    (an eighth on the CPU, a half on CUDA) is cut along the largest other axis
    and permuted. On the CPU peak memory stays within about 1.3 times ``x``.
    """
    lead = x.shape[:batch]
    core = x.shape[batch:]
    kept = math.prod(x.shape[a] for a in kept_axes)
    rest = x[(0,) * batch].numel() // kept if batch else x.numel() // kept
    positions = [a - batch for a in kept_axes]
    if x.is_cuda:  # one product per view (launches cost more than memory); permuted copies in halves
        step, budget = rest, max(_CHUNK_ELEMENTS, x.numel() // 2)
    else:  # the CPU's BLAS packs each operand once per thread: views get the smaller budget
        step = max(1, max(_CHUNK_ELEMENTS, x.numel() // 16) // kept)
        budget = max(_CHUNK_ELEMENTS, x.numel() // 8)
    if positions == list(range(len(positions))):  # kept axes first: C C^H over column blocks
        m = x.reshape(*lead, kept, rest)
        return sum(c @ c.mH for c in m.split(step, dim=-1))
    if positions == list(range(len(core) - len(positions), len(core))):  # kept axes last
        m = x.reshape(*lead, rest, kept)
        # BLAS reads c^H in place; the conjugate is taken of the small result
        return sum(c.mH @ c for c in m.split(step, dim=-2)).conj().resolve_conj()
    others = [a for a in range(batch, x.ndim) if a not in kept_axes]
    # cut along the outermost axis that allows small enough chunks: contiguous pieces
    needed = -(-x.numel() // budget)
    cuttable = [a for a in others if x.shape[a] >= needed]
    chunk_axis = cuttable[0] if cuttable else max(others, key=lambda a: x.shape[a])
    size = x.shape[chunk_axis]
    per_slice = max(1, x.numel() // size)
    result = None
    for part in x.split(max(1, budget // per_slice), dim=chunk_axis):
        m = torch.movedim(part, kept_axes, list(range(batch, batch + len(kept_axes)))).reshape(*lead, kept, -1)
        gram = m @ m.mH
        result = gram if result is None else result + gram
    return result


def cross_gram(lam: torch.Tensor, psi: torch.Tensor, qubits: Sequence[int], keep_batch: bool = False) -> torch.Tensor:
    """``G_ij = sum over all other indices of lam[.., i, ..] conj(psi[.., j, ..])`` for sorted ``qubits``.

    ``lam`` and ``psi`` are flat kets ``(*batch, 2**n)``; the result is
    ``(*batch, 2**k, 2**k)`` with ``keep_batch``, else ``(2**k, 2**k)`` summed
    over the batch too. With ``psi == lam`` it is :func:`ket_reduced`'s Gram
    matrix; here two kets meet (the gradient of an operator in the adjoint
    method: gradient times conjugate input). Targets at either end
    of the register or with a long contiguous tail are matrix products of
    views; otherwise the target axes are gathered first (one copy).
    """
    n = lam.shape[-1].bit_length() - 1
    k = len(qubits)
    dim = 1 << k
    keep = lam.shape[:-1] if keep_batch else ()
    lo, hi = qubits[0], qubits[-1]
    if hi - lo + 1 == k:
        after = 1 << (n - 1 - hi)
        x = lam.reshape(*keep, -1, dim, after)
        y = psi.reshape(*keep, -1, dim, after)
        if after == 1:
            return (y.squeeze(-1).mH @ x.squeeze(-1)).mT
        if x.shape[-3] == 1:
            return x.squeeze(-3) @ y.squeeze(-3).mH
        if after >= dim:
            return (x @ y.mH).sum(-3)
        if after <= 4:  # rows of (target, trailing qubits): a wider Gram matrix, then its partial trace
            wide = cross_gram(lam, psi, list(range(lo, n)), keep_batch)
            return wide.reshape(*keep, dim, after, dim, after).diagonal(dim1=-3, dim2=-1).sum(-1)
        x, y = x.transpose(-3, -2), y.transpose(-3, -2)
    else:
        shape = grouped_shape(n, qubits)
        nb = len(keep)
        x = lam.reshape(*keep, -1, *shape[1:])
        y = psi.reshape(*keep, -1, *shape[1:])
        axes = [nb + 2 * j + 1 for j in range(k)]
        x = torch.movedim(x, axes, list(range(nb, nb + k)))
        y = torch.movedim(y, axes, list(range(nb, nb + k)))
    x = x.reshape(*keep, dim, -1)
    y = y.reshape(*keep, dim, -1)
    return x @ y.mH


def ket_reduced(amps: torch.Tensor, keep: Sequence[int]) -> torch.Tensor:
    """Reduced density matrix ``(*batch, 2**k, 2**k)`` of flat kets over sorted ``keep``.

    ``rho = C C^dagger`` with ``C`` the kept qubits as rows, from a grouped view
    (:func:`gram_over_axes`): ``O(2**n * 2**k)``, never a ``2**n x 2**n`` matrix.
    """
    n = num_qubits_of(amps)
    shape, axes = run_grouped_shape(n, keep)
    batch = amps.ndim - 1
    # size-1 axes carry nothing: drop them so "kept axes first/last" is recognised
    squeezed = [a for a in range(len(shape)) if shape[a] > 1 or a in axes]
    x = amps.reshape(*amps.shape[:-1], *[shape[a] for a in squeezed])
    return gram_over_axes(x, [batch + squeezed.index(a) for a in axes], batch)


def trace_out(rho: torch.Tensor, keep: Sequence[int]) -> torch.Tensor:
    """Partial trace of operators ``(*batch, 2**n, 2**n)`` down to sorted ``keep``.

    One einsum on the grouped view with each traced group's row and column
    index equal: only the entries with equal traced indices are read.
    """
    n = num_qubits_of(rho)
    shape, axes = run_grouped_shape(n, keep)
    batch = rho.ndim - 2
    letters = iter(string.ascii_letters)
    batch_idx = [next(letters) for _ in range(batch)]
    rows, cols, kept_rows, kept_cols = [], [], [], []
    for j in range(len(shape)):
        if j in axes:
            r, c = next(letters), next(letters)
            rows.append(r)
            cols.append(c)
            kept_rows.append(r)
            kept_cols.append(c)
        else:
            t = next(letters)  # a traced group: the same index on rows and columns
            rows.append(t)
            cols.append(t)
    equation = "".join(batch_idx + rows + cols) + "->" + "".join(batch_idx + kept_rows + kept_cols)
    x = rho.reshape(*rho.shape[:-2], *shape, *shape)
    k = 1 << len(keep)
    return contract(equation, x).reshape(*rho.shape[:-2], k, k)
