"""The benchmark scripts still run (quick mode) and print the ratios the docs quote."""

import contextlib
import pathlib
import re
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_bench_nn_quick_prints_ratios():
    out = run(str(BENCHMARKS / "bench_nn.py"), "--quick", "--batch", "2", "--rows", "16")
    assert len(re.findall(r"ratio nn\.Conv2d / (Tucker-2 \(86, 86\)|CP rank \d+): \d+\.\d+", out)) == 2
    assert len(re.findall(r"ratio nn\.Linear / tqsim (tt|cp|tucker|svd) \(", out)) == 12


def test_bench_maxcut_quick_times_every_family_on_the_cpu():
    out = run(str(BENCHMARKS / "bench_maxcut.py"), "--quick", "--device", "cpu", "--sections", "1")
    for family in ("product", "one-directional", "two-directional", "deep", "qaoa"):
        assert re.search(rf"\| {family} \| \w+ \| \d+ \| \d+\.\d+", out), family


def test_bench_interop_small_prints_ratio_and_parse_share():
    out = run(str(BENCHMARKS / "bench_interop.py"), "--sizes", "10", "--layers", "10", "--rounds", "1")
    rows = re.findall(r"\| 10 \| \d+ \| (complex64|complex128) \| [\d.]+ \| [\d.]+ \| [\d.]+% \| [\d.]+ \| [\d.]+ \|", out)
    assert rows == ["complex64", "complex128"], out


def test_bench_gates_small_agrees_with_aer_and_prints_per_gate_costs():
    """bench_gates.py exits non-zero when tqsim's final state and Aer's disagree."""
    out = run(str(BENCHMARKS / "bench_gates.py"), "--sizes", "3", "7", "--gates", "400", "--rounds", "1")
    rows = re.findall(r"^\| ([37]) \| \d+ \| (complex64|complex128) \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$",
                      out, re.M)
    assert rows == [("3", "complex64"), ("3", "complex128"), ("7", "complex64"), ("7", "complex128")], out


def test_study_qaoa_quality_small_checks_the_convention_and_prints_three_depths(tmp_path):
    out = run(str(BENCHMARKS / "study_qaoa_quality.py"), "--graphs", "2", "--nodes", "8", "--steps", "5",
              "--db", str(tmp_path / "q.db"))
    values = [float(v) for v in re.findall(r"p = \d: ([\d.]+) \(guarantee", out)]
    assert abs(values[0] - 0.6925) < 2e-4 and abs(values[1] - 0.7559) < 2e-4
    assert len(re.findall(r"^\| [123] \| 0\.\d{4} \[", out, re.M)) == 3, out


def test_bench_study_small_prints_runs_per_hour(tmp_path):
    out = run(str(BENCHMARKS / "bench_study.py"), "--graphs", "1", "--seeds", "2", "--nodes", "8", "--steps", "3",
              "--modes", "sequential", "batched", "--step-nodes", "6", "--rounds", "1")
    steps = re.findall(r"^\| 6 \| ([\w-]+) \| [\d.]+ \| [\d.]+ \| \d+\.\d\d \|$", out, re.M)
    assert steps == ["one-directional", "two-directional", "qaoa"], out
    assert re.search(r"^\| 8 \| sequential \| 6 \| [\d.]+ \| \d+ \| 1\.00 \| 0\.0e\+00 \|$", out, re.M), out
    assert re.search(r"^\| 8 \| batched \| 6 \| [\d.]+ \| \d+ \| \d+\.\d\d \| \d\.\de[-+]\d\d \|$", out, re.M), out


def test_study_big_graphs_small_prints_the_bond_reached_and_ratios_below_the_gw_bound():
    out = run(str(BENCHMARKS / "study_big_graphs.py"), "--nodes", "12", "--depths", "1", "2", "--max-bond", "2",
              "--steps", "2")
    rows = re.findall(r"^\| 12 \| node \| 12 \| [\w-]+ \| [12] \| 2 \| (\d+) \| [\d.e+-]+ \| \d+ \| ([\d.]+) \| ([\d.]+) \|$",
                      out, re.M)
    assert len(rows) == 4, out
    assert all(int(bond) <= 2 and 0 < float(expected) <= 1 and 0 < float(readout) <= 1 for bond, expected, readout in rows)
    assert re.search(r"^12 vertices: GW bound [\d.]+ .*one_exchange 0\.\d{4}$", out, re.M), out


def test_study_precision_small_shows_the_flat_angle_still_in_complex128():
    out = run(str(BENCHMARKS / "study_precision.py"), "--graphs", "1", "--seeds", "1", "--nodes", "8", "--steps", "5")
    moved = dict(re.findall(r"^\| one-directional \| (complex\d+) \|.* \| ([\d.e+-]+) \|$", out, re.M))
    # the cut cannot see that angle: in complex128 rounding moves it by nothing, in complex64 by tenths
    assert float(moved["complex128"]) < 1e-6 and float(moved["complex64"]) > 1e-3, out


def test_study_batch_agreement_small_prints_both_comparisons_per_family():
    out = run(str(BENCHMARKS / "study_batch_agreement.py"), "--nodes", "8", "--seeds", "2", "--steps", "6")
    rows = re.findall(r"^\| ([\w-]+) \| (batched|alone on 1 thread) \| ([\d.e+-]+) / [\d.e+-]+ \| [\d.e+-]+ / "
                      r"[\d.e+-]+ \| [\d.e+-]+ / [\d.e+-]+ \|$", out, re.M)
    assert len(rows) == 6, out
    # in complex128 a batch of six steps stays within 1e-10 of the runs alone, whatever the family
    assert all(float(cut) < 1e-10 for _, how, cut in rows if how == "batched"), out


def test_bench_dense_bandwidth_checks_every_block_and_derives_bandwidth_from_the_time():
    """--bandwidth checks each block, through the PyTorch path and the compiled kernel, against
    torch.einsum before timing it (the script exits non-zero otherwise); every row's GB/s is the bytes
    read and written over its time, and its share is that GB/s over the copy's."""
    out = run(str(BENCHMARKS / "bench_dense.py"), "--bandwidth", "--sizes", "10", "--dtypes", "complex64",
              "complex128")
    assert "kernel: compiled" in out, out
    number = r"([\d.]+|nan)"
    rows = re.findall(r"^\| 10 \| (complex64|complex128) \| ([^|]+) \| ([^|]+) \| " + r" \| ".join([number] * 6)
                      + r" \|$", out, re.M)
    # a copy; 1-qubit blocks at two places, 2-5-qubit ones at three (the last spread over the register);
    # a diagonal; two dtypes
    assert len(rows) == 2 * 16, out
    for dtype in ("complex64", "complex128"):
        mine = [r for r in rows if r[0] == dtype]
        assert [r[1] for r in mine] == ["copy", "1-qubit", "1-qubit"] + \
            [f"{k}-qubit" for k in range(2, 6) for _ in range(3)] + ["2-qubit diagonal"], mine
        assert mine[5][2] == "0,9" and mine[-2][2] == "0,2,4,7,9", mine  # spread targets
        nbytes = 2 * 2**10 * (8 if dtype == "complex64" else 16)
        copy_rate = float(mine[0][5])
        assert mine[0][4] == "nan"  # the copy has no kernel time
        for _, block, qubits, ms, kernel_ms, rate, kernel_rate, share, kernel_share in mine:
            timings = [(ms, rate, share)] + ([(kernel_ms, kernel_rate, kernel_share)] if block != "copy" else [])
            for t, r, sh in timings:
                # the table rounds ms to 3 decimals and GB/s to 2: compare within the bounds that rounding leaves
                low, high = nbytes / ((float(t) + 5e-4) * 1e-3) / 1e9, nbytes / max(float(t) - 5e-4, 1e-6) / 1e-3 / 1e9
                assert low - 0.005 <= float(r) <= high + 0.005, (block, t, r)
                assert abs(float(sh) - float(r) / copy_rate) <= 0.01 + 0.02 * float(sh), (block, sh)


@pytest.mark.parametrize("rotation", ["ry", "rx"])
def test_bench_dense_small_checks_every_peer_state_and_prints_the_ratios(rotation):
    """Each peer's final state must match tqsim's before it is timed; the ratios are tqsim ms / peer ms.
    With RY every amplitude stays real (tqsim's real path, at 10 qubits), with RX they are complex."""
    import importlib.util

    out = run(str(BENCHMARKS / "bench_dense.py"), "--sizes", "10", "--rounds", "1", "--calls", "1",
              "--dtypes", "complex64", "complex128", "--rotation", rotation)
    assert f"CPU, {rotation.upper()} + CZ brickwork" in out, out
    header = re.search(r"^\| n \| dtype \| tqsim ms \| (.*) \| worst 1-F \|$", out, re.M)
    assert header, out
    columns = header.group(1).split(" | ")
    peers = [c[: -len(" ms")] for c in columns if c.endswith(" ms")]
    ratios = [c for c in columns if c.startswith("tqsim / ")]
    assert len(ratios) == len(peers) and len(columns) == 2 * len(peers), columns
    installed = {"qsim": ("qsimcirq", "cirq"), "lightning.qubit": ("pennylane", "pennylane_lightning"),
                 "Aer": ("qiskit", "qiskit_aer")}
    for label, modules in installed.items():
        if all(importlib.util.find_spec(m) for m in modules):
            assert any(p.startswith(label + " ") for p in peers), (label, columns)
    rows = dict(re.findall(r"^\| 10 \| (complex64|complex128) \| (.*) \|$", out, re.M))
    assert sorted(rows) == ["complex128", "complex64"], out
    for dtype, cells in rows.items():
        cells = cells.split(" | ")
        assert len(cells) == 2 * len(peers) + 2, cells
        ours, times, shown, worst = float(cells[0]), cells[1:1 + len(peers)], cells[1 + len(peers):-1], cells[-1]
        for peer, theirs, ratio in zip(peers, times, shown):
            if peer.startswith("qsim") and dtype == "complex128":  # qsim is single precision only
                assert theirs == ratio == "-", cells
                continue
            assert abs(float(ratio) - ours / float(theirs)) < 0.01 * float(ratio) + 0.006, (peer, cells)
        if peers:
            assert float(worst) < (1e-5 if dtype == "complex64" else 1e-10), (dtype, worst)

def test_bench_dense_slowdown_times_each_simulator_quiet_and_busy():
    """--slowdown: every simulator (the installed peers), and a plain reference job as long as tqsim's run,
    quiet and beside busy processes; a slowdown is busy / quiet, and the last columns are tqsim's slowdown
    over the others'."""
    out = run(str(BENCHMARKS / "bench_dense.py"), "--sizes", "10", "--rounds", "1", "--calls", "1",
              "--dtypes", "complex64", "--slowdown", "1", "--threads", "1")
    assert "(1 threads)" in out and "quiet and beside 1 busy processes, alternately" in out, out
    header = re.search(r"^\| n \| dtype \| (.*) \|$", out, re.M).group(1).split(" | ")
    names = [c[: -len(" quiet / busy ms")] for c in header if c.endswith(" quiet / busy ms")]
    assert names[0] == "tqsim" and names[-1] == "reference job", header
    assert header[-1] == "tqsim slowdown / reference job's", header
    row = re.search(r"^\| 10 \| complex64 \| (.*) \|$", out, re.M)
    assert row, out
    cells = row.group(1).split(" | ")
    k = len(names)
    assert len(header) == len(cells) == 3 * k - 1, (header, cells)  # quiet / busy, slowdowns, ratios
    timings = [tuple(map(float, c.split(" / "))) for c in cells[:k]]
    slowdowns = [float(c.rstrip("x")) for c in cells[k:2 * k]]
    for (quiet, busy), slowdown in zip(timings, slowdowns):
        assert abs(slowdown - busy / quiet) < 0.01 * slowdown + 0.1 / quiet, cells  # times shown to 0.1 ms
    for ratio, theirs in zip(cells[2 * k:], slowdowns[1:]):
        assert abs(float(ratio) - slowdowns[0] / theirs) < 0.01 * float(ratio) + 0.006, cells


def test_bench_train_small_agrees_with_lightning_and_prints_the_ratio():
    """Lightning's adjoint gradient is the oracle: the script refuses to time a step that disagrees."""
    out = run(str(BENCHMARKS / "bench_train.py"), "--sizes", "8", "--depths", "2", "--rounds", "1", "--calls", "1",
              "--methods", "adjoint", "autograd")
    number = r"([\d.e+-]+)"
    row = re.search(r"^\| 8 \| 2 \| " + r" \| ".join([number] * 9) + r" \|$", out, re.M)
    assert row, out
    adjoint, _, autograd, _, theirs, _, ratio_adjoint, ratio_autograd, difference = map(float, row.groups())
    assert abs(ratio_adjoint - adjoint / theirs) < 0.02 * ratio_adjoint + 0.01
    assert abs(ratio_autograd - autograd / theirs) < 0.02 * ratio_autograd + 0.01
    assert difference < 1e-5  # complex64 loss and gradient, against Lightning's adjoint method


def test_bench_threads_small_checks_the_bits_of_both_rules_and_prints_them():
    """bench_threads.py exits non-zero when the two thread rules give different bits."""
    out = run(str(BENCHMARKS / "bench_threads.py"), "--sizes", "17", "--rotations", "rx", "--rounds", "1",
              "--busy", "1")
    assert re.search(r"^\| 17 \| RX \|( \d+\.\d+ \|){7}$", out, re.M), out


def test_bench_train_slowdown_times_each_step_quiet_and_busy():
    """--slowdown: tqsim's step and Lightning's, quiet and beside a busy process, alternately; a slowdown is
    busy / quiet, the last column tqsim's over Lightning's."""
    out = run(str(BENCHMARKS / "bench_train.py"), "--sizes", "8", "--depths", "1", "--rounds", "1", "--calls", "1",
              "--slowdown", "1")
    assert "quiet and beside 1 busy processes, alternately" in out, out
    pair = r"([\d.]+) / ([\d.]+)"
    row = re.search(rf"^\| 8 \| 1 \| {pair} \| {pair} \| ([\d.]+)x \| ([\d.]+)x \| ([\d.]+) \|$", out, re.M)
    assert row, out
    ours_quiet, ours_busy, theirs_quiet, theirs_busy, ours, theirs, ratio = map(float, row.groups())
    assert abs(ours - ours_busy / ours_quiet) < 0.01 * ours + 0.01 / ours_quiet, row.group(0)  # times to 0.01 ms
    assert abs(theirs - theirs_busy / theirs_quiet) < 0.01 * theirs + 0.01 / theirs_quiet, row.group(0)
    assert abs(ratio - ours / theirs) < 0.01 * ratio + 0.006, row.group(0)


def test_alternating_rounds_give_every_simulator_every_place_under_each_load(monkeypatch):
    """The order the benchmarks time in: each round every name once per condition, quiet first, the names
    rotated from round to round so each takes every place; busy processes run only in busy passes."""
    from tqsim.bench import tools

    monkeypatch.setattr(tools, "PAUSE", 0.0)
    load, passes = [0], []

    @contextlib.contextmanager
    def fake_busy(count, settle=0.5):
        load[0] = count
        passes.append((count, []))
        yield
        load[0] = 0

    def time_one(name):
        passes[-1][1].append(name)
        return name, load[0]

    monkeypatch.setattr(tools, "busy_processes", fake_busy)
    names = ["a", "b", "c"]
    times = tools.alternating_rounds(names, 3, (0, 2), time_one)
    assert set(times) == {(busy, name) for busy in (0, 2) for name in names}
    for (busy, name), results in times.items():
        assert results == [(name, busy)] * 3  # each timed under the load of its pass
    assert [count for count, _ in passes] == [0, 2] * 3
    assert all(sorted(order) == names for _, order in passes)
    assert [order[0] for _, order in passes[::2]] == ["a", "b", "c"]  # every name leads one round
