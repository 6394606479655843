"""Every MPS a user can get is a unit-norm state, and dense constructors refuse what cannot fit.

Oracles: QuTiP on the dense state that NumPy builds from the MPS cores and
normalises itself, NumPy SVDs, and exact values (GHZ states, byte counts).
"""

import math

import numpy as np
import pytest
import qutip
import torch

import tqsim as tq
from tqsim import _checks

from circuits import random_circuit
from oracles import random_state


def dense_from_cores(mps: tq.MPS) -> np.ndarray:
    """The amplitudes of an MPS contracted with NumPy, normalised by NumPy."""
    psi = np.ones((1, 1), dtype=complex)
    for core in mps.cores:
        c = core.detach().resolve_conj().numpy().astype(complex)
        psi = np.einsum("ia,asb->isb", psi, c).reshape(-1, c.shape[-1])
    psi = psi.reshape(-1)
    return psi / np.linalg.norm(psi)


def assert_info_matches_qutip(mps: tq.MPS, subsystems, tol: float) -> None:
    """Norm 1, and entropy, purity, partial trace and negativity as QuTiP finds them on the normalised state."""
    n = mps.num_qubits
    ket = qutip.Qobj(dense_from_cores(mps), dims=[[2] * n, [1] * n])
    assert abs(mps.norm().item() - 1) < tol
    assert abs(np.linalg.norm(mps.to_statevector().amplitudes().numpy()) - 1) < tol
    for sub in subsystems:
        rho = ket.ptrace(sub)
        np.testing.assert_allclose(tq.partial_trace(mps, sub).matrix().numpy(), rho.full(), atol=tol)
        assert abs(tq.entropy(mps, sub).item() - qutip.entropy_vn(rho)) < 100 * tol
        assert abs(tq.purity(mps, sub).item() - (rho * rho).tr().real) < tol
    a, b = [subsystems[0][0]], [subsystems[0][-1]]
    rho_ab = ket.ptrace(a + b)
    # the eigenvalue method: the default (a matrix square root) is accurate to only ~1e-8
    neg = qutip.negativity(qutip.Qobj(rho_ab.full(), dims=[[2, 2], [2, 2]]), 0, method="eigenvalues")
    assert abs(tq.negativity(mps, a, b).item() - neg) < tol


def ghz(n: int) -> tq.StateVector:
    psi = np.zeros(2**n, dtype=complex)
    psi[0] = psi[-1] = 1 / math.sqrt(2)
    return tq.StateVector.from_array(psi)


# ------------------------------------------------------------- normalisation


def test_truncated_ghz_is_a_normalised_basis_state():
    m = tq.MPS.from_statevector(ghz(3), max_bond=1)
    # keeping one Schmidt value of GHZ leaves |000> or |111>: a product state, half the weight dropped
    assert abs(m.norm().item() - 1) < 1e-12
    assert abs(m.truncation_error() - 0.5) < 1e-12
    assert abs(tq.entropy(m, [0, 2]).item()) < 1e-10
    assert abs(tq.purity(m, [0, 2]).item() - 1) < 1e-12
    assert abs(tq.partial_trace(m, [0]).trace().item() - 1) < 1e-12
    assert abs(m.probabilities().max().item() - 1) < 1e-12


@pytest.mark.parametrize("max_bond,cutoff", [(1, 0), (2, 0), (3, 1e-12), (None, 0.05), (4, 0.01)])
@pytest.mark.parametrize("seed", [0, 1])
def test_from_statevector_truncations_match_qutip(max_bond, cutoff, seed):
    psi = random_state(8, np.random.default_rng(seed))
    m = tq.MPS.from_statevector(tq.StateVector.from_array(psi), max_bond=max_bond, cutoff=cutoff)
    assert m.truncation_error() > 0
    assert_info_matches_qutip(m, [[0, 2], [1, 5, 6], [0, 1, 2, 3, 4]], 1e-10)
    # what was dropped: the overlap with the original state is below one by about the recorded weight
    # (the overlap is prod(1 - w) over the splits' weights w, whose sum is recorded)
    overlap = abs(np.vdot(psi, dense_from_cores(m))) ** 2
    assert 1 - m.truncation_error() - 1e-12 <= overlap <= math.exp(-m.truncation_error()) + 1e-12


def test_random_state_with_bond_two_has_a_non_negative_negativity():
    sv = tq.StateVector.random(8, generator=torch.Generator().manual_seed(0), dtype=torch.complex128)
    m = tq.MPS.from_statevector(sv, max_bond=2)
    for a, b in ([0, 1], [5, 7]), ([2], [3]), ([0], [7]):
        assert tq.negativity(m, a, b).item() > -1e-12
    assert_info_matches_qutip(m, [[0, 1, 5, 7], [3, 4]], 1e-10)


@pytest.mark.parametrize("max_bond,cutoff", [(2, 1e-12), (3, 0.0), (None, 1e-3)])
def test_truncating_circuits_keep_the_state_normalised(max_bond, cutoff, dtype, tol):
    n = 7
    circuit, _ = random_circuit(n, 50, np.random.default_rng(5))  # far pairs (SWAP network) and 3-qubit gates
    m = circuit.run(tq.MPS.zeros(n, max_bond=max_bond, cutoff=cutoff, dtype=dtype))
    assert m.truncation_error() > 0
    assert_info_matches_qutip(m, [[0, 3], [1, 2, 6]], tol * 10)


def test_conversions_keep_unit_norm():
    psi = random_state(6, np.random.default_rng(9))
    m = tq.MPS.from_statevector(tq.StateVector.from_array(psi).to(dtype=torch.complex64), max_bond=3)
    up = m.to(dtype=torch.complex128)
    # complex64 rounding leaves the norm 1 to ~1e-7; as complex128 it must be 1 to complex128 precision
    assert abs(up.norm().item() - 1) < 1e-12
    assert_info_matches_qutip(up, [[0, 4]], 1e-10)
    for center in range(6):
        assert abs(up.canonical(center).norm().item() - 1) < 1e-12


def test_constructor_refuses_or_normalises_cores_that_are_not_a_unit_state():
    g = torch.Generator().manual_seed(3)
    cores = [torch.randn(1, 2, 2, generator=g, dtype=torch.complex128),
             torch.randn(2, 2, 2, generator=g, dtype=torch.complex128),
             torch.randn(2, 2, 1, generator=g, dtype=torch.complex128)]
    true_norm = float(np.linalg.norm(np.einsum("asb,btc,cud->stu", *[c.numpy() for c in cores])))
    with pytest.raises(ValueError, match=rf"MPS cores have norm {true_norm:.6g}, not 1 \(pass normalize=True"):
        tq.MPS(cores)
    m = tq.MPS(cores, center=1, normalize=True)  # not canonical either: the constructor makes it so
    assert abs(m.norm().item() - 1) < 1e-12
    assert_info_matches_qutip(m, [[0, 2], [1]], 1e-10)
    with pytest.raises(ValueError, match=r"cores hold NaN or infinite values"):
        tq.MPS([cores[0], cores[1] * float("nan"), cores[2]], normalize=True)
    with pytest.raises(ValueError, match=r"cannot normalize a zero state"):
        tq.MPS([c * 0 for c in cores], normalize=True)


# ----------------------------------------------------- reduced states, fast


@pytest.mark.parametrize("keep", [[0, 2, 4, 6, 8, 10, 12], [1, 3, 4, 8, 9, 11, 13], [5, 6, 7], [0, 13]])
def test_partial_trace_of_a_full_bond_mps_matches_qutip(keep):
    psi = random_state(14, np.random.default_rng(14))
    m = tq.MPS.from_statevector(tq.StateVector.from_array(psi), cutoff=0)
    rho = qutip.Qobj(psi, dims=[[2] * 14, [1] * 14]).ptrace(keep).full()
    np.testing.assert_allclose(tq.partial_trace(m, keep).matrix().numpy(), rho, atol=1e-12)


@pytest.mark.parametrize("keep", [[0, 15], [2, 9, 10, 14], [1, 3, 5, 7, 9, 11]])
def test_partial_trace_of_a_long_low_bond_mps_matches_qutip(keep):
    m = tq.MPS.random(16, bond=3, generator=torch.Generator().manual_seed(16), dtype=torch.complex128)
    m = m.canonical(15)
    ket = qutip.Qobj(dense_from_cores(m), dims=[[2] * 16, [1] * 16])
    np.testing.assert_allclose(tq.partial_trace(m, keep).matrix().numpy(), ket.ptrace(keep).full(), atol=1e-12)


def test_partial_trace_contracts_the_cheaper_way(monkeypatch):
    import tqsim.states.mps as mps_module

    visits = []
    environment = mps_module._environment
    monkeypatch.setattr(mps_module, "_environment", lambda *args, **kw: visits.append(1) or environment(*args, **kw))
    # full bonds: environments would hold 4**3 outcomes x 128**2 bonds; the merged ket has 2**14 entries
    full = tq.MPS.from_statevector(tq.StateVector.random(14, generator=torch.Generator().manual_seed(0)), cutoff=0)
    tq.partial_trace(full, [0, 2, 4, 6, 8, 10, 12])
    assert not visits
    # bond 2 over 40 sites: a merged ket of the span would have 2**40 entries
    long = tq.MPS.random(40, bond=2, generator=torch.Generator().manual_seed(1), dtype=torch.complex128)
    rho = tq.partial_trace(long, [0, 39]).matrix()
    assert visits and abs(torch.trace(rho).item() - 1) < 1e-12


def test_from_statevector_matches_numpy_svd_and_is_bit_identical_run_to_run():
    psi = random_state(12, np.random.default_rng(12))
    sv = tq.StateVector.from_array(psi)
    a, b = tq.MPS.from_statevector(sv, cutoff=0), tq.MPS.from_statevector(sv, cutoff=0)
    assert all(torch.equal(x, y) for x, y in zip(a.cores, b.cores))
    keep = [0, 3, 5, 6, 10]
    assert torch.equal(tq.partial_trace(a, keep).matrix(), tq.partial_trace(b, keep).matrix())
    for cut in (3, 6, 9):
        expected = np.linalg.svd(psi.reshape(2**cut, -1), compute_uv=False)
        np.testing.assert_allclose(a.schmidt_values(cut).numpy(), expected[: 2 ** min(cut, 12 - cut)], atol=1e-12)


# ------------------------------------------------------------ dense sizes


@pytest.mark.parametrize("build,needed", [
    (lambda: tq.StateVector.zeros(40, dtype=torch.complex128), "16 TiB"),
    (lambda: tq.StateVector.zeros(40, dtype=torch.complex64), "8 TiB"),
    (lambda: tq.StateVector.basis("1" * 41, dtype=torch.complex64), "16 TiB"),
    (lambda: tq.StateVector.random(38, batch=4, dtype=torch.complex128), "16 TiB"),
    (lambda: tq.DensityMatrix.zeros(20, dtype=torch.complex128), "16 TiB"),
    (lambda: tq.DensityMatrix.from_state(tq.StateVector.zeros(21, dtype=torch.complex64)), "32 TiB"),
])
def test_dense_constructors_say_what_does_not_fit(build, needed):
    with pytest.raises(ValueError, match=rf"needs {needed} as complex\d+ and does not fit in the .* of memory of cpu"):
        build()


def test_the_limit_is_the_device_memory(monkeypatch):
    monkeypatch.setattr(_checks, "device_memory", lambda device: 1 << 20)  # a 1 MiB machine
    assert tq.StateVector.zeros(16, dtype=torch.complex128).num_qubits == 16  # exactly 1 MiB
    with pytest.raises(ValueError, match=r"a state vector of 18 qubits needs 2 MiB as complex64 and does not fit "
                                         r"in the 1 MiB of memory of cpu"):
        tq.StateVector.zeros(18, dtype=torch.complex64)
    with pytest.raises(ValueError, match=r"a density matrix of 9 qubits needs 4 MiB"):
        tq.DensityMatrix.zeros(9, dtype=torch.complex128)
    with pytest.raises(ValueError, match=r"a dense state of 17 qubits needs 2 MiB"):
        tq.MPS.zeros(17, dtype=torch.complex128).to_statevector()


def test_mps_to_statevector_keeps_the_documented_qubit_limit():
    with pytest.raises(ValueError, match=r"a dense state of 31 qubits does not fit; keep n <= 30"):
        tq.MPS.zeros(31).to_statevector()
