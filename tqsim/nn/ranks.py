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
    "check_factorization",
    "positive_int",
    "check_shape",
    "tensorized_shape",
    "cp_rank",
    "tucker_rank",
    "tt_rank",
    "cp_full_rank",
    "tt_full_ranks",
]

def check_factorization(factorization, allowed: Sequence[str], what: str = "factorization") -> str:
    if not isinstance(factorization, str) or factorization.lower() not in allowed:
        raise ValueError(f"unknown {what} {factorization!r}; allowed: {', '.join(allowed)}")
    return factorization.lower()


def positive_int(value, what: str) -> int:
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
    return tuple(positive_int(s, f"every size in {what} {items}") for s in items)


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _even_split(n: int, order: int, largest: int) -> tuple[int, ...] | None:
    """``order`` factors of ``n``, none above ``largest``, the largest as small as possible."""
    if order == 1:
        return (n,) if n <= largest else None
    for f in _divisors(n):
        if f > largest:
            break
        if f ** order < n:
            continue  # f cannot be the largest factor
        rest = _even_split(n // f, order - 1, f)
        if rest is not None:
            return (f, *rest)
    return None


def tensorized_shape(features: int, order: int = 3) -> tuple[int, ...]:
    """Split ``features`` into ``order`` factors as even as the divisors allow.

    The largest factor is the smallest possible (then the next one, and so
    on), found by a search over divisors; factors of 1 fill up when
    ``features`` has too few prime factors (a prime stays one mode).
    """
    features = positive_int(features, "features")
    order = positive_int(order, "order")
    return _even_split(features, order, features)


def _fraction(rank) -> float | None:
    """The parameter fraction a float or 'same' rank asks for, else None."""
    if isinstance(rank, str):
        if rank != "same":
            raise ValueError(f"rank {rank!r} not understood; use an int, a tuple of ints, a float or 'same'")
        return 1.0
    if isinstance(rank, numbers.Real) and not isinstance(rank, numbers.Integral):
        if not 0 < rank <= 1:
            raise ValueError(
                f"a float rank is the fraction of the dense parameter count to keep, in (0, 1]; got {rank} "
                "(pass an int for a rank)"
            )
        return float(rank)
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
    rank = positive_int(rank, "CP rank")
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
        # grow ranks one step at a time, always the mode with the smallest
        # rank / size, while the parameter count stays within the budget
        target = fraction * math.prod(shape)
        ranks = [1] * len(modes)
        while True:
            order = sorted((r / n, k) for k, (r, n) in enumerate(zip(ranks, sizes)) if r < n)
            for _, k in order:
                ranks[k] += 1
                if _tucker_count(ranks, shape, modes) <= target:
                    break
                ranks[k] -= 1
            else:
                return tuple(ranks)
    if isinstance(rank, numbers.Integral) and not isinstance(rank, bool):
        rank = (rank,) * len(modes)
    try:
        ranks = tuple(rank)
    except TypeError:
        raise TypeError(f"Tucker rank must be an int, a tuple of ints, a float or 'same', got {rank!r}") from None
    if len(ranks) != len(modes):
        raise ValueError(f"Tucker rank {ranks} needs {len(modes)} entries, one per factored mode {modes} of {shape}")
    ranks = tuple(positive_int(r, f"every Tucker rank in {ranks}") for r in ranks)
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
        rank = positive_int(rank, "TT rank")
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
    ranks = tuple(positive_int(r, f"every TT rank in {ranks}") for r in ranks)
    for k, (r, f) in enumerate(zip(ranks, full)):
        if r > f:
            raise ValueError(f"TT rank {r} at bond {k + 1} exceeds the full rank {f} there; shape {shape}")
    return ranks
