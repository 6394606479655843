"""Gate fusion: merge runs of gates into blocks on a few qubits.

A gate on a dense state costs one pass over ``2**n`` amplitudes whatever it
does, so a circuit of many small gates is bound by memory traffic. Merging
neighbouring gates into one ``2**m x 2**m`` block trades those passes for a
little arithmetic on tiny matrices. Blocks whose gates are all diagonal stay
diagonal (an elementwise product); blocks on scattered qubits are widened to
the contiguous range between them when that range is small, because a matrix
on adjacent qubits needs no permutation of the state.

A controlled gate (``Gate.is_controlled``) wider than the block size is never
turned into a matrix: :func:`plan` leaves it alone in its block
(:func:`applies_apart`), and states apply its target operator to the
amplitudes whose controls are all 1. Smaller ones fuse like any gate (as
qsim does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np
import torch

from .gates import Gate, numpy_operator, stacked_gate, stacking_key
from .tensor.flat import apply_diagonal, apply_matrix

__all__ = ["Block", "Step", "applies_apart", "block_size", "build_operator", "gate_operators", "plan", "schedule",
           "step_operators"]


@dataclass
class Block:
    """Gates merged into one operator on ``qubits`` (ascending)."""

    qubits: tuple[int, ...]
    gates: list[Gate] = field(default_factory=list)

    @property
    def is_diagonal(self) -> bool:
        return all(g.is_diagonal for g in self.gates)


def block_size(cuda: bool, tracks_gradient: bool) -> int:
    """Largest block for a dense state, chosen by measurement (docs/benchmarks.md).

    CUDA without autograd: 2 qubits, one Triton kernel each at memory speed.
    With autograd every block is a ``torch.matmul`` whose inputs are kept for
    the backward pass, so fewer, larger blocks win: 4 qubits on CUDA, 5 on the
    CPU (a 20-qubit training step of the deep family: 0.82 s at 5, 1.10 s at
    4, 2.2 s at 2). Plain CPU runs also take 5 (the brickwork circuit of
    bench_dense.py at 20 qubits, complex64: 52.7 ms at 3, 36.3 ms at 4, 29.8 ms
    at 5, 40 ms at 6).
    """
    if cuda:
        return 4 if tracks_gradient else 2
    return 5


def applies_apart(gate: Gate, max_qubits: int) -> bool:
    """True for a controlled gate on more than ``max_qubits`` qubits.

    States apply such a gate from its target operator to the controlled
    subspace (dense states) or as an MPO (MPS); :func:`plan` puts it in a
    block of its own, and its full matrix is never built.
    """
    return gate.is_controlled and gate.num_qubits > max_qubits


def _span(qubits) -> range:
    return range(min(qubits), max(qubits) + 1)


def plan(gates: Sequence[Gate], max_qubits: int) -> list[Block]:
    """Group ``gates`` (in circuit order) into blocks of at most ``max_qubits``.

    Greedy: each qubit has at most one open block; a gate joins the open blocks
    of its qubits when their union, widened to its contiguous span where that
    fits, stays within ``max_qubits``; otherwise the largest of those blocks
    are closed until the gate fits with the others, and it joins them. Open
    blocks act on disjoint qubits, so closing them in any order keeps the
    circuit's meaning. A gate on more than ``max_qubits`` qubits therefore
    always sits alone in its block (see :func:`applies_apart`).
    """
    done: list[Block] = []
    open_block: dict[int, Block] = {}
    for gate in gates:
        touched = list({id(open_block[q]): open_block[q] for q in gate.qubits if q in open_block}.values())
        union = set(gate.qubits).union(*(b.qubits for b in touched))
        span = _span(union)
        # widening may swallow other open blocks inside the span
        inside = {id(open_block[q]): open_block[q] for q in span if q in open_block}
        widened = union.union(*(b.qubits for b in inside.values()))
        if len(span) <= max_qubits and len(_span(widened)) <= max_qubits:
            merged_from, qubits = list(inside.values()), set(_span(widened))
        elif len(union) <= max_qubits:
            merged_from, qubits = touched, union
        else:
            # close the largest touched blocks until the gate fits with the rest: a lone
            # 1-qubit gate left open joins the next block instead of costing a pass of its own
            kept = sorted(touched, key=lambda b: len(b.qubits))
            while kept and len(set(gate.qubits).union(*(b.qubits for b in kept))) > max_qubits:
                _close(kept.pop(), open_block, done)
            merged_from, qubits = kept, set(gate.qubits).union(*(b.qubits for b in kept))
        block = Block(tuple(sorted(qubits)))
        for b in sorted(merged_from, key=lambda b: b.qubits):
            block.gates.extend(b.gates)
            for q in b.qubits:
                open_block.pop(q, None)
        block.gates.append(gate)
        for q in block.qubits:
            open_block[q] = block
    for b in {id(b): b for b in open_block.values()}.values():
        done.append(b)
    return done


def _close(block: Block, open_block: dict[int, Block], done: list[Block]) -> None:
    for q in block.qubits:
        if open_block.get(q) is block:
            del open_block[q]
    done.append(block)


def gate_operators(gates: Sequence[Gate], dtype: torch.dtype, device: torch.device) -> dict[int, torch.Tensor]:
    """Every gate's operator, built with one call per kind of parametrized gate.

    A circuit of 200 RY gates with tensor angles would otherwise launch a
    dozen tiny kernels per gate to build its matrices (on a GPU that, not the
    state update, sets the time of a training step); stacking the angles
    builds all of them at once. Keyed by ``id(gate)``.
    """
    operators: dict[int, torch.Tensor] = {}
    groups: dict[tuple, list[Gate]] = {}
    for g in gates:
        key = stacking_key(g)
        if key is not None and g.params:
            groups.setdefault(key, []).append(g)
        else:
            operators[id(g)] = g.operator(dtype, device)
    for members in groups.values():
        if len(members) == 1:
            operators[id(members[0])] = members[0].operator(dtype, device)
            continue
        batched = stacked_gate(members, members[0].qubits, device)
        for g, op in zip(members, batched.operator(dtype, device).unbind(0)):
            operators[id(g)] = op
    return operators


def build_operator(
    block: Block, dtype: torch.dtype, device: torch.device, operators: dict[int, torch.Tensor] | None = None
) -> torch.Tensor:
    """The block's diagonal ``(…, 2**m)`` or matrix ``(…, 2**m, 2**m)``.

    The operator starts as the identity on the block's qubits and each gate is
    applied to it with the same routine that applies gates to states (the
    columns of a matrix are states), so fusion adds no index arithmetic.
    ``operators`` (from :func:`gate_operators`) supplies prebuilt gate operators.
    """
    if operators is None:
        operators = gate_operators(block.gates, dtype, device)
    if len(block.gates) == 1 and block.gates[0].qubits == block.qubits:
        return operators[id(block.gates[0])]
    local = {q: j for j, q in enumerate(block.qubits)}
    factors = [(operators[id(g)], [local[q] for q in g.qubits], g.is_diagonal, bool(g.batch_shape))
               for g in block.gates]
    return _compose(factors, len(block.qubits), block.is_diagonal, dtype, device)


def _compose(factors, m: int, diagonal: bool, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The product of ``factors`` ``(operator, local targets, is_diagonal, has batch axes)`` on ``m`` qubits."""
    if diagonal:
        op = torch.ones(1 << m, dtype=dtype, device=device)
        for factor, targets, _, _ in factors:
            op = apply_diagonal(op, factor, targets)
        return op
    columns = torch.eye(1 << m, dtype=dtype, device=device)  # row j = column j of the operator
    for factor, targets, is_diagonal, batched in factors:
        if batched:
            factor = factor.unsqueeze(-2 if is_diagonal else -3)
        if is_diagonal:
            columns = apply_diagonal(columns, factor, targets)
        else:
            columns = apply_matrix(columns, factor, targets)
    return columns.mT


# ------------------------------------------------- schedules reused across runs


class Step(NamedTuple):
    """One block of a :func:`schedule`: the gates ``members`` (indices into the run) on ``qubits``."""

    qubits: tuple[int, ...]  # ascending
    members: tuple[int, ...]
    local: tuple[tuple[int, ...], ...]  # each member's qubits as positions in ``qubits``
    is_diagonal: bool
    apart: bool  # a wide controlled gate, applied by the state on its own (:func:`applies_apart`)


class _Shape(NamedTuple):
    """What :func:`plan` reads of a gate."""

    qubits: tuple[int, ...]
    is_diagonal: bool


def schedule(gates: Sequence[Gate], max_qubits: int) -> tuple[Step, ...]:
    """:func:`plan` as indices, computed once per circuit structure.

    The plan depends on the gates' qubits alone (and on which are wide
    controlled gates), never on their angles, so a training loop that
    rebuilds the same circuit with new angles every step plans it once.
    """
    key = tuple((g.qubits, g.is_diagonal, applies_apart(g, max_qubits)) for g in gates)
    return _schedule(key, max_qubits)


@lru_cache(maxsize=64)
def _schedule(key: tuple, max_qubits: int) -> tuple[Step, ...]:
    shapes = [_Shape(qubits, diagonal) for qubits, diagonal, _ in key]
    index = {id(s): j for j, s in enumerate(shapes)}
    steps = []
    for block in plan(shapes, max_qubits):
        members = tuple(index[id(s)] for s in block.gates)
        position = {q: j for j, q in enumerate(block.qubits)}
        local = tuple(tuple(position[q] for q in s.qubits) for s in block.gates)
        steps.append(Step(block.qubits, members, local, block.is_diagonal, key[members[0]][2]))
    return tuple(steps)


def step_operators(
    steps: Sequence[Step], gates: Sequence[Gate], dtype: torch.dtype, device: torch.device
) -> list[torch.Tensor | None]:
    """The operator of every step (``None`` for steps applied apart), blocks built together.

    Gate operators come from :func:`gate_operators` (one call per kind of
    gate). Blocks with the same structure (operators of the same shapes on the
    same local qubits: every layer of a layered ansatz) are then composed as
    one batch, so the number of tiny kernels follows the number of distinct
    block shapes, not the number of blocks.
    """
    if not any(isinstance(p, torch.Tensor) for g in gates for p in g.params):
        return [None if step.apart else _constant_operator(step, gates, dtype, device) for step in steps]
    operators = gate_operators([gates[j] for step in steps if not step.apart for j in step.members], dtype, device)
    groups: dict = {}
    for i, step in enumerate(steps):
        if not step.apart:
            shapes = tuple((gates[j].is_diagonal, operators[id(gates[j])].shape) for j in step.members)
            groups.setdefault((step.local, step.is_diagonal, len(step.qubits), shapes), []).append(i)
    result: list[torch.Tensor | None] = [None] * len(steps)
    for (locals_, diagonal, m, shapes), indices in groups.items():
        if len(indices) == 1 or (len(locals_) == 1 and locals_[0] == tuple(range(m))):
            for i in indices:  # nothing to share: one block, or a gate that is its own block
                block = Block(steps[i].qubits, [gates[j] for j in steps[i].members])
                result[i] = build_operator(block, dtype, device, operators)
            continue
        factors, stacked = [], False
        for j, (targets, (is_diagonal, shape)) in enumerate(zip(locals_, shapes)):
            ops = [operators[id(gates[steps[i].members[j]])] for i in indices]
            if all(op is ops[0] for op in ops):  # a fixed gate: one operator serves all
                factors.append((ops[0], list(targets), is_diagonal, len(shape) > (1 if is_diagonal else 2)))
            else:
                factors.append((torch.stack(ops), list(targets), is_diagonal, True))
                stacked = True
        built = _compose(factors, m, diagonal, dtype, device)
        for i, op in zip(indices, built.unbind(0) if stacked else [built] * len(indices)):
            result[i] = op
    return result


# ------------------------------------------- blocks of constant gates, in NumPy

def _constant_operator(step: Step, gates: Sequence[Gate], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A block whose gates have no tensor parameters (a circuit read from a file), composed in NumPy.

    A NumPy operation on a 32 x 32 matrix costs a microsecond or two, a
    PyTorch one five to fifteen; a circuit of a hundred thousand gates spends
    its time here. Composed in complex128, then cast once.
    """
    members = [gates[j] for j in step.members]
    if len(members) == 1 and members[0].qubits == step.qubits:
        return members[0].operator(dtype, device)
    m = len(step.qubits)
    if step.is_diagonal:
        product = np.ones(1 << m, dtype=complex)
        for gate, local in zip(members, step.local):
            product *= numpy_operator(gate)[_target_index(m, local)]
        return torch.from_numpy(product).to(dtype=dtype, device=device)
    matrix = np.eye(1 << m, dtype=complex)
    for gate, local in zip(members, step.local):
        op = numpy_operator(gate)
        if gate.is_diagonal:
            matrix = op[_target_index(m, local)][:, None] * matrix
        elif list(local) == list(range(local[0], local[0] + len(local))):  # adjacent, in order
            k = len(local)
            view = matrix.reshape(1 << local[0], 1 << k, -1)
            matrix = np.matmul(op, view).reshape(matrix.shape)
        else:
            index, same_rest = _embedding(m, local)
            matrix = (op[index[:, None], index[None, :]] * same_rest) @ matrix
    return torch.from_numpy(matrix).to(dtype=dtype, device=device)


@lru_cache(maxsize=4096)
def _target_index(m: int, local: tuple[int, ...]) -> np.ndarray:
    """For every basis index of ``m`` qubits, the index of its ``local`` bits (big-endian in that order)."""
    basis = np.arange(1 << m)
    index = np.zeros(1 << m, dtype=np.int64)
    for q in local:
        index = (index << 1) | ((basis >> (m - 1 - q)) & 1)
    return index


@lru_cache(maxsize=4096)
def _embedding(m: int, local: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(index, same_rest)``: a gate on ``local`` embedded in ``m`` qubits is
    ``op[index[i], index[j]]`` where the other bits of ``i`` and ``j`` agree."""
    index = _target_index(m, local)
    mask = (1 << m) - 1
    for q in local:
        mask &= ~(1 << (m - 1 - q))
    rest = np.arange(1 << m) & mask
    return index, rest[:, None] == rest[None, :]
