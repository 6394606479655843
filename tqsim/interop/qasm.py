"""OpenQASM 2 and 3 in and out: :func:`from_qasm`, :func:`load_qasm`, :func:`to_qasm`.

Two readers, chosen by the ``OPENQASM`` header:

- OpenQASM 2.0 goes through Qiskit's Rust parser (``qiskit.qasm2.loads``,
  about 4 us a gate, with line and column in its errors) and then
  :func:`tqsim.interop.qiskit.from_qiskit`. Gates the program defines are
  expanded into their bodies, except a definition that carries a standard
  name (``rzx``, ``ecr``, ``mcx_5``...) and is checked to be that gate: it
  becomes the native tqsim gate.
- OpenQASM 3 is parsed by the reference parser (``openqasm3.parse``, ANTLR)
  and its syntax tree is read by tqsim into a circuit, no Qiskit needed.

Registers map to flat indices in declaration order, kept in
``circuit.qregs`` / ``circuit.cregs``. Every error is a :class:`QASMError`
(a ValueError) that names the line and column; nothing is half-imported.

This module is the public face: it takes text or a path, blanks comments,
pastes OpenQASM 2 includes in, reads the version and refuses ``opaque``,
then hands over to :mod:`~tqsim.interop.qasm2` or :mod:`~tqsim.interop.qasm3`.
Writing is :mod:`~tqsim.interop.qasm_writer`; what they share (the error
type, positions, standard gate names) is :mod:`~tqsim.interop.qasm_common`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..circuit import Circuit
from .qasm2 import read_qasm2
from .qasm3 import read_qasm3
from .qasm_common import QASMError, position
from .qasm_writer import write_qasm

__all__ = ["QASMError", "from_qasm", "load_qasm", "to_qasm"]


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
        inlined = _inline_includes(text, clean, folder, label)
        if inlined is not text:  # files were pasted in (the same text comes back when none was)
            text, clean = inlined, _blank_comments(inlined)
        _refuse_opaque(clean, label)
        return read_qasm2(text, clean, label, folder)
    _refuse_opaque(clean, label)
    return read_qasm3(text, label, folder)


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
# Keywords are matched as ``opaque(?<!\wopaque)``, not ``\bopaque``: the same word boundary, checked
# behind the keyword, so that re looks for the keyword's letters (1 ms in a 4 MB file, not 70 ms).
_OPAQUE = re.compile(r"opaque(?<!\wopaque)\s+([A-Za-z_]\w*)")


def _blank_comments(text: str) -> str:
    """``text`` with comments replaced by spaces (newlines kept, so positions still match)."""
    def blank(match):
        s = match.group()
        return s if s.startswith('"') else re.sub(r"[^\n]", " ", s)

    return _STRING_OR_COMMENT.sub(blank, text)


_INCLUDE = re.compile(r'include(?<!\winclude)\s*"([^"]*)"\s*;')


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
                            if depth <= 20 else "includes nest more than 20 deep", *position(clean, match.start()),
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
                        *position(clean, opaque.start()), label)


def _version(clean: str, label: str | None) -> int:
    """2 or 3 from the ``OPENQASM`` header; 3 when there is none (only version 3 makes it optional)."""
    match = _HEADER.match(clean)
    if match is None:
        return 3
    major = int(match.group(1))
    if major not in (2, 3):
        raise QASMError(f"OpenQASM version {match.group(1)}{'.' + match.group(2) if match.group(2) else ''} "
                        f"is not supported (tqsim reads 2.0 and 3)", *position(clean, match.start(1)), label)
    return major


# ====================================================================== writing


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
    return write_qasm(circuit, version)
