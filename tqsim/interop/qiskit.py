"""Qiskit circuits in and out: :func:`from_qiskit` and :func:`to_qiskit`.

Qubits keep their indices: Qiskit qubit ``j`` (in the circuit's flat order)
is tqsim qubit ``j``, and classical bits likewise. What differs is the bit
order of matrices and of state indices: Qiskit is little-endian (qubit 0 is
the least significant bit), tqsim big-endian (qubit 0 the most significant).
A ``k``-qubit Qiskit matrix on qubits ``qs`` is therefore the same matrix,
big-endian, on ``qs`` reversed; both directions use that identity.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import warnings
from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch

from .. import gates
from ..channels import Channel
from ..circuit import Circuit
from ..classical import Barrier, Conditioned, Measure, Reset
from ..gates import Gate
from .._optional import require
from .names import QISKIT

__all__ = ["from_qiskit", "to_qiskit"]

_CONTROL_FLOW = ("while_loop", "for_loop", "switch_case", "box", "break_loop", "continue_loop")


@functools.lru_cache(maxsize=1)
def _qiskit():
    """The qiskit module, looked up once (the importer calls this per instruction); a failed import is not cached."""
    return require("qiskit", "qiskit", "Qiskit conversion")


# ------------------------------------------------------------------- import


def from_qiskit(qc) -> Circuit:
    """A tqsim circuit with the same gates, measurements and conditions as ``qc``.

    Parameters
    ----------
    qc : qiskit.QuantumCircuit
        Bound parameters only. Gates, ``measure``, ``reset``, ``barrier``,
        ``delay`` (ignored: it acts as the identity) and ``if_test`` blocks
        whose condition is a classical bit or register (not an ``expr``).

    Returns
    -------
    Circuit
        Qubit and clbit ``j`` of ``qc`` are qubit and clbit ``j`` here;
        ``qregs`` and ``cregs`` map register names to those indices. The
        circuit's global phase is dropped (states agree up to that phase).

    Raises
    ------
    ValueError
        Unbound parameters, loops, ``expr`` conditions and non-unitary
        instructions other than the ones above, each named; nothing is
        half-imported.

    Warns
    -----
    UserWarning
        For a gate without a tqsim counterpart, imported as its matrix.
    """
    qiskit = _qiskit()
    if not isinstance(qc, qiskit.QuantumCircuit):
        raise TypeError(f"from_qiskit expects a qiskit.QuantumCircuit, got {type(qc).__name__}")
    if qc.parameters:
        names = sorted(p.name for p in qc.parameters)
        raise ValueError(f"from_qiskit: the circuit has unbound parameters {names}; bind them first "
                         f"with qc.assign_parameters({{...}})")
    out = Circuit(qc.num_qubits, qc.num_clbits)
    out.qregs = {r.name: tuple(qc.find_bit(b).index for b in r) for r in qc.qregs}
    out.cregs = {r.name: tuple(qc.find_bit(b).index for b in r) for r in qc.cregs}
    qmap = {q: j for j, q in enumerate(qc.qubits)}
    cmap = {c: j for j, c in enumerate(qc.clbits)}
    with _gc_paused():
        _import_block(out, qc.data, qmap, cmap, None)
    return out


@contextlib.contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector, if it runs, for the duration.

    A conversion makes one long-lived object per gate and no garbage cycles.
    As 10**5 of them pile up, the collector runs full passes over the whole
    heap (two for 180,000 gates: a third of the conversion time); paused, it
    looks at the new objects once, in one young-generation pass afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import_block(out: Circuit, instructions, qmap: dict, cmap: dict, condition) -> None:
    """Append ``instructions`` (bits mapped by ``qmap``/``cmap``), each under ``condition`` if given.

    Built for circuits of 10**5 gates: each distinct tuple of Qiskit qubits is
    mapped once, a standard gate with float angles goes straight to its tqsim
    builder (:func:`_standard_gate`), and unconditioned operations skip
    ``Circuit.append``'s checks, since their qubits and bits are ``qc``'s own.
    """
    qiskit = _qiskit()
    unitary = (qiskit.circuit.Gate, qiskit.circuit.AnnotatedOperation)
    standard = _standard_builders()
    indices: dict[tuple, tuple[int, ...]] = {}  # Qiskit qubits of an instruction -> tqsim qubits
    for inst in instructions:
        op, qubits = inst.operation, inst.qubits
        name = op.name
        qs = indices.get(qubits)
        if qs is None:
            qs = indices[qubits] = tuple([qmap[q] for q in qubits])
        gate = _standard_gate(op, standard.get(name), qs)
        if gate is not None:
            ops = [gate]
        elif name == "if_else":
            if condition is not None:
                raise ValueError("from_qiskit: an if_test nested in another if_test is not supported "
                                 "(tqsim conditions one operation on one set of bits)")
            _import_if_else(out, op, qs, [cmap[c] for c in inst.clbits], cmap)
            continue
        elif name == "barrier":
            if qs:
                out.append(Barrier(qs))
            continue
        elif name == "delay":
            continue
        elif name == "measure":
            ops = [Measure(qs[0], cmap[inst.clbits[0]])]
        elif name == "reset":
            ops = [Reset(qs[0])]
        elif name in _CONTROL_FLOW:
            raise ValueError(f"from_qiskit: control flow {name!r} is not supported "
                             f"(only if_test / if_else on a classical bit or register)")
        elif isinstance(op, unitary):
            ops = _import_gate(op, qs)
        else:
            raise ValueError(f"from_qiskit: instruction {name!r} is not unitary and not measure, reset, "
                             f"barrier, delay or if_test; tqsim cannot import it")
        if condition is None:
            out._extend_unchecked(ops)
            continue
        try:
            for o in ops:
                out.append(Conditioned(o, *condition))
        except ValueError as exc:  # e.g. a condition on a bit no earlier measurement writes
            raise ValueError(f"from_qiskit: instruction {name!r}: {exc}") from exc


def _standard_gate(op, std: _Standard | None, qs: tuple[int, ...]) -> Gate | None:
    """``op`` on ``qs`` as a tqsim gate when it is ``std``, the Qiskit standard gate of its name, with
    closed controls and float angles; else None.

    The short path of :func:`_import_gate` (which gives the same gate), for the bulk of a circuit.
    """
    if std is None or op.base_class is not std.base_class or (std.closed and op.ctrl_state != std.closed):
        return None
    if not std.num_params:
        return std.builder(*qs)
    params = op.params
    for p in params:
        if type(p) is not float:  # a bound ParameterExpression, a NumPy float...: the general path
            return None
    return std.builder(*params, *qs)


def _import_if_else(out: Circuit, op, qs: Sequence[int], cs: list[int], cmap: dict) -> None:
    """An if_test as conditioned operations; an else branch only on a single-bit condition."""
    qiskit = _qiskit()
    cond = op.condition
    if not isinstance(cond, tuple):
        raise ValueError(f"from_qiskit: if_test on the expression {cond} is not supported "
                         f"(only (clbit, value) or (register, value) conditions)")
    target, value = cond
    if isinstance(target, qiskit.circuit.ClassicalRegister):
        bits = [cmap[b] for b in target]
    else:
        bits = [cmap[target]]
    true_body, false_body = op.blocks[0], op.blocks[1] if len(op.blocks) > 1 else None
    branches = [(true_body, (bits, int(value)))]
    if false_body is not None:
        if len(bits) != 1:
            raise ValueError(f"from_qiskit: an else branch on the register condition {target.name} == {value} "
                             f"is not supported (a register's complement is not one value); "
                             f"only single-bit conditions may have an else")
        branches.append((false_body, (bits, 1 - int(value))))
    for b, (body, condition) in enumerate(branches):
        bmap = {q: qs[j] for j, q in enumerate(body.qubits)}
        bcmap = {c: cs[j] for j, c in enumerate(body.clbits)}
        # Qiskit reads the condition once; here each op re-reads it, so only the very last op may overwrite it
        for j, inst in enumerate(body.data):
            final = b == len(branches) - 1 and j == len(body.data) - 1
            if inst.operation.name == "measure" and bcmap[inst.clbits[0]] in bits and not final:
                raise ValueError(f"from_qiskit: a measurement inside an if_test writes its own condition "
                                 f"bit {bcmap[inst.clbits[0]]} before other operations of the block; "
                                 f"tqsim re-reads the bit before each operation, so it is not imported")
        _import_block(out, body.data, bmap, bcmap, condition)


def _import_gate(op, qs: Sequence[int]) -> list[Gate]:
    """The tqsim gates for one Qiskit gate on qubits ``qs``; same matrix, phase included."""
    _check_bound(op)
    if not isinstance(op, _qiskit().circuit.Gate):  # an AnnotatedOperation: only its matrix is known
        return [_unknown(op, qs)]
    k = getattr(op, "num_ctrl_qubits", 0)
    if k and op.ctrl_state != (1 << k) - 1:  # open controls: X around, Qiskit's bit j is qargs[j]
        flips = [gates.x(qs[j]) for j in range(k) if not (op.ctrl_state >> j) & 1]
        closed = op.to_mutable()
        closed.ctrl_state = (1 << k) - 1
        return flips + _import_gate(closed, qs) + flips
    std = QISKIT.get(op.name)
    if std is not None and _is_standard(op):
        return [gates.BUILDERS[std.builder](*_angles(op), *qs)]
    if op.name == "r" and _is_standard(op):  # R(theta, phi) = U3(theta, phi - pi/2, pi/2 - phi) exactly
        theta, phi = _angles(op)
        return [gates.u3(theta, phi - math.pi / 2, math.pi / 2 - phi, qs[0])]
    if op.name == "unitary":  # UnitaryGate: little-endian over qs = big-endian over qs reversed
        return [gates.unitary(_matrix(op), qs[::-1])]
    if op.num_qubits == 0:  # GlobalPhaseGate: a global phase, invisible in states
        return []
    if k:
        return [_import_controlled(op, qs[:k], qs[k:])]
    return [_unknown(op, qs)]


def _unknown(op, qs: Sequence[int]) -> Gate:
    """A gate without a tqsim counterpart: its matrix, with a warning that names it."""
    warnings.warn(f"from_qiskit: gate {op.name!r} has no tqsim counterpart; imported as "
                  f"tq.gates.unitary of its {1 << len(qs)}x{1 << len(qs)} matrix", stacklevel=5)
    return gates.unitary(_matrix(op), qs[::-1])


def _import_controlled(op, controls: Sequence[int], targets: Sequence[int]) -> Gate:
    """A ControlledGate (all controls closed): mcx, mcphase or controlled(base matrix)."""
    base = op.base_gate
    if not targets:  # a controlled global phase: a phase on the controls' all-ones state
        phi = float(np.angle(_matrix(base)[0, 0]))
        return gates.mcphase(phi, controls[:-1], controls[-1]) if len(controls) > 1 else gates.p(phi, controls[0])
    if base.name == "x" and _is_standard(base):
        return gates.mcx(controls, targets[0])
    if base.name in ("p", "u1") and _is_standard(base):
        return gates.mcphase(*_angles(base), controls, targets[0])
    return gates.controlled(_matrix(base), controls, targets[::-1])


def _is_standard(op) -> bool:
    """True when ``op`` is Qiskit's own gate of that name (not a user gate that reuses the name)."""
    std = _standard_gates().get(op.name)
    return std is not None and op.base_class is std.base_class


@functools.lru_cache(maxsize=1)
def _standard_gates() -> dict:
    """Qiskit's standard gates by name (building the table costs ~1 ms, so once)."""
    return _qiskit().circuit.library.get_standard_gate_name_mapping()


class _Standard(NamedTuple):
    """A Qiskit standard gate with a tqsim counterpart, as :func:`_standard_gate` checks it."""

    base_class: type
    builder: Callable[..., Gate]  #: takes the angles, then the qubits in Qiskit's order
    num_params: int
    closed: int  #: ``ctrl_state`` with every control closed (0: no controls)


@functools.lru_cache(maxsize=1)
def _standard_builders() -> dict[str, _Standard]:
    """The standard gates of :data:`~tqsim.interop.names.QISKIT` that Qiskit has, by name."""
    table = {}
    for name, std in QISKIT.items():
        gate = _standard_gates().get(name)
        if gate is not None:
            closed = (1 << getattr(gate, "num_ctrl_qubits", 0)) - 1
            table[name] = _Standard(gate.base_class, gates.BUILDERS[std.builder], std.num_params, closed)
    return table


def _check_bound(op) -> None:
    ParameterExpression = _qiskit().circuit.ParameterExpression
    for p in op.params:
        if isinstance(p, ParameterExpression) and p.parameters:
            names = sorted(q.name for q in p.parameters)
            raise ValueError(f"from_qiskit: gate {op.name!r} has unbound parameters {names}; bind them first")


def _angles(op) -> list[float]:
    return [float(p) for p in op.params]


def _matrix(op) -> np.ndarray:
    """Qiskit's (little-endian) matrix of ``op``, through its definition when it has no own matrix."""
    try:
        return _qiskit().quantum_info.Operator(op).data
    except Exception as exc:  # opaque gates: no matrix, no definition
        raise ValueError(f"from_qiskit: gate {op.name!r} has neither a matrix nor a definition") from exc


# ------------------------------------------------------------------- export

#: tqsim gate names -> Qiskit standard gate names
_TO_QISKIT = {gate.builder: name for name, gate in QISKIT.items()} | {"phase": "p", "cphase": "cp"}


def to_qiskit(circuit: Circuit):
    """The Qiskit circuit of a tqsim circuit; same qubit and clbit indices.

    Named gates become Qiskit's standard gates; ``unitary``, ``controlled``,
    ``diagonal`` and inverses of them become a ``UnitaryGate`` (its matrix put
    in Qiskit's little-endian order). Measurements, resets and barriers carry
    over; a conditioned operation becomes an ``if_test`` on its register, its
    bit, or (bits that form no register) nested single-bit tests. Registers
    of ``circuit.qregs``/``cregs`` are kept when they list the bits in order.

    Raises
    ------
    ValueError
        For channels (noise belongs in a ``qiskit_aer`` noise model) and
        batched gates.
    """
    qiskit = _qiskit()
    if not isinstance(circuit, Circuit):
        raise TypeError(f"to_qiskit expects a tqsim Circuit, got {type(circuit).__name__}")
    qregs = _registers(circuit.qregs, circuit.num_qubits, qiskit.QuantumRegister, "q")
    cregs = _registers(circuit.cregs, circuit.num_clbits, qiskit.ClassicalRegister, "c")
    qc = qiskit.QuantumCircuit(*qregs, *cregs)
    for op in circuit.operations:
        if isinstance(op, Conditioned):
            with _if_test(qc, cregs, op.bits, op.value):
                _export(qc, op.operation)
        else:
            _export(qc, op)
    return qc


def _registers(named: dict, size: int, kind, default: str) -> list:
    """Registers named as in ``named`` when they list 0..size-1 in order, else one ``default`` register."""
    if not size:
        return []
    if named and [b for bits in named.values() for b in bits] == list(range(size)):
        return [kind(len(bits), name) for name, bits in named.items() if bits]
    return [kind(size, default)]


def _if_test(qc, cregs: list, bits: Sequence[int], value: int):
    """``qc.if_test`` on a register, a bit, or nested single-bit tests (bits[0] is value's LSB)."""
    for reg in cregs:
        if [qc.find_bit(b).index for b in reg] == list(bits):
            return qc.if_test((reg, value))
    stack = contextlib.ExitStack()
    for j, b in enumerate(bits):
        stack.enter_context(qc.if_test((qc.clbits[b], (value >> j) & 1)))
    return stack


def _export(qc, op) -> None:
    if isinstance(op, Measure):
        qc.measure(op.qubits[0], op.bit)
    elif isinstance(op, Reset):
        qc.reset(op.qubits[0])
    elif isinstance(op, Barrier):
        qc.barrier(list(op.qubits))
    elif isinstance(op, Channel):
        raise ValueError(f"to_qiskit: channel {op.name!r} on qubits {list(op.qubits)} has no Qiskit gate; "
                         f"express noise with a qiskit_aer.noise.NoiseModel instead")
    else:
        gate, qubits = _export_gate(op)
        qc.append(gate, qubits)


def _export_gate(gate: Gate):
    """The Qiskit gate and its qubits for one tqsim gate."""
    from qiskit.circuit.library import MCPhaseGate, MCXGate, UnitaryGate

    if gate.batch_shape:
        raise ValueError(f"to_qiskit: gate {gate!r} is batched ({tuple(gate.batch_shape)}); "
                         f"export one circuit per batch entry")
    qubits = list(gate.qubits)
    angles = [float(p.detach()) if hasattr(p, "detach") else float(p) for p in gate.params
              if not (hasattr(p, "ndim") and p.ndim)]  # matrix gates hold a matrix, not angles
    if gate.name in ("mcx", "c3x", "c4x"):
        return MCXGate(len(qubits) - 1), qubits
    if gate.name == "mcphase":
        return MCPhaseGate(angles[0], len(qubits) - 1), qubits
    name = _TO_QISKIT.get(gate.name)
    if name is not None and len(angles) == len(gate.params) == QISKIT[name].num_params:
        return _standard_gates()[name].base_class(*angles), qubits
    # tqsim's matrix is big-endian over qubits = Qiskit's little-endian over them reversed
    matrix = gate.matrix(dtype=torch.complex128).detach().cpu().numpy()
    return UnitaryGate(matrix, check_input=False), qubits[::-1]
