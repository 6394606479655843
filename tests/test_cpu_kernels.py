"""The compiled CPU kernel (tqsim.tensor.cpu_kernels) against NumPy and QuTiP oracles.

The kernel is built on first use (a C++ compiler and ninja are on this
project's machines and in CI); a failed build would fail
``test_kernel_is_built`` rather than silently test the PyTorch path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import tqsim as tq
from tqsim.tensor import cpu_kernels

from circuits import random_circuit
from oracles import random_state, random_unitary

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


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("n", [10, 11, 13])
def test_circuits_through_the_kernel_match_qutip_gates(dtype, n, monkeypatch):
    """Random circuits of 1-3-qubit gates (QuTiP's matrices as the oracle) where the evolution takes the
    kernel: the NumPy path of small kets (factors one by one at 10 qubits, composed blocks at 11) and the
    fused evolution (13); the caller's state is left as it was."""
    calls = []
    original = cpu_kernels.apply_in_place
    monkeypatch.setattr(cpu_kernels, "apply_in_place", lambda *a, **k: calls.append(1) or original(*a, **k))
    rng = np.random.default_rng(n)
    for _ in range(3):
        circuit, oracle = random_circuit(n, 60, rng)
        psi0 = random_state(n, rng)
        start = tq.StateVector(torch.tensor(psi0.astype(NUMPY[dtype])), n)
        before = start.amplitudes().clone()
        result = circuit.run(start).amplitudes().numpy()
        expected = psi0
        for matrix, qubits in oracle:
            expected = numpy_apply(expected, matrix, qubits, n)
        np.testing.assert_allclose(result, expected, atol=50 * TOLERANCE[dtype])
        assert torch.equal(start.amplitudes(), before)
    assert calls


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
