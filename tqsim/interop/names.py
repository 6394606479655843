"""The standard gate names of OpenQASM (``qelib1.inc``, ``stdgates.inc``) and Qiskit, mapped to tqsim.

One table serves the OpenQASM reader and writer and the Qiskit converter.
Each entry gives the tqsim builder in :mod:`tqsim.gates` and the number of
angles and qubits it takes; builders take the angles first, then the qubits
in the order the name lists them (controls first), as OpenQASM does.
"""

from __future__ import annotations

from typing import NamedTuple


class StandardGate(NamedTuple):
    builder: str  #: name of the builder in tqsim.gates
    num_params: int
    num_qubits: int


def _g(builder: str, num_params: int, num_qubits: int) -> StandardGate:
    return StandardGate(builder, num_params, num_qubits)


#: OpenQASM 2 ``qelib1.inc`` as Qiskit writes it (the 2.0 paper's gates and the later additions)
QELIB1 = {
    "u3": _g("u3", 3, 1), "u2": _g("u2", 2, 1), "u1": _g("u1", 1, 1), "u": _g("u", 3, 1),
    "U": _g("u", 3, 1), "u0": _g("i", 1, 1), "id": _g("i", 0, 1), "p": _g("p", 1, 1),
    "x": _g("x", 0, 1), "y": _g("y", 0, 1), "z": _g("z", 0, 1), "h": _g("h", 0, 1),
    "s": _g("s", 0, 1), "sdg": _g("sdg", 0, 1), "t": _g("t", 0, 1), "tdg": _g("tdg", 0, 1),
    "sx": _g("sx", 0, 1), "sxdg": _g("sxdg", 0, 1),
    "rx": _g("rx", 1, 1), "ry": _g("ry", 1, 1), "rz": _g("rz", 1, 1),
    "cx": _g("cx", 0, 2), "CX": _g("cx", 0, 2), "cy": _g("cy", 0, 2), "cz": _g("cz", 0, 2),
    "ch": _g("ch", 0, 2), "csx": _g("csx", 0, 2), "swap": _g("swap", 0, 2),
    "crx": _g("crx", 1, 2), "cry": _g("cry", 1, 2), "crz": _g("crz", 1, 2),
    "cu1": _g("cu1", 1, 2), "cp": _g("cp", 1, 2), "cu3": _g("cu3", 3, 2), "cu": _g("cu", 4, 2),
    "rxx": _g("rxx", 1, 2), "rzz": _g("rzz", 1, 2),
    "ccx": _g("ccx", 0, 3), "cswap": _g("cswap", 0, 3), "rccx": _g("rccx", 0, 3),
    "rc3x": _g("rc3x", 0, 4), "c3x": _g("c3x", 0, 4), "c3sqrtx": _g("c3sqrtx", 0, 4),
    "c4x": _g("c4x", 0, 5),
}

#: OpenQASM 3 ``stdgates.inc`` (and the builtin ``U``)
STDGATES = {
    name: QELIB1[name]
    for name in ("p", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "cx", "cy",
                 "cz", "cp", "crx", "cry", "crz", "ch", "swap", "ccx", "cswap", "cu", "U", "u1", "u2", "u3")
}
STDGATES |= {"CX": QELIB1["cx"], "phase": _g("p", 1, 1), "cphase": _g("cp", 1, 2), "id": QELIB1["id"]}

#: gates outside both include files that tqsim writes with a ``gate`` definition when exporting
EXTRA = {
    "sxdg": QELIB1["sxdg"], "csx": QELIB1["csx"], "iswap": _g("iswap", 0, 2),
    "rxx": QELIB1["rxx"], "ryy": _g("ryy", 1, 2), "rzz": QELIB1["rzz"], "rzx": _g("rzx", 1, 2),
    "ecr": _g("ecr", 0, 2), "dcx": _g("dcx", 0, 2),
    "xx_plus_yy": _g("xx_plus_yy", 2, 2), "xx_minus_yy": _g("xx_minus_yy", 2, 2),
    "rccx": QELIB1["rccx"], "rc3x": QELIB1["rc3x"], "c3x": QELIB1["c3x"],
    "c3sqrtx": QELIB1["c3sqrtx"], "c4x": QELIB1["c4x"],
}

#: Qiskit's standard gate names (``qiskit.circuit.library.get_standard_gate_name_mapping``) that
#: have a tqsim builder of the same matrix. Qiskit spells RC3X ``rcccx`` and C3SX ``c3sx``; the
#: variable-width ``mcx`` (also C3X, C4X) and ``mcphase`` are matched by the converter itself.
QISKIT = {
    name: gate for name, gate in (QELIB1 | EXTRA).items()
    if name not in ("U", "CX", "u0", "rc3x", "c3x", "c3sqrtx", "c4x")
} | {"rcccx": EXTRA["rc3x"], "c3sx": EXTRA["c3sqrtx"]}
