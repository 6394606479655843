"""The OpenQASM 2.0 reader: Qiskit's parser, then :func:`tqsim.interop.qiskit.from_qiskit`.

``qiskit.qasm2.loads`` is a fast Rust parser whose errors carry line and
column; what it reads becomes a tqsim circuit through the Qiskit converter.
Program-defined gates are expanded into their bodies unless a definition
carrying a standard name is checked to be that gate. Errors Qiskit raises
without a position get one from a search for the first failing statement.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from ..circuit import Circuit
from . import names
from .._optional import require
from .qasm_common import QASMError, position, split_commas, standard_base
from .qiskit import _gc_paused

__all__ = ["read_qasm2"]


def read_qasm2(text: str, clean: str, label: str | None, folder: Path | None) -> Circuit:
    """OpenQASM 2.0 through ``qiskit.qasm2.loads`` and ``from_qiskit``; every error gets its line."""
    qasm2 = require("qiskit.qasm2", "qasm", "Reading OpenQASM 2")
    paths = (str(folder),) if folder else ()
    overrides = _verified_definitions(qasm2, text, clean, paths)

    def convert(program: str) -> Circuit:
        with _gc_paused():  # Qiskit's instructions, then tqsim's gates, 10**5 of each in large files
            qc = _qasm2_loads(qasm2, program, list(qasm2.LEGACY_CUSTOM_INSTRUCTIONS) + overrides, paths, label)
            return _from_qiskit(_inline_definitions(qc))

    try:
        return convert(text)
    except QASMError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # Qiskit's own errors without a line, and Rust panics
        line, statement = _first_failing_statement(clean, text, convert, exc)
        reason = str(exc).removeprefix("from_qiskit: ")
        raise QASMError(f"cannot read {statement!r}: {reason}", line, None, label) from exc


def _qasm2_loads(qasm2, program: str, custom: list, paths: tuple, label: str | None):
    """``qiskit.qasm2.loads``, its located errors turned into QASMError."""
    try:
        return qasm2.loads(program, include_path=paths, custom_instructions=custom)
    except qasm2.QASM2ParseError as exc:
        message = getattr(exc, "message", str(exc))
        match = re.match(r"(.*?):(\d+),(\d+): (.*)", message, re.S)
        if match is None:
            raise QASMError(message, None, None, label) from None
        source = label if match.group(1) == "<input>" else match.group(1)
        raise QASMError(match.group(4), int(match.group(2)), int(match.group(3)) + 1, source) from None


def _from_qiskit(qc) -> Circuit:
    from .qiskit import from_qiskit

    return from_qiskit(qc)


def _inline_definitions(qc):
    """``qc`` with every gate the program defined (and does not map to a standard gate) replaced by its body.

    ``from_qiskit`` would otherwise import such gates as matrices; the body is
    what the program says and keeps the circuit made of named gates.
    """
    if not _holds_program_gates(qc):
        return qc
    out = qc.copy_empty_like()
    for inst in qc.data:
        op = inst.operation
        if op.name == "if_else":
            out.append(op.replace_blocks([_inline_definitions(block) for block in op.blocks]), inst.qubits, inst.clbits)
        elif _is_program_gate(op):
            out.compose(_inline_definitions(op.definition), qubits=inst.qubits, inplace=True)
        else:
            out._append(inst)
    return out


def _holds_program_gates(qc) -> bool:
    """Whether an instruction of ``qc`` is a program gate or an if_else block that holds one.

    Only instances of classes of ``qiskit.qasm2`` and if_else blocks can be:
    the distinct classes are gathered first, without a call per instruction
    (half the time in a file of 10**5 gates).
    """
    from qiskit.circuit import IfElseOp

    kinds = {type(inst.operation) for inst in qc.data}
    if not any((k.__module__ or "").startswith("qiskit.qasm2") or issubclass(k, IfElseOp) for k in kinds):
        return False
    return any(_is_program_gate(inst.operation) for inst in qc.data)


def _is_program_gate(op) -> bool:
    if op.name == "if_else":
        return any(_is_program_gate(inst.operation) for block in op.blocks for inst in block.data)
    return (type(op).__module__ or "").startswith("qiskit.qasm2") and op.definition is not None


# ``gate`` at a word boundary, checked behind it as in qasm.py (fast in large files)
_DEFINITION = re.compile(r"gate(?<!\wgate)\s+([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*([^{]*)\{")


def _verified_definitions(qasm2, text: str, clean: str, paths: tuple) -> list:
    """Qiskit ``CustomInstruction``s for program-defined gates that are a standard gate under its name.

    Each candidate definition (``gate rzx(p) a, b {...}``, ``gate mcx_7 ...``)
    is applied at two random angle sets in a small program of its own and
    compared with Qiskit's gate (OpenQASM 2 has no ``ctrl @``, so equality up
    to a global phase is all that matters). A definition that differs is kept.
    """
    overrides = []
    for match in _DEFINITION.finditer(clean):
        name, params, qubits = match.group(1), split_commas(match.group(2)), split_commas(match.group(3))
        standard = _qiskit_standard(name, len(params), len(qubits))
        if standard is None or len(qubits) > 8 or name in _LEGACY_NAMES:
            continue
        end = clean.find("}", match.end()) + 1
        if _defines_standard(qasm2, text[:end], name, len(params), len(qubits), standard, paths):
            overrides.append(qasm2.CustomInstruction(name, len(params), len(qubits), standard))
    return overrides


_LEGACY_NAMES = {"u3", "u2", "u1", "cx", "id", "u0", "u", "p", "x", "y", "z", "h", "s", "sdg", "t", "tdg",
                 "rx", "ry", "rz", "sx", "sxdg", "cz", "cy", "swap", "ch", "ccx", "cswap", "crx", "cry",
                 "crz", "cu1", "cp", "cu3", "csx", "cu", "rxx", "rzz", "rccx", "rc3x", "c3x", "c3sqrtx",
                 "c4x", "delay"}  # qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS already maps these


def _qiskit_standard(name: str, num_params: int, num_qubits: int):
    """Constructor ``*angles -> Qiskit gate`` of the standard gate ``name`` of that shape, or None."""
    from qiskit.circuit import library

    base = standard_base(name, set(names.QISKIT) | {"mcx", "mcphase"})
    if base == "mcx" and num_params == 0 and num_qubits >= 2:
        return lambda: library.MCXGate(num_qubits - 1)
    if base == "mcphase" and num_params == 1 and num_qubits >= 2:
        return lambda lam: library.MCPhaseGate(lam, num_qubits - 1)
    std = names.QISKIT.get(base)
    if std is None or (std.num_params, std.num_qubits) != (num_params, num_qubits):
        return None
    return library.get_standard_gate_name_mapping()[base].base_class


def _defines_standard(qasm2, prefix: str, name: str, num_params: int, num_qubits: int, standard, paths) -> bool:
    """Whether the definition of ``name`` in ``prefix`` equals ``standard`` (up to a global phase)."""
    from qiskit.quantum_info import Operator

    rng = random.Random(20240611)
    register = "tqsimcheck"
    while register in prefix:
        register += "x"
    wires = ",".join(f"{register}[{j}]" for j in range(num_qubits))
    samples = [[rng.uniform(0.2, 2.8) for _ in range(num_params)] for _ in range(2)]
    calls = "".join(f"{name}({','.join(map(repr, a))}) {wires};\n" if a else f"{name} {wires};\n" for a in samples)
    try:
        qc = qasm2.loads(f"{prefix}\nqreg {register}[{num_qubits}];\n{calls}", include_path=paths,
                         custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        return all(Operator(inst.operation).equiv(Operator(standard(*a)), atol=1e-9)
                   for inst, a in zip(qc.data[-2:], samples))
    except Exception:  # a body that cannot be built at these angles is simply not mapped
        return False


def _first_failing_statement(clean: str, text: str, convert, error: BaseException) -> tuple[int, str]:
    """(line, text) of the first top-level statement whose prefix makes ``convert`` raise ``error`` again.

    A binary search over prefixes that end after a top-level statement: the
    parser reads in order, so a prefix holding the culprit fails the same way.
    """
    ends, depth = [], 0
    for match in re.finditer(r"[;{}]", clean):
        depth += {"{": 1, "}": -1, ";": 0}[match.group()]
        if depth == 0:
            ends.append(match.end())
    lo, hi = 0, max(len(ends) - 1, 0)
    while lo < hi:
        mid = (lo + hi) // 2
        if _fails(convert, text[:ends[mid]], error):
            hi = mid
        else:
            lo = mid + 1
    start = ends[lo - 1] if lo else 0
    while start < len(clean) and clean[start].isspace():
        start += 1
    end = ends[lo] if ends else len(text)
    statement = " ".join(text[start:end].split())
    return position(clean, start)[0], statement[:80]


def _fails(convert, program: str, error: BaseException) -> bool:
    try:
        convert(program)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return type(exc) is type(error) and str(exc) == str(error)
    return False
