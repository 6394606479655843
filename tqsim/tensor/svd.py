"""Truncated SVD with a gradient that stays finite on degenerate spectra.

The textbook SVD gradient divides by ``s_i**2 - s_j**2`` and by ``s_i``, so it
is infinite (or NaN) when singular values repeat or vanish, which is the
normal case for matrix product states of weakly entangled or product states.
The backward here replaces ``1/x`` by the broadened ``x / (x**2 + delta)``,
with ``delta`` tied to the largest singular value; away from degeneracies the
result equals the exact gradient to ``O(delta)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["TruncatedSVD", "svd", "truncated_svd"]

_BROADENING = 1e-12


class _SVD(torch.autograd.Function):
    """Thin SVD ``A = U diag(S) Vh`` with a broadened backward."""

    @staticmethod
    def forward(ctx, a: torch.Tensor):
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, grad_u, grad_s, grad_vh):
        u, s, vh = ctx.saved_tensors
        v = vh.mH
        m, n = u.shape[-2], vh.shape[-1]
        k = s.shape[-1]
        scale = s.max().clamp_min(1.0)  # absolute broadening for tiny or zero spectra
        s2 = s * s
        gap = s2.unsqueeze(-2) - s2.unsqueeze(-1)  # gap[i, j] = s_j**2 - s_i**2
        inv_gap = gap / (gap * gap + (_BROADENING * scale * scale) ** 2)
        inv_s = s / (s2 + (_BROADENING * scale) ** 2)

        inner = torch.zeros(k, k, dtype=u.dtype, device=u.device)
        if grad_u is not None:
            uhgu = u.mH @ grad_u
            skew_u = uhgu - uhgu.mH
            inner = inner + skew_u * s.unsqueeze(-2) * inv_gap
            if u.is_complex():
                # gauge part: i Im(diag(U^H gU)) / s
                inner = inner + torch.diag_embed(torch.diagonal(skew_u, dim1=-2, dim2=-1) * inv_s / 2)
        if grad_vh is not None:
            grad_v = grad_vh.mH
            vhgv = v.mH @ grad_v
            skew_v = vhgv - vhgv.mH
            inner = inner + s.unsqueeze(-1) * skew_v * inv_gap
        if grad_s is not None:
            inner = inner + torch.diag_embed(grad_s.to(u.dtype))
        grad_a = u @ inner @ vh
        if grad_u is not None and m > k:
            projected = grad_u - u @ (u.mH @ grad_u)
            grad_a = grad_a + (projected * inv_s.unsqueeze(-2)) @ vh
        if grad_vh is not None and n > k:
            projected = grad_v - v @ (v.mH @ grad_v)
            grad_a = grad_a + u @ (projected * inv_s.unsqueeze(-2)).mH
        return grad_a


def svd(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Thin SVD of a matrix; the broadened backward is used when ``a`` needs a gradient."""
    if a.ndim != 2:
        raise ValueError(f"svd expects a matrix, got shape {tuple(a.shape)}")
    if torch.is_grad_enabled() and a.requires_grad:
        return _SVD.apply(a)
    return torch.linalg.svd(a, full_matrices=False)


class TruncatedSVD(NamedTuple):
    u: torch.Tensor
    s: torch.Tensor
    vh: torch.Tensor
    discarded: float  # discarded weight: sum of dropped s**2 over the sum of all s**2


def truncated_svd(
    a: torch.Tensor,
    max_rank: int | None = None,
    cutoff: float = 0.0,
    relative: bool = True,
) -> TruncatedSVD:
    """SVD of ``a`` keeping the fewest singular values that meet both limits.

    Parameters
    ----------
    a : torch.Tensor
        A matrix ``(m, n)``.
    max_rank : int, optional
        Keep at most this many singular values.
    cutoff : float
        Largest allowed discarded weight ``sum(dropped s**2)``; relative to
        ``sum(s**2)`` when ``relative`` (quimb's ``'rsum2'``), absolute otherwise.
    relative : bool

    Returns
    -------
    TruncatedSVD
        ``u (m, r)``, ``s (r,)``, ``vh (r, n)`` and the relative discarded weight.
        Singular values at the level of rounding noise (``<= eps * s_max``) are
        always dropped, so factors stay full rank.
    """
    if max_rank is not None and (isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 1):
        raise ValueError(f"max_rank must be a positive int or None, got {max_rank!r}")
    if not cutoff >= 0:
        raise ValueError(f"cutoff must be >= 0, got {cutoff!r}")
    u, s, vh = svd(a)
    s_host = s.detach().to("cpu", torch.float64)
    s2 = s_host * s_host
    total = float(s2.sum())
    if total == 0.0:
        return TruncatedSVD(u[:, :1], s[:1], vh[:1], 0.0)
    noise = torch.finfo(s.dtype).eps * float(s_host[0]) * max(a.shape)
    rank = max(int((s_host > noise).sum()), 1)
    if cutoff > 0:
        # tail[r] = weight discarded when keeping r values
        tail = torch.flip(torch.cumsum(torch.flip(s2, [0]), 0), [0])
        limit = cutoff * (total if relative else 1.0)
        rank = min(rank, max(int((tail > limit).sum()), 1))
    if max_rank is not None:
        rank = min(rank, max_rank)
    discarded = float(s2[rank:].sum()) / total
    return TruncatedSVD(u[:, :rank], s[:rank], vh[:rank], discarded)
