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

from . import block_plans
from ._threads import numpy_on_one_thread
from .gates import Gate, numpy_operator, stacked_gate, stacking_key
from .tensor import cpu_kernels
from .tensor.flat import apply_diagonal, apply_matrix

__all__ = ["Block", "FACTORS_ON_KET_AMPLITUDES", "Factor", "GateTables", "SMALL_KET_AMPLITUDES", "Step",
           "applies_apart", "block_size", "build_operator", "evolve_small_ket", "gate_operators", "gate_tables",
           "plan", "schedule", "small_ket_block_size", "step_operators"]


@dataclass
class Block:
    """Gates merged into one operator on ``qubits`` (ascending)."""

    qubits: tuple[int, ...]
    gates: list[Gate] = field(default_factory=list)

    @property
    def is_diagonal(self) -> bool:
        return all(g.is_diagonal for g in self.gates)


def block_size(cuda: bool, tracks_gradient: bool, kernel: bool = False) -> int:
    """Largest block for a dense state, chosen by measurement (docs/benchmarks.md).

    CUDA without autograd: 2 qubits, one Triton kernel each at memory speed.
    With autograd every block is a ``torch.matmul`` whose inputs are kept for
    the backward pass, so fewer, larger blocks win: 4 qubits on CUDA, 5 on the
    CPU (a 20-qubit training step of the deep family: 0.82 s at 5, 1.10 s at
    4, 2.2 s at 2). Plain CPU runs also take 5 (the brickwork circuit of
    bench_dense.py at 20 qubits, complex64: 52.7 ms at 3, 36.3 ms at 4, 29.8 ms
    at 5, 40 ms at 6). The compiled CPU kernel (``kernel``) takes 4: its 5-qubit
    blocks cost twice its 4-qubit ones, and plans of windows of 4 were the
    fastest at 20-22 qubits (docs/benchmarks.md).
    """
    if kernel:
        return 4
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
    return [Block(_bits(mask), [gates[j] for j in members])
            for mask, members in _group([g.qubits for g in gates], max_qubits)]


def _group(qubit_lists: Sequence[tuple[int, ...]], max_qubits: int) -> list[tuple[int, list[int]]]:
    """:func:`plan` as ``(qubit bit mask, member indices)`` per block, in closing order.

    Qubit sets are bit masks, so a file of 10**5 gates is planned in a few
    microseconds a gate.
    """
    done: list[tuple[int, list[int]]] = []
    open_at: dict[int, list] = {}  # qubit -> its open block [mask, members]
    for j, qubits in enumerate(qubit_lists):
        gate_mask = 0
        touched = {}
        for q in qubits:
            gate_mask |= 1 << q
            b = open_at.get(q)
            if b is not None:
                touched[id(b)] = b
        union = gate_mask
        for b in touched.values():
            union |= b[0]
        span = union.bit_length() - (union & -union).bit_length() + 1
        merged = _widened(union, open_at, max_qubits) if span <= max_qubits else None
        if merged is not None:
            mask = _union(merged) | union
            mask = block_plans.contiguous_span(mask)
        if merged is None and union.bit_count() <= max_qubits:
            merged, mask = list(touched.values()), union
        elif merged is None:
            # close the largest touched blocks until the gate fits with the rest: a lone
            # 1-qubit gate left open joins the next block instead of costing a pass of its own
            merged = sorted(touched.values(), key=lambda b: b[0].bit_count())
            while merged and (gate_mask | _union(merged)).bit_count() > max_qubits:
                closed = merged.pop()
                for q in _bits(closed[0]):
                    if open_at.get(q) is closed:
                        del open_at[q]
                done.append((closed[0], closed[1]))
            mask = gate_mask | _union(merged)
        block = [mask, []]
        for b in sorted(merged, key=lambda b: b[0] & -b[0]):  # by lowest qubit
            block[1].extend(b[1])
            for q in _bits(b[0]):
                open_at.pop(q, None)
        block[1].append(j)
        for q in _bits(mask):
            open_at[q] = block
    done.extend((b[0], b[1]) for b in {id(b): b for b in open_at.values()}.values())
    return done


def _widened(union: int, open_at: dict[int, list], max_qubits: int) -> list[list] | None:
    """The open blocks to merge when the gate's block is widened to a contiguous span, or None
    when no span of at most ``max_qubits`` qubits takes them.

    Every open block with a qubit inside the span is swallowed, which can widen the span again;
    a block left open inside it would see the merged gates overtake its own.
    """
    low, high = (union & -union).bit_length() - 1, union.bit_length() - 1
    inside: dict[int, list] = {}
    while high - low < max_qubits:
        for q in range(low, high + 1):
            b = open_at.get(q)
            if b is not None:
                inside[id(b)] = b
        widened = union | _union(inside.values())
        w_low, w_high = (widened & -widened).bit_length() - 1, widened.bit_length() - 1
        if (w_low, w_high) == (low, high):
            return list(inside.values())
        low, high = w_low, w_high
    return None


def _union(blocks) -> int:
    mask = 0
    for b in blocks:
        mask |= b[0]
    return mask


@lru_cache(maxsize=4096)
def _bits(mask: int) -> tuple[int, ...]:
    """The set bits of ``mask``, ascending."""
    return tuple(q for q in range(mask.bit_length()) if mask >> q & 1)


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


class Factor(NamedTuple):
    """Gates of a block folded into one operator on ``targets`` (positions in the block) before the
    block is composed: a multi-qubit gate ``base`` with the 1-qubit gates next to it on its qubits.

    ``before`` and ``after`` hold ``(slot, gate index)`` in the order they act; ``slot`` is the
    position of the gate's qubit among ``targets``. A factor without a multi-qubit gate is a chain of
    1-qubit gates on one qubit, ``base`` the first.
    """

    targets: tuple[int, ...]
    base: int
    before: tuple[tuple[int, int], ...]
    after: tuple[tuple[int, int], ...]


class Step(NamedTuple):
    """One block of a :func:`schedule`: the gates ``members`` (indices into the run) on ``qubits``."""

    qubits: tuple[int, ...]  # ascending
    members: tuple[int, ...]
    local: tuple[tuple[int, ...], ...]  # each member's qubits as positions in ``qubits``
    is_diagonal: bool
    apart: bool  # a wide controlled gate, applied by the state on its own (:func:`applies_apart`)
    factors: tuple[Factor, ...] = ()  # the members folded (:func:`_fold`); empty when diagonal or apart


def schedule(gates: Sequence[Gate], max_qubits: int, num_qubits: int | None = None,
             kernel: str | None = None) -> tuple[Step, ...]:
    """:func:`plan` as indices, computed once per circuit structure.

    The plan depends on the gates' qubits alone (and on which are wide
    controlled gates), never on their angles, so a training loop that
    rebuilds the same circuit with new angles every step plans it once.
    Given ``num_qubits`` (a large ket on the CPU), the plan is the cheaper of
    this one and a plan of windows under a cost model (:mod:`tqsim.block_plans`);
    ``kernel`` ("complex" or "real") picks the model of the compiled kernel.
    """
    # (qubits, diagonal, applies_apart), the last written out: this runs once per gate of 10**5-gate files
    key = tuple((g.qubits, g.is_diagonal, g.is_controlled and len(g.qubits) > max_qubits) for g in gates)
    return _schedule(key, max_qubits, num_qubits, kernel)


@lru_cache(maxsize=64)
def _schedule(key: tuple, max_qubits: int, num_qubits: int | None, kernel: str | None) -> tuple[Step, ...]:
    qubit_lists = [qubits for qubits, _, _ in key]
    if num_qubits is None:
        groups = _group(qubit_lists, max_qubits)
    else:
        diagonal = [d for _, d, _ in key]
        groups = block_plans.cheaper(_group(qubit_lists, max_qubits), qubit_lists, diagonal, num_qubits, max_qubits,
                                     kernel)
    steps = []
    for mask, members in groups:
        qubits = _bits(mask)
        position = {q: j for j, q in enumerate(qubits)}
        local = tuple(tuple(position[q] for q in key[j][0]) for j in members)
        diagonal = all(key[j][1] for j in members)
        factors = () if diagonal or key[members[0]][2] else _fold(members, local)
        steps.append(Step(qubits, tuple(members), local, diagonal, key[members[0]][2], factors))
    return tuple(steps)


def _fold(members: Sequence[int], local: Sequence[tuple[int, ...]]) -> tuple[Factor, ...]:
    """A block's gates as factors (:class:`Factor`): every 1-qubit gate joins the multi-qubit gate before
    it on its qubit (after it, when none came before); the rest form one chain per qubit.

    Moving a 1-qubit gate next to that gate crosses only gates on other qubits, so the product
    is unchanged; the block then composes a few 4 x 4 factors instead of many gates.
    """
    factors: list[tuple[tuple[int, ...], int, list, list]] = []
    last: dict[int, tuple] = {}  # qubit -> the latest factor on it
    waiting: dict[int, list[int]] = {}  # qubit -> 1-qubit gates before any factor on it
    for j, targets in zip(members, local):
        if len(targets) == 1:
            factor = last.get(targets[0])
            if factor is None:
                waiting.setdefault(targets[0], []).append(j)
            else:
                factor[3].append((factor[0].index(targets[0]), j))
            continue
        factor = (targets, j, [(slot, i) for slot, q in enumerate(targets) for i in waiting.pop(q, ())], [])
        factors.append(factor)
        for q in targets:
            last[q] = factor
    folded = [Factor(t, base, tuple(before), tuple(after)) for t, base, before, after in factors]
    folded += [Factor((q,), chain[0], (), tuple((0, i) for i in chain[1:])) for q, chain in waiting.items()]
    return tuple(folded)


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
        return _constant_operators(steps, gates, dtype, device)
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

@numpy_on_one_thread()
def _constant_operators(steps: Sequence[Step], gates: Sequence[Gate], dtype: torch.dtype,
                        device: torch.device) -> list[torch.Tensor | None]:
    """Every step's operator for gates without tensor parameters (a circuit read from a file), in NumPy.

    A NumPy operation on a 32 x 32 matrix costs a few microseconds, a PyTorch
    one five to fifteen; a circuit of a hundred thousand gates spends its time
    here. The blocks are composed from their few folded factors, one batch per
    block structure (:func:`_constant_steps`), in complex128, cast once.
    """
    return [None if piece is None else torch.from_numpy(piece).to(dtype=dtype, device=device)
            for piece in _constant_steps(steps, gates, compose=True)]


def _constant_steps(steps: Sequence[Step], gates: Sequence[Gate], compose: bool = False) -> list:
    """For each step of constant ``gates``: None (applied apart), the diagonal of a diagonal block (1-D),
    and the block's factors ``[(matrix, local targets), ...]`` in the order they act or, with ``compose``,
    the block's matrix (2-D).

    The gates' matrices are built one batch per kind of gate (:class:`_GateMatrices`), each block's
    1-qubit gates are folded into its multi-qubit gates one batch per pattern, and blocks of one
    structure (every layer of a layered circuit) are composed as one batch (:func:`_fold_patterns`):
    a circuit of 10**5 gates costs a few dozen NumPy calls here, not one per factor.
    """
    matrices = _GateMatrices(gates, [j for step in steps if not step.apart for j in step.members])
    folding = _fold_patterns(tuple(steps))
    folded = [_folded(pattern, matrices) for pattern in folding.patterns]
    pieces: list = [None] * len(steps)
    for s, step in enumerate(steps):
        if step.is_diagonal and not step.apart:
            m = len(step.qubits)
            diagonal = np.ones(1 << m, dtype=complex)
            for j, local in zip(step.members, step.local):
                diagonal = diagonal * matrices[j].diagonal()[_target_index(m, local)]
            pieces[s] = diagonal
        elif not (step.apart or compose):
            pieces[s] = [(folded[p][i], f.targets) for f, (p, i) in zip(step.factors, folding.where[s])]
    if compose:
        for m, structure, members, rows in folding.alike:
            blocks = np.eye(1 << m, dtype=complex)[None]
            for (p, targets), column in zip(structure, rows.T):
                blocks = _times_on_stack(blocks, folded[p][column], targets, m, False)
            for s, block in zip(members, blocks):
                pieces[s] = block
    return pieces


class GateTables(NamedTuple):
    """The operators of some gates of a run, one table per kind of gate (:func:`gate_tables`).

    ``inputs`` are PyTorch tensors ``(g, d, d)`` or diagonals ``(g, d)``, complex128, built from the
    gates' tensor angles (so gradients reach the angles through the gates' own formulas);
    ``constants`` are NumPy tables of fixed gates (one shared row) and of gates with float angles.
    ``source[j]`` is gate ``j``'s ``(table, row)``: table ``t >= 0`` is ``inputs[t]``, ``t < 0`` is
    ``constants[-t - 1]``. ``fixed[j]`` keys the fixed gates.
    """

    inputs: list[torch.Tensor]
    constants: list[np.ndarray]
    source: np.ndarray
    fixed: dict[int, tuple]


def gate_tables(gates: Sequence[Gate], indices: Sequence[int], device: torch.device) -> GateTables:
    """:class:`GateTables` of ``gates[j]`` for ``j`` in ``indices``, one PyTorch call per kind of gate."""
    kinds: dict = {}
    for j in indices:
        kinds.setdefault(stacking_key(gates[j]) or ("alone", j), []).append(j)
    tables = GateTables([], [], np.zeros((len(gates), 2), dtype=np.int64), {})
    for key, members in kinds.items():
        first = gates[members[0]]
        if not first.params:  # a fixed gate: one matrix serves every member
            tables.constants.append(numpy_operator(first)[None])
            tables.source[members] = (-len(tables.constants), 0)
            tables.fixed.update((j, key) for j in members)
            continue
        built = stacked_gate([gates[j] for j in members], first.qubits, device) if len(members) > 1 else first
        op = built.operator(torch.complex128, device)
        if len(members) == 1:
            op = op.unsqueeze(0)
        if any(type(p) is not float and isinstance(p, torch.Tensor) for j in members for p in gates[j].params):
            tables.inputs.append(op)
            tables.source[members, 0] = len(tables.inputs) - 1
        else:
            tables.constants.append(op.resolve_conj().numpy())
            tables.source[members, 0] = -len(tables.constants)
        tables.source[members, 1] = np.arange(len(members))
    return tables


class _GateMatrices:
    """The complex128 matrices of many constant gates (diagonal gates as diagonal matrices),
    stored per number of qubits and built one batch per kind of gate (:func:`gate_tables`), so a
    file of 10**5 rotations costs a handful of calls, not one per gate. ``self[j]`` is ``gates[j]``'s."""

    def __init__(self, gates: Sequence[Gate], indices: list[int]):
        found = gate_tables(gates, indices, torch.device("cpu"))  # constant gates: NumPy tables only
        chosen = np.asarray(indices, dtype=np.int64)
        sizes: dict[int, int] = {}
        self.row = np.zeros(len(gates), dtype=np.int64)
        self.num_qubits = [len(g.qubits) for g in gates]
        kinds = []
        for table in np.unique(found.source[chosen, 0]).tolist():
            members = chosen[found.source[chosen, 0] == table]
            k = self.num_qubits[members[0]]
            self.row[members] = np.arange(sizes.get(k, 0), sizes.get(k, 0) + len(members))
            sizes[k] = sizes.get(k, 0) + len(members)
            kinds.append((members, found.constants[-table - 1][found.source[members, 1]]))
        self.tables = {k: np.empty((size, 1 << k, 1 << k), dtype=complex) for k, size in sizes.items()}
        for members, op in kinds:
            if gates[members[0]].is_diagonal:
                op = op[..., None] * np.eye(op.shape[-1])
            self.tables[self.num_qubits[members[0]]][self.row[members]] = op

    def __getitem__(self, j: int) -> np.ndarray:
        return self.tables[self.num_qubits[j]][self.row[j]]

    def gather(self, k: int, indices: np.ndarray) -> np.ndarray:
        """The matrices of gates ``indices`` (all on ``k`` qubits), stacked along the leading axes."""
        return self.tables[k][self.row[indices]]


class _Pattern(NamedTuple):
    """Factors that fold alike: a ``k``-qubit gate with 1-qubit gates on the same slots, in order."""

    k: int
    before_slots: tuple[int, ...]
    after_slots: tuple[int, ...]
    base: np.ndarray  # (g,) gate indices
    before: np.ndarray  # (g, len(before_slots))
    after: np.ndarray  # (g, len(after_slots))


class _Folding(NamedTuple):
    """How the blocks of a schedule fold and compose (:func:`_fold_patterns`)."""

    patterns: list[_Pattern]
    where: list[list[tuple[int, int]]]  # per step: each factor's (pattern, row), in the order of step.factors
    #: blocks composed alike: (m, ((pattern, local targets) per factor), step indices, their rows (g, factors))
    alike: list[tuple[int, tuple[tuple[int, tuple[int, ...]], ...], list[int], np.ndarray]]


@lru_cache(maxsize=16)
def _fold_patterns(steps: tuple[Step, ...]) -> _Folding:
    """The factors of all steps grouped by pattern, where each step's factors lie, and the blocks that
    compose alike (the same patterns on the same local targets). Depends on structure alone."""
    groups: dict[tuple, list[Factor]] = {}
    for step in steps:
        for f in step.factors:
            key = (len(f.targets), tuple(slot for slot, _ in f.before), tuple(slot for slot, _ in f.after))
            groups.setdefault(key, []).append(f)
    patterns, position = [], {}
    for p, ((k, before_slots, after_slots), factors) in enumerate(groups.items()):
        patterns.append(_Pattern(
            k, before_slots, after_slots, np.array([f.base for f in factors]),
            np.array([[j for _, j in f.before] for f in factors], dtype=np.int64).reshape(len(factors), -1),
            np.array([[j for _, j in f.after] for f in factors], dtype=np.int64).reshape(len(factors), -1)))
        position.update((f, (p, i)) for i, f in enumerate(factors))
    where = [[position[f] for f in step.factors] for step in steps]
    alike: dict[tuple, list[int]] = {}
    for s, step in enumerate(steps):
        if step.factors:
            structure = tuple((p, f.targets) for f, (p, _) in zip(step.factors, where[s]))
            alike.setdefault((len(step.qubits), structure), []).append(s)
    return _Folding(patterns, where, [
        (m, structure, members, np.array([[i for _, i in where[s]] for s in members], dtype=np.int64))
        for (m, structure), members in alike.items()])


def _folded(pattern: _Pattern, matrices: _GateMatrices) -> np.ndarray:
    """The matrices ``(g, 2**k, 2**k)`` of a pattern's factors: ``after ... base ... before``."""
    product = matrices.gather(pattern.k, pattern.base)
    for i in range(len(pattern.before_slots) - 1, -1, -1):  # M <- M E, the last gate before first
        product = _times_one_qubit(product, matrices.gather(1, pattern.before[:, i]), pattern.before_slots[i], True)
    for i, slot in enumerate(pattern.after_slots):  # M <- E M
        product = _times_one_qubit(product, matrices.gather(1, pattern.after[:, i]), slot, False)
    return product


def _times_one_qubit(matrices: np.ndarray, ones: np.ndarray, slot: int, on_the_right: bool) -> np.ndarray:
    """``matrices (g, d, d)`` times 1-qubit matrices ``ones (g, 2, 2)`` on ``slot``, from the left or the right."""
    g, d, _ = matrices.shape
    before, after = 1 << slot, d >> (slot + 1)
    if on_the_right:  # (M E)[r, (a, i, b)] = sum_j M[r, (a, j, b)] U[j, i]: columns as the rows of U^T
        product = np.matmul(np.swapaxes(ones, 1, 2)[:, None], matrices.reshape(g, d * before, 2, after))
    else:
        product = np.matmul(ones[:, None], matrices.reshape(g, before, 2, after * d))
    return product.reshape(g, d, d)


def _times_on_stack(blocks: np.ndarray, ops: np.ndarray, local: tuple[int, ...], m: int,
                    diagonal: bool) -> np.ndarray:
    """``ops`` (``(B, d, d)`` matrices or ``(B, d)`` diagonals, B possibly 1) acting on the rows of
    ``blocks`` ``(B or 1, 2**m, c)`` at the positions ``local``: many blocks composed in one call."""
    k = len(local)
    batch = max(blocks.shape[0], ops.shape[0])
    if local == tuple(range(local[0], local[0] + k)):  # adjacent, in order
        view = blocks.reshape(blocks.shape[0], 1 << local[0], 1 << k, -1)
        product = ops[:, None, :, None] * view if diagonal else np.matmul(ops[:, None], view)
        return product.reshape(batch, *blocks.shape[1:])
    axes = [1 + q for q in local]
    tensor = np.moveaxis(blocks.reshape(blocks.shape[0], *(2,) * m, -1), axes, range(1, k + 1))
    moved_shape = tensor.shape[1:]
    rows = tensor.reshape(tensor.shape[0], 1 << k, -1)
    product = ops[:, :, None] * rows if diagonal else np.matmul(ops, rows)
    product = np.moveaxis(product.reshape(batch, *moved_shape), range(1, k + 1), axes)
    return product.reshape(batch, *blocks.shape[1:])


#: Kets of at most this many amplitudes run constant circuits in NumPy (:func:`evolve_small_ket`):
#: a NumPy call costs a few microseconds against PyTorch's ten to twenty.
SMALL_KET_AMPLITUDES = 2**12

#: Up to this many amplitudes NumPy applies the folded factors to the ket one by one: a 4 x 4 factor
#: costs as much there as on a 32 x 32 block. Larger kets, and kets the kernel takes, compose each block.
FACTORS_ON_KET_AMPLITUDES = 2**10


@numpy_on_one_thread()
def evolve_small_ket(amplitudes: np.ndarray, gates: Sequence[Gate]) -> np.ndarray:
    """A ket of at most :data:`SMALL_KET_AMPLITUDES` amplitudes (complex128) after constant ``gates``.

    The 1-qubit gates of each block of :func:`schedule` are folded into the multi-qubit gates
    beside them (one NumPy batch per pattern); the factors then act on the ket one by one, or,
    on kets above :data:`FACTORS_ON_KET_AMPLITUDES`, are composed into their blocks (one batch
    per block structure), which act on the ket. Diagonal blocks multiply the ket once. From
    2**10 amplitudes, where the compiled kernel is built, the blocks act through it, in place
    on a copy of ``amplitudes``.
    """
    n = amplitudes.size.bit_length() - 1
    steps = schedule(gates, small_ket_block_size(amplitudes.size))
    kernel = _small_ket_kernel(amplitudes.size) and all(len(s.qubits) <= cpu_kernels.MAX_QUBITS for s in steps)
    compose = kernel or amplitudes.size > FACTORS_ON_KET_AMPLITUDES
    pieces = _constant_steps(steps, gates, compose)
    if kernel:
        return cpu_kernels.apply_numpy_in_place(amplitudes.copy(), [
            (np.diag(piece) if piece.ndim == 1 else piece, step.qubits) for step, piece in zip(steps, pieces)])
    psi = amplitudes
    for step, piece in zip(steps, pieces):
        if isinstance(piece, np.ndarray):  # a block's matrix or diagonal
            psi = _times_on(psi, piece, step.qubits, n)
        else:
            for op, targets in piece:
                psi = _times_on(psi, op, tuple(step.qubits[t] for t in targets), n)
    return psi


def _small_ket_kernel(amplitudes: int) -> bool:
    """Whether :func:`evolve_small_ket` applies its blocks through the compiled kernel
    (:mod:`tqsim.tensor.cpu_kernels`): from 2**10 amplitudes, where it is built. With the blocks composed
    in batches it took the cost of a gate at 10-12 qubits from 5.5-7.5 to 3.2-4.1 us
    (benchmarks/bench_gates.py, docs/benchmarks.md)."""
    return amplitudes >= cpu_kernels.MIN_AMPLITUDES and cpu_kernels.available()


def small_ket_block_size(amplitudes: int) -> int:
    """The widest block of :func:`evolve_small_ket` for a ket of ``amplitudes``: callers check which gates
    apply apart (:func:`applies_apart`) against it."""
    return block_size(False, False, _small_ket_kernel(amplitudes))


def _times_on(psi: np.ndarray, op: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    """``psi`` (a flat ket ``(2**n,)``, or kets as the columns of ``(2**n, c)``) after ``op`` (a diagonal,
    or a matrix big-endian over ``qubits``) acts on ``qubits``: NumPy's counterpart of
    :func:`tqsim.tensor.flat.apply_matrix` for the small kets and blocks of constant circuits."""
    k = len(qubits)
    if qubits == tuple(range(qubits[0], qubits[0] + k)):  # adjacent, in order
        view = psi.reshape(1 << qubits[0], 1 << k, -1)
        if op.ndim == 1:
            return (op[:, None] * view).reshape(psi.shape)
        if qubits[0] < 4:  # up to 8 stacked products
            return np.matmul(op, view).reshape(psi.shape)
        # many stacked products cost a call each: one product with the target axis in front instead
        rows = view.transpose(1, 0, 2).reshape(1 << k, -1)
        return (op @ rows).reshape(view.shape[1], view.shape[0], -1).transpose(1, 0, 2).reshape(psi.shape)
    axes = (2,) * n + (-1,)
    tensor = np.moveaxis(psi.reshape(axes), qubits, range(k)).reshape(1 << k, -1)
    product = op[:, None] * tensor if op.ndim == 1 else op @ tensor
    return np.moveaxis(product.reshape(axes), range(k), qubits).reshape(psi.shape)


@lru_cache(maxsize=4096)
def _target_index(m: int, local: tuple[int, ...]) -> np.ndarray:
    """For every basis index of ``m`` qubits, the index of its ``local`` bits (big-endian in that order)."""
    basis = np.arange(1 << m)
    index = np.zeros(1 << m, dtype=np.int64)
    for q in local:
        index = (index << 1) | ((basis >> (m - 1 - q)) & 1)
    return index
