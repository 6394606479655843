"""Fused blocks of circuits with tensor angles, composed in NumPy with a gradient of their own.

Training a variational circuit of 12-16 qubits costs little arithmetic on the
state: the time of a step went to composing its fused blocks under autograd,
about ten small PyTorch operations per gate of a block forward and as many
backward, a few microseconds each (2.1 of 2.9 ms of a 12-qubit step, 4.7 of
10.8 ms at 16 qubits and depth 3). Here the gates' matrices are still built
by PyTorch, one batch per kind of gate (:func:`tqsim.fusion.gate_tables`: gradients reach
the angles through the gates' own formulas), and then one autograd node
composes every block in NumPy, complex128 (:class:`Composition`).

Backward, the gradient ``G`` of a block ``M = F_k ... F_1`` becomes those of
its gates' matrices, ``dL/dF_j = Tr_rest[P_j (M^H G) P_j^H] F_j`` with ``P_j``
the product up to ``F_j``. A block's gates are ordered in stages of gates on
disjoint qubits (a layered ansatz's rotations form one), and one ``P`` serves
a whole stage, since conjugating by a gate on other qubits leaves the partial
trace unchanged; runs of fixed gates (a CNOT ladder) are composed once and
kept. Blocks of the same structure (every layer of a layered ansatz) are
composed as one batch, so the number of NumPy calls follows the number of
distinct blocks, not of blocks.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np
import torch

from . import fusion
from ._threads import numpy_on_one_thread
from .fusion import Step, _target_index, _times_on_stack, gate_tables
from .gates import Gate

__all__ = ["Composition", "applies", "groups", "step_operators"]


def applies(gates: Sequence[Gate], device: torch.device) -> bool:
    """Whether :func:`step_operators` serves these gates: some tensor angles, no batch of gates, on the CPU
    (on a GPU the blocks stay on the device)."""
    return (device.type == "cpu" and any(type(p) is not float and isinstance(p, torch.Tensor)
                                         for g in gates for p in g.params)
            and not any(g.batch_shape for g in gates))


class _Item(NamedTuple):
    """One factor of a block: a member gate (``positions`` of one entry) or a run of fixed gates composed
    once (:func:`_run_matrix`), acting on ``local``."""

    positions: tuple[int, ...]
    local: tuple[int, ...]
    diagonal: bool


class _Group(NamedTuple):
    """Steps that compose alike: the same local targets and the same kinds of gate, member by member."""

    indices: tuple[int, ...]  # into the steps
    members: np.ndarray  # (B, k): the gates of every block, member by member
    m: int
    local: tuple[tuple[int, ...], ...]
    kinds: tuple[tuple, ...]  # member by member: (is_diagonal, key of a fixed gate or None)
    is_diagonal: bool  # the whole block (its operator is a diagonal)
    stages: tuple[tuple[_Item, ...], ...]  # the factors in order, cut where their qubits meet


@lru_cache(maxsize=16)
def groups(steps: tuple[Step, ...], kinds: tuple[tuple, ...]) -> tuple[_Group, ...]:
    """The steps not applied apart, grouped by structure (``kinds[j]`` as in :class:`_Group`)."""
    found: dict[tuple, list[int]] = {}
    for i, step in enumerate(steps):
        if not step.apart:
            key = (len(step.qubits), step.local, tuple(kinds[j] for j in step.members), step.is_diagonal)
            found.setdefault(key, []).append(i)
    return tuple(_Group(tuple(indices), np.array([steps[i].members for i in indices]), m, local, member_kinds,
                        diagonal, _stages(m, local, member_kinds))
                 for (m, local, member_kinds, diagonal), indices in found.items())


def _stages(m: int, local, kinds) -> tuple[tuple[_Item, ...], ...]:
    """The block's gates as stages of factors on disjoint qubits, in an order that respects every qubit's.

    Each gate goes to the earliest layer after the gates before it on its qubits (a layered ansatz's
    rotations all land in the first), and runs of layers of fixed gates become one factor, composed
    once (:func:`_run_matrix`).
    """
    depth = [0] * m
    layers: list[list[int]] = []
    for p, targets in enumerate(local):
        layer = max(depth[q] for q in targets)
        for q in targets:
            depth[q] = layer + 1
        if layer == len(layers):
            layers.append([])
        layers[layer].append(p)
    stages: list[tuple[_Item, ...]] = []
    run: list[int] = []
    for layer in layers + [None]:
        if layer is not None and all(kinds[p][1] is not None for p in layer):
            run += layer
            continue
        if len(run) > 1:
            stages.append((_Item(tuple(run), tuple(range(m)), False),))
        elif run:
            stages.append((_Item((run[0],), local[run[0]], kinds[run[0]][0]),))
        run = []
        if layer is not None:
            stages.append(tuple(_Item((p,), local[p], kinds[p][0]) for p in layer))
    return tuple(stages)


def step_operators(steps: Sequence[Step], gates: Sequence[Gate], dtype: torch.dtype,
                   device: torch.device) -> list[torch.Tensor | None]:
    """Every step's operator (``None`` for steps applied apart), as :func:`tqsim.fusion.step_operators`
    gives them, differentiable in the gates' tensor angles; where :func:`applies`."""
    tables = gate_tables(gates, [j for step in steps if not step.apart for j in step.members], device)
    kinds = tuple((g.is_diagonal, tables.fixed.get(j)) for j, g in enumerate(gates))
    program = (tuple(steps), groups(tuple(steps), kinds), tables.source, tables.constants, dtype)
    blocks = iter(_ComposedBlocks.apply(program, *tables.inputs))
    return [None if step.apart else next(blocks) for step in steps]


class Composition:
    """The blocks of ``steps`` composed in NumPy from the gates' tables (:func:`gate_tables`, the inputs
    as NumPy arrays), and the way back: the gradients of the blocks to those of the tables' rows."""

    def __init__(self, steps: tuple[Step, ...], groups: tuple[_Group, ...], source: np.ndarray,
                 constants: list[np.ndarray], tables: list[np.ndarray]):
        self.groups, self.tables, self.kept = groups, tables, []
        self.columns = [_Columns(group, source, tables, constants) for group in groups]

    def blocks(self) -> dict[int, np.ndarray]:
        """Every block ``(2**m, 2**m)`` (a diagonal ``(2**m,)`` for a diagonal block), by step."""
        found: dict[int, np.ndarray] = {}
        for group, columns in zip(self.groups, self.columns):
            if group.is_diagonal:
                blocks = np.ones((1, 1 << group.m), dtype=complex)
                for (ops, _), local in zip(columns, group.local):
                    blocks = blocks * ops[:, _target_index(group.m, local)]
                kept = columns
            else:
                blocks, kept = _composed(group, columns)
            self.kept.append(kept)
            if blocks.shape[0] != len(group.indices):  # every factor shared by all blocks
                blocks = np.repeat(blocks, len(group.indices), axis=0)
            found.update(zip(group.indices, blocks))
        return found

    def gradients(self, grams: dict[int, np.ndarray], wanted: Sequence[bool]) -> list[np.ndarray | None]:
        """The gradient of every table (None where not ``wanted``) from those of the blocks, by step
        (a missing step's is zero)."""
        found = [np.zeros_like(t) if w else None for t, w in zip(self.tables, wanted)]
        for group, kept in zip(self.groups, self.kept):
            pieces = [grams.get(i) for i in group.indices]
            if all(g is None for g in pieces):
                continue
            shape = (1 << group.m,) * (1 if group.is_diagonal else 2)
            gram = np.stack([np.zeros(shape, dtype=complex) if g is None else g for g in pieces])
            if group.is_diagonal:
                _diagonal_gradients(gram, kept, group, wanted, found)
            else:
                _block_gradients(gram, *kept, group, wanted, found)
        return found


class _ComposedBlocks(torch.autograd.Function):
    @staticmethod
    @numpy_on_one_thread()
    def forward(ctx, program, *inputs):
        steps, groups, source, constants, dtype = program
        composition = Composition(steps, groups, source, constants,
                                  [t.detach().resolve_conj().numpy() for t in inputs])
        blocks = composition.blocks()
        ctx.set_materialize_grads(False)
        ctx.program, ctx.composition, ctx.order = program, composition, sorted(blocks)
        ctx.save_for_backward(*inputs)
        return tuple(torch.from_numpy(blocks[i]).to(dtype) for i in ctx.order)

    @staticmethod
    @numpy_on_one_thread()
    def backward(ctx, *grads):
        if torch.is_grad_enabled():  # create_graph=True: the blocks again, under autograd
            return (None, *_replayed_gradients(ctx.program, ctx.saved_tensors, grads, ctx.needs_input_grad[1:]))
        grams = {i: g.to(torch.complex128).numpy() for i, g in zip(ctx.order, grads) if g is not None}
        found = ctx.composition.gradients(grams, ctx.needs_input_grad[1:])
        return (None, *(None if f is None else torch.from_numpy(f) for f in found))


def _replayed_gradients(program, inputs, grads, wanted) -> list[torch.Tensor | None]:
    """The gradients with a graph of their own: every block composed again by PyTorch from ``inputs``."""
    steps, step_groups, source, constants, dtype = program
    device = inputs[0].device if inputs else torch.device("cpu")

    def operator(j: int) -> torch.Tensor:
        t, r = source[j].tolist()
        return inputs[t][r] if t >= 0 else torch.tensor(constants[-t - 1][r], device=device)

    with torch.enable_grad():
        blocks = {}
        for group in step_groups:
            diagonal = [kind[0] for kind in group.kinds]
            for i in group.indices:
                factors = [(operator(j), list(local), d, False)
                           for j, local, d in zip(steps[i].members, steps[i].local, diagonal)]
                blocks[i] = fusion._compose(factors, group.m, group.is_diagonal, torch.complex128, device).to(dtype)
        pairs = [(blocks[i], g) for i, g in zip(sorted(blocks), grads) if g is not None]
        chosen = [t for t, w in zip(inputs, wanted) if w]
        found = iter(torch.autograd.grad([b for b, _ in pairs], chosen, [g for _, g in pairs],
                                         create_graph=True, allow_unused=True))
    return [next(found) if w else None for w in wanted]


class _Columns:
    """``columns[p]``: the operators of member ``p`` of every block of a group, stacked ``(B or 1, ...)``,
    and the ``(table, row)`` of each; built when first asked for."""

    def __init__(self, group: _Group, source: np.ndarray, tables, constants):
        self.rows = source[group.members]  # (B, k, 2)
        self.tables, self.constants = tables, constants
        self.built: dict[int, tuple] = {}

    def __getitem__(self, p: int):
        column = self.built.get(p)
        if column is None:
            rows = self.rows[:, p]
            table = rows[0, 0]
            if (rows[:, 0] == table).all():
                values = self.tables[table] if table >= 0 else self.constants[-table - 1]
                column = (values if values.shape[0] == 1 else values[rows[:, 1]]), rows
            else:
                column = np.stack([(self.tables[t] if t >= 0 else self.constants[-t - 1])[r] for t, r in rows]), rows
            self.built[p] = column
        return column

    def __iter__(self):
        return (self[p] for p in range(self.rows.shape[1]))


def _tracked(rows: np.ndarray, wanted=None) -> bool:
    """Whether any of these gates comes from an input (that wants a gradient, when ``wanted`` is given)."""
    return any(t >= 0 and (wanted is None or wanted[t]) for t in rows[:, 0].tolist())


#: products of runs of fixed gates, by block size and the gates' positions and keys
_RUNS: dict[tuple, np.ndarray] = {}


def _run_matrix(group: _Group, item: _Item, columns) -> np.ndarray:
    key = (group.m,) + tuple((group.local[p], group.kinds[p]) for p in item.positions)
    matrix = _RUNS.get(key)
    if matrix is None:
        matrix = np.eye(1 << group.m, dtype=complex)[None]
        for p in item.positions:
            matrix = _times_on_stack(matrix, columns[p][0], group.local[p], group.m, group.kinds[p][0])
        if len(_RUNS) >= 256:
            _RUNS.clear()
        _RUNS[key] = matrix
    return matrix


def _composed(group: _Group, columns):
    """The group's blocks ``(B or 1, 2**m, 2**m)``, and what their gradient needs: the columns, and for
    each stage with gates from the inputs, the product of the factors up to its end."""
    blocks = np.eye(1 << group.m, dtype=complex)[None]
    stages = []
    for stage in group.stages:
        for item in stage:
            if len(item.positions) > 1:
                blocks = np.matmul(_run_matrix(group, item, columns), blocks)
            else:
                blocks = _times_on_stack(blocks, columns[item.positions[0]][0], item.local, group.m, item.diagonal)
        tracked = [item for item in stage if len(item.positions) == 1 and _tracked(columns[item.positions[0]][1])]
        if tracked:
            stages.append((tracked, blocks))
    return blocks, (blocks, columns, stages)


def _block_gradients(gram, block, columns, stages, group: _Group, wanted, found) -> None:
    """The gradients of a block's gates from the gradient ``G`` of ``M = F_k ... F_1``.

    ``dL/dF_j = Tr_rest[S^H G P^H] F_j`` with ``S`` the factors after ``F_j`` and ``P`` those up to it,
    and ``S^H G P^H = P (M^H G) P^H``. Factors of one stage act on disjoint qubits, so conjugating by
    the stage's other factors leaves the partial trace on ``F_j``'s qubits unchanged: each stage
    takes one ``P`` (the product up to its end) and two products for all its gates.
    """
    start = np.matmul(np.swapaxes(block, 1, 2).conj(), gram)  # M^H G
    for tracked, partial in stages:
        needed = [item for item in tracked if _tracked(columns[item.positions[0]][1], wanted)]
        if not needed:
            continue
        conjugated = np.matmul(np.matmul(partial, start), np.swapaxes(partial, 1, 2).conj())
        for item in needed:
            ops, rows = columns[item.positions[0]]
            reduced = _reduced(conjugated, item.local, group.m)
            if item.diagonal:
                gradient = np.diagonal(reduced, axis1=1, axis2=2) * ops
            else:
                gradient = np.matmul(reduced, ops)
            _deposit(found, rows, gradient)


@lru_cache(maxsize=256)
def _trace_subscripts(m: int, local: tuple[int, ...]) -> str:
    """einsum subscripts tracing a ``(B, 2,)*2m`` operator down to the qubits ``local``, in that order."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"
    rows = letters[:m]
    columns = [letters[m + q] if q in local else rows[q] for q in range(m)]
    return f"Z{rows}{''.join(columns)}->Z{''.join(rows[q] for q in local)}{''.join(columns[q] for q in local)}"


def _reduced(operator: np.ndarray, local: tuple[int, ...], m: int) -> np.ndarray:
    """The partial trace of ``(B, 2**m, 2**m)`` operators over all positions but ``local``: ``(B, d, d)``."""
    d = 1 << len(local)
    tensor = operator.reshape((operator.shape[0],) + (2,) * (2 * m))
    return np.einsum(_trace_subscripts(m, local), tensor).reshape(operator.shape[0], d, d)


def _deposit(found, rows: np.ndarray, gradient: np.ndarray) -> None:
    """Add each block's gradient of one member's operator to the row of the input it came from."""
    gradient = np.broadcast_to(gradient, (len(rows),) + gradient.shape[1:])
    for (t, r), g in zip(rows.tolist(), gradient):
        if t >= 0 and found[t] is not None:
            found[t][r] += g


def _diagonal_gradients(gram, columns, group: _Group, wanted, found) -> None:
    """For a diagonal block ``d = prod_p D_p[index_p]``: ``dL/dD_p[a] = sum_{x: index_p(x) = a} G[x] conj(prod_{q != p} ...)``."""
    m = group.m
    spread = [ops[:, _target_index(m, local)] for (ops, _), local in zip(columns, group.local)]
    for p, ((_, rows), local) in enumerate(zip(columns, group.local)):
        if not _tracked(rows, wanted):
            continue
        others = np.ones((1, 1 << m), dtype=complex)
        for q, values in enumerate(spread):
            if q != p:
                others = others * values
        weights = gram * others.conj()
        index = _target_index(m, local)
        k = 1 << len(local)
        gradient = np.stack([np.bincount(index, w.real, k) + 1j * np.bincount(index, w.imag, k) for w in weights])
        _deposit(found, rows, gradient)
