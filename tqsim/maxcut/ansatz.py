"""Variational circuit families for MaxCut, as ``torch.nn.Module``s.

Each family builds a :class:`tqsim.Circuit` from its registered parameters and
runs it on a state backend: ``"dense"`` (StateVector, up to 26 qubits),
``"mps"`` (MPS with ``max_bond``) or ``"product"`` (ProductState, product
family only). ``forward()`` returns the state; :meth:`MaxCutAnsatz.loss`
turns it into the training loss. Diagrams of every family are in
docs/maxcut.md.

A model made for several seeds (``make_ansatz(..., seed=[0, 1, 2])``) holds
one parameter set per seed along a leading batch axis and prepares all of
them as one batched dense state: every gate takes a batch of angles, so the
circuit is built and run once for all seeds. Each seed's numbers are those of
its own model, to dtype precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import _checks
from ..circuit import Circuit
from ..gates import Gate
from ..info import entropy
from ..states import MPS, ProductState, StateVector
from ..states.mps import check_truncation
from .objective import ENCODINGS, expected_cut, mbe_spins, qubits_needed
from .problem import BRUTE_FORCE_LIMIT, MaxCutProblem

__all__ = ["FAMILIES", "BACKENDS", "MaxCutAnsatz", "choose_backend", "make_ansatz"]

#: The state kinds a family can train on: a dense ket, an MPS, or a product state.
BACKENDS = ("dense", "mps", "product")


class MaxCutAnsatz(nn.Module):
    """Common part of every family: problem, encoding, backend, loss.

    Parameters
    ----------
    problem : MaxCutProblem
    depth : int
        Number of layers (QAOA: p).
    backend : str or None
        ``"dense"``, ``"mps"`` or ``"product"``; None picks dense up to 26
        qubits, MPS beyond (product for the product family).
    encoding : str
        ``"node"`` (one node per qubit) or ``"mbe"`` (two nodes per qubit).
    max_bond, cutoff : MPS truncation.
    entropy_penalty : float
        ``lambda`` in ``loss + lambda * S(first penalty_qubits qubits)``.
    penalty_qubits : int or None
        Size of that subsystem (default: up to 6 qubits, fewer than half the register).
    dtype : torch.complex64 (default) or torch.complex128.
    """

    family = ""

    def __init__(
        self,
        problem: MaxCutProblem,
        depth: int = 1,
        backend: str | None = None,
        encoding: str = "node",
        max_bond: int | None = 32,
        cutoff: float = 1e-10,
        entropy_penalty: float = 0.0,
        penalty_qubits: int | None = None,
        dtype: torch.dtype = torch.complex64,
    ):
        super().__init__()
        if not isinstance(problem, MaxCutProblem):
            raise TypeError(f"problem must be a MaxCutProblem, got {type(problem).__name__}")
        self.problem = problem
        self.depth = _checks.positive_int(depth, "depth")
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; choose from {', '.join(ENCODINGS)}")
        self.encoding = encoding
        self.num_qubits = qubits_needed(problem, encoding)
        self.backend = self._choose_backend(backend)
        self.max_bond, self.cutoff = check_truncation(max_bond, cutoff)
        if isinstance(entropy_penalty, bool) or not isinstance(entropy_penalty, (int, float)) or not math.isfinite(entropy_penalty) or entropy_penalty < 0:
            raise ValueError(f"entropy_penalty must be a finite number >= 0, got {entropy_penalty!r}")
        self.entropy_penalty = float(entropy_penalty)
        self.penalty_qubits = default_entropy_qubits(self.num_qubits) if penalty_qubits is None else penalty_qubits
        check_entropy_qubits(self.penalty_qubits, self.num_qubits)
        self.complex_dtype = _checks.complex_dtype(dtype)
        self.real_dtype = _checks.real_dtype(self.complex_dtype)
        #: seeds trained together (:func:`make_ansatz` with a list of seeds), or None for one unbatched model
        self.seeds: tuple[int, ...] | None = None

    def _choose_backend(self, backend: str | None) -> str:
        return choose_backend(self.family, self.num_qubits, backend)

    @property
    def batch_size(self) -> int | None:
        """How many seeds this model holds along the parameters' first axis (None: one, unbatched)."""
        return None if self.seeds is None else len(self.seeds)

    def _per_layer(self, parameter: torch.Tensor) -> torch.Tensor:
        """``parameter`` with the batch axis moved last, so ``[layer][qubit]`` is one angle or one per seed."""
        return parameter if self.seeds is None else parameter.movedim(0, -1)

    # ------------------------------------------------------------- circuits
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def build(self, circuit: Circuit) -> None:  # pragma: no cover - each family overrides
        raise NotImplementedError

    def circuit(self) -> Circuit:
        c = Circuit(self.num_qubits)
        self.build(c)
        return c

    def initial_state(self):
        n, dtype, device = self.num_qubits, self.complex_dtype, self.device
        if self.backend == "product":
            return ProductState.zeros(n, dtype=dtype, device=device)
        if self.backend == "mps":
            return MPS.zeros(n, max_bond=self.max_bond, cutoff=self.cutoff, dtype=dtype, device=device)
        return StateVector.zeros(n, dtype=dtype, device=device)

    def forward(self):
        """The state prepared by the circuit with the current parameters."""
        return self.circuit().run(self.initial_state())

    # ---------------------------------------------------------------- losses
    def loss(self, state) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, expected cut)``; for MBE the "expected cut" is the relaxed
        cut ``(W - energy) / 2`` of the tanh spins."""
        if self.encoding == "mbe":
            energy = self.problem.spin_energy(torch.tanh(mbe_spins(state, self.problem.num_nodes)))
            value, objective = (self.problem.total_weight - energy) / 2, energy
        else:
            value = expected_cut(self.problem, state)
            objective = -value
        if self.entropy_penalty:
            objective = objective + self.entropy_penalty * entropy(state, range(self.penalty_qubits))
        return objective, value

    def extra_repr(self) -> str:
        seeds = "" if self.seeds is None else f", seeds={list(self.seeds)}"
        return (f"qubits={self.num_qubits}, depth={self.depth}, backend={self.backend!r}, "
                f"encoding={self.encoding!r}{seeds}")


def choose_backend(family: str, num_qubits: int, backend: str | None) -> str:
    """The backend a ``family`` model of ``num_qubits`` runs on: ``backend``, checked, or the automatic choice
    for None (product states for the product family, dense up to 26 qubits, MPS beyond)."""
    if backend is None:
        backend = "product" if family == "product" else ("dense" if num_qubits <= BRUTE_FORCE_LIMIT else "mps")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend == "product" and family != "product":
        raise ValueError(f"the {family} family entangles qubits; use backend 'dense' or 'mps', not 'product'")
    if backend == "dense" and num_qubits > BRUTE_FORCE_LIMIT:
        raise ValueError(f"a dense state of {num_qubits} qubits does not fit; use backend='mps' beyond "
                         f"{BRUTE_FORCE_LIMIT} qubits")
    return backend


def default_entropy_qubits(num_qubits: int) -> int:
    """The subsystem watched during training: 6 qubits, or fewer than half of a small register."""
    return max(1, min(6, (num_qubits - 1) // 2 if num_qubits > 2 else 1))


def check_entropy_qubits(k, num_qubits: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= num_qubits - 1:
        raise ValueError(f"entropy subsystem size must be an int in 1..{num_qubits - 1}, got {k!r}")


def _angles(generator: torch.Generator, *shape: int) -> nn.Parameter:
    """Initial angles: pi/2 (|+> after RY) plus small noise, so training starts off every symmetry."""
    return nn.Parameter(math.pi / 2 + 0.1 * torch.randn(*shape, generator=generator, dtype=torch.float64))


def _ry_layer(c: Circuit, angles: torch.Tensor) -> None:
    for q, angle in enumerate(angles):
        c.ry(angle, q)


class _RYLayers(MaxCutAnsatz):
    """Families whose parameters are RY angles: ``ry_per_layer`` rotations of every qubit per layer."""

    ry_per_layer = 1

    def __init__(self, problem, depth=1, generator=None, **options):
        super().__init__(problem, depth, **options)
        per_layer = (self.ry_per_layer,) if self.ry_per_layer > 1 else ()
        self.theta = _angles(generator, self.depth, *per_layer, self.num_qubits)


class ProductAnsatz(_RYLayers):
    """RY on every qubit; ``depth`` layers of them compose to one. No entanglement."""

    family = "product"

    def build(self, c):
        for layer in self._per_layer(self.theta):
            _ry_layer(c, layer)

    def forward(self):
        if self.backend != "product":
            return super().forward()
        # RY layers on |0> compose: one vectorised product state, no per-gate work
        angles = self.theta.sum(0).to(self.real_dtype)
        return ProductState.from_angles(angles, dtype=self.complex_dtype, device=self.device)


def _ladder(c: Circuit, n: int, downward: bool) -> None:
    pairs = [(q, q + 1) for q in range(n - 1)] if downward else [(q + 1, q) for q in range(n - 2, -1, -1)]
    for control, target in pairs:
        c.cx(control, target)


class OneDirectionalAnsatz(_RYLayers):
    """Per layer: RY on every qubit, then CNOT(q -> q+1) for q = 0..n-2."""

    family = "one-directional"

    def build(self, c):
        for layer in self._per_layer(self.theta):
            _ry_layer(c, layer)
            _ladder(c, self.num_qubits, downward=True)


class TwoDirectionalAnsatz(_RYLayers):
    """Per layer: RY, the downward CNOT ladder, RY, the upward ladder CNOT(q+1 -> q)."""

    family = "two-directional"
    ry_per_layer = 2

    def build(self, c):
        for layer in self._per_layer(self.theta):
            for half, downward in ((layer[0], True), (layer[1], False)):
                _ry_layer(c, half)
                _ladder(c, self.num_qubits, downward)


class DeepAnsatz(TwoDirectionalAnsatz):
    """The two-directional layer repeated ``depth`` times (default 6)."""

    family = "deep"

    def __init__(self, problem, depth=6, generator=None, **options):
        super().__init__(problem, depth, generator, **options)


class QAOAAnsatz(MaxCutAnsatz):
    """From |+...+>, ``depth`` = p layers of ``exp(-i gamma C)`` then ``RX(2 beta)`` on every qubit.

    Dense states apply the cost layer as one diagonal over all basis states;
    MPS as one RZZ per edge (equal up to a global phase). Starts on a linear
    ramp, ``gamma_l = 0.8 (l + 1/2) / p``, ``beta_l = 0.4 (1 - (l + 1/2) / p)``.
    """

    family = "qaoa"

    def __init__(self, problem, depth=1, generator=None, **options):
        super().__init__(problem, depth, **options)
        if self.encoding != "node":
            raise ValueError("QAOA uses one node per qubit; the 'mbe' encoding needs another family")
        ramp = (torch.arange(self.depth, dtype=torch.float64) + 0.5) / self.depth
        self.gamma = nn.Parameter(0.8 * ramp)
        self.beta = nn.Parameter(0.4 * (1 - ramp))

    def build(self, c):
        n = self.num_qubits
        for q in range(n):
            c.h(q)
        for gamma, beta in zip(self._per_layer(self.gamma), self._per_layer(self.beta)):
            if self.backend == "dense":
                c.append(_cost_phase(self.problem, gamma, n))
            else:
                for (i, j), w in zip(self.problem.edges.tolist(), self.problem.weights.tolist()):
                    c.rzz(-gamma * w, i, j)  # exp(-i gamma w (1 - ZZ)/2) up to a phase
            for q in range(n):
                c.rx(2 * beta, q)


def _cost_phase(problem: MaxCutProblem, gamma, n: int) -> Gate:
    """``exp(-i gamma C)`` as one diagonal gate whose parameter is ``gamma``.

    Unitary by construction (``C`` is the problem's cached, real cost
    diagonal), so, unlike ``gates.diagonal`` on arbitrary values, nothing has
    to pass over 2**n entries and wait for the device to check it.
    """

    def build(params, dtype, device):
        cost = problem.cached_tensor("diagonal", device, _checks.real_dtype(dtype))
        return torch.polar(torch.ones_like(cost), -params[0].to(cost.dtype)[..., None] * cost)  # (batch,) angles too

    def inverse(gate: Gate) -> Gate:
        return _cost_phase(problem, -gate.params[0], n)

    return Gate("cost_phase", range(n), (gamma,), build, True, inverse)


#: The circuit families by name (``"product"``, ``"one-directional"``, ...): the
#: names :func:`make_ansatz` and ``tqsim maxcut --family`` take.
FAMILIES = {
    cls.family: cls
    for cls in (ProductAnsatz, OneDirectionalAnsatz, TwoDirectionalAnsatz, DeepAnsatz, QAOAAnsatz)
}


def make_ansatz(family: str, problem: MaxCutProblem, depth: int | None = None, seed: int | Sequence[int] = 0,
                **options) -> MaxCutAnsatz:
    """A family by name, its angles drawn from ``seed`` (depth None: the family's default).

    ``seed`` a list of seeds gives one batched model: each parameter is the
    stack of the parameters the single seeds would get, and the model
    prepares one batched dense state (``backend`` "dense", or None where that
    chooses dense). :func:`~tqsim.maxcut.train` trains the seeds together and
    returns one result per seed.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    if isinstance(seed, (list, tuple, range)):
        return _batched(family, problem, depth, seed, options)
    generator = torch.Generator().manual_seed(seed)
    cls = FAMILIES[family]
    if depth is None:
        return cls(problem, generator=generator, **options)
    return cls(problem, depth, generator=generator, **options)


def _batched(family: str, problem: MaxCutProblem, depth: int | None, seeds: Sequence[int], options: dict):
    """One model holding the parameters of every seed in ``seeds``, stacked along a new first axis."""
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seed is an empty list; give at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**64:
            raise ValueError(f"seed={list(seeds)} holds {s!r}; seeds are integers in 0..2**64-1")
    twice = sorted(s for s in set(seeds) if seeds.count(s) > 1)
    if twice:
        raise ValueError(f"seed={list(seeds)} lists {', '.join(map(str, twice))} more than once; "
                         f"a batch trains each seed once")
    model = make_ansatz(family, problem, depth, seeds[0], **options)
    if model.backend != "dense":
        hint = ", or backend='dense'" if model.num_qubits <= BRUTE_FORCE_LIMIT else ""
        raise ValueError(f"a batch of seeds trains as one batched dense state; backend {model.backend!r} holds "
                         f"one state (give one seed at a time{hint})")
    models = [model] + [make_ansatz(family, problem, depth, s, **options) for s in seeds[1:]]
    for name, _ in list(model.named_parameters()):
        stacked = torch.stack([getattr(m, name).detach() for m in models])
        setattr(model, name, nn.Parameter(stacked))
    model.seeds = seeds
    return model
