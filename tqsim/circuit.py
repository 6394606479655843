"""Circuit: an ordered list of operations with chaining builder methods.

Every function of :mod:`tqsim.gates` and :mod:`tqsim.channels` is also a method
here with the same signature, so ``c.rx(0.3, 2)`` appends ``gates.rx(0.3, 2)``
and returns the circuit for chaining. Measurements, resets, barriers and
classically conditioned operations (:mod:`tqsim.classical`) write to the
circuit's ``num_clbits`` classical bits.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Iterable, Iterator

import torch

from . import _checks, channels, gates
from .channels import Channel
from .classical import Barrier, Conditioned, Measure, Reset
from .gates import Gate
from .states import StateVector

__all__ = ["Circuit"]

Operation = Gate | Channel | Measure | Reset | Barrier | Conditioned
_CLASSICAL = (Measure, Reset, Conditioned)


class Circuit:
    """A quantum circuit on ``num_qubits`` qubits.

    Examples
    --------
    >>> import tqsim as tq
    >>> c = tq.Circuit(2).h(0).cx(0, 1)
    >>> c.run().probabilities()
    tensor([0.5000, 0.0000, 0.0000, 0.5000])
    """

    def __init__(self, num_qubits: int, num_clbits: int = 0):
        self.num_qubits = _checks.num_qubits(num_qubits)
        self.num_clbits = _checks.num_qubits(num_clbits, minimum=0) if num_clbits else 0
        self.operations: list[Operation] = []
        self._writes: Counter[int] = Counter()  # measurements writing each classical bit
        #: named quantum registers (from OpenQASM or Qiskit): name -> qubit indices
        self.qregs: dict[str, tuple[int, ...]] = {}
        #: named classical registers: name -> bit indices
        self.cregs: dict[str, tuple[int, ...]] = {}

    # ------------------------------------------------------------- building
    def append(self, operation: Operation) -> "Circuit":
        """Append a gate, channel, measurement, reset, barrier or conditioned operation."""
        if not isinstance(operation, (Gate, Channel, Measure, Reset, Barrier, Conditioned)):
            raise TypeError(
                f"can only append gates, channels, measurements, resets, barriers or conditioned "
                f"operations, got {type(operation).__name__}"
            )
        _checks.qubits_in_range(operation.qubits, self.num_qubits, f"{operation.name} qubit")
        inner = operation.operation if isinstance(operation, Conditioned) else operation
        if isinstance(inner, Measure):
            self._check_bits([inner.bit], "measure bit")
        if isinstance(operation, Conditioned):
            self._check_bits(operation.bits, "c_if bit")
            if not any(self._writes[b] for b in operation.bits):  # bits start at 0, but none measured is a slip
                written = sorted(b for b, count in self._writes.items() if count)
                raise ValueError(
                    f"c_if on bit(s) {list(operation.bits)}, which no earlier measurement writes "
                    f"(measured so far: {written or 'none'})"
                )
        self.operations.append(operation)
        if isinstance(inner, Measure):
            self._writes[inner.bit] += 1
        return self

    def _extend_unchecked(self, operations: Iterable[Operation]) -> None:
        """Append ``operations`` without :meth:`append`'s checks, recording measured bits as it does.

        For converters whose operations act on a source circuit's own qubits
        and bits, in range by construction, and carry no condition (whose check
        depends on the bits measured before it). There the checks cannot fail,
        and they were a tenth of the time of converting 10**5 gates.
        """
        for op in operations:
            self.operations.append(op)
            if isinstance(op, Measure):
                self._writes[op.bit] += 1

    def _pop(self) -> Operation:
        """Remove and return the last operation, keeping the record of measured bits."""
        last = self.operations.pop()
        inner = last.operation if isinstance(last, Conditioned) else last
        if isinstance(inner, Measure):
            self._writes[inner.bit] -= 1
        return last

    def _check_bits(self, bits, what: str) -> None:
        for b in bits:
            if not 0 <= b < self.num_clbits:
                allowed = f"0..{self.num_clbits - 1}" if self.num_clbits else "none: Circuit(n, num_clbits=m) makes m bits"
                raise IndexError(f"{what} {b} out of range for {self.num_clbits} classical bits (allowed {allowed})")

    def measure(self, qubit: int, bit: int) -> "Circuit":
        """Measure ``qubit`` in the Z basis and write the outcome to classical ``bit``."""
        return self.append(Measure(qubit, bit))

    def measure_all(self) -> "Circuit":
        """Measure qubit ``j`` into bit ``j`` for every qubit (adding bits if there are fewer)."""
        self.num_clbits = max(self.num_clbits, self.num_qubits)
        for q in range(self.num_qubits):
            self.append(Measure(q, q))
        return self

    def reset(self, qubit: int) -> "Circuit":
        """Reset ``qubit`` to |0>."""
        return self.append(Reset(qubit))

    def barrier(self, *qubits: int) -> "Circuit":
        """A barrier on ``qubits`` (all qubits when none are given); it changes no state."""
        flat = [q for item in qubits for q in (_checks.qubit_list(item))]
        return self.append(Barrier(flat or range(self.num_qubits)))

    def c_if(self, bits, value: int) -> "Circuit":
        """Condition the last operation on classical ``bits`` holding ``value``.

        ``c.x(1).c_if(0, 1)`` flips qubit 1 when bit 0 reads 1. With several
        bits, ``bits[0]`` is the least significant digit of ``value``, as in
        OpenQASM's ``if (c == value)``. Bits start at 0; a condition none of
        whose bits an earlier measurement writes is refused as a mistake.
        """
        if not self.operations:
            raise ValueError("c_if conditions the last operation, but the circuit is empty")
        if isinstance(self.operations[-1], Conditioned):
            raise ValueError(f"{self.operations[-1]!r} is already conditioned")
        last = self._pop()
        try:
            self.append(Conditioned(last, bits, value))
        except (TypeError, ValueError, IndexError):
            self.append(last)
            raise
        return self

    def has_classical(self) -> bool:
        """True when the circuit measures, resets or conditions (barriers do not count)."""
        return any(isinstance(op, _CLASSICAL) for op in self.operations)

    def extend(self, operations: Iterable[Operation]) -> "Circuit":
        for op in operations:
            self.append(op)
        return self

    def compose(self, other: "Circuit") -> "Circuit":
        """A new circuit: this one followed by ``other`` (same qubit count; bits shared by index)."""
        if not isinstance(other, Circuit):
            raise TypeError(f"compose expects a Circuit, got {type(other).__name__}")
        if other.num_qubits != self.num_qubits:
            raise ValueError(f"cannot compose circuits of {self.num_qubits} and {other.num_qubits} qubits")
        joined = Circuit(self.num_qubits, max(self.num_clbits, other.num_clbits))
        joined.qregs, joined.cregs = dict(self.qregs), dict(self.cregs)
        return joined.extend(self.operations).extend(other.operations)

    # ------------------------------------------------------ other formats
    @classmethod
    def from_qasm(cls, source) -> "Circuit":
        """A circuit from OpenQASM 2 or 3 text, or from the path of a ``.qasm`` file.

        Needs ``pip install "tqsim[qasm]"``; see :func:`tqsim.interop.qasm.from_qasm`.
        """
        from .interop.qasm import from_qasm

        return from_qasm(source)

    def to_qasm(self, version: int = 2) -> str:
        """OpenQASM ``version`` 2 or 3 text of the circuit; see :func:`tqsim.interop.qasm.to_qasm`."""
        from .interop.qasm import to_qasm

        return to_qasm(self, version)

    @classmethod
    def from_qiskit(cls, circuit) -> "Circuit":
        """A circuit from a Qiskit ``QuantumCircuit`` (qubit j stays qubit j; matrices converted
        from Qiskit's little-endian order). Needs ``pip install "tqsim[qiskit]"``."""
        from .interop.qiskit import from_qiskit

        return from_qiskit(circuit)

    def to_qiskit(self):
        """The circuit as a Qiskit ``QuantumCircuit``; see :func:`tqsim.interop.qiskit.to_qiskit`."""
        from .interop.qiskit import to_qiskit

        return to_qiskit(self)

    @classmethod
    def from_cirq(cls, circuit) -> "Circuit":
        """A circuit from a Cirq circuit (qubits in ``sorted(circuit.all_qubits())`` order).
        Needs ``pip install "tqsim[cirq]"``."""
        from .interop.cirq import from_cirq

        return from_cirq(circuit)

    # -------------------------------------------------------------- running
    def run(self, state=None, generator: torch.Generator | None = None):
        """Apply the circuit to ``state`` (default |0...0>) and return the new state.

        ``state`` may be any state kind; it is not modified. A circuit that
        measures or resets draws its outcomes from ``generator`` on pure-state
        kinds (one trajectory) and is exact on a DensityMatrix; use
        :meth:`simulate` to read the classical bits too.
        """
        if self.has_classical():
            return self.simulate(state, generator).state
        state = self._initial(state)
        return state.evolve([op for op in self.operations if not isinstance(op, Barrier)])

    def simulate(self, state=None, generator: torch.Generator | None = None):
        """Run the circuit and return the final state with its classical bits.

        Returns a :class:`tqsim.execution.Result`: ``state``, ``bits`` (one
        trajectory's bits on pure-state kinds, per batch entry on a batched
        StateVector) and, on a DensityMatrix, the exact ``bit_probabilities``.
        """
        from .execution import simulate

        return simulate(self, self._initial(state), generator)

    def _initial(self, state):
        if state is None:
            return StateVector.zeros(self.num_qubits)
        if not hasattr(state, "evolve") or not hasattr(state, "num_qubits"):
            raise TypeError(f"run expects a state (StateVector, DensityMatrix, ...), got {type(state).__name__}")
        if state.num_qubits != self.num_qubits:
            raise ValueError(
                f"state has {state.num_qubits} qubits but the circuit acts on {self.num_qubits}"
            )
        return state

    def to_matrix(self, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
        """The circuit's ``2**n x 2**n`` unitary (n <= 12), differentiable."""
        if self.num_qubits > 12:
            raise ValueError(f"to_matrix builds a 2**n x 2**n matrix; n = {self.num_qubits} exceeds 12")
        for op in self.operations:
            if isinstance(op, (Channel, *_CLASSICAL)):
                raise TypeError(f"{_described(op)} has no unitary matrix")
            if isinstance(op, Barrier):
                continue
            if op.batch_shape:
                raise ValueError(f"gate {op!r} is batched; to_matrix needs unbatched gates")
        dim = 1 << self.num_qubits
        basis = torch.eye(dim, dtype=_checks.complex_dtype(dtype), device=_checks.device(device))
        gates_only = [op for op in self.operations if not isinstance(op, Barrier)]
        columns = StateVector(basis, self.num_qubits).evolve(gates_only).amplitudes()
        return columns.mT

    def inverse(self) -> "Circuit":
        """The adjoint circuit (gates reversed and inverted)."""
        inverted = Circuit(self.num_qubits, self.num_clbits)
        inverted.qregs, inverted.cregs = dict(self.qregs), dict(self.cregs)
        for op in reversed(self.operations):
            if isinstance(op, (Channel, *_CLASSICAL)):
                raise TypeError(f"{_described(op)} has no inverse")
            inverted.append(op if isinstance(op, Barrier) else op.inverse())
        return inverted

    # ---------------------------------------------------------- inspection
    def depth(self) -> int:
        """Number of layers when every operation starts as early as it can."""
        level = [0] * self.num_qubits
        for op in self.operations:
            layer = max(level[q] for q in op.qubits) + 1
            for q in op.qubits:
                level[q] = layer
        return max(level, default=0)

    def parameters(self) -> list[torch.Tensor]:
        """The distinct parameter tensors that require grad, in order of use."""
        seen: dict[int, torch.Tensor] = {}
        for op in self.operations:
            for p in op.params:
                if isinstance(p, torch.Tensor) and p.requires_grad:
                    seen.setdefault(id(p), p)
        return list(seen.values())

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    def __len__(self) -> int:
        return len(self.operations)

    def __getitem__(self, index):
        return self.operations[index]

    def __repr__(self) -> str:
        bits = f", num_clbits={self.num_clbits}" if self.num_clbits else ""
        return f"Circuit(num_qubits={self.num_qubits}{bits}, operations={len(self.operations)}, depth={self.depth()})"

    def __str__(self) -> str:
        return self.draw()

    def draw(self) -> str:
        """A text drawing, one line per qubit, one column per layer."""
        n = self.num_qubits
        columns: list[dict[int, str]] = []
        free = [0] * n
        classical_free = 0  # measurements and conditions keep their order on the classical bits
        for op in self.operations:
            lo, hi = min(op.qubits), max(op.qubits)
            layer = max(free[q] for q in range(lo, hi + 1))
            if isinstance(op, (Measure, Conditioned)):
                layer = max(layer, classical_free)
                classical_free = layer + 1
            if layer == len(columns):
                columns.append({})
            for q in range(lo, hi + 1):
                free[q] = layer + 1
            columns[layer].update(_cells(op, lo, hi))
        names = [f"q{q}: " for q in range(n)]
        width = max(len(s) for s in names)
        lines = [s.rjust(width) for s in names]
        for column in columns:
            w = max(len(c) for c in column.values())
            for q in range(n):
                lines[q] += "─" + column.get(q, "").center(w, "─") + "─"
        return "\n".join(line.rstrip() for line in lines)


def _described(op: Operation) -> str:
    return f"channel {op.name}" if isinstance(op, Channel) else repr(op)


def _cells(op: Operation, lo: int, hi: int) -> dict[int, str]:
    """Text for every qubit an operation spans."""
    cells = {q: "┼" for q in range(lo + 1, hi)}
    label = op.label()
    controls = getattr(op, "num_controls", 0)
    symbol = {"cx": "X", "ccx": "X", "c3x": "X", "c4x": "X", "mcx": "X", "c3sqrtx": "SX", "cy": "Y", "cz": "●",
              "cswap": "×", "swap": "×"}.get(op.name)
    for j, q in enumerate(op.qubits):
        if j < controls:
            cells[q] = "●"
        elif symbol is not None:
            cells[q] = symbol
        elif op.name == "mcphase":
            cells[q] = "P" + label[len("MCPHASE"):]
        elif controls and op.name.startswith("c") and op.name != "controlled":
            cells[q] = label[1:]  # CRX(0.3) -> RX(0.3) on the target
        else:
            cells[q] = label
    return cells


def _builder(factory):
    @functools.wraps(factory)
    def method(self: Circuit, *args, **kwargs) -> Circuit:
        return self.append(factory(*args, **kwargs))

    method.__doc__ = f"Append ``{factory.__module__}.{factory.__name__}``: {factory.__doc__}"
    return method


for _name, _factory in {**gates.BUILDERS, **channels.BUILDERS}.items():
    setattr(Circuit, _name, _builder(_factory))
