"""CUDA paths: the Triton gate kernels, circuits, density matrices and gradients.

Run on the GPU machine; skipped elsewhere. The CPU results these compare to are
themselves checked against QuTiP and Kronecker products in the other tests.
"""

import numpy as np
import pytest
import torch

import tqsim as tq
from tqsim.tensor import apply_matrix, cuda_kernels

from oracles import embed, random_state, random_unitary

pytestmark = pytest.mark.gpu
TOL = {torch.complex64: 2e-5, torch.complex128: 1e-10}


def test_triton_kernels_are_used_and_exact(dtype):
    assert cuda_kernels.available()
    rng = np.random.default_rng(0)
    n = 9
    for qubits in ([0], [4], [8], [0, 1], [7, 8], [2, 6], [6, 2], [8, 0]):
        u = torch.tensor(random_unitary(len(qubits), rng), dtype=dtype, device="cuda")
        psi = torch.tensor(random_state(n, rng), dtype=dtype, device="cuda")
        assert cuda_kernels.accepts(psi, u, None)
        got = apply_matrix(psi, u, qubits).cpu().numpy()
        expected = embed(u.cpu().numpy(), qubits, n) @ psi.cpu().numpy()
        np.testing.assert_allclose(got, expected, atol=TOL[dtype])
        # in place, and on a batch of states
        inplace = psi.clone()
        apply_matrix(inplace, u, qubits, out=inplace)
        np.testing.assert_allclose(inplace.cpu().numpy(), expected, atol=TOL[dtype])
        batch = torch.stack([psi, psi.flip(0)])
        out = apply_matrix(batch, u, qubits).cpu().numpy()
        np.testing.assert_allclose(out[1], embed(u.cpu().numpy(), qubits, n) @ psi.flip(0).cpu().numpy(), atol=TOL[dtype])


def test_kernel_refuses_when_autograd_needs_the_graph():
    u = torch.eye(2, dtype=torch.complex64, device="cuda", requires_grad=True)
    psi = torch.ones(4, dtype=torch.complex64, device="cuda")
    assert not cuda_kernels.accepts(psi, u, None)
    with torch.no_grad():
        assert cuda_kernels.accepts(psi, u, None)


def random_brickwork(n, layers, seed):
    rng = np.random.default_rng(seed)
    c = tq.Circuit(n)
    for layer in range(layers):
        for q in range(n):
            c.ry(float(rng.uniform(-3, 3)), q).rz(float(rng.uniform(-3, 3)), q)
        for q in range(layer % 2, n - 1, 2):
            c.cx(q, q + 1)
        c.rzz(0.4, 0, n - 1).swap(1, n - 2).ccx(0, 2, 3).crx(0.7, n - 1, 1)
    return c


@pytest.mark.parametrize("n", [4, 11, 18])
def test_circuits_on_cuda_match_cpu(n, dtype):
    c = random_brickwork(n, 5, seed=n)
    cpu = c.run(tq.StateVector.zeros(n, dtype=dtype)).amplitudes()
    gpu = c.run(tq.StateVector.zeros(n, dtype=dtype, device="cuda"))
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.amplitudes().cpu().numpy(), cpu.numpy(), atol=TOL[dtype] * 10)
    obs = "0.5 Z0 Z1 + X2 - 0.3 Y1 Y3"
    assert abs(gpu.expectation(obs).item() - c.run(tq.StateVector.zeros(n, dtype=dtype)).expectation(obs).item()) < TOL[dtype] * 100


def test_density_matrix_and_channels_on_cuda(dtype):
    c = random_brickwork(5, 3, seed=1).depolarizing(0.2, 3).amplitude_damping(0.3, 0)
    cpu = c.run(tq.DensityMatrix.zeros(5, dtype=dtype)).matrix()
    gpu = c.run(tq.DensityMatrix.zeros(5, dtype=dtype, device="cuda")).matrix()
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), atol=TOL[dtype] * 10)
    rho = tq.partial_trace(c.run(tq.DensityMatrix.zeros(5, dtype=dtype, device="cuda")), [4, 1])
    assert rho.device.type == "cuda"
    assert abs(tq.entropy(rho, [0]).item() - tq.entropy(tq.partial_trace(tq.DensityMatrix(cpu, 5), [4, 1]), [0]).item()) < 1e-4


def test_gradients_on_cuda_match_cpu():
    def value(device):
        theta = torch.tensor([0.3, -1.2, 0.8], dtype=torch.float64, device=device, requires_grad=True)
        c = tq.Circuit(4).h(0).ry(theta[0], 1).cx(0, 2).rzz(theta[1], 1, 3).crx(theta[2], 3, 0).u3(theta[0], theta[1], 0.2, 2)
        e = c.run(tq.StateVector.zeros(4, dtype=torch.complex128, device=device)).expectation("Z0 Z3 + X1 - Y2")
        e.backward()
        return e.item(), theta.grad.cpu().numpy()

    cpu, gpu = value("cpu"), value("cuda")
    assert abs(cpu[0] - gpu[0]) < 1e-10
    np.testing.assert_allclose(gpu[1], cpu[1], atol=1e-10)


def test_sampling_on_cuda():
    state = tq.Circuit(3).h(0).cx(0, 1).cx(1, 2).run(tq.StateVector.zeros(3, device="cuda"))
    samples = state.sample(4000, generator=torch.Generator(device="cuda").manual_seed(0))
    assert samples.device.type == "cuda"
    values = set(samples.cpu().tolist())
    assert values == {0, 7}
    assert 1800 < int((samples == 0).sum()) < 2200


def test_large_state_stays_flat():
    # 28 qubits in (2,)*28 would exceed CUDA's 25-dimension limit; the grouped view never does
    with torch.no_grad():
        psi = tq.StateVector.zeros(28, device="cuda")
        out = tq.Circuit(28).h(0).cx(0, 27).ry(0.2, 13).run(psi)
        p = out.probabilities()
        assert abs(p.sum().item() - 1) < 1e-4


# ---------------------------------------------------------------- factorized states


def test_mps_on_cuda_matches_cpu(dtype):
    c = random_brickwork(10, 4, seed=3)
    cpu = c.run(tq.MPS.zeros(10, max_bond=16, dtype=dtype))
    gpu = c.run(tq.MPS.zeros(10, max_bond=16, dtype=dtype, device="cuda"))
    assert gpu.device.type == "cuda" and gpu.bond_dimensions() == cpu.bond_dimensions()
    a, b = gpu.to_statevector().amplitudes().cpu(), cpu.to_statevector().amplitudes()
    assert abs(torch.vdot(a, b).abs().item() - 1) < TOL[dtype] * 100
    obs = "Z0 Z9 + 0.5 X3 - Y4 Y5"
    assert abs(gpu.expectation(obs).item() - cpu.expectation(obs).item()) < TOL[dtype] * 100
    assert abs(gpu.entanglement_entropy(5).item() - cpu.entanglement_entropy(5).item()) < TOL[dtype] * 100
    samples = gpu.sample(1000, generator=torch.Generator(device="cuda").manual_seed(0))
    assert samples.device.type == "cuda" and samples.shape == (1000,)


def test_information_functions_on_cuda_match_cpu():
    c = random_brickwork(8, 3, seed=4)
    cpu = c.run(tq.StateVector.zeros(8, dtype=torch.complex128))
    gpu = c.run(tq.StateVector.zeros(8, dtype=torch.complex128, device="cuda"))
    states = {
        "ket": (cpu, gpu),
        "density": (tq.DensityMatrix.from_state(cpu), tq.DensityMatrix.from_state(gpu)),
        "mps": (tq.MPS.from_statevector(cpu, cutoff=0), tq.MPS.from_statevector(gpu, cutoff=0)),
    }
    for name, (x, y) in states.items():
        for keep in ([0, 3], [5, 1, 6]):
            np.testing.assert_allclose(tq.partial_trace(y, keep).matrix().cpu().numpy(),
                                       tq.partial_trace(x, keep).matrix().numpy(), atol=1e-10, err_msg=name)
        pairs = [
            (tq.entropy(x, [0, 1, 2]), tq.entropy(y, [0, 1, 2])),
            (tq.mutual_information(x, [0], [7]), tq.mutual_information(y, [0], [7])),
            (tq.negativity(x, [1], [2]), tq.negativity(y, [1], [2])),
            (tq.purity(x, [4]), tq.purity(y, [4])),
        ]
        for expected, got in pairs:
            assert got.device.type == "cuda" and abs(got.item() - expected.item()) < 1e-10, name
    assert abs(tq.fidelity(gpu, states["mps"][1]).item() - 1) < 1e-10


def test_product_state_and_svd_gradient_on_cuda():
    theta = torch.tensor([0.3, 1.0, 2.0], dtype=torch.float64, device="cuda", requires_grad=True)
    c = tq.Circuit(3).ry(theta[0], 0).ry(theta[1], 1).ry(theta[2], 2).swap(0, 2)
    value = c.run(tq.ProductState.zeros(3, dtype=torch.complex128, device="cuda")).expectation("Z0 + X1 Z2")
    value.backward()
    expected = torch.tensor([np.cos(2.0), np.sin(1.0) * np.cos(0.3)]).sum()  # <Z> = cos, <X> = sin
    assert abs(value.item() - expected.item()) < 1e-12
    assert theta.grad.device.type == "cuda" and torch.isfinite(theta.grad).all()
    # MPS of a product state: degenerate singular values, finite gradient
    phi = torch.zeros(2, dtype=torch.float64, device="cuda", requires_grad=True)
    e = tq.Circuit(3).ry(phi[0], 0).cx(0, 1).ry(phi[1], 2).cx(1, 2).run(
        tq.MPS.zeros(3, dtype=torch.complex128, device="cuda")).expectation("X0 + Z1 Z2")
    e.backward()
    assert torch.isfinite(phi.grad).all()


# ---------------------------------------------------------------- maxcut


def test_maxcut_families_train_on_cuda_like_on_cpu():
    from tqsim.maxcut import FAMILIES, MaxCutProblem, make_ansatz, train

    problem = MaxCutProblem.random_regular(10, 3, seed=1)
    assert problem.brute_force(device="cuda")[0] == problem.brute_force()[0]
    for family in FAMILIES:
        runs = {}
        for device in ("cpu", "cuda"):
            model = make_ansatz(family, problem, seed=2, dtype=torch.complex128)
            runs[device] = train(model, steps=3, lr=0.05, device=device, progress=False)
        assert runs["cuda"].device.startswith("cuda")
        for a, b in zip(runs["cpu"].history, runs["cuda"].history):
            assert abs(a["loss"] - b["loss"]) < 1e-8, family
            assert abs(a["entropy"] - b["entropy"]) < 1e-6, family
    mps = make_ansatz("two-directional", problem, seed=2, backend="mps")
    assert train(mps, steps=2, device="cuda", progress=False).device.startswith("cuda")
