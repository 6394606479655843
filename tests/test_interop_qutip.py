"""States to and from QuTiP, checked against QuTiP's own constructors and expectation values."""

import numpy as np
import pytest
import torch

qutip = pytest.importorskip("qutip")

import tqsim as tq  # noqa: E402
from tqsim.interop.qutip import density_matrix_from_qutip, statevector_from_qutip, to_qutip  # noqa: E402

TOL = 1e-10
C128 = torch.complex128


def assert_same_qobj(ours, theirs, tol: float = TOL) -> None:
    assert ours.dims == theirs.dims
    np.testing.assert_allclose(ours.full(), theirs.full(), rtol=0, atol=tol)


def ket(vector) -> "qutip.Qobj":
    return qutip.Qobj(np.asarray(vector).reshape(-1, 1))


# ------------------------------------------------------------- bit order


def test_tensor_order_is_big_endian_like_tqsim():
    ten = qutip.tensor(qutip.basis(2, 1), qutip.basis(2, 0))  # |10>
    amps = statevector_from_qutip(ten).amplitudes()
    assert amps[2] == 1 and amps.abs().sum() == 1
    assert_same_qobj(to_qutip(tq.StateVector.basis("10")), ten)


def test_ghz_state():
    ours = tq.Circuit(3).h(0).cx(0, 1).cx(1, 2).run(tq.StateVector.zeros(3, dtype=C128))
    assert_same_qobj(to_qutip(ours), qutip.ghz_state(3))
    assert_same_qobj(to_qutip(tq.MPS.from_statevector(ours)), qutip.ghz_state(3))


# ----------------------------------------------------------- round trips


@pytest.mark.parametrize("n", [1, 2, 4])
def test_random_kets_round_trip(n):
    theirs = qutip.rand_ket([2] * n, seed=n)
    ours = statevector_from_qutip(theirs)
    assert ours.num_qubits == n and ours.dtype == C128
    assert_same_qobj(to_qutip(ours), theirs)
    np.testing.assert_allclose(ours.to_numpy(), theirs.full().ravel(), rtol=0, atol=TOL)
    as_dm = density_matrix_from_qutip(theirs)
    assert_same_qobj(to_qutip(as_dm), qutip.ket2dm(theirs))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_random_density_matrices_round_trip(n):
    theirs = qutip.rand_dm([2] * n, seed=10 + n)
    ours = density_matrix_from_qutip(theirs)
    assert ours.num_qubits == n
    assert_same_qobj(to_qutip(ours), theirs)
    np.testing.assert_allclose(ours.to_numpy(), theirs.full(), rtol=0, atol=TOL)


def test_dtype_is_honoured():
    theirs = qutip.rand_ket([2, 2], seed=1)
    assert statevector_from_qutip(theirs, dtype=torch.complex64).dtype == torch.complex64
    assert density_matrix_from_qutip(qutip.rand_dm([2], seed=2), dtype=torch.complex64).dtype == torch.complex64


def test_mps_and_product_states_against_qutip_tensors():
    gen = torch.Generator().manual_seed(5)
    product = tq.ProductState.random(4, generator=gen, dtype=C128)
    factors = [ket(v) for v in product.vectors.numpy()]
    assert_same_qobj(to_qutip(product), qutip.tensor(*factors))
    np.testing.assert_allclose(product.to_numpy(), qutip.tensor(*factors).full().ravel(), rtol=0, atol=TOL)

    theirs = qutip.rand_ket([2] * 5, seed=7)
    mps = tq.MPS.from_statevector(statevector_from_qutip(theirs))
    assert_same_qobj(to_qutip(mps), theirs)


def test_block_product_state_against_qutip_permute():
    ab, c = qutip.rand_ket([2, 2], seed=3), qutip.rand_ket([2], seed=4)
    blocks = tq.BlockProductState.from_blocks(
        [([2, 0], ab.full().ravel()), ([1], c.full().ravel())], dtype=C128)
    # QuTiP's tensor is on qubits (2, 0, 1); permute puts old positions (1, 2, 0) at 0, 1, 2
    assert_same_qobj(to_qutip(blocks), qutip.tensor(ab, c).permute([1, 2, 0]))
    np.testing.assert_allclose(blocks.to_numpy(), qutip.tensor(ab, c).permute([1, 2, 0]).full().ravel(),
                               rtol=0, atol=TOL)


def test_to_numpy_keeps_batches_and_gradients_out():
    theta = torch.tensor([0.3, 1.2], dtype=torch.float64, requires_grad=True)
    batch = tq.Circuit(1).ry(theta, 0).run(tq.StateVector.zeros(1, dtype=C128))
    array = batch.to_numpy()
    assert isinstance(array, np.ndarray) and array.shape == (2, 2)
    np.testing.assert_allclose(array[:, 1].real, np.sin(theta.detach().numpy() / 2), rtol=0, atol=TOL)


# ------------------------------------------------------- expectation values


def _qutip_operator(n: int) -> "qutip.Qobj":
    """0.5 Z0 Z1 - 0.3 X2 + 0.8 Y0 X(n-1), the same observable as PAULIS below."""
    i, x, y, z = qutip.qeye(2), qutip.sigmax(), qutip.sigmay(), qutip.sigmaz()

    def on(ops: dict):
        return qutip.tensor(*[ops.get(q, i) for q in range(n)])

    return 0.5 * on({0: z, 1: z}) - 0.3 * on({2: x}) + 0.8 * on({0: y, n - 1: x})


@pytest.mark.parametrize("n", [3, 4])
def test_expectations_agree_with_qutip(n):
    observable = tq.PauliSum.from_string(f"0.5 Z0 Z1 - 0.3 X2 + 0.8 Y0 X{n - 1}")
    theirs_ket, theirs_dm = qutip.rand_ket([2] * n, seed=20 + n), qutip.rand_dm([2] * n, seed=30 + n)
    op = _qutip_operator(n)
    ours = statevector_from_qutip(theirs_ket)
    assert abs(ours.expectation(observable).item() - qutip.expect(op, theirs_ket)) < TOL
    assert abs(tq.MPS.from_statevector(ours).expectation(observable).item() - qutip.expect(op, theirs_ket)) < TOL
    rho = density_matrix_from_qutip(theirs_dm)
    assert abs(rho.expectation(observable).item() - qutip.expect(op, theirs_dm)) < TOL
    # and back: QuTiP's expectation of our exported states
    assert abs(qutip.expect(op, to_qutip(rho)) - rho.expectation(observable).item()) < TOL


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("convert", [statevector_from_qutip, density_matrix_from_qutip])
def test_bad_qobjs_are_refused(convert):
    good = qutip.rand_ket([2, 2], seed=1)
    with pytest.raises(TypeError, match="qutip.Qobj"):
        convert(good.full())
    with pytest.raises(ValueError, match="bra"):
        convert(good.dag())
    with pytest.raises(ValueError, match=r"dimension other than 2.*dims=\[\[2, 2\]"):
        convert(qutip.Qobj(good.full()))  # dims [[4], [1]]
    with pytest.raises(ValueError, match="dimension other than 2"):
        convert(qutip.basis(3, 1))
    with pytest.raises(ValueError, match="dimension other than 2"):
        convert(qutip.tensor(qutip.basis(2, 0), qutip.basis(3, 0)))
    with pytest.raises(ValueError, match="super"):
        convert(qutip.to_super(qutip.sigmax()))
    with pytest.raises(ValueError, match="norm"):
        convert(2 * good)


def test_operators_that_are_not_density_matrices_are_refused():
    with pytest.raises(ValueError, match="needs a ket"):
        statevector_from_qutip(qutip.rand_dm([2], seed=1))
    with pytest.raises(ValueError, match="Hermitian"):
        density_matrix_from_qutip(qutip.Qobj([[0.5, 0.3], [0.1, 0.5]], dims=[[2], [2]]))
    with pytest.raises(ValueError, match="trace"):
        density_matrix_from_qutip(2 * qutip.rand_dm([2, 2], seed=2))
    with pytest.raises(ValueError, match="positive semidefinite"):
        density_matrix_from_qutip(qutip.Qobj(np.diag([1.5, -0.5]), dims=[[2], [2]]))
    with pytest.raises(ValueError, match="not a state"):
        density_matrix_from_qutip(qutip.Qobj(np.ones((2, 4)) / 4, dims=[[2], [2, 2]]))


def test_to_qutip_refuses_batches_and_non_states():
    batch = tq.StateVector.random(2, generator=torch.Generator().manual_seed(0), batch=3)
    with pytest.raises(ValueError, match="batched"):
        to_qutip(batch)
    with pytest.raises(TypeError, match="tqsim state"):
        to_qutip(np.ones(2))
