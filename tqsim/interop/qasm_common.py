"""What the OpenQASM readers and writer share: :class:`QASMError`, source positions, gate names.

Kept apart from :mod:`tqsim.interop.qasm` so that the readers
(:mod:`~tqsim.interop.qasm2`, :mod:`~tqsim.interop.qasm3`) and the writer
(:mod:`~tqsim.interop.qasm_writer`) can use it while the public module
imports them, with no import cycle.
"""

from __future__ import annotations

import re

from . import names

__all__ = ["QASMError", "position", "split_commas", "standard_base", "BUILTINS"]


class QASMError(ValueError):
    """An OpenQASM program tqsim cannot read; ``line`` and ``column`` (1-based) say where."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None, source: str | None = None):
        self.reason, self.line, self.column, self.source = message, line, column, source
        where = [source] if source else []
        if line is not None:
            where.append(f"line {line}" + (f", column {column}" if column is not None else ""))
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


def position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def split_commas(items: str | None) -> list[str]:
    """The stripped, non-empty items of a comma-separated list (none for ``None``)."""
    return [s.strip() for s in (items or "").split(",") if s.strip()]


#: gates usable without a definition: stdgates.inc, qelib1.inc, and the names Qiskit's exporter writes
BUILTINS = names.QELIB1 | names.STDGATES | names.EXTRA | names.QISKIT


def standard_base(name: str, known) -> str | None:
    """``name``, or ``name`` without a ``_123`` suffix (Qiskit's exporter adds one), when ``known`` has it."""
    if name in known:
        return name
    base = re.sub(r"_\d+$", "", name)
    return base if base != name and base in known else None
