"""Gates: a matrix bound to the qubits it acts on.

``tq.gates.rx(theta, 2)`` is the same object that ``Circuit.rx(theta, 2)``
appends. Angles are Python numbers or real torch tensors; a tensor of shape
``(batch,)`` makes a batch of gates, and gradients flow through the matrices.

Matrices are big-endian over the gate's qubits in the order given: for
``cx(c, t)`` the control is the most significant bit of the row index. Gates
whose matrix is diagonal (Z, S, T, RZ, phase, CZ, CPHASE, CRZ, RZZ) say so, and
states apply them as elementwise products.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import torch

from . import _checks

__all__ = [
    "Gate", "i", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg",
    "rx", "ry", "rz", "phase", "u3", "cx", "cy", "cz", "swap", "iswap",
    "cphase", "crx", "cry", "crz", "rxx", "ryy", "rzz", "ccx", "cswap",
    "unitary", "controlled", "diagonal", "BUILDERS", "stacking_key", "stacked_gate",
]

# build(params, dtype, device) -> diagonal (..., d) for diagonal gates, else matrix (..., d, d)
Builder = Callable[[tuple, torch.dtype, torch.device], torch.Tensor]


class Gate:
    """A unitary on specific qubits.

    Attributes
    ----------
    name : str
        Lower-case gate name, as in the builder that made it.
    qubits : tuple of int
        The qubits, in the order of the matrix's big-endian index.
    params : tuple
        Angles (floats or real tensors), empty for fixed gates.
    is_diagonal : bool
        True when the matrix is diagonal; states then multiply elementwise.
    """

    __slots__ = ("name", "qubits", "params", "is_diagonal", "batch_shape", "num_controls", "_build", "_inverse")

    def __init__(
        self,
        name: str,
        qubits: Sequence[int],
        params: tuple,
        build: Builder,
        is_diagonal: bool = False,
        inverse: Callable[["Gate"], "Gate"] | None = None,
        batch_shape: torch.Size | None = None,
        num_controls: int = 0,
    ):
        self.name = name
        self.qubits = _checks.qubit_list(qubits)
        self.params = params
        self.is_diagonal = is_diagonal
        if batch_shape is None:
            shapes = [p.shape for p in params if isinstance(p, torch.Tensor)]
            batch_shape = torch.broadcast_shapes(*shapes) if shapes else torch.Size()
        #: ``()`` or ``(batch,)``: the shape of a batch of gates
        self.batch_shape = batch_shape
        #: leading qubits that act as controls (for drawings)
        self.num_controls = num_controls
        self._build = build
        self._inverse = inverse

    @property
    def num_qubits(self) -> int:
        return len(self.qubits)

    def operator(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The diagonal (diagonal gates) or the matrix, without input checks.

        States call this on their hot path; users call :meth:`matrix`.
        """
        return self._build(self.params, dtype, device)

    def matrix(self, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
        """The ``(…, 2**k, 2**k)`` matrix, differentiable in the parameters."""
        dtype = _checks.complex_dtype(dtype)
        _checks.finite(self.params, f"{self.name} angle")
        op = self.operator(dtype, _checks.device(device))
        return torch.diag_embed(op) if self.is_diagonal else op.clone()

    def on(self, qubits: Sequence[int]) -> "Gate":
        """The same gate on other qubits (as many as it has)."""
        qubits = _checks.qubit_list(qubits)
        if len(qubits) != len(self.qubits):
            raise ValueError(f"{self!r} acts on {len(self.qubits)} qubit(s); got {len(qubits)}: {list(qubits)}")
        return Gate(self.name, qubits, self.params, self._build, self.is_diagonal, self._inverse,
                    self.batch_shape, self.num_controls)

    def inverse(self) -> "Gate":
        """The adjoint gate on the same qubits."""
        if self._inverse is not None:
            return self._inverse(self)
        build = self._build
        if self.is_diagonal:
            def adjoint(params, dtype, device):
                return build(params, dtype, device).conj()
        else:
            def adjoint(params, dtype, device):
                return build(params, dtype, device).mH
        name = self.name[:-1] if self.name.endswith("†") else self.name + "†"
        return Gate(name, self.qubits, self.params, adjoint, self.is_diagonal,
                    batch_shape=self.batch_shape, num_controls=self.num_controls)

    def label(self) -> str:
        """Short text such as ``RX(0.3)`` for circuit drawings."""
        base = self.name.rstrip("†")
        if base in ("unitary", "controlled", "diagonal"):
            return ("D" if base == "diagonal" else "U") + self.name[len(base):]
        if not self.params:
            return self.name.upper()
        return f"{self.name.upper()}({', '.join(_format_param(p) for p in self.params)})"

    def __repr__(self) -> str:
        return f"{self.label()} on {list(self.qubits)}"


def stacking_key(gate: Gate):
    """Gates with equal keys can be stacked into one batched gate (:func:`stacked_gate`).

    ``None`` for gates that cannot: batched gates and gates whose parameters
    are not scalar angles (a user matrix). Fixed gates are keyed by name, since
    their operator depends on nothing else.
    """
    if gate.batch_shape:
        return None
    if not gate.params:
        return ("fixed", gate.name, gate.is_diagonal) if gate.name in _FIXED else None
    if any(isinstance(p, torch.Tensor) and (p.ndim or p.is_complex()) for p in gate.params):
        return None
    return (gate._build, len(gate.params), gate.is_diagonal, gate.num_controls)


def stacked_gate(gates: Sequence[Gate], qubits: Sequence[int], device: torch.device) -> Gate:
    """One gate on ``qubits`` whose batch entry ``j`` acts as ``gates[j]``.

    The gates must share a :func:`stacking_key` (one gate of any kind is
    simply moved to ``qubits``). Building one batched operator
    replaces a dozen tiny kernels per gate. Angles are stacked in float64 on
    ``device``; the builder casts them to the state's precision after the
    gradient's path, as for single gates.
    """
    first = gates[0]
    if len(gates) == 1 or not first.params:
        return first.on(qubits)
    params = []
    for j in range(len(first.params)):
        values = [g.params[j] for g in gates]
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        if len(tensors) == len(values) and len({(v.dtype, v.device) for v in tensors}) == 1:
            params.append(torch.stack(tensors).to(device=device, dtype=torch.float64))
        elif tensors:  # floats as fills, not copies from the host (which a CUDA graph cannot record)
            params.append(torch.stack([
                v.to(device=device, dtype=torch.float64) if isinstance(v, torch.Tensor)
                else torch.full((), v, dtype=torch.float64, device=device) for v in values
            ]))
        else:
            params.append(torch.tensor(values, dtype=torch.float64).to(device))
    return Gate(first.name, qubits, tuple(params), first._build, first.is_diagonal, num_controls=first.num_controls)


def _format_param(p) -> str:
    if isinstance(p, torch.Tensor):
        if p.ndim == 0:
            return f"{p.item():.3g}"
        return f"[{p.shape[0]}]"
    return f"{p:.3g}"


# ---------------------------------------------------------------- parameters


def _angle(value, name: str):
    """A finite float, or a real tensor of shape () or (batch,) (checked when run)."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise TypeError(f"{name} must be real, got a complex tensor")
        if value.ndim > 1:
            raise ValueError(f"{name} must be a scalar or a 1-D batch, got shape {tuple(value.shape)}")
        return value if value.is_floating_point() else value.double()
    if isinstance(value, np.ndarray) and value.ndim <= 1 and np.isrealobj(value):
        return _angle(torch.as_tensor(value, dtype=torch.float64), name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number or tensor, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _real(p, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    real = _checks.real_dtype(dtype)
    if isinstance(p, torch.Tensor):
        return p.to(device=device, dtype=real)
    return torch.tensor(p, dtype=real, device=device)


# ---------------------------------------------------------------- fixed gates

_S2 = 1 / math.sqrt(2)
_FIXED = {
    "i": ([1, 1], True),
    "x": ([[0, 1], [1, 0]], False),
    "y": ([[0, -1j], [1j, 0]], False),
    "z": ([1, -1], True),
    "h": ([[_S2, _S2], [_S2, -_S2]], False),
    "s": ([1, 1j], True),
    "sdg": ([1, -1j], True),
    "t": ([1, np.exp(1j * math.pi / 4)], True),
    "tdg": ([1, np.exp(-1j * math.pi / 4)], True),
    "sx": ([[0.5 + 0.5j, 0.5 - 0.5j], [0.5 - 0.5j, 0.5 + 0.5j]], False),
    "sxdg": ([[0.5 - 0.5j, 0.5 + 0.5j], [0.5 + 0.5j, 0.5 - 0.5j]], False),
    "cx": ([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], False),
    "cy": ([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, -1j], [0, 0, 1j, 0]], False),
    "cz": ([1, 1, 1, -1], True),
    "swap": ([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], False),
    "iswap": ([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]], False),
    "ccx": (np.eye(8)[[0, 1, 2, 3, 4, 5, 7, 6]], False),
    "cswap": (np.eye(8)[[0, 1, 2, 3, 4, 6, 5, 7]], False),
}
_CONTROLS = {"cx": 1, "cy": 1, "cz": 1, "ccx": 2, "cswap": 1}
_ADJOINT_NAME = {"s": "sdg", "sdg": "s", "t": "tdg", "tdg": "t", "sx": "sxdg", "sxdg": "sx"}


@lru_cache(maxsize=None)
def _fixed_operator(name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.tensor(np.asarray(_FIXED[name][0]), dtype=dtype, device=device)


def _fixed(name: str, qubits) -> Gate:
    def build(params, dtype, device):
        return _fixed_operator(name, dtype, device)

    adjoint = _ADJOINT_NAME.get(name)
    if adjoint is None and name != "iswap":  # the rest are Hermitian
        inverse = lambda gate: gate  # noqa: E731
    elif adjoint is not None:
        inverse = lambda gate: _fixed(adjoint, gate.qubits)  # noqa: E731
    else:
        inverse = None
    return Gate(name, qubits, (), build, _FIXED[name][1], inverse, num_controls=_CONTROLS.get(name, 0))


def i(qubit: int) -> Gate:
    """Identity."""
    return _fixed("i", [qubit])


def x(qubit: int) -> Gate:
    """Pauli X (NOT)."""
    return _fixed("x", [qubit])


def y(qubit: int) -> Gate:
    """Pauli Y."""
    return _fixed("y", [qubit])


def z(qubit: int) -> Gate:
    """Pauli Z (diagonal)."""
    return _fixed("z", [qubit])


def h(qubit: int) -> Gate:
    """Hadamard."""
    return _fixed("h", [qubit])


def s(qubit: int) -> Gate:
    """S = diag(1, i)."""
    return _fixed("s", [qubit])


def sdg(qubit: int) -> Gate:
    """S^dagger = diag(1, -i)."""
    return _fixed("sdg", [qubit])


def t(qubit: int) -> Gate:
    """T = diag(1, exp(i pi/4))."""
    return _fixed("t", [qubit])


def tdg(qubit: int) -> Gate:
    """T^dagger."""
    return _fixed("tdg", [qubit])


def sx(qubit: int) -> Gate:
    """Square root of X."""
    return _fixed("sx", [qubit])


def sxdg(qubit: int) -> Gate:
    """Inverse square root of X."""
    return _fixed("sxdg", [qubit])


def cx(control: int, target: int) -> Gate:
    """Controlled NOT (CNOT)."""
    return _fixed("cx", [control, target])


def cy(control: int, target: int) -> Gate:
    """Controlled Y."""
    return _fixed("cy", [control, target])


def cz(control: int, target: int) -> Gate:
    """Controlled Z (diagonal, symmetric in its qubits)."""
    return _fixed("cz", [control, target])


def swap(qubit_a: int, qubit_b: int) -> Gate:
    """Exchange two qubits."""
    return _fixed("swap", [qubit_a, qubit_b])


def iswap(qubit_a: int, qubit_b: int) -> Gate:
    """iSWAP: swap with a phase i on |01> and |10>."""
    return _fixed("iswap", [qubit_a, qubit_b])


def ccx(control_a: int, control_b: int, target: int) -> Gate:
    """Toffoli."""
    return _fixed("ccx", [control_a, control_b, target])


def cswap(control: int, target_a: int, target_b: int) -> Gate:
    """Fredkin (controlled SWAP)."""
    return _fixed("cswap", [control, target_a, target_b])


# ---------------------------------------------------------- parametrized gates
#
# Each formula ``f(xp, *angles)`` is written once for both array libraries:
# NumPy builds the matrix when every angle is a plain float (a handful of
# microseconds, where a chain of tiny torch ops costs tens), and torch builds
# it when an angle is a tensor, so gradients and batches flow.


def _formula(fn) -> Builder:
    def build(params, dtype, device):
        if not any(isinstance(p, torch.Tensor) for p in params):
            return torch.as_tensor(fn(np, *params), dtype=dtype, device=device)
        return fn(torch, *(_real(p, dtype, device) for p in params)).to(dtype)

    return build


def _stack(xp, items):
    """Stack same-shape entries along a new last axis (scalars for NumPy)."""
    return np.array(items) if xp is np else torch.stack(items, -1)


def _rows(xp, rows):
    """Stack a nested list of same-shape entries into ``(..., len(rows), len(row))``."""
    return np.array(rows) if xp is np else torch.stack([torch.stack(row, -1) for row in rows], -2)


def _f_rx(xp, t):
    c, s_ = xp.cos(t / 2) + 0j, -1j * xp.sin(t / 2)
    return _rows(xp, [[c, s_], [s_, c]])


def _f_ry(xp, t):
    c, s_ = xp.cos(t / 2) + 0j, xp.sin(t / 2) + 0j
    return _rows(xp, [[c, -s_], [s_, c]])


def _f_rz(xp, t):
    return _stack(xp, [xp.exp(-0.5j * t), xp.exp(0.5j * t)])


def _f_phase(xp, lam):
    return _stack(xp, [xp.exp(0j * lam), xp.exp(1j * lam)])


def _f_u3(xp, theta, phi, lam):
    zero = 0j * (theta + phi + lam)  # broadcasts every entry to the batch shape
    c, s_ = xp.cos(theta / 2) + zero, xp.sin(theta / 2) + zero
    return _rows(xp, [[c, -xp.exp(1j * lam) * s_], [xp.exp(1j * phi) * s_, xp.exp(1j * (phi + lam)) * c]])


def _f_rxx(xp, t):
    c, s_ = xp.cos(t / 2) + 0j, -1j * xp.sin(t / 2)
    z0 = 0 * c
    return _rows(xp, [[c, z0, z0, s_], [z0, c, s_, z0], [z0, s_, c, z0], [s_, z0, z0, c]])


def _f_ryy(xp, t):
    c, s_ = xp.cos(t / 2) + 0j, 1j * xp.sin(t / 2)
    z0 = 0 * c
    return _rows(xp, [[c, z0, z0, s_], [z0, c, -s_, z0], [z0, -s_, c, z0], [s_, z0, z0, c]])


def _f_rzz(xp, t):
    minus, plus = xp.exp(-0.5j * t), xp.exp(0.5j * t)
    return _stack(xp, [minus, plus, plus, minus])


def _controlled_formula(single, is_diagonal: bool):
    """Formula of the singly controlled version of a 1-qubit formula."""
    def fn(xp, *angles):
        u = single(xp, *angles)
        if is_diagonal:
            one = 0 * u[..., 0] + 1
            return _stack(xp, [one, one, u[..., 0], u[..., 1]])
        z0 = 0 * u[..., 0, 0]
        one = z0 + 1
        return _rows(xp, [
            [one, z0, z0, z0],
            [z0, one, z0, z0],
            [z0, z0, u[..., 0, 0], u[..., 0, 1]],
            [z0, z0, u[..., 1, 0], u[..., 1, 1]],
        ])

    return fn


_BUILD = {
    "rx": _formula(_f_rx), "ry": _formula(_f_ry), "rz": _formula(_f_rz),
    "phase": _formula(_f_phase), "u3": _formula(_f_u3),
    "rxx": _formula(_f_rxx), "ryy": _formula(_f_ryy), "rzz": _formula(_f_rzz),
    "cphase": _formula(_controlled_formula(_f_phase, True)),
    "crx": _formula(_controlled_formula(_f_rx, False)),
    "cry": _formula(_controlled_formula(_f_ry, False)),
    "crz": _formula(_controlled_formula(_f_rz, True)),
}


def _rotation(name: str, qubits, angles: tuple, is_diagonal: bool = False, num_controls: int = 0) -> Gate:
    """A gate whose inverse negates every angle."""
    params = tuple(_angle(a, f"{name} angle") for a in angles)
    build = _BUILD[name]

    def inverse(gate: Gate) -> Gate:
        negated = tuple(-p for p in gate.params)
        return Gate(gate.name, gate.qubits, negated, build, is_diagonal, inverse, num_controls=num_controls)

    return Gate(name, qubits, params, build, is_diagonal, inverse, num_controls=num_controls)


def rx(theta, qubit: int) -> Gate:
    """RX(theta) = exp(-i theta X / 2)."""
    return _rotation("rx", [qubit], (theta,))


def ry(theta, qubit: int) -> Gate:
    """RY(theta) = exp(-i theta Y / 2)."""
    return _rotation("ry", [qubit], (theta,))


def rz(theta, qubit: int) -> Gate:
    """RZ(theta) = exp(-i theta Z / 2) = diag(e^{-i theta/2}, e^{i theta/2})."""
    return _rotation("rz", [qubit], (theta,), True)


def phase(lam, qubit: int) -> Gate:
    """Phase gate diag(1, e^{i lam})."""
    return _rotation("phase", [qubit], (lam,), True)


def u3(theta, phi, lam, qubit: int) -> Gate:
    """OpenQASM U3(theta, phi, lam) = RZ(phi) RY(theta) RZ(lam) up to a global phase."""
    params = tuple(_angle(v, f"u3 {n}") for v, n in ((theta, "theta"), (phi, "phi"), (lam, "lam")))

    def inverse(gate: Gate) -> Gate:
        th, ph, la = gate.params
        return Gate("u3", gate.qubits, (-th, -la, -ph), _BUILD["u3"], False, inverse)

    return Gate("u3", [qubit], params, _BUILD["u3"], False, inverse)


def cphase(lam, control: int, target: int) -> Gate:
    """Controlled phase diag(1, 1, 1, e^{i lam})."""
    return _rotation("cphase", [control, target], (lam,), True, num_controls=1)


def crx(theta, control: int, target: int) -> Gate:
    """Controlled RX."""
    return _rotation("crx", [control, target], (theta,), num_controls=1)


def cry(theta, control: int, target: int) -> Gate:
    """Controlled RY."""
    return _rotation("cry", [control, target], (theta,), num_controls=1)


def crz(theta, control: int, target: int) -> Gate:
    """Controlled RZ (diagonal)."""
    return _rotation("crz", [control, target], (theta,), True, num_controls=1)


def rxx(theta, qubit_a: int, qubit_b: int) -> Gate:
    """RXX(theta) = exp(-i theta X⊗X / 2)."""
    return _rotation("rxx", [qubit_a, qubit_b], (theta,))


def ryy(theta, qubit_a: int, qubit_b: int) -> Gate:
    """RYY(theta) = exp(-i theta Y⊗Y / 2)."""
    return _rotation("ryy", [qubit_a, qubit_b], (theta,))


def rzz(theta, qubit_a: int, qubit_b: int) -> Gate:
    """RZZ(theta) = exp(-i theta Z⊗Z / 2) (diagonal)."""
    return _rotation("rzz", [qubit_a, qubit_b], (theta,), True)


# ------------------------------------------------------------ matrix gates


def _as_unitary(matrix, num_qubits: int, what: str) -> torch.Tensor:
    """A complex tensor of shape (..., 2**k, 2**k), checked to be unitary."""
    if not isinstance(matrix, torch.Tensor):
        try:
            matrix = torch.as_tensor(np.asarray(matrix))
        except (TypeError, ValueError):
            raise TypeError(f"{what} must be a matrix (tensor, array or nested list), got {type(matrix).__name__}") from None
    if not (matrix.is_complex() or matrix.is_floating_point()):
        matrix = matrix.double()
    if not matrix.is_complex():
        matrix = matrix.to(torch.complex128 if matrix.dtype == torch.float64 else torch.complex64)
    d = 1 << num_qubits
    if matrix.ndim not in (2, 3) or matrix.shape[-2:] != (d, d):
        raise ValueError(
            f"{what} on {num_qubits} qubit(s) must have shape ({d}, {d}) or (batch, {d}, {d}), "
            f"got {tuple(matrix.shape)}"
        )
    values = matrix.detach()
    if not bool(torch.isfinite(torch.view_as_real(values)).all()):
        raise ValueError(f"{what} holds NaN or infinite entries")
    eye = torch.eye(d, dtype=values.dtype, device=values.device)
    error = (values @ values.mH - eye).abs().max().item()
    tol = _checks.tolerance(values.dtype)
    if error > tol:
        raise ValueError(
            f"{what} is not unitary: max |U U^dagger - I| = {error:.3g} exceeds {tol:.1e} "
            f"(the tolerance for {values.dtype})"
        )
    return matrix


def unitary(matrix, qubits: Sequence[int]) -> Gate:
    """An arbitrary unitary on ``qubits`` (big-endian in the order given).

    ``matrix`` may be a tensor, array or nested list of shape ``(2**k, 2**k)``,
    or ``(batch, 2**k, 2**k)``; it is checked to be unitary within
    ``sqrt(eps)`` of its dtype (1.5e-8 for complex128, 3.5e-4 for complex64).
    """
    qubits = _checks.qubit_list(qubits)
    if not qubits:
        raise ValueError("unitary needs at least one qubit")
    u = _as_unitary(matrix, len(qubits), "unitary matrix")

    def build(params, dtype, device):
        return params[0].to(device=device, dtype=dtype)

    return Gate("unitary", qubits, (u,), build, batch_shape=u.shape[:-2])


def _controlled_block(matrix: torch.Tensor, num_controls: int) -> torch.Tensor:
    """Identity with ``matrix`` in the bottom-right block (all controls set)."""
    d = matrix.shape[-1]
    size = d << num_controls
    full = torch.eye(size, dtype=matrix.dtype, device=matrix.device)
    full = full.expand(*matrix.shape[:-2], size, size).clone()
    full[..., size - d:, size - d:] = matrix
    return full


def controlled(matrix, controls: Sequence[int] | int, targets: Sequence[int] | int) -> Gate:
    """Apply ``matrix`` to ``targets`` when every control qubit is 1."""
    controls = _checks.qubit_list(controls, "controls")
    targets = _checks.qubit_list(targets, "targets")
    if not controls or not targets:
        raise ValueError(f"controlled needs at least one control and one target, got {controls} and {targets}")
    overlap = set(controls) & set(targets)
    if overlap:
        raise ValueError(f"qubits {sorted(overlap)} are both control and target")
    u = _as_unitary(matrix, len(targets), "controlled matrix")
    num_controls = len(controls)

    def build(params, dtype, device):
        return _controlled_block(params[0].to(device=device, dtype=dtype), num_controls)

    return Gate("controlled", controls + targets, (u,), build, batch_shape=u.shape[:-2], num_controls=num_controls)


def diagonal(values, qubits: Sequence[int]) -> Gate:
    """The diagonal unitary ``diag(values)`` on ``qubits`` (big-endian in the order given).

    ``values`` has shape ``(2**k,)`` or ``(batch, 2**k)`` with ``|value| = 1``
    (within ``sqrt(eps)``); a tensor keeps its gradient. A phase on the whole
    register, such as QAOA's ``exp(-i gamma C)``, is one elementwise product.
    """
    qubits = _checks.qubit_list(qubits)
    if not qubits:
        raise ValueError("diagonal needs at least one qubit")
    d = values if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    if not d.is_complex():
        d = d.to(torch.complex128 if d.dtype == torch.float64 else torch.complex64)
    size = 1 << len(qubits)
    if d.ndim not in (1, 2) or d.shape[-1] != size:
        raise ValueError(f"diagonal on {len(qubits)} qubit(s) needs shape ({size},) or (batch, {size}), got {tuple(d.shape)}")
    moduli = d.detach().abs()
    if not bool(torch.isfinite(moduli).all()):
        raise ValueError("diagonal values hold NaN or infinite entries")
    error = (moduli - 1).abs().max().item()
    if error > _checks.tolerance(d.dtype):
        raise ValueError(f"diagonal is not unitary: max ||value| - 1| = {error:.3g} exceeds {_checks.tolerance(d.dtype):.1e}")

    def build(params, dtype, device):
        return params[0].to(device=device, dtype=dtype)

    def inverse(gate: Gate) -> Gate:
        return diagonal(gate.params[0].conj(), gate.qubits)

    return Gate("diagonal", qubits, (d,), build, True, inverse, batch_shape=d.shape[:-1])


# names the Circuit builder methods mirror (the channels add theirs)
BUILDERS: dict[str, Callable[..., Gate]] = {
    f.__name__: f
    for f in (
        i, x, y, z, h, s, sdg, t, tdg, sx, sxdg, rx, ry, rz, phase, u3,
        cx, cy, cz, swap, iswap, cphase, crx, cry, crz, rxx, ryy, rzz,
        ccx, cswap, unitary, controlled, diagonal,
    )
}
