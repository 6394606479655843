"""Tensor regression and tensor contraction layers (Kossaifi et al., 2017-2020).

Both keep the multi-way structure of activations instead of flattening them:
a TRL maps ``(batch, *input_shape)`` to ``(batch, *output_shape)`` through a
low-rank regression tensor ``W (*input_shape, *output_shape)``; a TCL
multiplies each mode by its own small matrix.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..tensor.tucker import tucker_to_dense
from .factorized_tensors import CPTensor, TTTensor, TuckerTensor, contract_network, entries
from .ranks import check_factorization, check_shape

__all__ = ["TRL", "TCL"]


def _check_input(x: torch.Tensor, shape: tuple[int, ...], layer: str) -> None:
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"{layer} expects input (batch, {', '.join(map(str, shape))}), got {tuple(x.shape)}")


class TRL(nn.Module):
    """Tensor regression layer: ``y[b, o] = sum_i x[b, i] W[i, o] + bias[o]`` with ``W`` factorized.

    Replaces flatten + linear. ``rank``: Tucker ranks (one per mode of
    ``(*input_shape, *output_shape)``), CP rank or TT ranks, or a float
    fraction of the dense parameter count.
    """

    def __init__(
        self, input_shape, output_shape, rank="same", factorization: str = "tucker", bias: bool = True,
        device=None, dtype=None,
    ) -> None:
        super().__init__()
        self.input_shape = check_shape(input_shape, "input_shape")
        self.output_shape = check_shape(output_shape, "output_shape")
        self.factorization = check_factorization(factorization, ("tucker", "cp", "tt"))
        shape = (*self.input_shape, *self.output_shape)
        kw = {"device": device, "dtype": dtype}
        cls = {"tucker": TuckerTensor, "cp": CPTensor, "tt": TTTensor}[self.factorization]
        self.weight_tensor = cls(shape, rank, **kw)
        self.bias = nn.Parameter(torch.zeros(self.output_shape, **kw)) if bias else None
        self.reset_parameters()

    @property
    def rank(self):
        return self.weight_tensor.rank

    def reset_parameters(self) -> None:
        """Regression weights with std 1/sqrt(3 * inputs), as ``nn.Linear``; bias zero."""
        self.weight_tensor.reset_parameters(1 / math.sqrt(3 * math.prod(self.input_shape)))
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.input_shape, "TRL")
        y = contract_network(self.weight_tensor, x, list(range(len(self.input_shape))))
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (
            f"input_shape={self.input_shape}, output_shape={self.output_shape}, "
            f"factorization={self.factorization!r}, rank={self.rank}"
        )


class TCL(nn.Module):
    """Tensor contraction layer: ``y = x x_1 U_1 x_2 … x_d U_d (+ bias)``, ``U_k (O_k, I_k)``."""

    def __init__(self, input_shape, output_shape, bias: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        self.input_shape = check_shape(input_shape, "input_shape")
        self.output_shape = check_shape(output_shape, "output_shape")
        if len(self.input_shape) != len(self.output_shape):
            raise ValueError(
                f"a TCL maps each mode to one mode: input_shape {self.input_shape} and "
                f"output_shape {self.output_shape} need the same length"
            )
        kw = {"device": device, "dtype": dtype}
        self.factors = nn.ParameterList(
            [nn.Parameter(torch.empty(o, i, **kw)) for o, i in zip(self.output_shape, self.input_shape)]
        )
        self.bias = nn.Parameter(torch.zeros(self.output_shape, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Each factor with std 1/sqrt(I_k): the output keeps the scale of the input."""
        with torch.no_grad():
            for f in self.factors:
                f.normal_(0.0, 1 / math.sqrt(f.shape[1]))
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.input_shape, "TCL")
        # a Tucker product: x is the core, the batch its one unfactored mode
        y = tucker_to_dense(x, entries(self.factors), modes=range(1, x.ndim))
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, output_shape={self.output_shape}, bias={self.bias is not None}"
