"""Cached einsum contractions and the n-mode product.

Every einsum in tqsim goes through :func:`contract`, so the contraction path is
planned once per (equation, shapes) and reused; finding a path costs far more
than the contraction itself for the small tensors of circuits and layers.
"""

from __future__ import annotations

from functools import lru_cache

import opt_einsum
import torch

__all__ = ["contract", "contraction_cache_info", "mode_product"]


@lru_cache(maxsize=1024)
def _expression(equation: str, shapes: tuple[tuple[int, ...], ...]):
    return opt_einsum.contract_expression(equation, *shapes, optimize="auto")


def contract(equation: str, *operands: torch.Tensor) -> torch.Tensor:
    """Evaluate an einsum ``equation`` on torch tensors with a cached path.

    Parameters
    ----------
    equation : str
        Explicit einsum equation such as ``"ij,jk->ik"``.
    *operands : torch.Tensor
        The tensors, on one device and of one dtype.

    Returns
    -------
    torch.Tensor
    """
    if "->" not in equation:
        raise ValueError(f"equation {equation!r} must be explicit (contain '->')")
    inputs = equation.split("->")[0].split(",")
    if len(inputs) != len(operands):
        raise ValueError(
            f"equation {equation!r} names {len(inputs)} operands, got {len(operands)}"
        )
    shapes = tuple(tuple(op.shape) for op in operands)
    return _expression(equation, shapes)(*operands, backend="torch")


def contraction_cache_info():
    """Hit/miss statistics of the contraction-path cache (``functools`` format)."""
    return _expression.cache_info()


def mode_product(tensor: torch.Tensor, matrix: torch.Tensor, mode: int) -> torch.Tensor:
    """The n-mode product ``tensor x_mode matrix``.

    The result equals ``tensor`` with axis ``mode`` (of size ``J``) replaced by
    an axis of size ``I``: ``out[..., i, ...] = sum_j matrix[i, j] tensor[..., j, ...]``.

    Parameters
    ----------
    tensor : torch.Tensor
    matrix : torch.Tensor
        Shape ``(I, J)`` with ``J == tensor.shape[mode]``.
    mode : int
        Axis of ``tensor``; negative values count from the end.
    """
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {tuple(matrix.shape)}")
    if not -tensor.ndim <= mode < tensor.ndim:
        raise IndexError(f"mode {mode} out of range for a {tensor.ndim}-D tensor")
    mode %= tensor.ndim
    if matrix.shape[1] != tensor.shape[mode]:
        raise ValueError(
            f"matrix of shape {tuple(matrix.shape)} cannot act on mode {mode} "
            f"of size {tensor.shape[mode]}"
        )
    moved = torch.movedim(tensor, mode, -1)
    return torch.movedim(moved @ matrix.transpose(0, 1), -1, mode)
