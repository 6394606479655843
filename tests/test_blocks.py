"""BlockProductState against oracles written outside tqsim.

Oracles: dense kets from NumPy Kronecker products of the gates' QuTiP
matrices (``oracles.embed``, ``circuits.oracle_state``); initial block states
put together with ``np.kron`` and an explicit axis permutation; Pauli
expectations as ``<psi|embed(P)|psi>``; marginals by summing the NumPy
probability tensor; sampling against the exact distribution (total-variation
distance, seeded generators); reduced states, entropies, mutual information,
negativity, fidelity and trace distance from QuTiP; Schmidt values from NumPy's
SVD; gradients from central finite differences (and the same loss on a dense
tq.StateVector). The block structure is checked against a union of the gates'
qubit sets computed here.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import qutip
import torch
from circuits import PARAMS, oracle_state, random_circuit
from oracles import embed, qutip_gate, random_state

import tqsim as tq
from tqsim.maxcut.objective import mbe_spins

C128 = torch.complex128
PAULIS = {"X": np.array([[0, 1], [1, 0]], dtype=complex), "Y": np.array([[0, -1j], [1j, 0]]),
          "Z": np.diag([1.0 + 0j, -1.0])}


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny tensors: one intra-op thread (the machine is shared)."""


# ----------------------------------------------------------------- helpers


def group_circuit(n, groups, num_gates, rng, circuit=None, oracle=None):
    """Random gates, each inside one of ``groups``: (tq.Circuit, [(matrix, qubits), ...])."""
    return random_circuit(n, num_gates, rng, groups=groups, circuit=circuit, oracle=oracle)


def add_gate(circuit, oracle, name, qubits, params=()):
    getattr(circuit, name)(*params, *qubits)
    oracle.append((qutip_gate(name, params), list(qubits)))


def expected_blocks(start_groups, gate_qubits):
    """Qubit groups after joining the start groups along every gate's qubits (sets merged by hand)."""
    blocks = [set(g) for g in start_groups]
    for qubits in gate_qubits:
        touched = [b for b in blocks if b & set(qubits)]
        blocks = [b for b in blocks if not b & set(qubits)] + [set().union(*touched)]
    return sorted(tuple(sorted(b)) for b in blocks)


def kron_blocks(blocks, n):
    """Dense ket of ``[(qubits, ket)]``: Kronecker product (factor j is qubit order[j]), axes put in order."""
    order = [q for qubits, _ in blocks for q in qubits]
    psi = functools.reduce(np.kron, [np.asarray(v, dtype=complex) for _, v in blocks])
    return psi.reshape([2] * n).transpose(np.argsort(order)).reshape(-1)


def dense(state) -> np.ndarray:
    return state.to_statevector().amplitudes().detach().numpy().astype(complex)


def block_layout(state):
    return [q for q, _ in state.blocks()]


def shuffled_groups(groups, rng):
    return [[int(q) for q in rng.permutation(g)] for g in groups]


def prepared(dtype, seed=5, groups=((0, 3), (1,), (2, 4, 5)), num_gates=30):
    """A 6-qubit state on ``groups``: random block kets (qubits listed out of order) and random gates
    inside the groups. Returns (BlockProductState, oracle ket as complex128 NumPy)."""
    rng = np.random.default_rng(seed)
    n = sum(len(g) for g in groups)
    start = [(q, random_state(len(q), rng)) for q in shuffled_groups(groups, rng)]
    circuit, oracle = group_circuit(n, [list(g) for g in groups], num_gates, rng)
    state = circuit.run(tq.BlockProductState.from_blocks(start, dtype=dtype))
    return state, oracle_state(n, oracle, kron_blocks(start, n))


def qket(psi):
    n = int(np.log2(psi.size))
    return qutip.Qobj(psi, dims=[[2] * n, [1] * n])


def reordered(rho, keep):
    """A reduced matrix over sorted ``keep`` (QuTiP's ptrace) with its qubits put in the order of ``keep``."""
    k = len(keep)
    axes = [sorted(keep).index(q) for q in keep]
    return rho.reshape([2] * 2 * k).transpose(axes + [k + a for a in axes]).reshape(2**k, 2**k)


def observable_text(terms):
    parts = []
    for coefficient, ops in terms:
        body = " ".join([str(abs(coefficient))] + [f"{p}{q}" for q, p in ops.items()])
        parts.append(("- " if coefficient < 0 else "+ ") + body)
    return " ".join(parts).removeprefix("+ ")


def pauli_oracle(terms, psi, n):
    total = 0.0
    for coefficient, ops in terms:
        if not ops:
            total += coefficient * np.vdot(psi, psi).real
            continue
        qubits = list(ops)
        matrix = functools.reduce(np.kron, [PAULIS[ops[q]] for q in qubits])
        total += coefficient * np.vdot(psi, embed(matrix, qubits, n) @ psi).real
    return total


# ------------------------------------------------- (1) evolution and blocks

CASES = {
    # n, groups, gates joining groups (name, qubits, params), placed between two random halves
    "three-groups": (6, [[0, 3], [1], [2, 4, 5]], []),
    "interleaved": (7, [[6, 0, 2], [5, 1], [3], [4]], []),
    "one-group": (4, [[0, 1, 2, 3]], []),
    "cx-joins-two": (6, [[0, 3], [1, 5], [2, 4]], [("cx", (3, 1), ())]),
    "rzz-and-swap-join": (7, [[0, 1], [2, 3], [4], [5, 6]], [("rzz", (0, 4), (0.7,)), ("swap", (6, 2), ())]),
    "toffoli-joins-three": (6, [[0, 5], [1, 2], [3], [4]], [("ccx", (4, 2, 0), ())]),
}


@pytest.mark.parametrize("start", ["zeros", "blocks"])
@pytest.mark.parametrize("case", list(CASES), ids=str)
def test_circuits_inside_and_across_groups_match_numpy(case, start, dtype, tol):
    n, groups, bridges = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case))
    circuit, oracle = group_circuit(n, groups, 16, rng)
    for name, qubits, params in bridges:
        add_gate(circuit, oracle, name, qubits, params)
    group_circuit(n, groups, 16, rng, circuit, oracle)

    if start == "zeros":
        initial = tq.BlockProductState.zeros(n, dtype=dtype)
        psi0 = np.eye(2**n)[0]
        start_groups = [[q] for q in range(n)]
    else:
        blocks = [(q, random_state(len(q), rng)) for q in shuffled_groups(groups, rng)]
        initial = tq.BlockProductState.from_blocks(blocks, dtype=dtype)
        psi0 = kron_blocks(blocks, n)
        start_groups = groups
    expected = oracle_state(n, oracle, psi0)
    layout = expected_blocks(start_groups, [q for _, q in oracle])

    # in one run, one gate at a time, and in random chunks: the same state and the same blocks
    ops = list(circuit)
    one_by_one = initial
    for op in ops:
        one_by_one = one_by_one.apply(op)
    chunked, i = initial, 0
    while i < len(ops):
        j = i + int(rng.integers(1, 8))
        chunked, i = chunked.evolve(ops[i:j]), j
    for state in (circuit.run(initial), one_by_one, chunked):
        assert state.dtype == dtype and state.num_qubits == n
        assert block_layout(state) == layout
        np.testing.assert_allclose(dense(state), expected, atol=tol)
        # each block is pure: its projector is the oracle's reduced state on the block's qubits
        for qubits, sv in state.blocks():
            ket = sv.amplitudes().numpy()
            rho = qket(expected).ptrace(list(qubits)).full()
            np.testing.assert_allclose(np.outer(ket, ket.conj()), rho, atol=tol)
    # the input state is not modified
    np.testing.assert_allclose(dense(initial), psi0, atol=tol)


def test_a_fully_random_circuit_ends_in_one_block(rng):
    circuit, oracle = random_circuit(5, 30, rng)
    state = circuit.run(tq.BlockProductState.zeros(5, dtype=C128))
    assert block_layout(state) == expected_blocks([[q] for q in range(5)], [q for _, q in oracle]) == [(0, 1, 2, 3, 4)]
    np.testing.assert_allclose(dense(state), oracle_state(5, oracle, np.eye(32)[0]), atol=1e-10)


def test_single_qubit_gates_keep_one_block_per_qubit(rng):
    circuit, oracle = random_circuit(5, 25, rng, names=["h", "rx", "ry", "u3", "t", "sx", "phase"])
    state = circuit.run(tq.BlockProductState.zeros(5, dtype=C128))
    assert block_layout(state) == [(q,) for q in range(5)]
    np.testing.assert_allclose(dense(state), oracle_state(5, oracle, np.eye(32)[0]), atol=1e-10)


# ------------------------------------------------------- (2) from_blocks


@pytest.mark.parametrize("form", ["list", "array", "tensor", "statevector"])
def test_from_blocks_with_qubits_out_of_order_matches_kron_and_permutation(form, dtype, tol, rng):
    groups = [[3, 0], [1], [4, 2, 5]]
    kets = [random_state(len(g), rng) for g in groups]

    def as_form(v):
        return {"list": lambda: v.tolist(), "array": lambda: v, "tensor": lambda: torch.tensor(v),
                "statevector": lambda: tq.StateVector.from_array(v, dtype=C128)}[form]()

    state = tq.BlockProductState.from_blocks([(g, as_form(v)) for g, v in zip(groups, kets)], dtype=dtype)
    assert state.dtype == dtype and state.num_qubits == 6 and state.batch_shape == ()
    np.testing.assert_allclose(dense(state), kron_blocks(list(zip(groups, kets)), 6), atol=tol)
    np.testing.assert_allclose(state.amplitudes().numpy(), kron_blocks(list(zip(groups, kets)), 6), atol=tol)
    # blocks come back by first qubit, qubits ascending, kets permuted to match
    assert block_layout(state) == [(0, 3), (1,), (2, 4, 5)]
    for (qubits, sv), g, v in zip(state.blocks(), [groups[0], groups[1], groups[2]], kets):
        assert qubits == tuple(sorted(g)) and sv.dtype == dtype
        local = v.reshape([2] * len(g)).transpose(np.argsort(g)).reshape(-1)
        np.testing.assert_allclose(sv.amplitudes().numpy(), local, atol=tol)
    assert abs(state.norm().item() - 1) < tol


def test_from_blocks_dtype_defaults_to_the_first_block(rng):
    a = tq.StateVector.from_array(random_state(1, rng), dtype=torch.complex128)
    b = random_state(2, rng).astype(np.complex64)
    assert tq.BlockProductState.from_blocks([([1], a), ([2, 0], b)]).dtype == torch.complex128
    assert tq.BlockProductState.from_blocks([([2, 0], b), ([1], a)]).dtype == torch.complex64
    # the order of the blocks in the list does not change the state; both are converted to the dtype asked for
    s1 = tq.BlockProductState.from_blocks([([1], a), ([2, 0], b)], dtype=torch.complex64)
    s2 = tq.BlockProductState.from_blocks([([2, 0], b), ([1], a)], dtype=torch.complex64)
    assert s1.dtype == s2.dtype == torch.complex64
    np.testing.assert_allclose(dense(s1), kron_blocks([([1], a.amplitudes().numpy()), ([2, 0], b)], 3), atol=1e-6)
    np.testing.assert_allclose(dense(s1), dense(s2), atol=0)


def test_refusing_a_single_precision_block_as_complex128_names_its_real_norm():
    # [0.6, 0.8] in float32 has norm 1 + 2.4e-8, over complex128's tolerance 1.5e-8: refused, but the
    # message must not claim the norm is 1 (wrapped in a complex64 StateVector first, the same ket is accepted)
    ket = np.array([0.6, 0.8], dtype=np.complex64)
    assert tq.BlockProductState.from_blocks([([0], tq.StateVector.from_array(ket))], dtype=C128).dtype == C128
    with pytest.raises(ValueError, match="not 1") as info:
        tq.BlockProductState.from_blocks([([0], ket)], dtype=C128)
    assert "norm 1," not in str(info.value)


def test_properties_and_conversions(rng):
    state, psi = prepared(C128)
    assert state.device == torch.device("cpu") and state.batch_shape == ()
    low = state.to(dtype=torch.complex64)
    assert low.dtype == torch.complex64 and state.dtype == C128  # a copy
    assert block_layout(low) == block_layout(state)
    np.testing.assert_allclose(dense(low), psi, atol=1e-5)
    back = low.to("cpu", C128)
    assert back.dtype == C128
    np.testing.assert_allclose(dense(back), psi, atol=1e-5)
    assert abs(state.norm().item() - 1) < 1e-10
    # norm of an unnormalised block is the product of the block norms (sv built unnormalised by hand)
    scaled = tq.BlockProductState.from_blocks([((0,), tq.StateVector(torch.tensor([0.0, 2.0], dtype=C128), 1)),
                                               ((1,), tq.StateVector(torch.tensor([3.0, 4.0], dtype=C128), 1))])
    assert abs(scaled.norm().item() - 10.0) < 1e-12
    # ... and read-outs keep the dense convention <psi|O|psi>, |psi_i|**2 without normalising
    psi = np.kron([0.0, 2.0], [3.0, 4.0])
    for terms in ([(1.0, {0: "Z"})], [(1.0, {1: "X"})], [(0.5, {0: "Z", 1: "Z"}), (2.0, {})]):
        assert abs(scaled.expectation(observable_text(terms)).item() - pauli_oracle(terms, psi, 2)) < 1e-12
    np.testing.assert_allclose(scaled.probabilities().numpy(), psi**2, atol=1e-12)


# -------------------------------------------- (3) read-out against NumPy

TERMS = [(0.5, {0: "Z", 1: "Z"}), (1.0, {2: "X"}), (-0.3, {1: "Y", 3: "Y"}), (0.2, {0: "X", 2: "Z", 5: "Y"}),
         (0.7, {3: "X", 0: "X"}), (-1.1, {4: "Y", 5: "Z", 2: "Y"}), (2.0, {})]


@pytest.mark.parametrize("kind", ["text", "paulisum", "paulistring"])
def test_expectations_match_numpy(kind, dtype, tol):
    state, psi = prepared(dtype)
    if kind == "text":
        terms, observable = TERMS, observable_text(TERMS)
    elif kind == "paulisum":
        terms = TERMS[:-1]
        observable = tq.PauliSum([tq.PauliString(ops, c) for c, ops in terms])
    else:
        terms = [TERMS[5]]
        observable = tq.PauliString(TERMS[5][1], TERMS[5][0])
    got = state.expectation(observable)
    assert got.dtype == (torch.float64 if dtype == C128 else torch.float32)
    assert abs(got.item() - pauli_oracle(terms, psi, 6)) < 10 * tol


@pytest.mark.parametrize("qubits", [None, [0], [3, 0], [4, 0, 2], [1, 5], [5, 4, 3, 2, 1, 0], [2, 0, 3, 1]], ids=str)
def test_probabilities_and_marginals_in_the_order_given(qubits, dtype, tol):
    state, psi = prepared(dtype)
    probs = np.abs(psi) ** 2
    if qubits is None:
        expected = probs
    else:
        tensor = probs.reshape([2] * 6).sum(axis=tuple(q for q in range(6) if q not in qubits))
        expected = tensor.transpose(np.argsort(np.argsort(qubits))).reshape(-1)
        # check the oracle itself on one entry: P(q_a = 1, rest 0) summed by hand
        index = [i for i in range(64) if all(((i >> (5 - q)) & 1) == (q == qubits[0]) for q in qubits)]
        assert abs(expected[1 << (len(qubits) - 1)] - probs[index].sum()) < 1e-12
    got = state.probabilities(qubits)
    assert got.shape == (2 ** (6 if qubits is None else len(qubits)),)
    np.testing.assert_allclose(got.numpy(), expected, atol=tol)


def test_probability_of_bitstrings(dtype, tol, rng):
    state, psi = prepared(dtype)
    for index in rng.choice(64, size=6, replace=False):
        text = format(int(index), "06b")
        assert abs(state.probability(text).item() - abs(psi[index]) ** 2) < tol
        assert abs(state.probability([int(b) for b in text]).item() - abs(psi[index]) ** 2) < tol


def test_sampling_matches_the_exact_distribution():
    state, psi = prepared(C128, seed=11)
    probs = np.abs(psi) ** 2
    shots = 40000
    samples = state.sample(shots, generator=torch.Generator().manual_seed(7))
    assert samples.shape == (shots,) and samples.dtype == torch.long
    freq = np.bincount(samples.numpy(), minlength=64) / shots
    # expected TV distance for 64 outcomes and 4e4 shots is about 0.01
    assert 0.5 * np.abs(freq - probs).sum() < 0.025
    bits = state.sample(shots, generator=torch.Generator().manual_seed(8), bits=True)
    assert bits.shape == (shots, 6) and set(np.unique(bits.numpy())) <= {0, 1}
    indices = bits.numpy() @ (2 ** np.arange(5, -1, -1))
    freq = np.bincount(indices, minlength=64) / shots
    assert 0.5 * np.abs(freq - probs).sum() < 0.025
    # seeded: the same generator seed gives the same draws
    again = state.sample(shots, generator=torch.Generator().manual_seed(7))
    assert torch.equal(again, samples)


def test_sampled_bits_keep_correlations_inside_a_block(rng):
    # a Bell pair on qubits 4 and 1 (listed 4 first), an independent |1> on 2 and random kets elsewhere
    bell = np.array([1, 0, 0, 1]) / np.sqrt(2)
    state = tq.BlockProductState.from_blocks(
        [([4, 1], bell), ([2], [0, 1]), ([3, 0], random_state(2, rng))], dtype=C128)
    bits = state.sample(2000, generator=torch.Generator().manual_seed(1), bits=True).numpy()
    assert (bits[:, 4] == bits[:, 1]).all()
    assert (bits[:, 2] == 1).all()
    assert 0.4 < bits[:, 1].mean() < 0.6


def test_many_qubits_read_out_without_a_dense_state():
    # 100 qubits in RY(theta_q)|0>: nothing dense is built, everything is known in closed form
    n = 100
    theta = np.linspace(0.1, 3.0, n)
    c = tq.Circuit(n)
    for q in range(n):
        c.ry(float(theta[q]), q)
    c.x(7)
    state = c.run(tq.BlockProductState.zeros(n, dtype=C128))
    z = np.cos(theta)
    z[7] = -z[7]
    assert abs(state.expectation("Z0 Z99 + 0.5 X3 - Z7").item()
               - (z[0] * z[99] + 0.5 * np.sin(theta[3]) - z[7])) < 1e-12
    p1 = np.sin(theta / 2) ** 2
    p1[7] = 1 - p1[7]
    marginal = state.probabilities([99, 7])
    np.testing.assert_allclose(marginal.numpy(), np.outer([1 - p1[99], p1[99]], [1 - p1[7], p1[7]]).reshape(-1),
                               atol=1e-12)
    bits = state.sample(4000, generator=torch.Generator().manual_seed(0), bits=True).numpy()
    assert bits.shape == (4000, n)
    assert np.abs(bits.mean(0) - p1).max() < 0.05  # 4000 shots: standard error <= 0.008
    # the blocks (one stack of 100 singletons) are drawn independently: P(1, 1) on qubits 50 and 52 is a product
    assert abs((bits[:, 50] * bits[:, 52]).mean() - p1[50] * p1[52]) < 0.04
    with pytest.raises(ValueError, match="overflow int64; pass bits=True"):
        state.sample(10)


# ------------------------------------------------- (4) quantum information

SUBSYSTEMS = [[0], [3, 0], [1, 2], [4, 0, 1], [5, 2, 4], [2, 3, 4, 5], [5, 4, 3, 2, 1, 0]]


@pytest.mark.parametrize("keep", SUBSYSTEMS, ids=str)
def test_partial_trace_matches_qutip(keep, dtype, tol):
    state, psi = prepared(dtype)
    rho = tq.partial_trace(state, keep)
    assert isinstance(rho, tq.DensityMatrix) and rho.num_qubits == len(keep)
    expected = reordered(qket(psi).ptrace(sorted(keep)).full(), keep)
    np.testing.assert_allclose(rho.matrix().numpy(), expected, atol=tol)


@pytest.mark.parametrize("subsystem", SUBSYSTEMS, ids=str)
def test_entropies_and_purity_match_qutip(subsystem, dtype, tol):
    state, psi = prepared(dtype)
    reduced = qket(psi).ptrace(sorted(subsystem))
    lam = np.clip(np.linalg.eigvalsh(reduced.full()), 0, None)
    expected = {
        (1, math.e): qutip.entropy_vn(reduced),
        (1, 2): qutip.entropy_vn(reduced, base=2),
        (2, math.e): -np.log(np.sum(lam**2)),
        (0.5, 2): 2 * np.log2(np.sum(np.sqrt(lam[lam > 1e-12]))),
        (float("inf"), math.e): -np.log(lam.max()),
    }
    # x log x near small eigenvalues amplifies single-precision errors
    atol = 1e-9 if dtype == C128 else 2e-4
    for (alpha, base), value in expected.items():
        got = tq.entropy(state, subsystem, alpha=alpha, base=base).item()
        assert abs(got - value) < atol, (alpha, base, got, value)
    assert abs(tq.purity(state, subsystem).item() - (reduced * reduced).tr().real) < 10 * tol


PAIRS = [([0], [3]), ([0], [1]), ([0, 1], [2, 3]), ([4], [5, 2]), ([3, 2], [0, 5, 1]), ([2], [4, 5])]


@pytest.mark.parametrize("a,b", PAIRS, ids=str)
def test_mutual_information_and_negativity_match_qutip(a, b, dtype):
    state, psi = prepared(dtype)
    ket = qket(psi)
    ab = sorted(a + b)
    rho_ab = ket.ptrace(ab)
    mi = qutip.entropy_mutual(rho_ab, [ab.index(q) for q in a], [ab.index(q) for q in b])
    # QuTiP's negativity transposes one party of a bipartite state: put a, then b, as two subsystems
    grouped = reordered(rho_ab.full(), a + b)
    da, db = 2 ** len(a), 2 ** len(b)
    bipartite = qutip.Qobj(grouped, dims=[[da, db], [da, db]])
    atol = 1e-9 if dtype == C128 else 2e-4
    assert abs(tq.mutual_information(state, a, b).item() - mi) < atol
    assert abs(tq.mutual_information(state, a, b, base=2).item() - mi / np.log(2)) < atol
    # QuTiP's default 'tracenorm' method takes sqrtm of a rank-deficient matrix (errors ~1e-8): use eigenvalues
    negativity = qutip.negativity(bipartite, 0, method="eigenvalues")
    log_negativity = qutip.negativity(bipartite, 0, method="eigenvalues", logarithmic=True)
    assert abs(tq.negativity(state, a, b).item() - negativity) < atol
    assert abs(tq.log_negativity(state, a, b).item() - log_negativity) < atol
    if not {q for g in ((0, 3), (1,), (2, 4, 5)) if set(g) & set(a) for q in g} & set(b):
        assert abs(mi) < atol  # no block shared: the oracle itself says independent


def test_fidelity_and_trace_distance_match_qutip(dtype, tol):
    a, psi_a = prepared(dtype, seed=1)
    b, psi_b = prepared(dtype, seed=2)  # the same block structure
    c, psi_c = prepared(dtype, seed=3, groups=((0, 1), (2, 5), (3, 4)))  # a different one
    assert block_layout(a) == block_layout(b) != block_layout(c)
    for other, psi in ((b, psi_b), (c, psi_c), (a, psi_a)):
        expected = qutip.fidelity(qket(psi_a), qket(psi)) ** 2
        # qutip.tracedist sums square roots of ~1e-17 eigenvalues (errors ~1e-7): NumPy's eigvalsh instead
        difference = np.outer(psi_a, psi_a.conj()) - np.outer(psi, psi.conj())
        distance = 0.5 * np.abs(np.linalg.eigvalsh(difference)).sum()
        assert abs(distance - qutip.tracedist(qutip.ket2dm(qket(psi_a)), qutip.ket2dm(qket(psi)))) < 1e-6
        sv = other.to_statevector()
        for y in (other, sv, tq.DensityMatrix.from_state(sv), tq.MPS.from_statevector(sv, cutoff=0)):
            assert abs(tq.fidelity(a, y).item() - expected) < 10 * tol
            assert abs(tq.fidelity(y, a).item() - expected) < 10 * tol
            # sqrt(1 - F) amplifies rounding where F is 1
            assert abs(tq.trace_distance(a, y).item() - distance) < (10 * tol if other is not a else math.sqrt(tol))
    assert abs(qutip.fidelity(qket(psi_a), qket(psi_b)) ** 2 - 1) > 1e-3  # not a trivial case


@pytest.mark.parametrize("groups", [((0, 3), (1,), (2, 4, 5)), ((0, 1, 2, 3, 4, 5),), ((0,), (1, 2), (3,), (4, 5))],
                         ids=["cuts-blocks", "one-block", "aligned"])
def test_schmidt_values_match_numpy_svd(groups, dtype, tol):
    state, psi = prepared(dtype, groups=groups)
    for cut in range(1, 6):
        got = tq.schmidt_values(state, cut).numpy()
        expected = np.linalg.svd(psi.reshape(2**cut, -1), compute_uv=False)
        threshold = 1e-8 if dtype == C128 else 1e-4
        expected = expected[expected > threshold]
        assert np.all(np.diff(got) <= 1e-12)  # descending
        got = got[got > threshold]
        assert got.shape == expected.shape, (cut, got, expected)
        np.testing.assert_allclose(got, expected, atol=10 * tol)


def test_qubit_states_and_mbe_spins_match_qutip(dtype, tol):
    state, psi = prepared(dtype)
    rhos = tq.qubit_states(state)
    assert rhos.shape == (6, 2, 2)
    ket = qket(psi)
    for q in range(6):
        np.testing.assert_allclose(rhos[q].numpy(), ket.ptrace([q]).full(), atol=tol)
    z = [pauli_oracle([(1.0, {q: "Z"})], psi, 6) for q in range(6)]
    x = [pauli_oracle([(1.0, {q: "X"})], psi, 6) for q in range(6)]
    np.testing.assert_allclose(mbe_spins(state, 11).numpy(), (z + x)[:11], atol=10 * tol)


# --------------------------------------------------------- (5) gradients


def gradient_circuit(theta, n=5):
    """Groups {0, 2}, {1, 3}, {4}; every angle a tensor."""
    c = tq.Circuit(n)
    c.ry(theta[0], 0).ry(theta[1], 2).cx(0, 2).rx(theta[2], 1).crz(theta[3], 1, 3).ry(theta[4], 3)
    c.u3(theta[5], theta[6], 0.4, 4).rzz(theta[7], 3, 1).ry(theta[8], 0).rxx(theta[9], 2, 0).h(4).rz(theta[10], 4)
    c.cry(theta[11], 2, 0).ryy(theta[12], 1, 3)
    return c


WEIGHTS = torch.tensor([0.3, -0.7, 1.1, 0.2, -0.4, 0.9, 0.5, -1.3, 0.6], dtype=torch.float64)


def information_loss(state):
    return (state.expectation("Z0 Z2 + 0.5 X1 Y3 - 0.7 Z4 + X0 X1 + 0.3 Y2 Z3 X4")
            + tq.entropy(state, [0, 1])
            + 0.5 * tq.entropy(state, [2, 3, 4], alpha=2)
            + 0.4 * tq.purity(state, [3, 0])
            + (WEIGHTS * mbe_spins(state, 9)).sum())


def central_differences(f, theta, h=1e-5):
    grad = np.zeros(theta.numel())
    for i in range(theta.numel()):
        step = torch.zeros_like(theta)
        step[i] = h
        grad[i] = (f(theta + step).item() - f(theta - step).item()) / (2 * h)
    return grad


def test_gradients_match_finite_differences_and_the_dense_state():
    theta = torch.tensor(np.random.default_rng(3).uniform(-2, 2, 13), dtype=torch.float64, requires_grad=True)

    def loss(t, kind="blocks"):
        start = tq.BlockProductState.zeros(5, dtype=C128) if kind == "blocks" else tq.StateVector.zeros(5, dtype=C128)
        return information_loss(gradient_circuit(t).run(start))

    state = gradient_circuit(theta).run(tq.BlockProductState.zeros(5, dtype=C128))
    assert block_layout(state) == [(0, 2), (1, 3), (4,)]
    value = loss(theta)
    grad = torch.autograd.grad(value, theta)[0].numpy()
    dense_value = loss(theta, "dense")
    dense_grad = torch.autograd.grad(dense_value, theta)[0].numpy()
    assert abs(value.item() - dense_value.item()) < 1e-10
    np.testing.assert_allclose(grad, dense_grad, atol=1e-10)
    with torch.no_grad():
        fd = central_differences(loss, theta.detach())
    assert np.abs(fd).max() > 0.1  # not a vacuous check
    np.testing.assert_allclose(grad, fd, atol=1e-7)


def test_gradients_through_stacked_gates_and_block_amplitudes():
    # pairs (0,1), (2,3), (4,5), (6,7) see the same gate kinds: one stack, angles gathered into batched gates;
    # a few angles are floats or float32 tensors (mixed stacking), and the start kets depend on phi
    rng = np.random.default_rng(4)
    theta = torch.tensor(rng.uniform(-2, 2, 20), dtype=torch.float64, requires_grad=True)
    phi = torch.tensor([0.7, -0.4], dtype=torch.float64, requires_grad=True)
    angle32 = torch.tensor(0.9, dtype=torch.float32, requires_grad=True)

    def circuit(t, a32):
        c = tq.Circuit(8)
        for q in range(8):
            c.ry(0.25 if q == 5 else (a32 if q == 2 else t[q]), q)
        for j in range(4):
            c.crz(t[8 + j], 2 * j, 2 * j + 1)
        for q in range(8):
            c.rx(t[12 + q], q)
        return c

    def start_kets(p):
        a = torch.stack([torch.cos(p[0]).to(C128), torch.sin(p[0]) * torch.exp(1j * p[1])])
        # a two-qubit ket over (6, 1) that depends on phi: a (x) b with a fixed b, listed as [6, 1]
        b = torch.tensor([0.6, 0.8j], dtype=C128)
        return a, torch.kron(a, b)

    def loss(t, p, a32=angle32, kind="blocks"):
        a, ab = start_kets(p)
        blocks = [([3], a), ([6, 1], ab)] + [([q], torch.tensor([1, 0], dtype=C128)) for q in (0, 2, 4, 5, 7)]
        start = tq.BlockProductState.from_blocks(blocks)
        if kind == "dense":  # the start ket by hand: qubit 3 is a, 6 is a, 1 is b; others |0>
            factors = {q: torch.tensor([1, 0], dtype=C128) for q in range(8)}
            factors[3], factors[6], factors[1] = a, a, torch.tensor([0.6, 0.8j], dtype=C128)
            psi = functools.reduce(torch.kron, [factors[q] for q in range(8)])
            start = tq.StateVector(psi, 8)
        state = circuit(t, a32).run(start)
        return (state.expectation("Z0 Z1 + X2 X3 + Y4 Z5 + Z6 X7 + X1 Z2 - 0.5 Y3 Y6")
                + tq.entropy(state, [1, 2]) + tq.entropy(state, [7]) + (WEIGHTS[:8] * mbe_spins(state, 8)).sum())

    # the structure claim, on a start made of singletons only
    layered = circuit(theta, angle32).run(tq.BlockProductState.zeros(8, dtype=C128))
    assert len(layered.stacks) == 1 and layered.stacks[0].qubits == ((0, 1), (2, 3), (4, 5), (6, 7))

    value = loss(theta, phi)
    grads = torch.autograd.grad(value, (theta, phi, angle32))
    dense_value = loss(theta, phi, kind="dense")
    dense_grads = torch.autograd.grad(dense_value, (theta, phi, angle32))
    assert abs(value.item() - dense_value.item()) < 1e-10
    for g, d in zip(grads, dense_grads):
        np.testing.assert_allclose(g.numpy(), d.numpy(), atol=1e-9)
    with torch.no_grad():
        fd_theta = central_differences(lambda t: loss(t, phi), theta.detach())
        fd_phi = central_differences(lambda p: loss(theta, p), phi.detach())
    np.testing.assert_allclose(grads[0].numpy(), fd_theta, atol=1e-7)
    np.testing.assert_allclose(grads[1].numpy(), fd_phi, atol=1e-7)
    assert grads[0][5].item() == 0  # qubit 5's first angle is the float 0.25: theta[5] is unused
    assert abs(grads[2].item()) > 1e-3


# ------------------------------------------------------------ (6) stacking


def ry_np(t):
    return qutip_gate("ry", (t,))


def test_layered_pairs_on_twenty_qubits_are_one_stack():
    n = 20
    rng = np.random.default_rng(9)
    first, second = rng.uniform(-np.pi, np.pi, n), rng.uniform(-np.pi, np.pi, n)
    layers = [tq.Circuit(n), tq.Circuit(n), tq.Circuit(n)]
    for q in range(n):
        layers[0].ry(float(first[q]), q)
        layers[2].ry(float(second[q]), q)
    for q in range(0, n, 2):
        layers[1].cz(q, q + 1)
    whole = layers[0].compose(layers[1]).compose(layers[2])
    state = whole.run(tq.BlockProductState.zeros(n, dtype=C128))
    stepwise = tq.BlockProductState.zeros(n, dtype=C128)
    for layer in layers:
        stepwise = layer.run(stepwise)
    cz = qutip_gate("cz", ())
    pair_kets = []
    for j in range(n // 2):
        ket = np.kron(ry_np(second[2 * j]), ry_np(second[2 * j + 1])) @ cz @ np.kron(
            ry_np(first[2 * j]), ry_np(first[2 * j + 1]))[:, 0]
        pair_kets.append(ket)
    for s in (state, stepwise):
        assert len(s.stacks) == 1
        assert s.stacks[0].qubits == tuple((q, q + 1) for q in range(0, n, 2))
        assert tuple(s.stacks[0].amplitudes.shape) == (10, 4)
        for j, (qubits, sv) in enumerate(s.blocks()):
            assert qubits == (2 * j, 2 * j + 1)
            np.testing.assert_allclose(sv.amplitudes().numpy(), pair_kets[j], atol=1e-12)
    # read-outs as products over the pairs (2**20 amplitudes never needed)
    zz = [np.vdot(k, np.kron(PAULIS["Z"], PAULIS["Z"]) @ k).real for k in pair_kets]
    x0 = np.vdot(pair_kets[3], np.kron(PAULIS["X"], np.eye(2)) @ pair_kets[3]).real
    assert abs(state.expectation("Z0 Z1 + Z18 Z19 + X6").item() - (zz[0] + zz[9] + x0)) < 1e-12
    bits = "01" * 10
    assert abs(state.probability(bits).item() - np.prod([abs(k[1]) ** 2 for k in pair_kets])) < 1e-15


def test_different_gate_sequences_get_different_stacks_and_the_right_state(dtype, tol):
    n = 13
    rng = np.random.default_rng(12)
    c, oracle_per_block = tq.Circuit(n), {}

    def pair(qubits, sequence):
        ops = []
        for name, local in sequence:
            params = (float(rng.uniform(-np.pi, np.pi)),) * PARAMS.get(name, 0)
            qs = [qubits[i] for i in local]
            getattr(c, name)(*params, *qs)
            ops.append((qutip_gate(name, params), list(local)))
        oracle_per_block[tuple(qubits)] = ops

    base = [("ry", [0]), ("ry", [1]), ("cz", [0, 1]), ("ry", [0]), ("ry", [1])]
    pair([0, 1], base)                                   # A
    pair([4, 5], base)                                   # B: same kinds as A, other angles
    pair([2, 3], [("rx", [0])] + base[1:])              # C: rx first
    pair([6, 7], base[:2] + [("cx", [0, 1])] + base[3:])  # D: cx in the middle
    pair([8, 9], base[:4])                               # E: one gate fewer
    pair([10], [("h", [0])])                             # F
    oracle_per_block[(11,)] = oracle_per_block[(12,)] = []  # G, H: untouched

    state = c.run(tq.BlockProductState.zeros(n, dtype=dtype))
    stacks = {frozenset(s.qubits) for s in state.stacks}
    assert stacks == {frozenset({(0, 1), (4, 5)}), frozenset({(2, 3)}), frozenset({(6, 7)}), frozenset({(8, 9)}),
                      frozenset({(10,)}), frozenset({(11,), (12,)})}
    blocks = [(q, oracle_state(len(q), ops, np.eye(2 ** len(q))[0])) for q, ops in oracle_per_block.items()]
    np.testing.assert_allclose(dense(state), kron_blocks(blocks, n), atol=tol)
    for qubits, sv in state.blocks():
        ket = dict(blocks)[qubits]
        np.testing.assert_allclose(sv.amplitudes().numpy(), ket, atol=tol)


def test_sampling_a_stack_of_blocks_matches_the_exact_distribution():
    # four pairs in one stack: samples of different blocks must be independent draws
    n = 8
    rng = np.random.default_rng(21)
    first, second = rng.uniform(-np.pi, np.pi, n), rng.uniform(-np.pi, np.pi, n)
    c = tq.Circuit(n)
    for q in range(n):
        c.ry(float(first[q]), q)
    for q in range(0, n, 2):
        c.cx(q, q + 1)
    for q in range(n):
        c.ry(float(second[q]), q)
    state = c.run(tq.BlockProductState.zeros(n, dtype=C128))
    assert len(state.stacks) == 1 and len(state.stacks[0].qubits) == 4
    cx = qutip_gate("cx", ())
    kets = [(np.kron(ry_np(second[q]), ry_np(second[q + 1])) @ cx @ np.kron(ry_np(first[q]), ry_np(first[q + 1])))[:, 0]
            for q in range(0, n, 2)]
    probs = np.abs(functools.reduce(np.kron, kets)) ** 2
    shots = 100_000
    samples = state.sample(shots, generator=torch.Generator().manual_seed(5))
    freq = np.bincount(samples.numpy(), minlength=2**n) / shots
    assert 0.5 * np.abs(freq - probs).sum() < 0.04  # at most about 0.02 expected for 256 outcomes


def test_blocks_joined_from_shared_stacks_in_different_qubit_patterns():
    # step 1 leaves two stacks: pairs {(0,3), (4,5)} and singletons {1, 2, 6}; step 2 joins (0,3)+1 -> (0,1,3)
    # (kets interleaved: qubits 0,3,1) and (4,5)+6 -> (4,5,6) (in order), with the same gate kinds on the same
    # local qubits: one new stack whose rows are gathered from the same stacks in two qubit patterns
    n = 7
    rng = np.random.default_rng(2)
    step1, oracle = tq.Circuit(n), []
    for q in range(n):
        add_gate(step1, oracle, "ry", [q], (float(rng.uniform(-3, 3)),))
    add_gate(step1, oracle, "cz", [0, 3])
    add_gate(step1, oracle, "cz", [4, 5])
    for q in (0, 3, 4, 5):
        add_gate(step1, oracle, "rx", [q], (float(rng.uniform(-3, 3)),))
    state = step1.run(tq.BlockProductState.zeros(n, dtype=C128))
    assert {frozenset(s.qubits) for s in state.stacks} == {frozenset({(0, 3), (4, 5)}),
                                                           frozenset({(1,), (2,), (6,)})}
    step2 = tq.Circuit(n)
    add_gate(step2, oracle, "cry", [3, 1], (float(rng.uniform(-3, 3)),))
    add_gate(step2, oracle, "cry", [6, 5], (float(rng.uniform(-3, 3)),))
    add_gate(step2, oracle, "h", [1])
    add_gate(step2, oracle, "h", [5])
    state = step2.run(state)
    assert block_layout(state) == [(0, 1, 3), (2,), (4, 5, 6)]
    assert frozenset({(0, 1, 3), (4, 5, 6)}) in {frozenset(s.qubits) for s in state.stacks}
    np.testing.assert_allclose(dense(state), oracle_state(n, oracle, np.eye(2**n)[0]), atol=1e-12)


def test_running_a_circuit_and_its_inverse_returns_to_zeros(rng, dtype, tol):
    circuit, _ = group_circuit(6, [[0, 3], [1], [2, 4, 5]], 30, rng)
    state = tq.BlockProductState.zeros(6, dtype=dtype).evolve(circuit)
    back = circuit.inverse().run(state)
    assert abs(back.probability("000000").item() - 1) < 10 * tol
    assert abs(back.expectation("Z0 + Z1 + Z2 + Z3 + Z4 + Z5").item() - 6) < 10 * tol


# ----------------------------------------------------------- (7) bad input


def _three():
    return tq.BlockProductState.zeros(3)


BAD = {
    "overlap": (lambda: tq.BlockProductState.from_blocks([([0, 1], [1, 0, 0, 0]), ([1, 2], [1, 0, 0, 0])]),
                ValueError, r"block qubits \[0, 1, 1, 2\] must cover 0..n-1, each qubit once"),
    "gap": (lambda: tq.BlockProductState.from_blocks([([0], [1, 0]), ([2], [1, 0])]),
            ValueError, r"block qubits \[0, 2\] must cover 0..n-1"),
    "repeat-in-a-block": (lambda: tq.BlockProductState.from_blocks([([0, 0], [1, 0, 0, 0])]),
                          ValueError, r"block qubits \[0, 0\] repeat a qubit"),
    "wrong-size": (lambda: tq.BlockProductState.from_blocks([([0, 1], [1, 0]), ([2], [1, 0])]),
                   ValueError, r"block on qubits \[0, 1\] has a state of 1 qubits; it needs 2"),
    "batched": (lambda: tq.BlockProductState.from_blocks([([0], tq.StateVector.zeros(1)),
                                                          ([1], tq.StateVector.random(1, batch=2))]),
                ValueError, r"block on qubits \[1\] holds a batch \(2,\); blocks hold one state each"),
    "unnormalised": (lambda: tq.BlockProductState.from_blocks([([0], [1, 1])]), ValueError, "not 1"),
    "negative-qubit": (lambda: tq.BlockProductState.from_blocks([([0], [1, 0]), ([-1], [1, 0])]), IndexError,
                       r"qubit -1 in block qubits \[-1\] is negative"),
    "empty": (lambda: tq.BlockProductState.from_blocks([]), ValueError, "non-empty sequence of"),
    "non-pair": (lambda: tq.BlockProductState.from_blocks([([0], [1, 0], "extra")]), ValueError,
                 r"non-empty sequence of \(qubits, state\) pairs"),
    "not-a-sequence": (lambda: tq.BlockProductState.from_blocks(5), TypeError,
                       r"blocks must be a sequence of \(qubits, state\) pairs, got 5"),
    "zero-qubits": (lambda: tq.BlockProductState.zeros(0), ValueError, "number of qubits must be >= 1"),
    "channel": (lambda: _three().apply(tq.channels.depolarizing(0.1, 0)), TypeError,
                r"channel depolarizing needs a mixed state: run the circuit on tq.DensityMatrix.zeros\(3\)"),
    "channel-in-circuit": (lambda: tq.Circuit(3).h(0).amplitude_damping(0.2, 1).run(_three()), TypeError,
                           "needs a mixed state"),
    "batched-gate": (lambda: _three().apply(tq.gates.ry(torch.zeros(3), 0)), ValueError,
                     r"is batched \(shape \(3,\)\); a BlockProductState holds one state"),
    "qubit-out-of-range": (lambda: _three().apply(tq.gates.cx(0, 3)), IndexError,
                           r"cx qubit 3 out of range for 3 qubits \(allowed 0..2\)"),
    "not-a-gate": (lambda: _three().evolve(["h"]), TypeError, "expected gates or channels, got str"),
    "nan-angle": (lambda: _three().apply(tq.gates.rx(torch.tensor(float("nan")), 0)), ValueError,
                  "must be finite"),
    "wrong-circuit-size": (lambda: tq.Circuit(4).h(0).run(_three()), ValueError,
                           "state has 3 qubits but the circuit acts on 4"),
    "probabilities-empty": (lambda: _three().probabilities([]), ValueError, "qubits is empty"),
    "probabilities-range": (lambda: _three().probabilities([0, 3]), IndexError, "qubit 3 out of range"),
    "probability-length": (lambda: _three().probability("01"), ValueError, "bits must be 3 values of 0 or 1"),
    "dense-31": (lambda: tq.BlockProductState.zeros(31).to_statevector(), ValueError,
                 "a dense state of 31 qubits does not fit; keep n <= 30"),
    "probabilities-31": (lambda: tq.BlockProductState.zeros(31).probabilities(), ValueError,
                         "a distribution over 31 qubits does not fit"),
    "sample-0": (lambda: _three().sample(0), ValueError, "shots must be >= 1, got 0"),
    "sample-float": (lambda: _three().sample(2.5), TypeError, "shots must be an int"),
    "expectation-range": (lambda: _three().expectation("Z0 X5"), IndexError, "names qubit 5, out of range"),
    "partial-trace-range": (lambda: tq.partial_trace(_three(), [0, 3]), IndexError,
                            r"keep qubit 3 out of range for 3 qubits"),
    "partial-trace-repeat": (lambda: tq.partial_trace(_three(), [1, 1]), ValueError, "repeat a qubit"),
    "partial-trace-too-big": (lambda: tq.partial_trace(tq.BlockProductState.zeros(15), range(15)), ValueError,
                              "keep at most 14 qubits"),
    "entropy-empty": (lambda: tq.entropy(_three(), []), ValueError, "subsystem is empty"),
    "entropy-range": (lambda: tq.entropy(_three(), [3]), IndexError, "subsystem qubit 3 out of range"),
    "entropy-alpha": (lambda: tq.entropy(_three(), [0], alpha=0), ValueError, r"alpha must be a number > 0"),
    "entropy-base": (lambda: tq.entropy(_three(), [0], base=1), ValueError, "base must be a positive number"),
    "purity-negative": (lambda: tq.purity(_three(), [-1]), IndexError, "is negative"),
    "purity-not-int": (lambda: tq.purity(_three(), [0.5]), TypeError, "subsystem must be ints"),
    "mutual-overlap": (lambda: tq.mutual_information(_three(), [0, 1], [1]), ValueError,
                       r"share qubits \[1\]; they must be disjoint"),
    "negativity-overlap": (lambda: tq.negativity(_three(), [2], [2, 0]), ValueError, "must be disjoint"),
    "log-negativity-empty": (lambda: tq.log_negativity(_three(), [], [0]), ValueError, "subsystem a is empty"),
    "schmidt-cut": (lambda: tq.schmidt_values(_three(), 3), ValueError, r"cut must be an int in 1..2, got 3"),
    "fidelity-size": (lambda: tq.fidelity(_three(), tq.BlockProductState.zeros(2)), ValueError,
                      "states have 3 and 2 qubits"),
    "fidelity-dtype": (lambda: tq.fidelity(_three(), tq.BlockProductState.zeros(3, dtype=C128)), ValueError,
                       "dtypes"),
    "info-not-a-state": (lambda: tq.qubit_states(np.zeros(8)), TypeError, "expected a StateVector"),
    "gate-on-wrong-count": (lambda: tq.gates.cx(0, 1).on([0, 1, 2]), ValueError, r"acts on 2 qubit\(s\); got 3"),
    "inner-not-blocks": (lambda: _three().inner(tq.StateVector.zeros(3)), TypeError, "expected a BlockProductState"),
    "inner-size": (lambda: _three().inner(tq.BlockProductState.zeros(4)), ValueError, "states have 3 and 4 qubits"),
    "inner-groups-too-big": (lambda: _chain(32, range(0, 16)).inner(_chain(32, range(15, 31))),
                             ValueError, "join 32 qubits into one group; an overlap needs groups of at most 30"),
    "from-product-not-product": (lambda: tq.BlockProductState.from_product(tq.StateVector.zeros(2)), TypeError,
                                 "expected a ProductState"),
}


def _chain(n, controls):
    """CX(q, q+1) for q in ``controls``: one block over the chain (17 qubits for 16 controls)."""
    return tq.BlockProductState.zeros(n).evolve([tq.gates.cx(q, q + 1) for q in controls])


def _few_qubit_oracle(n_small, gates):
    """The ket of the first n_small qubits after (matrix, qubits) gates, by Kronecker products."""
    psi = np.zeros(2**n_small, dtype=complex)
    psi[0] = 1
    for matrix, qubits in gates:
        psi = embed(matrix, qubits, n_small) @ psi
    return psi


def test_overlaps_across_different_groupings_need_no_dense_state():
    # 40 qubits, only qubits 0..5 touched: A joins (0, 1) and (4, 5), B joins (1, 2) and (3, 4)
    n = 40
    ry = lambda t: qutip_gate("ry", (t,))  # noqa: E731
    cx, h = qutip_gate("cx", ()), qutip_gate("h", ())
    a_gates = [(h, [0]), (cx, [0, 1]), (ry(0.7), [4]), (cx, [4, 5]), (ry(0.3), [3])]
    b_gates = [(ry(0.4), [1]), (cx, [1, 2]), (ry(1.1), [3]), (cx, [3, 4]), (h, [0])]
    states = []
    for gates in (a_gates, b_gates):
        c = tq.Circuit(n)
        for matrix, qubits in gates:
            c.unitary(matrix, qubits)
        states.append(c.run(tq.BlockProductState.zeros(n, dtype=C128)))
    a, b = states
    assert [q for q, _ in a.blocks()][:5] == [(0, 1), (2,), (3,), (4, 5), (6,)]
    overlap = np.vdot(_few_qubit_oracle(6, a_gates), _few_qubit_oracle(6, b_gates))
    assert abs(a.inner(b).item() - overlap) < 1e-12
    assert abs(tq.fidelity(a, b).item() - abs(overlap) ** 2) < 1e-12
    assert abs(tq.trace_distance(a, b).item() - math.sqrt(1 - abs(overlap) ** 2)) < 1e-12
    # against a ProductState of 40 qubits: |+> on qubit 0, |0> elsewhere
    plus = tq.ProductState.zeros(n, dtype=C128).apply(tq.gates.h(0))
    expected = np.vdot(_few_qubit_oracle(6, [(h, [0])]), _few_qubit_oracle(6, a_gates))
    assert abs(tq.fidelity(plus, a).item() - abs(expected) ** 2) < 1e-12
    assert abs(tq.BlockProductState.from_product(plus).inner(a).item() - expected) < 1e-12


@pytest.mark.parametrize("case", list(BAD), ids=str)
def test_bad_input_is_refused_with_a_message(case):
    action, error, message = BAD[case]
    with pytest.raises(error, match=message):
        action()
