"""`tqsim study run --executor ray`: the local executor's numbers, bit for bit, written by the driver alone.

Oracles: the local executor on the same grid (every stored number equal with
``==``, timings aside), with a control showing that the graph used for the
thread test does change its bits with the thread count; the database's row
count, read by a run while it is still in flight; the process ids the runs
trained in.
"""

import http.server
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing

import pytest
import torch

from tqsim.cli import main
from tqsim.maxcut.study import StudyGrid, StudyStore, run_study
from tqsim.maxcut.study import runner
from tqsim.maxcut.study.executors import Job, RayExecutor

try:
    import ray
except ImportError:  # the tests that need a cluster skip; the one about a missing Ray runs
    ray = None

needs_ray = pytest.mark.skipif(ray is None, reason='needs Ray: pip install "tqsim[distributed]"')

GRID = dict(graphs=2, nodes=6, seeds=(0, 1), families=("one-directional", "product"), steps=4)
FLAGS = ["--graphs", "2", "--nodes", "6", "--seeds", "0", "1", "--families", "one-directional", "product",
         "--steps", "4", "--device", "cpu", "--no-progress"]
TIMINGS = {"wall_seconds", "ms_per_step", "finished", "seconds"}


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster for the module (the runner uses it as it is); its head's address.

    It declares one GPU, which Ray only counts, so that what a CUDA task asks for can be checked on any
    machine; every run here says ``device="cpu"``.
    """
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def threads(request):
    """This process's torch threads set to the test's parameter, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def stored(db) -> int:
    """Runs in the study at ``db``, read as another process would."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        return connection.execute("SELECT count(*) FROM runs").fetchone()[0]


def numbers(db) -> tuple[dict, dict]:
    """Every run row and every run's step rows of a study, by run key, timings left out."""
    def drop(row):
        return {k: v for k, v in row.items() if k not in TIMINGS}

    with StudyStore.open(db) as store:
        return ({r["key"]: drop(r) for r in store.runs()},
                {r["key"]: [drop(s) for s in store.steps(r["key"])] for r in store.runs()})


@needs_ray
@pytest.mark.parametrize("threads", [1], indirect=True)
def test_ray_stores_the_numbers_of_the_local_executor(cluster, threads, tmp_path, monkeypatch):
    assert main(["study", "run", "--db", str(tmp_path / "local.db"), *FLAGS]) == 0
    real, pids = runner._train, tmp_path / "pids"

    def train_and_say_where(specs, problem, optimum, device):  # pickled by value into Ray's workers
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\n")
        return real(specs, problem, optimum, device)

    monkeypatch.setattr(runner, "_train", train_and_say_where)
    assert main(["study", "run", "--db", str(tmp_path / "ray.db"), "--executor", "ray", *FLAGS]) == 0
    where = [int(line) for line in pids.read_text().split()]
    assert len(where) == 8 and os.getpid() not in where  # every run trained in a Ray worker
    runs, steps = numbers(tmp_path / "local.db")
    assert len(runs) == 8 and all(len(rows) == 4 for rows in steps.values())
    assert numbers(tmp_path / "ray.db") == (runs, steps)  # floats compared with ==
    assert ray.is_initialized()  # the cluster it found initialized is left as it was


@needs_ray
@pytest.mark.parametrize("threads", [1], indirect=True)
def test_ray_trains_a_batch_of_seeds_as_one_task_with_the_local_executor_s_numbers(cluster, threads, tmp_path):
    batched = ["--batch-seeds", "2"]
    assert main(["study", "run", "--db", str(tmp_path / "local.db"), *batched, *FLAGS]) == 0
    assert main(["study", "run", "--db", str(tmp_path / "ray.db"), "--executor", "ray", *batched, *FLAGS]) == 0
    runs, steps = numbers(tmp_path / "local.db")
    # one-directional (dense) batches both seeds; the product family trains on product states, alone
    assert sorted((run["family"], run["batch_size"]) for run in runs.values()) == \
        [("one-directional", 2)] * 4 + [("product", 1)] * 4
    assert numbers(tmp_path / "ray.db") == (runs, steps)  # floats compared with ==


@needs_ray
@pytest.mark.parametrize("threads", [1], indirect=True)
def test_ray_tasks_train_with_the_driver_s_thread_count(cluster, threads, tmp_path):
    # 18 qubits: above tqsim's one-thread limit (2**16 amplitudes) and sums long enough for
    # PyTorch to split them across threads, so the count sets the last bits
    grid = StudyGrid(graphs=1, nodes=18, seeds=(0,), families=("one-directional",), steps=4)
    studies = {}
    for count in (1, 2):  # 1 first: Ray's workers keep the thread count torch started with, unless told
        torch.set_num_threads(count)
        for executor in ("local", "ray"):
            db = str(tmp_path / f"{executor}-{count}.db")
            run_study(grid, db, device="cpu", progress=False, executor=executor).close()
            studies[executor, count] = numbers(db)
    assert studies["ray", 1] == studies["local", 1] and studies["ray", 2] == studies["local", 2]
    assert studies["local", 1] != studies["local", 2]  # the control: the thread count does show here


@needs_ray
@pytest.mark.parametrize("threads", [1], indirect=True)
def test_runs_are_stored_as_they_finish_and_an_interrupt_keeps_them(cluster, threads, tmp_path, monkeypatch,
                                                                    capsys):
    db = tmp_path / "study.db"
    last = StudyGrid(**GRID).runs()[-1].key
    real = runner._train

    def last_waits_for_the_others_then_stops(specs, problem, optimum, device):
        results = real(specs, problem, optimum, device)
        if specs[0].key == last:  # still in flight: the driver must have stored the other 7 by now
            deadline = time.monotonic() + 30
            while True:  # (module-level helpers are out of reach here: Ray imports them by name in the worker)
                with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
                    if connection.execute("SELECT count(*) FROM runs").fetchone()[0] == 7:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the driver did not store finished runs while another was in flight")
                time.sleep(0.05)
            results[0].interrupted = True  # what train returns after Ctrl-C in the worker
        return results

    monkeypatch.setattr(runner, "_train", last_waits_for_the_others_then_stops)
    assert main(["study", "run", "--db", str(db), "--executor", "ray", *FLAGS]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert stored(db) == 7
    monkeypatch.setattr(runner, "_train", real)
    assert main(["study", "run", "--db", str(db), "--executor", "ray", *FLAGS]) == 0
    assert stored(db) == 8


@needs_ray
def test_ctrl_c_on_a_driver_joined_to_a_cluster_keeps_its_runs_and_the_cluster(cluster, tmp_path):
    db = tmp_path / "study.db"
    command = [sys.executable, "-m", "tqsim.cli", "study", "run", "--db", str(db), "--executor", "ray",
               "--ray-address", cluster, "--graphs", "2", "--nodes", "6", "--seeds", *map(str, range(6)),
               "--families", "one-directional", "--steps", "300", "--device", "cpu", "--no-progress"]
    driver = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # until a run is stored
            try:
                if stored(db) >= 1:
                    break
            except sqlite3.OperationalError:  # no file yet, or no tables yet
                pass
            assert driver.poll() is None, driver.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        driver.send_signal(signal.SIGINT)
        assert driver.wait(timeout=30) == 130
    finally:
        driver.kill()
    assert "interrupted" in driver.stderr.read()
    assert 1 <= stored(db) < 12
    with StudyStore.create(db, StudyGrid(graphs=2, nodes=6, seeds=tuple(range(6)), families=("one-directional",),
                                         steps=300)):
        pass  # the writer lock was released
    # the cluster it joined still runs, and no task of the driver holds a CPU
    assert ray.get(ray.remote(lambda: 1).remote()) == 1
    deadline = time.monotonic() + 10
    while ray.available_resources().get("CPU", 0) < 2:
        assert time.monotonic() < deadline, ray.available_resources()
        time.sleep(0.1)


LIFECYCLE = r"""
import sys, ray
from tqsim.maxcut.study import StudyGrid, run_study
grid = StudyGrid(graphs=1, nodes=6, seeds=(0,), families=("product",), steps=2)
run_study(grid, sys.argv[1] + "/own.db", progress=False, executor="ray").close()
assert not ray.is_initialized(), "the local cluster it started is still up"
run_study(grid, sys.argv[1] + "/joined.db", device="cpu", progress=False, executor="ray",
          ray_address=sys.argv[2]).close()
assert not ray.is_initialized(), "still connected to the cluster it joined"
"""


@needs_ray
def test_the_runner_stops_a_cluster_it_started_and_leaves_one_it_joined(cluster, tmp_path):
    done = subprocess.run([sys.executable, "-c", LIFECYCLE, str(tmp_path), cluster], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert stored(tmp_path / "own.db") == stored(tmp_path / "joined.db") == 1
    assert ray.is_initialized() and ray.get(ray.remote(lambda: 1).remote()) == 1  # the joined cluster runs on


@needs_ray
def test_on_cuda_each_task_asks_for_its_share_of_a_gpu(cluster):
    def granted(specs, problem, optimum, device):  # what Ray gave the task, in place of training
        return ray.get_runtime_context().get_assigned_resources(), device

    specs = StudyGrid(**GRID).runs()[:3]
    with RayExecutor("auto", granted, tasks_per_gpu=4) as executor:  # auto: the cluster has a GPU
        assert str(executor) == "Ray tasks on cuda, each with 1 CPU and 0.25 GPU"
        finished = list(executor.run(Job((spec,), spec.problem(), 1.0, "exact") for spec in specs))
    assert sorted(job.specs[0].key for job, _, _ in finished) == sorted(spec.key for spec in specs)
    assert all(result == ({"CPU": 1.0, "GPU": 0.25}, "cuda") for _, result, _ in finished)


@needs_ray
@pytest.mark.parametrize("threads", [3], indirect=True)
def test_what_the_cluster_cannot_give_is_refused_before_the_database_is_touched(cluster, threads, tmp_path):
    db = str(tmp_path / "study.db")
    grid = StudyGrid(**GRID)
    with pytest.raises(ValueError, match="largest node of the Ray cluster has 2; set OMP_NUM_THREADS=2"):
        run_study(grid, db, device="cpu", executor="ray")  # 3 threads a run, 2 CPUs: it would wait forever
    with pytest.raises(ValueError, match="'cuda:1'"):
        run_study(grid, db, device="cuda:1", executor="ray")
    assert not os.path.exists(db)
    assert ray.is_initialized()  # a refusal leaves the cluster found as it was


@needs_ray
def test_an_address_where_no_ray_answers_fails_within_seconds_naming_it(tmp_path, capsys):
    db = tmp_path / "study.db"
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    began = time.monotonic()
    assert main(["study", "run", "--db", str(db), "--executor", "ray", "--ray-address", closed, *FLAGS]) == 1
    assert time.monotonic() - began < 5
    error = capsys.readouterr().err
    assert closed in error and "ray start --head" in error and error.count("\n") == 1

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)  # like Ray's dashboard
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        web = f"127.0.0.1:{server.server_address[1]}"
        began = time.monotonic()
        assert main(["study", "run", "--db", str(db), "--executor", "ray", "--ray-address", web, *FLAGS]) == 1
        assert time.monotonic() - began < 5
    finally:
        server.shutdown()
    error = capsys.readouterr().err
    assert web in error and "not as a Ray cluster" in error
    assert not db.exists()  # refused before the database was touched

    assert main(["study", "run", "--db", str(db), "--executor", "ray", "--ray-address", "head-node", *FLAGS]) == 1
    assert "'head-node'" in capsys.readouterr().err
    assert main(["study", "run", "--db", str(db), "--ray-address", closed, *FLAGS]) == 1
    assert "is for executor 'ray'" in capsys.readouterr().err
    assert main(["study", "run", "--db", str(db), "--executor", "ray", "--tasks-per-gpu", "0", *FLAGS]) == 1
    assert "--tasks-per-gpu" in capsys.readouterr().err


def test_executor_ray_without_ray_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as where it is not installed
    db = tmp_path / "study.db"
    assert main(["study", "run", "--db", str(db), "--executor", "ray", *FLAGS]) == 1
    assert 'pip install "tqsim[distributed]"' in capsys.readouterr().err
    assert not db.exists()
