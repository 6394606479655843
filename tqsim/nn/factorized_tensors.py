"""Factorized tensors as ``nn.Module``s: CP, Tucker, tensor train and TT-matrix.

Each holds its factors as parameters, rebuilds the dense tensor on request
(``to_tensor()``) and describes itself as an einsum network so that layers can
contract inputs with the factors without ever forming the dense weight.

Rank components (CP terms, Tucker core fibres along each mode, TT bonds) can be
rescaled by tensor dropout and by the gates of a rank lasso; ``components()``
returns the factors with those scales folded in, and everything that uses the
factors goes through it.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from opt_einsum import get_symbol
from torch import nn

from ..tensor.contract import contract
from ..tensor.cp import cp_from_dense, cp_terms, cp_to_dense
from ..tensor.decomposition import check_decomposable
from ..tensor.tt import tt_from_dense, tt_terms, tt_to_dense, ttm_from_dense, ttm_to_dense
from ..tensor.tucker import tucker_from_dense, tucker_terms, tucker_to_dense
from .ranks import check_shape, cp_rank, tt_rank, tucker_rank

__all__ = ["FactorizedTensor", "CPTensor", "TuckerTensor", "TTTensor", "TTMatrix", "contract_network", "adopt"]


class FactorizedTensor(nn.Module):
    """Common behaviour: rank-component scales (dropout, lasso gates) and the dense view.

    Subclasses set ``shape`` (the dense shape), ``rank_sizes`` (the length of
    each axis that dropout and the lasso act on) and implement ``_scaled`` and
    ``_terms``.
    """

    shape: tuple[int, ...]
    rank_sizes: tuple[int, ...]

    def __init__(self, dtype=None) -> None:
        super().__init__()
        if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
            raise TypeError(f"factorized weights are real floating point; dtype {dtype} is not (use float32 or float64)")
        self.dropout_p = 0.0
        self.rank_gates: nn.ParameterList | None = None
        self._equations: dict[tuple[int, ...], str] = {}

    # -- rank components -------------------------------------------------
    def rank_scales(self) -> list[torch.Tensor | None]:
        """Per rank axis, the factor each component is multiplied by (None: untouched)."""
        scales: list[torch.Tensor | None] = [None] * len(self.rank_sizes)
        if self.rank_gates is not None:
            scales = list(self.rank_gates)
        if self.training and self.dropout_p > 0:
            keep = 1.0 - self.dropout_p
            ref = next(self.parameters())
            for k, size in enumerate(self.rank_sizes):
                # inverted dropout: kept components scaled by 1/keep, so the
                # expected tensor is the undropped one
                mask = (torch.rand(size, device=ref.device) < keep).to(ref.dtype) / keep
                scales[k] = mask if scales[k] is None else scales[k] * mask
        return scales

    def components(self) -> list[torch.Tensor]:
        """The factors with dropout masks and lasso gates applied."""
        if self.rank_gates is None and not (self.training and self.dropout_p > 0):
            return self.factor_parameters()  # nothing to scale: skip the bookkeeping
        return self._scaled(self.rank_scales())

    def to_tensor(self) -> torch.Tensor:
        """The dense tensor (for a TT-matrix: the ``(out, in)`` matrix)."""
        raise NotImplementedError

    def factor_parameters(self) -> list[nn.Parameter]:
        """The parameters, in the order ``components()`` returns their scaled values."""
        raise NotImplementedError

    def _scaled(self, scales: list[torch.Tensor | None]) -> list[torch.Tensor]:
        raise NotImplementedError

    def _terms(self, first: int) -> tuple[list[str], list[str]]:
        """Einsum terms of the components and the symbol of each dense mode (CP, Tucker and
        TT; a TT-matrix is contracted by ``ttm_matmul`` instead)."""
        raise NotImplementedError(f"{type(self).__name__} is not contracted as an einsum network")

    def equation(self, contracted: tuple[int, ...]) -> str:
        """The einsum of ``contract_network``: a batch index, the contracted modes, the components.

        Built once per set of contracted modes (the structure never changes).
        """
        if contracted not in self._equations:
            terms, modes = self._terms(first=1)
            batch = get_symbol(0)
            kept = "".join(m for k, m in enumerate(modes) if k not in contracted)
            inputs = batch + "".join(modes[k] for k in contracted)
            self._equations[contracted] = inputs + "," + ",".join(terms) + "->" + batch + kept
        return self._equations[contracted]

    def extra_repr(self) -> str:
        return f"shape={self.shape}, rank={self.rank}"


def contract_network(
    tensor: FactorizedTensor, x: torch.Tensor, contracted: Sequence[int], components: list[torch.Tensor] | None = None
) -> torch.Tensor:
    """Sum ``x (batch, *shape[contracted])`` against the tensor over the ``contracted`` modes.

    Returns ``(batch, *shape[other modes])``. The dense tensor is never formed;
    opt_einsum picks the order (cached per shape by ``tqsim.tensor.contract``).
    ``components`` are the tensor's (possibly dropped-out) factors, drawn here when omitted.
    """
    components = tensor.components() if components is None else components
    return contract(tensor.equation(tuple(contracted)), x, *components)


def adopt(layer: nn.Module, decomposed: FactorizedTensor, bias: torch.Tensor | None) -> nn.Module:
    """Give a freshly built factorized layer the factors of a decomposition and the dense layer's bias."""
    layer.weight_tensor.load_state_dict(decomposed.state_dict())
    if bias is not None:
        with torch.no_grad():
            layer.bias.copy_(bias)
    return layer


def entries(parameters: nn.ParameterList) -> list[nn.Parameter]:
    """The entries of a ParameterList, in order, read from its parameter dict:
    iterating the list goes through one ``__getattr__`` per entry, which costs
    more than the product of a small layer."""
    return list(parameters._parameters.values())


def _normal_(tensor: torch.Tensor, std: float) -> None:
    with torch.no_grad():
        tensor.normal_(0.0, std)


class CPTensor(FactorizedTensor):
    """``T = sum_r w_r a_1r o … o a_dr``: weights ``(R,)`` and factors ``(n_k, R)``.

    Dropout and the lasso act on the ``R`` rank-one terms.
    """

    def __init__(self, shape, rank, *, std: float = 0.02, device=None, dtype=None) -> None:
        super().__init__(dtype)
        self.shape = check_shape(shape)
        self.rank = cp_rank(rank, self.shape)
        self.rank_sizes = (self.rank,)
        kw = {"device": device, "dtype": dtype}
        self.weights = nn.Parameter(torch.ones(self.rank, **kw))
        self.factors = nn.ParameterList([nn.Parameter(torch.empty(n, self.rank, **kw)) for n in self.shape])
        self.reset_parameters(std)

    def reset_parameters(self, std: float = 0.02) -> None:
        """Weights one, factors N(0, s^2) with R s^(2d) = std^2: entries of the tensor have variance std^2."""
        with torch.no_grad():
            self.weights.fill_(1.0)
        for f in self.factors:
            _normal_(f, (std**2 / self.rank) ** (1 / (2 * len(self.shape))))

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor, rank, n_iter_max: int = 200) -> "CPTensor":
        """CP decomposition of ``tensor`` (ALS through tensorly)."""
        check_decomposable(tensor, "CP decomposition")
        module = cls(tensor.shape, rank, device=tensor.device, dtype=tensor.dtype)
        weights, factors = cp_from_dense(tensor, module.rank, n_iter_max=n_iter_max)
        with torch.no_grad():
            module.weights.copy_(weights)
            for p, f in zip(module.factors, factors):
                p.copy_(f)
        return module

    def factor_parameters(self):
        return [self.weights, *entries(self.factors)]

    def _scaled(self, scales):
        weights = self.weights if scales[0] is None else self.weights * scales[0]
        return [weights, *self.factors]

    def to_tensor(self) -> torch.Tensor:
        weights, *factors = self.components()
        return cp_to_dense(weights, factors)

    def _terms(self, first):
        return cp_terms(len(self.shape), first)


class TuckerTensor(FactorizedTensor):
    """A core times one factor ``(n_k, R_k)`` per factored mode (all modes, or ``modes``).

    Dropout and the lasso act on the core's fibres along each factored mode.
    """

    def __init__(self, shape, rank, *, modes: Sequence[int] | None = None, std: float = 0.02, device=None, dtype=None):
        super().__init__(dtype)
        self.shape = check_shape(shape)
        d = len(self.shape)
        self.modes = tuple(range(d)) if modes is None else tuple(modes)
        if (
            not self.modes
            or any(isinstance(m, bool) or not isinstance(m, int) for m in self.modes)
            or len(set(self.modes)) != len(self.modes)
            or not all(0 <= m < d for m in self.modes)
        ):
            raise ValueError(f"Tucker modes {self.modes} must be distinct modes of a {d}-way tensor (0..{d - 1})")
        self.rank = tucker_rank(rank, self.shape, self.modes)
        self.rank_sizes = self.rank
        core_shape = list(self.shape)
        for m, r in zip(self.modes, self.rank):
            core_shape[m] = r
        kw = {"device": device, "dtype": dtype}
        self.core = nn.Parameter(torch.empty(core_shape, **kw))
        self.factors = nn.ParameterList(
            [nn.Parameter(torch.empty(self.shape[m], r, **kw)) for m, r in zip(self.modes, self.rank)]
        )
        self.reset_parameters(std)

    def reset_parameters(self, std: float = 0.02) -> None:
        """Factors N(0, 1/R_k), core N(0, std^2): entries of the tensor have variance std^2."""
        _normal_(self.core, std)
        for f, r in zip(self.factors, self.rank):
            _normal_(f, 1 / math.sqrt(r))

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor, rank, modes: Sequence[int] | None = None) -> "TuckerTensor":
        """(Partial) Tucker decomposition of ``tensor`` by HOOI through tensorly."""
        check_decomposable(tensor, "Tucker decomposition")
        module = cls(tensor.shape, rank, modes=modes, device=tensor.device, dtype=tensor.dtype)
        core, factors = tucker_from_dense(tensor, module.rank, modes=module.modes)
        with torch.no_grad():
            module.core.copy_(core)
            for p, f in zip(module.factors, factors):
                p.copy_(f)
        return module

    def factor_parameters(self):
        return [self.core, *entries(self.factors)]

    def _scaled(self, scales):
        core = self.core
        for mode, s in zip(self.modes, scales):
            if s is not None:
                view = [1] * core.ndim
                view[mode] = -1
                core = core * s.reshape(view)
        return [core, *self.factors]

    def to_tensor(self) -> torch.Tensor:
        core, *factors = self.components()
        return tucker_to_dense(core, factors, self.modes)

    def _terms(self, first):
        return tucker_terms(len(self.shape), self.modes, first)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, rank={self.rank}, modes={self.modes}"


class _Train(FactorizedTensor):
    """What tensor trains and TT-matrices share: cores, their init, bond scales."""

    cores: nn.ParameterList

    def reset_parameters(self, std: float = 0.02) -> None:
        """Core entries N(0, s^2) with prod(ranks) s^(2d) = std^2: tensor entries have variance std^2."""
        s = (std**2 / math.prod(self.rank)) ** (1 / (2 * len(self.cores)))
        for core in self.cores:
            _normal_(core, s)

    def _load_cores(self, cores: list[torch.Tensor]) -> None:
        """Copy decomposed cores in, zero-padding bonds the SVD found to be of lower rank."""
        with torch.no_grad():
            for p, c in zip(self.cores, cores):
                p.zero_()
                p[tuple(slice(0, s) for s in c.shape)] = c

    def factor_parameters(self):
        return entries(self.cores)

    def _scaled(self, scales):
        cores = list(self.cores)
        for k, s in enumerate(scales):
            if s is not None:
                cores[k] = cores[k] * s  # the last axis of core k is bond k + 1
        return cores


class TTTensor(_Train):
    """A tensor train: cores ``(r_{k-1}, n_k, r_k)``; dropout and the lasso act on the bonds."""

    def __init__(self, shape, rank, *, std: float = 0.02, device=None, dtype=None) -> None:
        super().__init__(dtype)
        self.shape = check_shape(shape)
        self.rank = tt_rank(rank, self.shape)
        self.rank_sizes = self.rank
        bonds = (1, *self.rank, 1)
        kw = {"device": device, "dtype": dtype}
        self.cores = nn.ParameterList(
            [nn.Parameter(torch.empty(bonds[k], n, bonds[k + 1], **kw)) for k, n in enumerate(self.shape)]
        )
        self.reset_parameters(std)

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor, rank) -> "TTTensor":
        """TT-SVD of ``tensor`` with the shared ``tqsim.tensor.tt_from_dense`` (as for an MPS)."""
        check_decomposable(tensor, "TT decomposition")
        module = cls(tensor.shape, rank, device=tensor.device, dtype=tensor.dtype)
        cores, _ = tt_from_dense(tensor.detach(), list(module.rank))
        module._load_cores(cores)
        return module

    def to_tensor(self) -> torch.Tensor:
        return tt_to_dense(self.components())

    def _terms(self, first):
        return tt_terms(len(self.shape), first)


class TTMatrix(_Train):
    """A TT-matrix (MPO) of shape ``(prod out_shape, prod in_shape)``: cores ``(r, m_k, n_k, r')``."""

    def __init__(self, out_shape, in_shape, rank, *, std: float = 0.02, device=None, dtype=None) -> None:
        super().__init__(dtype)
        self.out_shape = check_shape(out_shape, "out_shape")
        self.in_shape = check_shape(in_shape, "in_shape")
        if len(self.out_shape) != len(self.in_shape):
            raise ValueError(
                f"out_shape {self.out_shape} and in_shape {self.in_shape} must have the same number of modes "
                "(pad the shorter one with 1s)"
            )
        self.shape = (math.prod(self.out_shape), math.prod(self.in_shape))
        self.rank = tt_rank(rank, [m * n for m, n in zip(self.out_shape, self.in_shape)])
        self.rank_sizes = self.rank
        bonds = (1, *self.rank, 1)
        kw = {"device": device, "dtype": dtype}
        self.cores = nn.ParameterList(
            [
                nn.Parameter(torch.empty(bonds[k], m, n, bonds[k + 1], **kw))
                for k, (m, n) in enumerate(zip(self.out_shape, self.in_shape))
            ]
        )
        self.reset_parameters(std)

    @classmethod
    def from_matrix(cls, matrix: torch.Tensor, out_shape, in_shape, rank) -> "TTMatrix":
        """TT-SVD of a matrix with the shared ``tqsim.tensor.ttm_from_dense``."""
        check_decomposable(matrix, "TT-matrix decomposition")
        module = cls(out_shape, in_shape, rank, device=matrix.device, dtype=matrix.dtype)
        cores, _ = ttm_from_dense(matrix.detach(), module.out_shape, module.in_shape, list(module.rank))
        module._load_cores(cores)
        return module

    def to_tensor(self) -> torch.Tensor:
        return ttm_to_dense(self.components())

    def extra_repr(self) -> str:
        return f"out_shape={self.out_shape}, in_shape={self.in_shape}, rank={self.rank}"
