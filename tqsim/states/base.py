"""What every dense state kind shares: storage, device moves, sampling, runs."""

from __future__ import annotations

import torch

from .. import _checks, fusion
from ..channels import Channel
from ..gates import Gate


def checked_operations(state, operations, takes_channels: bool, takes_batches: bool = True) -> list:
    """The operations as a list, after the checks every state kind makes.

    Gates and channels only, qubits in range, finite angles (one device sync
    for all tensor angles), channels only where the state can hold mixtures,
    batched gates only where the state can hold a batch.
    """
    operations = list(operations)
    kind = type(state).__name__
    for op in operations:
        if not isinstance(op, (Gate, Channel)):
            raise TypeError(f"expected gates or channels, got {type(op).__name__}")
        _checks.qubits_in_range(op.qubits, state.num_qubits, f"{op.name} qubit")
        if isinstance(op, Channel) and not takes_channels:
            raise TypeError(
                f"channel {op.name} needs a mixed state: run the circuit on "
                f"tq.DensityMatrix.zeros({state.num_qubits}) instead of a {kind}"
            )
        if isinstance(op, Gate) and op.batch_shape and not takes_batches:
            raise ValueError(
                f"gate {op!r} is batched (shape {tuple(op.batch_shape)}); a {kind} holds one state: "
                f"run batches on a StateVector or loop over the batch"
            )
    _checks.finite([p for op in operations if isinstance(op, Gate) for p in op.params], "gate angle")
    return operations


def uniform_draws(shape, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """float64 uniforms in [0, 1), drawn on the generator's device, moved to ``device``."""
    gen_device = generator.device if generator is not None else device
    return torch.rand(*shape, generator=generator, dtype=torch.float64, device=gen_device).to(device)


def inverse_cdf_draws(probs: torch.Tensor, shots: int, generator: torch.Generator | None) -> torch.Tensor:
    """``shots`` indices drawn from each distribution ``probs (..., d)`` (unnormalised is fine): ``(..., shots)``.

    Inverse-CDF sampling in float64, so any ``d`` works (``torch.multinomial``
    stops at 2**24 outcomes).
    """
    cdf = torch.cumsum(probs.to(torch.float64), dim=-1)
    u = uniform_draws((*probs.shape[:-1], shots), generator, probs.device) * cdf[..., -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=probs.shape[-1] - 1)


def check_index_width(num_qubits: int, bits: bool) -> None:
    """Basis indices of more than 62 qubits overflow int64: such samples need ``bits=True``."""
    if not bits and num_qubits > 62:
        raise ValueError(f"indices of {num_qubits} qubits overflow int64; pass bits=True")


def measured_outcomes(outcomes: torch.Tensor, bits: bool) -> torch.Tensor:
    """``(shots, n)`` 0/1 outcomes as they are (``bits``) or as big-endian basis indices."""
    n = outcomes.shape[-1]
    if bits:
        return outcomes
    check_index_width(n, bits)
    powers = 2 ** torch.arange(n - 1, -1, -1, device=outcomes.device)
    return (outcomes * powers).sum(-1)


class Exportable:
    """Conversions every state kind offers: :meth:`to_numpy` and :meth:`to_qutip`.

    A kind provides ``_dense()``, its dense tensor: the amplitudes (the
    default) or, for a density matrix, the matrix.
    """

    __slots__ = ()

    def _dense(self) -> torch.Tensor:
        return self.amplitudes()

    def to_numpy(self):
        """The state as a NumPy array: amplitudes ``(2**n,)`` (the matrix of a
        DensityMatrix), batch axis kept; detached and on the CPU. Dense, so n <= 30."""
        return self._dense().detach().resolve_conj().cpu().numpy()

    def to_qutip(self):
        """The state as a ``qutip.Qobj``: a ket with dims ``[[2]*n, [1]*n]``, or for a
        DensityMatrix an operator with dims ``[[2]*n, [2]*n]``. Needs ``pip install "tqsim[qutip]"``."""
        from ..interop.qutip import to_qutip

        return to_qutip(self)


class DenseState(Exportable):
    """A flat tensor over qubits plus the bookkeeping around it.

    Subclasses define how gates and channels act (:meth:`_apply_gate_operator`,
    :meth:`_apply_channel`) and what probabilities are.
    """

    __slots__ = ("_data", "num_qubits")

    def __init__(self, data: torch.Tensor, num_qubits: int):
        self._data = data
        self.num_qubits = num_qubits

    # ----------------------------------------------------------- properties
    @property
    def dtype(self) -> torch.dtype:
        return self._data.dtype

    @property
    def device(self) -> torch.device:
        return self._data.device

    @property
    def batch_shape(self) -> torch.Size:
        """``()`` for one state, ``(batch,)`` for a batch."""
        return self._data.shape[: self._data.ndim - self._core_ndim]

    _core_ndim = 1

    def to(self, device=None, dtype: torch.dtype | None = None):
        """A copy on another device and/or complex dtype (like ``Tensor.to``)."""
        dev = _checks.device(device) if device is not None else self.device
        dt = _checks.complex_dtype(dtype) if dtype is not None else self.dtype
        return type(self)(self._data.to(device=dev, dtype=dt), self.num_qubits)

    # ------------------------------------------------------------- measuring
    def probabilities(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, shots: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``shots`` basis-state indices (big-endian) from :meth:`probabilities`.

        Returns a LongTensor of shape ``(shots,)`` or ``(batch, shots)`` on the
        state's device. Inverse-CDF sampling, so any ``n`` works (``torch.multinomial``
        stops at 2**24 outcomes).
        """
        shots = _checks.positive_int(shots, "shots")
        return inverse_cdf_draws(self.probabilities().detach(), shots, generator)

    # ------------------------------------------------------------- evolution
    def apply(self, operation):
        """A new state with one gate or channel applied."""
        return self.evolve([operation])

    def evolve(self, operations):
        """A new state with ``operations`` (gates, channels, a Circuit) applied in order.

        Runs of gates between channels are fused into blocks (sizes in
        :func:`tqsim.fusion.block_size`); a controlled gate wider than a block
        acts on the amplitudes whose controls are all 1 only
        (:meth:`_apply_controlled`), its full matrix never built.
        """
        return self._evolve_checked(checked_operations(self, operations, self._takes_channels))

    def _evolve_checked(self, operations: list):
        """:meth:`evolve` for operations that have passed :func:`checked_operations`."""
        data = self._data
        track = torch.is_grad_enabled() and (
            data.requires_grad
            or any(isinstance(p, torch.Tensor) and p.requires_grad for op in operations for p in op.params)
        )
        max_qubits = fusion.block_size(data.is_cuda, track)
        buffers = None if track else _Buffers()
        gates: list[Gate] = []
        for op in operations + [None]:
            if isinstance(op, Gate):
                gates.append(op)
                continue
            fused = [g for g in gates if not fusion.applies_apart(g, max_qubits)]
            operators = fusion.gate_operators(fused, self.dtype, self.device)
            for block in fusion.plan(gates, max_qubits):
                if fusion.applies_apart(block.gates[0], max_qubits):  # alone in its block
                    data = self._apply_controlled(data, block.gates[0], buffers)
                    continue
                operator = fusion.build_operator(block, self.dtype, self.device, operators)
                data = self._apply_gate_operator(data, operator, block.qubits, block.is_diagonal, buffers)
            gates = []
            if op is not None:
                data = self._apply_channel(data, op, buffers)
        return type(self)(data, self.num_qubits)

    _takes_channels = False

    def _apply_gate_operator(self, data, op, qubits, is_diagonal, buffers):  # pragma: no cover
        raise NotImplementedError

    def _apply_controlled(self, data, gate: Gate, buffers):  # pragma: no cover
        raise NotImplementedError

    def _apply_channel(self, data, channel, buffers):  # pragma: no cover
        raise NotImplementedError


class _Buffers:
    """Two scratch tensors to ping-pong between when no gradient is tracked.

    Freshly allocated large tensors cost page faults on every gate; reusing
    two buffers keeps the work to the arithmetic. The caller's input is never
    written.
    """

    __slots__ = ("pool",)

    def __init__(self):
        self.pool: list[torch.Tensor] = []

    def target(self, like: torch.Tensor, shape: torch.Size, avoid: torch.Tensor) -> torch.Tensor:
        for buf in self.pool:
            if buf.shape == shape and buf.data_ptr() != avoid.data_ptr():
                return buf
        buf = torch.empty(shape, dtype=like.dtype, device=like.device)
        self.pool = [b for b in self.pool if b.shape == shape][:1] + [buf]
        return buf
