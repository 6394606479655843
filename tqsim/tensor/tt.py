"""Tensor trains (TT = MPS) and TT-matrices (MPO): build, contract, canonicalize, round.

A tensor train of order ``d`` is a list of cores ``G_k`` of shape
``(r_{k-1}, n_k, r_k)`` with ``r_0 = r_d = 1``; entry ``T[i_1, ..., i_d]`` is the
matrix product ``G_1[:, i_1, :] ... G_d[:, i_d, :]``. A TT-matrix has cores
``(r_{k-1}, m_k, n_k, r_k)`` (output index before input index). Matrix product
states and tensor-train layers are both built from these routines.

"Left-orthogonal" core: reshaped to ``(r_{k-1} n_k, r_k)`` it has orthonormal
columns. A train is in mixed canonical form with centre ``c`` when cores left
of ``c`` are left-orthogonal and cores right of ``c`` right-orthogonal; then the
norm of the whole train is the norm of core ``c``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from opt_einsum import get_symbol

from .contract import contract
from .svd import svd, truncated_svd

__all__ = [
    "tt_from_dense",
    "tt_terms",
    "tt_merge",
    "tt_sum",
    "tt_to_dense",
    "tt_orthogonalize",
    "tt_move_center",
    "tt_round",
    "tt_inner",
    "tt_norm",
    "ttm_apply",
    "ttm_to_dense",
    "ttm_from_dense",
    "ttm_matmul",
    "split_core",
    "check_cores",
]

Cores = list[torch.Tensor]


def check_cores(cores: Sequence[torch.Tensor], order: int = 3) -> None:
    """Raise ValueError unless ``cores`` form a train: ``order`` axes each, chained ranks, boundary ranks 1."""
    if not cores:
        raise ValueError("a tensor train needs at least one core")
    for k, core in enumerate(cores):
        if core.ndim != order:
            raise ValueError(f"core {k} has shape {tuple(core.shape)}; expected {order} axes")
        if k and cores[k - 1].shape[-1] != core.shape[0]:
            raise ValueError(
                f"cores {k - 1} and {k} do not chain: ranks {cores[k - 1].shape[-1]} and {core.shape[0]}"
            )
    if cores[0].shape[0] != 1 or cores[-1].shape[-1] != 1:
        raise ValueError("boundary ranks of a tensor train must be 1")


def tt_from_dense(
    tensor: torch.Tensor,
    max_rank: int | Sequence[int] | None = None,
    cutoff: float = 0.0,
    shape: Sequence[int] | None = None,
) -> tuple[Cores, float]:
    """TT-SVD: split a dense tensor into cores, left to right.

    ``max_rank`` bounds every bond, or each of the ``d - 1`` bonds when a
    sequence. ``shape`` gives the mode sizes when ``tensor`` is stored flat (a
    state of 30 qubits need never be viewed with 30 axes). Returns the cores
    (left-orthogonal but the last) and the total discarded weight (relative,
    summed over the splits).
    """
    shape = list(tensor.shape if shape is None else shape)
    bond_limits = list(max_rank) if isinstance(max_rank, (list, tuple, range)) else [max_rank] * (len(shape) - 1)
    if len(bond_limits) != len(shape) - 1:
        raise ValueError(f"max_rank {max_rank} needs one entry per bond ({len(shape) - 1} for shape {shape})")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError("tensor-train decomposition of a tensor with NaN or infinite entries; only finite tensors can be split")
    if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"mode sizes must be positive ints, got {shape}")
    size = 1
    for s in shape:
        size *= s
    if size != tensor.numel():
        raise ValueError(f"shape {shape} does not match a tensor of {tensor.numel()} entries")
    cores: Cores = []
    discarded = 0.0
    rest = tensor.reshape(1, -1)
    for k, size in enumerate(shape[:-1]):
        rank = rest.shape[0]
        split = truncated_svd(rest.reshape(rank * size, -1), bond_limits[k], cutoff)
        cores.append(split.u.reshape(rank, size, -1))
        discarded += split.discarded
        rest = split.s.to(split.vh.dtype).unsqueeze(-1) * split.vh
    cores.append(rest.reshape(rest.shape[0], shape[-1], 1))
    return cores, discarded


def tt_terms(order: int, first: int = 0) -> tuple[list[str], list[str]]:
    """Einsum terms of a train's cores ``(r, n_k, r')`` and its mode symbols (numbered from ``first``)."""
    modes = [get_symbol(first + k) for k in range(order)]
    bonds = [get_symbol(first + order + k) for k in range(order + 1)]
    return [bonds[k] + modes[k] + bonds[k + 1] for k in range(order)], modes


def tt_merge(cores: Sequence[torch.Tensor]) -> torch.Tensor:
    """Contract a run of neighbouring cores into one core ``(r_first, prod n_k, r_last)``."""
    block = cores[0]
    for core in cores[1:]:
        # (a N, b) @ (b, n c) -> (a, N n, c): one product of free views
        block = (block.reshape(-1, core.shape[0]) @ core.reshape(core.shape[0], -1)).reshape(
            block.shape[0], -1, core.shape[-1])
    return block


def tt_to_dense(cores: Sequence[torch.Tensor]) -> torch.Tensor:
    """Contract a train into the dense tensor ``(n_1, ..., n_d)``."""
    check_cores(cores)
    result = cores[0].reshape(-1, cores[0].shape[-1])  # (n_1, r_1)
    for core in cores[1:]:
        # (N, r) x (r, n, r') -> (N * n, r')
        result = (result @ core.reshape(core.shape[0], -1)).reshape(-1, core.shape[-1])
    return result.reshape(*(c.shape[1] for c in cores))


def split_core(matrix: torch.Tensor, direction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Factor ``matrix = Q R`` (``direction='left'``: Q has orthonormal columns)
    or ``matrix = L Q`` (``'right'``: Q has orthonormal rows).

    QR when the orthonormal factor is at least as tall as it is wide, an SVD
    otherwise; gradients flow through both.
    """
    if direction == "right":
        q, r = split_core(matrix.mH, "left")
        return r.mH, q.mH
    m, n = matrix.shape
    if m >= n:
        return torch.linalg.qr(matrix)
    u, s, vh = svd(matrix)
    return u, s.to(vh.dtype).unsqueeze(-1) * vh


def _sweep(cores: Cores, start: int, stop: int) -> None:
    """Move orthogonality from ``start`` towards ``stop`` (in place, one step at a time)."""
    step = 1 if stop > start else -1
    for k in range(start, stop, step):
        core = cores[k]
        r0, n, r1 = core.shape
        if step == 1:
            q, r = split_core(core.reshape(r0 * n, r1), "left")
            cores[k] = q.reshape(r0, n, -1)
            cores[k + 1] = contract("ab,bnc->anc", r, cores[k + 1])
        else:
            l, q = split_core(core.reshape(r0, n * r1), "right")
            cores[k] = q.reshape(-1, n, r1)
            cores[k - 1] = contract("anb,bc->anc", cores[k - 1], l)


def tt_orthogonalize(cores: Sequence[torch.Tensor], center: int) -> Cores:
    """Mixed canonical form with orthogonality centre ``center`` (a new list)."""
    check_cores(cores)
    if not 0 <= center < len(cores):
        raise IndexError(f"center {center} out of range for {len(cores)} cores")
    cores = list(cores)
    _sweep(cores, 0, center)
    _sweep(cores, len(cores) - 1, center)
    return cores


def tt_move_center(cores: Cores, old: int, new: int) -> None:
    """Move the centre of a train already in mixed canonical form (in place)."""
    _sweep(cores, old, new)


def tt_round(
    cores: Sequence[torch.Tensor], max_rank: int | None = None, cutoff: float = 0.0
) -> tuple[Cores, float]:
    """Recompress a train to lower ranks (Oseledets' TT-rounding).

    Right-orthogonalize, then truncate every bond with an SVD from left to
    right. Returns the new cores (centre at the last core) and the total
    relative discarded weight.
    """
    cores = tt_orthogonalize(cores, 0)
    discarded = 0.0
    for k in range(len(cores) - 1):
        r0, n, r1 = cores[k].shape
        split = truncated_svd(cores[k].reshape(r0 * n, r1), max_rank, cutoff)
        cores[k] = split.u.reshape(r0, n, -1)
        carry = split.s.to(split.vh.dtype).unsqueeze(-1) * split.vh
        cores[k + 1] = contract("ab,bnc->anc", carry, cores[k + 1])
        discarded += split.discarded
    return cores, discarded


def tt_sum(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Cores of the train ``a + b``: bond dimensions add, inner cores are block diagonal."""
    if len(a) == 1:
        return [a[0] + b[0]]
    inner = [torch.stack([torch.block_diag(x[:, s], y[:, s]) for s in range(x.shape[1])], 1)
             for x, y in zip(a[1:-1], b[1:-1])]
    return [torch.cat([a[0], b[0]], 2), *inner, torch.cat([a[-1], b[-1]], 0)]


def tt_inner(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    """``<a|b> = sum conj(a) * b`` of two trains with the same mode sizes."""
    check_cores(a)
    check_cores(b)
    sizes_a, sizes_b = [c.shape[1] for c in a], [c.shape[1] for c in b]
    if sizes_a != sizes_b:
        raise ValueError(f"trains have different mode sizes {sizes_a} and {sizes_b}")
    env = torch.ones(1, 1, dtype=b[0].dtype, device=b[0].device)
    for ca, cb in zip(a, b):
        # env[a', b'] after one site: sum over the previous bonds and the mode
        env = contract("xy,xnz,ynw->zw", env, ca.conj(), cb)
    return env.reshape(())


def tt_norm(cores: Sequence[torch.Tensor]) -> torch.Tensor:
    """The 2-norm of a train."""
    return tt_inner(cores, cores).real.clamp_min(0).sqrt()


def ttm_apply(matrix_cores: Sequence[torch.Tensor], cores: Sequence[torch.Tensor]) -> Cores:
    """A TT-matrix times a train: ranks multiply (round afterwards if needed)."""
    check_cores(matrix_cores, 4)
    check_cores(cores)
    if len(matrix_cores) != len(cores):
        raise ValueError(f"{len(matrix_cores)} matrix cores cannot act on {len(cores)} cores")
    result = []
    for k, (m, c) in enumerate(zip(matrix_cores, cores)):
        if m.shape[2] != c.shape[1]:
            raise ValueError(f"core {k}: matrix input size {m.shape[2]} does not match mode size {c.shape[1]}")
        # (a, out, in, b) x (x, in, y) -> (a x, out, b y)
        t = contract("aijb,xjy->axiby", m, c)
        result.append(t.reshape(m.shape[0] * c.shape[0], m.shape[1], m.shape[3] * c.shape[2]))
    return result


def ttm_to_dense(matrix_cores: Sequence[torch.Tensor]) -> torch.Tensor:
    """The dense matrix ``(prod m_k, prod n_k)`` of a TT-matrix."""
    check_cores(matrix_cores, 4)
    d = len(matrix_cores)
    # fuse (out, in) of each core into one mode, contract as a train, then unfold
    fused = [m.reshape(m.shape[0], m.shape[1] * m.shape[2], m.shape[3]) for m in matrix_cores]
    dense = tt_to_dense(fused).reshape(*[s for m in matrix_cores for s in m.shape[1:3]])
    out_axes = list(range(0, 2 * d, 2))
    in_axes = list(range(1, 2 * d, 2))
    rows = 1
    for m in matrix_cores:
        rows *= m.shape[1]
    return dense.permute(out_axes + in_axes).reshape(rows, -1)


def ttm_from_dense(
    matrix: torch.Tensor,
    out_shape: Sequence[int],
    in_shape: Sequence[int],
    max_rank: int | Sequence[int] | None = None,
    cutoff: float = 0.0,
) -> tuple[Cores, float]:
    """TT-SVD of a matrix ``(prod out_shape, prod in_shape)`` into TT-matrix cores."""
    out_shape, in_shape = list(out_shape), list(in_shape)
    if len(out_shape) != len(in_shape):
        raise ValueError(f"out_shape {out_shape} and in_shape {in_shape} must have the same length")
    rows = cols = 1
    for s in out_shape:
        rows *= s
    for s in in_shape:
        cols *= s
    if tuple(matrix.shape) != (rows, cols):
        raise ValueError(f"matrix of shape {tuple(matrix.shape)} does not match {out_shape} x {in_shape}")
    d = len(out_shape)
    # interleave (out_k, in_k) so each core owns one pair
    t = matrix.reshape(*out_shape, *in_shape)
    t = t.permute([j for k in range(d) for j in (k, d + k)])
    t = t.reshape(*[o * i for o, i in zip(out_shape, in_shape)])
    cores, discarded = tt_from_dense(t, max_rank, cutoff)
    return [c.reshape(c.shape[0], o, i, c.shape[-1]) for c, o, i in zip(cores, out_shape, in_shape)], discarded


def ttm_matmul(
    matrix_cores: Sequence[torch.Tensor], x: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Rows of ``x`` ``(batch, prod n_k)`` times the transposed TT-matrix (plus ``bias``): ``(batch, prod m_k)``.

    Equals ``x @ ttm_to_dense(matrix_cores).T + bias`` without forming the
    matrix. The cores are taken last to first and each one multiplies from the
    left, through the free view ``(r m, n r')`` of its ``(r, m, n, r')``
    entries: the outputs come out in big-endian order and no intermediate is
    ever copied.
    """
    check_cores(matrix_cores, 4)
    ins = [m.shape[2] for m in matrix_cores]
    outs = math.prod(m.shape[1] for m in matrix_cores)
    if x.ndim != 2 or x.shape[1] != math.prod(ins):
        raise ValueError(f"input of shape {tuple(x.shape)} does not match a TT-matrix with {math.prod(ins)} columns")
    if bias is not None and tuple(bias.shape) != (outs,):
        raise ValueError(f"bias of shape {tuple(bias.shape)} does not match the TT-matrix's {outs} rows")
    batch = x.shape[0]
    r, m, n, _ = matrix_cores[-1].shape
    if len(matrix_cores) == 1:
        return F.linear(x, matrix_cores[0].reshape(m, n), bias)
    # t is (B * N_<k, r_{k-1} * M) with N_<k the inputs still to contract and
    # M the outputs made so far (index order: rows, bond, outputs); row
    # counts are spelled out so that an empty batch works too
    t = F.linear(x.reshape(batch * math.prod(ins[:-1]), n), matrix_cores[-1].reshape(r * m, n))
    made = m
    for k in range(len(matrix_cores) - 2, -1, -1):
        r, m, n, r_next = matrix_cores[k].shape
        t = t.reshape(batch * math.prod(ins[:k]), n * r_next, made)  # split off the input mode n_k and its bond
        weight = matrix_cores[k].reshape(r * m, n * r_next)
        made *= m
        # one batched product over the view (matmul would first copy a
        # transposed layout of t); on the last core (r = 1, t is (B, m_1, M))
        # the bias rides along
        batched = weight.expand(t.shape[0], -1, -1)
        if k == 0 and bias is not None:
            t = torch.baddbmm(bias.reshape(1, m, -1), batched, t)
        else:
            t = torch.bmm(batched, t)
    return t.reshape(batch, outs)
