"""FactorizedLinear: a linear layer whose weight is a TT-matrix, CP, Tucker or low-rank (SVD) tensor."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..tensor.cp import khatri_rao
from ..tensor.tt import ttm_matmul
from .factorized_tensors import CPTensor, FactorizedTensor, TTMatrix, TTTensor, TuckerTensor, adopt, contract_network
from .ranks import check_factorization, check_shape, positive_int, tensorized_shape

__all__ = ["FactorizedLinear"]

LINEAR_FACTORIZATIONS = ("tt", "cp", "tucker", "svd")
IMPLEMENTATIONS = ("factorized", "reconstructed")


def _linear_shapes(in_features, out_features, in_shape, out_shape, factorization: str):
    """Tensorized shapes of the input and output, given or chosen.

    Chosen shapes have near-equal modes. A TT-matrix gets two modes (its
    forward costs about parameters x features / mode size multiply-adds per
    row, so few large modes keep it cheaper than the dense layer) and needs
    one length on both sides, padded with 1s. CP and Tucker get three (their
    cost does not grow with the order) and need no common length, so a chosen
    shape drops its padding 1s.
    """
    tt = factorization == "tt"

    def choose(features: int, order: int) -> tuple[int, ...]:
        shape = tensorized_shape(features, order)
        return shape if tt else tuple(s for s in shape if s > 1) or (1,)

    if in_shape is None:
        matching = tt and out_shape is not None  # a TT-matrix's sides have one length
        in_shape = choose(in_features, len(tuple(out_shape)) if matching else 2 if tt else 3)
    in_shape = check_shape(in_shape, "in_shape")
    if out_shape is None:
        out_shape = choose(out_features, len(in_shape) if tt else 3)
    out_shape = check_shape(out_shape, "out_shape")
    if math.prod(in_shape) != in_features:
        raise ValueError(f"in_shape {in_shape} has {math.prod(in_shape)} entries, but in_features is {in_features}")
    if math.prod(out_shape) != out_features:
        raise ValueError(f"out_shape {out_shape} has {math.prod(out_shape)} entries, but out_features is {out_features}")
    return in_shape, out_shape


class FactorizedLinear(nn.Module):
    """``y = x W^T + b`` with ``W`` held in factorized form.

    Parameters
    ----------
    in_features, out_features : int
    rank : int, tuple, float or "same"
        Ranks of the factorization; a float is the fraction of the dense
        parameter count to keep, "same" keeps the dense count.
    factorization : {"tt", "cp", "tucker", "svd"}
        "tt": a TT-matrix over ``out_shape x in_shape`` (Novikov et al. 2015);
        "cp" / "tucker": the weight viewed as a tensor ``(*out_shape, *in_shape)``;
        "svd": ``W = U V`` with ``U (out, r)``, ``V (r, in)`` (a two-core train).
    in_shape, out_shape : tuple of int, optional
        Tensorized shapes (products must equal the features); chosen
        automatically when omitted (near-equal modes: 2 for "tt", 3 otherwise).
    implementation : {"factorized", "reconstructed"}
        "factorized" contracts the input with the factors; "reconstructed"
        builds the dense weight and calls ``F.linear`` (faster for tiny layers
        with large batches, and the reference for the factorized path).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank="same",
        factorization: str = "tt",
        in_shape=None,
        out_shape=None,
        bias: bool = True,
        implementation: str = "factorized",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        self.factorization = check_factorization(factorization, LINEAR_FACTORIZATIONS)
        self.implementation = check_factorization(implementation, IMPLEMENTATIONS, "implementation")
        kw = {"device": device, "dtype": dtype}
        if self.factorization == "svd":
            if in_shape is not None or out_shape is not None:
                raise ValueError("in_shape / out_shape apply to tt, cp and tucker factorizations, not to 'svd'")
            self.in_shape, self.out_shape = (self.in_features,), (self.out_features,)
            self.weight_tensor: FactorizedTensor = TTTensor((self.out_features, self.in_features), rank, **kw)
        else:
            self.in_shape, self.out_shape = _linear_shapes(
                self.in_features, self.out_features, in_shape, out_shape, self.factorization
            )
            full_shape = (*self.out_shape, *self.in_shape)
            if self.factorization == "tt":
                self.weight_tensor = TTMatrix(self.out_shape, self.in_shape, rank, **kw)
            elif self.factorization == "cp":
                self.weight_tensor = CPTensor(full_shape, rank, **kw)
            else:
                self.weight_tensor = TuckerTensor(full_shape, rank, **kw)
        self.bias = nn.Parameter(torch.empty(self.out_features, **kw)) if bias else None
        self.reset_parameters()

    @property
    def rank(self):
        return self.weight_tensor.rank

    def reset_parameters(self) -> None:
        """The scale of ``nn.Linear``'s default init: weight and bias entries with std 1/sqrt(3 in_features)."""
        std = 1 / math.sqrt(3 * self.in_features)
        self.weight_tensor.reset_parameters(std)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            with torch.no_grad():
                self.bias.uniform_(-bound, bound)

    @property
    def weight(self) -> torch.Tensor:
        """The dense ``(out_features, in_features)`` weight, rebuilt from the factors."""
        return self.weight_tensor.to_tensor().reshape(self.out_features, self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"input of shape {tuple(x.shape)}; this layer takes (..., {self.in_features})")
        if self.implementation == "reconstructed":
            return F.linear(x, self.weight, self.bias)
        rows = x.reshape(-1, self.in_features)
        y = self._factorized_rows(rows)
        return y if x.ndim == 2 else y.reshape(*x.shape[:-1], self.out_features)

    def _factorized_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """``rows @ W.T + bias`` contracted with the factors; the bias rides on the last product."""
        parts = self.weight_tensor.components()
        if self.factorization == "tt":
            return ttm_matmul(parts, rows, self.bias)
        if self.factorization == "svd":
            u, v = parts  # cores (1, out, r) and (r, in, 1)
            return F.linear(F.linear(rows, v.reshape(v.shape[0], -1)), u.reshape(self.out_features, -1), self.bias)
        if self.factorization == "cp":
            # the R components from one product with the input factors'
            # Khatri-Rao product, weighted, then the output factors' one
            weights, *factors = parts
            d_out = len(self.out_shape)
            components = F.linear(rows, khatri_rao(factors[d_out:]).T) * weights
            return F.linear(components, khatri_rao(factors[:d_out]), self.bias)
        # Tucker: mode products in the order opt_einsum finds cheapest
        d_out, d_in = len(self.out_shape), len(self.in_shape)
        inputs = list(range(d_out, d_out + d_in))  # the weight tensor is (*out_shape, *in_shape)
        y = contract_network(self.weight_tensor, rows.reshape(-1, *self.in_shape), inputs, parts)
        y = y.reshape(-1, self.out_features)
        return y if self.bias is None else y + self.bias

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, rank, factorization: str = "tt", in_shape=None, out_shape=None, **kwargs
    ) -> "FactorizedLinear":
        """Decompose a trained ``nn.Linear`` (TT-SVD, CP-ALS, HOOI or truncated SVD)."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"from_linear needs an nn.Linear, got {type(linear).__name__}")
        weight = linear.weight.detach()
        layer = cls(
            linear.in_features,
            linear.out_features,
            rank,
            factorization,
            in_shape,
            out_shape,
            bias=linear.bias is not None,
            device=weight.device,
            dtype=weight.dtype,
            **kwargs,
        )
        if layer.factorization == "tt":
            decomposed = TTMatrix.from_matrix(weight, layer.out_shape, layer.in_shape, layer.rank)
        elif layer.factorization == "svd":
            decomposed = TTTensor.from_tensor(weight, layer.rank)
        else:
            tensor = weight.reshape(*layer.out_shape, *layer.in_shape)
            decomposed = (CPTensor if layer.factorization == "cp" else TuckerTensor).from_tensor(tensor, layer.rank)
        return adopt(layer, decomposed, linear.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, factorization={self.factorization!r}, "
            f"rank={self.rank}, in_shape={self.in_shape}, out_shape={self.out_shape}, bias={self.bias is not None}"
        )
