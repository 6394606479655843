"""Circuit: an ordered list of gates and channels with chaining builder methods.

Every function of :mod:`tqsim.gates` and :mod:`tqsim.channels` is also a method
here with the same signature, so ``c.rx(0.3, 2)`` appends ``gates.rx(0.3, 2)``
and returns the circuit for chaining.
"""

from __future__ import annotations

import functools
from typing import Iterable, Iterator

import torch

from . import _checks, channels, gates
from .channels import Channel
from .gates import Gate
from .states import StateVector

__all__ = ["Circuit"]

Operation = Gate | Channel


class Circuit:
    """A quantum circuit on ``num_qubits`` qubits.

    Examples
    --------
    >>> import tqsim as tq
    >>> c = tq.Circuit(2).h(0).cx(0, 1)
    >>> c.run().probabilities()
    tensor([0.5000, 0.0000, 0.0000, 0.5000])
    """

    def __init__(self, num_qubits: int):
        self.num_qubits = _checks.num_qubits(num_qubits)
        self.operations: list[Operation] = []

    # ------------------------------------------------------------- building
    def append(self, operation: Operation) -> "Circuit":
        """Append a gate or channel; returns the circuit."""
        if not isinstance(operation, (Gate, Channel)):
            raise TypeError(f"can only append gates or channels, got {type(operation).__name__}")
        _checks.qubits_in_range(operation.qubits, self.num_qubits, f"{operation.name} qubit")
        self.operations.append(operation)
        return self

    def extend(self, operations: Iterable[Operation]) -> "Circuit":
        for op in operations:
            self.append(op)
        return self

    def compose(self, other: "Circuit") -> "Circuit":
        """A new circuit: this one followed by ``other`` (same qubit count)."""
        if not isinstance(other, Circuit):
            raise TypeError(f"compose expects a Circuit, got {type(other).__name__}")
        if other.num_qubits != self.num_qubits:
            raise ValueError(f"cannot compose circuits of {self.num_qubits} and {other.num_qubits} qubits")
        return Circuit(self.num_qubits).extend(self.operations).extend(other.operations)

    # -------------------------------------------------------------- running
    def run(self, state=None):
        """Apply the circuit to ``state`` (default |0...0>) and return the new state.

        ``state`` may be any state kind; it is not modified.
        """
        if state is None:
            state = StateVector.zeros(self.num_qubits)
        if not hasattr(state, "evolve") or not hasattr(state, "num_qubits"):
            raise TypeError(f"run expects a state (StateVector, DensityMatrix, ...), got {type(state).__name__}")
        if state.num_qubits != self.num_qubits:
            raise ValueError(
                f"state has {state.num_qubits} qubits but the circuit acts on {self.num_qubits}"
            )
        return state.evolve(self.operations)

    def to_matrix(self, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
        """The circuit's ``2**n x 2**n`` unitary (n <= 12), differentiable."""
        if self.num_qubits > 12:
            raise ValueError(f"to_matrix builds a 2**n x 2**n matrix; n = {self.num_qubits} exceeds 12")
        for op in self.operations:
            if isinstance(op, Channel):
                raise TypeError(f"channel {op.name} has no unitary matrix")
            if op.batch_shape:
                raise ValueError(f"gate {op!r} is batched; to_matrix needs unbatched gates")
        dim = 1 << self.num_qubits
        basis = torch.eye(dim, dtype=_checks.complex_dtype(dtype), device=_checks.device(device))
        columns = StateVector(basis, self.num_qubits).evolve(self.operations).amplitudes()
        return columns.mT

    def inverse(self) -> "Circuit":
        """The adjoint circuit (gates reversed and inverted)."""
        inverted = Circuit(self.num_qubits)
        for op in reversed(self.operations):
            if isinstance(op, Channel):
                raise TypeError(f"channel {op.name} has no inverse")
            inverted.append(op.inverse())
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
        return f"Circuit(num_qubits={self.num_qubits}, operations={len(self.operations)}, depth={self.depth()})"

    def __str__(self) -> str:
        return self.draw()

    def draw(self) -> str:
        """A text drawing, one line per qubit, one column per layer."""
        n = self.num_qubits
        columns: list[dict[int, str]] = []
        free = [0] * n
        for op in self.operations:
            lo, hi = min(op.qubits), max(op.qubits)
            layer = max(free[q] for q in range(lo, hi + 1))
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


def _cells(op: Operation, lo: int, hi: int) -> dict[int, str]:
    """Text for every qubit an operation spans."""
    cells = {q: "┼" for q in range(lo + 1, hi)}
    label = op.label()
    controls = getattr(op, "num_controls", 0)
    symbol = {"cx": "X", "ccx": "X", "cy": "Y", "cz": "●", "cswap": "×", "swap": "×"}.get(op.name)
    for j, q in enumerate(op.qubits):
        if j < controls:
            cells[q] = "●"
        elif symbol is not None:
            cells[q] = symbol
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
