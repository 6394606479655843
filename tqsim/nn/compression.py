"""Compressing trained models: swap dense layers for decomposed factorized ones, and count the savings."""

from __future__ import annotations

import copy
from typing import Mapping

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .conv import CONV_FACTORIZATIONS, FactorizedConv2d
from .linear import LINEAR_FACTORIZATIONS, FactorizedLinear

__all__ = ["compress", "count_parameters", "count_flops"]

_CONVERTERS = {
    nn.Linear: (FactorizedLinear.from_linear, LINEAR_FACTORIZATIONS),
    nn.Conv2d: (FactorizedConv2d.from_conv, CONV_FACTORIZATIONS),
}


def compress(
    model: nn.Module,
    rank,
    factorization: str | Mapping[type, str] = "cp",
    layers: tuple[type, ...] = (nn.Linear, nn.Conv2d),
) -> nn.Module:
    """A copy of ``model`` with every ``layers`` module replaced by its decomposition.

    Parameters
    ----------
    model : nn.Module
        Left untouched.
    rank : int, tuple, float or "same"
        Passed to ``FactorizedLinear.from_linear`` / ``FactorizedConv2d.from_conv``;
        a float keeps that fraction of each layer's parameters.
    factorization : str or dict
        One name for every layer kind, or ``{nn.Linear: "tt", nn.Conv2d: "tucker"}``.
    layers : type or tuple of types
        Which layer kinds to replace: ``nn.Linear`` and/or ``nn.Conv2d``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"compress needs an nn.Module, got {type(model).__name__}")
    layers = (layers,) if isinstance(layers, type) else tuple(layers)
    unknown = [t for t in layers if t not in _CONVERTERS]
    if not layers or unknown:
        raise ValueError(f"layers {layers} must be a non-empty subset of (nn.Linear, nn.Conv2d)")
    compressed = copy.deepcopy(model)
    # every place a layer sits (a layer shared by two places is listed twice)
    places = [(name, m) for name, m in compressed.named_modules(remove_duplicate=False) if type(m) in layers]
    if not places:
        raise ValueError(f"{type(model).__name__} has no {' or '.join(t.__name__ for t in layers)} layer to compress")
    if isinstance(factorization, Mapping):
        choice = dict(factorization)
    else:
        choice = {t: factorization for t in layers}
    for kind in {type(m) for _, m in places}:
        allowed = _CONVERTERS[kind][1]
        if kind not in choice:
            raise ValueError(f"factorization dict has no entry for {kind.__name__}")
        if not isinstance(choice[kind], str) or choice[kind].lower() not in allowed:
            raise ValueError(
                f"factorization {choice[kind]!r} does not apply to {kind.__name__}; allowed: {', '.join(allowed)}"
            )
    replacements: dict[int, nn.Module] = {}  # one replacement per layer, so sharing survives
    for name, module in places:
        if id(module) not in replacements:
            replacements[id(module)] = _CONVERTERS[type(module)][0](module, rank, choice[type(module)])
        parent_name, _, child = name.rpartition(".")
        if not child:
            return replacements[id(module)]  # the model itself was a single layer
        setattr(compressed.get_submodule(parent_name) if parent_name else compressed, child, replacements[id(module)])
    return compressed


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter entries (shared parameters counted once)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_parameters needs an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, *inputs: torch.Tensor) -> dict[str, int]:
    """FLOPs of one forward pass per layer, plus ``"total"``.

    Counted by ``torch.utils.flop_counter`` on the operations the layers
    actually run (matrix products and convolutions; a multiply-add is 2 FLOPs;
    elementwise work is not counted). Keys are ``named_modules`` names of the
    innermost modules that did counted work.
    """
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    raw = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    total = raw.pop("Global", 0)
    # the counter names modules "<RootClass>.<path>"; drop the root prefix
    # (the root itself becomes "", as in named_modules)
    named = {name.partition(".")[2]: flops for name, flops in raw.items()}
    innermost = {
        name: flops
        for name, flops in named.items()
        if flops and not any(other != name and (name == "" or other.startswith(name + ".")) and named[other]
                             for other in named)
    }
    return {**innermost, "total": total}
