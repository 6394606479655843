"""StateVector and DensityMatrix constructors, read-out and sampling."""

import numpy as np
import qutip
import scipy.stats
import torch

import tqsim as tq

from circuits import random_circuit
from oracles import embed, random_state


def test_zeros_and_basis(dtype):
    psi = tq.StateVector.zeros(3, dtype=dtype)
    assert psi.amplitudes().tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    b = tq.StateVector.basis("011", dtype=dtype)
    np.testing.assert_array_equal(b.amplitudes().numpy(), qutip.basis([2, 2, 2], [0, 1, 1]).full().ravel())
    assert tq.StateVector.basis([1, 0]).amplitudes().tolist() == [0, 0, 1, 0]
    assert psi.dtype == dtype and psi.num_qubits == 3


def test_default_dtype_follows_torch_default():
    assert tq.StateVector.zeros(2).dtype == torch.complex64
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert tq.StateVector.zeros(2).dtype == torch.complex128
    finally:
        torch.set_default_dtype(old)


def test_random_is_normalised_and_seeded():
    a = tq.StateVector.random(5, generator=torch.Generator().manual_seed(3), dtype=torch.complex128)
    b = tq.StateVector.random(5, generator=torch.Generator().manual_seed(3), dtype=torch.complex128)
    assert torch.equal(a.amplitudes(), b.amplitudes())
    assert abs(a.norm().item() - 1) < 1e-12
    batch = tq.StateVector.random(3, batch=4)
    assert batch.amplitudes().shape == (4, 8) and batch.batch_shape == (4,)


def test_random_states_look_haar():
    # Haar: E|<0|psi>|^2 = 1/d and E|<0|psi>|^4 = 2/(d(d+1))
    d = 8
    psi = tq.StateVector.random(3, generator=torch.Generator().manual_seed(0), batch=20000, dtype=torch.complex128)
    p0 = psi.probabilities()[:, 0].numpy()
    assert abs(p0.mean() - 1 / d) < 0.005
    assert abs((p0**2).mean() - 2 / (d * (d + 1))) < 0.002


def test_probabilities_norm_inner(rng):
    psi0, phi0 = random_state(4, rng), random_state(4, rng)
    psi, phi = tq.StateVector.from_array(psi0), tq.StateVector.from_array(phi0)
    np.testing.assert_allclose(psi.probabilities().numpy(), np.abs(psi0) ** 2, atol=1e-14)
    assert abs(psi.norm().item() - 1) < 1e-12
    assert abs(psi.inner(phi).item() - np.vdot(psi0, phi0)) < 1e-12


def test_from_array_normalize_and_to(rng):
    v = rng.normal(size=8) * 3
    psi = tq.StateVector.from_array(v, normalize=True)
    assert psi.dtype == torch.complex128
    assert abs(psi.norm().item() - 1) < 1e-12
    low = psi.to(dtype=torch.complex64)
    assert low.dtype == torch.complex64 and low.num_qubits == 3
    np.testing.assert_allclose(low.amplitudes().numpy(), v / np.linalg.norm(v), atol=1e-6)


def _chi_square_pvalue(samples: np.ndarray, probs: np.ndarray) -> float:
    counts = np.bincount(samples, minlength=len(probs))
    keep = probs > 0
    assert counts[~keep].sum() == 0, "sampled an outcome of probability zero"
    return scipy.stats.chisquare(counts[keep], probs[keep] * len(samples)).pvalue


def test_sampling_frequencies_match_probabilities():
    rng = np.random.default_rng(5)
    circuit, _ = random_circuit(4, 20, rng)
    state = circuit.run(tq.StateVector.zeros(4, dtype=torch.complex128))
    samples = state.sample(20000, generator=torch.Generator().manual_seed(11))
    assert samples.dtype == torch.int64 and samples.shape == (20000,)
    assert _chi_square_pvalue(samples.numpy(), state.probabilities().numpy()) > 1e-3


def test_sampling_a_bell_state_gives_only_00_and_11():
    bell = tq.Circuit(2).h(0).cx(0, 1).run()
    samples = bell.sample(1000, generator=torch.Generator().manual_seed(0)).numpy()
    assert set(samples.tolist()) == {0, 3}
    assert 400 < (samples == 0).sum() < 600


def test_batched_sampling_shape():
    psi = tq.StateVector.random(3, batch=2, generator=torch.Generator().manual_seed(1))
    assert psi.sample(7).shape == (2, 7)


# ---------------------------------------------------------------- density


def test_density_matrix_evolution_matches_qutip(dtype, tol):
    n = 4
    rng = np.random.default_rng(21)
    circuit, oracle = random_circuit(n, 25, rng)
    # a mixed start: a random density matrix from QuTiP
    rho0 = qutip.rand_dm([2] * n, seed=4).full()
    out = circuit.run(tq.DensityMatrix.from_array(rho0, dtype=dtype)).matrix().numpy()
    expected = qutip.Qobj(rho0, dims=[[2] * n, [2] * n])
    for matrix, qubits in oracle:
        u = qutip.Qobj(embed(matrix, qubits, n), dims=[[2] * n, [2] * n])
        expected = u * expected * u.dag()
    np.testing.assert_allclose(out, expected.full(), atol=tol * 10)


def test_density_from_state_and_read_out(rng):
    psi0 = random_state(3, rng)
    rho = tq.DensityMatrix.from_state(tq.StateVector.from_array(psi0))
    np.testing.assert_allclose(rho.matrix().numpy(), np.outer(psi0, psi0.conj()), atol=1e-14)
    np.testing.assert_allclose(rho.probabilities().numpy(), np.abs(psi0) ** 2, atol=1e-14)
    assert abs(rho.trace().item() - 1) < 1e-12
    samples = rho.sample(5000, generator=torch.Generator().manual_seed(2)).numpy()
    assert _chi_square_pvalue(samples, np.abs(psi0) ** 2) > 1e-3


def _qutip_channel(rho: qutip.Qobj, kraus: list[np.ndarray], qubit: int, n: int) -> qutip.Qobj:
    out = 0 * rho
    for k in kraus:
        full = qutip.Qobj(embed(k, [qubit], n), dims=rho.dims)
        out = out + full * rho * full.dag()
    return out


def test_channels_match_kraus_sums_in_qutip():
    n, q = 3, 1
    rho0 = qutip.rand_dm([2] * n, seed=9)
    rho = tq.DensityMatrix.from_array(rho0.full())
    x, y, z, i2 = (qutip.sigmax().full(), qutip.sigmay().full(), qutip.sigmaz().full(), np.eye(2))
    p, g, lam = 0.3, 0.25, 0.4
    cases = {
        "depolarizing": (rho.depolarizing(p, q), [np.sqrt(1 - p) * i2] + [np.sqrt(p / 3) * m for m in (x, y, z)]),
        "amplitude_damping": (rho.amplitude_damping(g, q), [np.array([[1, 0], [0, np.sqrt(1 - g)]]), np.array([[0, np.sqrt(g)], [0, 0]])]),
        "phase_damping": (rho.phase_damping(lam, q), [np.array([[1, 0], [0, np.sqrt(1 - lam)]]), np.array([[0, 0], [0, np.sqrt(lam)]])]),
    }
    for name, (got, kraus) in cases.items():
        expected = _qutip_channel(rho0, kraus, q, n)
        np.testing.assert_allclose(got.matrix().numpy(), expected.full(), atol=1e-12, err_msg=name)
    # general Kraus channel on two qubits: a random unitary mixture
    u = qutip.rand_unitary([2, 2], seed=3).full()
    kraus = [np.sqrt(0.7) * np.eye(4), np.sqrt(0.3) * u]
    got = rho.kraus(kraus, [2, 0]).matrix().numpy()
    expected = 0 * rho0
    for k in kraus:
        full = qutip.Qobj(embed(k, [2, 0], n), dims=rho0.dims)
        expected = expected + full * rho0 * full.dag()
    np.testing.assert_allclose(got, expected.full(), atol=1e-12)


def test_channel_in_a_circuit_run_on_density_matrix():
    c = tq.Circuit(2).h(0).cx(0, 1).amplitude_damping(1.0, 0).amplitude_damping(1.0, 1)
    rho = c.run(tq.DensityMatrix.zeros(2, dtype=torch.complex128))
    np.testing.assert_allclose(rho.matrix().numpy(), np.diag([1, 0, 0, 0]), atol=1e-12)
    # depolarizing with p = 3/4 sends any qubit state to I/2
    plus = tq.Circuit(1).h(0).depolarizing(0.75, 0).run(tq.DensityMatrix.zeros(1, dtype=torch.complex128))
    np.testing.assert_allclose(plus.matrix().numpy(), np.eye(2) / 2, atol=1e-12)


def test_from_array_accepts_a_lazily_conjugated_tensor():
    """StateVector.from_array(a.conj()) holds conj(a); its one-qubit states are the conjugates (numpy oracle)."""
    import numpy as np

    from tqsim.info import qubit_states

    a = tq.StateVector.random(3, generator=torch.Generator().manual_seed(0), dtype=torch.complex128).amplitudes()
    conj = tq.StateVector.from_array(a.conj())
    np.testing.assert_allclose(conj.amplitudes().numpy(), np.conj(a.numpy()), atol=1e-15)
    np.testing.assert_allclose(qubit_states(conj).numpy(), np.conj(qubit_states(tq.StateVector(a, 3)).numpy()), atol=1e-12)
