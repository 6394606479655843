"""Calling tensorly from tqsim: always under an explicit PyTorch backend context.

tensorly keeps its backend as global state; setting it at import time (as some
libraries do) would change the behaviour of a user's own tensorly code. Every
decomposition here runs inside ``torch_backend()`` instead.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def torch_backend():
    """tensorly with its PyTorch backend for the duration of the block."""
    import tensorly

    with tensorly.backend_context("pytorch"):
        yield tensorly


def check_decomposable(tensor: torch.Tensor, what: str) -> None:
    """Refuse tensors a decomposition would turn into silent garbage."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{what} needs a torch.Tensor, got {type(tensor).__name__}")
    if tensor.is_complex() or not tensor.is_floating_point():
        raise TypeError(f"{what} needs a real floating-point tensor, got dtype {tensor.dtype}")
    if not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(f"{what}: the tensor holds {bad} NaN or infinite entries; only finite tensors can be decomposed")
