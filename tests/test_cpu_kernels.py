"""The compiled CPU kernel (tqsim.tensor.cpu_kernels) against NumPy and QuTiP oracles.

The kernel is built on first use (a C++ compiler and ninja are on this
project's machines and in CI); a failed build would fail
``test_kernel_is_built`` rather than silently test the PyTorch path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import tqsim as tq
from tqsim.tensor import cpu_kernels

from circuits import ARITY, random_circuit
from oracles import qutip_gate, random_state, random_unitary

TOLERANCE = {torch.complex64: 2e-6, torch.complex128: 1e-12, torch.float32: 2e-6, torch.float64: 1e-12}
NUMPY = {torch.complex64: np.complex64, torch.complex128: np.complex128, torch.float32: np.float32,
         torch.float64: np.float64}


def numpy_apply(psi: np.ndarray, matrix: np.ndarray, qubits, n: int) -> np.ndarray:
    """``matrix`` on ``qubits`` (big-endian) of the flat ``psi`` (``(*batch, 2**n)``), by a NumPy tensordot."""
    k = len(qubits)
    batch = psi.shape[:-1]
    tensor = psi.reshape(*batch, *[2] * n)
    axes = [len(batch) + q for q in qubits]
    moved = np.tensordot(matrix.reshape([2] * (2 * k)), tensor, axes=(list(range(k, 2 * k)), axes))
    return np.moveaxis(moved, list(range(k)), axes).reshape(*batch, 2**n)


def random_matrix(k: int, dtype: torch.dtype, rng) -> np.ndarray:
    if dtype.is_complex:
        return random_unitary(k, rng)
    return np.linalg.qr(rng.normal(size=(2**k, 2**k)))[0]


def test_kernel_is_built():
    assert cpu_kernels.available(), cpu_kernels.status()
    assert cpu_kernels.status() == "compiled"


@pytest.mark.parametrize("dtype", list(TOLERANCE))
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_matrix_matches_numpy_on_every_layout(dtype, k):
    """Targets inside a vector's lanes, above them, mixed, in any order: every layout of every width."""
    rng = np.random.default_rng(10 * k + list(TOLERANCE).index(dtype))
    for n in (10, 11, 13):
        for _ in range(8):
            qubits = [int(q) for q in rng.choice(n, size=k, replace=False)]
            psi = random_state(n, rng) if dtype.is_complex else rng.normal(size=2**n)
            matrix = random_matrix(k, dtype, rng)
            ket = torch.tensor(psi.astype(NUMPY[dtype]))
            op = torch.tensor(matrix.astype(NUMPY[dtype]))
            assert cpu_kernels.accepts(ket, op, qubits)
            result = cpu_kernels.apply_in_place(ket, op, qubits)
            assert result is ket  # in place
            expected = numpy_apply(psi, matrix, qubits, n)
            np.testing.assert_allclose(result.numpy(), expected, atol=TOLERANCE[dtype] * np.abs(expected).max(),
                                       err_msg=f"n={n} qubits={qubits}")


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_diagonal_and_batch(dtype):
    rng = np.random.default_rng(3)
    n = 11
    psi = np.stack([random_state(n, rng) for _ in range(3)])
    for qubits in ([n - 1], [0, n - 2], [5, 1, n - 1]):
        phases = np.exp(1j * rng.uniform(-np.pi, np.pi, size=2 ** len(qubits)))
        ket = torch.tensor(psi.astype(NUMPY[dtype]))
        cpu_kernels.apply_in_place(ket, torch.tensor(phases.astype(NUMPY[dtype])), qubits, diagonal=True)
        expected = numpy_apply(psi, np.diag(phases), qubits, n)
        np.testing.assert_allclose(ket.numpy(), expected, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [torch.complex64, torch.float32])
def test_bits_do_not_depend_on_the_thread_count(dtype):
    rng = np.random.default_rng(4)
    n = 17
    start = torch.tensor(rng.normal(size=2**n).astype(NUMPY[dtype]))
    layers = [([int(q) for q in rng.choice(n, size=k, replace=False)], random_matrix(k, dtype, rng))
              for k in (1, 2, 3, 4, 5, 4, 3)]
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            ket = start.clone()
            for qubits, matrix in layers:
                cpu_kernels.apply_in_place(ket, torch.tensor(matrix.astype(NUMPY[dtype])), qubits)
            results.append(ket)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(results[0], results[1])


def counting_kernel_calls(monkeypatch) -> list[str]:
    """Which entry point of the kernel each call took: "tensor" (the fused evolution of large kets) or
    "numpy" (the small-ket path of constant circuits)."""
    calls: list[str] = []
    for name, label in (("apply_in_place", "tensor"), ("apply_numpy_in_place", "numpy")):
        original = getattr(cpu_kernels, name)
        monkeypatch.setattr(cpu_kernels, name,
                            lambda *a, _f=original, _l=label, **k: calls.append(_l) or _f(*a, **k))
    return calls


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("n, path", [(10, "numpy"), (11, "numpy"), (12, "numpy"), (13, "tensor")])
def test_circuits_through_the_kernel_match_qutip_gates(dtype, n, path, monkeypatch):
    """Random circuits of 1-3-qubit gates (QuTiP's matrices as the oracle) where the evolution takes the
    kernel: the NumPy path of small kets (10-12 qubits) and the fused evolution (13); the caller's state
    is left as it was."""
    calls = counting_kernel_calls(monkeypatch)
    rng = np.random.default_rng(n)
    constant = [name for name in ARITY if name != "unitary"]  # a unitary's matrix is a tensor parameter
    for _ in range(3):
        circuit, oracle = random_circuit(n, 60, rng, names=constant)
        psi0 = random_state(n, rng)
        start = tq.StateVector(torch.tensor(psi0.astype(NUMPY[dtype])), n)
        before = start.amplitudes().clone()
        result = circuit.run(start).amplitudes().numpy()
        expected = psi0
        for matrix, qubits in oracle:
            expected = numpy_apply(expected, matrix, qubits, n)
        np.testing.assert_allclose(result, expected, atol=50 * TOLERANCE[dtype])
        assert torch.equal(start.amplitudes(), before)
    assert set(calls) == {path}


@pytest.mark.parametrize("kernel", [True, False])
@pytest.mark.parametrize("n", [11, 12])
def test_layered_constant_circuit_composes_alike_blocks_in_batches(n, kernel, monkeypatch):
    """A layered circuit (u3 on every qubit, then a CX or CZ brickwork) read as constants: its blocks
    repeat layer after layer and are composed many to a NumPy call. Against QuTiP's matrices, with the
    blocks applied by the kernel and by NumPy."""
    if not kernel:
        monkeypatch.setattr(tq.fusion, "_small_ket_kernel", lambda amplitudes: False)
    calls = counting_kernel_calls(monkeypatch)
    rng = np.random.default_rng(100 + n)
    circuit, oracle = tq.Circuit(n), []
    for layer in range(12):
        for q in range(n):
            angles = tuple(float(a) for a in rng.uniform(-np.pi, np.pi, size=3))
            circuit.u3(*angles, q)
            oracle.append((qutip_gate("u3", angles), [q]))
        name = ("cx", "cz")[layer % 2]
        for q in range(layer % 2, n - 1, 2):
            getattr(circuit, name)(q, q + 1)
            oracle.append((qutip_gate(name, ()), [q, q + 1]))
    psi0 = random_state(n, rng)
    result = circuit.run(tq.StateVector(torch.tensor(psi0), n)).amplitudes().numpy()
    expected = psi0
    for matrix, qubits in oracle:
        expected = numpy_apply(expected, matrix, qubits, n)
    np.testing.assert_allclose(result, expected, atol=1e-12)
    assert set(calls) == ({"numpy"} if kernel else set())


@pytest.mark.parametrize("dtype", list(TOLERANCE))
def test_numpy_entry_point_takes_many_blocks_in_any_order(dtype):
    """apply_numpy_in_place: blocks of every width on unsorted targets, in sequence, against NumPy."""
    rng = np.random.default_rng(20 + list(TOLERANCE).index(dtype))
    n = 12
    psi = random_state(n, rng) if dtype.is_complex else rng.normal(size=2**n)
    blocks = []
    for k in (1, 2, 3, 4, 5, 2):
        qubits = tuple(int(q) for q in rng.choice(n, size=k, replace=False))
        blocks.append((random_matrix(k, dtype, rng).astype(NUMPY[dtype]), qubits))
    ket = psi.astype(NUMPY[dtype])
    assert cpu_kernels.apply_numpy_in_place(ket, blocks) is ket
    expected = psi
    for matrix, qubits in blocks:
        expected = numpy_apply(expected, matrix, qubits, n)
    np.testing.assert_allclose(ket, expected, atol=TOLERANCE[dtype] * 10)


def test_numpy_entry_point_names_what_it_refuses():
    ket = np.zeros(2**11, dtype=np.complex128)
    with pytest.raises(ValueError, match=r"at least 1024 amplitudes.*shape \(512,\)"):
        cpu_kernels.apply_numpy_in_place(ket[:512], [])
    with pytest.raises(ValueError, match=r"got int64"):
        cpu_kernels.apply_numpy_in_place(np.zeros(2**11, dtype=np.int64), [])
    with pytest.raises(ValueError, match=r"got complex128, shape \(2048,\)"):
        cpu_kernels.apply_numpy_in_place(np.zeros(2**12, dtype=complex)[::2], [])
    with pytest.raises(ValueError, match=r"qubits \(0, 1\) must be a complex128 matrix of shape \(4, 4\).*"
                                         r"got complex64, shape \(4, 4\)"):
        cpu_kernels.apply_numpy_in_place(ket, [(np.eye(4, dtype=np.complex64), (0, 1))])
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        cpu_kernels.apply_numpy_in_place(ket, [(np.eye(4, dtype=complex), (3,))])
    with pytest.raises(ValueError, match=r"at most 5 qubits"):
        cpu_kernels.apply_numpy_in_place(ket, [(np.eye(64, dtype=complex), tuple(range(6)))])
    with pytest.raises(ValueError, match=r"2\*\*n amplitudes; got 1500"):
        cpu_kernels.apply_numpy_in_place(np.zeros(1500, dtype=complex), [])
    for qubits in ((3, 11), (-1, 2), (4, 4)):  # the compiled side would write outside the ket
        message = re.escape(f"distinct qubits in range(0, 11); got {qubits}")
        with pytest.raises(ValueError, match=message):
            cpu_kernels.apply_numpy_in_place(ket, [(np.eye(4, dtype=complex), qubits)])
        with pytest.raises(ValueError, match=message):
            cpu_kernels.apply_in_place(torch.zeros(2**11, dtype=torch.complex128),
                                       torch.eye(4, dtype=torch.complex128), qubits)


def test_numpy_entry_point_without_the_kernel_says_why(monkeypatch):
    monkeypatch.setattr(cpu_kernels, "_state", {"module": None, "tried": True, "error": "no C++ compiler found"})
    with pytest.raises(RuntimeError, match="not available: PyTorch path \\(no C\\+\\+ compiler found\\)"):
        cpu_kernels.apply_numpy_in_place(np.zeros(2**11, dtype=complex), [])


def test_real_circuit_through_the_kernel():
    """RY and CZ from |0...0>: the ket evolves as its real parts in the float32 kernel."""
    calls = []
    original = cpu_kernels.apply_in_place
    n = 14
    rng = np.random.default_rng(6)
    circuit = tq.Circuit(n)
    expected = np.zeros(2**n)
    expected[0] = 1
    for layer in range(4):
        for q in range(n):
            angle = float(rng.uniform(-np.pi, np.pi))
            circuit.ry(angle, q)
            c, s = np.cos(angle / 2), np.sin(angle / 2)
            expected = numpy_apply(expected, np.array([[c, -s], [s, c]]), [q], n)
        for q in range(layer % 2, n - 1, 2):
            circuit.cz(q, q + 1)
            expected = numpy_apply(expected, np.diag([1.0, 1, 1, -1]), [q, q + 1], n)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cpu_kernels, "apply_in_place", lambda *a, **k: calls.append(a[0].dtype) or original(*a, **k))
        result = circuit.run(tq.StateVector.zeros(n, dtype=torch.complex64)).amplitudes().numpy()
    assert torch.float32 in calls
    np.testing.assert_allclose(result, expected, atol=1e-5)


def test_what_the_kernel_refuses():
    ket = torch.zeros(2**12, dtype=torch.complex64)
    matrix = torch.eye(4, dtype=torch.complex64)
    assert cpu_kernels.accepts(ket, matrix, [0, 1])
    assert not cpu_kernels.accepts(ket, matrix.to(torch.complex128), [0, 1])  # another dtype
    assert not cpu_kernels.accepts(ket, matrix.expand(3, 4, 4), [0, 1])  # a batch of matrices
    assert not cpu_kernels.accepts(ket, torch.eye(64, dtype=torch.complex64), list(range(6)))  # too wide
    assert not cpu_kernels.accepts(ket[:2**9], matrix, [0, 1])  # small: the other paths
    assert not cpu_kernels.accepts(ket.reshape(2, -1)[:, ::2], matrix, [0, 1])  # not contiguous
    assert not cpu_kernels.accepts(torch.zeros(2**12, dtype=torch.int64), torch.eye(4, dtype=torch.int64), [0, 1])
    assert not cpu_kernels.accepts(ket, matrix, [0], diagonal=True)  # a matrix given as a diagonal
    tracked = matrix.clone().requires_grad_()
    assert not cpu_kernels.accepts(ket, tracked, [0, 1])  # autograd needs the PyTorch path
    with torch.no_grad():
        assert cpu_kernels.accepts(ket, tracked, [0, 1])


def test_the_compiled_function_names_what_it_cannot_do():
    module = cpu_kernels._module()
    ket = torch.zeros(2**12, dtype=torch.complex64)
    matrix = torch.eye(2, dtype=torch.complex64)
    with pytest.raises(ValueError, match="no kernel for dtype int32"):
        module.apply(ket.data_ptr(), ket.numel(), matrix.data_ptr(), [5], 0, "int32")
    with pytest.raises(ValueError, match="low mask 9"):
        module.apply(ket.data_ptr(), ket.numel(), matrix.data_ptr(), [], 9, "complex64")
    with pytest.raises(ValueError, match="6 high targets"):
        module.apply(ket.data_ptr(), ket.numel(), matrix.data_ptr(), [3, 4, 5, 6, 7, 8], 0, "complex64")


def test_a_failed_build_warns_once_and_keeps_the_pytorch_path(monkeypatch):
    def no_compiler(verbose=False):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(cpu_kernels, "_state", {"module": None, "tried": False, "error": None})
    monkeypatch.setattr(cpu_kernels, "build", no_compiler)
    with pytest.warns(RuntimeWarning, match=r'pip install "tqsim\[kernel\]".*no C\+\+ compiler found'):
        assert not cpu_kernels.available()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not cpu_kernels.available()  # once
    assert "no C++ compiler found" in cpu_kernels.status()
    rng = np.random.default_rng(7)
    psi0 = random_state(13, rng)
    circuit = tq.Circuit(13).h(0).cx(0, 12).ry(0.3, 7)
    result = circuit.run(tq.StateVector(torch.tensor(psi0), 13)).amplitudes().numpy()
    expected = numpy_apply(psi0, np.array([[1, 1], [1, -1]]) / np.sqrt(2), [0], 13)
    expected = numpy_apply(expected, np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]), [0, 12], 13)
    c, s = np.cos(0.15), np.sin(0.15)
    expected = numpy_apply(expected, np.array([[c, -s], [s, c]]), [7], 13)
    np.testing.assert_allclose(result, expected, atol=1e-12)


def test_turned_off_by_the_environment():
    code = ("import tqsim, torch; from tqsim.tensor import cpu_kernels as k; "
            "print(k.available(), k.status()); s = tqsim.Circuit(13).h(0).run(); print(float(s.amplitudes()[0].real))")
    env = dict(os.environ, TQSIM_CPU_KERNEL="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "False PyTorch path (turned off by TQSIM_CPU_KERNEL=0)"
    assert abs(float(lines[1]) - 2**-0.5) < 1e-7


def test_the_kernel_source_ships_in_the_package():
    """A wheel carries non-Python files only where pyproject.toml names them: without the entry an
    installed tqsim would have no source to compile and would fall back with a warning."""
    import pathlib

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the test extra's tomli
        import tomli as tomllib

    root = pathlib.Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    shipped = config["tool"]["setuptools"]["package-data"]["tqsim.tensor"]
    assert cpu_kernels._SOURCE.name in shipped
    assert (root / "tqsim" / "tensor" / cpu_kernels._SOURCE.name).is_file()
