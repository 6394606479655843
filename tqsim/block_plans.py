"""Fusion plans for large dense kets on the CPU, chosen by a cost model.

On a large ket a block's cost is not its arithmetic alone: where its qubits
sit decides how well the matrix product runs. A 4-qubit block on qubits with
many amplitudes after them costs about one pass over the ket (memory speed),
the same block ending two qubits before the last costs four, and a 5-qubit
block costs two wherever it sits (complex64, 20 qubits, docs/benchmarks.md).
The greedy grouping of :func:`tqsim.fusion.plan` sees none of that, and on a
brickwork of 1-qubit and nearest-neighbour gates its 4-qubit plan falls
apart into 3-qubit blocks holding one 2-qubit gate each.

So large kets get the cheaper of two plans under a model of measured costs:
the greedy grouping, and a :func:`tiled` plan. That one goes in rounds; each
round lays windows of adjacent qubits over the register, chosen by dynamic
programming to save the most modelled time, and puts into each window every
gate that can act there next, so the next round's windows straddle this
round's boundaries, as bricks in a wall do. Plans depend on the gates' qubits
alone: a plan is made once per circuit structure, and the same structure
always gets the same plan.

The plan of windows costs about 9 us a gate more to make than the greedy
grouping alone (4-5 us) and saves a quarter to a third of the blocks. From
:data:`PLANNED_AMPLITUDES` amplitudes a pass costs enough that even a circuit
run once gains.
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["PLANNED_AMPLITUDES", "block_cost", "cheaper", "contiguous_span", "plan_cost", "tiled"]

#: kets from this many amplitudes get a plan chosen by cost: below it, a circuit run once would spend more
#: on planning than it saves (a pass over 2**18 complex64 amplitudes takes about 0.1 ms on this machine)
PLANNED_AMPLITUDES = 1 << 18

# Time of a block on k contiguous qubits with 2**a amplitudes after them, in passes over the ket (a 3-qubit
# block with many amplitudes after it is 1). Rows: k = 1..5; columns: a = 0..7, then 7 for every larger a.
# Measured with tensor.flat.apply_matrix at 16-22 qubits, complex64 (docs/benchmarks.md).
_CONTIGUOUS = (
    (1.4, 1.0, 1.0, 1.2, 1.9, 3.6, 3.4, 0.8),
    (1.0, 0.9, 1.3, 2.0, 3.4, 1.6, 1.2, 1.0),
    (0.9, 1.3, 2.0, 2.5, 1.6, 1.3, 1.3, 1.0),
    (1.1, 1.9, 3.9, 2.1, 1.9, 1.5, 1.3, 1.2),
    (1.8, 3.2, 5.1, 3.0, 2.4, 2.1, 2.1, 1.9),
)
#: a diagonal block: one elementwise product
_DIAGONAL = 1.0
#: targets with other qubits between them: the ket is permuted to put them first, and back
_SCATTERED = 2.5
#: one block's fixed cost (building its operator, the calls around its product), in seconds
_PER_BLOCK_S = 15e-6
#: one pass over one amplitude, in seconds (complex64 on this project's 2-core machine)
_PASS_PER_AMPLITUDE_S = 0.45e-3 / (1 << 20)


#: with the compiled kernel (tqsim.tensor.cpu_kernels) a block's time depends on its width alone: passes by
#: width 1..5 (a 1-qubit gate is 1; diagonal blocks go through the kernel too), and seconds of one pass per
#: amplitude, for complex kets (complex64) and real ones (float32), measured at 20-22 qubits (docs/benchmarks.md)
_KERNEL_PASSES = {"complex": (1.0, 1.1, 1.7, 2.7, 5.5), "real": (1.0, 1.2, 1.6, 2.4, 3.9)}
_KERNEL_PASS_PER_AMPLITUDE_S = {"complex": 0.24e-3 / (1 << 20), "real": 0.1e-3 / (1 << 20)}


def block_cost(mask: int, diagonal: bool, num_qubits: int, kernel: str | None = None) -> float:
    """Modelled seconds of one block on the qubits of ``mask`` of a ket of ``num_qubits`` qubits; ``kernel``
    ("complex" or "real") when the compiled kernel applies it, None for the PyTorch path."""
    k = mask.bit_count()
    if kernel is not None and k <= len(_KERNEL_PASSES[kernel]):  # wider: a controlled gate applied apart
        return _PER_BLOCK_S + _KERNEL_PASSES[kernel][k - 1] * _KERNEL_PASS_PER_AMPLITUDE_S[kernel] * (1 << num_qubits)
    low, high = (mask & -mask).bit_length() - 1, mask.bit_length() - 1
    if diagonal:
        passes = _DIAGONAL
    elif k > len(_CONTIGUOUS):
        passes = float(1 << (k - 3))  # wider blocks (a gate of its own): its arithmetic
    else:
        passes = _CONTIGUOUS[k - 1][min(num_qubits - 1 - high, 7)]
        if high - low + 1 != k:
            passes += _SCATTERED
    return _PER_BLOCK_S + passes * _PASS_PER_AMPLITUDE_S * (1 << num_qubits)


def plan_cost(groups: Sequence[tuple[int, list[int]]], diagonal: Sequence[bool], num_qubits: int,
              kernel: str | None = None) -> float:
    """Modelled seconds of a plan: ``groups`` as ``(qubit mask, member indices)``; ``diagonal[j]`` for gate j."""
    return sum(block_cost(mask, all(diagonal[j] for j in members), num_qubits, kernel) for mask, members in groups)


def cheaper(greedy: list[tuple[int, list[int]]], qubit_lists: Sequence[tuple[int, ...]],
            diagonal: Sequence[bool], num_qubits: int, width: int,
            kernel: str | None = None) -> list[tuple[int, list[int]]]:
    """``greedy`` (the greedy grouping, as ``(qubit mask, member indices)``), or the :func:`tiled` plan of
    ``width`` when that one costs less under the model (``greedy`` on a tie, so the choice is reproducible).

    The plan of windows stops as soon as it costs more than ``greedy``: a circuit of long-range gates,
    which no window holds, would otherwise be planned one gate per round.
    """
    budget = plan_cost(greedy, diagonal, num_qubits, kernel)
    windows = tiled(qubit_lists, diagonal, num_qubits, width, budget, kernel)
    return windows if windows is not None and plan_cost(windows, diagonal, num_qubits, kernel) < budget else greedy


def tiled(qubit_lists: Sequence[tuple[int, ...]], diagonal: Sequence[bool], num_qubits: int,
          width: int, budget: float = float("inf"), kernel: str | None = None) -> list[tuple[int, list[int]]] | None:
    """A plan of rounds of windows of at most ``width`` adjacent qubits, as ``(qubit mask, members)`` in order;
    None once its modelled cost passes ``budget`` (seconds).

    A window takes every gate it can: one whose qubits all lie in it and whose earlier gates on those
    qubits are all taken; its block is the contiguous span of what it took. Each round lays disjoint
    windows over the qubits, choosing them (by dynamic programming over the qubit line) to save the
    most modelled time against applying their gates one by one; qubits no window pays for wait for a
    later round. The next round's windows then straddle this round's boundaries, as bricks in a wall.
    When a round can take nothing (a gate wider than ``width``, or a long-range gate no window
    holds), the earliest gate that can act next forms a block of its own.
    """
    n = num_qubits
    queues: list[list[int]] = [[] for _ in range(n)]
    for j, qubits in enumerate(qubit_lists):
        for q in qubits:
            queues[q].append(j)
    alone = [block_cost(contiguous_span(_mask([j], qubit_lists)), diagonal[j], n, kernel)
             for j in range(len(qubit_lists))]
    head = [0] * n  # per qubit, the position in its queue of its first gate not yet taken
    left = len(qubit_lists)
    groups: list[tuple[int, list[int]]] = []
    spent = 0.0
    while left:
        # best[i]: (saving, windows) of the best choice on qubits 0..i-1
        best: list[tuple[float, list]] = [(0.0, [])]
        for i in range(1, n + 1):
            choice = best[i - 1]
            for low in range(max(0, i - width), i):
                members, heads = _take(low, i - 1, queues, head, qubit_lists)
                if not members:
                    continue
                mask = contiguous_span(_mask(members, qubit_lists))
                saving = sum(alone[j] for j in members) - block_cost(mask, all(diagonal[j] for j in members), n, kernel)
                value = best[low][0] + saving + 1e-12 * len(members)  # ties: the window that takes more
                if value > choice[0]:
                    choice = (value, best[low][1] + [(low, mask, members, heads)])
            best.append(choice)
        windows = best[n][1]
        for low, mask, members, heads in windows:
            head[low: low + len(heads)] = heads
            groups.append((mask, members))
            left -= len(members)
            spent += block_cost(mask, all(diagonal[j] for j in members), n, kernel)
        if not windows:
            ready = [queues[q][head[q]] for q in range(n) if head[q] < len(queues[q])]
            j = min(g for g in ready if all(queues[p][head[p]] == g for p in qubit_lists[g]))
            for q in qubit_lists[j]:
                head[q] += 1
            mask = _mask([j], qubit_lists)
            groups.append((mask, [j]))
            left -= 1
            spent += block_cost(mask, diagonal[j], n, kernel)
        if spent > budget:
            return None
    return groups


def _take(low: int, high: int, queues, head, qubit_lists) -> tuple[list[int], list[int]]:
    """The gates that can act next inside qubits ``low..high``, in a valid order, and the heads of those
    qubits after them (``head`` itself is left as it is)."""
    heads = head[low: high + 1]
    members: list[int] = []
    progress = True
    while progress:
        progress = False
        for q in range(low, high + 1):
            queue = queues[q]
            while heads[q - low] < len(queue):
                j = queue[heads[q - low]]
                qubits = qubit_lists[j]
                if not all(low <= p <= high and queues[p][heads[p - low]] == j for p in qubits):
                    break
                for p in qubits:
                    heads[p - low] += 1
                members.append(j)
                progress = True
    return members, heads


def _mask(members: Sequence[int], qubit_lists) -> int:
    mask = 0
    for j in members:
        for q in qubit_lists[j]:
            mask |= 1 << q
    return mask


def contiguous_span(mask: int) -> int:
    """The qubit mask ``mask`` widened to the contiguous span of its qubits."""
    return (1 << mask.bit_length()) - (mask & -mask)
