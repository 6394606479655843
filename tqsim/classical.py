"""Operations that touch classical bits: measurement, reset, barriers, conditions.

They sit in a :class:`~tqsim.Circuit` beside gates and channels. A circuit
holding any of them (a barrier aside) is run by :mod:`tqsim.execution`: one
sampled trajectory on pure-state kinds, the exact branch mixture on a density
matrix.

Classical bits are numbered ``0 .. num_clbits-1``. A condition compares a
list of bits with an integer in the OpenQASM way: ``bits[0]`` is the least
significant binary digit of ``value`` (so ``if (c == 2)`` on a 2-bit register
``c`` asks for ``c[0] = 0, c[1] = 1``).
"""

from __future__ import annotations

import numbers
from typing import Sequence

from . import _checks

__all__ = ["Measure", "Reset", "Barrier", "Conditioned", "condition_bits"]


class Measure:
    """Projective Z measurement of ``qubit``; the outcome is written to classical ``bit``."""

    __slots__ = ("qubits", "bit")
    name = "measure"
    params = ()
    num_controls = 0

    def __init__(self, qubit: int, bit: int):
        self.qubits = _checks.qubit_list([qubit])
        self.bit = _bit_index(bit, "measure bit")

    def label(self) -> str:
        return f"M→c{self.bit}"

    def __repr__(self) -> str:
        return f"measure q{self.qubits[0]} -> c{self.bit}"


class Reset:
    """Reset ``qubit`` to |0> (measure, then flip on outcome 1; no classical bit written)."""

    __slots__ = ("qubits",)
    name = "reset"
    params = ()
    num_controls = 0

    def __init__(self, qubit: int):
        self.qubits = _checks.qubit_list([qubit])

    def label(self) -> str:
        return "|0>"

    def __repr__(self) -> str:
        return f"reset q{self.qubits[0]}"


class Barrier:
    """A marker that keeps circuit structure (OpenQASM ``barrier``); it acts as the identity."""

    __slots__ = ("qubits",)
    name = "barrier"
    params = ()
    num_controls = 0

    def __init__(self, qubits: Sequence[int]):
        self.qubits = _checks.qubit_list(qubits)
        if not self.qubits:
            raise ValueError("barrier needs at least one qubit")

    def label(self) -> str:
        return "░"

    def __repr__(self) -> str:
        return f"barrier {list(self.qubits)}"


class Conditioned:
    """``operation`` applied only when the classical ``bits`` hold ``value``.

    ``bits[0]`` is the least significant digit of ``value`` (OpenQASM's
    register comparison). ``operation`` is a gate, a measurement or a reset.
    """

    __slots__ = ("operation", "bits", "value")
    num_controls = 0

    def __init__(self, operation, bits: Sequence[int] | int, value: int):
        from .gates import Gate

        if not isinstance(operation, (Gate, Measure, Reset)):
            raise TypeError(
                f"c_if conditions a gate, a measurement or a reset, got {type(operation).__name__}"
            )
        if isinstance(operation, Gate) and operation.batch_shape:
            raise ValueError(f"gate {operation!r} is batched; a conditioned gate must be a single gate")
        self.operation = operation
        self.bits = condition_bits(bits)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"c_if value must be an integer, got {value!r}")
        value = int(value)
        if not 0 <= value < 1 << len(self.bits):
            raise ValueError(
                f"c_if value {value} does not fit in {len(self.bits)} bit(s): allowed 0..{(1 << len(self.bits)) - 1}"
            )
        self.value = value

    @property
    def name(self) -> str:
        return self.operation.name

    @property
    def qubits(self) -> tuple[int, ...]:
        return self.operation.qubits

    @property
    def params(self) -> tuple:
        return self.operation.params

    def wanted(self) -> list[int]:
        """The bit value each of :attr:`bits` must hold."""
        return [(self.value >> j) & 1 for j in range(len(self.bits))]

    def label(self) -> str:
        return f"{self.operation.label()}|c{','.join(map(str, self.bits))}={self.value}"

    def __repr__(self) -> str:
        return f"{self.operation!r} if c{list(self.bits)} == {self.value}"


def condition_bits(bits: Sequence[int] | int) -> tuple[int, ...]:
    """Checked classical bit indices of a condition (one int or a non-empty sequence)."""
    if isinstance(bits, numbers.Integral) and not isinstance(bits, bool):
        bits = [bits]
    try:
        bits = [_bit_index(b, "c_if bit") for b in bits]
    except TypeError:
        raise TypeError(f"c_if bits must be an int or a sequence of ints, got {bits!r}") from None
    if not bits:
        raise ValueError("c_if needs at least one classical bit")
    if len(set(bits)) != len(bits):
        raise ValueError(f"c_if bits repeat: {bits}")
    return tuple(bits)


def _bit_index(bit, what: str) -> int:
    if isinstance(bit, bool) or not isinstance(bit, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {bit!r}")
    if bit < 0:
        raise IndexError(f"{what} {bit} is negative")
    return int(bit)
