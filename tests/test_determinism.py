"""Same seed, same bits on the CPU: within a process, across fresh processes, with 1 or 2 threads.

The oracle is the run itself: two runs that should be identical are compared
bit for bit (floats as ``float.hex``), so any drift, however small, fails.
"""

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from tqsim.maxcut import MaxCutProblem, make_ansatz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# one training per case: every family, the MPS backend, the entropy penalty and
# the multi-basis encoding (each takes another path through fusion or info)
TRAINING_SCRIPT = r"""
import json, sys, torch
torch.set_num_threads(int(sys.argv[1]))
from tqsim.maxcut import MaxCutProblem, make_ansatz, train
problem = MaxCutProblem.random_regular(12, 3, seed=5)
cases = [("product", None, {}), ("one-directional", None, {}), ("two-directional", None, {}),
         ("deep", 2, {}), ("qaoa", 2, {}), ("one-directional", 2, {"backend": "mps", "max_bond": 4}),
         ("two-directional", None, {"entropy_penalty": 0.2}), ("one-directional", None, {"encoding": "mbe"})]
histories = {}
for family, depth, options in cases:
    model = make_ansatz(family, problem, depth, seed=3, **options)
    result = train(model, steps=12, lr=0.1, device="cpu", seed=3, progress=False)
    key = f"{family} {depth} {sorted(options.items())}"
    histories[key] = [[float(row[name]).hex() for name in ("loss", "expected_cut", "entropy", "best_cut")]
                      for row in result.history]
    histories[key].append([float(p).hex() for p in torch.cat([p.detach().flatten() for p in model.parameters()])])
print(json.dumps(histories))
"""


def _train_in_fresh_process(threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", TRAINING_SCRIPT, str(threads)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("threads", [1, 2])
def test_training_histories_are_bit_identical_across_fresh_processes(threads):
    first = _train_in_fresh_process(threads)
    second = _train_in_fresh_process(threads)
    assert len(first) == 8
    for key in first:
        assert first[key] == second[key], f"{key}: histories differ between two identical runs"


@pytest.mark.parametrize("family", ["one-directional", "two-directional", "deep"])
def test_repeated_forward_passes_give_the_same_bits(family):
    # the same parameters give the same state on every call, whatever the allocator does
    model = make_ansatz(family, MaxCutProblem.random_regular(14, 3, seed=0), 2, seed=0)
    with torch.no_grad():
        states = {model().amplitudes().numpy().tobytes() for _ in range(12)}
    assert len(states) == 1


def test_small_dense_trainings_give_the_same_bits_on_one_and_two_threads():
    """12 qubits is below tqsim's one-thread limit (2**16 amplitudes): the dense and product
    runs no longer depend on the caller's thread count. The MPS run keeps the caller's threads."""
    one, two = _train_in_fresh_process(1), _train_in_fresh_process(2)
    dense = [key for key in one if "mps" not in key]
    assert len(dense) == 7
    for key in dense:
        assert one[key] == two[key], f"{key}: 1 and 2 threads differ below the one-thread limit"


def test_the_caller_s_thread_count_is_restored_after_small_work_and_after_an_error():
    import tqsim as tq
    from tqsim._threads import ONE_THREAD_AMPLITUDES, one_thread_if_small

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []
        with one_thread_if_small(ONE_THREAD_AMPLITUDES, torch.device("cpu")):
            seen.append(torch.get_num_threads())
        with one_thread_if_small(ONE_THREAD_AMPLITUDES + 1, torch.device("cpu")):
            seen.append(torch.get_num_threads())
        assert seen == [1, 2] and torch.get_num_threads() == 2
        with pytest.raises(ValueError):
            with one_thread_if_small(16, torch.device("cpu")):
                raise ValueError("inside")
        assert torch.get_num_threads() == 2
        tq.Circuit(3).h(0).cx(0, 1).run()
        with pytest.raises(ValueError):
            tq.Circuit(3).ry(float("nan"), 0).run()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_a_users_own_backward_through_a_small_evolution_runs_on_one_thread_and_restores_the_count():
    import tqsim as tq
    from tqsim._threads import ONE_THREAD_AMPLITUDES

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for n, expected in ((4, 1), (ONE_THREAD_AMPLITUDES.bit_length(), 2)):  # 2**4 amplitudes; above the limit
            theta = torch.tensor(0.3, requires_grad=True)
            state = tq.Circuit(n).ry(theta, 0).cx(0, 1).run(tq.StateVector.zeros(n))
            seen = []
            theta.register_hook(lambda g: seen.append(torch.get_num_threads()))
            state.expectation("Z1").backward()
            assert seen == [expected] and torch.get_num_threads() == 2
            assert abs(float(theta.grad) + math.sin(0.3)) < 1e-6  # <Z1> = cos(theta) after the CX
    finally:
        torch.set_num_threads(previous)


def test_read_outs_of_a_small_state_run_on_one_thread_forward_and_backward():
    """A loss built from a small state's read-out (here <D> of a diagonal, as MaxCut's loss) is
    computed on one thread, and its backward reaches the amplitudes on one thread; above the
    limit both keep the caller's two threads."""
    import tqsim as tq
    from tqsim._threads import ONE_THREAD_AMPLITUDES
    from tqsim.paulis import as_observable

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for n, expected in ((4, 1), (ONE_THREAD_AMPLITUDES.bit_length(), 2)):
            theta = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
            state = tq.Circuit(n).ry(theta, 0).run(tq.StateVector.zeros(n, dtype=torch.complex128))
            forward, backward = [], []

            def z0(device, dtype):  # the diagonal of Z on qubit 0
                forward.append(torch.get_num_threads())
                return torch.tensor([1.0, -1.0], dtype=dtype, device=device).repeat_interleave(2 ** (n - 1))

            state.amplitudes().register_hook(lambda g: backward.append(torch.get_num_threads()))
            value = state.diagonal_expectation(as_observable("Z0"), z0)
            value.backward()
            assert forward == [expected] and backward == [expected] and torch.get_num_threads() == 2
            assert abs(float(value.detach()) - math.cos(0.3)) < 1e-12 and abs(float(theta.grad) + math.sin(0.3)) < 1e-12
    finally:
        torch.set_num_threads(previous)


def test_numpy_paths_keep_openblas_on_one_thread_and_restore_the_count(monkeypatch):
    """OpenBLAS's idle threads spin after every call it threads (a helper thread at 100% of a core beside a
    training loop, Lightning's step 3.5x slower in the process next door): tqsim's NumPy paths run with
    OpenBLAS on one thread, forward and backward, and give the caller's count back."""
    import numpy as np

    import tqsim as tq
    from tqsim import composed_blocks
    from tqsim._threads import _openblas_threads

    found = _openblas_threads()
    if found is None:
        config = str(np.show_config(mode="dicts")["Build Dependencies"]["blas"]).lower()
        assert "openblas" not in config or not sys.platform.startswith("linux"), "NumPy's OpenBLAS was not found"
        pytest.skip("NumPy's BLAS is not an OpenBLAS this platform lets tqsim reach")
    get, set_ = found
    previous = get()
    set_(2)
    try:
        seen = []
        for name in ("blocks", "gradients"):
            original = getattr(composed_blocks.Composition, name)

            def spy(self, *args, _original=original):
                seen.append(get())
                return _original(self, *args)

            monkeypatch.setattr(composed_blocks.Composition, name, spy)
        theta = torch.tensor([0.3, -0.4], requires_grad=True)
        state = tq.Circuit(6).ry(theta[0], 0).cx(0, 1).ry(theta[1], 1).run(tq.StateVector.zeros(6))
        state.expectation("Z1").backward()
        assert seen == [1, 1] and get() == 2
        tq.Circuit(6).h(0).cx(0, 3).t(3).run()  # a constant circuit: fusion.evolve_small_ket
        assert get() == 2
    finally:
        set_(previous)


# ---------------------------------------------------------------- large evolutions, shared CPU

def _strict_products() -> bool:
    from tqsim._threads import thread_independent_products

    return thread_independent_products()


def test_tqsim_puts_mkl_in_strict_reproducible_mode_at_import():
    # the test session imports tqsim before any matrix product (conftest), as a script would; a PyTorch
    # without MKL, or whose MKL does not export the mode's functions, keeps the caller's threads instead
    from tqsim._threads import _mkl_reproducibility, thread_independent_products

    assert thread_independent_products() == (_mkl_reproducibility() is not None)
    assert _mkl_reproducibility() is not None or not torch.backends.mkl.is_available() or sys.platform != "linux"


@pytest.mark.skipif(not _strict_products(), reason="MKL's strict mode is unavailable here")
def test_mkl_used_before_tqsim_keeps_its_mode_and_large_evolutions_keep_the_caller_s_threads():
    script = ("import torch; a = torch.randn(300, 300); a @ a\n"
              "import tqsim._threads as t\n"
              "t._others_running = lambda: 64\n"  # a loaded machine
              "torch.set_num_threads(2)\n"
              "with t.threads_left_free(torch.device('cpu')): inside = torch.get_num_threads()\n"
              "print(t.thread_independent_products(), inside)")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MKL_CBWR", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "2"]


@pytest.mark.skipif(not _strict_products(), reason="MKL's strict mode is unavailable here")
@pytest.mark.parametrize("rotation", ["rx", "ry"])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_large_evolutions_give_the_same_bits_on_one_and_two_threads(rotation, dtype):
    """Above the one-thread limit an evolution runs on the threads a shared CPU leaves free, which
    is safe only if the bits do not depend on the count. Without MKL's strict mode, the complex128
    RX brickwork at 17 qubits differed in the last bits between 1 and 2 threads."""
    import tqsim as tq
    from tqsim.bench.tools import brickwork, brickwork_circuit

    threads = torch.get_num_threads()
    try:
        for n in (17, 18):
            circuit = brickwork_circuit(n, brickwork(n, 10, seed=n), rotation)
            found = set()
            for count in (1, 2, 1, 2):
                torch.set_num_threads(count)
                found.add(circuit.run(tq.StateVector.zeros(n, dtype=dtype)).amplitudes().numpy().tobytes())
            assert len(found) == 1, f"n={n}: the state depends on the thread count"
    finally:
        torch.set_num_threads(threads)


@pytest.mark.skipif(not _strict_products(), reason="MKL's strict mode is unavailable here")
def test_gates_in_every_layout_give_the_same_bits_on_one_and_two_threads():
    from tqsim.tensor import apply_matrix

    threads = torch.get_num_threads()
    generator = torch.Generator().manual_seed(4)
    try:
        for dtype in (torch.complex64, torch.complex128):
            state = torch.randn(2**18, dtype=dtype, generator=generator)
            for k in (1, 2, 3, 5):
                matrix = torch.linalg.qr(torch.randn(2**k, 2**k, dtype=dtype, generator=generator))[0]
                for qubits in (tuple(range(k)), tuple(range(8, 8 + k)), tuple(range(18 - k, 18)),
                               tuple(range(0, 18, 18 // k))[:k]):
                    results = []
                    for count in (1, 2):
                        torch.set_num_threads(count)
                        results.append(apply_matrix(state, matrix, qubits))
                    assert torch.equal(results[0], results[1]), (dtype, qubits)
    finally:
        torch.set_num_threads(threads)


def test_a_loaded_cpu_lowers_the_threads_of_a_large_evolution_only(monkeypatch):
    import tqsim as tq
    import tqsim._threads as threads_module

    seen = []
    monkeypatch.setattr(threads_module, "_THREAD_INDEPENDENT_PRODUCTS", True)
    monkeypatch.setattr(threads_module, "_others_running", lambda: 64)
    monkeypatch.setattr(threads_module, "_cpus", lambda: 2)
    from tqsim.states import statevector

    original = statevector.ket_step

    def spy(*args):
        seen.append(torch.get_num_threads())
        return original(*args)

    monkeypatch.setattr(statevector, "ket_step", spy)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        circuit = tq.Circuit(17).h(0).cx(0, 16).ry(0.3, 5)
        circuit.run(tq.StateVector.zeros(17))
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
        seen.clear()
        monkeypatch.setattr(threads_module, "_others_running", lambda: 0)
        circuit.run(tq.StateVector.zeros(17))
        assert set(seen) == {2}
        seen.clear()  # a gradient's sums depend on the count: the caller's threads, loaded or not
        monkeypatch.setattr(threads_module, "_others_running", lambda: 64)
        angle = torch.tensor(0.3, requires_grad=True)
        tq.Circuit(17).h(0).ry(angle, 5).run(tq.StateVector.zeros(17)).amplitudes().abs().sum().backward()
        assert 1 not in seen
    finally:
        torch.set_num_threads(threads)


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="reads Linux's /proc")
def test_the_load_reading_counts_other_processes_runnable_threads(monkeypatch):
    import time

    import tqsim._threads as threads_module
    from tqsim.bench.tools import busy_processes

    monkeypatch.setattr(threads_module, "_load_reading", [-1.0, 0])
    with busy_processes(2):
        time.sleep(0.5)
        others = threads_module._others_running()
    assert others >= 2


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="reads Linux's /proc")
def test_a_moment_of_other_threads_spinning_does_not_count_as_load(monkeypatch):
    """Another process's OpenMP threads spin for a moment after each parallel region: a reading that
    sees them is checked again a little later, and the lower count is kept (a benchmark that alternated
    with qsim put every 20-qubit evolution on one thread: 1.4-1.7x qsim's time, 0.93-0.97x after)."""
    import tqsim._threads as threads_module

    readings = iter([2, 0])
    monkeypatch.setattr(threads_module, "_read_others", lambda: next(readings))
    monkeypatch.setattr(threads_module, "_load_reading", [-1.0, 0])
    assert threads_module._others_running() == 0
    readings = iter([2, 3])  # still busy when read again: the lower of the two
    monkeypatch.setattr(threads_module, "_load_reading", [-1.0, 0])
    assert threads_module._others_running() == 2
    monkeypatch.setattr(threads_module, "_read_others", lambda: 5)
    assert threads_module._others_running() == 2  # the reading serves for a while
