"""Product states against Kronecker products and state vectors."""

import numpy as np
import pytest
import torch

import tqsim as tq


def kron_all(vectors):
    out = np.ones(1, dtype=complex)
    for v in vectors:
        out = np.kron(out, v)
    return out


def test_constructors(rng):
    theta, phi = rng.uniform(0, np.pi, 4), rng.uniform(0, 2 * np.pi, 4)
    p = tq.ProductState.from_angles(theta, phi, dtype=torch.complex128)
    expected = kron_all([np.array([np.cos(t / 2), np.exp(1j * f) * np.sin(t / 2)]) for t, f in zip(theta, phi)])
    np.testing.assert_allclose(p.to_statevector().amplitudes().numpy(), expected, atol=1e-14)
    assert tq.ProductState.zeros(3).to_statevector().amplitudes().tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    v = rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))
    q = tq.ProductState.from_vectors(v, normalize=True)
    np.testing.assert_allclose(q.to_statevector().amplitudes().numpy(), kron_all(v / np.linalg.norm(v, axis=1, keepdims=True)), atol=1e-14)
    r = tq.ProductState.random(5, generator=torch.Generator().manual_seed(0))
    assert abs(r.norm().item() - 1) < 1e-6


def test_gates_expectations_and_probabilities_match_state_vector(rng):
    n = 6
    c = tq.Circuit(n)
    for q in range(n):
        c.ry(float(rng.uniform(0, 3)), q).rz(float(rng.uniform(0, 3)), q).u3(0.3, 0.2, -0.4, q)
    c.swap(0, 4).swap(5, 2)  # SWAP keeps a product state a product state
    start = tq.ProductState.from_angles([0, 0, np.pi, 0, 0, 0], dtype=torch.complex128)
    prod = c.run(start)
    sv = c.run(start.to_statevector())
    np.testing.assert_allclose(prod.to_statevector().amplitudes().numpy(), sv.amplitudes().numpy(), atol=1e-12)
    obs = "0.5 Z0 Z1 + X2 - 0.3 Y1 Y3 + 0.2 X0 Z2 Y4 + 2"
    assert abs(prod.expectation(obs).item() - sv.expectation(obs).item()) < 1e-12
    np.testing.assert_allclose(prod.probabilities().numpy(), sv.probabilities().numpy(), atol=1e-12)
    probs = sv.probabilities().numpy().reshape([2] * n)
    marginal = probs.sum(axis=(0, 2, 4, 5))  # qubits 1, 3
    np.testing.assert_allclose(prod.probabilities([3, 1]).numpy(), marginal.T.reshape(-1), atol=1e-12)
    assert abs(prod.probability("011010").item() - probs.reshape(-1)[0b011010]) < 1e-12
    samples = prod.sample(40000, generator=torch.Generator().manual_seed(3))
    freq = np.bincount(samples.numpy(), minlength=2**n) / 40000
    assert 0.5 * np.abs(freq - probs.reshape(-1)).sum() < 0.03


def test_non_entangling_two_qubit_gates_are_fine_entangling_ones_are_refused():
    # CZ on |0>|+> leaves a product state; CNOT on |+>|0> makes a Bell state
    s = tq.ProductState.zeros(2, dtype=torch.complex128).apply(tq.gates.h(1)).apply(tq.gates.cz(0, 1))
    np.testing.assert_allclose(s.to_statevector().amplitudes().numpy(), [2**-0.5, 2**-0.5, 0, 0], atol=1e-14)
    kron = tq.gates.unitary(np.kron(tq.gates.h(0).matrix(torch.complex128).numpy(), tq.gates.s(0).matrix(torch.complex128).numpy()), [0, 1])
    s2 = tq.ProductState.zeros(2, dtype=torch.complex128).apply(kron)
    np.testing.assert_allclose(s2.to_statevector().amplitudes().numpy(), [2**-0.5, 0, 2**-0.5, 0], atol=1e-14)
    with pytest.raises(ValueError, match=r"entangles the product state.*tq.MPS"):
        tq.ProductState.zeros(2).apply(tq.gates.h(0)).apply(tq.gates.cx(0, 1))


def test_product_state_gradients_match_state_vector():
    theta = torch.tensor([0.3, 1.1, -0.4, 2.0], dtype=torch.float64, requires_grad=True)

    def value(kind):
        c = tq.Circuit(4)
        for q in range(4):
            c.ry(theta[q], q)
        start = tq.ProductState.zeros(4, dtype=torch.complex128) if kind == "product" else tq.StateVector.zeros(4, dtype=torch.complex128)
        return c.run(start).expectation("Z0 Z1 + Z1 Z2 + Z2 Z3 + 0.5 X3")

    g = torch.autograd.grad(value("product"), theta)[0]
    g_sv = torch.autograd.grad(value("sv"), theta)[0]
    np.testing.assert_allclose(g.numpy(), g_sv.numpy(), atol=1e-12)


def test_product_state_to_mps():
    p = tq.ProductState.random(5, generator=torch.Generator().manual_seed(1), dtype=torch.complex128)
    np.testing.assert_allclose(p.to_mps().to_statevector().amplitudes().numpy(), p.to_statevector().amplitudes().numpy(), atol=1e-14)
