"""Rank regularizers: tensor dropout and the rank lasso.

Both act on rank components: CP terms, Tucker core fibres along each factored
mode, tensor-train bonds. Dropout zeroes random components while training
(kept ones scaled by 1/(1-p), so the expected tensor is unchanged); the lasso
gates every component by a learnable scale with an L1 penalty, which drives
unneeded components to zero and so reveals the rank the data needs.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from .factorized_tensors import FactorizedTensor

__all__ = ["tensor_dropout", "remove_tensor_dropout", "TensorLasso"]


def _factorized_tensors(module: nn.Module) -> list[tuple[str, FactorizedTensor]]:
    found = [(name, m) for name, m in module.named_modules() if isinstance(m, FactorizedTensor)]
    if not found:
        raise ValueError(
            f"{type(module).__name__} holds no factorized tensor (CPTensor, TuckerTensor, TTTensor, TTMatrix); "
            "use factorized layers or tqsim.nn.compress first"
        )
    return found


def tensor_dropout(module: nn.Module, p: float) -> nn.Module:
    """Drop rank components of every factorized tensor in ``module`` with probability ``p`` in training.

    Evaluation mode (``module.eval()``) never drops. ``p = 0`` or
    :func:`remove_tensor_dropout` switches it off. Returns ``module``.
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
    for _, tensor in _factorized_tensors(module):
        tensor.dropout_p = float(p)
    return module


def remove_tensor_dropout(module: nn.Module) -> nn.Module:
    """Switch tensor dropout off everywhere in ``module``; nothing of it remains."""
    return tensor_dropout(module, 0.0)


class TensorLasso:
    """L1 penalty on gates that scale each rank component.

    ``attach(model)`` gives every factorized tensor in ``model`` gates
    initialized to one (create the optimizer afterwards so it sees them);
    ``penalty(model)`` is added to the loss; ``effective_ranks(model)`` counts
    the components whose gate is still above ``threshold`` times the largest.
    """

    def __init__(self, penalty: float = 1e-2, threshold: float = 1e-2) -> None:
        if isinstance(penalty, bool) or not isinstance(penalty, numbers.Real) or not 0 < penalty < float("inf"):
            raise ValueError(f"lasso penalty must be a finite number > 0, got {penalty!r}")
        if not (isinstance(threshold, numbers.Real) and 0 < threshold < 1):
            raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
        self.penalty_weight = float(penalty)
        self.threshold = float(threshold)

    def attach(self, model: nn.Module) -> nn.Module:
        tensors = _factorized_tensors(model)
        gated = [name or type(t).__name__ for name, t in tensors if t.rank_gates is not None]
        if gated:
            raise ValueError(
                f"lasso gates are already attached to {', '.join(gated)}; attaching again would replace "
                "gates an optimizer may hold (detach first)"
            )
        for _, tensor in tensors:
            ref = next(tensor.parameters())
            tensor.rank_gates = nn.ParameterList(
                [nn.Parameter(torch.ones(size, device=ref.device, dtype=ref.dtype)) for size in tensor.rank_sizes]
            )
        return model

    def _gated(self, model: nn.Module) -> list[tuple[str, FactorizedTensor]]:
        gated = [(n, t) for n, t in _factorized_tensors(model) if t.rank_gates is not None]
        if not gated:
            raise ValueError("no lasso gates in this model; call TensorLasso.attach(model) first")
        return gated

    def penalty(self, model: nn.Module) -> torch.Tensor:
        """``penalty * sum |gate|`` over every gate in ``model`` (differentiable)."""
        return self.penalty_weight * sum(g.abs().sum() for _, t in self._gated(model) for g in t.rank_gates)

    def effective_ranks(self, model: nn.Module) -> dict[str, tuple[int, ...]]:
        """Per factorized tensor (by module name), the components still in use on each rank axis."""
        ranks = {}
        for name, tensor in self._gated(model):
            counts = []
            for gate in tensor.rank_gates:
                size = gate.detach().abs()
                counts.append(int((size > self.threshold * size.max()).sum()))
            ranks[name] = tuple(counts)
        return ranks

    def detach(self, model: nn.Module) -> nn.Module:
        """Fold the gates into the factors and remove them; the model computes the same function."""
        for _, tensor in self._gated(model):
            with torch.no_grad():
                scaled = tensor._scaled(list(tensor.rank_gates))
                for param, value in zip(tensor.factor_parameters(), scaled):
                    param.copy_(value)
            tensor.rank_gates = None
        return model

