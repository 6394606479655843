"""OpenQASM 2 and 3 in and out: :func:`from_qasm`, :func:`load_qasm`, :func:`to_qasm`.

Two readers, chosen by the ``OPENQASM`` header:

- OpenQASM 2.0 goes through Qiskit's Rust parser (``qiskit.qasm2.loads``,
  about 4 us a gate, with line and column in its errors) and then
  :func:`tqsim.interop.qiskit.from_qiskit`. Gates the program defines are
  expanded into their bodies, except a definition that carries a standard
  name (``rzx``, ``ecr``, ``mcx_5``...) and is checked to be that gate: it
  becomes the native tqsim gate.
- OpenQASM 3 is parsed by the reference parser (``openqasm3.parse``, ANTLR)
  and its syntax tree is read here into a circuit, no Qiskit needed.

Registers map to flat indices in declaration order, kept in
``circuit.qregs`` / ``circuit.cregs``. Every error is a :class:`QASMError`
(a ValueError) that names the line and column; nothing is half-imported.
"""

from __future__ import annotations

import math
import operator
import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from .. import gates
from ..channels import Channel
from ..circuit import Circuit
from ..classical import Barrier, Conditioned, Measure, Reset
from ..gates import Gate
from . import names
from ._optional import require

__all__ = ["QASMError", "from_qasm", "load_qasm", "to_qasm"]


class QASMError(ValueError):
    """An OpenQASM program tqsim cannot read; ``line`` and ``column`` (1-based) say where."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None, source: str | None = None):
        self.reason, self.line, self.column, self.source = message, line, column, source
        where = [source] if source else []
        if line is not None:
            where.append(f"line {line}" + (f", column {column}" if column is not None else ""))
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


# ====================================================================== reading


def from_qasm(source) -> Circuit:
    """The circuit of an OpenQASM 2.0 or 3 program.

    Parameters
    ----------
    source : str or os.PathLike
        The program text, or the path of a ``.qasm`` file (a ``str`` without
        ``;`` or a newline is taken as a path). The ``OPENQASM 2.0;`` or
        ``OPENQASM 3;`` header picks the reader; a program without one is read
        as OpenQASM 3, the version in which the header is optional.

    Returns
    -------
    Circuit
        Registers become flat qubit and clbit indices in declaration order;
        ``circuit.qregs`` and ``circuit.cregs`` map their names to the indices.

    Raises
    ------
    QASMError
        (a ValueError) naming the line and column: syntax errors, unknown
        gates, wrong parameter or qubit counts, indices out of range,
        undeclared registers, ``opaque`` gates, conditions on bits never
        measured, and the parts of OpenQASM 3 tqsim does not run (loops,
        subroutines, ``switch``, ``box``, ``delay``, ``extern``,
        ``input``/``output``, classical arithmetic, non-integer ``pow``).
    FileNotFoundError
        When ``source`` is a path and no file is there.
    """
    return _read(*_source(source))


def load_qasm(path) -> Circuit:
    """The circuit in the OpenQASM 2 or 3 file at ``path`` (see :func:`from_qasm`)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_qasm expects a path (str or os.PathLike), got {type(path).__name__}")
    return _read(*_read_file(path))


def _read(text: str, label: str | None, folder: Path | None) -> Circuit:
    clean = _blank_comments(text)
    if _version(clean, label) == 2:
        text = _inline_includes(text, clean, folder, label)
        clean = _blank_comments(text)
        _refuse_opaque(clean, label)
        return _read_qasm2(text, clean, label, folder)
    _refuse_opaque(clean, label)
    return _Reader3(label, folder).read(text)


def _source(source) -> tuple[str, str | None, Path | None]:
    """(text, label for messages, folder for includes) of program text or a path."""
    if isinstance(source, os.PathLike) or (isinstance(source, str) and ";" not in source and "\n" not in source):
        return _read_file(source)
    if not isinstance(source, str):
        raise TypeError(f"from_qasm expects OpenQASM text or a path, got {type(source).__name__}")
    return source, None, None


def _read_file(path) -> tuple[str, str, Path]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no OpenQASM file at {str(path)!r} (looked from {os.getcwd()!r})")
    return path.read_text(encoding="utf-8"), str(path), path.parent


_STRING_OR_COMMENT = re.compile(r'"[^"\n]*"|//[^\n]*|/\*.*?\*/', re.S)
_HEADER = re.compile(r"\s*OPENQASM\s+([0-9]+)(?:\.([0-9]+))?\s*;")
_OPAQUE = re.compile(r"\bopaque\s+([A-Za-z_]\w*)")


def _blank_comments(text: str) -> str:
    """``text`` with comments replaced by spaces (newlines kept, so positions still match)."""
    def blank(match):
        s = match.group()
        return s if s.startswith('"') else re.sub(r"[^\n]", " ", s)

    return _STRING_OR_COMMENT.sub(blank, text)


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_INCLUDE = re.compile(r'\binclude\s*"([^"]*)"\s*;')


def _inline_includes(text: str, clean: str, folder: Path | None, label: str | None, depth: int = 0) -> str:
    """OpenQASM 2 text with each ``include`` but qelib1.inc replaced by the file's statements.

    Qiskit's parser misreads expressions inside included files (Qiskit issue
    #16918), so the files are pasted in, on the include's own line: errors in
    them point at that line.
    """
    for match in reversed(list(_INCLUDE.finditer(clean))):
        if match.group(1) == "qelib1.inc":
            continue
        path = (folder or Path.cwd()) / match.group(1)
        if not path.is_file() or depth > 20:
            raise QASMError(f"include file {match.group(1)!r} not found (looked in {str(path.parent)!r})"
                            if depth <= 20 else "includes nest more than 20 deep", *_position(clean, match.start()),
                            label)
        inner = path.read_text(encoding="utf-8")
        inner = _blank_comments(_inline_includes(inner, _blank_comments(inner), path.parent, str(path), depth + 1))
        text = text[:match.start()] + " ".join(inner.splitlines()) + text[match.end():]
    return text


def _refuse_opaque(clean: str, label: str | None) -> None:
    """Qiskit accepts ``opaque`` and the OpenQASM 3 grammar lacks it: refuse it by name in both."""
    opaque = _OPAQUE.search(clean)
    if opaque:
        raise QASMError(f"opaque gate {opaque.group(1)!r}: an opaque gate has no definition, so it cannot be "
                        f"simulated; define it with 'gate {opaque.group(1)} ... {{ ... }}'",
                        *_position(clean, opaque.start()), label)


def _version(clean: str, label: str | None) -> int:
    """2 or 3 from the ``OPENQASM`` header; 3 when there is none (only version 3 makes it optional)."""
    match = _HEADER.match(clean)
    if match is None:
        return 3
    major = int(match.group(1))
    if major not in (2, 3):
        raise QASMError(f"OpenQASM version {match.group(1)}{'.' + match.group(2) if match.group(2) else ''} "
                        f"is not supported (tqsim reads 2.0 and 3)", *_position(clean, match.start(1)), label)
    return major


# ------------------------------------------------------------------ OpenQASM 2


def _read_qasm2(text: str, clean: str, label: str | None, folder: Path | None) -> Circuit:
    """OpenQASM 2.0 through ``qiskit.qasm2.loads`` and ``from_qiskit``; every error gets its line."""
    qasm2 = require("qiskit.qasm2", "qasm", "Reading OpenQASM 2")
    paths = (str(folder),) if folder else ()
    overrides = _verified_definitions(qasm2, text, clean, paths)

    def convert(program: str) -> Circuit:
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
    if not any(_is_program_gate(inst.operation) for inst in qc.data):
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


def _is_program_gate(op) -> bool:
    if op.name == "if_else":
        return any(_is_program_gate(inst.operation) for block in op.blocks for inst in block.data)
    return (type(op).__module__ or "").startswith("qiskit.qasm2") and op.definition is not None


_DEFINITION = re.compile(r"\bgate\s+([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*([^{]*)\{")


def _verified_definitions(qasm2, text: str, clean: str, paths: tuple) -> list:
    """Qiskit ``CustomInstruction``s for program-defined gates that are a standard gate under its name.

    Each candidate definition (``gate rzx(p) a, b {...}``, ``gate mcx_7 ...``)
    is applied at two random angle sets in a small program of its own and
    compared with Qiskit's gate (OpenQASM 2 has no ``ctrl @``, so equality up
    to a global phase is all that matters). A definition that differs is kept.
    """
    overrides = []
    for match in _DEFINITION.finditer(clean):
        name, params, qubits = match.group(1), _split(match.group(2)), _split(match.group(3))
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


def _split(items: str | None) -> list[str]:
    return [s.strip() for s in (items or "").split(",") if s.strip()]


def _standard_base(name: str, known) -> str | None:
    """``name``, or ``name`` without a ``_123`` suffix (Qiskit's exporter adds one), when ``known`` has it."""
    if name in known:
        return name
    base = re.sub(r"_\d+$", "", name)
    return base if base != name and base in known else None


def _qiskit_standard(name: str, num_params: int, num_qubits: int):
    """Constructor ``*angles -> Qiskit gate`` of the standard gate ``name`` of that shape, or None."""
    from qiskit.circuit import library

    base = _standard_base(name, set(names.QISKIT) | {"mcx", "mcphase"})
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
    return _position(clean, start)[0], statement[:80]


def _fails(convert, program: str, error: BaseException) -> bool:
    try:
        convert(program)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return type(exc) is type(error) and str(exc) == str(error)
    return False


# ------------------------------------------------------------------ OpenQASM 3

#: constants an OpenQASM 3 expression may name
_CONSTANTS = {"pi": math.pi, "π": math.pi, "tau": math.tau, "τ": math.tau, "euler": math.e, "ℇ": math.e}
_FUNCTIONS = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "exp": math.exp, "ln": math.log,
              "sqrt": math.sqrt, "arcsin": math.asin, "arccos": math.acos, "arctan": math.atan}
_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
           "**": operator.pow, "%": operator.mod}
#: OpenQASM 3 statements tqsim refuses, by AST class name
_REFUSED = {
    "ForInLoop": "a for loop", "WhileLoop": "a while loop", "SubroutineDefinition": "a def subroutine",
    "SwitchStatement": "a switch statement", "Box": "a box block", "DelayInstruction": "delay",
    "ExternDeclaration": "an extern declaration", "IODeclaration": "an input/output declaration",
    "ClassicalAssignment": "classical assignment", "AliasStatement": "a let alias",
    "ExpressionStatement": "an expression statement (a subroutine call or classical arithmetic)",
    "CalibrationDefinition": "defcal", "CalibrationStatement": "a cal block",
    "CalibrationGrammarDeclaration": "defcalgrammar", "BreakStatement": "break",
    "ContinueStatement": "continue", "EndStatement": "end", "ReturnStatement": "return",
}
_SUPPORTED = "tqsim reads gates, gate definitions, measure, reset, barrier and if on bits"
#: gates usable without a definition: stdgates.inc, qelib1.inc, and the names Qiskit's exporter writes
_BUILTINS = names.QELIB1 | names.STDGATES | names.EXTRA | names.QISKIT


def _parse3(text: str, label: str | None):
    """``openqasm3.parse``, with the line and column of a syntax error (its own error has none)."""
    require("openqasm3", "qasm", "Reading OpenQASM 3")
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from openqasm3._antlr.qasm3Lexer import qasm3Lexer
    from openqasm3._antlr.qasm3Parser import qasm3Parser
    from openqasm3.parser import QASM3ParsingError, QASMNodeVisitor

    class Raise(ErrorListener):
        def syntaxError(self, recognizer, offending, line, column, msg, exc):
            raise QASMError(f"syntax error: {msg}", line, column + 1, label) from None

    lexer = qasm3Lexer(InputStream(text))
    parser = qasm3Parser(CommonTokenStream(lexer))
    for part in (lexer, parser):
        part.removeErrorListeners()
        part.addErrorListener(Raise())
    tree = parser.program()
    try:
        return QASMNodeVisitor().visitProgram(tree)
    except QASM3ParsingError as exc:  # "L3:C4: message"
        match = re.match(r"L(\d+):C(\d+): (.*)", str(exc), re.S)
        if match is None:
            raise QASMError(str(exc) or "the OpenQASM 3 parser refused the program", None, None, label) from None
        raise QASMError(match.group(3), int(match.group(1)), int(match.group(2)) + 1, label) from None


class _Phase:
    """A global phase ``e^{i angle}`` met while expanding a gate: dropped at the top, a phase under ``ctrl``."""

    __slots__ = ("angle",)

    def __init__(self, angle: float):
        self.angle = angle


class _Definition:
    """A ``gate`` statement: parameter and qubit names, body, and the native gate it equals (if any)."""

    def __init__(self, params: list[str], qubits: list[str], body: list):
        self.params, self.qubits, self.body = params, qubits, body
        self.native = None  # a tqsim builder (*angles, *qubits) -> Gate equal to the body times e^{-i phase}
        self.phase = 0.0


class _EvalError(QASMError):
    """An expression that cannot be evaluated at these values (division by zero, sqrt(-1))."""


class _Reader3:
    """Reads an OpenQASM 3 syntax tree into operations, then builds the circuit."""

    def __init__(self, label: str | None, folder: Path | None):
        self.label, self.folder = label, folder
        self.qregs: dict[str, list[int]] = {}
        self.cregs: dict[str, list[int]] = {}
        self.scalars: set[str] = set()  # registers declared without a size (``qubit a;``, ``bit b;``)
        self.num_qubits = 0
        self.num_clbits = 0
        self.gates: dict[str, _Definition] = {}
        self.consts: dict[str, float] = {}
        self.ops: list = []  # (operation, {bit: value} condition, statement)
        self.condition: dict[int, int] | None = {}  # None inside a branch that can never run
        self.in_if = False
        self.written: set[int] = set()  # bits measured inside the current if statement

    # ------------------------------------------------------------- driving
    def read(self, text: str) -> Circuit:
        program = _parse3(text, self.label)
        if program.version is not None and not program.version.startswith("3"):
            raise QASMError(f"OpenQASM version {program.version} is not supported here", 1, None, self.label)
        for statement in program.statements:
            self.statement(statement)
        return self.circuit()

    def error(self, message: str, node, kind=QASMError) -> QASMError:
        span = getattr(node, "span", None)
        if span is None:
            return kind(message, None, None, self.label)
        return kind(message, span.start_line, span.start_column + 1, self.label)

    def statement(self, node) -> None:
        kind = type(node).__name__
        handler = getattr(self, "_" + kind, None)
        if kind in _REFUSED:
            raise self.error(f"{_REFUSED[kind]} is not supported: {_SUPPORTED}", node)
        if handler is None and kind != "Pragma":
            raise self.error(f"a {kind} statement is not supported: {_SUPPORTED}", node)
        try:
            if handler is not None:
                handler(node)
        except QASMError:
            raise
        except (ValueError, TypeError, IndexError) as exc:  # a gate builder refusing an angle, say
            raise self.error(str(exc), node) from exc

    def circuit(self) -> Circuit:
        """The circuit of the operations read; errors the circuit raises get the statement's line."""
        if not self.num_qubits:
            raise QASMError("the program declares no qubits", None, None, self.label)
        circuit = Circuit(self.num_qubits, self.num_clbits)
        circuit.qregs = {name: tuple(ix) for name, ix in self.qregs.items()}
        circuit.cregs = {name: tuple(ix) for name, ix in self.cregs.items()}
        for op, condition, node in self.ops:
            try:
                if condition:
                    bits = list(condition)
                    op = Conditioned(op, bits, sum(condition[b] << j for j, b in enumerate(bits)))
                circuit.append(op)
            except (ValueError, TypeError, IndexError) as exc:
                raise self.error(str(exc), node) from exc
        return circuit

    def emit(self, op, node) -> None:
        """Queue ``op`` under the enclosing ``if`` conditions."""
        if self.condition is None:
            return
        if isinstance(op, Barrier):  # a barrier changes nothing, so it needs no condition
            self.ops.append((op, {}, node))
            return
        if self.condition and self.written & set(self.condition):
            bits = sorted(self.written & set(self.condition))
            raise self.error(f"this operation follows a measurement into bit(s) {bits} that the enclosing if "
                             f"reads; tqsim checks the condition before each operation, so the program would "
                             f"run differently", node)
        self.ops.append((op, dict(self.condition), node))
        if self.condition and isinstance(op, Measure):
            self.written.add(op.bit)

    # -------------------------------------------------------- declarations
    def _Include(self, node) -> None:
        if node.filename in ("stdgates.inc", "qelib1.inc"):
            return  # their gates are built in
        path = (self.folder or Path.cwd()) / node.filename
        if not path.is_file():
            raise self.error(f"include file {node.filename!r} not found (looked in {str(path.parent)!r})", node)
        outer = self.label
        self.label = str(path)
        try:
            for statement in _parse3(path.read_text(encoding="utf-8"), self.label).statements:
                self.statement(statement)
        finally:
            self.label = outer

    def _QubitDeclaration(self, node) -> None:
        name = self.new_name(node.qubit.name, node)
        size = self.size(node.size, node)
        self.qregs[name] = list(range(self.num_qubits, self.num_qubits + size))
        self.num_qubits += size
        if node.size is None:
            self.scalars.add(name)

    def _ClassicalDeclaration(self, node) -> None:
        name = node.identifier.name
        if type(node.type).__name__ != "BitType":
            raise self.error(f"classical variable {name!r} of type {type(node.type).__name__[:-4].lower()}: "
                             f"classical variables and arithmetic are not supported ({_SUPPORTED})", node)
        self.new_name(name, node)
        size = self.size(node.type.size, node)
        self.cregs[name] = list(range(self.num_clbits, self.num_clbits + size))
        self.num_clbits += size
        if node.type.size is None:
            self.scalars.add(name)
        init = node.init_expression
        if type(init).__name__ == "QuantumMeasurement":
            self.measure(init.qubit, (list(self.cregs[name]), name not in self.scalars), node)
        elif init is not None and getattr(init, "value", None) != 0:
            raise self.error(f"bit {name!r} is initialised to a value other than 0; classical assignment is "
                             f"not supported (bits start at 0)", node)

    def _ConstantDeclaration(self, node) -> None:
        name = self.new_name(node.identifier.name, node)
        self.consts[name] = self.value(node.init_expression, {}, node)

    def new_name(self, name: str, node) -> str:
        if name in self.qregs or name in self.cregs or name in self.consts:
            raise self.error(f"{name!r} is already declared", node)
        return name

    def size(self, expr, node) -> int:
        if expr is None:
            return 1
        size = self.value(expr, {}, node)
        if isinstance(size, bool) or not float(size).is_integer() or size < 1:
            raise self.error(f"register size must be a positive integer, got {size!r}", node)
        return int(size)

    def _QuantumGateDefinition(self, node) -> None:
        name = node.name.name
        params, qubits = [a.name for a in node.arguments], [q.name for q in node.qubits]
        for kind, items in (("parameter", params), ("qubit", qubits)):
            if len(set(items)) != len(items):
                raise self.error(f"gate {name!r} repeats a {kind} name in {items}", node)
        if name in self.gates:
            raise self.error(f"gate {name!r} is already defined", node)
        definition = _Definition(params, qubits, node.body)
        self.check_definition(name, definition)
        self.gates[name] = definition

    def check_definition(self, name: str, definition: _Definition) -> None:
        """Expand the body once (errors point at its lines) and find the native gate it equals, if any."""
        rng = random.Random(20240611)
        k = len(definition.qubits)
        samples = [[rng.uniform(0.2, 2.8) for _ in definition.params] for _ in range(2)]
        try:
            expansions = [self.body(definition, values, list(range(k))) for values in samples]
        except _EvalError:
            return  # fine at the program's own angles, perhaps; checked again at each call
        builder = self.native_builder(name, len(definition.params), k)
        if builder is None or k > 10:
            return
        phases = []
        for values, items in zip(samples, expansions):
            mine = _matrix(items, k)
            native = builder(*values, *range(k)).matrix(torch.complex128).numpy()
            phase = np.angle(np.vdot(native, mine))  # mine = e^{i phase} native when they agree
            if not np.allclose(mine, np.exp(1j * phase) * native, atol=1e-9):
                return
            phases.append(phase)
        if abs(np.exp(1j * phases[0]) - np.exp(1j * phases[1])) < 1e-9:
            definition.native, definition.phase = builder, float(phases[0])

    def native_builder(self, name: str, num_params: int, num_qubits: int):
        """The tqsim builder ``(*angles, *qubits) -> Gate`` of the standard gate ``name`` of that shape."""
        base = _standard_base(name, set(_BUILTINS) | {"mcx", "mcphase"})
        if base == "mcx" and num_params == 0 and num_qubits >= 2:
            return lambda *qs: gates.mcx(list(qs[:-1]), qs[-1])
        if base == "mcphase" and num_params == 1 and num_qubits >= 2:
            return lambda lam, *qs: gates.mcphase(lam, list(qs[:-1]), qs[-1])
        std = _BUILTINS.get(base)
        if std is None or (std.num_params, std.num_qubits) != (num_params, num_qubits) or std.builder == "i":
            return None
        return gates.BUILDERS[std.builder]

    # ---------------------------------------------------------- operations
    def _QuantumGate(self, node) -> None:
        if node.duration is not None:
            raise self.error("gate durations are not supported", node)
        name = node.name.name
        args = [self.value(a, {}, node) for a in node.arguments]
        for qubits in self.broadcast([self.qubit_operand(q, node) for q in node.qubits], node):
            for item in self.expand(name, args, qubits, node.modifiers, node):
                if isinstance(item, Gate):
                    self.emit(item, node)

    def _QuantumPhase(self, node) -> None:
        angle = self.value(node.argument, {}, node)
        for qubits in self.broadcast([self.qubit_operand(q, node) for q in node.qubits], node):
            for item in self.expand("gphase", [angle], qubits, node.modifiers, node):
                if isinstance(item, Gate):
                    self.emit(item, node)

    def _QuantumMeasurementStatement(self, node) -> None:
        if node.target is None:
            raise self.error("measure without a target bit is not supported; write c[0] = measure q[0];", node)
        self.measure(node.measure.qubit, self.bit_operand(node.target, node), node)

    def measure(self, qubit_node, bits: tuple[list[int], bool], node) -> None:
        qubits = self.qubit_operand(qubit_node, node)
        if len(qubits[0]) != len(bits[0]):
            raise self.error(f"measure of {len(qubits[0])} qubit(s) into {len(bits[0])} bit(s); the sizes must "
                             f"match", node)
        for q, b in zip(qubits[0], bits[0]):
            self.emit(Measure(q, b), node)

    def _QuantumReset(self, node) -> None:
        for q in self.qubit_operand(node.qubits, node)[0]:
            self.emit(Reset(q), node)

    def _QuantumBarrier(self, node) -> None:
        qubits = [q for operand in node.qubits for q in self.qubit_operand(operand, node)[0]]
        qubits = list(dict.fromkeys(qubits)) or list(range(self.num_qubits))
        if qubits:
            self.emit(Barrier(qubits), node)

    def _BranchingStatement(self, node) -> None:
        condition = self.condition_of(node.condition, node)
        outer, outermost = self.condition, not self.in_if
        if outermost:
            self.written = set()
        branches = [(node.if_block, condition)]
        if node.else_block:
            if len(condition) != 1:
                raise self.error("else after a condition on several bits is not supported (its complement is "
                                 "not one value); compare single bits", node)
            (bit, value), = condition.items()
            branches.append((node.else_block, {bit: 1 - value}))
        self.in_if = True
        try:
            for block, cond in branches:
                self.condition = _merge(outer, cond)
                for statement in block:
                    if type(statement).__name__ not in ("QuantumGate", "QuantumPhase", "QuantumMeasurementStatement",
                                                        "QuantumReset", "QuantumBarrier", "BranchingStatement"):
                        raise self.error(f"{type(statement).__name__} inside an if block is not supported: "
                                         f"{_SUPPORTED}", statement)
                    self.statement(statement)
        finally:
            self.condition, self.in_if = outer, not outermost

    # ------------------------------------------------------ gate expansion
    def expand(self, name: str, args: list, qubits: list[int], modifiers, node) -> list:
        """Gates (and global phases) of ``modifiers @ name(args) qubits``; modifiers apply right to left."""
        if len(set(qubits)) != len(qubits):
            raise self.error(f"gate {name!r} is applied to the same qubit twice; its qubits must differ", node)
        if not modifiers:
            return self.plain(name, args, qubits, node)
        modifier, rest = modifiers[0], modifiers[1:]
        kind = modifier.modifier.name
        if kind == "inv":
            return [_inverse(item) for item in reversed(self.expand(name, args, qubits, rest, node))]
        count = 1 if modifier.argument is None else self.value(modifier.argument, {}, node)
        if isinstance(count, bool) or not float(count).is_integer():
            raise self.error(f"{kind}({count}) @ {name}: only integer {'powers' if kind == 'pow' else 'counts'} "
                             f"are supported", node, _EvalError)
        count = int(count)
        if kind == "pow":
            items = self.expand(name, args, qubits, rest, node)
            return (items if count >= 0 else [_inverse(i) for i in reversed(items)]) * abs(count)
        if count < 1 or count >= len(qubits) + (name == "gphase"):
            raise self.error(f"{kind}({count}) @ {name} needs {count} control qubit(s) before the gate's own, "
                             f"got {len(qubits)} qubit(s)", node)
        controls, targets = qubits[:count], qubits[count:]
        items = [_controlled(item, controls) for item in self.expand(name, args, targets, rest, node)]
        if kind == "negctrl":
            flips = [gates.x(c) for c in controls]
            items = flips + items + flips
        return items

    def plain(self, name: str, args: list, qubits: list[int], node) -> list:
        """Gates of ``name(args) qubits`` without modifiers: a program definition, or a built-in gate."""
        definition = self.gates.get(name)
        if definition is not None:
            self.check_shape(name, args, qubits, len(definition.params), len(definition.qubits), node)
            if definition.native is None:
                return self.body(definition, args, qubits)
            phase = [_Phase(definition.phase)] if definition.phase else []
            return [definition.native(*args, *qubits)] + phase
        if name == "gphase":
            self.check_shape(name, args, qubits, 1, 0, node)
            return [_Phase(args[0])]
        if name in ("mcx", "mcphase"):
            self.check_shape(name, args, qubits, int(name == "mcphase"), max(len(qubits), 2), node)
            return [self.native_builder(name, len(args), len(qubits))(*args, *qubits)]
        std = _BUILTINS.get(name)
        if std is None:
            raise self.error(f"unknown gate {name!r}: neither defined in the program nor a standard gate", node)
        self.check_shape(name, args, qubits, std.num_params, std.num_qubits, node)
        builder = gates.BUILDERS[std.builder]
        return [builder(*qubits) if std.builder == "i" else builder(*args, *qubits)]

    def check_shape(self, name, args, qubits, num_params: int, num_qubits: int, node) -> None:
        if len(args) != num_params:
            raise self.error(f"gate {name!r} takes {num_params} parameter(s), got {len(args)}", node)
        if len(qubits) != num_qubits:
            raise self.error(f"gate {name!r} acts on {num_qubits} qubit(s), got {len(qubits)}", node)

    def body(self, definition: _Definition, args: list, qubits: list[int]) -> list:
        """The gates of a definition's body with its parameters and qubits bound."""
        env = dict(zip(definition.params, args))
        wires = dict(zip(definition.qubits, qubits))
        items = []
        for statement in definition.body:
            kind = type(statement).__name__
            if kind == "QuantumBarrier":
                continue
            if kind not in ("QuantumGate", "QuantumPhase"):
                raise self.error(f"{kind} inside a gate definition is not supported (gate bodies hold gates)",
                                 statement)
            targets = [self.wire(q, wires, statement) for q in statement.qubits]
            if kind == "QuantumPhase":
                items += self.expand("gphase", [self.value(statement.argument, env, statement)], targets,
                                     statement.modifiers, statement)
            else:
                values = [self.value(a, env, statement) for a in statement.arguments]
                items += self.expand(statement.name.name, values, targets, statement.modifiers, statement)
        return items

    def wire(self, operand, wires: dict, node) -> int:
        name = getattr(operand, "name", None)
        if type(operand).__name__ != "Identifier" or name not in wires:
            raise self.error(f"a gate body may only name its own qubit arguments {list(wires)}", node)
        return wires[name]

    # ------------------------------------------------------------ operands
    def qubit_operand(self, operand, node) -> tuple[list[int], bool]:
        """(flat qubit indices, is_register) of ``q``, ``q[i]``, ``q[a:b]`` or ``q[{i, j}]``."""
        return self.select(operand, self.qregs, "qubit register", node)

    def bit_operand(self, operand, node) -> tuple[list[int], bool]:
        return self.select(operand, self.cregs, "bit register", node)

    def select(self, operand, registers: dict, what: str, node) -> tuple[list[int], bool]:
        kind = type(operand).__name__
        if kind == "Identifier":
            name, index = operand.name, None
        elif kind == "IndexedIdentifier":
            if len(operand.indices) != 1:
                raise self.error("multi-dimensional indexing is not supported", node)
            name, index = operand.name.name, operand.indices[0]
        elif kind == "IndexExpression" and type(operand.collection).__name__ == "Identifier":
            name, index = operand.collection.name, operand.index
        else:
            raise self.error(f"expected a {what} or one of its elements, got {kind}", node)
        register = registers.get(name)
        if register is None:
            declared = ", ".join(registers) or "none"
            raise self.error(f"{name!r} is not a declared {what} (declared so far: {declared})", node)
        if index is None:
            return list(register), name not in self.scalars
        if type(index).__name__ == "DiscreteSet":
            return [register[self.index(v, name, len(register), node)] for v in index.values], True
        if len(index) != 1:
            raise self.error("multi-dimensional indexing is not supported", node)
        index = index[0]
        if type(index).__name__ == "RangeDefinition":
            start = 0 if index.start is None else self.index(index.start, name, len(register), node)
            end = len(register) - 1 if index.end is None else self.index(index.end, name, len(register), node)
            step = 1 if index.step is None else int(self.value(index.step, {}, node))
            if step == 0:
                raise self.error("a range step cannot be 0", node)
            return [register[j] for j in range(start, end + (1 if step > 0 else -1), step)], True
        return [register[self.index(index, name, len(register), node)]], False

    def index(self, expr, name: str, size: int, node) -> int:
        value = self.value(expr, {}, node)
        if isinstance(value, bool) or not float(value).is_integer():
            raise self.error(f"index {value!r} into {name!r} is not an integer", node)
        value = int(value)
        if not -size <= value < size:
            raise self.error(f"index {value} is out of range for register {name!r} of size {size}", node)
        return value % size

    def broadcast(self, operands: list[tuple[list[int], bool]], node) -> list[list[int]]:
        """One qubit list per application: registers of equal size run in step, single qubits repeat."""
        sizes = {len(ix) for ix, is_register in operands if is_register}
        if len(sizes) > 1:
            raise self.error(f"registers of different sizes {sorted(sizes)} in one statement", node)
        count = sizes.pop() if sizes else 1
        return [[ix[j] if is_register else ix[0] for ix, is_register in operands] for j in range(count)]

    def condition_of(self, expr, node) -> dict[int, int]:
        """``{bit: value}`` of ``c[0]``, ``!c[0]``, ``c[0] == 1`` or ``c == 5`` (c[0] the least significant)."""
        kind = type(expr).__name__
        if kind == "UnaryExpression" and expr.op.name == "!":
            inner = self.condition_of(expr.expression, node)
            if len(inner) != 1:
                self._bad_condition(node)
            return {bit: 1 - value for bit, value in inner.items()}
        if kind == "BinaryExpression" and expr.op.name in ("==", "!="):
            lhs, rhs = expr.lhs, expr.rhs
            if type(lhs).__name__ not in ("Identifier", "IndexExpression"):
                lhs, rhs = rhs, lhs
            if type(lhs).__name__ not in ("Identifier", "IndexExpression"):
                self._bad_condition(node)
            bits, is_register = self.bit_operand(lhs, node)
            value = self.value(rhs, {}, node)
            if isinstance(value, bool):
                value = int(value)
            if not float(value).is_integer() or not 0 <= value < 1 << len(bits):
                raise self.error(f"condition value {value!r} does not fit in {len(bits)} bit(s)", node)
            value = int(value)
            if expr.op.name == "!=":
                if len(bits) != 1:
                    raise self.error("!= on a bit register is not supported (its complement is not one value)",
                                     node)
                value = 1 - value
            return {b: (value >> j) & 1 for j, b in enumerate(bits)}
        if kind in ("Identifier", "IndexExpression"):
            bits, _ = self.bit_operand(expr, node)
            if len(bits) == 1:
                return {bits[0]: 1}
        return self._bad_condition(node)

    def apply(self, function, args: tuple, text: str, node):
        """``function(*args)`` as a real number; ``text`` names it when it has none (sqrt(-1), 1/0)."""
        try:
            result = function(*args)
        except (ArithmeticError, ValueError) as exc:
            raise self.error(f"cannot evaluate {text}: {exc}", node, _EvalError) from None
        if isinstance(result, complex):
            raise self.error(f"{text} is not a real number", node, _EvalError)
        return result

    def _bad_condition(self, node):
        raise self.error("conditions must test a bit (c[0], !c[0], c[0] == 1) or compare a bit register with "
                         "an integer (c == 5)", node)

    # ---------------------------------------------------------- expressions
    def value(self, expr, env: dict, node):
        """The number an expression stands for; ``env`` binds a gate's parameters."""
        kind = type(expr).__name__
        if kind in ("IntegerLiteral", "FloatLiteral", "BooleanLiteral", "BitstringLiteral"):
            return expr.value
        if kind == "Identifier":
            for scope in (env, self.consts, _CONSTANTS):
                if expr.name in scope:
                    return scope[expr.name]
            raise self.error(f"{expr.name!r} is not a gate parameter or a constant here", node)
        if kind == "UnaryExpression" and expr.op.name == "-":
            return -self.value(expr.expression, env, node)
        if kind == "BinaryExpression" and expr.op.name in _BINARY:
            lhs, rhs = self.value(expr.lhs, env, node), self.value(expr.rhs, env, node)
            return self.apply(_BINARY[expr.op.name], (lhs, rhs), f"{lhs!r} {expr.op.name} {rhs!r}", node)
        if kind == "FunctionCall" and expr.name.name in _FUNCTIONS and len(expr.arguments) == 1:
            arg = self.value(expr.arguments[0], env, node)
            return self.apply(_FUNCTIONS[expr.name.name], (arg,), f"{expr.name.name}({arg!r})", node)
        raise self.error(f"unsupported expression ({kind}); gate arguments use numbers, pi, tau, euler, "
                         f"+ - * / % **, and sin cos tan exp ln sqrt arcsin arccos arctan", node)


def _merge(outer: dict | None, inner: dict) -> dict | None:
    """Both conditions at once, or None when they contradict (the branch never runs)."""
    if outer is None:
        return None
    merged = dict(outer)
    for bit, value in inner.items():
        if merged.setdefault(bit, value) != value:
            return None
    return merged


def _inverse(item):
    return _Phase(-item.angle) if isinstance(item, _Phase) else item.inverse()


def _controlled(item, controls: list[int]) -> Gate:
    """``item`` (a gate or a global phase) applied when every qubit of ``controls`` is 1."""
    if isinstance(item, _Phase):
        *rest, last = controls
        return gates.mcphase(item.angle, rest, last) if rest else gates.p(item.angle, last)
    qubits = list(item.qubits)
    if item.name in ("x", "cx", "ccx", "mcx", "c3x", "c4x"):
        return _mcx(controls + qubits[:-1], qubits[-1])
    if item.name in ("p", "phase", "u1", "cp", "cphase", "cu1", "mcphase"):
        controls = controls + qubits[:-1]
        if len(controls) == 1:
            return gates.cp(item.params[0], controls[0], qubits[-1])
        return gates.mcphase(item.params[0], controls, qubits[-1])
    return gates.controlled(item.matrix(torch.complex128), controls, qubits)


def _mcx(controls: list[int], target: int) -> Gate:
    if len(controls) == 1:
        return gates.cx(controls[0], target)
    if len(controls) == 2:
        return gates.ccx(*controls, target)
    return gates.mcx(controls, target)


def _matrix(items: list, num_qubits: int) -> np.ndarray:
    """The big-endian matrix of expanded gates and phases on ``num_qubits`` qubits."""
    circuit = Circuit(num_qubits).extend([i for i in items if isinstance(i, Gate)])
    phase = sum(i.angle for i in items if isinstance(i, _Phase))
    return np.exp(1j * phase) * circuit.to_matrix(torch.complex128).numpy()


# ====================================================================== writing

#: tqsim gate names spelled otherwise in OpenQASM: name -> (version 2, version 3)
_SPELLING = {
    "i": ("id", "id"), "phase": ("u1", "p"), "p": ("u1", "p"), "cphase": ("cu1", "cp"), "cp": ("cu1", "cp"),
    "u": ("u3", "U"), "cu1": ("cu1", "cp"), "sxdg": ("sxdg", "inv @ sx"), "csx": ("csx", "ctrl @ sx"),
    "cu3": ("cu3", "ctrl @ u3"), "c3x": ("c3x", "ctrl(3) @ x"), "c4x": ("c4x", "ctrl(4) @ x"),
    "c3sqrtx": ("c3sqrtx", "ctrl(3) @ sx"),
}
_INCLUDED = {2: set(names.QELIB1) - {"U", "CX", "u0"}, 3: set(names.STDGATES) - {"CX", "phase", "cphase"}}

#: definitions of gates the include files lack: name -> (parameters, qubits, body). Bodies use gates
#: both include files have (or other definitions) and are exact, global phase included. Parameter and
#: qubit names sort in their order: Qiskit's OpenQASM 3 importer binds them alphabetically.
_DEFINITIONS = {
    "rzx": ("theta", "a, b", "h b; cx a, b; rz(theta) b; cx a, b; h b;"),
    "rzz": ("theta", "a, b", "cx a, b; rz(theta) b; cx a, b;"),
    "rxx": ("theta", "a, b", "h a; h b; cx a, b; rz(theta) b; cx a, b; h a; h b;"),
    "ryy": ("theta", "a, b", "rx(pi/2) a; rx(pi/2) b; cx a, b; rz(theta) b; cx a, b; rx(-pi/2) a; rx(-pi/2) b;"),
    "ecr": ("", "a, b", "rzx(pi/4) a, b; x a; rzx(-pi/4) a, b;"),
    "dcx": ("", "a, b", "cx a, b; cx b, a;"),
    "iswap": ("", "a, b", "s a; s b; h a; cx a, b; cx b, a; h b;"),
    # p0 = theta, p1 = beta
    "xx_plus_yy": ("p0, p1", "a, b", "rz(p1) a; rxx(p0/2) a, b; ryy(p0/2) a, b; rz(-p1) a;"),
    "xx_minus_yy": ("p0, p1", "a, b", "rz(-p1) b; rxx(p0/2) a, b; ryy(-p0/2) a, b; rz(p1) b;"),
    "rccx": ("", "a, b, c", "h c; t c; cx b, c; tdg c; cx a, c; t c; cx b, c; tdg c; h c;"),
    "rc3x": ("", "a, b, c, d", "h d; t d; cx c, d; tdg d; h d; cx a, d; t d; cx b, d; tdg d; cx a, d; t d; "
                               "cx b, d; tdg d; h d; t d; cx c, d; tdg d; h d;"),
    # used only to write inverses in version 2 (version 3 writes ctrl @ sx, ctrl(3) @ sx)
    "csx": ("", "a, b", "h b; cu1(pi/2) a, b; h b;"),
    "c3sqrtx": ("", "a, b, c, d", "h d; mcphase_3(pi/2) a, b, c, d; h d;"),
}

#: how each OpenQASM 2 gate of the bodies above inverts, for ``X†`` gates in version 2
_SELF_INVERSE = {"x", "y", "z", "h", "cx", "cy", "cz", "ch", "swap", "ccx", "cswap", "id", "c3x", "c4x", "ecr",
                 "rccx"}
_SWAPPED = {"s": "sdg", "sdg": "s", "t": "tdg", "tdg": "t", "sx": "sxdg", "sxdg": "sx"}
_NEGATED = {"rx", "ry", "rz", "u1", "p", "crx", "cry", "crz", "cu1", "cp", "rxx", "ryy", "rzz", "rzx"}


def to_qasm(circuit: Circuit, version: int = 2) -> str:
    """OpenQASM text of ``circuit``.

    Parameters
    ----------
    circuit : Circuit
    version : 2 or 3
        2 writes ``include "qelib1.inc";`` (Qiskit's, with ``sx``, ``swap``,
        ``rxx``...) and ``gate`` definitions for tqsim gates outside it; 3
        writes ``include "stdgates.inc";``, definitions, and modifiers
        (``ctrl(k) @ x`` for mcx, ``ctrl(k) @ p(lam)`` for mcphase).

    Returns
    -------
    str
        Angles are written with ``repr`` precision, so reading the text back
        reproduces the circuit's state to rounding. ``circuit.qregs`` and
        ``cregs`` name the registers when they list the indices in order.

    Raises
    ------
    ValueError
        For what OpenQASM cannot say: ``unitary``, ``controlled`` and
        ``diagonal`` matrix gates, channels, batched angles and angles that
        require grad, conditions on bits that form no register (version 2),
        and mcx/mcphase on more than 10 qubits in version 2.
    """
    if not isinstance(circuit, Circuit):
        raise TypeError(f"to_qasm expects a tqsim Circuit, got {type(circuit).__name__}")
    if isinstance(version, bool) or version not in (2, 3):
        raise ValueError(f"version must be 2 or 3, got {version!r}")
    return _Writer(circuit, int(version)).text()


class _Writer:
    """Builds the program text of one circuit in one OpenQASM version."""

    def __init__(self, circuit: Circuit, version: int):
        self.circuit, self.version = circuit, version
        self.definitions: dict[str, str] = {}  # name -> its gate statement, in the order needed
        self.qregs = _layout(circuit.qregs, circuit.num_qubits, "q")
        self.qubit = [f"{name}[{j}]" for name, ix in self.qregs for j in range(len(ix))]
        self.cregs = self.bit_layout()
        self.bit = {b: f"{name}[{j}]" for name, ix in self.cregs for j, b in enumerate(ix)}

    def text(self) -> str:
        body = [self.operation(op) for op in self.circuit.operations]
        if self.version == 2:
            head = ["OPENQASM 2.0;", 'include "qelib1.inc";']
            decls = [f"qreg {n}[{len(ix)}];" for n, ix in self.qregs]
            decls += [f"creg {n}[{len(ix)}];" for n, ix in self.cregs]
        else:
            head = ["OPENQASM 3.0;", 'include "stdgates.inc";']
            decls = [f"qubit[{len(ix)}] {n};" for n, ix in self.qregs]
            decls += [f"bit[{len(ix)}] {n};" for n, ix in self.cregs]
        return "\n".join(head + list(self.definitions.values()) + decls + body) + "\n"

    def bit_layout(self) -> list[tuple[str, tuple[int, ...]]]:
        """Classical registers; in version 2 every condition must read a whole register."""
        m = self.circuit.num_clbits
        if not m:
            return []
        conditions = {op.bits for op in self.circuit.operations if isinstance(op, Conditioned)}
        taken = {name for name, _ in self.qregs}
        prefix = "c" if "c" not in taken else "clbits"
        layouts = [_layout(self.circuit.cregs, m, prefix, taken), [(prefix, tuple(range(m)))],
                   [(f"{prefix}{b}", (b,)) for b in range(m)]]
        if self.version == 3:
            return layouts[0]
        for layout in layouts:
            if conditions <= {ix for _, ix in layout}:
                return layout
        bad = next(iter(sorted(conditions - {ix for _, ix in layouts[0]})))
        raise ValueError(f"to_qasm: a condition on bits {list(bad)} that form no classical register; OpenQASM 2 "
                         f"conditions compare a whole register: use version=3, or set circuit.cregs so that "
                         f"those bits form one register")

    # ---------------------------------------------------------- operations
    def operation(self, op) -> str:
        if isinstance(op, Conditioned):
            return self.conditioned(op)
        if isinstance(op, Measure):
            q, b = self.qubit[op.qubits[0]], self.bit[op.bit]
            return f"measure {q} -> {b};" if self.version == 2 else f"{b} = measure {q};"
        if isinstance(op, Reset):
            return f"reset {self.qubit[op.qubits[0]]};"
        if isinstance(op, Barrier):
            return f"barrier {', '.join(self.qubit[q] for q in op.qubits)};"
        if isinstance(op, Channel):
            raise ValueError(f"to_qasm: channel {op!r} has no OpenQASM form (OpenQASM describes gates, "
                             f"measurements and resets; noise is not part of the language)")
        return self.gate(op)

    def conditioned(self, op: Conditioned) -> str:
        inner = self.operation(op.operation)
        register = next((name for name, ix in self.cregs if ix == op.bits), None)
        if self.version == 2:
            return f"if ({register} == {op.value}) {inner}"
        if register is not None and len(op.bits) > 1:
            return f"if ({register} == {op.value}) {{ {inner} }}"
        for bit, value in reversed(list(zip(op.bits, op.wanted()))):
            inner = f"if ({'' if value else '!'}{self.bit[bit]}) {{ {inner} }}"
        return inner

    def gate(self, gate: Gate) -> str:
        base = gate.name.removesuffix("†")
        if base in ("unitary", "controlled", "diagonal"):
            raise ValueError(f"to_qasm: {gate!r} is a matrix gate; OpenQASM has no way to write a matrix, only "
                             f"named gates. Decompose it first (e.g. qiskit.transpile of to_qiskit(circuit) to a "
                             f"basis such as ['u', 'cx'])")
        if gate.batch_shape:
            raise ValueError(f"to_qasm: {gate!r} is batched ({tuple(gate.batch_shape)}); OpenQASM holds one "
                             f"circuit: export one circuit per batch entry")
        angles = [_number(p, gate) for p in gate.params]
        name, qubits = self.spell(base, gate, angles)
        if base != gate.name:
            name = self.inverse_of(name, len(angles), len(qubits))
        args = f"({', '.join(angles)})" if angles else ""
        return f"{name}{args} {', '.join(self.qubit[q] for q in qubits)};"

    def spell(self, base: str, gate: Gate, angles: list[str]) -> tuple[str, list[int]]:
        """The OpenQASM name of a tqsim gate (defining it when needed) and its qubits."""
        qubits, k = list(gate.qubits), len(gate.qubits) - 1
        if base == "mcx":
            if self.version == 3:
                return ("cx", "ccx")[k - 1] if k <= 2 else f"ctrl({k}) @ x", qubits
            return ("cx", "ccx", "c3x", "c4x")[k - 1] if k <= 4 else self.multi_controlled("mcx", k + 1), qubits
        if base == "mcphase":
            if self.version == 3:
                return "cp" if k == 1 else f"ctrl({k}) @ p", qubits
            return "cu1" if k == 1 else self.multi_controlled("mcphase", k + 1), qubits
        name = _SPELLING.get(base, (base, base))[self.version - 2]
        if "@" not in name and name not in _INCLUDED[self.version]:
            self.define(name)
        return name, qubits

    def define(self, name: str) -> str:
        """Add the definition of ``name`` (and of the gates its body uses) once; returns ``name``."""
        if name in self.definitions or name in _INCLUDED[self.version]:
            return name
        multi = re.fullmatch(r"(mcx|mcphase)_(\d+)", name)
        if multi:
            return self.multi_controlled(multi.group(1), int(multi.group(2)) + 1)
        if name not in _DEFINITIONS:
            raise ValueError(f"to_qasm: gate {name!r} has no OpenQASM {self.version} form")
        params, qubits, body = _DEFINITIONS[name]
        self.define_used(body)
        self.definitions[name] = _gate_statement(name, params, qubits, body)
        return name

    def define_used(self, body: str) -> None:
        for used in dict.fromkeys(re.findall(r"(?:^|;)\s*([a-z_0-9]+)", body)):
            self.define(used)

    def multi_controlled(self, kind: str, num_qubits: int) -> str:
        """Version 2 definition of mcphase (or mcx) on ``num_qubits`` qubits, from parities (exact)."""
        if num_qubits > 10:
            raise ValueError(f"to_qasm: {kind} on {num_qubits} qubits has no compact OpenQASM 2 form (its "
                             f"definition grows as 2**n); use version=3, which writes ctrl({num_qubits - 1}) @")
        name = f"{kind}_{num_qubits - 1}"
        if name not in self.definitions:
            wires = [f"q{j}" for j in range(num_qubits)]
            if kind == "mcx":
                phase = self.multi_controlled("mcphase", num_qubits)
                body = f"h {wires[-1]}; {phase}(pi) {', '.join(wires)}; h {wires[-1]};"
                self.definitions[name] = _gate_statement(name, "", ", ".join(wires), body)
            else:
                self.definitions[name] = _gate_statement(name, "lam", ", ".join(wires), _mcphase_body(wires))
        return name

    def inverse_of(self, name: str, num_params: int, num_qubits: int) -> str:
        """The name that writes the inverse of gate ``name``: ``inv @`` in version 3, a definition in 2."""
        if self.version == 3:
            return f"inv @ {name}"
        inverse = f"{name}_dg"
        if inverse not in self.definitions:
            if name not in self.definitions and name not in _DEFINITIONS:
                raise ValueError(f"to_qasm: the inverse of {name!r} has no OpenQASM 2 form here; use version=3 "
                                 f"(inv @ {name})")
            params, qubits, body = _DEFINITIONS[name] if name in _DEFINITIONS else _parse_definition(
                self.definitions[name])
            body = _invert_body(body)
            self.define_used(body)
            self.definitions[inverse] = _gate_statement(inverse, params, qubits, body)
        return inverse


_KEYWORDS = set("""OPENQASM include qreg creg gate opaque measure reset barrier if else qubit bit int uint float
    angle bool complex duration stretch array const let def return input output extern for in while break continue
    end switch case default box delay ctrl negctrl inv pow gphase durationof sizeof true false defcal defcalgrammar
    cal pi tau euler U CX""".split())


def _layout(named: dict, size: int, default: str, taken=()) -> list[tuple[str, tuple[int, ...]]]:
    """``named`` registers when they list 0..size-1 in order under usable names, else one register."""
    usable = re.compile(r"[a-z][A-Za-z0-9_]*$")
    if named and [b for ix in named.values() for b in ix] == list(range(size)) and all(
            usable.match(n) and n not in _BUILTINS and n not in _KEYWORDS and n not in taken for n in named):
        return [(n, tuple(ix)) for n, ix in named.items() if ix]
    return [(default, tuple(range(size)))] if size else []


def _number(p, gate: Gate) -> str:
    """``repr`` of an angle, with a decimal point (OpenQASM 2 reals need one before an exponent)."""
    if isinstance(p, torch.Tensor):
        if p.requires_grad:
            raise ValueError(f"to_qasm: an angle of {gate!r} is a tensor that requires grad; OpenQASM holds "
                             f"numbers, so export a circuit built from detached values (theta.detach())")
        if p.numel() != 1:
            raise ValueError(f"to_qasm: an angle of {gate!r} has shape {tuple(p.shape)}; OpenQASM holds numbers")
        p = p.item()
    value = float(p)
    if not math.isfinite(value):
        raise ValueError(f"to_qasm: angle {value} of {gate!r} is not finite")
    text = repr(value)
    if "e" in text and "." not in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def _gate_statement(name: str, params: str, qubits: str, body: str) -> str:
    head = f"gate {name}({params}) {qubits}" if params else f"gate {name} {qubits}"
    return f"{head} {{ {body} }}"


def _parse_definition(statement: str) -> tuple[str, str, str]:
    match = re.match(r"gate (\w+)(?:\((.*?)\))? (.*?) \{ (.*) \}$", statement)
    return match.group(2) or "", match.group(3), match.group(4)


def _mcphase_body(wires: list[str]) -> str:
    """Phase e^{i lam} on |1...1> from parities: prod(x) = 2^(1-n) sum over subsets S of (-1)^(|S|-1) xor_S(x)."""
    n = len(wires)
    statements = []
    for mask in range(1, 1 << n):
        subset = [wires[j] for j in range(n) if mask >> j & 1]
        *rest, last = subset
        sign = "" if len(subset) % 2 else "-"
        ladder = [f"cx {w}, {last};" for w in rest]
        statements += ladder + [f"u1({sign}lam/{1 << (n - 1)}) {last};"] + ladder[::-1]
    return " ".join(statements)


def _invert_body(body: str) -> str:
    """The body of the inverse gate: statements reversed, each inverted (version 2 gate names)."""
    out = []
    for statement in reversed([s.strip() for s in body.split(";") if s.strip()]):
        match = re.match(r"([a-z_0-9]+)(?:\((.*)\))?\s+(.*)$", statement)
        name, args, qubits = match.group(1), _split(match.group(2)), match.group(3)
        if name in _SWAPPED:
            name = _SWAPPED[name]
        elif name in _NEGATED or name.startswith("mcphase_"):
            args = [f"-({a})" for a in args]
        elif name in ("u3", "cu3"):
            args = [f"-({args[0]})", f"-({args[2]})", f"-({args[1]})"]
        elif name not in _SELF_INVERSE and not name.startswith("mcx_"):
            raise ValueError(f"to_qasm: cannot invert {name!r} in OpenQASM 2; use version=3")
        out.append(f"{name}({', '.join(args)}) {qubits};" if args else f"{name} {qubits};")
    return " ".join(out)
