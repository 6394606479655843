"""Small kets with a gradient: fused blocks composed and applied in NumPy, differentiated by the adjoint method.

A training step on 12 qubits moves 4096 amplitudes: its time goes to the
number of operations, not to arithmetic (a NumPy call costs a few
microseconds, a PyTorch operation under autograd ten or more, forward and
backward). Here one autograd node runs the whole evolution in NumPy:
forward, the fused blocks are composed in complex128
(:class:`tqsim.composed_blocks.Composition`) and act on the ket, in its own
precision, one by one;
backward, they are un-computed from the output (``psi_in = M^H psi_out`` and
``lambda_in = M^H lambda_out``, the two kets as the columns of one array)
while each block's gradient ``dL/dM = Tr_rest[lambda_out psi_in^H]`` is read
off and handed back to the composition. The gates' matrices still come from
PyTorch (:func:`tqsim.fusion.gate_tables`), so gradients reach the
angles through the gates' own formulas. A second derivative
(``create_graph=True``) replays the evolution under autograd.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .. import fusion
from .._threads import numpy_on_one_thread
from ..composed_blocks import Composition, groups
from ..fusion import _times_on, gate_tables
from ..gates import Gate
from ..tensor.flat import apply_diagonal, apply_matrix

__all__ = ["SMALL_TRACKED_AMPLITUDES", "applies", "evolve"]

#: Kets of at most this many amplitudes, under "auto" differentiation, evolve in NumPy; larger
#: ones through PyTorch (measured on a 2-core CPU, docs/benchmarks.md).
SMALL_TRACKED_AMPLITUDES = 2**12

#: Gates on more qubits (wide controlled gates, applied apart) leave the ket to PyTorch.
_MOST_QUBITS = 4

#: Blocks of at most 4 qubits: on a ket this small a 5-qubit block's products cost more arithmetic
#: than they save calls (12 qubits, one-directional family: 1.74 ms a step at 4, 1.97 at 5, 1.75 at 3).
_BLOCK_QUBITS = 4

_WORKING = {torch.complex64: np.complex64, torch.complex128: np.complex128}


def applies(data: torch.Tensor, gates: Sequence[Gate]) -> bool:
    """Whether :func:`evolve` serves this ket: one small ket on the CPU, gates of a few qubits, no batch."""
    return (data.device.type == "cpu" and data.ndim == 1 and data.numel() <= SMALL_TRACKED_AMPLITUDES
            and len(gates) > 0 and all(len(g.qubits) <= _MOST_QUBITS and not g.batch_shape for g in gates))


def evolve(data: torch.Tensor, gates: Sequence[Gate]) -> torch.Tensor:
    """The ket after ``gates``, differentiable in ``data`` and in the gates' tensor angles."""
    steps = fusion.schedule(gates, _BLOCK_QUBITS)
    tables = gate_tables(gates, range(len(gates)), data.device)
    kinds = tuple((g.is_diagonal, tables.fixed.get(j)) for j, g in enumerate(gates))
    program = (steps, groups(steps, kinds), tables.source, tables.constants,
               tuple(g.qubits for g in gates), tuple(g.is_diagonal for g in gates))
    return _SmallKetEvolution.apply(data, program, *tables.inputs)


class _SmallKetEvolution(torch.autograd.Function):
    @staticmethod
    @numpy_on_one_thread()
    def forward(ctx, data, program, *inputs):
        steps, step_groups, source, constants, _, _ = program
        composition = Composition(steps, step_groups, source, constants,
                                  [t.detach().resolve_conj().numpy() for t in inputs])
        # the ket in its own precision (complex64 products cost half), the blocks composed in complex128
        work = _WORKING[data.dtype]
        blocks = {i: block.astype(work) for i, block in composition.blocks().items()}
        n = data.shape[-1].bit_length() - 1
        psi = data.detach().resolve_conj().numpy()
        for i, step in enumerate(steps):
            psi = _times_on(psi, blocks[i], step.qubits, n)
        ctx.program, ctx.composition, ctx.blocks, ctx.out = program, composition, blocks, psi
        ctx.save_for_backward(data, *inputs)
        return torch.from_numpy(psi).to(data.dtype)

    @staticmethod
    @numpy_on_one_thread()
    def backward(ctx, grad_out):
        data, *inputs = ctx.saved_tensors
        wanted = ctx.needs_input_grad
        if torch.is_grad_enabled():  # create_graph=True: replay under autograd for higher derivatives
            return _replayed_gradients(data, inputs, ctx.program, grad_out, wanted)
        steps, _, source, _, _, _ = ctx.program
        tracked = [any(source[j, 0] >= 0 and wanted[2 + source[j, 0]] for j in step.members) for step in steps]
        # the last block to un-compute: the first, when the input takes a gradient; else the earliest tracked one
        stop = 0 if wanted[0] else next((i for i, t in enumerate(tracked) if t), len(steps))
        n = data.shape[-1].bit_length() - 1
        pair = np.stack([ctx.out, grad_out.to(data.dtype).resolve_conj().numpy()], axis=1)
        grams: dict[int, np.ndarray] = {}
        for i in range(len(steps) - 1, stop - 1, -1):
            block, qubits = ctx.blocks[i], steps[i].qubits
            undone = _times_on(pair, block.conj() if block.ndim == 1 else block.conj().T, qubits, n)
            if tracked[i]:
                grams[i] = _cross(pair[:, 1], undone[:, 0], qubits, n, block.ndim == 1).astype(complex)
            pair = undone
        found = ctx.composition.gradients(grams, wanted[2:])
        grad_data = torch.from_numpy(np.ascontiguousarray(pair[:, 1])).to(data.dtype) if wanted[0] else None
        return (grad_data, None, *(None if f is None else torch.from_numpy(f) for f in found))


def _cross(lam: np.ndarray, psi: np.ndarray, qubits: tuple[int, ...], n: int, diagonal: bool) -> np.ndarray:
    """``sum_rest lambda[a, rest] conj(psi[b, rest])`` over the qubits outside ``qubits``: ``(d, d)``,
    or its diagonal ``(d,)`` for a diagonal gate."""
    k = len(qubits)
    if qubits == tuple(range(qubits[0], qubits[0] + k)):  # adjacent, in order
        lam = lam.reshape(1 << qubits[0], 1 << k, -1).transpose(1, 0, 2).reshape(1 << k, -1)
        psi = psi.reshape(1 << qubits[0], 1 << k, -1).transpose(1, 0, 2).reshape(1 << k, -1)
    else:
        lam = np.moveaxis(lam.reshape((2,) * n), qubits, range(k)).reshape(1 << k, -1)
        psi = np.moveaxis(psi.reshape((2,) * n), qubits, range(k)).reshape(1 << k, -1)
    if diagonal:
        return np.einsum("ar,ar->a", lam, psi.conj())
    return lam @ psi.conj().T


def _replayed_gradients(data, inputs, program, grad_out, wanted):
    """The gradients with a graph of their own: the gates applied again by PyTorch."""
    _, _, source, constants, qubits, diagonal = program
    with torch.enable_grad():
        x = data.to(torch.complex128)
        for j, targets in enumerate(qubits):
            t, r = source[j].tolist()
            op = inputs[t][r] if t >= 0 else torch.tensor(constants[-t - 1][r])
            x = apply_diagonal(x, op, targets) if diagonal[j] else apply_matrix(x, op, targets)
        x = x.to(data.dtype)
        chosen = [v for v, w in zip([data, *inputs], [wanted[0], *wanted[2:]]) if w]
        found = iter(torch.autograd.grad(x, chosen, grad_out, create_graph=True, allow_unused=True))
    return (next(found) if wanted[0] else None, None, *(next(found) if w else None for w in wanted[2:]))
