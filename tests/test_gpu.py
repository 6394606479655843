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
            runs[device] = train(model, steps=3, lr=0.05, device=device, progress=False, cuda_graph=False)
        assert runs["cuda"].device.startswith("cuda")
        for a, b in zip(runs["cpu"].history, runs["cuda"].history):
            assert abs(a["loss"] - b["loss"]) < 1e-8, family
            assert abs(a["entropy"] - b["entropy"]) < 1e-6, family
    mps = make_ansatz("two-directional", problem, seed=2, backend="mps")
    assert train(mps, steps=2, device="cuda", progress=False).device.startswith("cuda")


def test_maxcut_cuda_graph_replays_match_cpu_training():
    """Steps 4-8 are CUDA-graph replays; their history equals eager CPU training (complex128)."""
    from tqsim.maxcut import FAMILIES, MaxCutProblem, make_ansatz, train

    problem = MaxCutProblem.random_regular(12, 3, seed=3)
    cases = [(family, {}) for family in FAMILIES] + [("two-directional", {"encoding": "mbe"})]
    for family, options in cases:
        runs = {}
        for device in ("cpu", "cuda"):
            model = make_ansatz(family, problem, seed=4, dtype=torch.complex128, **options)
            runs[device] = train(model, steps=8, lr=0.05, device=device, progress=False)
        assert runs["cuda"].cuda_graph and not runs["cpu"].cuda_graph, family
        for a, b in zip(runs["cpu"].history, runs["cuda"].history, strict=True):
            for key in ("loss", "expected_cut", "best_cut", "entropy"):
                assert abs(a[key] - b[key]) < 1e-8, (family, key, a["step"])
    # the entropy penalty needs an eigensolver that cannot be recorded: eager, still trains
    model = make_ansatz("one-directional", problem, seed=4, entropy_penalty=0.1)
    result = train(model, steps=5, device="cuda", progress=False)
    assert not result.cuda_graph and len(result.history) == 5


@pytest.mark.parametrize("kind", [tq.StateVector, tq.BlockProductState])
def test_graphed_step_runs_a_custom_loss(kind):
    """GraphedStep with TensorLy-Quantum's MBE loss: the same parameters as an eager dense Adam run on the CPU."""
    from tqsim.maxcut import mbe_spins
    from tqsim.maxcut.graphed import GraphedStep

    n = 6
    theta0 = torch.rand(2, n, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    edges = torch.tensor([[0, 7], [1, 4], [2, 9], [3, 11], [5, 6], [8, 10]])

    def make(device, capturable, start):
        theta = torch.nn.Parameter(theta0.clone().to(device))
        opt = torch.optim.Adam([theta], lr=0.1, capturable=capturable)
        left, right = edges[:, 0].to(device), edges[:, 1].to(device)  # no host copies inside the step

        def compute():
            c = tq.Circuit(n)
            for q in range(n):
                c.ry(theta[0, q], q)
            for q in range(0, n - 1, 2):
                c.cz(q, q + 1)
            for q in range(n):
                c.ry(theta[1, q], q)
            s = torch.tanh(mbe_spins(c.run(start.zeros(n, dtype=torch.complex128, device=device)), 2 * n))
            return ((s[left] * s[right]).sum(),)

        return theta, opt, compute

    theta_g, opt_g, compute_g = make("cuda", True, kind)
    step = GraphedStep(compute_g, opt_g)
    theta_e, opt_e, compute_e = make("cpu", False, tq.StateVector)
    for _ in range(7):
        step()
        opt_e.zero_grad()
        compute_e()[0].backward()
        opt_e.step()
    assert step.captured
    np.testing.assert_allclose(theta_g.detach().cpu().numpy(), theta_e.detach().numpy(), atol=1e-10)


def test_block_product_state_on_cuda_matches_cpu(dtype):
    """Blocks joined by gates, read-outs, information functions and gradients: CUDA equals CPU."""
    from tqsim.maxcut import mbe_spins

    n = 9
    theta0 = torch.rand(3, n, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def run(device):
        theta = theta0.clone().to(device).requires_grad_()
        c = tq.Circuit(n)
        for q in range(n):
            c.ry(theta[0, q], q).rz(theta[1, q], q)
        c.cz(0, 1).cx(3, 2).cz(4, 5).cx(7, 6).rxx(theta[2, 0], 5, 8)
        for q in range(n):
            c.ry(theta[2, q], q)
        s = c.run(tq.BlockProductState.zeros(n, dtype=dtype, device=device))
        loss = (mbe_spins(s, 2 * n).square().sum() + tq.entropy(s, [0, 2, 5]) + s.expectation("Z0 X4 + 0.5 Y8 Z5")
                + tq.partial_trace(s, [8, 1]).matrix().real.sum())
        loss.backward()
        return s, loss, theta.grad

    s_gpu, loss_gpu, grad_gpu = run("cuda")
    s_cpu, loss_cpu, grad_cpu = run("cpu")
    assert s_gpu.device.type == "cuda" and [q for q, _ in s_gpu.blocks()] == [q for q, _ in s_cpu.blocks()]
    tol = TOL[dtype] * 10
    np.testing.assert_allclose(s_gpu.amplitudes().detach().cpu().numpy(), s_cpu.amplitudes().detach().numpy(), atol=tol)
    assert abs(loss_gpu.item() - loss_cpu.item()) < tol
    np.testing.assert_allclose(grad_gpu.cpu().numpy(), grad_cpu.numpy(), atol=tol)
    np.testing.assert_allclose(tq.schmidt_values(s_gpu, 5).detach().cpu().numpy(), tq.schmidt_values(s_cpu, 5).detach().numpy(), atol=tol)
    samples = s_gpu.sample(20000, generator=torch.Generator("cuda").manual_seed(1), bits=True)
    freq = samples.float().mean(0).cpu().numpy()
    p1 = tq.qubit_states(s_cpu)[:, 1, 1].real.detach().numpy()
    np.testing.assert_allclose(freq, p1, atol=0.02)


# ---------------------------------------------------------------- nn layers


def test_nn_layers_on_cuda_match_dense_ops():
    """Factorized linear / conv / TRL / TCL forwards on CUDA equal the dense torch ops on the rebuilt weights."""
    import torch.nn.functional as F

    import tqsim.nn as tn

    torch.manual_seed(0)
    kw = {"device": "cuda", "dtype": torch.float64}
    x = torch.randn(5, 24, **kw)
    for factorization in ("tt", "cp", "tucker", "svd"):
        layer = tn.FactorizedLinear(24, 12, rank=0.5, factorization=factorization, **kw)
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), atol=1e-10, rtol=1e-10)
    big = tn.FactorizedLinear(4096, 512, rank=8, **kw)  # the batched-product path of ttm_matmul
    xb = torch.randn(64, 4096, **kw)
    torch.testing.assert_close(big(xb), F.linear(xb, big.weight, big.bias), atol=1e-10, rtol=1e-10)
    img = torch.randn(2, 6, 9, 11, **kw)
    for factorization, rank in (("cp", 12), ("tucker", (5, 4))):
        conv = tn.FactorizedConv2d(6, 8, 3, rank, factorization, stride=2, padding=1, dilation=1, **kw)
        torch.testing.assert_close(conv(img), F.conv2d(img, conv.weight, conv.bias, 2, 1, 1), atol=1e-10, rtol=1e-10)
    trl = tn.TRL((4, 5), (3,), rank=0.5, factorization="tt", **kw)
    t = torch.randn(7, 4, 5, **kw)
    torch.testing.assert_close(trl(t), torch.einsum("bij,ijo->bo", t, trl.weight_tensor.to_tensor()) + trl.bias)
    tcl = tn.TCL((4, 5), (2, 3), **kw)
    torch.testing.assert_close(tcl(t), torch.einsum("bij,pi,qj->bpq", t, tcl.factors[0], tcl.factors[1]))


def test_nn_decomposition_dropout_and_lasso_on_cuda():
    """compress, tensor dropout and the lasso keep everything on the GPU and behave as on the CPU."""
    from torch import nn

    import tqsim.nn as tn

    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10)).double()
    x = torch.randn(4, 3, 6, 6, dtype=torch.float64)
    reference = model(x)
    model_gpu = model.cuda()
    tucker = tn.compress(model_gpu, rank=(8, 3), factorization="tucker", layers=(nn.Conv2d,))  # full ranks
    svd = tn.compress(tucker, rank=10, factorization="svd", layers=(nn.Linear,))  # full rank
    assert all(p.is_cuda for p in svd.parameters())
    assert isinstance(svd[0], tn.FactorizedConv2d) and isinstance(svd[3], tn.FactorizedLinear)
    torch.testing.assert_close(svd(x.cuda()).cpu(), reference, atol=1e-10, rtol=1e-10)
    layer = tn.tensor_dropout(tn.FactorizedLinear(16, 16, rank=4, factorization="cp", device="cuda"), p=0.5)
    xs = torch.randn(3, 16, device="cuda")
    assert not torch.equal(layer(xs), layer(xs))  # masks drawn on the GPU, different each call
    layer.eval()
    torch.testing.assert_close(layer(xs), torch.nn.functional.linear(xs, layer.weight, layer.bias))
    lasso = tn.TensorLasso(penalty=1e-2)
    lasso.attach(layer)
    assert lasso.penalty(layer).is_cuda and lasso.effective_ranks(layer) == {"weight_tensor": (4,)}


def test_maxcut_graphed_resume_matches_uninterrupted(tmp_path):
    """A graphed GPU run stopped after 5 steps and resumed to 9 ends where an uninterrupted run does
    (the restored Adam step counts go back to float64)."""
    from tqsim.maxcut import MaxCutProblem, make_ansatz, train

    problem = MaxCutProblem.random_regular(10, 3, seed=6)
    whole = train(make_ansatz("one-directional", problem, seed=7, dtype=torch.complex128), steps=9,
                  device="cuda", progress=False)
    out = str(tmp_path)
    train(make_ansatz("one-directional", problem, seed=7, dtype=torch.complex128), steps=5, device="cuda",
          progress=False, out=out)
    resumed = train(make_ansatz("one-directional", problem, seed=7, dtype=torch.complex128), steps=9,
                    device="cuda", progress=False, out=out, resume=True)
    assert whole.cuda_graph and resumed.cuda_graph
    for a, b in zip(whole.history, resumed.history, strict=True):
        assert abs(a["loss"] - b["loss"]) < 1e-9, a["step"]
