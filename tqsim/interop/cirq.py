"""Cirq circuits in: :func:`from_cirq`.

Cirq is big-endian like tqsim: ``cirq.unitary(op)`` is ordered over
``op.qubits`` with the first qubit most significant, and
``cirq.final_state_vector(circuit, qubit_order=sorted(circuit.all_qubits()))``
equals the imported circuit's amplitudes, so no bit order changes here.
"""

from __future__ import annotations

import functools
import math

from .. import gates
from ..circuit import Circuit
from ..classical import Conditioned, Measure, Reset
from ..gates import Gate
from .._optional import require

__all__ = ["from_cirq"]


def _cirq():
    return require("cirq", "cirq", "Cirq conversion")


def from_cirq(circuit) -> Circuit:
    """A tqsim circuit with the same gates, measurements and classical controls as ``circuit``.

    Parameters
    ----------
    circuit : cirq.Circuit or cirq.FrozenCircuit
        Resolved (no sympy symbols), on qubits of dimension 2.

    Returns
    -------
    Circuit
        Qubit ``j`` is ``sorted(circuit.all_qubits())[j]`` (``qregs`` has one
        entry per qubit, named ``str(qubit)``). Each measured qubit writes a
        new classical bit, in the order measured; ``cregs`` maps each
        measurement key to its bits.

    Raises
    ------
    ValueError
        Symbols, qudits, noise channels and other non-unitary operations,
        conditions other than "this key's single bit is 1", repeated keys,
        each named; nothing is half-imported.
    """
    cirq = _cirq()
    if not isinstance(circuit, cirq.AbstractCircuit):
        raise TypeError(f"from_cirq expects a cirq.Circuit, got {type(circuit).__name__}")
    if cirq.is_parameterized(circuit):
        raise ValueError(f"from_cirq: the circuit has unresolved symbols {sorted(cirq.parameter_names(circuit))}; "
                         f"resolve them first with cirq.resolve_parameters(circuit, {{...}})")
    qubits = sorted(circuit.all_qubits())
    for q in qubits:
        if q.dimension != 2:
            raise ValueError(f"from_cirq: {q!r} has dimension {q.dimension}; tqsim simulates qubits (2)")
    index = {q: j for j, q in enumerate(qubits)}
    num_clbits = sum(len(op.qubits) for op in circuit.all_operations()
                     if isinstance(_inner(op).gate, cirq.MeasurementGate))
    out = Circuit(len(qubits), num_clbits)
    out.qregs = {str(q): (j,) for q, j in index.items()}
    keys: dict = {}  # MeasurementKey -> clbit indices
    for op in circuit.all_operations():
        for tq_op in _convert(op, index, keys):
            out.append(tq_op)
    out.cregs = {str(k): bits for k, bits in keys.items()}
    return out


def _inner(op):
    cirq = _cirq()
    return op.without_classical_controls() if isinstance(op, cirq.ClassicallyControlledOperation) else op


def _convert(op, index: dict, keys: dict) -> list:
    """The tqsim operations for one Cirq operation (``keys`` gains its measurement bits)."""
    cirq = _cirq()
    inner = _inner(op)
    qs = [index[q] for q in inner.qubits]
    condition = _condition(op, keys) if inner is not op else None
    if isinstance(inner.gate, cirq.MeasurementGate):
        ops = _measure(inner.gate, qs, keys)
    elif isinstance(inner.gate, cirq.ResetChannel):
        ops = [Reset(qs[0])]
    elif not qs:  # a global phase operation: invisible in states
        ops = []
    elif cirq.has_unitary(inner):
        ops = [_gate(inner, qs)]
    else:
        raise ValueError(f"from_cirq: {inner!r} is not unitary and not a measurement or reset "
                         f"(noise channels are not imported; apply tqsim.channels on a DensityMatrix)")
    return [o if condition is None else Conditioned(o, *condition) for o in ops]


def _measure(gate, qs: list[int], keys: dict) -> list:
    """New clbits for the key; an inverted bit is read as X, measure, X (same state, flipped record)."""
    if gate.mkey in keys:
        raise ValueError(f"from_cirq: measurement key {str(gate.mkey)!r} is used twice; give each "
                         f"measurement its own key")
    if gate.confusion_map:
        raise ValueError(f"from_cirq: measurement {str(gate.mkey)!r} has a confusion map (a noisy "
                         f"readout), which tqsim does not model")
    first = sum(len(bits) for bits in keys.values())
    keys[gate.mkey] = tuple(range(first, first + len(qs)))
    ops = []
    for q, bit, inverted in zip(qs, keys[gate.mkey], gate.full_invert_mask()):
        flip = [gates.x(q)] if inverted else []
        ops += flip + [Measure(q, bit)] + flip
    return ops


def _condition(op, keys: dict) -> tuple[list[int], int]:
    """Single-bit key conditions, all required: (their bits, all ones)."""
    cirq = _cirq()
    bits = []
    for cond in op.classical_controls:
        if not isinstance(cond, cirq.KeyCondition) or getattr(cond, "index", -1) != -1:
            raise ValueError(f"from_cirq: the classical condition {cond} is not supported "
                             f"(only plain measurement keys, as in op.with_classical_controls('m'))")
        if cond.key not in keys:
            raise ValueError(f"from_cirq: condition on key {str(cond.key)!r}, which no earlier measurement writes")
        if len(keys[cond.key]) != 1:
            raise ValueError(f"from_cirq: condition on key {str(cond.key)!r} of {len(keys[cond.key])} bits "
                             f"(true when any bit is 1) is not supported; condition on single-qubit keys")
        bits += keys[cond.key]
    return bits, (1 << len(bits)) - 1


def _gate(op, qs: list[int]) -> Gate:
    """A named tqsim gate when Cirq's gate is exactly one, else its (big-endian) unitary."""
    cirq = _cirq()
    gate = op.gate
    if type(gate) in (cirq.Rx, cirq.Ry, cirq.Rz):  # exp(-i rads P / 2), rads = exponent * pi
        builder = {cirq.Rx: gates.rx, cirq.Ry: gates.ry, cirq.Rz: gates.rz}[type(gate)]
        return builder(float(gate.exponent) * math.pi, *qs)
    try:
        named = _named().get(gate)
    except TypeError:  # an unhashable gate has no entry
        named = None
    if named is not None:
        return gates.BUILDERS[named](*qs)
    if isinstance(gate, cirq.ControlledGate) and set(gate.control_values.expand()) == {(1,) * gate.num_controls()}:
        k = gate.num_controls()
        return gates.controlled(cirq.unitary(gate.sub_gate), qs[:k], qs[k:])
    return gates.unitary(cirq.unitary(op), qs)


@functools.lru_cache(maxsize=1)
def _named() -> dict:
    """Cirq gates that equal a tqsim fixed gate exactly (Cirq compares exponents modulo period)."""
    cirq = _cirq()
    return {cirq.H: "h", cirq.X: "x", cirq.Y: "y", cirq.Z: "z", cirq.S: "s", cirq.Z**-0.5: "sdg",
            cirq.T: "t", cirq.Z**-0.25: "tdg", cirq.CNOT: "cx", cirq.CZ: "cz", cirq.SWAP: "swap",
            cirq.ISWAP: "iswap", cirq.CCX: "ccx", cirq.CSWAP: "cswap"}
