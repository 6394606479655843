"""Multi-controlled gates act on the controlled subspace only, on every state kind.

Oracles written here with NumPy, outside tqsim: the controlled matrix as a
Kronecker sum ``(I - P) ⊗ I + P ⊗ U`` (``P`` the projector on all controls
1) embedded with ``oracles.embed``; for large registers, index arithmetic on
the amplitude vector (flip the target bit where every control bit is 1) or
NumPy's own ``(2,) * n`` view; central finite differences for gradients.
That no ``2**k x 2**k`` matrix is built is checked by making tqsim's
full-matrix builders raise.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracles import embed, random_state, random_unitary

import tqsim as tq
from tqsim import gates
from tqsim.tensor.flat import apply_controlled

C64, C128 = torch.complex64, torch.complex128
X = np.array([[0, 1], [1, 0]], dtype=complex)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Small tensors: one intra-op thread (the machine is shared)."""


# ----------------------------------------------------------------- oracles


def controlled_block(u: np.ndarray, k: int) -> np.ndarray:
    """(I - P) ⊗ I + P ⊗ U over k controls (first) and U's targets."""
    p = np.zeros((2**k, 2**k))
    p[-1, -1] = 1
    return np.kron(np.eye(2**k) - p, np.eye(len(u))) + np.kron(p, u)


def oracle_matrix(n: int, controls, targets, u: np.ndarray) -> np.ndarray:
    return embed(controlled_block(u, len(controls)), list(controls) + list(targets), n)


def numpy_controlled(psi: np.ndarray, n: int, controls, targets, u: np.ndarray) -> np.ndarray:
    """U on ``targets`` of the slice where every control is 1, through NumPy's (2,)*n view."""
    t = np.array(psi, dtype=complex).reshape([2] * n)
    where = [slice(None)] * n
    for c in controls:
        where[c] = 1
    sub = t[tuple(where)]
    rest = [q for q in range(n) if q not in controls]
    axes = [rest.index(q) for q in targets]
    moved = np.moveaxis(sub, axes, list(range(len(targets))))
    new = (u @ moved.reshape(len(u), -1)).reshape(moved.shape)
    out = t.copy()
    out[tuple(where)] = np.moveaxis(new, list(range(len(targets))), axes)
    return out.reshape(-1)


def gate_cases(k: int, rng) -> list:
    """(label, tqsim gate maker on (controls, targets), target matrix, number of targets) for k controls."""
    lam = float(rng.uniform(-np.pi, np.pi))
    u1, u2 = random_unitary(1, rng), random_unitary(2, rng)
    return [
        ("mcx", lambda c, t: gates.mcx(c, t[0]), X, 1),
        ("mcphase", lambda c, t: gates.mcphase(lam, c, t[0]), np.diag([1, np.exp(1j * lam)]), 1),
        ("controlled-1", lambda c, t: gates.controlled(u1, c, t), u1, 1),
        ("controlled-2", lambda c, t: gates.controlled(u2, c, t), u2, 2),
    ]


def placements(n: int, k: int, t: int, rng):
    perm = [int(q) for q in rng.permutation(n)]
    return perm[:k], perm[k:k + t]


def random_density(n: int, rng) -> np.ndarray:
    a = rng.normal(size=(2**n, 3)) + 1j * rng.normal(size=(2**n, 3))
    rho = a @ a.conj().T
    return rho / np.trace(rho)


# -------------------------------------------------- the routine on flat tensors


@pytest.mark.parametrize("k", range(1, 7))
@pytest.mark.parametrize("dtype", [C64, C128], ids=["c64", "c128"])
def test_apply_controlled_routine_against_kronecker_oracle(k, dtype):
    rng = np.random.default_rng(k)
    tol = 1e-5 if dtype == C64 else 1e-12
    n = k + 3
    for label, _, u, t in gate_cases(k, rng):
        controls, targets = placements(n, k, t, rng)
        full = oracle_matrix(n, controls, targets, u)
        psi = np.stack([random_state(n, rng) for _ in range(2)])
        diagonal = label == "mcphase"
        op = torch.tensor(np.diag(u) if diagonal else u, dtype=dtype)
        out = apply_controlled(torch.tensor(psi, dtype=dtype), op, controls, targets, diagonal)
        np.testing.assert_allclose(out.numpy(), psi @ full.T, atol=tol, err_msg=label)
        # a batch of operators on one state broadcasts to a batch of states
        ops = torch.stack([op, op.conj()])
        out = apply_controlled(torch.tensor(psi[0], dtype=dtype), ops, controls, targets, diagonal)
        other = oracle_matrix(n, controls, targets, u.conj())
        np.testing.assert_allclose(out.numpy(), np.stack([full @ psi[0], other @ psi[0]]), atol=tol, err_msg=label)
        # into a buffer (the no-gradient path), the input untouched
        before = torch.tensor(psi, dtype=dtype)
        copy = before.clone()
        buffer = torch.empty_like(before)
        result = apply_controlled(before, op, controls, targets, diagonal, out=buffer)
        assert result is buffer and torch.equal(before, copy)
        np.testing.assert_allclose(buffer.numpy(), psi @ full.T, atol=tol, err_msg=label)


# ------------------------------------------------------ every state kind


@pytest.mark.parametrize("k", range(1, 7))
def test_statevector_and_batch_against_oracle(k):
    rng = np.random.default_rng(100 + k)
    n = k + 3
    for label, make, u, t in gate_cases(k, rng):
        controls, targets = placements(n, k, t, rng)
        full = oracle_matrix(n, controls, targets, u)
        gate = make(controls, targets)
        assert gate.is_controlled and gate.controls == tuple(controls) and gate.targets == tuple(targets)
        psi = random_state(n, rng)
        out = tq.StateVector.from_array(psi, dtype=C128).apply(gate).amplitudes().numpy()
        np.testing.assert_allclose(out, full @ psi, atol=1e-12, err_msg=label)
        batch = np.stack([random_state(n, rng) for _ in range(3)])
        out = tq.StateVector.from_array(batch, dtype=C128).apply(gate).amplitudes().numpy()
        np.testing.assert_allclose(out, batch @ full.T, atol=1e-12, err_msg=label)
        # complex64 too
        out = tq.StateVector.from_array(psi, dtype=C64).apply(gate).amplitudes().numpy()
        np.testing.assert_allclose(out, full @ psi, atol=1e-5, err_msg=label)


@pytest.mark.parametrize("k", [1, 3, 6])
def test_batched_mcphase_on_batched_statevector(k):
    rng = np.random.default_rng(7 + k)
    n = k + 2
    controls, targets = placements(n, k, 1, rng)
    lams = rng.uniform(-np.pi, np.pi, size=3)
    batch = np.stack([random_state(n, rng) for _ in range(3)])
    gate = gates.mcphase(torch.tensor(lams), controls, targets[0])
    out = tq.StateVector.from_array(batch, dtype=C128).apply(gate).amplitudes().numpy()
    for b, lam in enumerate(lams):
        full = oracle_matrix(n, controls, targets, np.diag([1, np.exp(1j * lam)]))
        np.testing.assert_allclose(out[b], full @ batch[b], atol=1e-12)


@pytest.mark.parametrize("k", range(1, 7))
def test_density_matrix_against_oracle(k):
    rng = np.random.default_rng(200 + k)
    n = k + 3
    for label, make, u, t in gate_cases(k, rng):
        controls, targets = placements(n, k, t, rng)
        full = oracle_matrix(n, controls, targets, u)
        rho = random_density(n, rng)
        out = tq.DensityMatrix.from_array(rho, dtype=C128).apply(make(controls, targets)).matrix().numpy()
        np.testing.assert_allclose(out, full @ rho @ full.conj().T, atol=1e-12, err_msg=label)


@pytest.mark.parametrize("k", range(1, 7))
def test_mps_without_truncation_against_oracle(k):
    rng = np.random.default_rng(300 + k)
    n = k + 3
    for label, make, u, t in gate_cases(k, rng):
        controls, targets = placements(n, k, t, rng)
        full = oracle_matrix(n, controls, targets, u)
        psi = random_state(n, rng)
        mps = tq.MPS.from_statevector(tq.StateVector.from_array(psi, dtype=C128), max_bond=None, cutoff=0)
        out = mps.apply(make(controls, targets))
        np.testing.assert_allclose(out.amplitudes().numpy(), full @ psi, atol=1e-11, err_msg=label)
        assert out.truncation_error() < 1e-20
        assert abs(out.norm().item() - 1) < 1e-12


@pytest.mark.parametrize("k", range(1, 7))
def test_block_product_state_against_oracle(k):
    rng = np.random.default_rng(400 + k)
    n = k + 3
    half = n // 2
    for label, make, u, t in gate_cases(k, rng):
        controls, targets = placements(n, k, t, rng)
        full = oracle_matrix(n, controls, targets, u)
        a, b = random_state(half, rng), random_state(n - half, rng)
        state = tq.BlockProductState.from_blocks([
            (list(range(half)), tq.StateVector.from_array(a, dtype=C128)),
            (list(range(half, n)), tq.StateVector.from_array(b, dtype=C128)),
        ])
        out = state.apply(make(controls, targets)).amplitudes().numpy()
        np.testing.assert_allclose(out, full @ np.kron(a, b), atol=1e-12, err_msg=label)


def test_product_state_keeps_products_and_refuses_entanglement():
    n, k = 9, 7
    rng = np.random.default_rng(11)
    controls, targets = placements(n, k, 1, rng)
    vectors = np.array([random_state(1, rng) for _ in range(n)])
    for c in controls:  # every control in e^{i phi}|1>: the gate acts on the target alone
        vectors[c] = [0, np.exp(1j * rng.uniform(0, 2 * np.pi))]
    state = tq.ProductState.from_vectors(vectors, dtype=C128)
    dense = state.amplitudes().numpy()
    u = random_unitary(1, rng)
    out = state.apply(gates.controlled(u, controls, targets))
    assert isinstance(out, tq.ProductState)
    np.testing.assert_allclose(out.amplitudes().numpy(), oracle_matrix(n, controls, targets, u) @ dense, atol=1e-12)
    vectors[controls[0]] = [np.sqrt(0.5), np.sqrt(0.5)]
    with pytest.raises(ValueError, match="entangles the product state"):
        tq.ProductState.from_vectors(vectors, dtype=C128).apply(gates.mcx(controls, targets[0]))


# ------------------------------------------------------------- wide gates


def test_twenty_control_mcx_on_22_qubits_against_index_arithmetic():
    n = 22
    rng = np.random.default_rng(22)
    controls, targets = placements(n, 20, 1, rng)
    gen = torch.Generator().manual_seed(5)
    psi = tq.StateVector.random(n, generator=gen, dtype=C64)
    out = psi.apply(gates.mcx(controls, targets[0])).amplitudes().numpy()
    amps = psi.amplitudes().numpy()
    index = np.arange(2**n)
    mask = sum(1 << (n - 1 - c) for c in controls)
    hit = (index & mask) == mask
    expected = amps.copy()
    expected[hit] = amps[index[hit] ^ (1 << (n - 1 - targets[0]))]
    assert hit.sum() == 4
    np.testing.assert_allclose(out, expected, atol=1e-7, rtol=0)


def test_wide_gates_on_mps_against_numpy_view():
    n = 16
    rng = np.random.default_rng(16)
    gen = torch.Generator().manual_seed(16)
    mps = tq.MPS.random(n, bond=6, generator=gen, dtype=C128, cutoff=0)
    psi = mps.amplitudes().numpy()
    c1, t1 = placements(n, 9, 1, rng)
    c2, t2 = placements(n, 12, 1, rng)
    c3, t3 = [3, 5, 8, 9, 10, 12], [15, 0]  # two targets at both ends, controls between
    lam, u = 0.77, random_unitary(2, rng)
    circuit = (tq.Circuit(n).h(4).mcx(c1, t1[0]).mcphase(lam, c2, t2[0]).controlled(u, c3, t3)
               .mcx(list(range(1, 16)), 0))
    out = circuit.run(mps)
    expected = numpy_controlled(psi, n, [], [4], np.array([[1, 1], [1, -1]]) / np.sqrt(2))
    expected = numpy_controlled(expected, n, c1, t1, X)
    expected = numpy_controlled(expected, n, c2, t2, np.diag([1, np.exp(1j * lam)]))
    expected = numpy_controlled(expected, n, c3, t3, u)
    expected = numpy_controlled(expected, n, list(range(1, 16)), [0], X)
    np.testing.assert_allclose(out.amplitudes().numpy(), expected, atol=1e-11)
    assert abs(out.norm().item() - 1) < 1e-12
    # one control of an MPO of bond 2 at most doubles each bond (exactly, before any truncation)
    before = mps.bond_dimensions()
    after = mps.apply(gates.mcx(c1, t1[0])).bond_dimensions()
    assert all(a <= 2 * b for a, b in zip(after, before)) and after != before


def test_wide_gate_on_mps_truncates_with_the_usual_semantics():
    n = 12
    gen = torch.Generator().manual_seed(3)
    exact = tq.MPS.random(n, bond=8, generator=gen, dtype=C128, cutoff=0)
    circuit = tq.Circuit(n).h(0).h(11).controlled(random_unitary(1, np.random.default_rng(1)), [0, 2, 5, 9, 11], [6])
    reference = circuit.run(exact.to_statevector()).amplitudes()
    truncated = circuit.run(tq.MPS(exact.cores, max_bond=4, cutoff=0))
    assert max(truncated.bond_dimensions()) <= 4
    assert truncated.truncation_error() > 0 and len(truncated.discarded) > 0
    assert abs(truncated.norm().item() - 1) < 1e-12
    fidelity = abs(torch.vdot(reference, truncated.amplitudes()).item()) ** 2
    assert 0 < 1 - fidelity <= truncated.truncation_error() * (1 + 1e-6) + 1e-12
    # the cutoff also drops weight (relative): a loose one drops some, no weight above it per split
    loose = circuit.run(tq.MPS(exact.cores, cutoff=1e-3))
    assert loose.discarded and all(0 < d <= 1e-3 for d in loose.discarded)
    assert max(loose.bond_dimensions()) < 2 * 8


# ------------------------------------------------------------- gradients


def _loss_circuit(theta, phi, n=8):
    controls = [0, 1, 2, 4, 5, 7]
    ry = torch.stack([torch.stack([torch.cos(phi / 2), -torch.sin(phi / 2)]),
                      torch.stack([torch.sin(phi / 2), torch.cos(phi / 2)])]).to(C128)
    c = tq.Circuit(n)
    for q in range(n):  # controls mostly 1 (all six: probability 0.2), targets in superposition
        c.ry(1.4 if q in (3, 6) else 2.2 + 0.05 * q, q)
    # 7 qubits each: wider than the 5-qubit blocks used while tracking gradients
    return c.mcphase(theta, controls, 3).controlled(ry, controls, [6]).rx(0.4, 6)


@pytest.mark.parametrize("kind", ["statevector", "density", "mps"])
def test_gradients_through_wide_controlled_gates_match_finite_differences(kind):
    n = 8
    observable = "Z3 Z6 + 0.5 X6 + Y3"

    def start():
        if kind == "statevector":
            return tq.StateVector.zeros(n, dtype=C128)
        if kind == "density":
            return tq.DensityMatrix.zeros(n, dtype=C128)
        return tq.MPS.zeros(n, dtype=C128, cutoff=0)

    def loss(theta, phi):
        return _loss_circuit(theta, phi, n).run(start()).expectation(observable)

    theta = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    phi = torch.tensor(-1.3, dtype=torch.float64, requires_grad=True)
    loss(theta, phi).backward()
    h = 1e-6
    for param, grad in ((0, theta.grad), (1, phi.grad)):
        up, down = [0.9, -1.3], [0.9, -1.3]
        up[param] += h
        down[param] -= h
        f64 = torch.float64
        fd = (loss(*torch.tensor(up, dtype=f64)) - loss(*torch.tensor(down, dtype=f64))).item() / (2 * h)
        assert abs(grad.item() - fd) < 1e-7, (kind, param, grad.item(), fd)
        assert abs(fd) > 1e-3  # the gates matter to the loss


# --------------------------------------------- the full matrix is never built


@pytest.fixture
def no_full_matrices(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a full controlled matrix was built")

    gates._fixed_controlled_operator.cache_clear()
    monkeypatch.setattr(gates, "_controlled_block", refuse)
    monkeypatch.setattr(gates, "_controlled_diagonal", refuse)
    yield
    gates._fixed_controlled_operator.cache_clear()


def test_full_matrix_builders_are_what_the_fixture_blocks(no_full_matrices):
    with pytest.raises(AssertionError, match="full controlled matrix"):
        gates.mcx([0, 1], 2).matrix()
    with pytest.raises(AssertionError, match="full controlled matrix"):
        gates.mcphase(0.2, [0, 1], 2).matrix()


def test_wide_gates_never_build_the_full_matrix_on_any_kind(no_full_matrices):
    n, rng = 9, np.random.default_rng(9)
    controls = [0, 2, 3, 5, 7, 8]
    u = random_unitary(1, rng)
    wide = [gates.mcx(controls, 4), gates.mcphase(0.3, controls, 1), gates.controlled(u, controls, [6]),
            gates.c4x(0, 2, 3, 5, 1), gates.c3sqrtx(8, 0, 1, 2)]
    psi = random_state(n, rng)
    expected = psi
    for g, (c, t, m) in zip(wide, [(controls, [4], X), (controls, [1], np.diag([1, np.exp(0.3j)])),
                                   (controls, [6], u), ([0, 2, 3, 5], [1], X),
                                   ([8, 0, 1], [2], np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]) / 2)]):
        expected = oracle_matrix(n, c, t, m) @ expected
    sv = tq.StateVector.from_array(psi, dtype=C128)
    # c4x and c3sqrtx are 5 and 4 qubits: they would fuse on a dense state; run them apart
    dense_wide = wide[:3]
    out = sv.evolve(dense_wide).amplitudes().numpy()
    dense_expected = psi
    for g in dense_wide:
        dense_expected = tq.StateVector.from_array(dense_expected, dtype=C128).apply(g).amplitudes().numpy()
    np.testing.assert_allclose(out, dense_expected, atol=1e-12)
    rho = tq.DensityMatrix.from_state(sv).evolve(dense_wide).matrix().numpy()
    np.testing.assert_allclose(rho, np.outer(out, out.conj()), atol=1e-12)
    mps = tq.MPS.from_statevector(sv, cutoff=0).evolve(wide)  # MPS: every controlled gate on 3+ qubits
    np.testing.assert_allclose(mps.amplitudes().numpy(), expected, atol=1e-11)
    blocks = tq.BlockProductState.zeros(n, dtype=C128).evolve([gates.h(q) for q in range(n)] + dense_wide)
    plus = np.full(2**n, 2 ** (-n / 2), dtype=complex)
    for g in dense_wide:
        plus = tq.StateVector.from_array(plus, dtype=C128).apply(g).amplitudes().numpy()
    np.testing.assert_allclose(blocks.amplitudes().numpy(), plus, atol=1e-12)


def test_24_control_gate_on_25_qubits_in_one_pass(no_full_matrices):
    """A 2**25-square matrix would need 2**53 bytes; the gate touches two amplitudes."""
    n = 25
    bits = [1] * 24 + [0]
    state = tq.StateVector.basis(bits, dtype=C64)
    out = state.apply(gates.mcx(list(range(24)), 24)).amplitudes()
    assert out[-1].item() == 1 and out[-2].item() == 0 and out.abs().sum().item() == 1
    out = out.reshape(-1)
    phased = tq.StateVector(out, n).apply(gates.mcphase(0.5, list(range(1, 25)), 0)).amplitudes()
    assert abs(phased[-1].item() - np.exp(0.5j)) < 1e-6


def test_runs_are_bit_identical():
    n = 10
    rng = np.random.default_rng(4)
    u = random_unitary(2, rng)
    c = (tq.Circuit(n).h(0).h(3).h(9).mcx([0, 3, 9, 5, 6], 2).mcphase(0.4, [0, 1, 2, 3, 9], 7)
         .controlled(u, [0, 3, 9, 8], [1, 4]))
    psi = tq.StateVector.random(n, generator=torch.Generator().manual_seed(1), dtype=C128)
    assert torch.equal(c.run(psi).amplitudes(), c.run(psi).amplitudes())
    mps = tq.MPS.from_statevector(psi, max_bond=8)
    a, b = c.run(mps), c.run(mps)
    assert all(torch.equal(x, y) for x, y in zip(a.cores, b.cores)) and a.discarded == b.discarded


def test_equal_wide_gates_on_separate_blocks_are_stacked_and_exact():
    """Two 4-qubit blocks, each with its own mcphase / mcx (angles differ): evolved as one batch."""
    n = 10
    rng = np.random.default_rng(10)
    kets = [random_state(5, rng), random_state(5, rng)]
    state = tq.BlockProductState.from_blocks([(list(range(5)), tq.StateVector.from_array(kets[0], dtype=C128)),
                                              (list(range(5, 10)), tq.StateVector.from_array(kets[1], dtype=C128))])
    ops = [gates.mcphase(0.3, [0, 1, 2, 4], 3), gates.mcphase(-1.1, [5, 6, 7, 9], 8),
           gates.mcx([4, 3, 1, 0], 2), gates.mcx([9, 8, 6, 5], 7)]
    assert gates.stacking_key(ops[0]) == gates.stacking_key(ops[1]) is not None
    assert gates.stacking_key(ops[2]) == gates.stacking_key(ops[3]) is not None
    assert gates.stacking_key(ops[2]) != gates.stacking_key(gates.mcx([0, 1, 2], 3))
    out = state.evolve(ops)
    assert len(out.stacks) == 1 and out.stacks[0].amplitudes.shape == (2, 32)  # one batch of two blocks
    expected = np.kron(kets[0], kets[1])
    for (c, t, m) in [([0, 1, 2, 4], [3], np.diag([1, np.exp(0.3j)])), ([5, 6, 7, 9], [8], np.diag([1, np.exp(-1.1j)])),
                      ([4, 3, 1, 0], [2], X), ([9, 8, 6, 5], [7], X)]:
        expected = oracle_matrix(n, c, t, m) @ expected
    np.testing.assert_allclose(out.amplitudes().numpy(), expected, atol=1e-12)
