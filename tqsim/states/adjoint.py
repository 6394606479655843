"""Fused gate steps on kets, and their gradient by the adjoint method.

Autograd keeps the input of every fused block for its backward pass, so a
circuit of ``b`` blocks holds ``b`` states until ``backward()``. Gates are
unitary, so the backward pass can instead recompute each block's input from
its output (``psi_in = M^dagger psi_out``) while it pulls the gradient back
(``lambda_in = M^dagger lambda_out``): a forward pass between two ping-pong
buffers, then one sweep that holds a few states whatever the depth. This is
the adjoint method (T. Jones and J. Gacon, arXiv:2009.02823), which PennyLane
Lightning uses for expectation values. Here it is the vector-Jacobian
product of the whole evolution, so any loss of the final state (an
expectation, a fidelity, an entropy) backpropagates through it and
``loss.backward()`` reads as before.

The gradient of a block's operator is the cross-Gram matrix
``G_ij = sum_rest lambda_i conj(psi_j)`` over the amplitudes; autograd carries
it on through the small operator construction to the angles. A second
derivative (``create_graph=True``) replays the evolution under autograd.
:func:`set_gradient_method` chooses between the two methods.
"""

from __future__ import annotations

import threading
from typing import Sequence

import torch

from ..fusion import Step
from ..gates import Gate
from ..tensor import cpu_kernels
from ..tensor.flat import apply_controlled, apply_diagonal, apply_matrix, broadcast, cross_gram, reduce_to

__all__ = ["ADJOINT_AMPLITUDES", "GRADIENT_METHODS", "gradient_method", "evolve_adjoint", "ket_step",
           "set_gradient_method", "uses_adjoint"]

#: What :func:`set_gradient_method` accepts.
GRADIENT_METHODS = ("auto", "adjoint", "autograd")

#: Under "auto", kets of at least this many amplitudes (batch included) use the adjoint method.
#: Measured on a 2-core CPU (docs/benchmarks.md): autograd is faster up to 18 qubits and even at
#: 20; from 22 qubits the adjoint method is faster (1.6x at depth 3, 3.3x at 24 qubits, depth 6).
ADJOINT_AMPLITUDES = 2**21

_setting = threading.local()


def gradient_method() -> str:
    """How gradients flow through a StateVector's gates in this thread: "auto" (the default), "adjoint" or "autograd"."""
    return getattr(_setting, "method", "auto")


def uses_adjoint(amplitudes: int) -> bool:
    """Whether an evolution of kets holding ``amplitudes`` amplitudes in all differentiates by the adjoint method."""
    method = gradient_method()
    return method == "adjoint" or (method == "auto" and amplitudes >= ADJOINT_AMPLITUDES)


class set_gradient_method:
    """Choose how gradients flow through StateVector evolutions.

    - ``"autograd"``: PyTorch records every fused block and keeps its input
      state for the backward pass (one state per block).
    - ``"adjoint"``: the adjoint method; a forward pass that keeps nothing,
      then one backward sweep that un-computes the gates (a few states in all).
    - ``"auto"`` (the default): the adjoint method for kets of at least
      :data:`ADJOINT_AMPLITUDES` amplitudes, where it is the faster one,
      autograd below; and on the CPU, a single ket of at most
      :data:`tqsim.states.small_kets.SMALL_TRACKED_AMPLITUDES` amplitudes
      evolves in NumPy, differentiated by the adjoint method there
      (:mod:`tqsim.states.small_kets`: a few NumPy calls instead of hundreds
      of small PyTorch operations).

    All three give the same gradients to rounding, and ``loss.backward()``
    reads the same. Works as a function and as a context manager, like
    ``torch.set_grad_enabled``; the setting is per thread.

    >>> import tqsim as tq
    >>> with tq.set_gradient_method("adjoint"):
    ...     pass  # evolutions here are differentiated by the adjoint method
    """

    def __init__(self, method: str):
        if method not in GRADIENT_METHODS:
            raise ValueError(f"gradient method must be one of {', '.join(map(repr, GRADIENT_METHODS))}, "
                             f"got {method!r}")
        self.previous = gradient_method()
        _setting.method = method

    def __enter__(self) -> "set_gradient_method":
        return self

    def __exit__(self, *exc_info) -> None:
        _setting.method = self.previous


def ket_step(data: torch.Tensor, op: torch.Tensor, step: Step, gate: Gate, buffers) -> torch.Tensor:
    """Apply one fused step to flat kets ``(*batch, 2**n)``; ``gate`` is the step's
    wide controlled gate when ``step.apart`` (``op`` its target operator)."""
    if buffers is not None and not step.apart and cpu_kernels.accepts(data, op, step.qubits, step.is_diagonal):
        # in place on a ket of our own: the caller's is copied once, into a buffer
        ket = data if buffers.owns(data) else buffers.target(data, data.shape, avoid=data).copy_(data)
        return cpu_kernels.apply_in_place(ket, op, step.qubits, step.is_diagonal)
    core = 1 if step.is_diagonal else 2
    batch = broadcast(data.shape[:-1], op.shape[: op.ndim - core])
    out = buffers.target(data, batch + data.shape[-1:], avoid=data) if buffers is not None else None
    if step.apart:
        return apply_controlled(data, op, gate.controls, gate.targets, gate.is_diagonal, out=out)
    if step.is_diagonal:
        return apply_diagonal(data, op, step.qubits, out=out)
    return apply_matrix(data, op, step.qubits, out=out)


def _inverse(op: torch.Tensor, step: Step) -> torch.Tensor:
    # materialised: a lazily conjugated operand makes some matrix products copy the whole state
    return (op.conj() if step.is_diagonal else op.mH).resolve_conj()


def evolve_adjoint(data: torch.Tensor, steps: Sequence[Step], operators: Sequence[torch.Tensor],
                   gates: Sequence[Gate], buffers_type) -> torch.Tensor:
    """The kets after ``steps`` (operators from :func:`tqsim.fusion.step_operators`, target
    operators for steps applied apart), differentiable by the adjoint method."""
    apart = {i: gates[step.members[0]] for i, step in enumerate(steps) if step.apart}
    program = (tuple(steps), apart, buffers_type)
    return _AdjointEvolution.apply(data, program, *operators)


class _AdjointEvolution(torch.autograd.Function):
    @staticmethod
    def forward(ctx, data, program, *operators):
        steps, apart, buffers_type = program
        buffers = buffers_type()
        x = data
        for i, (step, op) in enumerate(zip(steps, operators)):
            x = ket_step(x, op, step, apart.get(i), buffers)
        if x is data:  # no step: still a new tensor, as every evolution returns
            x = data.clone()
        ctx.program = program
        # the input is kept only when it has a gradient of its own (a replay can un-compute it)
        ctx.save_for_backward(data if data.requires_grad else None, x, *operators)
        return x

    @staticmethod
    def backward(ctx, grad_out):
        data, out, *operators = ctx.saved_tensors
        steps, apart, _ = ctx.program
        wanted = ctx.needs_input_grad
        if torch.is_grad_enabled():  # create_graph=True: replay under autograd for higher derivatives
            found = _replayed_gradients(data, out, operators, steps, apart, grad_out, wanted)
            return (found[0], None, *found[1:])
        # the state and the gradient travel back together, un-computed in place: one product
        # per step for both, and two states of memory besides the output and its gradient
        pair = torch.stack(torch.broadcast_tensors(out, grad_out))
        grads: list[torch.Tensor | None] = [None] * len(steps)
        for i in range(len(steps) - 1, -1, -1):
            step, op = steps[i], operators[i]
            if step.apart:
                psi_in = ket_step(pair[0], _inverse(op, step), step, apart[i], None)
                lam_in, grads[i] = _local_gradients(pair[1], psi_in, op, apart[i], wanted[2 + i])
                pair = torch.stack([psi_in, lam_in])
                continue
            if wanted[2 + i]:
                grads[i] = _operator_gradient(pair[1], pair[0], op, step)
            pair = _undo_step(pair, op, step)
        grad_data = pair[1].sum_to_size(data.shape).clone() if wanted[0] else None
        return (grad_data, None, *grads)


#: amplitudes per piece of an in-place product: 2 MiB of complex64 on the CPU (in cache);
#: 512 MiB on a GPU, where each piece costs kernel launches (not measured on a device yet)
_CHUNK = 1 << 18
_CUDA_CHUNK = 1 << 26


def _undo_step(pair: torch.Tensor, op: torch.Tensor, step: Step) -> torch.Tensor:
    """``M^dagger`` on both kets of ``pair``: in place, piece by piece, for unbatched operators on
    adjacent qubits (every block of a fused circuit but a scattered one); otherwise a new tensor.

    A piece is a slice along the leading qubits, itself a smaller ket that :func:`apply_matrix`
    acts on (all its layouts, the real product included) into a small scratch buffer; targets
    among those leading qubits are sliced along the trailing amplitudes instead.
    """
    inverse = _inverse(op, step)
    if inverse.ndim > (1 if step.is_diagonal else 2):
        return ket_step(pair, inverse, step, None, None)
    if step.is_diagonal:
        return apply_diagonal(pair, inverse, step.qubits, out=pair)  # elementwise: in place as it is
    n = pair.shape[-1].bit_length() - 1
    qubits = step.qubits
    if qubits[-1] - qubits[0] + 1 != len(qubits):
        return ket_step(pair, inverse, step, None, None)
    chunk = _CUDA_CHUNK if pair.is_cuda else _CHUNK
    lead = max(0, n - chunk.bit_length() + 1)  # leading qubits to cut for pieces of `chunk` amplitudes
    if qubits[0] < lead:  # targets among them: slices along the trailing amplitudes instead
        x = pair.view(-1, 1 << len(qubits), 1 << (n - 1 - qubits[-1]))
        for piece in x.split(max(1, chunk // (x.shape[0] * x.shape[1])), dim=-1):
            piece.copy_(torch.matmul(inverse, piece))
        return pair
    rows = pair.view(-1, 1 << (n - lead))  # every ket of the pair, 2**lead rows each
    local = [q - lead for q in qubits]
    per_piece = max(1, chunk >> (n - lead))
    scratch = torch.empty(min(per_piece, rows.shape[0]), rows.shape[1], dtype=pair.dtype, device=pair.device)
    for piece in rows.split(per_piece):
        piece.copy_(apply_matrix(piece, inverse, local, out=scratch[: piece.shape[0]]))
    return pair


def _operator_gradient(lam: torch.Tensor, psi: torch.Tensor, op: torch.Tensor, step: Step) -> torch.Tensor:
    """The gradient of the step's operator from the kets after it: ``G = sum_rest lambda_i conj(psi_in_j)``
    with ``psi_in = M^dagger psi``, that is ``G = (sum_rest lambda_i conj(psi_j)) M`` (``i == j`` for a
    diagonal), shaped like ``op``."""
    if step.is_diagonal:
        gram = reduce_to(lam * psi.conj(), step.qubits) * op
    else:
        gram = cross_gram(lam, psi, step.qubits, keep_batch=op.ndim > 2) @ op
    return gram.sum_to_size(op.shape)


def _local_gradients(lam, psi_in, op, gate: Gate, wants_op: bool):
    """A wide controlled gate's step through autograd on this step alone: ``(lambda_in, grad of op)``."""
    with torch.enable_grad():
        x = psi_in.detach().requires_grad_()
        o = op.detach().requires_grad_(wants_op)
        y = apply_controlled(x, o, gate.controls, gate.targets, gate.is_diagonal)
        found = torch.autograd.grad(y, [x, o] if wants_op else [x], lam)
    return found[0], (found[1].sum_to_size(op.shape) if wants_op else None)


def _replayed_gradients(data, out, operators, steps, apart, grad_out, wanted):
    """The gradients with a graph of their own: the evolution rerun under autograd (from its
    input, un-computed from the output when it was not kept)."""
    if data is None:
        data = out.detach()
        for i in range(len(steps) - 1, -1, -1):
            data = ket_step(data, _inverse(operators[i].detach(), steps[i]), steps[i], apart.get(i), None)
    with torch.enable_grad():
        x = data
        for i, (step, op) in enumerate(zip(steps, operators)):
            x = ket_step(x, op, step, apart.get(i), None)
        inputs = [t for t, w in zip([data, *operators], [wanted[0], *wanted[2:]]) if w]
        found = iter(torch.autograd.grad(x, inputs, grad_out, create_graph=True, allow_unused=True))
    return [next(found) if w else None for w in [wanted[0], *wanted[2:]]]
