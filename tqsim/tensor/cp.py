"""CP (canonical polyadic) tensors: a sum of ``R`` rank-one terms.

``T[i_1, ..., i_d] = sum_r w_r A_1[i_1, r] ... A_d[i_d, r]``. A product state is
the rank-one case; factorized convolutions (Lebedev et al. 2014) use rank R.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import torch
from opt_einsum import get_symbol

from .decomposition import check_decomposable, torch_backend
from .contract import contract

__all__ = ["cp_terms", "cp_to_dense", "cp_from_dense", "khatri_rao"]


def cp_terms(order: int, first: int = 0) -> tuple[list[str], list[str]]:
    """Einsum terms of a CP tensor (weights, then one factor per mode) and its mode symbols.

    Symbols are numbered from ``first``, so a caller can put its own indices
    (a batch, say) below them.
    """
    modes = [get_symbol(first + k) for k in range(order)]
    rank = get_symbol(first + order)
    return [rank] + [m + rank for m in modes], modes


def cp_to_dense(weights: torch.Tensor, factors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The dense tensor ``(n_1, ..., n_d)`` of weights ``(R,)`` and factors ``(n_k, R)``."""
    if not factors:
        raise ValueError("a CP tensor needs at least one factor")
    if weights.ndim != 1:
        raise ValueError(f"CP weights must be a vector (R,), got shape {tuple(weights.shape)}")
    rank = weights.shape[0]
    for k, f in enumerate(factors):
        if f.ndim != 2 or f.shape[1] != rank:
            raise ValueError(f"factor {k} has shape {tuple(f.shape)}; expected (n_{k}, {rank})")
    terms, modes = cp_terms(len(factors))
    return contract(",".join(terms) + "->" + "".join(modes), weights, *factors)


def khatri_rao(factors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Column-wise Kronecker product of factors ``(n_k, R)``: ``(prod n_k, R)``, first factor most significant.

    Row ``(i_1, ..., i_d)`` holds ``prod_k A_k[i_k, r]``: the rank-one terms of a
    CP tensor flattened over these modes, which lets a CP layer contract its
    input with all input factors in one matrix product.
    """
    if not factors or any(f.ndim != 2 or f.shape[1] != factors[0].shape[1] for f in factors):
        raise ValueError(f"khatri_rao needs matrices with one column count, got shapes {[tuple(f.shape) for f in factors]}")
    result = factors[0]
    for f in factors[1:]:
        result = (result.unsqueeze(1) * f.unsqueeze(0)).reshape(-1, result.shape[-1])
    return result


def cp_from_dense(
    tensor: torch.Tensor, rank: int, n_iter_max: int = 200, tol: float = 0.0, seed: int = 0
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """CP decomposition by alternating least squares (tensorly's ``parafac``, SVD start).

    ALS converges slowly near the end: with tensorly's default stopping rule
    (error change below 1e-8) an exactly rank-3 tensor comes back only to ~5e-8,
    so by default all ``n_iter_max`` sweeps run (``tol=0``).
    Returns ``(weights, factors)`` in the tensor's dtype and device.
    """
    check_decomposable(tensor, "CP decomposition")
    full = tensor.numel() // max(tensor.shape) if tensor.ndim else 1
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= full:
        raise ValueError(
            f"CP rank must be an int in 1..{full} (prod(shape) / max(shape) for shape {tuple(tensor.shape)}), got {rank!r}"
        )
    from tensorly.decomposition import parafac

    with torch_backend(), warnings.catch_warnings():
        # a rank above a mode size makes tensorly's SVD start pad with random
        # columns, which is fine; its warning about it is noise here
        warnings.filterwarnings("ignore", message="Trying to compute SVD with n_eigenvecs")
        cp = parafac(tensor.detach(), rank, n_iter_max=n_iter_max, init="svd", tol=tol, random_state=seed)
    return cp.weights.to(tensor.dtype), [f.to(tensor.dtype) for f in cp.factors]
