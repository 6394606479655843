"""QuTiP's own test cases for partial traces, entropies, metrics and entanglement
measures, re-run against tqsim on every state kind that can hold each state.

Mirrored (QuTiP 5, qutip/qutip):

- ``qutip/tests/core/test_ptrace.py``: noncompound, unsorted selection (subset
  and all), invalid input, random kets, random density matrices, operators
  (here: product states), the ket specialisation;
- ``qutip/tests/test_partial_transpose.py``: bipartite index pattern,
  comparison on a product of two states, randomized tripartite masks;
- ``qutip/tests/test_entropy.py``: von Neumann (binary, pure, mixed), linear
  entropy, concurrence, mutual information, relative entropy, conditional
  entropy;
- ``qutip/tests/core/test_metrics.py``: fidelity, trace distance, Hellinger
  distance and the comparisons between metrics (Bures against Hellinger).

The cases are QuTiP's; the code is ours. The oracle is QuTiP run on the same
state, or an exact closed form where QuTiP rounds further from it (a
log-negativity of 2e-9 where the exact value is 0). Conventions that differ on
purpose: ``tq.fidelity`` is QuTiP's ``fidelity`` squared; ``tq.partial_trace``
keeps the qubits in the order given (QuTiP sorts them); an empty selection is
refused (QuTiP returns the trace); entropies use the natural log unless
``base`` is given. QuTiP's qudits of dimension 4 are two qubits here.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import qutip
import torch

import tqsim as tq

pytestmark = pytest.mark.usefixtures("one_thread")

C128 = torch.complex128
TOL = 1e-10  # complex128 throughout, unless a test takes the dtype fixture
SQRT2 = math.sqrt(2)


# ---------------------------------------------------------------- the same state as every kind


def ket_kinds(psi, dtype=C128, blocks=None, vectors=None) -> dict:
    """StateVector, DensityMatrix, MPS and BlockProductState holding the ket ``psi``.

    ``blocks``: qubit groups the state factorises over (a real multi-block
    BlockProductState, each block's ket cut out of ``psi``); ``vectors``: the
    single-qubit vectors of a product state (adds a ProductState).
    """
    psi = np.asarray(psi, dtype=complex).reshape(-1)
    n = int(round(math.log2(psi.size)))
    sv = tq.StateVector.from_array(psi, dtype=dtype)
    kinds = {"sv": sv, "dm": tq.DensityMatrix.from_state(sv), "mps": tq.MPS.from_statevector(sv, cutoff=0)}
    if blocks is None:
        order = list(range(n))[::-1]  # one block, qubits listed backwards
        kinds["blocks"] = tq.BlockProductState.from_blocks(
            [(order, psi.reshape((2,) * n).transpose(order).reshape(-1))], dtype=dtype)
    else:
        kinds["blocks"] = tq.BlockProductState.from_blocks([(g, block_ket(psi, n, g)) for g in blocks], dtype=dtype)
    if vectors is not None:
        kinds["product"] = tq.ProductState.from_vectors(np.asarray(vectors, dtype=complex), dtype=dtype)
    return kinds


def block_ket(psi, n, group) -> np.ndarray:
    """The ket of ``group`` in a state that factorises over it (its reduced state's top eigenvector)."""
    rest = [q for q in range(n) if q not in group]
    m = psi.reshape((2,) * n).transpose(list(group) + rest).reshape(2 ** len(group), -1)
    u, s, _ = np.linalg.svd(m)
    assert s[1:].max(initial=0) < 1e-12, "the state does not factorise over this group"
    v = u[:, 0]
    return v * np.exp(-1j * np.angle(v[np.argmax(np.abs(v))]))


def dm_kinds(rho, dtype=C128) -> dict:
    return {"dm": tq.DensityMatrix.from_array(np.asarray(rho), dtype=dtype)}


def qubit_ket(psi) -> qutip.Qobj:
    psi = np.asarray(psi, dtype=complex).reshape(-1)
    n = int(round(math.log2(psi.size)))
    return qutip.Qobj(psi, dims=[[2] * n, [1] * n])


def qubit_dm(rho) -> qutip.Qobj:
    rho = np.asarray(rho, dtype=complex)
    n = int(round(math.log2(rho.shape[0])))
    return qutip.Qobj(rho, dims=[[2] * n, [2] * n])


def ptrace_in_order(q: qutip.Qobj, keep) -> np.ndarray:
    """QuTiP's ptrace (which sorts the selection) put back in the order given."""
    keep = list(keep)
    sorted_keep = sorted(keep)
    return q.ptrace(sorted_keep).permute([sorted_keep.index(k) for k in keep]).full()


def value(t) -> float:
    return float(torch.as_tensor(t).detach().reshape(()).item())


def matrix(t) -> np.ndarray:
    if isinstance(t, tq.DensityMatrix):
        t = t.matrix()
    return t.detach().resolve_conj().numpy()


def rand_ket(n, seed) -> np.ndarray:
    return qutip.rand_ket([2] * n, seed=seed).full().reshape(-1)


def rand_dm(n, seed, **kwargs) -> np.ndarray:
    return qutip.rand_dm([2] * n, seed=seed, **kwargs).full()


def bell(which: str) -> np.ndarray:
    return qutip.bell_state(which).full().reshape(-1)


def basis_vectors(bits: str) -> np.ndarray:
    return np.array([[1, 0] if b == "0" else [0, 1] for b in bits], dtype=complex)


def basis_ket(bits: str) -> np.ndarray:
    return qutip.basis([2] * len(bits), [int(b) for b in bits]).full().reshape(-1)


# ================================================================ test_ptrace.py


@pytest.mark.parametrize("as_dm", [False, True], ids=["ket", "dm"])
@pytest.mark.parametrize("seed", range(5))
def test_ptrace_noncompound_rand(seed, as_dm, dtype, tol):
    """QuTiP: ``A.ptrace(0) == A`` on a space that is not a tensor product; here a single
    qubit, and keeping every qubit of a 3-qubit state in order."""
    for n in (1, 3):
        psi = rand_ket(n, seed)
        q = qubit_ket(psi).proj()
        kinds = dm_kinds(q.full(), dtype) if as_dm else ket_kinds(psi, dtype)
        for name, state in kinds.items():
            got = matrix(tq.partial_trace(state, list(range(n))))
            np.testing.assert_allclose(got, q.full(), atol=tol, err_msg=name)


@pytest.fixture(params=[False, True], ids=["ket", "dm"])
def state3(request):
    """QuTiP's fixture state on dims [2, 3, 4]; here a random 3-qubit ket or its projector."""
    psi = rand_ket(3, 1325)
    q = qubit_ket(psi)
    return (dm_kinds(q.proj().full()) if request.param else ket_kinds(psi)), q.proj()


@pytest.mark.parametrize("pair", list(itertools.combinations(range(3), 2)), ids=str)
def test_ptrace_unsorted_selection_subset(state3, pair):
    """QuTiP gh-1325: ptrace ignores the order of the selection. tqsim keeps it: the reversed
    pair is the same reduced state with its two qubits swapped."""
    kinds, q = state3
    swap = qutip.core.gates.swap().full()
    for name, state in kinds.items():
        ordered = matrix(tq.partial_trace(state, list(pair)))
        reversed_ = matrix(tq.partial_trace(state, list(pair[::-1])))
        np.testing.assert_allclose(ordered, q.ptrace(list(pair)).full(), atol=TOL, err_msg=name)
        np.testing.assert_allclose(reversed_, swap @ ordered @ swap, atol=TOL, err_msg=name)
        np.testing.assert_allclose(reversed_, ptrace_in_order(q, pair[::-1]), atol=TOL, err_msg=name)


@pytest.mark.parametrize("permutation", list(itertools.permutations(range(3))), ids=str)
def test_ptrace_unsorted_selection_all(state3, permutation):
    """Keeping every qubit in a permuted order gives the whole state with its qubits permuted
    (QuTiP: the whole state itself, since it sorts)."""
    kinds, q = state3
    for name, state in kinds.items():
        got = tq.partial_trace(state, list(permutation))
        assert got.num_qubits == 3
        np.testing.assert_allclose(matrix(got), q.permute(list(permutation)).full(), atol=TOL, err_msg=name)


@pytest.mark.parametrize("selection,exception", [
    pytest.param([3], IndexError, id="too big"),
    pytest.param([-1], IndexError, id="too small"),
    pytest.param([0, 0], ValueError, id="duplicate"),
    pytest.param([0, 1, 2, 3], (IndexError, ValueError), id="too many"),
    pytest.param([], ValueError, id="trace all (QuTiP returns the trace; tqsim refuses)"),
])
def test_ptrace_fails_on_invalid_input(state3, selection, exception):
    kinds, _ = state3
    for name, state in kinds.items():
        with pytest.raises(exception):
            tq.partial_trace(state, selection)


@pytest.mark.parametrize("sel", [[3, 2], [0, 2], [0, 1]], ids=str)
@pytest.mark.parametrize("seed", range(3))
def test_ptrace_rand_ket(sel, seed, dtype, tol):
    """QuTiP: random kets on [2]*6 against the reference ptrace, here on every pure kind."""
    psi = rand_ket(6, seed)
    q = qubit_ket(psi)
    for name, state in ket_kinds(psi, dtype).items():
        np.testing.assert_allclose(matrix(tq.partial_trace(state, sel)), ptrace_in_order(q, sel), atol=tol,
                                   err_msg=name)


QUDIT_SELECTIONS = [[0, 1, 2], [0], [1], [1, 0], [0, 2]]
QUDIT_IDS = ["trace_none", "trace_one", "trace_one_2", "trace_multiple", "trace_multiple_not_sorted"]


def qudits_to_qubits(sel):
    """Qudit i of dimension 4 is qubits 2i, 2i+1."""
    return [q for s in sel for q in (2 * s, 2 * s + 1)]


@pytest.mark.parametrize("sel", QUDIT_SELECTIONS, ids=QUDIT_IDS)
def test_ptrace_rand_dm(sel, dtype, tol):
    """QuTiP: rand_dm([4, 4, 4], density=0.5); its qudits are qubit pairs here, and QuTiP's
    own ptrace on the qudits (put in the order given) is the oracle."""
    q = qutip.rand_dm([4, 4, 4], density=0.5, seed=7)
    expected = q.ptrace(sorted(sel)).permute([sorted(sel).index(s) for s in sel]).full()
    state = tq.DensityMatrix.from_array(q.full(), dtype=dtype)
    np.testing.assert_allclose(matrix(tq.partial_trace(state, qudits_to_qubits(sel))), expected, atol=tol)


def test_ptrace_rand_dm_trace_all_is_refused():
    """QuTiP's 'trace_all' (an empty selection) returns Tr(rho) = 1; tqsim refuses an empty keep."""
    state = tq.DensityMatrix.from_array(qutip.rand_dm([4, 4, 4], density=0.5, seed=7).full())
    with pytest.raises(ValueError):
        tq.partial_trace(state, [])


@pytest.mark.parametrize("sel", QUDIT_SELECTIONS, ids=QUDIT_IDS)
def test_ptrace_operator(sel):
    """QuTiP: tensor(rand_dm(2), thermal_dm(10, 1), rand_unitary(3)). tqsim traces states, so the
    factors are states: rand_dm(4), a thermal state of 4 levels, rand_dm(4); the reduced state
    of a tensor product is the product of the kept factors (closed form), and QuTiP agrees."""
    factors = [qutip.rand_dm(4, seed=1), qutip.thermal_dm(4, 1), qutip.rand_dm(4, seed=2)]
    q = qutip.tensor(*factors)
    state = tq.DensityMatrix.from_array(q.full())
    got = matrix(tq.partial_trace(state, qudits_to_qubits(sel)))
    closed_form = np.ones((1, 1))
    for s in sel:
        closed_form = np.kron(closed_form, factors[s].full())
    np.testing.assert_allclose(got, closed_form, atol=TOL)
    np.testing.assert_allclose(got, q.ptrace(sorted(sel)).permute([sorted(sel).index(s) for s in sel]).full(),
                               atol=TOL)


@pytest.mark.parametrize("sel", [[3], [0, 2], [0, 1, 4], [0, 1, 2, 3, 4, 5], [5, 0, 3]], ids=str)
def test_ptrace_ket_specialization_matches_old_implementation(sel):
    """QuTiP: a ket's own ptrace equals that of its projector. Here every kind's reduced state
    equals the DensityMatrix's, and QuTiP's ``ket.proj().ptrace``."""
    psi = rand_ket(6, 11)
    expected = ptrace_in_order(qubit_ket(psi).proj(), sel)
    kinds = ket_kinds(psi)
    from_dm = matrix(tq.partial_trace(kinds["dm"], sel))
    np.testing.assert_allclose(from_dm, expected, atol=TOL)
    for name, state in kinds.items():
        np.testing.assert_allclose(matrix(tq.partial_trace(state, sel)), from_dm, atol=TOL, err_msg=name)


# ================================================================ test_partial_transpose.py

# QuTiP's bipartite test transposes rho = arange(16).reshape(4, 4); read as flat indices, its
# expected matrices are the index patterns of the partial transposes, which hold for any rho
PT_PATTERN = {
    (0,): np.array([[0, 1, 8, 9], [4, 5, 12, 13], [2, 3, 10, 11], [6, 7, 14, 15]]),
    (1,): np.array([[0, 4, 2, 6], [1, 5, 3, 7], [8, 12, 10, 14], [9, 13, 11, 15]]),
    (0, 1): np.arange(16).reshape(4, 4).T,
}


@pytest.mark.parametrize("subsystem", [(0,), (1,), (0, 1), (1, 0)], ids=str)
def test_partial_transpose_bipartite(subsystem, dtype, tol):
    rho = qutip.rand_dm(4, seed=16).full()  # Hermitian, every entry distinct
    pattern = PT_PATTERN[tuple(sorted(subsystem))]
    expected = rho.reshape(-1)[pattern]
    got = matrix(tq.partial_transpose(tq.DensityMatrix.from_array(rho, dtype=dtype), list(subsystem)))
    assert got.shape == (4, 4)
    np.testing.assert_allclose(got, expected, atol=tol)
    mask = [int(q in subsystem) for q in range(2)]
    np.testing.assert_allclose(got, qutip.partial_transpose(qubit_dm(rho), mask).full(), atol=tol)


def test_partial_transpose_bipartite_of_nothing_is_refused():
    """QuTiP's mask [0, 0] returns rho unchanged; tqsim refuses an empty subsystem."""
    with pytest.raises(ValueError):
        tq.partial_transpose(tq.DensityMatrix.from_array(qutip.rand_dm(4, seed=16).full()), [])


@pytest.mark.parametrize("subsystem", [[0, 1], [2, 3], [1, 3]], ids=str)
def test_partial_transpose_comparison(subsystem):
    """QuTiP compares its dense and sparse methods on tensor(rand_dm(N), rand_dm(N)); here
    tensor(rand_dm(4), rand_dm(4)) on 4 qubits against QuTiP and the closed form
    rho1^T (x) rho2 when a whole factor is transposed."""
    r1, r2 = qutip.rand_dm(4, density=0.5, seed=3), qutip.rand_dm(4, density=0.5, seed=4)
    q = qutip.tensor(qubit_dm(r1.full()), qubit_dm(r2.full()))
    got = matrix(tq.partial_transpose(tq.DensityMatrix.from_array(q.full()), subsystem))
    mask = [int(k in subsystem) for k in range(4)]
    np.testing.assert_allclose(got, qutip.partial_transpose(q, mask).full(), atol=TOL)
    if subsystem == [0, 1]:
        np.testing.assert_allclose(got, np.kron(r1.full().T, r2.full()), atol=TOL)
    if subsystem == [2, 3]:
        np.testing.assert_allclose(got, np.kron(r1.full(), r2.full().T), atol=TOL)


@pytest.mark.parametrize("mask", [m for m in itertools.product([0, 1], repeat=3) if any(m)], ids=str)
def test_partial_transpose_randomized(mask):
    """QuTiP: a random mask on tensor(rand_dm(2), rand_dm(2), rand_dm(2)); here every nonempty
    mask, against the closed form (each masked factor transposed) and QuTiP."""
    factors = [qutip.rand_dm(2, density=1, seed=20 + k).full() for k in range(3)]
    rho = np.kron(np.kron(factors[0], factors[1]), factors[2])
    subsystem = [k for k in range(3) if mask[k]]
    got = matrix(tq.partial_transpose(tq.DensityMatrix.from_array(rho), subsystem))
    expected = np.ones((1, 1))
    for k, f in enumerate(factors):
        expected = np.kron(expected, f.T if mask[k] else f)
    np.testing.assert_allclose(got, expected, atol=TOL)
    np.testing.assert_allclose(got, qutip.partial_transpose(qubit_dm(rho), list(mask)).full(), atol=TOL)


@pytest.mark.parametrize("subsystem", [[0], [2], [1, 3], [3, 0, 2]], ids=str)
def test_partial_transpose_of_every_pure_kind(subsystem):
    psi = rand_ket(4, 5)
    expected = qutip.partial_transpose(qubit_ket(psi).proj(), [int(q in subsystem) for q in range(4)]).full()
    for name, state in ket_kinds(psi).items():
        got = tq.partial_transpose(state, subsystem)
        assert tuple(got.shape) == (16, 16), name
        np.testing.assert_allclose(matrix(got), expected, atol=TOL, err_msg=name)


# ================================================================ test_entropy.py: von Neumann


@pytest.mark.parametrize("p", np.linspace(0, 1, 17))
def test_entropy_vn_binary(p, dtype, tol):
    """QuTiP: S(diag(p, 1 - p)) in bits is the binary entropy. Also as the reduced state of
    sqrt(p)|00> + sqrt(1 - p)|11> on every pure kind."""
    expected = 0.0 if p in (0, 1) else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    dm = tq.DensityMatrix.from_array(np.diag([p, 1 - p]).astype(complex), dtype=dtype)
    assert abs(value(tq.entropy(dm, [0], base=2)) - expected) < max(tol, 1e-12)
    psi = np.array([math.sqrt(p), 0, 0, math.sqrt(1 - p)])
    # exact only up to the dtype: the amplitudes themselves are rounded; entropy near p = 0 is
    # steep (dS/dp ~ log2(1/p)), so complex64 gets its tolerance times log2(1/eps)
    stol = tol if dtype == C128 else tol * 24
    for name, state in ket_kinds(psi, dtype).items():
        for q in (0, 1):
            got = value(tq.entropy(state, [q], base=2))
            assert abs(got - expected) < stol, (name, q, got, expected)
            assert abs(got - qutip.entropy_vn(qubit_ket(psi).ptrace(q), base=2)) < stol, (name, q)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("n", [3, 4])
def test_entropy_vn_pure_state(n, seed):
    """QuTiP: entropy_vn(rand_ket(10)) is 0 to 1e-12. Here the whole register of a random
    ket of 8 or 16 levels, on every pure kind and as a density matrix."""
    psi = rand_ket(n, seed)
    assert abs(qutip.entropy_vn(qubit_ket(psi))) < 1e-12
    for name, state in ket_kinds(psi).items():
        assert abs(value(tq.entropy(state, list(range(n))))) < 1e-12, name
        assert abs(value(tq.entropy(state, list(range(n)), alpha=2))) < 1e-12, name


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("n", [3, 4])
def test_entropy_vn_mixed_state(n, seed):
    q = qutip.rand_dm([2] * n, seed=seed)
    got = value(tq.entropy(tq.DensityMatrix.from_array(q.full()), list(range(n))))
    assert got > 0
    assert abs(got - qutip.entropy_vn(q)) < TOL


# ================================================================ test_entropy.py: linear entropy


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("n", [3, 4])
def test_entropy_linear_less_than_von_neumann(n, seed):
    q = qutip.rand_dm([2] * n, seed=seed)
    state = tq.DensityMatrix.from_array(q.full())
    whole = list(range(n))
    linear = value(tq.linear_entropy(state, whole))
    assert abs(linear - qutip.entropy_linear(q)) < TOL
    assert linear <= value(tq.entropy(state, whole))
    assert linear > 0  # QuTiP's test_mixed_state
    for sub in ([0], [n - 1, 1]):  # reduced states too, in QuTiP on the ptrace
        assert abs(value(tq.linear_entropy(state, sub)) - qutip.entropy_linear(q.ptrace(sorted(sub)))) < TOL


@pytest.mark.parametrize("seed", range(10))
def test_entropy_linear_pure_state(seed):
    psi = rand_ket(4, seed)
    for name, state in ket_kinds(psi).items():
        assert abs(value(tq.linear_entropy(state, [0, 1, 2, 3]))) < 1e-12, name
        half = value(tq.linear_entropy(state, [2, 0]))
        assert abs(half - qutip.entropy_linear(qubit_ket(psi).ptrace([0, 2]))) < TOL, name


# ================================================================ test_entropy.py: concurrence


@pytest.mark.parametrize("which", ["00", "01", "10", "11"])
def test_concurrence_maximally_entangled(which, dtype, tol):
    """QuTiP: concurrence of each Bell projector is 1. Here on every kind, and for the pair
    inside a 4-qubit state Bell(0, 2) (x) Bell(1, 3) held as two blocks."""
    psi = bell(which)
    for name, state in ket_kinds(psi, dtype).items():
        assert abs(value(tq.concurrence(state)) - 1) < tol, name
        assert abs(value(tq.concurrence(state, 1, 0)) - 1) < tol, name
    assert abs(qutip.concurrence(qutip.bell_state(which).proj()) - 1) < 1e-12
    big = np.kron(psi, psi).reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(-1)  # pairs (0, 2) and (1, 3)
    for name, state in ket_kinds(big, dtype, blocks=[[0, 2], [1, 3]]).items():
        assert abs(value(tq.concurrence(state, 0, 2)) - 1) < tol, name
        assert abs(value(tq.concurrence(state, 3, 1)) - 1) < tol, name
        assert abs(value(tq.concurrence(state, 0, 1))) < tol, name  # across the blocks: separable


@pytest.mark.parametrize("seed", range(10))
def test_concurrence_nonzero(seed):
    """QuTiP: concurrence(rand_dm([2, 2])) >= 0; here also equal to QuTiP's value."""
    q = qutip.rand_dm([2, 2], seed=seed)
    got = value(tq.concurrence(tq.DensityMatrix.from_array(q.full())))
    assert got >= 0
    assert abs(got - qutip.concurrence(q)) < 1e-9  # QuTiP takes square roots of eigenvalues of a non-Hermitian product


@pytest.mark.parametrize("seed", range(5))
def test_concurrence_of_a_pair_inside_a_larger_state(seed):
    psi = rand_ket(4, seed)
    for a, b in [(0, 1), (3, 1), (0, 2)]:
        reduced = qubit_ket(psi).ptrace(sorted([a, b]))
        for name, state in ket_kinds(psi).items():
            assert abs(value(tq.concurrence(state, a, b)) - qutip.concurrence(reduced)) < 1e-9, (name, a, b)


def test_concurrence_of_product_states_is_zero():
    vectors = np.array([[np.cos(0.3), np.exp(0.4j) * np.sin(0.3)], [np.cos(1.1), np.exp(-2j) * np.sin(1.1)]])
    psi = np.kron(vectors[0], vectors[1])
    for name, state in ket_kinds(psi, vectors=vectors).items():
        assert abs(value(tq.concurrence(state))) < TOL, name


# ================================================================ test_entropy.py: mutual information


@pytest.mark.parametrize("seed", range(10))
def test_entropy_mutual_pure_state_additive(seed):
    """QuTiP: for a pure state on [5, 5], I(A:B) = S(A) + S(B). Here [4, 4] as 2 + 2 qubits."""
    psi = rand_ket(4, seed)
    q = qubit_ket(psi)
    expected = qutip.entropy_vn(q.ptrace([0, 1])) + qutip.entropy_vn(q.ptrace([2, 3]))
    assert abs(qutip.entropy_mutual(q.proj(), [0, 1], [2, 3]) - expected) < 1e-12
    for name, state in ket_kinds(psi).items():
        got = value(tq.mutual_information(state, [0, 1], [2, 3]))
        assert abs(got - expected) < TOL, name
        assert abs(got - 2 * value(tq.entropy(state, [0, 1]))) < TOL, name


@pytest.mark.parametrize("seed", range(10))
def test_entropy_mutual_component_selection(seed):
    psi = rand_ket(3, seed)
    q = qubit_ket(psi)
    expected = qutip.entropy_vn(q.ptrace([0, 2])) + qutip.entropy_vn(q.ptrace(1))
    assert abs(qutip.entropy_mutual(q.proj(), [0, 2], [1]) - expected) < 1e-12
    for name, state in ket_kinds(psi).items():
        assert abs(value(tq.mutual_information(state, [0, 2], [1])) - expected) < TOL, name
        assert abs(value(tq.mutual_information(state, [2, 0], [1])) - expected) < TOL, name


# ================================================================ test_entropy.py: relative entropy


def kinds_of(bits_or_rho):
    """Basis kets by their bits (every kind, a ProductState included), matrices as density matrices."""
    if isinstance(bits_or_rho, str):
        return ket_kinds(basis_ket(bits_or_rho), vectors=basis_vectors(bits_or_rho))
    return dm_kinds(bits_or_rho)


def test_entropy_relative_infinite():
    """QuTiP: S(|00> || |01>) = inf (rho has weight outside sigma's support)."""
    assert qutip.entropy_relative(qutip.ket("00"), qutip.ket("01")) == np.inf
    for name_a, rho in kinds_of("00").items():
        for name_b, sigma in kinds_of("01").items():
            assert value(tq.relative_entropy(rho, sigma)) == math.inf, (name_a, name_b)


def test_entropy_relative_base_2_or_e():
    """QuTiP: rho = |00><00|, sigma = (|00><00| + |01><01|) / 2 give ln 2 nats, 1 bit."""
    sigma = np.diag([0.5, 0.5, 0, 0]).astype(complex)
    for name, rho in kinds_of("00").items():
        for s_name, s in dm_kinds(sigma).items():
            assert abs(value(tq.relative_entropy(rho, s)) - math.log(2)) < TOL, name
            assert abs(value(tq.relative_entropy(rho, s, base=2)) - 1) < TOL, name
            assert abs(value(tq.relative_entropy(rho, s, base=math.e)) - 0.69314718) < 1e-8, name


def test_entropy_relative_base_other_than_2_or_e():
    """QuTiP refuses base 3; tqsim takes any base > 0 other than 1 (a change of unit)."""
    sigma = tq.DensityMatrix.from_array(np.diag([0.5, 0.5, 0, 0]).astype(complex))
    rho = tq.StateVector.basis("00", dtype=C128)
    assert abs(value(tq.relative_entropy(rho, sigma, base=3)) - math.log(2) / math.log(3)) < TOL
    for bad in (1, 0, -2):
        with pytest.raises(ValueError):
            tq.relative_entropy(rho, sigma, base=bad)


def test_entropy_relative_pure_vs_maximally_mixed_state():
    """QuTiP: S(|00> || I/4) = 2 bits."""
    sigma = tq.DensityMatrix.from_array(np.eye(4, dtype=complex) / 4)
    for name, rho in kinds_of("00").items():
        assert abs(value(tq.relative_entropy(rho, sigma, base=2)) - 2) < TOL, name


def test_entropy_relative_refuses_what_qutip_refuses():
    """QuTiP: different shapes (ValueError), kets where operators are needed (TypeError),
    non-real eigenvalues (ValueError). tqsim: states of different sizes, things that are not
    states, and density matrices that are not Hermitian (refused when built)."""
    two, one = tq.StateVector.basis("00", dtype=C128), tq.StateVector.basis("0", dtype=C128)
    with pytest.raises(ValueError):
        tq.relative_entropy(two, one)
    with pytest.raises(TypeError):
        tq.relative_entropy(two.amplitudes(), two)
    with pytest.raises(TypeError):
        tq.relative_entropy(two, qutip.ket("00"))
    rho = np.diag([1, 0, 0, 0]).astype(complex)
    for shift in (1j, -1j):
        with pytest.raises(ValueError):
            tq.DensityMatrix.from_array(rho + shift)


@pytest.mark.parametrize("seed", range(10))
def test_entropy_relative_random_dm_with_self(seed):
    """QuTiP: |S(rho || rho)| < 1e-13 for rand_dm(8); here also a pure state on every kind."""
    q = qutip.rand_dm(8, seed=seed)
    state = tq.DensityMatrix.from_array(q.full())
    assert abs(value(tq.relative_entropy(state, state))) < 1e-12
    for name_a, a in ket_kinds(rand_ket(3, seed)).items():
        for name_b, b in ket_kinds(rand_ket(3, seed)).items():
            assert abs(value(tq.relative_entropy(a, b))) < TOL, (name_a, name_b)


def relative_entropy_by_eigenvectors(rho: np.ndarray, sigma: np.ndarray) -> float:
    """S(rho || sigma) = sum_i p_i log p_i - sum_ij p_i |<r_i|s_j>|**2 log q_j (full-rank sigma)."""
    p, r = np.linalg.eigh(rho)
    q, s = np.linalg.eigh(sigma)
    overlap = np.abs(r.conj().T @ s) ** 2
    keep = p > 1e-300
    return float((p[keep] * np.log(p[keep])).sum() - p @ overlap @ np.log(q))


@pytest.mark.parametrize("seed", range(10))
def test_entropy_relative_random_rho_sigma(seed):
    rho_q, sigma_q = qutip.rand_dm(8, seed=seed), qutip.rand_dm(8, seed=100 + seed)
    rho = tq.DensityMatrix.from_array(rho_q.full())
    sigma = tq.DensityMatrix.from_array(sigma_q.full())
    got = value(tq.relative_entropy(rho, sigma))
    assert got >= 0
    assert abs(got - qutip.entropy_relative(rho_q, sigma_q)) < 1e-9
    assert abs(got - relative_entropy_by_eigenvectors(rho_q.full(), sigma_q.full())) < 1e-9
    # a pure rho against the mixed sigma, on every pure kind
    psi = rand_ket(3, seed)
    expected = qutip.entropy_relative(qubit_ket(psi), qubit_dm(sigma_q.full()))
    for name, state in ket_kinds(psi).items():
        assert abs(value(tq.relative_entropy(state, sigma)) - expected) < 1e-9, name


# ================================================================ test_entropy.py: conditional entropy


@pytest.mark.parametrize("seed", range(10))
def test_entropy_conditional_inequality_3_qubits(seed):
    """QuTiP: S(A|B,C) <= S(A|B) on a random pure 3-qubit state (strong subadditivity)."""
    psi = rand_ket(3, seed)
    full = qubit_ket(psi).proj()
    ab = full.ptrace([0, 1])
    s_a_bc, s_a_b = qutip.entropy_conditional(full, [1, 2]), qutip.entropy_conditional(ab, 1)
    for name, state in ket_kinds(psi).items():
        got_bc = value(tq.conditional_entropy(state, [0], [1, 2]))
        got_b = value(tq.conditional_entropy(state, [0], [1]))
        assert abs(got_bc - s_a_bc) < TOL, name
        assert abs(got_b - s_a_b) < TOL, name
        assert got_bc <= got_b + TOL, name


@pytest.mark.parametrize("seed", range(10))
def test_entropy_conditional_triangle_inequality_4_qubits(seed):
    """QuTiP: S(A,B|C,D) <= S(A|C) + S(B|D) on a random pure 4-qubit state."""
    psi = rand_ket(4, seed)
    full = qubit_ket(psi).proj()
    ac, bd = full.ptrace([0, 2]), full.ptrace([1, 3])
    expected = [qutip.entropy_conditional(full, [2, 3]), qutip.entropy_conditional(ac, 1),
                qutip.entropy_conditional(bd, 1)]
    for name, state in ket_kinds(psi).items():
        got = [value(tq.conditional_entropy(state, [0, 1], [2, 3])), value(tq.conditional_entropy(state, [0], [2])),
               value(tq.conditional_entropy(state, [1], [3]))]
        np.testing.assert_allclose(got, expected, atol=TOL, err_msg=name)
        assert got[0] <= got[1] + got[2] + TOL, name
    # mixed: the same on a random density matrix
    q = qutip.rand_dm([2] * 4, seed=seed)
    state = tq.DensityMatrix.from_array(q.full())
    assert abs(value(tq.conditional_entropy(state, [0, 1], [2, 3])) - qutip.entropy_conditional(q, [2, 3])) < TOL
    assert abs(value(tq.conditional_entropy(state, [0], [2], base=2))
               - qutip.entropy_conditional(q.ptrace([0, 2]), 1, base=2)) < TOL


# ================================================================ negativity (closed forms; QuTiP's entropy.negativity)


def werner(p: float) -> np.ndarray:
    """p |Psi-><Psi-| + (1 - p) I/4: entangled iff p > 1/3; negativity max(0, (3p - 1)/4),
    concurrence max(0, (3p - 1)/2)."""
    singlet = bell("11")
    return p * np.outer(singlet, singlet.conj()) + (1 - p) * np.eye(4) / 4


@pytest.mark.parametrize("p", [0.0, 0.2, 1 / 3, 0.5, 0.8, 1.0])
def test_werner_state_negativity_and_concurrence(p, dtype, tol):
    rho = werner(p)
    state = tq.DensityMatrix.from_array(rho, dtype=dtype)
    neg = max(0.0, (3 * p - 1) / 4)
    assert abs(value(tq.negativity(state, [0], [1])) - neg) < tol
    assert abs(value(tq.log_negativity(state, [0], [1])) - math.log2(2 * neg + 1)) < tol
    assert abs(value(tq.concurrence(state)) - max(0.0, (3 * p - 1) / 2)) < tol
    q = qutip.Qobj(rho, dims=[[2, 2], [2, 2]])
    # QuTiP's default 'tracenorm' method gives 3.7e-9 at p = 1/3 where the exact value is 0 (a
    # square root of rounding); its 'eigenvalues' method is the comparable one
    assert abs(qutip.negativity(q, 0) - neg) < 1e-8
    assert abs(value(tq.negativity(state, [0], [1])) - qutip.negativity(q, 0, method="eigenvalues")) < max(tol, 1e-12)
    assert abs(value(tq.concurrence(state)) - qutip.concurrence(q)) < max(tol, 1e-7)


def ghz(n: int) -> np.ndarray:
    psi = np.zeros(2**n, dtype=complex)
    psi[0] = psi[-1] = 1 / SQRT2
    return psi


def w_state(n: int) -> np.ndarray:
    psi = np.zeros(2**n, dtype=complex)
    psi[[1 << k for k in range(n)]] = 1 / math.sqrt(n)
    return psi


@pytest.mark.parametrize("a,b", [([0], [1, 2]), ([2], [0]), ([1], [2]), ([0, 2], [1])], ids=str)
def test_ghz_negativity(a, b):
    """GHZ-3: a cut of the whole state has negativity 1/2 (log-negativity 1); two of its qubits
    alone are separable: exactly 0 (QuTiP's log-negativity there is rounding above 0)."""
    psi = ghz(3)
    whole = len(a) + len(b) == 3
    neg, log_neg = (0.5, 1.0) if whole else (0.0, 0.0)
    for name, state in ket_kinds(psi).items():
        assert abs(value(tq.negativity(state, a, b)) - neg) < TOL, name
        assert abs(value(tq.log_negativity(state, a, b)) - log_neg) < TOL, name
        if not whole:
            assert abs(value(tq.concurrence(state, a[0], b[0]))) < TOL, name


@pytest.mark.parametrize("a,b", [(0, 1), (2, 0), (1, 2)])
def test_w_state_pair_negativity_and_concurrence(a, b):
    """W-3: each pair's reduced state is (|00><00| + 2 |Psi+><Psi+|) / 3, with concurrence 2/3
    and negativity (sqrt(5) - 1) / 6."""
    psi = w_state(3)
    reduced = qubit_ket(psi).ptrace(sorted([a, b]))
    assert abs(qutip.concurrence(reduced) - 2 / 3) < 1e-7
    for name, state in ket_kinds(psi).items():
        assert abs(value(tq.concurrence(state, a, b)) - 2 / 3) < TOL, name
        assert abs(value(tq.negativity(state, [a], [b])) - (math.sqrt(5) - 1) / 6) < TOL, name


@pytest.mark.parametrize("which", ["00", "01", "10", "11"])
def test_bell_state_negativity_matches_qutip(which):
    psi = bell(which)
    q = qutip.bell_state(which).proj()
    assert abs(qutip.negativity(q, 0) - 0.5) < 1e-9
    for name, state in ket_kinds(psi).items():
        assert abs(value(tq.negativity(state, [0], [1])) - 0.5) < TOL, name
        assert abs(value(tq.negativity(state, [1], [0])) - 0.5) < TOL, name
        assert abs(value(tq.log_negativity(state, [0], [1])) - 1) < TOL, name


@pytest.mark.parametrize("seed", range(5))
def test_negativity_of_random_states_matches_qutip(seed):
    q = qutip.rand_dm([2, 2, 2], seed=seed)
    state = tq.DensityMatrix.from_array(q.full())
    for a, b in [([0], [1]), ([2], [0, 1]), ([1, 2], [0])]:
        order = a + b
        rho = ptrace_in_order(q, order)
        bipartite = qutip.Qobj(rho, dims=[[2 ** len(a), 2 ** len(b)]] * 2)
        expected = qutip.negativity(bipartite, 0, method="eigenvalues")
        assert abs(value(tq.negativity(state, a, b)) - expected) < TOL, (a, b)
        # an exact 0 where QuTiP's log2 of a trace norm rounds (e.g. 2e-9) above it
        exact_log = math.log2(np.abs(np.linalg.eigvalsh(qutip.partial_transpose(bipartite, [1, 0]).full())).sum())
        assert abs(value(tq.log_negativity(state, a, b)) - exact_log) < TOL, (a, b)


# ================================================================ test_metrics.py


def metric_states(kind: str, n: int, seed: int) -> tuple[dict, qutip.Qobj]:
    """QuTiP's ``state`` fixture (rand_ket or rand_dm): every kind that holds it, and the Qobj."""
    if kind == "pure":
        psi = rand_ket(n, seed)
        return ket_kinds(psi), qubit_ket(psi)
    q = qubit_dm(rand_dm(n, seed))
    return dm_kinds(q.full()), q


DIMENSIONS = [1, 2, 3, 4]  # qubits: QuTiP's dimensions 2 .. 16 (it goes up to 100)


@pytest.mark.parametrize("n", DIMENSIONS)
@pytest.mark.parametrize("seed", range(3))
def test_fidelity_mixed_state_inequality(n, seed):
    """QuTiP: 1 - F <= sqrt(1 - F**2) (its F is our sqrt) for rand_dm(density=0.25)."""
    q1, q2 = qubit_dm(rand_dm(n, seed, density=0.25)), qubit_dm(rand_dm(n, 50 + seed, density=0.25))
    f = value(tq.fidelity(tq.DensityMatrix.from_array(q1.full()), tq.DensityMatrix.from_array(q2.full())))
    assert abs(f - qutip.fidelity(q1, q2) ** 2) < 1e-9
    root = math.sqrt(f)
    assert 1 - root <= math.sqrt(1 - f) + TOL


def orthogonal_pair(n: int, left_dm: bool, right_dm: bool):
    """QuTiP: basis(dim, 0) against basis(dim, dim // 2), as kets or projectors: |0...0> and
    |10...0> (dim // 2 flips qubit 0)."""
    bits = ["0" * n, "1" + "0" * (n - 1)]
    out = []
    for b, as_dm in zip(bits, (left_dm, right_dm)):
        psi = basis_ket(b)
        out.append(dm_kinds(np.outer(psi, psi.conj())) if as_dm else ket_kinds(psi, vectors=basis_vectors(b)))
    return out


@pytest.mark.parametrize("right_dm", [True, False], ids=["mixed", "pure"])
@pytest.mark.parametrize("left_dm", [True, False], ids=["mixed", "pure"])
@pytest.mark.parametrize("n", DIMENSIONS)
def test_metrics_orthogonal(n, left_dm, right_dm):
    """QuTiP (fidelity, tracedist, hellinger_dist ``test_orthogonal``): F = 0, D = 1,
    Hellinger = sqrt(2); Bures is sqrt(2) too."""
    left, right = orthogonal_pair(n, left_dm, right_dm)
    for name_a, a in left.items():
        for name_b, b in right.items():
            pair = (name_a, name_b)
            assert abs(value(tq.fidelity(a, b))) < TOL, pair
            assert abs(value(tq.trace_distance(a, b)) - 1) < TOL, pair
            assert abs(value(tq.hellinger_distance(a, b)) - SQRT2) < TOL, pair
            assert abs(value(tq.bures_distance(a, b)) - SQRT2) < TOL, pair


@pytest.mark.parametrize("n", DIMENSIONS)
@pytest.mark.parametrize("seed", range(3))
def test_metrics_invariant_under_unitary_transformation(n, seed):
    """QuTiP: F and D unchanged by rho -> U rho U^dagger (U from rand_unitary); the rotated
    states come from tqsim's own circuit on the density matrices."""
    q1, q2 = qubit_dm(rand_dm(n, seed, density=0.25)), qubit_dm(rand_dm(n, 60 + seed, density=0.25))
    u = qutip.rand_unitary([2] * n, seed=seed).full()
    rho1, rho2 = tq.DensityMatrix.from_array(q1.full()), tq.DensityMatrix.from_array(q2.full())
    circuit = tq.Circuit(n).unitary(u, list(range(n)))
    rot1, rot2 = circuit.run(rho1), circuit.run(rho2)
    np.testing.assert_allclose(matrix(rot1), u @ q1.full() @ u.conj().T, atol=TOL)
    for f in (tq.fidelity, tq.trace_distance, tq.bures_distance, tq.hellinger_distance):
        assert abs(value(f(rot1, rot2)) - value(f(rho1, rho2))) < 1e-9, f.__name__
    assert abs(value(tq.fidelity(rho1, rho2)) - qutip.fidelity(q1, q2) ** 2) < 1e-9
    assert abs(value(tq.trace_distance(rho1, rho2)) - qutip.tracedist(q1, q2)) < 1e-9


@pytest.mark.parametrize("kind", ["pure", "mixed"])
@pytest.mark.parametrize("n", DIMENSIONS)
def test_metrics_state_with_itself(kind, n):
    """QuTiP (fidelity, tracedist, hellinger_dist ``test_state_with_itself``; tolerance 1e-6
    there): F = 1, D = 0, Hellinger = 0, and Bures = 0, between every two kinds holding it."""
    kinds, _ = metric_states(kind, n, 3)
    for name_a, a in kinds.items():
        for name_b, b in kinds.items():
            pair = (name_a, name_b)
            assert abs(value(tq.fidelity(a, b)) - 1) < TOL, pair
            assert abs(value(tq.trace_distance(a, b))) < TOL, pair
            assert abs(value(tq.hellinger_distance(a, b))) < TOL, pair
            assert abs(value(tq.bures_distance(a, b))) < TOL, pair


@pytest.mark.parametrize("right", ["pure", "mixed"])
@pytest.mark.parametrize("left", ["pure", "mixed"])
@pytest.mark.parametrize("n", DIMENSIONS)
def test_metrics_bounded_and_comparisons(n, left, right):
    """QuTiP: F in [0, 1] (``test_bounded``); 1 - F <= D (``test_inequality_tracedist_to_fidelity``,
    its F being our sqrt); Bures <= Hellinger (``test_inequality_hellinger_dist_to_bures_dist``);
    and every value equal to QuTiP's."""
    kinds_a, qa = metric_states(left, n, 4)
    kinds_b, qb = metric_states(right, n, 5)
    expected = {
        "fidelity": qutip.fidelity(qa, qb) ** 2,
        "trace_distance": qutip.tracedist(qa, qb),
        "bures_distance": qutip.bures_dist(qa, qb),
        "hellinger_distance": qutip.hellinger_dist(qa, qb),
    }
    for name_a, a in kinds_a.items():
        for name_b, b in kinds_b.items():
            got = {f: value(getattr(tq, f)(a, b)) for f in expected}
            for f, v in expected.items():
                # QuTiP's tracedist and sqrtm-based values carry ~1e-8 of their own rounding
                assert abs(got[f] - v) < 1e-7, (f, name_a, name_b, got[f], v)
            assert -TOL <= got["fidelity"] <= 1 + TOL
            assert 1 - math.sqrt(got["fidelity"]) <= got["trace_distance"] + TOL
            assert got["bures_distance"] <= got["hellinger_distance"] + TOL


@pytest.mark.parametrize("n", DIMENSIONS)
@pytest.mark.parametrize("seed", range(3))
def test_fidelity_pure_state_equivalent_to_overlap(n, seed):
    """QuTiP gh-361: the fidelity of two kets is |<psi|phi>| (ours: its square)."""
    psi, phi = rand_ket(n, seed), rand_ket(n, 70 + seed)
    overlap = abs(np.vdot(psi, phi)) ** 2
    assert abs(qutip.fidelity(qubit_ket(psi), qubit_ket(phi)) ** 2 - overlap) < 1e-12
    for name_a, a in ket_kinds(psi).items():
        for name_b, b in ket_kinds(phi).items():
            assert abs(value(tq.fidelity(a, b)) - overlap) < TOL, (name_a, name_b)
            # QuTiP's Hellinger ``test_known_cases_pure_states``: sqrt(2 (1 - |<a|b>|**2))
            assert abs(value(tq.hellinger_distance(a, b)) - math.sqrt(2 * (1 - overlap))) < TOL, (name_a, name_b)


KET_0 = np.array([1, 0], dtype=complex)
KET_1 = np.array([0, 1], dtype=complex)
KET_P = np.array([1, 1], dtype=complex) / SQRT2
KET_PY = np.array([1, np.exp(0.25j * np.pi)], dtype=complex) / SQRT2
MAX_MIXED = np.eye(2, dtype=complex) / 2


@pytest.mark.parametrize("left,right,expected", [
    pytest.param(KET_0, KET_P, math.sqrt(0.5), id="|0>,|+>"),
    pytest.param(KET_0, KET_1, 0.0, id="|0>,|1>"),
    pytest.param(KET_0, MAX_MIXED, math.sqrt(0.5), id="|0>,id/2"),
    pytest.param(KET_P, KET_PY, math.sqrt(0.125 + (0.5 + math.sqrt(0.125)) ** 2), id="|+>,|+'>"),
])
def test_fidelity_known_cases(left, right, expected):
    """QuTiP's known fidelities (ours are their squares), on every 1-qubit kind."""
    def kinds(x):
        return dm_kinds(x) if x.ndim == 2 else ket_kinds(x, vectors=x[None, :])

    for name_a, a in kinds(left).items():
        for name_b, b in kinds(right).items():
            assert abs(value(tq.fidelity(a, b)) - expected**2) < TOL, (name_a, name_b)
            assert abs(value(tq.fidelity(b, a)) - expected**2) < TOL, (name_b, name_a)
            assert abs(value(tq.bures_distance(a, b)) - math.sqrt(2 * (1 - expected))) < TOL, (name_a, name_b)


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("seed", range(3))
def test_hellinger_monotonicity(n, seed):
    """QuTiP (arXiv:1611.03449 eq. 45): H(rhoA (x) rhoB, sigmaA (x) sigmaB) >= H(rhoA, sigmaA),
    with equality when rhoB = sigmaB. Dimension 2 and 4 here (QuTiP: 2 .. 25)."""
    rho_a, rho_b, sigma_a, sigma_b = (rand_dm(n, 10 * seed + k) for k in range(4))

    def dm(x):
        return tq.DensityMatrix.from_array(x)

    dist = value(tq.hellinger_distance(dm(rho_a), dm(sigma_a)))
    assert abs(dist - qutip.hellinger_dist(qubit_dm(rho_a), qubit_dm(sigma_a))) < 1e-7
    sigma = dm(np.kron(sigma_a, sigma_b))
    assert value(tq.hellinger_distance(dm(np.kron(rho_a, rho_b)), sigma)) + TOL > dist
    assert abs(value(tq.hellinger_distance(dm(np.kron(rho_a, sigma_b)), sigma)) - dist) < TOL
