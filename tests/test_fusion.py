"""Gate fusion keeps the circuit's meaning for every block size."""

import numpy as np
import pytest
import torch

from tqsim.fusion import build_operator, plan

from circuits import oracle_unitary, random_circuit
from oracles import embed


@pytest.mark.parametrize("max_qubits", [1, 2, 3, 4, 5])
def test_blocks_multiply_to_the_circuit_unitary(max_qubits):
    n = 6
    rng = np.random.default_rng(max_qubits)
    circuit, oracle = random_circuit(n, 60, rng)
    blocks = plan(list(circuit), max_qubits)
    assert sum(len(b.gates) for b in blocks) == len(circuit)
    u = np.eye(2**n, dtype=complex)
    for b in blocks:
        assert len(b.qubits) <= max(max_qubits, max(len(g.qubits) for g in b.gates))
        assert list(b.qubits) == sorted(b.qubits)
        op = build_operator(b, torch.complex128, torch.device("cpu")).numpy()
        matrix = np.diag(op) if b.is_diagonal else op
        u = embed(matrix, list(b.qubits), n) @ u
    np.testing.assert_allclose(u, oracle_unitary(n, oracle), atol=1e-10)


def test_diagonal_runs_stay_diagonal():
    import tqsim as tq

    c = tq.Circuit(4).rz(0.3, 0).cz(0, 1).rzz(0.2, 1, 3).t(2).cphase(0.4, 3, 2)
    blocks = plan(list(c), 4)
    assert len(blocks) == 1 and blocks[0].is_diagonal
    op = build_operator(blocks[0], torch.complex128, torch.device("cpu"))
    assert op.shape == (16,)


def test_fewer_blocks_than_gates_on_a_brickwork():
    import tqsim as tq

    n = 12
    c = tq.Circuit(n)
    for layer in range(6):
        for q in range(n):
            c.ry(0.1 * q + layer, q)
        for q in range(layer % 2, n - 1, 2):
            c.cz(q, q + 1)
    blocks = plan(list(c), 4)
    assert len(blocks) < len(c) / 3
