"""A sixth state kind, written here against the state protocol only, works everywhere.

``LittleEndianKet`` and ``LittleEndianMixed`` hold their amplitudes / matrix
as NumPy arrays with the qubit order reversed (qubit 0 is the *least*
significant axis), so an ordering mistake anywhere shows. They implement only
what :class:`tqsim.states.base.QuantumState` requires, and nothing in
``tqsim/`` knows them. Every public function of ``tqsim.info``, ``expectation``
and the MaxCut objective must take them and agree with oracles computed here
with NumPy linear algebra on Kronecker-product matrices, or with QuTiP.
Then the cross-kind rule: states of two different kinds meet as documented
and give the oracle's numbers.
"""

import math

import numpy as np
import pytest
import qutip
import torch

import tqsim as tq
from tqsim import info
from tqsim.maxcut import MaxCutProblem, expected_cut, readout
from tqsim.states.base import QuantumState, common_form

N = 4
TOL = 1e-10
PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


# ------------------------------------------------------------------ the toy kinds


class LittleEndianKet(QuantumState):
    """A pure state stored as a NumPy array of shape (2,)*n, axis j = qubit n-1-j."""

    is_pure = True

    def __init__(self, big_endian: np.ndarray):
        self.num_qubits = int(np.log2(big_endian.size))
        self.data = big_endian.reshape([2] * self.num_qubits).transpose(list(range(self.num_qubits))[::-1]).copy()
        self.dtype, self.device, self.batch_shape = torch.complex128, torch.device("cpu"), torch.Size()

    def _axis(self, q):
        return self.num_qubits - 1 - q

    def reduced_matrix(self, keep):
        axes = [self._axis(q) for q in keep]
        rest = [a for a in range(self.num_qubits) if a not in axes]
        m = self.data.transpose(axes + rest).reshape(2 ** len(axes), -1)
        return torch.from_numpy(m @ m.conj().T)

    def pauli_expectation(self, terms):
        total = 0.0
        for t in terms:
            moved = self.data
            for q, letter in t.paulis.items():
                moved = np.moveaxis(np.tensordot(PAULI[letter], moved, axes=([1], [self._axis(q)])), 0, self._axis(q))
            total += float(t.coefficient) * np.vdot(self.data, moved).real
        return torch.tensor(total, dtype=torch.float64)

    def _big_endian(self):
        return self.data.transpose(list(range(self.num_qubits))[::-1]).reshape(-1)

    def probabilities(self):
        return torch.from_numpy(np.abs(self._big_endian()) ** 2)

    def to_statevector(self):
        return tq.StateVector.from_array(self._big_endian())


class LittleEndianMixed(QuantumState):
    """A density matrix stored as shape (2,)*2n: row axis j and column axis n+j are qubit n-1-j."""

    is_pure = False

    def __init__(self, big_endian: np.ndarray):
        n = self.num_qubits = int(np.log2(big_endian.shape[0]))
        rev = list(range(n))[::-1]
        self.data = big_endian.reshape([2] * 2 * n).transpose(rev + [n + a for a in rev]).copy()
        self.dtype, self.device, self.batch_shape = torch.complex128, torch.device("cpu"), torch.Size()

    def reduced_matrix(self, keep):
        n = self.num_qubits
        letters = iter("abcdefghijklmnopqrstuvwxyz")
        rows = [next(letters) for _ in range(n)]
        cols = [next(letters) for _ in range(n)]
        for q in range(n):
            if q not in keep:  # traced: the column index equals the row index
                cols[n - 1 - q] = rows[n - 1 - q]
        out = [rows[n - 1 - q] for q in keep] + [cols[n - 1 - q] for q in keep]
        m = np.einsum("".join(rows + cols) + "->" + "".join(out), self.data)
        return torch.from_numpy(m.reshape(2 ** len(keep), 2 ** len(keep)).copy())

    def pauli_expectation(self, terms):
        n = self.num_qubits
        total = 0.0
        for t in terms:
            moved = self.data
            for q, letter in t.paulis.items():  # P rho, on the row axes
                a = n - 1 - q
                moved = np.moveaxis(np.tensordot(PAULI[letter], moved, axes=([1], [a])), 0, a)
            total += float(t.coefficient) * np.trace(moved.reshape(2**n, 2**n)).real
        return torch.tensor(total, dtype=torch.float64)

    def probabilities(self):
        n = self.num_qubits
        rev = list(range(n))[::-1]
        big = self.data.transpose(rev + [n + a for a in rev]).reshape(2**n, 2**n)
        return torch.from_numpy(np.diagonal(big).real.copy())

    def to_statevector(self):
        raise TypeError("a LittleEndianMixed state is mixed; it has no state vector")


# ---------------------------------------------------------------------- oracles


def random_ket(seed, n=N):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    return v / np.linalg.norm(v)


def random_mixed(seed, n=N, rank=2**N):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(2**n, rank)) + 1j * rng.normal(size=(2**n, rank))
    rho = a @ a.conj().T
    return rho / np.trace(rho)


def dense(x):
    """The oracle's density matrix of a ket or matrix."""
    return np.outer(x, x.conj()) if x.ndim == 1 else x


def ptrace(rho, keep, n=N):
    """Reduced matrix of ``keep`` (in that order) by reshaping and an einsum trace."""
    rest = [q for q in range(n) if q not in keep]
    k = len(keep)
    t = rho.reshape([2] * 2 * n).transpose(list(keep) + rest + [n + q for q in keep] + [n + q for q in rest])
    return np.einsum("ajbj->ab", t.reshape(2**k, 2 ** (n - k), 2**k, 2 ** (n - k)))


def eigs(rho):
    lam = np.linalg.eigvalsh(rho)
    return lam[lam > 1e-14]


def s_vn(rho):
    lam = eigs(rho)
    return float(-(lam * np.log(lam)).sum())


def s_renyi2(rho):
    return float(-np.log((np.linalg.eigvalsh(rho) ** 2).sum()))


def transpose_part(rho, qubits, n):
    """``rho`` with the row and column index of each of ``qubits`` exchanged."""
    order = list(range(2 * n))
    for q in qubits:
        order[q], order[n + q] = n + q, q
    return rho.reshape([2] * 2 * n).transpose(order).reshape(2**n, 2**n)


def q(rho, n=N):
    return qutip.Qobj(rho, dims=[[2] * n, [2] * n])


def psd_sqrt(rho):
    lam, v = np.linalg.eigh(rho)
    return (v * np.sqrt(np.clip(lam, 0, None))) @ v.conj().T


def fidelity_oracle(x, y):
    """Squared fidelity: ``<x|sigma|x>`` when one side is a ket (a 1-D array), else
    the squared nuclear norm of ``sqrt(rho) sqrt(sigma)``."""
    if x.ndim == 1 or y.ndim == 1:
        ket, other = (x, y) if x.ndim == 1 else (y, x)
        return np.vdot(ket, dense(other) @ ket).real
    return np.linalg.svd(psd_sqrt(x) @ psd_sqrt(y), compute_uv=False).sum() ** 2


def trace_distance_oracle(x, y):
    return np.abs(np.linalg.eigvalsh(dense(x) - dense(y))).sum() / 2


def observable_matrix(terms, n=N):
    total = np.zeros((2**n, 2**n), dtype=complex)
    for c, paulis in terms:
        m = np.ones((1, 1), dtype=complex)
        for qubit in range(n):
            m = np.kron(m, PAULI[paulis.get(qubit, "I")])
        total += c * m
    return total


def text_of(terms):
    return " + ".join(f"{c} " + " ".join(f"{p}{qq}" for qq, p in paulis.items()) for c, paulis in terms)


# --------------------------------------------------------------- every function

A, B = [0, 2], [3]  # disjoint subsystems, A not sorted relative to B
SUB = [3, 1]  # a subsystem named out of order

SIGMA = random_mixed(7)  # a full-rank mixed state to compare with

# name -> (call on a state, oracle on the state's ket or matrix)
CASES = {
    "partial_trace": (lambda s: info.partial_trace(s, SUB).matrix(), lambda x: ptrace(dense(x), SUB)),
    "qubit_states": (lambda s: info.qubit_states(s), lambda x: np.stack([ptrace(dense(x), [k]) for k in range(N)])),
    "entropy": (lambda s: info.entropy(s, SUB), lambda x: s_vn(ptrace(dense(x), SUB))),
    "entropy alpha=2": (lambda s: info.entropy(s, SUB, alpha=2), lambda x: s_renyi2(ptrace(dense(x), SUB))),
    "entropy of 3 qubits, base 2": (lambda s: info.entropy(s, [2, 0, 3], base=2),
                                    lambda x: s_vn(ptrace(dense(x), [0, 2, 3])) / math.log(2)),
    "mutual_information": (lambda s: info.mutual_information(s, A, B),
                           lambda x: s_vn(ptrace(dense(x), A)) + s_vn(ptrace(dense(x), B)) - s_vn(ptrace(dense(x), A + B))),
    "purity": (lambda s: info.purity(s, SUB), lambda x: np.trace(np.linalg.matrix_power(ptrace(dense(x), SUB), 2)).real),
    "linear_entropy": (lambda s: info.linear_entropy(s, SUB),
                       lambda x: qutip.entropy_linear(q(ptrace(dense(x), SUB), 2))),
    "conditional_entropy": (lambda s: info.conditional_entropy(s, A, B),
                            lambda x: s_vn(ptrace(dense(x), A + B)) - s_vn(ptrace(dense(x), B))),
    "relative_entropy": (lambda s: info.relative_entropy(s, tq.DensityMatrix.from_array(SIGMA)),
                         lambda x: qutip.entropy_relative(q(dense(x)), q(SIGMA))),
    "partial_transpose": (lambda s: info.partial_transpose(s, SUB), lambda x: transpose_part(dense(x), SUB, N)),
    # QuTiP's negativity transposes one subsystem: A's two qubits are one of dimension 4
    "negativity": (lambda s: info.negativity(s, A, B),
                   lambda x: qutip.negativity(qutip.Qobj(ptrace(dense(x), A + B), dims=[[4, 2], [4, 2]]), 0,
                                              method="eigenvalues")),
    "log_negativity": (lambda s: info.log_negativity(s, A, B),
                       lambda x: qutip.negativity(qutip.Qobj(ptrace(dense(x), A + B), dims=[[4, 2], [4, 2]]), 0,
                                                  method="eigenvalues", logarithmic=True)),
    "concurrence": (lambda s: info.concurrence(s, 3, 1), lambda x: qutip.concurrence(q(ptrace(dense(x), [3, 1]), 2))),
    "fidelity": (lambda s: info.fidelity(s, tq.DensityMatrix.from_array(SIGMA)), lambda x: fidelity_oracle(x, SIGMA)),
    "trace_distance": (lambda s: info.trace_distance(s, tq.DensityMatrix.from_array(SIGMA)),
                       lambda x: trace_distance_oracle(x, SIGMA)),
    "bures_distance": (lambda s: info.bures_distance(s, tq.DensityMatrix.from_array(SIGMA)),
                       lambda x: qutip.bures_dist(q(dense(x)), q(SIGMA))),
    "hellinger_distance": (lambda s: info.hellinger_distance(s, tq.DensityMatrix.from_array(SIGMA)),
                           lambda x: qutip.hellinger_dist(q(dense(x)), q(SIGMA))),
}


def toys():
    ket = random_ket(1)
    rho = random_mixed(2)
    return [("ket", LittleEndianKet(ket), ket), ("mixed", LittleEndianMixed(rho), rho)]


def test_every_public_state_function_of_info_is_exercised():
    named = {name.split(" ")[0] for name in CASES} | {"schmidt_values"}
    assert named == set(info.__all__) - {"entropy_of_spectrum"}  # the one that takes no state


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("which", ["ket", "mixed"])
def test_toy_kind_gives_the_oracles_numbers(case, which):
    (_, state, x), = [t for t in toys() if t[0] == which]
    call, oracle = CASES[case]
    value = call(state)
    assert isinstance(value, torch.Tensor) and value.dtype in (torch.float64, torch.complex128)
    # QuTiP's matrix square roots of a rank-1 matrix keep about 8 digits
    tol = 1e-8 if case in ("bures_distance", "hellinger_distance") else TOL
    np.testing.assert_allclose(value.numpy(), oracle(x), atol=tol, rtol=0)


def test_toy_ket_schmidt_values_are_singular_values_of_the_amplitudes():
    (_, state, x), _ = toys()
    for cut in range(1, N):
        expected = np.linalg.svd(x.reshape(2**cut, -1), compute_uv=False)
        np.testing.assert_allclose(info.schmidt_values(state, cut).numpy(), expected, atol=TOL)


def test_toy_mixed_kind_has_no_schmidt_values():
    _, (_, state, _) = toys()
    with pytest.raises(TypeError, match=r"schmidt_values needs a pure state; a LittleEndianMixed has none"):
        info.schmidt_values(state, 2)


def test_renyi_entropies_of_a_pure_toy_use_either_side_of_the_cut():
    (_, state, x), _ = toys()
    rho = dense(x)
    for sub in ([0], [2, 0, 3], [0, 1, 2, 3]):
        for alpha in (1, 2, float("inf")):
            lam = np.clip(np.linalg.eigvalsh(ptrace(rho, sub)), 0, None)
            lam = lam[lam > 1e-14]
            if alpha == 1:
                expected = -(lam * np.log(lam)).sum()
            elif alpha == 2:
                expected = -np.log((lam**2).sum())
            else:
                expected = -np.log(lam.max())
            assert abs(info.entropy(state, sub, alpha=alpha).item() - expected) < 1e-9


TERMS = [(0.5, {0: "Z", 1: "Z"}), (1.0, {2: "X"}), (-0.3, {0: "Y", 3: "Y"}), (0.7, {1: "X", 2: "Y", 3: "Z"})]


@pytest.mark.parametrize("which", ["ket", "mixed"])
def test_toy_kind_expectation_values_match_kronecker_products(which):
    (_, state, x), = [t for t in toys() if t[0] == which]
    expected = np.trace(dense(x) @ observable_matrix(TERMS)).real
    assert abs(state.expectation(text_of(TERMS)).item() - expected) < TOL
    assert abs(tq.PauliSum.from_string(text_of(TERMS)).expectation(state).item() - expected) < TOL
    assert abs(tq.PauliString("Z0 Z3", 2.0).expectation(state).item()
               - np.trace(dense(x) @ observable_matrix([(2.0, {0: "Z", 3: "Z"})])).real) < TOL


def test_toy_kind_runs_the_maxcut_objective():
    """8 qubits: the read-out scores only the 64 most likely of 256 bitstrings, so the
    toy's probabilities must rank them right (checked against NumPy's own ranking)."""
    n = 8
    problem = MaxCutProblem.random_regular(n, 3, seed=1)
    x = random_ket(3, n)
    state = LittleEndianKet(x)
    probs = np.abs(x) ** 2
    bits = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1
    cuts = np.array([sum(w for (i, j), w in zip(problem.edges.tolist(), problem.weights.tolist()) if b[i] != b[j])
                     for b in bits])
    assert abs(expected_cut(problem, state).item() - probs @ cuts) < TOL
    likely = np.argsort(-probs)[:64]
    assert cuts[likely].max() < cuts.max()  # the best cut overall is not among them: the ranking matters
    value, best = readout(problem, state, "node")
    assert value == cuts[likely].max()
    assert int("".join(map(str, best.tolist())), 2) in set(likely.tolist())


def test_a_kind_that_leaves_out_a_required_method_cannot_be_made():
    class Incomplete(QuantumState):
        is_pure = True

        def reduced_matrix(self, keep):
            raise AssertionError

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


def test_a_non_state_is_still_refused_by_name():
    with pytest.raises(TypeError, match=r"expected a StateVector, DensityMatrix, MPS, ProductState or "
                                        r"BlockProductState, got ndarray"):
        info.entropy(random_ket(0), [0])
    with pytest.raises(TypeError, match=r"cannot take an expectation on ndarray"):
        tq.PauliSum([]).expectation(random_ket(0))


# ------------------------------------------------------------- the cross-kind rule


def builtin_kinds():
    """The same two product states of every built-in pure kind, and their kets."""
    rng = np.random.default_rng(5)
    kets = []
    for _ in range(2):
        v = rng.normal(size=(N, 2)) + 1j * rng.normal(size=(N, 2))
        kets.append(v / np.linalg.norm(v, axis=1, keepdims=True))
    out = []
    for v in kets:
        product = tq.ProductState.from_vectors(v)
        full = np.ones(1, dtype=complex)
        for row in v:
            full = np.kron(full, row)
        blocks = tq.BlockProductState.from_blocks([((0, 2), np.kron(v[0], v[2])), ((1,), v[1]), ((3,), v[3])])
        out.append(({"product": product, "blocks": blocks, "mps": product.to_mps(),
                    "statevector": tq.StateVector.from_array(full), "toy": LittleEndianKet(full),
                    "density": tq.DensityMatrix.from_array(np.outer(full, full.conj())),
                    "toy mixed": LittleEndianMixed(np.outer(full, full.conj()))}, full))
    return out


def test_kinds_meet_where_the_rule_says():
    (first, _), (second, _) = builtin_kinds()
    meets = {
        ("product", "blocks"): tq.BlockProductState, ("blocks", "product"): tq.BlockProductState,
        ("product", "mps"): tq.MPS, ("mps", "product"): tq.MPS,
        ("product", "product"): tq.ProductState, ("mps", "mps"): tq.MPS,
        ("blocks", "mps"): tq.StateVector, ("mps", "statevector"): tq.StateVector,
        ("product", "statevector"): tq.StateVector, ("toy", "product"): tq.StateVector,
        ("toy", "toy"): LittleEndianKet,
    }
    for (x, y), kind in meets.items():
        a, b = common_form(first[x], second[y])
        assert type(a) is kind and type(b) is kind, (x, y)


@pytest.mark.parametrize("a", ["product", "blocks", "mps", "statevector", "toy", "density", "toy mixed"])
@pytest.mark.parametrize("b", ["product", "blocks", "mps", "statevector", "toy", "density", "toy mixed"])
def test_fidelity_and_distances_between_kinds_match_numpy(a, b):
    (first, x), (second, y) = builtin_kinds()
    overlap = abs(np.vdot(x, y)) ** 2
    rx, ry = np.outer(x, x.conj()), np.outer(y, y.conj())
    assert abs(info.fidelity(first[a], second[b]).item() - overlap) < TOL
    trace = np.abs(np.linalg.eigvalsh(rx - ry)).sum() / 2
    assert abs(info.trace_distance(first[a], second[b]).item() - trace) < TOL
    assert abs(info.hellinger_distance(first[a], second[b]).item() - np.linalg.norm(rx - ry)) < 1e-8
    assert abs(info.bures_distance(first[a], second[b]).item() - math.sqrt(2 * (1 - math.sqrt(overlap)))) < 1e-8
    assert info.fidelity(first[a], first[b]).item() == pytest.approx(1, abs=TOL)


def test_fidelity_of_an_mps_and_a_mixed_toy_is_psi_rho_psi():
    rho = random_mixed(3, rank=3)
    ket = random_ket(4)
    mps = tq.MPS.from_statevector(tq.StateVector.from_array(ket), cutoff=0)
    toy = LittleEndianMixed(rho)
    full_rank = random_mixed(8)
    for other in (LittleEndianMixed(SIGMA), tq.DensityMatrix.from_array(SIGMA)):
        assert abs(info.fidelity(LittleEndianMixed(full_rank), other).item() - fidelity_oracle(full_rank, SIGMA)) < TOL
    expected = np.vdot(ket, rho @ ket).real
    assert abs(info.fidelity(mps, toy).item() - expected) < TOL
    assert abs(info.fidelity(toy, mps).item() - expected) < TOL
    assert abs(info.fidelity(mps, tq.DensityMatrix.from_array(rho)).item() - expected) < TOL


ENTANGLED_KINDS = ["mps", "statevector", "toy", "density", "toy mixed"]


@pytest.mark.parametrize("a", ENTANGLED_KINDS)
@pytest.mark.parametrize("b", ENTANGLED_KINDS)
def test_kinds_meet_on_entangled_states_as_numpy_says(a, b):
    """Random (entangled) kets: the MPS's overlap and difference train, and the toy's, see real bonds."""
    x, y = random_ket(11), random_ket(12)

    def held(kind, v):
        sv = tq.StateVector.from_array(v)
        return {"mps": lambda: tq.MPS.from_statevector(sv, cutoff=0), "statevector": lambda: sv,
                "toy": lambda: LittleEndianKet(v), "density": lambda: tq.DensityMatrix.from_state(sv),
                "toy mixed": lambda: LittleEndianMixed(np.outer(v, v.conj()))}[kind]()

    first, second = held(a, x), held(b, y)
    overlap = abs(np.vdot(x, y)) ** 2
    trace = np.abs(np.linalg.eigvalsh(np.outer(x, x.conj()) - np.outer(y, y.conj()))).sum() / 2
    assert abs(info.fidelity(first, second).item() - overlap) < TOL
    assert abs(info.trace_distance(first, second).item() - trace) < TOL
    assert abs(info.fidelity(second, first).item() - overlap) < TOL


def test_two_kinds_sharing_conversions_meet_as_the_same_kind_in_either_order():
    class Left(LittleEndianKet):
        pass

    class Right(LittleEndianKet):
        pass

    class Wide(LittleEndianKet):
        pass

    class Narrow(LittleEndianKet):
        pass

    def to(kind):
        return lambda state: kind(state._big_endian())

    Left.converts_to = {Wide: to(Wide), Narrow: to(Narrow)}  # Wide first for Left,
    Right.converts_to = {Narrow: to(Narrow), Wide: to(Wide)}  # Narrow first for Right: a tie, broken by name
    x, y = random_ket(13), random_ket(14)
    ab = common_form(Left(x), Right(y))
    ba = common_form(Right(y), Left(x))
    assert {type(s) for s in ab} == {type(s) for s in ba} == {Narrow}
    Left.converts_to = {Wide: to(Wide), Narrow: to(Narrow)}
    Right.converts_to = {Wide: to(Wide)} | {Narrow: to(Narrow)}  # Wide is earliest in both lists together
    assert {type(s) for s in common_form(Right(y), Left(x))} == {Wide}
    Right.converts_to = {Narrow: to(Narrow)}  # the one kind both list
    assert {type(s) for s in common_form(Right(y), Left(x))} == {Narrow}
