"""Tucker tensors: a core multiplied by one factor matrix per (chosen) mode.

``T = G x_{m_1} U_1 ... x_{m_k} U_k`` with ``U_j`` of shape ``(n_{m_j}, R_j)``.
With factors on every mode this is the full Tucker form; on a subset it is a
partial Tucker (Tucker-2 convolutions factor only the two channel modes).
"""

from __future__ import annotations

from typing import Sequence

import torch
from opt_einsum import get_symbol

from .decomposition import check_decomposable, torch_backend
from .contract import contract

__all__ = ["tucker_terms", "tucker_to_dense", "tucker_from_dense"]


def _modes(modes, order: int) -> list[int]:
    """Distinct modes of a tensor of ``order`` axes (all of them when None)."""
    modes = list(range(order)) if modes is None else list(modes)
    if any(isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < order for m in modes) or len(set(modes)) != len(modes):
        raise ValueError(f"modes {modes} must be distinct ints in 0..{order - 1}")
    return modes


def tucker_terms(order: int, modes: Sequence[int], first: int = 0) -> tuple[list[str], list[str]]:
    """Einsum terms of a Tucker tensor (core, then one factor per mode in ``modes``) and its mode symbols.

    The core keeps the dense symbol on unfactored modes and gets a rank
    symbol on factored ones; symbols are numbered from ``first``.
    """
    symbols = [get_symbol(first + k) for k in range(order)]
    core = list(symbols)
    factor_terms = []
    for j, mode in enumerate(modes):
        core[mode] = get_symbol(first + order + j)
        factor_terms.append(symbols[mode] + core[mode])
    return ["".join(core)] + factor_terms, symbols


def tucker_to_dense(
    core: torch.Tensor, factors: Sequence[torch.Tensor], modes: Sequence[int] | None = None
) -> torch.Tensor:
    """Multiply ``core`` by ``factors[j]`` along ``modes[j]`` (every mode when ``modes`` is None)."""
    modes = _modes(modes, core.ndim)
    if len(modes) != len(factors):
        raise ValueError(f"{len(factors)} factors for modes {modes}")
    for mode, f in zip(modes, factors):
        if f.ndim != 2 or f.shape[1] != core.shape[mode]:
            raise ValueError(
                f"factor for mode {mode} has shape {tuple(f.shape)}; expected (n, {core.shape[mode]})"
            )
    terms, symbols = tucker_terms(core.ndim, modes)
    return contract(",".join(terms) + "->" + "".join(symbols), core, *factors)


def tucker_from_dense(
    tensor: torch.Tensor,
    rank: Sequence[int],
    modes: Sequence[int] | None = None,
    n_iter_max: int = 100,
    seed: int = 0,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Tucker (or partial Tucker on ``modes``) by higher-order orthogonal iteration (tensorly).

    ``rank`` has one entry per decomposed mode. Returns ``(core, factors)``.
    """
    check_decomposable(tensor, "Tucker decomposition")
    modes = _modes(modes, tensor.ndim)
    rank = list(rank)
    if len(rank) != len(modes):
        raise ValueError(f"Tucker rank {rank} needs one entry per mode in {modes}")
    for mode, r in zip(modes, rank):
        if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= tensor.shape[mode]:
            raise ValueError(f"Tucker rank {r!r} of mode {mode} must be an int in 1..{tensor.shape[mode]}")
    from tensorly.decomposition import partial_tucker

    with torch_backend():
        (core, factors), _ = partial_tucker(
            tensor.detach(), rank, modes=modes, n_iter_max=n_iter_max, init="svd", random_state=seed
        )
    return core.to(tensor.dtype), [f.to(tensor.dtype) for f in factors]
