"""The OpenQASM 2 and 3 writer behind :func:`tqsim.interop.qasm.to_qasm`.

One :class:`_Writer` per circuit and version: it names registers, spells
each tqsim gate the way the version's include file does, and adds exact
``gate`` definitions (inverses and multi-controlled gates included) for the
gates the include file lacks.
"""

from __future__ import annotations

import math
import re

import torch

from ..channels import Channel
from ..circuit import Circuit
from ..classical import Barrier, Conditioned, Measure, Reset
from ..gates import Gate
from . import names
from .qasm_common import BUILTINS, split_commas

__all__ = ["write_qasm"]


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


def write_qasm(circuit: Circuit, version: int) -> str:
    """OpenQASM ``version`` text of ``circuit`` (see :func:`tqsim.interop.qasm.to_qasm`)."""
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
            usable.match(n) and n not in BUILTINS and n not in _KEYWORDS and n not in taken for n in named):
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
        name, args, qubits = match.group(1), split_commas(match.group(2)), match.group(3)
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
