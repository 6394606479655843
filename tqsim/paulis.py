"""Pauli strings and sums: building, parsing and arithmetic.

The observables every state kind evaluates. This module sits below
:mod:`tqsim.states` (the kinds parse observables and read their terms) and
imports nothing quantum; :mod:`tqsim.observables` re-exports its public names.
A sum's expectation on a state is the state's own ``pauli_expectation``.
"""

from __future__ import annotations

import numbers
import re
from typing import Iterable, Mapping

import torch

from . import _checks

__all__ = ["PauliString", "PauliSum", "as_observable", "pauli_factors"]

_LETTERS = "IXYZ"
_PAULI_MATRICES = {
    "I": [[1, 0], [0, 1]],
    "X": [[0, 1], [1, 0]],
    "Y": [[0, -1j], [1j, 0]],
    "Z": [[1, 0], [0, -1]],
}


def _coefficient(value, what: str = "coefficient"):
    if isinstance(value, torch.Tensor):
        if value.ndim != 0 or value.is_complex():
            raise ValueError(f"{what} must be a real scalar, got a tensor of shape {tuple(value.shape)}")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a real number (observables are Hermitian), got {value!r}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be finite, got {value}")
    return value


class PauliString:
    """``coefficient * P_{q1} P_{q2} ...`` with each P one of X, Y, Z.

    Parameters
    ----------
    paulis : mapping or str
        ``{qubit: letter}`` such as ``{0: "Z", 3: "X"}``, or text such as ``"Z0 X3"``.
    coefficient : float or 0-d real tensor
    """

    __slots__ = ("paulis", "coefficient", "_extent")

    def __init__(self, paulis: Mapping[int, str] | str = (), coefficient=1.0):
        if isinstance(paulis, str):
            terms = _parse(paulis)
            if len(terms) != 1:
                raise ValueError(f"{paulis!r} has {len(terms)} terms; use PauliSum.from_string")
            coeff, paulis = terms[0]
            coefficient = coeff * coefficient
        paulis = dict(paulis)
        checked = {}
        for q, letter in paulis.items():
            (q,) = _checks.qubit_list([q], "Pauli qubit")
            if not isinstance(letter, str) or letter.upper() not in ("I", "X", "Y", "Z"):
                raise ValueError(f"unknown Pauli letter {letter!r} on qubit {q}; allowed I, X, Y, Z")
            checked[q] = letter.upper()
        #: register size the string was written for (identity factors count)
        self._extent = max(checked, default=-1) + 1
        self.paulis = {q: p for q, p in sorted(checked.items()) if p != "I"}
        self.coefficient = _coefficient(coefficient)

    @classmethod
    def from_string(cls, text: str) -> "PauliString":
        """Parse one term such as ``"0.5 Z0 Z1"`` or ``"-X2*Y3"``."""
        return cls(text)

    @property
    def qubits(self) -> tuple[int, ...]:
        return tuple(self.paulis)

    @property
    def num_qubits(self) -> int:
        """Smallest register this string fits (largest qubit named + 1)."""
        return self._extent

    def _masks(self) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        """``(X and Y qubits, Y and Z qubits, number of Y)``: what a basis state sees of the string."""
        flips = tuple(q for q, p in self.paulis.items() if p in "XY")
        signs = tuple(q for q, p in self.paulis.items() if p in "YZ")
        return flips, signs, sum(p == "Y" for p in self.paulis.values())

    def matrix(self, num_qubits: int | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Dense ``2**n x 2**n`` matrix (Kronecker product), for small ``n``."""
        n = self.num_qubits if num_qubits is None else _checks.num_qubits(num_qubits)
        _checks.qubits_in_range(self.qubits, n, "Pauli qubit")
        if n > 14:
            raise ValueError(f"a dense Pauli matrix on {n} qubits is too large; keep n <= 14")
        dtype = _checks.complex_dtype(dtype)
        result = torch.ones(1, 1, dtype=dtype)
        for q in range(n):
            result = torch.kron(result, torch.tensor(_PAULI_MATRICES[self.paulis.get(q, "I")], dtype=dtype))
        return self.coefficient * result

    def expectation(self, state) -> torch.Tensor:
        return PauliSum([self]).expectation(state)

    # arithmetic
    def __mul__(self, scalar) -> "PauliString":
        if isinstance(scalar, (PauliString, PauliSum)):
            return NotImplemented
        scaled = PauliString(self.paulis, self.coefficient * _coefficient(scalar, "scalar"))
        scaled._extent = self._extent
        return scaled

    __rmul__ = __mul__

    def __neg__(self) -> "PauliString":
        return self * -1.0

    def __add__(self, other) -> "PauliSum":
        return PauliSum([self]) + other

    __radd__ = __add__

    def __sub__(self, other) -> "PauliSum":
        return PauliSum([self]) - other

    def __repr__(self) -> str:
        body = " ".join(f"{p}{q}" for q, p in self.paulis.items()) or "I"
        coeff = self.coefficient
        coeff = f"{coeff.item():.6g}" if isinstance(coeff, torch.Tensor) else f"{coeff:.6g}"
        return f"{coeff} {body}"


class PauliSum:
    """A real linear combination of Pauli strings (a Hermitian observable)."""

    __slots__ = ("terms",)

    def __init__(self, terms: Iterable[PauliString] = ()):
        terms = list(terms)
        for t in terms:
            if not isinstance(t, PauliString):
                raise TypeError(f"PauliSum terms must be PauliString, got {type(t).__name__}")
        self.terms = terms

    @classmethod
    def from_string(cls, text: str) -> "PauliSum":
        """Parse text such as ``"0.5 Z0 Z1 + X2 - 1e-3 Y0*Y1"``."""
        return cls([PauliString(paulis, coeff) for coeff, paulis in _parse(text)])

    @classmethod
    def from_terms(cls, terms: Iterable[tuple]) -> "PauliSum":
        """From ``(coefficient, paulis)`` pairs, paulis a mapping or text."""
        return cls([PauliString(paulis, coeff) for coeff, paulis in terms])

    @property
    def num_qubits(self) -> int:
        return max((t.num_qubits for t in self.terms), default=0)

    def matrix(self, num_qubits: int | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
        n = self.num_qubits if num_qubits is None else num_qubits
        dtype = _checks.complex_dtype(dtype)
        total = torch.zeros(1 << n, 1 << n, dtype=dtype)
        for t in self.terms:
            total = total + t.matrix(n, dtype)
        return total

    def expectation(self, state) -> torch.Tensor:
        """``<O>`` on a state of any kind: real, differentiable.

        Shape ``()`` for one state, ``(batch,)`` for a batch. The state's
        ``pauli_expectation`` (the state protocol,
        ``tqsim.states.base.QuantumState``) does the work.
        """
        for t in self.terms:
            if t.num_qubits > state.num_qubits:
                raise IndexError(
                    f"Pauli term {t!r} names qubit {t.num_qubits - 1}, out of range for "
                    f"{state.num_qubits} qubits (allowed 0..{state.num_qubits - 1})"
                )
        pauli_expectation = getattr(state, "pauli_expectation", None)  # every state kind has one
        if pauli_expectation is None:
            raise TypeError(f"cannot take an expectation on {type(state).__name__}")
        return pauli_expectation(self.terms)

    def __iter__(self):
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __add__(self, other) -> "PauliSum":
        other = as_observable(other) if isinstance(other, (PauliString, PauliSum, str)) else None
        if other is None:
            return NotImplemented
        return PauliSum(self.terms + other.terms)

    __radd__ = __add__

    def __sub__(self, other) -> "PauliSum":
        return self + (-1.0) * as_observable(other)

    def __mul__(self, scalar) -> "PauliSum":
        if isinstance(scalar, (PauliString, PauliSum)):
            return NotImplemented
        return PauliSum([t * scalar for t in self.terms])

    __rmul__ = __mul__

    def __neg__(self) -> "PauliSum":
        return self * -1.0

    def __repr__(self) -> str:
        return "PauliSum(" + " + ".join(repr(t) for t in self.terms) + ")"


def as_observable(obj) -> PauliSum:
    """A PauliSum from a PauliSum, a PauliString or text."""
    if isinstance(obj, PauliSum):
        return obj
    if isinstance(obj, PauliString):
        return PauliSum([obj])
    if isinstance(obj, str):
        return PauliSum.from_string(obj)
    raise TypeError(f"expected a PauliSum, PauliString or str, got {type(obj).__name__}")


def pauli_factors(terms: Iterable[PauliString], dtype: torch.dtype, device) -> list[tuple]:
    """Pauli terms as ``(coefficient, {qubit: 2 x 2 matrix})`` pairs, for kinds that contract locally.

    The four matrices are made once, in ``dtype`` on ``device``, and shared by
    every term.
    """
    paulis = {p: torch.tensor(m, dtype=dtype, device=device) for p, m in _PAULI_MATRICES.items()}
    return [(t.coefficient, {q: paulis[p] for q, p in t.paulis.items()}) for t in terms]


# --------------------------------------------------------------------- parsing

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<pauli>[A-Za-z]\d+|[Ii](?![A-Za-z\d]))"
    r"|(?P<op>[+\-*]))"
)


def _parse(text: str) -> list[tuple[float, dict[int, str]]]:
    """Split ``"0.5 Z0 Z1 + X2"`` into ``[(0.5, {0: 'Z', 1: 'Z'}), (1.0, {2: 'X'})]``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"empty Pauli expression {text!r}")
    terms: list[tuple[float, dict[int, str]]] = []
    sign, coeff, paulis, seen_any = 1.0, None, {}, False

    def finish(pos):
        if coeff is None and not paulis:
            raise ValueError(f"missing term before position {pos} in {text!r}")
        terms.append((sign * (1.0 if coeff is None else coeff), dict(paulis)))

    pos = 0
    text_end = len(text.rstrip())
    while pos < text_end:
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read {text[pos:].strip()!r} in Pauli expression {text!r}")
        pos = m.end()
        if m.group("op") in ("+", "-"):
            if seen_any:
                finish(pos)
                coeff, paulis = None, {}
                sign = 1.0
            sign *= -1.0 if m.group("op") == "-" else 1.0
            seen_any = False
        elif m.group("op") == "*":
            continue
        elif m.group("num") is not None:
            if coeff is not None or paulis:
                raise ValueError(f"unexpected number {m.group('num')!r} in {text!r}")
            coeff, seen_any = float(m.group("num")), True
        else:
            token = m.group("pauli")
            letter = token[0].upper()
            if letter not in _LETTERS:
                raise ValueError(f"unknown Pauli letter {token[0]!r} in {token!r}; allowed I, X, Y, Z")
            seen_any = True
            if len(token) == 1:
                continue
            q = int(token[1:])
            if q in paulis:
                raise ValueError(f"qubit {q} appears twice in one term of {text!r}")
            paulis[q] = letter
    if not seen_any:
        raise ValueError(f"Pauli expression {text!r} ends without a term")
    finish(pos)
    return terms
