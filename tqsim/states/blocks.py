"""Block product states: small dense kets on disjoint groups of qubits.

A circuit whose multi-qubit gates never join two groups of qubits leaves the
state a tensor product of the groups' states (Cirq's simulators keep
untangled states split the same way). Each group, a *block*, is held as a
dense ket over its qubits; a gate that spans blocks merges them first.
Time and memory follow the largest block, not ``2**n``.

Blocks of one size that see the same sequence of gate kinds on the same local
qubits are stacked into one ``(m, 2**k)`` tensor and evolved as a batch of
StateVectors with stacked gates: a layer of gates over many small blocks is a
few batched operations, not a few per block.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple, Sequence

import torch

from .. import _checks
from ..gates import Gate, stacked_gate, stacking_key
from ..paulis import pauli_factors
from ..tensor.flat import apply_matrix, ket_reduced, permute_qubits, reduce_to
from .base import (Exportable, check_index_width, checked_operations, inverse_cdf_draws, joint_distance,
                   measured_outcomes, orthogonal_part, reorder_reduced)
from .statevector import StateVector

__all__ = ["BlockProductState"]

class _Stack(NamedTuple):
    """``m`` blocks of ``k`` qubits: row ``j`` of ``amplitudes`` is the ket over ``qubits[j]`` (ascending)."""

    qubits: tuple[tuple[int, ...], ...]
    amplitudes: torch.Tensor  # (m, 2**k)


class BlockProductState(Exportable):
    """A tensor product ``|psi_1>_{B_1} ⊗ |psi_2>_{B_2} ⊗ ⋯`` of kets over disjoint qubit groups ``B_i``.

    Build one with :meth:`zeros` or :meth:`from_blocks` and evolve it with
    ``circuit.run(state)``: gates inside a block act there, a gate across
    blocks merges them. States are immutable and differentiable, as StateVector.
    """

    __slots__ = ("stacks", "num_qubits")
    is_pure = True

    def __init__(self, stacks: Sequence[_Stack], num_qubits: int):
        self.stacks = tuple(stacks)
        self.num_qubits = num_qubits

    # ----------------------------------------------------------- constructors
    @classmethod
    def zeros(cls, num_qubits: int, dtype=None, device=None) -> "BlockProductState":
        """``|0...0>``, one block per qubit."""
        n = _checks.num_qubits(num_qubits)
        amps = torch.zeros(n, 2, dtype=_checks.complex_dtype(dtype), device=_checks.device(device))
        amps[:, :1].fill_(1)
        return cls([_Stack(tuple((q,) for q in range(n)), amps)], n)

    @classmethod
    def from_blocks(cls, blocks, dtype=None, device=None) -> "BlockProductState":
        """From ``[(qubits, state), ...]`` whose qubit groups are disjoint and cover ``0..n-1``.

        ``state`` is a StateVector or anything :meth:`StateVector.from_array`
        reads, big-endian in the order its ``qubits`` are listed. Every block
        is converted to the dtype and device given (default: the first's).
        """
        try:
            pairs = [tuple(item) for item in blocks]
        except TypeError:
            raise TypeError(f"blocks must be a sequence of (qubits, state) pairs, got {blocks!r}") from None
        if not pairs or any(len(p) != 2 for p in pairs):
            raise ValueError("blocks must be a non-empty sequence of (qubits, state) pairs")
        parsed = []
        for qubits, state in pairs:
            qubits = _checks.qubit_list(qubits, "block qubits")
            if not isinstance(state, StateVector):
                state = StateVector.from_array(state, dtype, device)
            if state.batch_shape:
                raise ValueError(f"block on qubits {list(qubits)} holds a batch {tuple(state.batch_shape)}; "
                                 "blocks hold one state each")
            if state.num_qubits != len(qubits):
                raise ValueError(f"block on qubits {list(qubits)} has a state of {state.num_qubits} qubits; "
                                 f"it needs {len(qubits)}")
            parsed.append((qubits, state))
        covered = sorted(q for qubits, _ in parsed for q in qubits)
        if covered != list(range(len(covered))):
            raise ValueError(f"block qubits {covered} must cover 0..n-1, each qubit once")
        first = parsed[0][1]
        dtype = _checks.complex_dtype(dtype) if dtype is not None else first.dtype
        device = _checks.device(device) if device is not None else first.device
        stacks = []
        for qubits, state in parsed:
            order = sorted(range(len(qubits)), key=lambda j: qubits[j])
            amps = state.to(device, dtype).amplitudes()
            if order != list(range(len(qubits))):
                amps = permute_qubits(amps, order)
            stacks.append(_Stack((tuple(sorted(qubits)),), amps.unsqueeze(0)))
        return cls(stacks, len(covered))

    @classmethod
    def from_product(cls, state) -> "BlockProductState":
        """A ProductState's qubits as one block each (the same vectors, gradients kept)."""
        from .product import ProductState

        if not isinstance(state, ProductState):
            raise TypeError(f"expected a ProductState, got {type(state).__name__}")
        return cls([_Stack(tuple((q,) for q in range(state.num_qubits)), state.vectors)], state.num_qubits)

    # ------------------------------------------------------------- properties
    @property
    def dtype(self) -> torch.dtype:
        return self.stacks[0].amplitudes.dtype

    @property
    def device(self) -> torch.device:
        return self.stacks[0].amplitudes.device

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size()

    def blocks(self) -> list[tuple[tuple[int, ...], StateVector]]:
        """Every block as ``(qubits ascending, StateVector over them)``, by first qubit."""
        found = [(qubits, StateVector(stack.amplitudes[j], len(qubits)))
                 for stack in self.stacks for j, qubits in enumerate(stack.qubits)]
        return sorted(found, key=lambda item: item[0][0])

    def to(self, device=None, dtype=None) -> "BlockProductState":
        dev = _checks.device(device) if device is not None else self.device
        dt = _checks.complex_dtype(dtype) if dtype is not None else self.dtype
        return BlockProductState([s._replace(amplitudes=s.amplitudes.to(dev, dt)) for s in self.stacks],
                                 self.num_qubits)

    def norm(self) -> torch.Tensor:
        norms = [torch.linalg.vector_norm(s.amplitudes, dim=-1).prod() for s in self.stacks]
        return torch.stack(norms).prod()

    def __repr__(self) -> str:
        sizes = sorted((len(q) for s in self.stacks for q in s.qubits), reverse=True)
        return (f"BlockProductState(num_qubits={self.num_qubits}, blocks={len(sizes)}, largest={sizes[0]}, "
                f"dtype={self.dtype}, device={self.device})")

    # ----------------------------------------------------------- conversions
    def to_statevector(self) -> StateVector:
        """The dense state (n <= 30): the blocks' Kronecker product, qubits put in order."""
        _checks.fits_dense(self.num_qubits)
        return StateVector(_kron([(q, sv.amplitudes()) for q, sv in self.blocks()]), self.num_qubits)

    def amplitudes(self) -> torch.Tensor:
        return self.to_statevector().amplitudes()

    def inner(self, other: "BlockProductState") -> torch.Tensor:
        """<self|other>, whatever the two groupings: a product over the groups
        that the blocks of both states join into (each at most 30 qubits)."""
        value = None
        for a, b in self.joint_kets(other):
            term = (a.conj() * b).sum()
            value = term if value is None else value * term
        return value

    def joint_kets(self, other: "BlockProductState"):
        """Both states' dense kets over each group of qubits that their blocks join, group by group.

        Overlaps and distances between two groupings are products (or sums)
        over these groups, so no dense ket of the whole register is needed.
        """
        if not isinstance(other, BlockProductState):
            raise TypeError(f"expected a BlockProductState, got {type(other).__name__}")
        if other.num_qubits != self.num_qubits:
            raise ValueError(f"states have {self.num_qubits} and {other.num_qubits} qubits; they must match")
        mine, theirs = self.blocks(), other.blocks()
        groups = _components(self.num_qubits, [q for q, _ in mine] + [q for q, _ in theirs])
        too_big = max(len(g) for g in groups)
        if too_big > _checks.MAX_DENSE_QUBITS:
            raise ValueError(f"the two groupings join {too_big} qubits into one group; an overlap needs "
                             f"groups of at most {_checks.MAX_DENSE_QUBITS} qubits")
        group_of = {q: g for g in groups for q in g}
        for group in groups:
            yield tuple(_kron([(q, sv.amplitudes()) for q, sv in blocks if group_of[q[0]] is group])
                        for blocks in (mine, theirs))

    # --------------------------------------------------- the state protocol
    def _blocks_with(self, qubits: Sequence[int]) -> list:
        """``(kept qubits, block StateVector, their local positions)`` for every block holding any of ``qubits``."""
        found = []
        for block, sv in self.blocks():
            local = [j for j, q in enumerate(block) if q in qubits]
            if local:
                found.append((tuple(block[j] for j in local), sv, local))
        return found

    def reduced_matrix(self, keep: Sequence[int]) -> torch.Tensor:
        """Reduced density matrix of distinct qubits ``keep`` (in the order given): the
        Kronecker product of the reduced states of the blocks that hold them."""
        rho, joined = None, []
        for kept, sv, local in self._blocks_with(keep):
            part = ket_reduced(sv.amplitudes(), local)
            rho = part if rho is None else torch.kron(rho, part)
            joined += kept
        return reorder_reduced(rho, keep, joined)

    def entropy(self, subsystem: Sequence[int], alpha: float = 1, base: float = math.e) -> torch.Tensor:
        """Entropy of ``subsystem``: additive over the blocks, so no two blocks are ever joined."""
        return sum(sv.entropy(tuple(local), alpha, base) for _, sv, local in self._blocks_with(subsystem))

    def purity(self, subsystem: Sequence[int]) -> torch.Tensor:
        """Purity of ``subsystem``: multiplicative over the blocks."""
        return torch.stack([sv.purity(tuple(local)) for _, sv, local in self._blocks_with(subsystem)]).prod()

    def qubit_states(self) -> torch.Tensor:
        """Every single-qubit reduced state, shape ``(n, 2, 2)``: a ket's elementwise passes
        over each stack of blocks at once."""
        n = self.num_qubits
        rhos, order = [], []
        for stack in self.stacks:
            m, k = len(stack.qubits), len(stack.qubits[0])
            rhos.append(StateVector(stack.amplitudes, k).qubit_states().reshape(m * k, 2, 2))
            order += [q for qubits in stack.qubits for q in qubits]
        rho = torch.cat(rhos)
        if order == list(range(n)):
            return rho
        return rho.index_select(0, device_index(tuple(sorted(range(n), key=order.__getitem__)), rho.device))

    def schmidt_values(self, cut: int) -> torch.Tensor:
        """Schmidt values across ``cut``: the products of those of the blocks the cut splits
        (descending)."""
        values = torch.ones(1, dtype=_checks.real_dtype(self.dtype), device=self.device)
        for block, sv in self.blocks():
            left = sum(q < cut for q in block)
            if 0 < left < len(block):
                values = (values.unsqueeze(-1) * sv.schmidt_values(left)).flatten()
        return values.sort(descending=True).values

    def distance(self, other: "BlockProductState") -> torch.Tensor:
        """``sqrt(1 - |<self|other>|**2)`` from each joint group's overlap and orthogonal
        part (see :meth:`joint_kets`), joined without cancellation."""
        c, t = zip(*(orthogonal_part(x, y) for x, y in self.joint_kets(other)))
        return joint_distance(torch.stack(c), torch.stack(t))

    def pauli_expectation(self, terms) -> torch.Tensor:
        """``sum_t c_t <P_t>`` through :meth:`expectation_of_products`."""
        return self.expectation_of_products(pauli_factors(terms, self.dtype, self.device))

    # -------------------------------------------------------------- read-out
    def expectation_of_products(self, terms) -> torch.Tensor:
        blocks = self.blocks()
        owner = {q: b for b, (qubits, _) in enumerate(blocks) for q in qubits}
        kets = [sv.amplitudes() for _, sv in blocks]
        norms = [k.abs().square().sum() for k in kets]
        norm = torch.stack(norms).prod()
        total = torch.zeros((), dtype=_checks.real_dtype(self.dtype), device=self.device)
        for coefficient, ops in terms:
            value = norm
            for b in sorted({owner[q] for q in ops}):
                qubits, ket = blocks[b][0], kets[b]
                moved = ket
                for q in qubits:
                    if q in ops:
                        moved = apply_matrix(moved, ops[q], [qubits.index(q)])
                value = value * (ket.conj() @ moved).real / norms[b]
            total = total + coefficient * value
        return total

    def probability(self, bits: str | Sequence[int]) -> torch.Tensor:
        """``|<bits|psi>|**2``: a product of one amplitude per block."""
        values = _checks.bits(bits, self.num_qubits)
        result = torch.ones((), dtype=_checks.real_dtype(self.dtype), device=self.device)
        for qubits, sv in self.blocks():
            index = int("".join(str(values[q]) for q in qubits), 2)
            result = result * sv.amplitudes()[index].abs().square()
        return result

    def probabilities(self, qubits: Sequence[int] | None = None) -> torch.Tensor:
        """Marginal distribution over ``qubits`` (order given; default all, n <= 30)."""
        qubits = tuple(range(self.num_qubits)) if qubits is None else _checks.qubit_list(qubits)
        _checks.qubits_in_range(qubits, self.num_qubits)
        if not qubits:
            raise ValueError("qubits is empty; name at least one qubit (or None for all)")
        _checks.fits_dense(len(qubits), "a distribution over", "ask for at most")
        pieces = []
        for block, sv in self.blocks():
            kept = [q for q in block if q in qubits]
            if kept:
                probs = sv.amplitudes().abs().square()
                pieces.append((tuple(kept), reduce_to(probs, [block.index(q) for q in kept])))
        return _kron(pieces, qubits)

    def sample(self, shots: int, generator: torch.Generator | None = None, bits: bool = False) -> torch.Tensor:
        """Blocks measured independently: indices (n <= 62) or ``(shots, n)`` bits."""
        shots = _checks.positive_int(shots, "shots")
        check_index_width(self.num_qubits, bits)
        outcomes = torch.empty(shots, self.num_qubits, dtype=torch.long, device=self.device)
        for stack in self.stacks:
            m, k = len(stack.qubits), len(stack.qubits[0])
            index = inverse_cdf_draws(stack.amplitudes.detach().abs().square(), shots, generator)  # (m, shots)
            local = (index.unsqueeze(-1) >> torch.arange(k - 1, -1, -1, device=self.device)) & 1  # (m, shots, k)
            columns = device_index(sum(stack.qubits, ()), self.device).view(m, k)
            outcomes[:, columns] = local.permute(1, 0, 2)
        return measured_outcomes(outcomes, bits)

    # ------------------------------------------------------------- evolution
    def apply(self, operation) -> "BlockProductState":
        return self.evolve([operation])

    def evolve(self, operations) -> "BlockProductState":
        """A new state with the gates applied; a gate across blocks merges them."""
        gates = checked_operations(self, operations, takes_channels=False, takes_batches=False)
        where = self._where()
        blocks = _components(self.num_qubits, [block for stack in self.stacks for block in stack.qubits]
                             + [g.qubits for g in gates])
        block_of = {q: block for block in blocks for q in block}
        gates_of: dict[tuple[int, ...], list[Gate]] = {block: [] for block in blocks}
        for g in gates:
            gates_of[block_of[g.qubits[0]]].append(g)
        # a block that neither merges nor sees a gate stays in its stack; the
        # others are grouped by size and gate sequence and evolve as one batch
        unchanged: dict[int, list[int]] = {}
        groups: dict[tuple, list[tuple[int, ...]]] = {}
        for block in blocks:
            s, j = where[block[0]]
            if not gates_of[block] and self.stacks[s].qubits[j] == block:
                unchanged.setdefault(s, []).append(j)
                continue
            signature = tuple((stacking_key(g) or id(g), tuple(block.index(q) for q in g.qubits))
                              for g in gates_of[block])
            groups.setdefault((len(block), signature), []).append(block)
        stacks = []
        for s, rows in unchanged.items():
            stack = self.stacks[s]
            rows.sort()
            if len(rows) == len(stack.qubits):
                stacks.append(stack)
            else:
                stacks.append(_Stack(tuple(stack.qubits[j] for j in rows), _rows(stack.amplitudes, rows)))
        for (k, signature), members in groups.items():
            members, amps = self._gathered(members, where)
            local = [stacked_gate([gates_of[block][i] for block in members], targets, self.device)
                     for i, (_, targets) in enumerate(signature)]
            if local:
                amps = StateVector(amps, k)._evolve_checked(local).amplitudes()
            stacks.append(_Stack(tuple(members), amps))
        return BlockProductState(stacks, self.num_qubits)

    def _where(self) -> dict[int, tuple[int, int]]:
        """``(stack, row)`` of every qubit's block."""
        return {q: (s, j) for s, stack in enumerate(self.stacks) for j, qubits in enumerate(stack.qubits)
                for q in qubits}

    def _gathered(self, blocks: list[tuple[int, ...]], where: dict[int, tuple[int, int]]):
        """The current kets of ``blocks`` (each a union of current blocks) as ``(blocks reordered, (m, 2**k))``.

        Blocks made the same way (the same stacks contributing in the same
        qubit pattern) are gathered with one index per contributing stack and
        come out next to each other, so no row needs moving afterwards.
        """
        by_pattern: dict[tuple, list] = {}
        for block in blocks:
            parts = sorted({where[q] for q in block}, key=lambda sj: self.stacks[sj[0]].qubits[sj[1]][0])
            joined = [q for s, j in parts for q in self.stacks[s].qubits[j]]
            pattern = (tuple(s for s, _ in parts), tuple(joined.index(q) for q in block))
            by_pattern.setdefault(pattern, []).append((block, [j for _, j in parts]))
        ordered, kets = [], []
        for (sources, _), entries in by_pattern.items():
            pieces = []
            for i, s in enumerate(sources):
                rows = [parts[i] for _, parts in entries]
                pieces.append((self.stacks[s].qubits[rows[0]], _rows(self.stacks[s].amplitudes, rows)))
            kets.append(_kron(pieces))
            ordered += [block for block, _ in entries]
        return ordered, kets[0] if len(kets) == 1 else torch.cat(kets)


def _components(num_qubits: int, groups) -> list[tuple[int, ...]]:
    """The connected components of qubits joined by each group (union-find), each ascending, by first qubit."""
    parent = list(range(num_qubits))

    def root(q: int) -> int:
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    for group in groups:
        for q in group[1:]:
            parent[root(q)] = root(group[0])
    members: dict[int, list[int]] = {}
    for q in range(num_qubits):
        members.setdefault(root(q), []).append(q)
    return sorted((tuple(m) for m in members.values()), key=lambda m: m[0])


@lru_cache(maxsize=1024)
def device_index(rows: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``rows`` as an index tensor on ``device``, made once per pattern.

    A copy from the host cannot be recorded in a CUDA graph; the eager steps
    before a capture fill this cache.
    """
    return torch.tensor(rows, device=device)


def _rows(values: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """``values[rows]``, as a view when the rows are evenly spaced (no index tensor to copy)."""
    step = rows[1] - rows[0] if len(rows) > 1 else 1
    if step > 0 and rows == list(range(rows[0], rows[-1] + 1, step)):
        return values[rows[0]:rows[-1] + 1:step]
    return values.index_select(0, device_index(tuple(rows), values.device))


def _kron(pieces: list[tuple[tuple[int, ...], torch.Tensor]], order: Sequence[int] | None = None) -> torch.Tensor:
    """Kronecker product of flat ``(..., 2**k)`` tensors over qubit groups, its qubits put in
    ``order`` (default ascending). Leading batch axes are kept."""
    joined = [q for qubits, _ in pieces for q in qubits]
    result = None
    for _, values in pieces:
        result = values if result is None else (result.unsqueeze(-1) * values.unsqueeze(-2)).flatten(-2)
    permutation = [joined.index(q) for q in (sorted(joined) if order is None else order)]
    if permutation != list(range(len(permutation))):
        result = permute_qubits(result, permutation)
    return result
