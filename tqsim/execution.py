"""Running circuits that measure, reset and branch on classical bits; counts.

Two ways to run such a circuit:

- pure-state kinds (StateVector, MPS, ProductState, BlockProductState) follow
  one trajectory: each measurement draws its outcome from the caller's
  ``generator`` and projects the state. A batched StateVector runs one
  trajectory per batch entry, all in the same tensor, which is how
  :func:`counts` runs many shots at once;
- a DensityMatrix is exact: it carries one unnormalised matrix per value of
  the classical register seen so far (a classical-quantum state), so a
  conditioned gate acts on exactly the branches whose bits match.

The same seed gives the same bits: every draw is a float64 uniform from the
generator, compared with probabilities computed in a fixed order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import _checks
from .channels import Channel
from .classical import Barrier, Conditioned, Measure, Reset
from .gates import Gate
from .states import MPS, BlockProductState, DensityMatrix, ProductState, StateVector
from .states.base import uniform_draws
from .tensor.contract import contract
from .tensor.flat import apply_matrix

__all__ = ["Result", "simulate", "counts"]

#: memory for the shots of one batched trajectory run in :func:`counts`
_SHOT_BATCH_BYTES = 1 << 28


@dataclass
class Result:
    """What :meth:`tqsim.Circuit.simulate` returns.

    Attributes
    ----------
    state
        The final state: the sampled trajectory's on pure-state kinds, the
        exact mixture over all outcomes on a DensityMatrix.
    bits : torch.Tensor or None
        The classical register, int64 on the CPU, shape ``(num_clbits,)`` (or
        ``(batch, num_clbits)`` for a batched StateVector); ``None`` on a
        DensityMatrix, whose outcomes are not sampled.
    bit_probabilities : dict or None
        On a DensityMatrix, the exact probability of every classical register
        value, keyed by bitstring with clbit 0 first; ``None`` otherwise.
    """

    state: object
    bits: torch.Tensor | None = None
    bit_probabilities: dict[str, float] | None = None


def simulate(circuit, state, generator: torch.Generator | None = None) -> Result:
    """Run ``circuit`` on ``state``; see :meth:`tqsim.Circuit.simulate`."""
    if isinstance(state, DensityMatrix):
        return _exact(circuit, state)
    if not isinstance(state, (StateVector, MPS, ProductState, BlockProductState)):
        raise TypeError(f"cannot run measurements on a {type(state).__name__}")
    if not isinstance(state, StateVector) and getattr(state, "batch_shape", ()):
        raise ValueError(f"a batched {type(state).__name__} cannot follow trajectories; use a StateVector")
    bits = torch.zeros(*state.batch_shape, circuit.num_clbits, dtype=torch.int64)
    for run, op in _segments(circuit.operations):
        if run:
            state = state.evolve(run)
        if op is not None:
            state, bits = _classical_step(state, bits, op, generator)
    return Result(state, bits)


def _segments(operations):
    """``(run of gates and channels, the classical operation after it)`` pairs, the last
    with ``None``; barriers are dropped."""
    run: list = []
    for op in operations:
        if isinstance(op, (Gate, Channel)):
            run.append(op)
        elif not isinstance(op, Barrier):
            yield run, op
            run = []
    yield run, None


def _classical_step(state, bits: torch.Tensor, op, generator):
    """One measurement, reset or conditioned operation on a trajectory."""
    if not isinstance(op, Conditioned):
        return _measure_or_reset(state, bits, op, generator)
    holds = torch.ones(bits.shape[:-1], dtype=torch.bool)
    for bit, wanted in zip(op.bits, op.wanted()):
        holds &= bits[..., bit] == wanted
    if not holds.ndim:  # one trajectory: act or not
        if not bool(holds):
            return state, bits
        inner = op.operation
        if isinstance(inner, Gate):
            return state.evolve([inner]), bits
        return _measure_or_reset(state, bits, inner, generator)
    # a batch of trajectories: compute the acted-on batch, keep it where the condition holds
    inner = op.operation
    if isinstance(inner, Gate):
        acted, acted_bits = state.evolve([inner]), bits
    else:
        acted, acted_bits = _measure_or_reset(state, bits, inner, generator)
    mask = holds.to(state.device)
    amps = torch.where(mask[:, None], acted.amplitudes(), state.amplitudes())
    return StateVector(amps, state.num_qubits), torch.where(holds[:, None], acted_bits, bits)


def _measure_or_reset(state, bits: torch.Tensor, op, generator):
    q = op.qubits[0]
    p1 = _probability_of_one(state, q)
    u = uniform_draws((p1.numel(),), generator, torch.device("cpu")).reshape(p1.shape)
    outcome = (u < p1).to(torch.int64)  # 1 with probability p1 (never when p1 == 0)
    # per trajectory the 2x2 map |o><o| / sqrt(p_o) (measure) or |0><o| / sqrt(p_o) (reset)
    p_o = torch.where(outcome == 1, p1, 1 - p1)
    rows = outcome if isinstance(op, Measure) else torch.zeros_like(outcome)
    matrix = torch.zeros(outcome.numel(), 2, 2, dtype=torch.float64)
    matrix[torch.arange(outcome.numel()), rows.reshape(-1), outcome.reshape(-1)] = 1
    matrix = (matrix / p_o.reshape(-1, 1, 1).sqrt()).reshape(*outcome.shape, 2, 2).to(state.dtype)
    state = _apply_one_qubit(state, q, matrix.to(state.device))
    if isinstance(op, Measure):
        bits = bits.clone()
        bits[..., op.bit] = outcome
    return state, bits


def _probability_of_one(state, q: int) -> torch.Tensor:
    """P(qubit q reads 1) in float64 on the CPU, shape ``batch_shape``."""
    if isinstance(state, StateVector):
        n = state.num_qubits
        amps = state.amplitudes().detach()
        grouped = amps.reshape(*amps.shape[:-1], 1 << q, 2, 1 << (n - 1 - q))[..., 1, :]
        p1 = (grouped.real.square() + grouped.imag.square()).sum((-2, -1))
    else:
        marginal = state.probabilities([q]).detach()
        p1 = marginal[1] / marginal.sum()
    return p1.to(torch.float64).cpu().clamp(0.0, 1.0)


def _apply_one_qubit(state, q: int, matrix: torch.Tensor):
    """``matrix`` (2x2, or one per batch entry) on qubit ``q``; it may be a projection."""
    if isinstance(state, StateVector):
        return StateVector(apply_matrix(state.amplitudes(), matrix, [q]), state.num_qubits)
    if isinstance(state, ProductState):
        vectors = state.vectors.clone()
        vectors[q] = matrix @ vectors[q]
        return ProductState(vectors)
    if isinstance(state, MPS):
        centred = state.canonical(q)  # a map on the centre site leaves the other cores canonical
        cores = list(centred.cores)
        cores[q] = contract("st,atb->asb", matrix, cores[q])
        return MPS._trusted(cores, state.max_bond, state.cutoff, q, state.discarded)
    blocks = []
    for qubits, block in state.blocks():
        if q in qubits:
            block = StateVector.from_array(apply_matrix(block.amplitudes(), matrix, [qubits.index(q)]))
        blocks.append((qubits, block))
    return BlockProductState.from_blocks(blocks)


# ----------------------------------------------------------- density matrices


def _exact(circuit, state: DensityMatrix) -> Result:
    """Branches keyed by the classical register, each an unnormalised density matrix."""
    if state.batch_shape:
        raise ValueError("measurements on a batch of density matrices are not supported; run them one at a time")
    n = state.num_qubits
    branches = {(0,) * circuit.num_clbits: state}
    for run, op in _segments(circuit.operations):
        if run:
            branches = {key: rho.evolve(run) for key, rho in branches.items()}
        if op is None:
            break
        updated: dict[tuple, DensityMatrix] = {}
        for key, rho in branches.items():
            inner, act = op, True
            if isinstance(op, Conditioned):
                inner = op.operation
                act = all(key[b] == w for b, w in zip(op.bits, op.wanted()))
            if not act:
                results = [(key, rho)]
            elif isinstance(inner, Gate):
                results = [(key, rho.evolve([inner]))]
            else:
                results = _split(key, rho, inner, n)
            for k, r in results:
                updated[k] = DensityMatrix(updated[k]._data + r._data, n) if k in updated else r
        branches = updated
    total = sum(rho._data for rho in branches.values())
    probabilities = {
        "".join(map(str, key)): float(rho._data.diagonal().real.sum())
        for key, rho in sorted(branches.items())
    }
    return Result(DensityMatrix(total, n), None, probabilities if circuit.num_clbits else {"": 1.0})


def _split(key: tuple, rho: DensityMatrix, op, n: int) -> list[tuple[tuple, DensityMatrix]]:
    """Measurement (two branches, empty ones dropped) or reset (one branch) of one branch."""
    q = op.qubits[0]
    data = rho._data.reshape(1 << q, 2, 1 << (n - 1 - q), 1 << q, 2, 1 << (n - 1 - q))
    if isinstance(op, Reset):
        out = torch.zeros_like(data)
        out[:, 0, :, :, 0, :] = data[:, 0, :, :, 0, :] + data[:, 1, :, :, 1, :]
        return [(key, DensityMatrix(out.reshape(rho._data.shape), n))]
    results = []
    for outcome in (0, 1):
        part = torch.zeros_like(data)
        part[:, outcome, :, :, outcome, :] = data[:, outcome, :, :, outcome, :]
        part = part.reshape(rho._data.shape)
        if float(part.diagonal().real.sum()) > 0:
            bits = list(key)
            bits[op.bit] = outcome
            results.append((tuple(bits), DensityMatrix(part, n)))
    return results


# ----------------------------------------------------------------- counts


def counts(circuit, shots: int, seed: int | None = None, state=None) -> dict[str, int]:
    """Sample the circuit's classical register ``shots`` times.

    Returns ``{bitstring: count}`` over the outcomes seen, sorted by
    bitstring. **Bit order:** character ``j`` of a bitstring is classical bit
    ``j`` (clbit 0 leftmost, as tqsim writes qubit 0 leftmost). Qiskit writes
    clbit 0 rightmost: ``{k[::-1]: v for k, v in counts(...).items()}`` gives
    its keys (without its spaces between registers).

    Parameters
    ----------
    circuit : Circuit
        Must measure at least one qubit.
    shots : int
        Number of samples, >= 1.
    seed : int, optional
        Seeds a private ``torch.Generator``: the same seed gives the same counts.
    state : optional
        The initial state (default |0...0> as a StateVector). A DensityMatrix
        gives the exact outcome distribution, sampled ``shots`` times.

    When every measurement is terminal (nothing but measurements and barriers
    follow it on its qubit, and the circuit neither resets nor conditions) the
    final state is sampled once for all shots. Otherwise each shot is a
    trajectory; on a StateVector the shots run together as the batch of one
    tensor (in chunks that fit 256 MiB), on other kinds one after another.
    """
    from .circuit import Circuit

    if not isinstance(circuit, Circuit):
        raise TypeError(f"counts expects a Circuit, got {type(circuit).__name__}")
    shots = _checks.positive_int(shots, "shots")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    if not any(isinstance(op.operation if isinstance(op, Conditioned) else op, Measure)
               for op in circuit.operations):
        raise ValueError("the circuit measures no qubit, so there is nothing to count: add c.measure(qubit, bit) "
                         "or c.measure_all()")
    state = circuit._initial(state)
    if getattr(state, "batch_shape", ()):
        raise ValueError(f"counts needs one initial state, got a batch of shape {tuple(state.batch_shape)}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    if isinstance(state, DensityMatrix):
        return _sampled_distribution(_exact(circuit, state).bit_probabilities, shots, generator)
    terminal = _terminal_measurements(circuit)
    if terminal is not None:
        return _terminal_counts(circuit, state, terminal, shots, generator)
    if isinstance(state, StateVector):
        per_shot = state.amplitudes().numel() * state.amplitudes().element_size()
        chunk = max(1, min(shots, _SHOT_BATCH_BYTES // per_shot))
        rows = []
        for start in range(0, shots, chunk):
            size = min(chunk, shots - start)
            batch = StateVector(state.amplitudes().detach().expand(size, -1).contiguous(), state.num_qubits)
            rows.append(simulate(circuit, batch, generator).bits.cpu())
        register = torch.cat(rows)
    else:
        register = torch.stack([simulate(circuit, state, generator).bits.cpu() for _ in range(shots)])
    return _tally(register)


def _terminal_measurements(circuit) -> list[tuple[int, int]] | None:
    """``[(qubit, bit), ...]`` when every measurement is terminal, else None."""
    measured: list[tuple[int, int]] = []
    done: set[int] = set()
    for op in circuit.operations:
        if isinstance(op, (Reset, Conditioned)):
            return None
        if isinstance(op, Measure):
            measured.append((op.qubits[0], op.bit))
            done.add(op.qubits[0])
        elif not isinstance(op, Barrier) and done.intersection(op.qubits):
            return None
    return measured


def _terminal_counts(circuit, state, measured, shots: int, generator) -> dict[str, int]:
    gates = [op for op in circuit.operations if isinstance(op, (Gate, Channel))]
    final = state.evolve(gates)
    if isinstance(final, StateVector):
        n = final.num_qubits
        index = final.sample(shots, generator).cpu()
        outcomes = (index[:, None] >> torch.arange(n - 1, -1, -1)) & 1
    else:
        outcomes = final.sample(shots, generator, bits=True).cpu()
    register = torch.zeros(shots, circuit.num_clbits, dtype=torch.int64)
    for qubit, bit in measured:  # a later write to the same bit wins, as when run in order
        register[:, bit] = outcomes[:, qubit]
    return _tally(register)


def _tally(register: torch.Tensor) -> dict[str, int]:
    """Count the rows of a ``(shots, m)`` 0/1 tensor as bitstrings (clbit 0 first)."""
    m = register.shape[1]
    if m <= 62:
        weights = 2 ** torch.arange(m - 1, -1, -1)
        values, tallies = torch.unique((register * weights).sum(1), return_counts=True)
        return {format(int(v), f"0{m}b") if m else "": int(c) for v, c in zip(values, tallies)}
    rows, tallies = torch.unique(register, dim=0, return_counts=True)
    return {"".join(map(str, row.tolist())): int(c) for row, c in zip(rows, tallies)}


def _sampled_distribution(probabilities: dict[str, float], shots: int, generator) -> dict[str, int]:
    keys = list(probabilities)
    weights = torch.tensor([max(probabilities[k], 0.0) for k in keys], dtype=torch.float64)
    if not math.isfinite(float(weights.sum())) or float(weights.sum()) <= 0:
        raise ValueError("the outcome distribution is empty (the state has zero trace)")
    cdf = torch.cumsum(weights, 0)
    u = uniform_draws((shots,), generator, torch.device("cpu")) * cdf[-1]
    picks = torch.searchsorted(cdf, u, right=True).clamp_(max=len(keys) - 1)
    values, tallies = torch.unique(picks, return_counts=True)
    return {keys[int(v)]: int(c) for v, c in zip(values, tallies)}
