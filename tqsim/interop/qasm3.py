"""The OpenQASM 3 reader: the reference parser's syntax tree, read into a circuit here.

``openqasm3`` (ANTLR) parses; its own errors have no line and column, so the
ANTLR error listener is replaced by one that raises :class:`QASMError` with
them. :class:`_Reader3` walks the tree: registers, gate definitions (matched
to native tqsim gates where they equal one), modifiers, ``if`` on bits and
constant expressions. No Qiskit is needed.
"""

from __future__ import annotations

import math
import operator
import random
import re
from pathlib import Path

import numpy as np
import torch

from .. import gates
from ..circuit import Circuit
from ..classical import Barrier, Conditioned, Measure, Reset
from ..gates import Gate
from .._optional import require
from .qasm_common import BUILTINS, QASMError, standard_base

__all__ = ["read_qasm3"]


def read_qasm3(text: str, label: str | None, folder: Path | None) -> Circuit:
    """The circuit of OpenQASM 3 ``text``; ``label`` names it in errors, ``folder`` holds its includes."""
    return _Reader3(label, folder).read(text)


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
        base = standard_base(name, set(BUILTINS) | {"mcx", "mcphase"})
        if base == "mcx" and num_params == 0 and num_qubits >= 2:
            return lambda *qs: gates.mcx(list(qs[:-1]), qs[-1])
        if base == "mcphase" and num_params == 1 and num_qubits >= 2:
            return lambda lam, *qs: gates.mcphase(lam, list(qs[:-1]), qs[-1])
        std = BUILTINS.get(base)
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
        std = BUILTINS.get(name)
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
