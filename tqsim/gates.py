"""Gates: a matrix bound to the qubits it acts on.

``tq.gates.rx(theta, 2)`` is the same object that ``Circuit.rx(theta, 2)``
appends. Angles are Python numbers or real torch tensors; a tensor of shape
``(batch,)`` makes a batch of gates, and gradients flow through the matrices.

Matrices are big-endian over the gate's qubits in the order given: for
``cx(c, t)`` the control is the most significant bit of the row index. Gates
whose matrix is diagonal (Z, S, T, RZ, phase, CZ, CPHASE, CRZ, RZZ, CP, MCPHASE)
say so, and states apply them as elementwise products. Angles mean what they
mean in Qiskit's gate of the same name, whose qubit 0 is the first qubit
given here (the matrix stays big-endian).

Controlled gates: a gate made of controls plus an operator on its targets
(:func:`mcx`, :func:`mcphase`, :func:`controlled`, ...) also gives that target
operator alone (:meth:`Gate.target_operator`, ``Gate.is_controlled``), so a
state can apply it to the amplitudes whose controls are all 1 without ever
building the ``2**k x 2**k`` matrix (a 20-control X costs one pass over a
state, not a 2**21-square matrix).
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
    "rx", "ry", "rz", "phase", "u3", "u1", "u2", "u", "p", "cx", "cy", "cz", "swap", "iswap",
    "cphase", "crx", "cry", "crz", "cu1", "cp", "cu3", "cu", "ch", "csx",
    "rxx", "ryy", "rzz", "rzx", "ecr", "dcx", "xx_plus_yy", "xx_minus_yy",
    "ccx", "cswap", "rccx", "rc3x", "c3x", "c3sqrtx", "c4x", "mcx", "mcphase",
    "unitary", "controlled", "diagonal", "BUILDERS", "MATRIX_QUBIT_LIMIT", "stacking_key", "stacked_gate",
]

#: The most qubits a dense matrix is built for: :meth:`Gate.matrix` (as
#: ``Circuit.to_matrix``) builds at most a 2**12 x 2**12 matrix.
MATRIX_QUBIT_LIMIT = 12

# build(params, dtype, device) -> diagonal (..., d) for diagonal gates, else matrix (..., d, d)
Builder = Callable[[tuple, torch.dtype, torch.device], torch.Tensor]


_NO_BATCH = torch.Size()


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
    num_controls : int
        Leading qubits drawn as controls.
    is_controlled : bool
        True when the gate is "the ``num_controls`` leading qubits all 1, then
        :meth:`target_operator` on the rest": states may then apply it to the
        controlled subspace only, never building the full matrix.
    """

    __slots__ = ("name", "qubits", "params", "is_diagonal", "batch_shape", "num_controls", "_build", "_inverse",
                 "_target")

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
        target: Builder | None = None,
    ):
        self.name = name
        self.qubits = _checks.qubit_list(qubits)
        self.params = params
        self.is_diagonal = is_diagonal
        if batch_shape is None:
            batch_shape = _NO_BATCH
            if params:
                # floats first: isinstance against torch.Tensor costs as much as the rest of a float's check
                shapes = [p.shape for p in params if type(p) is not float and isinstance(p, torch.Tensor)]
                if shapes:  # one shape is its own broadcast (torch.broadcast_shapes costs 10 us)
                    batch_shape = shapes[0] if len(shapes) == 1 else torch.broadcast_shapes(*shapes)
        #: ``()`` or ``(batch,)``: the shape of a batch of gates
        self.batch_shape = batch_shape
        #: leading qubits that act as controls (for drawings)
        self.num_controls = num_controls
        self._build = build
        self._inverse = inverse
        # builds the operator on the targets (diagonal when is_diagonal) of a controlled gate
        self._target = target

    @property
    def num_qubits(self) -> int:
        return len(self.qubits)

    @property
    def is_controlled(self) -> bool:
        return self._target is not None

    @property
    def controls(self) -> tuple[int, ...]:
        """The leading ``num_controls`` qubits."""
        return self.qubits[: self.num_controls]

    @property
    def targets(self) -> tuple[int, ...]:
        """The qubits after the controls."""
        return self.qubits[self.num_controls:]

    def operator(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The diagonal (diagonal gates) or the matrix, without input checks.

        States call this on their hot path; users call :meth:`matrix`.
        """
        return self._build(self.params, dtype, device)

    def target_operator(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The operator on :attr:`targets` alone (a diagonal for diagonal gates)
        that acts when every control is 1; only for controlled gates."""
        if self._target is None:
            raise TypeError(f"{self!r} is not a controlled gate (controls plus a target operator)")
        return self._target(self.params, dtype, device)

    def matrix(self, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
        """The ``(…, 2**k, 2**k)`` matrix (k <= 12), differentiable in the parameters."""
        if self.num_qubits > MATRIX_QUBIT_LIMIT:
            raise ValueError(
                f"{self.name} acts on {self.num_qubits} qubits; matrix() builds a 2**k x 2**k matrix "
                f"and allows k <= {MATRIX_QUBIT_LIMIT} (states apply the gate without it"
                + ("; target_operator() gives the operator on the targets)" if self.is_controlled else ")")
            )
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
                    self.batch_shape, self.num_controls, self._target)

    def inverse(self) -> "Gate":
        """The adjoint gate on the same qubits."""
        if self._inverse is not None:
            return self._inverse(self)
        build, target = _adjoint_builder(self._build, self.is_diagonal), None
        if self._target is not None:
            target = _adjoint_builder(self._target, self.is_diagonal)
        name = self.name[:-1] if self.name.endswith("†") else self.name + "†"
        return Gate(name, self.qubits, self.params, build, self.is_diagonal,
                    batch_shape=self.batch_shape, num_controls=self.num_controls, target=target)

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


def has_real_matrix(gate: Gate) -> bool:
    """True when the gate's matrix is real for every value of its (real) angles."""
    return gate.name.rstrip("†") in _REAL


def _adjoint_builder(build: Builder, is_diagonal: bool) -> Builder:
    """The builder of the adjoint operator."""
    if is_diagonal:
        def adjoint(params, dtype, device):
            return build(params, dtype, device).conj()
    else:
        def adjoint(params, dtype, device):
            return build(params, dtype, device).mH
    return adjoint


def stacking_key(gate: Gate):
    """Gates with equal keys can be stacked into one batched gate (:func:`stacked_gate`).

    ``None`` for gates that cannot: gates whose parameters are not angles or
    batches of angles (a user matrix). Fixed gates are keyed by name, since
    their operator depends on nothing else; fixed multi-controlled gates (mcx,
    c3x, ...) by their builder, one per target and number of controls. Gates
    with a batch of angles (one per seed of a batched model) stack with gates
    of the same batch shape.
    """
    if not gate.params:
        if gate.name in _FIXED:
            return ("fixed", gate.name, gate.is_diagonal)
        return ("fixed", gate._build, gate.is_diagonal) if gate.is_controlled else None
    if any(isinstance(p, torch.Tensor) and (p.ndim > 1 or p.is_complex()) for p in gate.params):
        return None
    return (gate._build, len(gate.params), gate.is_diagonal, gate.num_controls, tuple(gate.batch_shape))


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
    shape = first.batch_shape  # each gate's angles broadcast to it, so the stack is (len(gates), *shape)
    params = []
    for j in range(len(first.params)):
        values = [g.params[j] for g in gates]
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        if len(tensors) == len(values) and len({(v.dtype, v.device) for v in tensors}) == 1:
            params.append(torch.stack([v if v.shape == shape else v.expand(shape) for v in tensors])
                          .to(device=device, dtype=torch.float64))
        elif tensors:  # floats as fills, not copies from the host (which a CUDA graph cannot record)
            params.append(torch.stack([
                v.to(device=device, dtype=torch.float64).expand(shape) if isinstance(v, torch.Tensor)
                else torch.full(shape, v, dtype=torch.float64, device=device) for v in values
            ]))
        else:
            params.append(torch.tensor(values, dtype=torch.float64).to(device).reshape(-1, *[1] * len(shape))
                          .expand(-1, *shape))
    return Gate(first.name, qubits, tuple(params), first._build, first.is_diagonal, num_controls=first.num_controls,
                target=first._target)


def _format_param(p) -> str:
    if isinstance(p, torch.Tensor):
        if p.ndim == 0:
            return f"{p.item():.3g}"
        return f"[{p.shape[0]}]"
    return f"{p:.3g}"


# ---------------------------------------------------------------- parameters


def _angle(value, gate: str, what: str = "angle"):
    """A finite float, or a real tensor of shape () or (batch,) (checked when run).

    Errors call the value ``f"{gate} {what}"``, a string made only for an
    error: builders run once per gate of files of 10**5 gates.
    """
    if type(value) is float and math.isfinite(value):
        return value
    name = f"{gate} {what}"
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise TypeError(f"{name} must be real, got a complex tensor")
        if value.ndim > 1:
            raise ValueError(f"{name} must be a scalar or a 1-D batch, got shape {tuple(value.shape)}")
        return value if value.is_floating_point() else value.double()
    if isinstance(value, np.ndarray) and value.ndim <= 1 and np.isrealobj(value):
        return _angle(torch.as_tensor(value, dtype=torch.float64), gate, what)
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
    "ch": ([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, _S2, _S2], [0, 0, _S2, -_S2]], False),
    "csx": ([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0.5 + 0.5j, 0.5 - 0.5j], [0, 0, 0.5 - 0.5j, 0.5 + 0.5j]], False),
    # ECR = (IX - XY) / sqrt(2) in Qiskit's notation: X on the first qubit, conditioned by a phase on the second
    "ecr": (np.array([[0, 0, 1, 1j], [0, 0, 1j, 1], [1, -1j, 0, 0], [-1j, 1, 0, 0]]) * _S2, False),
    # DCX: CX(a, b) then CX(b, a)
    "dcx": (np.eye(4)[[0, 2, 3, 1]], False),
    # relative-phase Toffoli (Margolus): Z on the target when the controls are 10, Y when 11
    "rccx": (np.block([[np.eye(4), np.zeros((4, 4))],
                       [np.zeros((4, 4)), np.array([[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, -1j], [0, 0, 1j, 0]])]]),
             False),
    # relative-phase 3-controlled X: iZ on the target when the controls are 110, [[0, 1], [-1, 0]] when 111
    "rc3x": (np.block([[np.eye(12), np.zeros((12, 4))],
                       [np.zeros((4, 12)), np.array([[1j, 0, 0, 0], [0, -1j, 0, 0], [0, 0, 0, 1], [0, 0, -1, 0]])]]),
             False),
}
_CONTROLS = {"cx": 1, "cy": 1, "cz": 1, "ccx": 2, "cswap": 1, "ch": 1, "csx": 1}
#: Gates whose matrix is real at every real angle (adjoints included): they keep a real ket real
#: (RY and CNOT ansätze, CZ brickworks), so StateVector can evolve such kets in real arithmetic.
_REAL = frozenset({"i", "x", "z", "h", "cx", "cz", "swap", "ccx", "cswap", "ch", "dcx", "ry", "cry",
                   "mcx", "c3x", "c4x"})
_ADJOINT_NAME = {"s": "sdg", "sdg": "s", "t": "tdg", "tdg": "t", "sx": "sxdg", "sxdg": "sx"}
_NOT_HERMITIAN = {"iswap", "csx", "rc3x", "dcx"}  # adjoints built generically (name ending in "†")


@lru_cache(maxsize=None)
def _fixed_operator(name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.tensor(np.asarray(_FIXED[name][0]), dtype=dtype, device=device)


def _fixed(name: str, qubits) -> Gate:
    build, is_diagonal, inverse, num_controls = _fixed_parts(name)
    return Gate(name, qubits, (), build, is_diagonal, inverse, num_controls=num_controls)


@lru_cache(maxsize=None)
def _fixed_parts(name: str) -> tuple[Builder, bool, Callable[[Gate], Gate] | None, int]:
    """What the gates ``name`` share (build, is_diagonal, inverse, num_controls), made once per name."""
    def build(params, dtype, device):
        return _fixed_operator(name, dtype, device)

    adjoint = _ADJOINT_NAME.get(name)
    if adjoint is None and name not in _NOT_HERMITIAN:  # the rest are Hermitian
        inverse = lambda gate: gate  # noqa: E731
    elif adjoint is not None:
        inverse = lambda gate: _fixed(adjoint, gate.qubits)  # noqa: E731
    else:
        inverse = None
    return build, _FIXED[name][1], inverse, _CONTROLS.get(name, 0)


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


def ch(control: int, target: int) -> Gate:
    """Controlled Hadamard."""
    return _fixed("ch", [control, target])


def csx(control: int, target: int) -> Gate:
    """Controlled square root of X."""
    return _fixed("csx", [control, target])


def ecr(qubit_a: int, qubit_b: int) -> Gate:
    """Echoed cross-resonance gate (Qiskit ECRGate; Hermitian)."""
    return _fixed("ecr", [qubit_a, qubit_b])


def dcx(qubit_a: int, qubit_b: int) -> Gate:
    """Double CNOT: CX(a, b) followed by CX(b, a) (Qiskit DCXGate)."""
    return _fixed("dcx", [qubit_a, qubit_b])


def rccx(control_a: int, control_b: int, target: int) -> Gate:
    """Toffoli up to relative phases (Margolus; Qiskit RCCXGate)."""
    return _fixed("rccx", [control_a, control_b, target])


def rc3x(control_a: int, control_b: int, control_c: int, target: int) -> Gate:
    """3-controlled X up to relative phases (Qiskit RC3XGate)."""
    return _fixed("rc3x", [control_a, control_b, control_c, target])


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

    build.numpy_formula = fn  # for float angles, fusion composes blocks in NumPy (numpy_operator)
    return build


def numpy_operator(gate: "Gate") -> np.ndarray:
    """The gate's operator (a diagonal for diagonal gates) as a complex128 NumPy array.

    Gates whose parameters are all floats skip PyTorch here: fusion composes
    the blocks of such circuits (a file of a hundred thousand gates) in NumPy,
    where a small operation costs a microsecond or two.
    """
    if not gate.params and gate.name in _FIXED:
        return _fixed_numpy(gate.name)
    fn = getattr(gate._build, "numpy_formula", None)
    if fn is not None and not any(isinstance(p, torch.Tensor) for p in gate.params):
        return np.asarray(fn(np, *gate.params), dtype=complex)
    return gate.operator(torch.complex128, torch.device("cpu")).resolve_conj().numpy()


@lru_cache(maxsize=None)
def _fixed_numpy(name: str) -> np.ndarray:
    matrix = np.asarray(_FIXED[name][0], dtype=complex)
    matrix.flags.writeable = False
    return matrix


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


def _f_u2(xp, phi, lam):
    r = 0j * (phi + lam) + _S2  # broadcasts every entry to the batch shape
    return _rows(xp, [[r, -r * xp.exp(1j * lam)], [r * xp.exp(1j * phi), r * xp.exp(1j * (phi + lam))]])


def _f_cu_target(xp, theta, phi, lam, gamma):
    """e^{i gamma} U(theta, phi, lam): the target block of Qiskit's CU."""
    return xp.exp(1j * gamma)[..., None, None] * _f_u3(xp, theta, phi, lam)


def _f_rzx(xp, t):
    # exp(-i t Z⊗X / 2) = RX(t) when the first qubit is 0, RX(-t) when it is 1
    c, s_ = xp.cos(t / 2) + 0j, -1j * xp.sin(t / 2)
    z0 = 0 * c
    return _rows(xp, [[c, s_, z0, z0], [s_, c, z0, z0], [z0, z0, c, -s_], [z0, z0, -s_, c]])


def _f_xx_plus_yy(xp, theta, beta):
    zero = 0j * (theta + beta)
    c, s_ = xp.cos(theta / 2) + zero, xp.sin(theta / 2) + zero
    one = zero + 1
    return _rows(xp, [
        [one, zero, zero, zero],
        [zero, c, -1j * s_ * xp.exp(1j * beta), zero],
        [zero, -1j * s_ * xp.exp(-1j * beta), c, zero],
        [zero, zero, zero, one],
    ])


def _f_xx_minus_yy(xp, theta, beta):
    zero = 0j * (theta + beta)
    c, s_ = xp.cos(theta / 2) + zero, xp.sin(theta / 2) + zero
    one = zero + 1
    return _rows(xp, [
        [c, zero, zero, -1j * s_ * xp.exp(-1j * beta)],
        [zero, one, zero, zero],
        [zero, zero, one, zero],
        [-1j * s_ * xp.exp(1j * beta), zero, zero, c],
    ])


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
_BUILD.update({
    "u1": _BUILD["phase"], "p": _BUILD["phase"], "u2": _formula(_f_u2), "u": _BUILD["u3"],
    "cu1": _BUILD["cphase"], "cp": _BUILD["cphase"],
    "cu3": _formula(_controlled_formula(_f_u3, False)),
    "cu": _formula(_controlled_formula(_f_cu_target, False)),
    "rzx": _formula(_f_rzx), "xx_plus_yy": _formula(_f_xx_plus_yy), "xx_minus_yy": _formula(_f_xx_minus_yy),
})
# operators on the targets alone of the controlled parametrized gates
_TARGET = {
    "cu1": _BUILD["phase"], "cp": _BUILD["phase"], "cu3": _BUILD["u3"], "cu": _formula(_f_cu_target),
}


def _rotation(name: str, qubits, angle, is_diagonal: bool = False, num_controls: int = 0) -> Gate:
    """A gate of one angle whose inverse negates it."""
    return Gate(name, qubits, (_angle(angle, name),), _BUILD[name], is_diagonal, _rotation_inverse,
                num_controls=num_controls)


def _rotation_inverse(gate: Gate) -> Gate:
    """The inverse of a :func:`_rotation` gate: the same gate with every angle negated."""
    negated = tuple(-p for p in gate.params)
    return Gate(gate.name, gate.qubits, negated, gate._build, gate.is_diagonal, _rotation_inverse,
                num_controls=gate.num_controls)


def rx(theta, qubit: int) -> Gate:
    """RX(theta) = exp(-i theta X / 2)."""
    return _rotation("rx", [qubit], theta)


def ry(theta, qubit: int) -> Gate:
    """RY(theta) = exp(-i theta Y / 2)."""
    return _rotation("ry", [qubit], theta)


def rz(theta, qubit: int) -> Gate:
    """RZ(theta) = exp(-i theta Z / 2) = diag(e^{-i theta/2}, e^{i theta/2})."""
    return _rotation("rz", [qubit], theta, True)


def phase(lam, qubit: int) -> Gate:
    """Phase gate diag(1, e^{i lam})."""
    return _rotation("phase", [qubit], lam, True)


def u3(theta, phi, lam, qubit: int) -> Gate:
    """OpenQASM U3(theta, phi, lam) = RZ(phi) RY(theta) RZ(lam) up to a global phase."""
    params = (_angle(theta, "u3", "theta"), _angle(phi, "u3", "phi"), _angle(lam, "u3", "lam"))
    return Gate("u3", [qubit], params, _BUILD["u3"], False, _u3_inverse)


def _u3_inverse(gate: Gate) -> Gate:
    th, ph, la = gate.params
    return Gate("u3", gate.qubits, (-th, -la, -ph), _BUILD["u3"], False, _u3_inverse)


def cphase(lam, control: int, target: int) -> Gate:
    """Controlled phase diag(1, 1, 1, e^{i lam})."""
    return _rotation("cphase", [control, target], lam, True, num_controls=1)


def crx(theta, control: int, target: int) -> Gate:
    """Controlled RX."""
    return _rotation("crx", [control, target], theta, num_controls=1)


def cry(theta, control: int, target: int) -> Gate:
    """Controlled RY."""
    return _rotation("cry", [control, target], theta, num_controls=1)


def crz(theta, control: int, target: int) -> Gate:
    """Controlled RZ (diagonal)."""
    return _rotation("crz", [control, target], theta, True, num_controls=1)


def rxx(theta, qubit_a: int, qubit_b: int) -> Gate:
    """RXX(theta) = exp(-i theta X⊗X / 2)."""
    return _rotation("rxx", [qubit_a, qubit_b], theta)


def ryy(theta, qubit_a: int, qubit_b: int) -> Gate:
    """RYY(theta) = exp(-i theta Y⊗Y / 2)."""
    return _rotation("ryy", [qubit_a, qubit_b], theta)


def rzz(theta, qubit_a: int, qubit_b: int) -> Gate:
    """RZZ(theta) = exp(-i theta Z⊗Z / 2) (diagonal)."""
    return _rotation("rzz", [qubit_a, qubit_b], theta, True)


def _negated(params: tuple) -> tuple:
    return tuple(-p for p in params)


def _u_adjoint(params: tuple) -> tuple:
    """U(theta, phi, lam)^dagger = U(-theta, -lam, -phi); a fourth angle (CU's gamma) is negated."""
    theta, phi, lam, *gamma = params
    return (-theta, -lam, -phi, *(-g for g in gamma))


def _u2_adjoint(params: tuple) -> tuple:
    """U2(phi, lam)^dagger = U2(-lam - pi, -phi + pi) (as Qiskit)."""
    phi, lam = params
    return (-lam - math.pi, -phi + math.pi)


def _beta_kept(params: tuple) -> tuple:
    theta, beta = params
    return (-theta, beta)


def _param_gate(name: str, qubits, angles: dict, adjoint=_negated, is_diagonal: bool = False,
                num_controls: int = 0) -> Gate:
    """A parametrized gate from ``_BUILD[name]`` (and ``_TARGET[name]`` for controlled ones).

    ``angles`` maps each angle's name (for error messages) to its value;
    ``adjoint`` maps the parameters to those of the inverse gate.
    """
    params = tuple([_angle(v, name, n) for n, v in angles.items()])
    return _param_gate_of(name, qubits, params, adjoint, is_diagonal, num_controls)


def _param_gate_of(name, qubits, params, adjoint, is_diagonal, num_controls) -> Gate:
    inverse = _param_inverse(name, adjoint, is_diagonal, num_controls)
    return Gate(name, qubits, params, _BUILD[name], is_diagonal, inverse, num_controls=num_controls,
                target=_TARGET.get(name))


@lru_cache(maxsize=None)
def _param_inverse(name, adjoint, is_diagonal, num_controls) -> Callable[[Gate], Gate]:
    """The inverse of the :func:`_param_gate_of` gates of these arguments, made once for all of them."""
    def inverse(gate: Gate) -> Gate:
        return _param_gate_of(name, gate.qubits, adjoint(gate.params), adjoint, is_diagonal, num_controls)

    return inverse


def u1(lam, qubit: int) -> Gate:
    """U1(lam) = diag(1, e^{i lam}) (the phase gate; diagonal)."""
    return _param_gate("u1", [qubit], {"lam": lam}, is_diagonal=True)


def p(lam, qubit: int) -> Gate:
    """P(lam) = diag(1, e^{i lam}) (the phase gate; diagonal)."""
    return _param_gate("p", [qubit], {"lam": lam}, is_diagonal=True)


def u2(phi, lam, qubit: int) -> Gate:
    """U2(phi, lam) = U(pi/2, phi, lam)."""
    return _param_gate("u2", [qubit], {"phi": phi, "lam": lam}, _u2_adjoint)


def u(theta, phi, lam, qubit: int) -> Gate:
    """OpenQASM 3 / Qiskit U(theta, phi, lam), the same matrix as u3."""
    return _param_gate("u", [qubit], {"theta": theta, "phi": phi, "lam": lam}, _u_adjoint)


def cu1(lam, control: int, target: int) -> Gate:
    """Controlled U1: diag(1, 1, 1, e^{i lam}) (diagonal)."""
    return _param_gate("cu1", [control, target], {"lam": lam}, is_diagonal=True, num_controls=1)


def cp(lam, control: int, target: int) -> Gate:
    """Controlled phase diag(1, 1, 1, e^{i lam}) (diagonal)."""
    return _param_gate("cp", [control, target], {"lam": lam}, is_diagonal=True, num_controls=1)


def cu3(theta, phi, lam, control: int, target: int) -> Gate:
    """Controlled U3(theta, phi, lam)."""
    return _param_gate("cu3", [control, target], {"theta": theta, "phi": phi, "lam": lam}, _u_adjoint,
                       num_controls=1)


def cu(theta, phi, lam, gamma, control: int, target: int) -> Gate:
    """Controlled e^{i gamma} U(theta, phi, lam) (Qiskit CUGate)."""
    return _param_gate("cu", [control, target], {"theta": theta, "phi": phi, "lam": lam, "gamma": gamma},
                       _u_adjoint, num_controls=1)


def rzx(theta, qubit_a: int, qubit_b: int) -> Gate:
    """RZX(theta) = exp(-i theta Z_a X_b / 2) (Qiskit RZXGate: Z on the first qubit, X on the second)."""
    return _param_gate("rzx", [qubit_a, qubit_b], {"theta": theta})


def xx_plus_yy(theta, beta, qubit_a: int, qubit_b: int) -> Gate:
    """Qiskit XXPlusYYGate: RZ_a(-beta) exp(-i theta (XX + YY) / 4) RZ_a(beta) (beta = 0: plain XX+YY)."""
    return _param_gate("xx_plus_yy", [qubit_a, qubit_b], {"theta": theta, "beta": beta}, _beta_kept)


def xx_minus_yy(theta, beta, qubit_a: int, qubit_b: int) -> Gate:
    """Qiskit XXMinusYYGate: RZ_b(beta) exp(-i theta (XX - YY) / 4) RZ_b(-beta) (beta = 0: plain XX-YY)."""
    return _param_gate("xx_minus_yy", [qubit_a, qubit_b], {"theta": theta, "beta": beta}, _beta_kept)


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


def _controlled_diagonal(diagonal: torch.Tensor, num_controls: int) -> torch.Tensor:
    """Ones with ``diagonal`` at the end (all controls set): the diagonal of a controlled diagonal gate."""
    d = diagonal.shape[-1]
    ones = torch.ones(*diagonal.shape[:-1], (d << num_controls) - d, dtype=diagonal.dtype, device=diagonal.device)
    return torch.cat([ones, diagonal], -1)


@lru_cache(maxsize=None)
def _block_builder(target: Builder, num_controls: int, is_diagonal: bool) -> Builder:
    """Builder of the full operator of ``num_controls`` controls on ``target``.

    Used only where a controlled gate is fused with others into a small block
    (and by :meth:`Gate.matrix`); states apply wider ones to the controlled
    subspace from :meth:`Gate.target_operator`. One builder per (target,
    controls), so equal gates stack.
    """
    def build(params, dtype, device):
        op = target(params, dtype, device)
        k = num_controls + op.shape[-1].bit_length() - 1
        if k > MATRIX_QUBIT_LIMIT:
            raise ValueError(f"the full operator of a controlled gate on {k} qubits is a 2**{k} x 2**{k} matrix; "
                             f"at most {MATRIX_QUBIT_LIMIT} qubits (apply the gate to a state instead)")
        return _controlled_diagonal(op, num_controls) if is_diagonal else _controlled_block(op, num_controls)

    return build


def _param_matrix(params, dtype, device):
    """The matrix held as the gate's only parameter, on ``device`` in ``dtype``."""
    return params[0].to(device=device, dtype=dtype)


@lru_cache(maxsize=None)
def _fixed_target(name: str) -> Builder:
    """Builder of the fixed 1-qubit operator ``name`` as a controlled gate's target."""
    def build(params, dtype, device):
        return _fixed_operator(name, dtype, device)

    return build


@lru_cache(maxsize=64)
def _fixed_controlled_operator(name: str, num_controls: int, dtype: torch.dtype, device: torch.device):
    return _block_builder(_fixed_target(name), num_controls, _FIXED[name][1])((), dtype, device)


@lru_cache(maxsize=None)
def _fixed_controlled_builder(name: str, num_controls: int) -> Builder:
    def build(params, dtype, device):
        return _fixed_controlled_operator(name, num_controls, dtype, device)

    return build


def _control_qubits(controls, target, name: str) -> tuple[tuple[int, ...], int]:
    """Checked ``(controls, target)``: at least one distinct control, an int target not among them."""
    controls = _checks.qubit_list(controls, f"{name} controls")
    if not controls:
        raise ValueError(f"{name} needs at least one control qubit, got {controls!r}")
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise TypeError(f"{name} target must be one int qubit, got {target!r}")
    target = _checks.qubit_list([target], f"{name} target")[0]
    if target in controls:
        raise ValueError(f"{name} target {target} is also a control in {list(controls)}; they must differ")
    return controls, target


_FIXED_ADJOINT = {"x": "x", "sx": "sxdg", "sxdg": "sx"}


def _multi_controlled(name: str, controls, target, target_name: str) -> Gate:
    """The fixed 1-qubit gate ``target_name`` on ``target`` when every control is 1."""
    controls, target = _control_qubits(controls, target, name)
    k = len(controls)
    adjoint_name = _FIXED_ADJOINT[target_name]

    def inverse(gate: Gate) -> Gate:
        if adjoint_name == target_name:
            return gate
        inverse_name = name[:-1] if name.endswith("†") else name + "†"
        return _multi_controlled(inverse_name, gate.controls, gate.targets[0], adjoint_name)

    return Gate(name, controls + (target,), (), _fixed_controlled_builder(target_name, k),
                _FIXED[target_name][1], inverse, num_controls=k, target=_fixed_target(target_name))


def mcx(controls, target: int) -> Gate:
    """X on ``target`` when every qubit of ``controls`` (an int or a sequence, any number) is 1."""
    return _multi_controlled("mcx", controls, target, "x")


def c3x(control_a: int, control_b: int, control_c: int, target: int) -> Gate:
    """3-controlled X."""
    return _multi_controlled("c3x", [control_a, control_b, control_c], target, "x")


def c3sqrtx(control_a: int, control_b: int, control_c: int, target: int) -> Gate:
    """3-controlled square root of X (Qiskit C3SXGate)."""
    return _multi_controlled("c3sqrtx", [control_a, control_b, control_c], target, "sx")


def c4x(control_a: int, control_b: int, control_c: int, control_d: int, target: int) -> Gate:
    """4-controlled X."""
    return _multi_controlled("c4x", [control_a, control_b, control_c, control_d], target, "x")


def _mcphase_of(controls: tuple[int, ...], target: int, params: tuple) -> Gate:
    def inverse(gate: Gate) -> Gate:
        return _mcphase_of(gate.controls, gate.targets[0], _negated(gate.params))

    k = len(controls)
    return Gate("mcphase", controls + (target,), params, _block_builder(_BUILD["phase"], k, True), True, inverse,
                num_controls=k, target=_BUILD["phase"])


def mcphase(lam, controls, target: int) -> Gate:
    """Phase e^{i lam} on the state where every control and the target are 1 (Qiskit MCPhaseGate; diagonal)."""
    controls, target = _control_qubits(controls, target, "mcphase")
    return _mcphase_of(controls, target, (_angle(lam, "mcphase", "lam"),))


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
    return Gate("controlled", controls + targets, (u,), _block_builder(_param_matrix, num_controls, False),
                batch_shape=u.shape[:-2], num_controls=num_controls, target=_param_matrix)


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


#: Gate builders by name: the names the :class:`~tqsim.Circuit` builder methods
#: mirror (``tq.channels.BUILDERS`` adds the channels).
BUILDERS: dict[str, Callable[..., Gate]] = {
    f.__name__: f
    for f in (
        i, x, y, z, h, s, sdg, t, tdg, sx, sxdg, rx, ry, rz, phase, u3, u1, u2, u, p,
        cx, cy, cz, swap, iswap, cphase, crx, cry, crz, cu1, cp, cu3, cu, ch, csx,
        rxx, ryy, rzz, rzx, ecr, dcx, xx_plus_yy, xx_minus_yy,
        ccx, cswap, rccx, rc3x, c3x, c3sqrtx, c4x, mcx, mcphase,
        unitary, controlled, diagonal,
    )
}
