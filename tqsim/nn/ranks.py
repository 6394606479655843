"""Ranks and tensorized shapes: from what a user writes to concrete integers.

A rank may be given as an int (or a tuple of ints), as a float (the fraction of
the dense parameter count the factorized tensor should hold) or as ``"same"``
(the dense count, i.e. ``1.0``). Every resolver checks that the ranks are
positive and at most the full rank of the shape they factor.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

__all__ = [
    "FACTORIZATIONS",
    "check_factorization",
    "check_shape",
    "tensorized_shape",
    "cp_rank",
    "tucker_rank",
    "tt_rank",
    "cp_full_rank",
    "tt_full_ranks",
]

FACTORIZATIONS = ("cp", "tucker", "tt")


def check_factorization(factorization, allowed: Sequence[str]) -> str:
    if not isinstance(factorization, str) or factorization.lower() not in allowed:
        raise ValueError(f"unknown factorization {factorization!r}; allowed: {', '.join(allowed)}")
    return factorization.lower()


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be a positive int, got {value}")
    return int(value)


def check_shape(shape, what: str = "shape") -> tuple[int, ...]:
    """A non-empty tuple of positive ints."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        items = tuple(shape)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of positive ints, got {shape!r}") from None
    if not items:
        raise ValueError(f"{what} must have at least one mode, got {shape!r}")
    return tuple(_positive_int(s, f"every size in {what} {items}") for s in items)


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    if n > 1:
        factors.append(n)
    return factors


def tensorized_shape(features: int, order: int = 3) -> tuple[int, ...]:
    """Split ``features`` into ``order`` factors as even as the primes allow.

    Largest primes first, each into the currently smallest factor; factors of 1
    are kept so that input and output shapes of a TT-matrix have one length
    (a prime number of features cannot be split and stays one mode).
    """
    features = _positive_int(features, "features")
    order = _positive_int(order, "order")
    parts = [1] * order
    for p in sorted(_prime_factors(features), reverse=True):
        parts[parts.index(min(parts))] *= p
    return tuple(sorted(parts, reverse=True))


def _fraction(rank) -> float | None:
    """The parameter fraction a float or 'same' rank asks for, else None."""
    if isinstance(rank, str):
        if rank != "same":
            raise ValueError(f"rank {rank!r} not understood; use an int, a tuple of ints, a float or 'same'")
        return 1.0
    if isinstance(rank, float):
        if not (rank > 0 and math.isfinite(rank)):
            raise ValueError(f"a float rank is a fraction of the dense parameter count and must be > 0, got {rank}")
        return rank
    return None


def cp_full_rank(shape: Sequence[int]) -> int:
    """An upper bound of the CP rank any tensor of ``shape`` needs: prod(shape) / max(shape)."""
    return math.prod(shape) // max(shape)


def cp_rank(rank, shape: Sequence[int]) -> int:
    """The CP rank: ``R * sum(shape)`` parameters for a float / 'same' rank."""
    fraction = _fraction(rank)
    full = cp_full_rank(shape)
    if fraction is not None:
        rank = max(1, round(fraction * math.prod(shape) / sum(shape)))
        return min(rank, full)
    rank = _positive_int(rank, "CP rank")
    if rank > full:
        raise ValueError(f"CP rank {rank} exceeds the full rank {full} of a tensor of shape {tuple(shape)}")
    return rank


def _tucker_count(ranks: Sequence[int], shape: Sequence[int], modes: Sequence[int]) -> int:
    core = list(shape)
    for m, r in zip(modes, ranks):
        core[m] = r
    return math.prod(core) + sum(shape[m] * r for m, r in zip(modes, ranks))


def tucker_rank(rank, shape: Sequence[int], modes: Sequence[int] | None = None) -> tuple[int, ...]:
    """Tucker ranks, one per factored mode (``modes``, default all) of a tensor of ``shape``."""
    shape = tuple(shape)
    modes = tuple(range(len(shape))) if modes is None else tuple(modes)
    sizes = [shape[m] for m in modes]
    fraction = _fraction(rank)
    if fraction is not None:
        # ranks proportional to the mode sizes; bisection on the proportion
        def ranks_at(scale: float) -> list[int]:
            return [min(n, max(1, round(scale * n))) for n in sizes]

        target = fraction * math.prod(shape)
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _tucker_count(ranks_at(mid), shape, modes) <= target else (lo, mid)
        return tuple(ranks_at(lo))
    if isinstance(rank, numbers.Integral) and not isinstance(rank, bool):
        rank = (rank,) * len(modes)
    try:
        ranks = tuple(rank)
    except TypeError:
        raise TypeError(f"Tucker rank must be an int, a tuple of ints, a float or 'same', got {rank!r}") from None
    if len(ranks) != len(modes):
        raise ValueError(f"Tucker rank {ranks} needs {len(modes)} entries, one per factored mode {modes} of {shape}")
    ranks = tuple(_positive_int(r, f"every Tucker rank in {ranks}") for r in ranks)
    for m, r, n in zip(modes, ranks, sizes):
        if r > n:
            raise ValueError(f"Tucker rank {r} of mode {m} exceeds that mode's size {n} (full rank); shape {shape}")
    return ranks


def tt_full_ranks(shape: Sequence[int]) -> tuple[int, ...]:
    """The largest useful internal ranks: min(product left, product right) at each bond."""
    shape = tuple(shape)
    return tuple(min(math.prod(shape[: k + 1]), math.prod(shape[k + 1 :])) for k in range(len(shape) - 1))


def _tt_count(ranks: Sequence[int], shape: Sequence[int]) -> int:
    full = (1, *ranks, 1)
    return sum(full[k] * n * full[k + 1] for k, n in enumerate(shape))


def tt_rank(rank, shape: Sequence[int]) -> tuple[int, ...]:
    """Internal TT ranks ``(r_1, ..., r_{d-1})`` for mode sizes ``shape``.

    An int is a maximum bond dimension, capped at each bond by the full rank
    there (as for an MPS); it may not exceed the largest full rank. A tuple
    gives each internal rank (or all ``d + 1`` with boundary ranks 1).
    """
    shape = tuple(shape)
    full = tt_full_ranks(shape)
    if not full:
        return ()
    fraction = _fraction(rank)
    if fraction is not None:
        target = fraction * math.prod(shape)
        best = 1  # the parameter count grows with r, so stop at the first r past the target
        for r in range(2, max(full) + 1):
            if _tt_count([min(r, f) for f in full], shape) > target:
                break
            best = r
        return tuple(min(best, f) for f in full)
    if isinstance(rank, numbers.Integral) and not isinstance(rank, bool):
        rank = _positive_int(rank, "TT rank")
        if rank > max(full):
            raise ValueError(f"TT rank {rank} exceeds the full rank {max(full)} of shape {shape} (full ranks {full})")
        return tuple(min(rank, f) for f in full)
    try:
        ranks = tuple(rank)
    except TypeError:
        raise TypeError(f"TT rank must be an int, a tuple of ints, a float or 'same', got {rank!r}") from None
    if len(ranks) == len(shape) + 1:
        if ranks[0] != 1 or ranks[-1] != 1:
            raise ValueError(f"boundary TT ranks must be 1, got {ranks}")
        ranks = ranks[1:-1]
    if len(ranks) != len(shape) - 1:
        raise ValueError(f"TT ranks {ranks} need {len(shape) - 1} internal entries for shape {shape}")
    ranks = tuple(_positive_int(r, f"every TT rank in {ranks}") for r in ranks)
    for k, (r, f) in enumerate(zip(ranks, full)):
        if r > f:
            raise ValueError(f"TT rank {r} at bond {k + 1} exceeds the full rank {f} there; shape {shape}")
    return ranks
