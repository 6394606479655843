"""Gate fusion keeps the circuit's meaning for every block size."""

import numpy as np
import pytest
import torch

from tqsim.fusion import build_operator, plan

from circuits import oracle_unitary, random_circuit
from oracles import qutip_gate, random_unitary
from oracles import embed


def _applied(psi: np.ndarray, matrix: np.ndarray, qubits) -> np.ndarray:
    """An n-axis ket after ``matrix`` (big-endian over ``qubits``) acts on those axes."""
    k = len(qubits)
    out = np.tensordot(matrix.reshape((2,) * 2 * k), psi, axes=(list(range(k, 2 * k)), list(qubits)))
    return np.moveaxis(out, list(range(k)), list(qubits))


def _oracle_ket(n: int, oracle) -> np.ndarray:
    """QuTiP's gate matrices applied one by one to |0...0>, flat."""
    psi = np.zeros((2,) * n, dtype=complex)
    psi[(0,) * n] = 1
    for matrix, qubits in oracle:
        psi = _applied(psi, matrix, qubits)
    return psi.reshape(-1)


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


@pytest.mark.parametrize("seed", range(130, 136))  # 133 failed before the fix
def test_widened_blocks_keep_the_order_of_every_qubit(seed):
    """A block widened to a contiguous span swallows every open block inside that span.

    Before this was so, a block on (4, 6) could take over qubit 5 from an open block on
    (5, 7), whose earlier gates then ran after the widened block's. Long-range gates on
    9 qubits meet that case (seed 133 did); the run must equal the product of QuTiP gate matrices,
    with float angles (blocks composed in NumPy) and with tensor angles (in PyTorch).
    """
    import tqsim as tq

    n = 9
    rng = np.random.default_rng(seed)
    circuit, oracle = random_circuit(n, 120, rng, names=["h", "t", "rx", "u3", "cx", "crx", "rzz", "swap", "ccx"])
    expected = _oracle_ket(n, oracle)
    tensor_angles = tq.Circuit(n)
    for g in circuit:
        getattr(tensor_angles, g.name)(*(torch.tensor(p, dtype=torch.float64) for p in g.params), *g.qubits)
    for c in (circuit, tensor_angles):
        state = c.run(tq.StateVector.zeros(n, dtype=torch.complex128))
        np.testing.assert_allclose(state.amplitudes().numpy(), expected, atol=1e-10)
    for max_qubits in (3, 4, 5):
        psi = np.zeros((2,) * n, dtype=complex)
        psi[(0,) * n] = 1
        for b in plan(list(circuit), max_qubits):
            op = build_operator(b, torch.complex128, torch.device("cpu")).numpy()
            psi = _applied(psi, np.diag(op) if b.is_diagonal else op, b.qubits)
        np.testing.assert_allclose(psi.reshape(-1), expected, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 10, 11, 12, 13])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_constant_circuits_on_small_kets_match_qutip(n, dtype):
    """Float-angle circuits run in NumPy on kets of up to 2**12 amplitudes
    (tqsim.fusion.evolve_small_ket: folded factors one by one up to 2**10, composed blocks
    above), and as NumPy-composed blocks applied by PyTorch beyond. All equal QuTiP's gate
    matrices applied one by one, for every kind of gate, scattered and reversed qubits, user
    matrices and diagonal runs."""
    import tqsim as tq

    circuit, oracle = random_circuit(n, 200, np.random.default_rng(n))
    state = circuit.run(tq.StateVector.zeros(n, dtype=dtype))
    assert state.dtype == dtype
    atol = 1e-10 if dtype == torch.complex128 else 1e-5
    np.testing.assert_allclose(state.amplitudes().numpy(), _oracle_ket(n, oracle), atol=atol)


def _controlled_matrix(u: np.ndarray, num_controls: int) -> np.ndarray:
    """The matrix of ``u`` controlled by ``num_controls`` qubits listed first: the identity but for its
    last block, written out directly."""
    dim = u.shape[0] << num_controls
    full = np.eye(dim, dtype=complex)
    full[dim - u.shape[0]:, dim - u.shape[0]:] = u
    return full


@pytest.mark.parametrize("width", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tiled_plans_multiply_to_the_circuit_unitary(width, seed):
    """Every block of a plan of windows (tqsim.block_plans.tiled) acts on adjacent qubits, no wider
    than the window unless a gate is, and the blocks multiply to QuTiP's gate matrices in order,
    long-range gates, swaps and Toffolis included."""
    from tqsim.block_plans import tiled
    from tqsim.fusion import Block, _bits

    n = 6
    rng = np.random.default_rng(seed)
    circuit, oracle = random_circuit(n, 80, rng)
    gates = list(circuit)
    groups = tiled([g.qubits for g in gates], [g.is_diagonal for g in gates], n, width)
    assert sorted(j for _, members in groups for j in members) == list(range(len(gates)))
    u = np.eye(2**n, dtype=complex)
    for mask, members in groups:
        qubits = _bits(mask)
        if len(members) > 1:
            assert len(qubits) <= width and qubits[-1] - qubits[0] + 1 == len(qubits)
        block = Block(qubits, [gates[j] for j in members])
        op = build_operator(block, torch.complex128, torch.device("cpu")).numpy()
        u = embed(np.diag(op) if block.is_diagonal else op, list(qubits), n) @ u
    np.testing.assert_allclose(u, oracle_unitary(n, oracle), atol=1e-10)


@pytest.mark.parametrize("n", [14, 15])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("angles", ["float", "tensor"])
@pytest.mark.parametrize("path", ["kernel", "pytorch"])
def test_large_kets_under_cost_chosen_plans_match_qutip(n, dtype, angles, path, monkeypatch):
    """Large kets with no gradient run the plan of least modelled cost (tqsim.block_plans; here from
    2**14 amplitudes, to keep the oracle small), under the model of the compiled kernel or, where it is
    off, of the PyTorch path: random circuits of every kind of gate, a brickwork (where windows win) and
    a controlled gate too wide for any block all end in the state of QuTiP's gate matrices applied one
    by one."""
    import tqsim as tq
    from tqsim import block_plans, fusion
    from tqsim.gates import controlled
    from tqsim.tensor import cpu_kernels

    monkeypatch.setattr(block_plans, "PLANNED_AMPLITUDES", 1 << 14)
    if path == "pytorch":
        monkeypatch.setattr(cpu_kernels, "_state", {"module": None, "tried": True, "error": "off in this test"})
    width, model = (4, "complex") if path == "kernel" else (5, None)

    rng = np.random.default_rng(n)
    neighbours = [list(range(q, q + 3)) for q in range(n - 2)]
    circuit, oracle = random_circuit(n, 100, rng, groups=neighbours)
    random_circuit(n, 10, rng, circuit=circuit, oracle=oracle)  # long-range gates too
    for layer in range(6):
        for q in range(n):
            theta = float(rng.uniform(-np.pi, np.pi))
            circuit.rx(theta, q)
            oracle.append((qutip_gate("rx", (theta,)), [q]))
        for q in range(layer % 2, n - 1, 2):
            circuit.cz(q, q + 1)
            oracle.append((qutip_gate("cz", ()), [q, q + 1]))
    u = random_unitary(1, rng)
    wide = [n - 1, 0, 3, 7, 9, 2]  # five controls, then the target
    circuit.append(controlled(u, wide[:-1], wide[-1:]))
    oracle.append((_controlled_matrix(u, 5), wide))
    if angles == "tensor":
        with_tensors = tq.Circuit(n)
        for g in circuit:
            if g.params and all(isinstance(p, float) for p in g.params):
                getattr(with_tensors, g.name)(*(torch.tensor(p, dtype=torch.float64) for p in g.params), *g.qubits)
            else:
                with_tensors.append(g)
        circuit = with_tensors
    key = tuple((g.qubits, g.is_diagonal, fusion.applies_apart(g, width)) for g in circuit)
    assert fusion._schedule(key, width, n, model) != fusion._schedule(key, width, None, model)  # the path under test
    assert cpu_kernels.serves(torch.zeros(1 << n, dtype=dtype)) == (path == "kernel")
    state = circuit.run(tq.StateVector.zeros(n, dtype=dtype))
    atol = 1e-10 if dtype == torch.complex128 else 1e-5
    np.testing.assert_allclose(state.amplitudes().numpy(), _oracle_ket(n, oracle), atol=atol)


def test_a_plan_of_windows_stops_once_it_costs_more_than_the_greedy_one():
    """Long-range gates fit no window, so the plan of windows would take them one per round: it gives
    up as soon as its modelled cost passes the greedy plan's, which is then kept. On a brickwork the
    plan of windows costs less (it holds the 4-qubit blocks the greedy grouping breaks up) and is
    the one taken."""
    import tqsim as tq
    from tqsim import block_plans
    from tqsim.fusion import _group

    n = 20
    rng = np.random.default_rng(7)
    long_range = tq.Circuit(n)
    for _ in range(300):
        a = int(rng.integers(n))
        long_range.cx(a, (a + 10) % n)
    brickwork = tq.Circuit(n)
    for layer in range(6):
        for q in range(n):
            brickwork.rx(float(rng.uniform(-np.pi, np.pi)), q)
        for q in range(layer % 2, n - 1, 2):
            brickwork.cz(q, q + 1)
    for circuit, windows_win in ((long_range, False), (brickwork, True)):
        gates = list(circuit)
        qubit_lists, diagonal = [g.qubits for g in gates], [g.is_diagonal for g in gates]
        greedy = _group(qubit_lists, 5)
        budget = block_plans.plan_cost(greedy, diagonal, n)
        windows = block_plans.tiled(qubit_lists, diagonal, n, 5, budget)
        chosen = block_plans.cheaper(greedy, qubit_lists, diagonal, n, 5)
        if windows_win:
            assert windows is not None and block_plans.plan_cost(windows, diagonal, n) < budget
            assert chosen == windows
        else:
            assert windows is None and chosen is greedy
