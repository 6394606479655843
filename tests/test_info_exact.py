"""Precision, batching and the QuTiP-style additions of tqsim.info, against outside oracles.

Oracles: QuTiP (fidelity, tracedist, concurrence, entropy_linear,
entropy_relative, entropy_conditional, partial_transpose, bures_dist,
hellinger_dist), exact formulas on NumPy factors (``rho = X X^dagger``: the
fidelity is ``||X^dagger Y||_1**2``, the trace distance of kets ``sin`` of
their angle), and central finite differences for gradients. QuTiP itself
loses half its digits on rank-deficient matrices (square roots of rounding
noise), so low-rank states are checked against the factor formulas.
"""

import math

import numpy as np
import pytest
import qutip
import torch

import tqsim as tq

from circuits import random_circuit

pytestmark = pytest.mark.usefixtures("one_thread")  # small matrices: threads only contend on a shared machine

C64, C128 = torch.complex64, torch.complex128
PAIR_FUNCTIONS = ["fidelity", "trace_distance", "bures_distance", "hellinger_distance", "relative_entropy"]


def factor(d, rank, rng):
    """A random ``d x rank`` factor of a unit-trace density matrix."""
    x = rng.normal(size=(d, rank)) + 1j * rng.normal(size=(d, rank))
    return x / np.linalg.norm(x)


def density(x, dtype=C128):
    return tq.DensityMatrix.from_array(x @ x.conj().T, dtype=dtype)


def qobj(x):
    n = int(math.log2(x.shape[0]))
    return qutip.Qobj(x @ x.conj().T, dims=[[2] * n, [2] * n])


def nuclear_fidelity(x, y):
    return np.linalg.svd(x.conj().T @ y, compute_uv=False).sum() ** 2


def root(x):
    """sqrt(X X^dagger) from the SVD of the factor: exact rank, no square root of rounding noise."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return (u * s) @ u.conj().T


def entangled(n, seed, dtype=C128):
    circuit, _ = random_circuit(n, 8 * n, np.random.default_rng(seed))
    return circuit.run(tq.StateVector.zeros(n, dtype=dtype))


def pure_kinds(sv):
    """The same pure state held by every kind that holds an entangled state."""
    return {"sv": sv, "dm": tq.DensityMatrix.from_state(sv), "mps": tq.MPS.from_statevector(sv, cutoff=0),
            "block": tq.BlockProductState.from_blocks([(range(sv.num_qubits), sv)])}


# ------------------------------------------------------------------ fidelity


@pytest.mark.parametrize("rank", [1, 3], ids=["pure", "rank3"])
def test_fidelity_of_a_low_rank_density_matrix_with_itself_is_one(rank):
    x = factor(2**7, rank, np.random.default_rng(rank))
    rho = density(x)
    assert abs(tq.fidelity(rho, rho).item() - 1) < 1e-12  # was 1 + 4.4e-7 (pure) and 1 + 2.2e-7 (rank 3)
    assert abs(tq.fidelity(density(x, C64), density(x, C64)).item() - 1) < 1e-5


@pytest.mark.parametrize("ranks", [(16, 16), (16, 3), (1, 2), (2, 3), (1, 1)], ids=str)
def test_fidelity_of_density_matrices_is_the_nuclear_norm_and_qutips(ranks):
    rng = np.random.default_rng(sum(ranks))
    x, y = factor(16, ranks[0], rng), factor(16, ranks[1], rng)
    expected = nuclear_fidelity(x, y)
    got = tq.fidelity(density(x), density(y)).item()
    assert abs(got - expected) < 1e-12
    # QuTiP's square root of rounding noise costs it ~1e-9 on rank-deficient states
    assert abs(got - qutip.fidelity(qobj(x), qobj(y)) ** 2) < (1e-12 if min(ranks) == 16 else 1e-7)
    assert abs(tq.fidelity(density(x, C64), density(y, C64)).item() - expected) < 1e-5


def test_fidelity_of_qutip_random_states():
    for seed in range(3):
        a, b = qutip.rand_dm([2] * 3, seed=seed), qutip.rand_dm([2] * 3, seed=seed + 10)
        got = tq.fidelity(tq.DensityMatrix.from_array(a.full()), tq.DensityMatrix.from_array(b.full())).item()
        assert abs(got - qutip.fidelity(a, b) ** 2) < 1e-10


# ------------------------------------------------------------- trace distance


def nearby_kets(n, angle, seed):
    """Two unit kets at ``angle`` from each other: their trace distance is ``sin(angle)``."""
    g = torch.Generator().manual_seed(seed)
    a = tq.StateVector.random(n, generator=g, dtype=C128).amplitudes()
    d = torch.randn(2**n, generator=g, dtype=C128)
    d = d - a * (a.conj() @ d)
    d = d / d.norm()
    return tq.StateVector(a, n), tq.StateVector(math.cos(angle) * a + math.sin(angle) * d, n)


def nearby_products(n, angle, seed):
    """Product states that differ by ``angle`` on qubit 2 only."""
    v = tq.ProductState.random(n, generator=torch.Generator().manual_seed(seed), dtype=C128).vectors
    w = v.clone()
    w[2] = math.cos(angle) * v[2] + math.sin(angle) * torch.stack([-v[2, 1].conj(), v[2, 0].conj()])
    return tq.ProductState(v), tq.ProductState(w)


ANGLE = 1e-9


def test_pure_states_1e_9_apart_are_1e_9_apart_on_every_kind():
    a, b = nearby_kets(6, ANGLE, seed=0)
    expected = math.sin(ANGLE)
    for name_a, x in pure_kinds(a).items():
        for name_b, y in pure_kinds(b).items():
            t = tq.trace_distance(x, y).item()
            assert abs(t / expected - 1) < 1e-5, (name_a, name_b, t)  # was 0 for two kets
            h = tq.hellinger_distance(x, y).item()
            assert abs(h / (math.sqrt(2) * expected) - 1) < 1e-5, (name_a, name_b, h)
            bures = tq.bures_distance(x, y).item()
            assert abs(bures / (2 * math.sin(ANGLE / 2)) - 1) < 1e-5, (name_a, name_b, bures)


def test_product_and_block_states_1e_9_apart_are_1e_9_apart():
    p, q = nearby_products(6, ANGLE, seed=1)
    qb = tq.BlockProductState.from_product(q)
    # a block grouping that joins qubit 2 with others, and one that differs from the other state's
    regrouped = tq.BlockProductState.from_blocks([((0, 2, 5), tq.ProductState(q.vectors[[0, 2, 5]]).to_statevector()),
                                                  ((1, 3), tq.ProductState(q.vectors[[1, 3]]).to_statevector()),
                                                  ((4,), q.vectors[4])])
    pairs = [(p, q), (p, qb), (tq.BlockProductState.from_product(p), regrouped), (p, q.to_mps()),
             (p.to_mps(), q), (p, q.to_statevector()), (p.to_statevector(), regrouped),
             (tq.DensityMatrix.from_state(p.to_statevector()), q)]
    for x, y in pairs:
        t = tq.trace_distance(x, y).item()
        assert abs(t / math.sin(ANGLE) - 1) < 1e-5, (type(x).__name__, type(y).__name__, t)


def test_trace_distance_of_far_product_and_block_states_matches_their_kets():
    p = tq.ProductState.random(5, generator=torch.Generator().manual_seed(2), dtype=C128)
    q = tq.ProductState.random(5, generator=torch.Generator().manual_seed(3), dtype=C128)
    x, y = p.to_statevector().amplitudes().numpy(), q.to_statevector().amplitudes().numpy()
    expected = math.sqrt(1 - abs(np.vdot(x, y)) ** 2)
    orthogonal = tq.ProductState(torch.cat([torch.stack([-p.vectors[0, 1].conj(), p.vectors[0, 0].conj()])[None],
                                            p.vectors[1:]]))
    assert abs(tq.trace_distance(p, q).item() - expected) < 1e-12
    assert abs(tq.trace_distance(tq.BlockProductState.from_product(p), q).item() - expected) < 1e-12
    assert abs(tq.trace_distance(p, orthogonal).item() - 1) < 1e-12
    assert abs(tq.trace_distance(p, p).item()) < 1e-15


def test_trace_distance_gradient_of_pure_states_matches_finite_differences():
    target = entangled(4, seed=5)

    def value(theta, kind):
        c = tq.Circuit(4).ry(theta[0], 0).cx(0, 1).ry(theta[1], 1).cx(1, 2).rx(theta[2], 3).cz(2, 3)
        start = {"sv": tq.StateVector.zeros(4, dtype=C128), "mps": tq.MPS.zeros(4, dtype=C128)}[kind]
        other = {"sv": target, "mps": tq.MPS.from_statevector(target)}[kind]
        return tq.trace_distance(c.run(start), other)

    theta0 = torch.tensor([0.7, 1.3, -0.4], dtype=torch.float64)
    for kind in ("sv", "mps"):
        theta = theta0.clone().requires_grad_()
        value(theta, kind).backward()
        for j in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[j] = 1e-6
            fd = (value(theta0 + e, kind) - value(theta0 - e, kind)).item() / 2e-6
            assert abs(theta.grad[j].item() - fd) < 1e-7, (kind, j)


# --------------------------------------------------------------- gradients


def noisy_state(theta, n=3):
    """A full-rank mixed state of ``n`` qubits that depends smoothly on ``theta`` (3 angles)."""
    c = tq.Circuit(n).ry(theta[0], 0).cx(0, 1).ry(theta[1], 1).cx(1, 2).rx(theta[2], 2).cz(0, 2)
    state = c.run(tq.DensityMatrix.zeros(n, dtype=C128))
    for q in range(n):
        state = state.depolarizing(0.15, q)
    return state


TARGET = noisy_state(torch.tensor([0.2, -0.5, 0.9], dtype=torch.float64))
GRADIENT_CASES = {
    "fidelity": lambda s: tq.fidelity(s, TARGET),
    "trace_distance": lambda s: tq.trace_distance(TARGET, s),
    "bures_distance": lambda s: tq.bures_distance(s, TARGET),
    "hellinger_distance": lambda s: tq.hellinger_distance(TARGET, s),
    "relative_entropy(rho)": lambda s: tq.relative_entropy(s, TARGET),
    "relative_entropy(sigma)": lambda s: tq.relative_entropy(TARGET, s, base=2),
    "concurrence": lambda s: tq.concurrence(s, 0, 1) + tq.concurrence(s, 2, 1),
    "linear_entropy": lambda s: tq.linear_entropy(s, [0, 2]),
    "conditional_entropy": lambda s: tq.conditional_entropy(s, [0], [1, 2]),
    "negativity": lambda s: tq.negativity(s, [0], [1, 2]) + tq.log_negativity(s, [1], [2]),
}


@pytest.mark.parametrize("name", list(GRADIENT_CASES))
def test_gradients_on_full_rank_states_match_finite_differences(name):
    f = GRADIENT_CASES[name]
    theta0 = torch.tensor([0.7, 1.3, -0.4], dtype=torch.float64)
    theta = theta0.clone().requires_grad_()
    value = f(noisy_state(theta))
    value.backward()
    assert value.item() > 1e-3  # away from kinks (0 for concurrence and negativity)
    for j in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[j] = 1e-5
        fd = (f(noisy_state(theta0 + e)) - f(noisy_state(theta0 - e))).item() / 2e-5
        assert abs(theta.grad[j].item() - fd) < 1e-8 * max(1, abs(fd)), (j, theta.grad[j].item(), fd)


@pytest.mark.parametrize("name", ["fidelity", "trace_distance", "bures_distance", "hellinger_distance"])
def test_gradients_on_pure_density_matrices_are_finite_and_those_of_kets(name):
    """A pure state held as a density matrix is maximally rank-deficient (eigh's backward divides by
    zero gaps there); its gradient must be that of the same state held as a ket."""
    target = entangled(4, seed=8)
    grads = []
    for start, other in ((tq.StateVector.zeros(4, dtype=C128), target),
                         (tq.DensityMatrix.zeros(4, dtype=C128), tq.DensityMatrix.from_state(target))):
        theta = torch.tensor([0.7, 1.3, -0.4], dtype=torch.float64, requires_grad=True)
        c = tq.Circuit(4).ry(theta[0], 0).cx(0, 1).ry(theta[1], 1).cx(1, 2).rx(theta[2], 3).cz(2, 3)
        getattr(tq, name)(c.run(start), other).backward()
        grads.append(theta.grad)
    assert bool(torch.isfinite(grads[1]).all())
    assert grads[0].abs().max() > 1e-3
    torch.testing.assert_close(grads[1], grads[0], atol=1e-9, rtol=0)


@pytest.mark.parametrize("name", ["fidelity", "bures_distance", "hellinger_distance", "relative_entropy"])
def test_gradients_on_repeated_eigenvalues_match_finite_differences(name):
    """sigma = U(theta) diag(0.4, 0.2, 0.2, 0.2) U(theta)^dagger: eigh's backward gives inf/NaN there."""
    rho = tq.Circuit(2).h(0).ry(0.3, 1).cx(0, 1).run(tq.DensityMatrix.zeros(2, dtype=C128)).depolarizing(0.2, 0)
    start = tq.DensityMatrix(torch.diag(torch.tensor([0.4, 0.2, 0.2, 0.2], dtype=C128)), 2)

    def value(theta):
        sigma = tq.Circuit(2).ry(theta[0], 0).cx(0, 1).rx(theta[1], 1).run(start)
        return getattr(tq, name)(rho, sigma)

    theta0 = torch.tensor([0.4, -0.8], dtype=torch.float64)
    theta = theta0.clone().requires_grad_()
    value(theta).backward()
    for j in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[j] = 1e-5
        fd = (value(theta0 + e) - value(theta0 - e)).item() / 2e-5
        assert abs(fd) > 1e-3 and abs(theta.grad[j].item() - fd) < 1e-8, (j, theta.grad[j].item(), fd)


# ------------------------------------------------------------------ batches


def batch_and_members(n, size, seed, kind):
    """A batched StateVector or DensityMatrix and its members held one by one."""
    g = torch.Generator().manual_seed(seed)
    sv = tq.StateVector.random(n, generator=g, dtype=C128, batch=size)
    if kind == "sv":
        return sv, [tq.StateVector(a, n) for a in sv.amplitudes()]
    noise = torch.linspace(0.05, 0.3, size, dtype=torch.float64)[:, None, None]  # full rank, one mixture each
    rho = (1 - noise) * tq.DensityMatrix.from_state(sv).matrix() + noise * torch.eye(2**n, dtype=C128) / 2**n
    return tq.DensityMatrix(rho, n), [tq.DensityMatrix(m, n) for m in rho]


def same(x, y):
    """Equal to 1e-12, or both infinite (a relative entropy off the support)."""
    return x.item() == y.item() or abs(x.item() - y.item()) < 1e-12


@pytest.mark.parametrize("name", PAIR_FUNCTIONS)
@pytest.mark.parametrize("kinds", [("sv", "dm"), ("dm", "sv"), ("dm", "dm"), ("sv", "sv")], ids="-".join)
def test_pair_functions_broadcast_a_batch(name, kinds):
    f = getattr(tq, name)
    a, members_a = batch_and_members(2, 3, 0, kinds[0])
    b, members_b = batch_and_members(2, 3, 1, kinds[1])
    single = members_b[0]
    one = tq.DensityMatrix.from_state(tq.StateVector.random(2, generator=torch.Generator().manual_seed(9),
                                                            dtype=C128)).depolarizing(0.1, 1)
    got = f(a, b)
    assert got.shape == (3,), got.shape
    for i in range(3):
        assert same(got[i], f(members_a[i], members_b[i]))
    for other in (single, one):  # a batch against one state (crashed, or came out (3, 3) or (3, 4, 4))
        got = f(a, other)
        assert got.shape == (3,), got.shape
        for i in range(3):
            assert same(got[i], f(members_a[i], other))
        assert f(other, a).shape == (3,)
    small, members = batch_and_members(1, 2, 2, kinds[0])
    assert f(small, tq.DensityMatrix.zeros(1, dtype=C128)).shape == (2,)  # was (2, 2, 2) for fidelity
    wrong, _ = batch_and_members(2, 2, 3, kinds[1])
    with pytest.raises(ValueError, match="states hold batches of 3 and 2; pair a batch with one state"):
        f(a, wrong)


def test_fidelity_of_a_batch_of_three_kets_against_a_density_matrix():
    sv = tq.StateVector.random(2, generator=torch.Generator().manual_seed(4), dtype=C128, batch=3)
    rho = qutip.rand_dm([2, 2], seed=4)
    got = tq.fidelity(sv, tq.DensityMatrix.from_array(rho.full()))  # was a matmul shape error
    for i, amps in enumerate(sv.amplitudes().numpy()):
        assert abs(got[i].item() - (amps.conj() @ rho.full() @ amps).real) < 1e-12
        # QuTiP takes square roots of the rank-1 projector's rounding noise: ~4e-9 off
        assert abs(got[i].item() - qutip.fidelity(qutip.Qobj(amps, dims=[[2, 2], [1, 1]]), rho) ** 2) < 1e-7


@pytest.mark.parametrize("kind", ["sv", "dm"])
def test_single_state_functions_keep_the_batch(kind):
    n = 3
    state, members = batch_and_members(n, 2, 5, kind)
    calls = {
        "entropy(all)": lambda s: tq.entropy(s, range(n)), "purity(all)": lambda s: tq.purity(s, range(n)),
        "entropy": lambda s: tq.entropy(s, [0, 2], alpha=2), "purity": lambda s: tq.purity(s, [1]),
        "linear_entropy": lambda s: tq.linear_entropy(s, [0, 1, 2]),
        "mutual_information": lambda s: tq.mutual_information(s, [0], [2]),
        "conditional_entropy": lambda s: tq.conditional_entropy(s, [0], [1, 2]),
        "negativity": lambda s: tq.negativity(s, [0], [1, 2]), "log_negativity": lambda s: tq.log_negativity(s, [2], [0]),
        "concurrence": lambda s: tq.concurrence(s, 1, 2),
        "partial_transpose": lambda s: tq.partial_transpose(s, [1]),
        "partial_trace": lambda s: tq.partial_trace(s, [2, 0]).matrix(), "qubit_states": tq.qubit_states,
    }
    if kind == "sv":
        calls["schmidt_values"] = lambda s: tq.schmidt_values(s, 1)
    for name, f in calls.items():
        got = f(state)
        for i, member in enumerate(members):
            expected = f(member)
            assert got.shape == (2, *expected.shape), (name, got.shape)  # entropy(all) was a scalar
            torch.testing.assert_close(got[i], expected, atol=1e-12, rtol=0, msg=name)


# ------------------------------------------------------------ entropies, ranges


def test_small_eigenvalues_count_in_complex64_entropies():
    """255 eigenvalues of 1e-5 fell below the old complex64 cutoff (1.2e-5): the entropy was 92% low."""
    lam = np.concatenate([np.full(255, 1e-5), [1 - 255e-5]])
    expected = -(lam * np.log(lam)).sum()
    rho = tq.DensityMatrix(torch.diag(torch.tensor(lam, dtype=C64)), 8)
    assert abs(tq.entropy(rho, range(8)).item() / expected - 1) < 1e-5
    renyi = math.log((lam**2).sum()) / (1 - 2)
    assert abs(tq.entropy(rho, range(8), alpha=2).item() / renyi - 1) < 1e-4
    assert abs(tq.linear_entropy(rho, range(8)).item() - (1 - (lam**2).sum())) < 1e-6


def test_entropy_gradient_is_finite_with_zero_and_negative_rounding_eigenvalues():
    lam = torch.tensor([0.0, -1e-17, 1e-300, 0.5, 0.5], dtype=torch.float64, requires_grad=True)
    for alpha in (1, 0.5, 2, float("inf")):
        lam.grad = None
        value = tq.info.entropy_of_spectrum(lam, alpha)
        value.backward()
        assert abs(value.item() - math.log(2)) < 1e-15
        assert bool(torch.isfinite(lam.grad).all()), (alpha, lam.grad)


def test_negativity_is_never_below_zero():
    """A trace 1 - 1e-9 (within from_array's check) made (||rho^T||_1 - 1) / 2 negative."""
    product = tq.Circuit(2).ry(0.4, 0).rx(1.1, 1).run(tq.DensityMatrix.zeros(2, dtype=C128)).matrix()
    rho = tq.DensityMatrix.from_array(product * (1 - 1e-9))
    assert tq.negativity(rho, [0], [1]).item() >= 0
    assert tq.log_negativity(rho, [0], [1]).item() >= 0
    bell = tq.Circuit(2).h(0).cx(0, 1).run(tq.DensityMatrix.zeros(2, dtype=C128)).matrix()
    assert abs(tq.negativity(tq.DensityMatrix.from_array(bell * (1 - 1e-9)), [0], [1]).item() - 0.5) < 1e-12
    for seed in range(4):  # pure product states of every kind: zero or a rounding-sized positive number
        p = tq.ProductState.random(4, generator=torch.Generator().manual_seed(seed), dtype=C64)
        for state in (p, p.to_statevector(), p.to_mps(), tq.DensityMatrix.from_state(p.to_statevector())):
            assert 0 <= tq.negativity(state, [0, 2], [1, 3]).item() < 1e-6
            assert 0 <= tq.log_negativity(state, [3], [1]).item() < 1e-6


@pytest.mark.parametrize("dtype", [C64, C128], ids=["c64", "c128"])
def test_quantities_stay_in_range_to_rounding(dtype):
    eps = torch.finfo(torch.float32 if dtype == C64 else torch.float64).eps
    sv = entangled(5, seed=6, dtype=dtype)
    for state in pure_kinds(sv).values():
        for sub in ([0], [1, 3], [0, 1, 2, 3, 4]):
            assert tq.entropy(state, sub).item() >= -100 * eps
            assert tq.purity(state, sub).item() <= 1 + 100 * eps
            assert -100 * eps <= tq.linear_entropy(state, sub).item() <= 1
        assert 0 <= tq.concurrence(state, 0, 4).item() <= 1 + 100 * eps
        assert tq.negativity(state, [0], [2, 4]).item() >= 0


# ------------------------------------------------------------- new functions


def kinds_of(x):
    """A NumPy factor as every kind that holds it: kets (one column) as all pure kinds, else a DensityMatrix."""
    if x.shape[1] > 1:
        return {"dm": density(x)}
    return pure_kinds(tq.StateVector.from_array(x[:, 0], dtype=C128))


def wootters(x):
    """Concurrence of ``rho = X X^dagger`` (two qubits): the square roots of the eigenvalues of
    ``rho (Y x Y) rho* (Y x Y)`` are the singular values of ``X^T (Y x Y) X``, so none is a
    square root of rounding noise."""
    yy = np.fliplr(np.diag([-1.0, 1.0, 1.0, -1.0]))
    lam = np.linalg.svd(x.T @ yy @ x, compute_uv=False)
    return max(0.0, 2 * lam[0] - lam.sum())


def test_concurrence_matches_qutip():
    rng = np.random.default_rng(11)
    for x in (factor(4, 1, rng), factor(4, 2, rng), factor(4, 4, rng)):
        state = qutip.Qobj(x[:, 0], dims=[[2, 2], [1, 1]]) if x.shape[1] == 1 else qobj(x)
        expected = wootters(x)
        # QuTiP takes square roots of the zero eigenvalues' rounding noise when rho is rank-deficient
        assert abs(qutip.concurrence(state) - expected) < (1e-12 if x.shape[1] == 4 else 1e-7)
        for name, s in kinds_of(x).items():
            assert abs(tq.concurrence(s).item() - expected) < 1e-12, name
            assert abs(tq.concurrence(s, 1, 0).item() - expected) < 1e-12, name
    bell = tq.Circuit(2).h(0).cx(0, 1).run(tq.StateVector.zeros(2, dtype=C128))
    assert abs(tq.concurrence(bell).item() - 1) < 1e-12
    sv = entangled(4, seed=12)
    ket = qutip.Qobj(sv.amplitudes().numpy(), dims=[[2] * 4, [1] * 4])
    assert qutip.concurrence(ket.ptrace([1, 3])) > 0.01  # not a trivial case
    for name, s in pure_kinds(sv).items():
        for a, b in ((1, 3), (3, 1), (0, 2)):
            expected = qutip.concurrence(ket.ptrace(sorted([a, b])))
            assert abs(tq.concurrence(s, a, b).item() - expected) < 1e-10, (name, a, b)
    p = tq.ProductState.random(3, generator=torch.Generator().manual_seed(0), dtype=C128)
    assert abs(tq.concurrence(p, 0, 2).item()) < 1e-12


def test_linear_and_conditional_entropy_match_qutip():
    sv = entangled(5, seed=13)
    ket = qutip.Qobj(sv.amplitudes().numpy(), dims=[[2] * 5, [1] * 5])
    for name, s in pure_kinds(sv).items():
        for sub in ([0], [1, 3], [4, 0, 2]):
            expected = qutip.entropy_linear(ket.ptrace(sorted(sub)))
            assert abs(tq.linear_entropy(s, sub).item() - expected) < 1e-10, (name, sub)
        for a, b in (([0], [1]), ([2, 4], [0]), ([1], [0, 3, 4])):
            joint = sorted(a + b)
            reduced = ket.ptrace(joint)
            expected = qutip.entropy_conditional(reduced, [joint.index(q) for q in b])
            assert abs(tq.conditional_entropy(s, a, b).item() - expected) < 1e-10, (name, a, b)
            expected = qutip.entropy_conditional(reduced, [joint.index(q) for q in b], base=2)
            assert abs(tq.conditional_entropy(s, a, b, base=2).item() - expected) < 1e-10, (name, a, b)
    assert tq.conditional_entropy(sv, [0], [1, 2, 3, 4]).item() < -0.1  # entangled: negative


def test_relative_entropy_matches_qutip():
    rng = np.random.default_rng(14)
    full = [factor(8, 8, rng) for _ in range(2)]
    low = factor(8, 2, rng)
    inside = np.concatenate([low @ rng.normal(size=(2, 1)), np.zeros((8, 1))], 1)  # in low's support
    ket = factor(8, 1, rng)
    cases = [(full[0], full[1]), (low, full[0]), (inside, low), (low, full[1]), (ket, full[0]),
             (full[0], low), (ket, low), (low, ket), (ket, ket)]
    for x, y in cases:
        x = x / np.linalg.norm(x)
        for base in (math.e, 2):
            expected = qutip.entropy_relative(qobj(x), qobj(y), base=base)
            for name_a, a in kinds_of(x).items():
                for name_b, b in kinds_of(y).items():
                    got = tq.relative_entropy(a, b, base=base).item()
                    if math.isinf(expected):
                        assert got == math.inf, (name_a, name_b, got)
                    else:
                        assert abs(got - expected) < 1e-9, (name_a, name_b, got, expected)
    assert math.isinf(qutip.entropy_relative(qobj(full[0]), qobj(low)))  # both branches are exercised
    assert not math.isinf(qutip.entropy_relative(qobj(inside), qobj(low)))


def test_partial_transpose_matches_qutip():
    rho = qutip.rand_dm([2] * 4, seed=15)
    sv = entangled(4, seed=16)
    ket = qutip.Qobj(sv.amplitudes().numpy(), dims=[[2] * 4, [1] * 4])
    for sub in ([0], [3, 1], [0, 1, 2, 3]):
        mask = [int(q in sub) for q in range(4)]
        got = tq.partial_transpose(tq.DensityMatrix.from_array(rho.full()), sub)
        np.testing.assert_allclose(got.numpy(), qutip.partial_transpose(rho, mask).full(), atol=1e-12)
        expected = qutip.partial_transpose(qutip.ket2dm(ket), mask).full()
        for name, s in pure_kinds(sv).items():
            got = tq.partial_transpose(s, sub)
            assert got.shape == (16, 16), name
            np.testing.assert_allclose(got.numpy(), expected, atol=1e-12, err_msg=name)
    p = tq.ProductState.random(3, generator=torch.Generator().manual_seed(1), dtype=C128)
    np.testing.assert_allclose(tq.partial_transpose(p, [1]).numpy(), tq.partial_transpose(p.to_statevector(), [1]).numpy(),
                               atol=1e-15)


def test_bures_and_hellinger_match_qutip_and_factor_formulas():
    rng = np.random.default_rng(17)
    factors = [factor(8, 8, rng), factor(8, 8, rng), factor(8, 2, rng), factor(8, 1, rng), factor(8, 1, rng)]
    for i, x in enumerate(factors):
        for y in factors[i + 1:]:
            sqrt_f = math.sqrt(nuclear_fidelity(x, y))
            bures = math.sqrt(2 * (1 - sqrt_f))
            overlap = np.trace(root(x) @ root(y)).real
            hellinger = math.sqrt(2 - 2 * overlap)
            qx = qobj(x) if x.shape[1] > 1 else qutip.Qobj(x[:, 0], dims=[[2] * 3, [1] * 3])
            qy = qobj(y) if y.shape[1] > 1 else qutip.Qobj(y[:, 0], dims=[[2] * 3, [1] * 3])
            full_rank = x.shape[1] == y.shape[1] == 8
            assert abs(qutip.bures_dist(qx, qy) - bures) < (1e-12 if full_rank else 1e-7)
            assert abs(qutip.hellinger_dist(qx, qy) - hellinger) < (1e-12 if full_rank else 1e-7)
            for name_a, a in kinds_of(x).items():
                for name_b, b in kinds_of(y).items():
                    assert abs(tq.bures_distance(a, b).item() - bures) < 1e-12, (name_a, name_b)
                    assert abs(tq.hellinger_distance(b, a).item() - hellinger) < 1e-12, (name_a, name_b)
    for x in factors:  # zero on equal states whichever kinds hold them, low rank included
        for a in kinds_of(x).values():
            for b in kinds_of(x).values():
                assert tq.bures_distance(a, b).item() < 1e-12 and tq.hellinger_distance(a, b).item() < 1e-12


# ------------------------------------------------------------------- errors


def test_bad_arguments_name_the_value_and_what_is_allowed():
    three = tq.StateVector.zeros(3, dtype=C128)
    with pytest.raises(ValueError, match=r"concurrence of a 3-qubit state needs two qubits a and b, got a=None"):
        tq.concurrence(three)
    with pytest.raises(ValueError, match=r"subsystems a and b share qubits \[1\]"):
        tq.concurrence(three, 1, 1)
    with pytest.raises(IndexError, match=r"qubit 3 out of range for 3 qubits"):
        tq.concurrence(three, 0, 3)
    with pytest.raises(ValueError, match=r"partial_transpose needs the 2\*\*15 x 2\*\*15 density matrix of a "
                                         r"15-qubit state; it takes states of at most 14 qubits"):
        tq.partial_transpose(tq.MPS.zeros(15), [0])
    with pytest.raises(ValueError, match=r"relative_entropy needs the 2\*\*15 x 2\*\*15"):
        tq.relative_entropy(tq.MPS.zeros(15), tq.MPS.zeros(15))
    with pytest.raises(ValueError, match=r"base must be a positive number other than 1, got 1"):
        tq.relative_entropy(three, three, base=1)
    with pytest.raises(ValueError, match=r"subsystems a and b share qubits \[0\]"):
        tq.conditional_entropy(three, [0, 1], [0])
    with pytest.raises(ValueError, match=r"subsystem is empty"):
        tq.partial_transpose(three, [])
    with pytest.raises(ValueError, match=r"states have 3 and 2 qubits"):
        tq.bures_distance(three, tq.DensityMatrix.zeros(2, dtype=C128))
    with pytest.raises(TypeError, match=r"got ndarray"):
        tq.hellinger_distance(three, np.eye(8) / 8)


def test_pure_state_entropies_ignore_the_solvers_noise_eigenvalues():
    # 1023 eigenvalues that are rounding noise (~1e-8 in complex64) must not add up to entropy
    sv = tq.StateVector.random(10, generator=torch.Generator().manual_seed(3), dtype=torch.complex64)
    rho = tq.DensityMatrix.from_state(sv)
    for alpha in (0.5, 1, 2):
        assert abs(tq.entropy(rho, range(10), alpha=alpha).item()) < 1e-5, alpha


def test_inputs_accepted_near_unit_norm_are_stored_at_unit_norm():
    # norm 1 + 1e-9 is accepted (within sqrt(eps)); kept as it is, the state's distance to
    # itself would be 2e-9 and its purity above 1
    psi = tq.StateVector.random(3, generator=torch.Generator().manual_seed(4), dtype=torch.complex128)
    a = tq.StateVector.from_array(psi.amplitudes() * (1 + 1e-9))
    assert abs(torch.linalg.vector_norm(a.amplitudes()).item() - 1) < 1e-15
    assert tq.trace_distance(a, a).item() < 1e-15
    rho = tq.DensityMatrix.from_array(tq.DensityMatrix.from_state(psi).matrix() * (1 + 1e-9))
    assert abs(torch.trace(rho.matrix()).real.item() - 1) < 1e-15
    assert tq.purity(rho, range(3)).item() <= 1 + 1e-15
    assert tq.entropy(rho, range(3)).item() >= -1e-15
    mps = tq.MPS.from_statevector(psi)
    scaled = tq.MPS([c * (1 + 1e-9) if i == 0 else c for i, c in enumerate(mps.cores)], center=mps.center)
    assert abs(tq.fidelity(scaled, scaled).item() - 1) < 1e-15
