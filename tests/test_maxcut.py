"""Variational MaxCut: problems against networkx and brute force, families against
finite differences and each other, QAOA quality bounds, training, checkpoints, CLI."""

import importlib
import io
import itertools
import json
import math
import os
import signal
import sys

import networkx as nx
import numpy as np
import pytest
import torch

import tqsim as tq
from tqsim.cli import main
from tqsim.maxcut import FAMILIES, MaxCutProblem, make_ansatz, mbe_spins, train


def enumerate_cuts(graph: nx.Graph, nodes: list) -> np.ndarray:
    """Cut size of every assignment (big-endian over ``nodes``) with networkx.cut_size."""
    values = []
    for bits in itertools.product([0, 1], repeat=len(nodes)):
        side = {v for v, b in zip(nodes, bits) if b}
        values.append(nx.cut_size(graph, side, weight="weight"))
    return np.array(values, dtype=float)


@pytest.fixture
def weighted_graph():
    rng = np.random.default_rng(3)
    g = nx.Graph()
    labels = ["a", "b", "c", "d", "e", "f", "g"]
    for u, v in itertools.combinations(labels, 2):
        if rng.random() < 0.5:
            g.add_edge(u, v, weight=float(rng.uniform(0.2, 2.0)))
    return g


def test_problem_cut_values_and_diagonal_match_networkx(weighted_graph):
    p = MaxCutProblem(weighted_graph)
    assert p.nodes == sorted(weighted_graph.nodes) and p.index["c"] == 2
    expected = enumerate_cuts(weighted_graph, p.nodes)
    np.testing.assert_allclose(p.cost_diagonal().numpy(), expected, atol=1e-12)
    all_bits = torch.tensor(list(itertools.product([0, 1], repeat=p.num_nodes)))
    np.testing.assert_allclose(p.cut_value(all_bits).numpy(), expected, atol=1e-12)  # batched
    best, bits = p.brute_force(chunk=7)
    assert best == pytest.approx(expected.max()) and float(p.cut_value(bits)) == pytest.approx(best)
    # the ZZ form gives the same diagonal
    h = p.cost_observable().matrix(p.num_nodes, torch.complex128)
    np.testing.assert_allclose(torch.diagonal(h).real.numpy(), expected, atol=1e-12)


def test_random_regular_is_the_networkx_graph_with_unit_weights():
    p = MaxCutProblem.random_regular(20, 3, seed=0)
    g = nx.random_regular_graph(3, 20, seed=0)
    assert {tuple(sorted(e)) for e in p.edges.tolist()} == {tuple(sorted(e)) for e in g.edges}
    assert p.weights.tolist() == [1.0] * 30


def test_edge_list_file(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("# a triangle and a tail\n0 1\n1 2 2.5\n2 0\nx 2 0.5\n")
    p = MaxCutProblem.from_edge_list(path)
    assert p.nodes == [0, 1, 2, "x"]  # integer labels become ints; mixed labels sort by type, then text
    assert p.total_weight == pytest.approx(5.0)
    assert p.brute_force()[0] == pytest.approx(enumerate_cuts(p.graph, p.nodes).max())


def test_edge_list_refuses_a_repeated_edge_and_a_negative_weight(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("0 1\n1 2 2.5\n\n2 1 3\n")  # 2 1 is the edge 1 2 again
    with pytest.raises(ValueError, match=r"g.txt:4: edge \(2, 1\) repeats line 2; give each edge once"):
        MaxCutProblem.from_edge_list(path)
    path.write_text("0 1\n1 2 -2.5\n")
    with pytest.raises(ValueError, match=r"edge \(1, 2\) has weight -2.5; weights must be finite numbers >= 0"):
        MaxCutProblem.from_edge_list(path)
    assert MaxCutProblem(nx.Graph([(0, 1, {"weight": 0.0}), (1, 2, {"weight": 2.0})])).total_weight == 2  # zero is allowed


def test_brute_force_reports_progress_after_every_chunk():
    calls = []
    best, _ = small_problem(6).brute_force(chunk=7, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(7, 32), (14, 32), (21, 32), (28, 32), (32, 32)]  # node 0 fixed: 2**5 assignments
    assert best == small_problem(6).brute_force()[0]


def small_problem(n=6, seed=2):
    return MaxCutProblem.random_regular(n, 3, seed=seed)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_gradient_matches_finite_differences(family):
    p = small_problem()
    model = make_ansatz(family, p, depth=2 if family != "deep" else 2, seed=1, dtype=torch.complex128)
    loss, _ = model.loss(model())
    loss.backward()
    params = list(model.parameters())
    h = 1e-6
    for param in params:
        flat = param.data.view(-1)
        for j in range(min(3, flat.numel())):
            old = flat[j].item()
            flat[j] = old + h
            up = model.loss(model())[0].item()
            flat[j] = old - h
            down = model.loss(model())[0].item()
            flat[j] = old
            assert abs(param.grad.view(-1)[j].item() - (up - down) / (2 * h)) < 1e-6, (family, j)


@pytest.mark.parametrize("family", ["one-directional", "two-directional", "deep", "qaoa"])
def test_dense_and_mps_give_the_same_loss(family):
    p = small_problem(8, seed=4)
    dense = make_ansatz(family, p, depth=2, seed=3, dtype=torch.complex128, backend="dense")
    mps = make_ansatz(family, p, depth=2, seed=3, dtype=torch.complex128, backend="mps", max_bond=None, cutoff=0)
    assert abs(dense.loss(dense())[0].item() - mps.loss(mps())[0].item()) < 1e-9
    product = make_ansatz("product", p, seed=3, dtype=torch.complex128)
    as_dense = make_ansatz("product", p, seed=3, dtype=torch.complex128, backend="dense")
    assert abs(product.loss(product())[0].item() - as_dense.loss(as_dense())[0].item()) < 1e-12


def test_family_circuits_have_the_documented_structure():
    p = small_problem(4, seed=1)
    one = make_ansatz("one-directional", p, depth=1).circuit()
    assert [(op.name, op.qubits) for op in one][4:] == [("cx", (0, 1)), ("cx", (1, 2)), ("cx", (2, 3))]
    two = make_ansatz("two-directional", p, depth=1).circuit()
    names = [(op.name, op.qubits) for op in two]
    assert names[4:7] == [("cx", (0, 1)), ("cx", (1, 2)), ("cx", (2, 3))]
    assert names[11:] == [("cx", (3, 2)), ("cx", (2, 1)), ("cx", (1, 0))]
    deep = make_ansatz("deep", p)
    assert deep.depth == 6 and len(deep.circuit()) == 6 * len(two)
    qaoa = make_ansatz("qaoa", p, depth=2, backend="mps").circuit()
    assert sum(op.name == "rzz" for op in qaoa) == 2 * len(p.edges) and sum(op.name == "rx" for op in qaoa) == 8


def test_qaoa_meets_the_farhi_goldstone_gutmann_bound_on_3_regular_graphs():
    # p = 1: expected cut / optimum >= 0.6924; p = 3: >= 0.7924 (the quality bar)
    for n, seed in ((8, 1), (10, 2)):
        p = MaxCutProblem.random_regular(n, 3, seed=seed)
        optimum = p.brute_force()[0]
        for depth, bound in ((1, 0.6924), (3, 0.7924)):
            model = make_ansatz("qaoa", p, depth, dtype=torch.complex128)
            result = train(model, steps=60, lr=0.05, device="cpu", progress=False, optimum=optimum)
            assert result.final["expected_ratio"] >= bound, (n, depth, result.final["expected_ratio"])


def test_mbe_spins_and_loss():
    p = small_problem(8, seed=5)  # 8 nodes on 4 qubits
    model = make_ansatz("one-directional", p, encoding="mbe", seed=2, dtype=torch.complex128)
    assert model.num_qubits == 4
    state = model()
    spins = mbe_spins(state, 8)
    z = [state.expectation(f"Z{q}").item() for q in range(4)]
    x = [state.expectation(f"X{q}").item() for q in range(4)]
    np.testing.assert_allclose(spins.detach().numpy(), z + x, atol=1e-12)
    loss, relaxed = model.loss(state)
    t = np.tanh(np.array(z + x))
    energy = sum(w * t[i] * t[j] for (i, j), w in zip(p.edges.tolist(), p.weights.tolist()))
    assert loss.item() == pytest.approx(energy, abs=1e-12)
    assert relaxed.item() == pytest.approx((p.total_weight - energy) / 2, abs=1e-12)
    with pytest.raises(ValueError, match="QAOA uses one node per qubit"):
        make_ansatz("qaoa", p, encoding="mbe")


def test_entropy_penalty_is_added_and_differentiable():
    p = small_problem(6)
    plain = make_ansatz("one-directional", p, seed=4, dtype=torch.complex128)
    penalised = make_ansatz("one-directional", p, seed=4, dtype=torch.complex128, entropy_penalty=0.7, penalty_qubits=2)
    state = plain()
    s = tq.entropy(state, [0, 1]).item()
    assert penalised.loss(penalised())[0].item() == pytest.approx(plain.loss(state)[0].item() + 0.7 * s, abs=1e-10)
    penalised.loss(penalised())[0].backward()
    assert torch.isfinite(penalised.theta.grad).all()


def test_training_improves_and_records_history():
    p = small_problem(8, seed=6)
    optimum = p.brute_force()[0]
    model = make_ansatz("two-directional", p, seed=0)
    result = train(model, steps=40, lr=0.1, device="cpu", progress=False, optimum=optimum, track_entropy=3)
    h = result.history
    assert len(h) == 40 and h[-1]["loss"] < h[0]["loss"]
    assert result.best_cut == max(row["readout_cut"] for row in h)
    assert float(p.cut_value(torch.tensor(result.best_bits))) == result.best_cut
    assert all(0 <= row["entropy"] <= 3 * math.log(2) + 1e-6 for row in h)
    assert result.final["readout_ratio"] == pytest.approx(result.best_cut / optimum)
    assert result.num_parameters == 16 and result.device == "cpu"


def test_resume_reaches_the_same_result_as_an_uninterrupted_run(tmp_path):
    p = small_problem(8, seed=7)
    for family in ("one-directional", "qaoa"):
        full = train(make_ansatz(family, p, seed=5, backend="mps"), steps=12, lr=0.1, device="cpu", progress=False,
                     seed=3, out=str(tmp_path / "full"))
        partial_dir = str(tmp_path / f"part-{family}")
        train(make_ansatz(family, p, seed=5, backend="mps"), steps=5, lr=0.1, device="cpu", progress=False, seed=3,
              out=partial_dir, checkpoint_every=5)
        resumed = train(make_ansatz(family, p, seed=5, backend="mps"), steps=12, lr=0.1, device="cpu", progress=False,
                        seed=3, out=partial_dir, resume=True)
        assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history]
        assert resumed.best_bits == full.best_bits
        assert not any(name.endswith(".tmp") for name in os.listdir(partial_dir))
    other = MaxCutProblem.random_regular(8, 3, seed=8)
    with pytest.raises(ValueError, match="another graph or family"):
        train(make_ansatz("one-directional", other, seed=5, backend="mps"), steps=12, device="cpu", progress=False,
              out=str(tmp_path / "part-one-directional"), resume=True)


def _ctrl_c_on_call(function, call: int, presses: int = 1):
    """``function`` that, on its ``call``-th call, first does what a terminal does on Ctrl-C
    (``presses`` times): send SIGINT to this process, handled between bytecodes."""
    calls = []

    def wrapped(*args):
        calls.append(1)
        if len(calls) == call:
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)
        return function(*args)

    return wrapped


def test_ctrl_c_stops_after_the_step_in_progress_and_keeps_the_steps_done(tmp_path, monkeypatch):
    p = small_problem(6)
    model = make_ansatz("one-directional", p, seed=0)
    monkeypatch.setattr(type(model), "loss", _ctrl_c_on_call(type(model).loss, 4))  # during step 4
    result = train(model, steps=10, device="cpu", progress=False, out=str(tmp_path))
    assert result.interrupted and len(result.history) == 4
    saved = torch.load(tmp_path / "checkpoint-one-directional.pt", weights_only=False)
    assert saved["step"] == 4 and len(saved["history"]) == 4
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C works as before afterwards


@pytest.mark.parametrize("backend", ["dense", "mps"])
def test_ctrl_c_after_the_update_still_resumes_bit_for_bit(tmp_path, monkeypatch, backend):
    # the update of step 3 is done when the entropy of its state is taken: a KeyboardInterrupt
    # there once saved the angles of step 3 under "step 2", and the resumed run skipped a step
    p = small_problem(6)
    full = train(make_ansatz("two-directional", p, seed=1, backend=backend), steps=6, lr=0.1, device="cpu",
                 progress=False)
    training = importlib.import_module("tqsim.maxcut.train")  # the module, not the function it exports
    monkeypatch.setattr(training, "entropy", _ctrl_c_on_call(training.entropy, 3))  # after update 3
    part = train(make_ansatz("two-directional", p, seed=1, backend=backend), steps=6, lr=0.1, device="cpu",
                 progress=False, out=str(tmp_path))
    monkeypatch.undo()
    assert part.interrupted and len(part.history) == 3
    resumed = train(make_ansatz("two-directional", p, seed=1, backend=backend), steps=6, lr=0.1, device="cpu",
                    progress=False, out=str(tmp_path), resume=True)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history]
    assert [r["entropy"] for r in resumed.history] == [r["entropy"] for r in full.history]


def test_a_second_ctrl_c_stops_at_once_and_keeps_the_last_consistent_checkpoint(tmp_path, monkeypatch):
    p = small_problem(6)
    model = make_ansatz("one-directional", p, seed=0)
    monkeypatch.setattr(type(model), "loss", _ctrl_c_on_call(type(model).loss, 5, presses=2))  # impatient
    result = train(model, steps=10, device="cpu", progress=False, out=str(tmp_path), checkpoint_every=2)
    assert result.interrupted and len(result.history) == 4
    saved = torch.load(tmp_path / "checkpoint-one-directional.pt", weights_only=False)
    assert saved["step"] == 4  # written after step 4, not overwritten mid-step 5


def test_main_job_writes_table_json_csv_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["maxcut", "--nodes", "8", "--steps", "5", "--out", str(out), "--no-progress", "--device", "cpu"])
    assert code == 0
    text = capsys.readouterr().out
    for family in FAMILIES:
        assert family in text
    data = json.loads((out / "results.json").read_text())
    assert [r["family"] for r in data["results"]] == list(FAMILIES)
    assert all(len(r["history"]) == 5 and r["optimum"] for r in data["results"])
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0].startswith("family,step,loss") and len(rows) == 1 + 5 * len(FAMILIES)
    assert (out / "maxcut.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--nodes", "5", "--degree", "3"], "no 3-regular graph on 5 nodes"),
        (["--steps", "0"], "steps must be >= 1"),
        (["--lr", "-1"], "lr must be a finite number > 0"),
        (["--depth", "0"], "depth must be >= 1"),
        (["--device", "cuda:99"], "device 'cuda:99'"),  # no CUDA, or no 100th device
        (["--graph", "/nonexistent/graph.txt"], "cannot read graph file"),
        (["--seed", "99999999999999999999"], "--seed must be in 0..18446744073709551615, got 99999999999999999999"),
        (["--seed", "-1"], "--seed must be in 0..18446744073709551615, got -1"),
        (["--nodes", "1"], "--nodes must be >= 2, got 1"),
        (["--degree", "0"], "--degree must be >= 1, got 0"),
        (["--max-bond", "0"], "--max-bond must be >= 1, got 0"),
        (["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
        (["--entropy-penalty", "-1"], "--entropy-penalty must be a finite number >= 0, got -1.0"),
        (["--entropy-penalty", "inf"], "--entropy-penalty must be a finite number >= 0, got inf"),
        (["--encoding", "mbe", "--family", "qaoa"], "QAOA uses one node per qubit"),
    ],
)
def test_main_job_bad_input_one_line_no_traceback(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("tqsim.maxcut.job.train", _no_training)
    code = main(["maxcut", "--out", str(tmp_path), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code != 0
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_problem_bad_input():
    loop = nx.Graph([(0, 1), (1, 1)])
    with pytest.raises(ValueError, match=r"self-loops \[\(1, 1\)\]"):
        MaxCutProblem(loop)
    empty = nx.Graph()
    empty.add_nodes_from([0, 1])
    with pytest.raises(ValueError, match="no edges"):
        MaxCutProblem(empty)
    bad = nx.Graph()
    bad.add_edge(0, 1, weight="heavy")
    with pytest.raises(ValueError, match=r"edge \(0, 1\) has weight 'heavy'"):
        MaxCutProblem(bad)
    with pytest.raises(ValueError, match="undirected"):
        MaxCutProblem(nx.DiGraph([(0, 1)]))
    with pytest.raises(TypeError, match="networkx.Graph"):
        MaxCutProblem([(0, 1)])
    big = MaxCutProblem(nx.path_graph(27))
    with pytest.raises(ValueError, match=r"n <= 26: train a variational model"):
        big.brute_force()
    p = small_problem(6)
    with pytest.raises(ValueError, match=r"end in 6 values"):
        p.cut_value(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="0 or 1"):
        p.cut_value(torch.full((6,), 2))


def test_model_and_training_bad_input(tmp_path):
    p = small_problem(6)
    with pytest.raises(ValueError, match="unknown family 'wide'"):
        make_ansatz("wide", p)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        make_ansatz("deep", p, depth=0)
    with pytest.raises(ValueError, match="entangles qubits; use backend 'dense' or 'mps'"):
        make_ansatz("one-directional", p, backend="product")
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        make_ansatz("one-directional", p, backend="gpu")
    with pytest.raises(ValueError, match="max_bond must be >= 1"):
        make_ansatz("one-directional", p, backend="mps", max_bond=0)
    model = make_ansatz("one-directional", p)
    with pytest.raises(ValueError, match=r"entropy subsystem size must be an int in 1..5, got 6"):
        train(model, steps=2, progress=False, track_entropy=6, device="cpu")
    with pytest.raises(ValueError, match=r"entropy subsystem size must be an int in 1..5, got 0"):
        train(model, steps=2, progress=False, track_entropy=0, device="cpu")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        train(model, steps=0, progress=False, device="cpu")
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got 0"):
        train(model, steps=2, lr=0, progress=False, device="cpu")
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        train(model, steps=2, optimizer="rmsprop", progress=False, device="cpu")
    with pytest.raises(ValueError, match="need an output folder"):
        train(model, steps=2, resume=True, progress=False, device="cpu")
    with pytest.raises(ValueError, match="entropy_penalty must be a finite number >= 0"):
        make_ansatz("one-directional", p, entropy_penalty=-1.0)
    (tmp_path / "checkpoint-one-directional.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        train(model, steps=2, out=str(tmp_path), resume=True, progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"no checkpoint '.*checkpoint-one-directional.pt' to resume from"):
        train(model, steps=2, out=str(tmp_path / "empty"), resume=True, progress=False, device="cpu")


def test_readout_finds_the_cut_a_state_points_to():
    from tqsim.maxcut.objective import expected_cut, readout

    p = small_problem(6, seed=9)
    optimum, bits = p.brute_force()
    index = int("".join(map(str, bits.tolist())), 2)
    # a dense state concentrated on an optimal bitstring, with some weight elsewhere
    amps = torch.full((64,), 0.05, dtype=torch.complex128)
    amps[index] = 1
    state = tq.StateVector.from_array(amps, normalize=True)
    cut, found = readout(p, state, "node")
    assert cut == optimum and float(p.cut_value(found)) == optimum
    probs = state.probabilities()
    assert expected_cut(p, state).item() == pytest.approx(float((probs * p.cost_diagonal()).sum()))
    # the same assignment as a product state and as an MPS sample
    product = tq.ProductState.from_angles(np.pi * bits.double().numpy(), dtype=torch.complex128)
    assert readout(p, product, "node")[0] == optimum
    mps = tq.MPS.from_statevector(state)
    assert readout(p, mps, "node", torch.Generator().manual_seed(0))[0] == optimum


def test_report_table_lists_every_family():
    from tqsim.maxcut.report import table

    p = small_problem(6)
    results = [train(make_ansatz(f, p, seed=0), steps=2, device="cpu", progress=False) for f in ("product", "qaoa")]
    text = table(results, p, 2).splitlines()
    assert text[1].split()[:4] == ["family", "params", "expected", "cut"]
    assert text[3].startswith("product") and text[4].startswith("qaoa")
    assert f"{results[1].best_cut:g}" in text[4].split()


def test_qaoa_cost_phase_gate_against_networkx_cuts(weighted_graph):
    """The dense QAOA cost layer multiplies amplitude x by exp(-i gamma C(x)), C from networkx.cut_size;
    its inverse undoes it; gamma keeps its gradient."""
    from tqsim.maxcut.ansatz import _cost_phase

    problem = MaxCutProblem(weighted_graph)
    n = problem.num_nodes
    gamma = torch.tensor(0.37, dtype=torch.float64, requires_grad=True)
    psi = tq.StateVector.random(n, generator=torch.Generator().manual_seed(3), dtype=torch.complex128)
    gate = _cost_phase(problem, gamma, n)
    out = psi.evolve([gate]).amplitudes()
    cuts = enumerate_cuts(weighted_graph, problem.nodes)
    expected = psi.amplitudes().detach().numpy() * np.exp(-1j * 0.37 * cuts)
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-12)
    back = tq.StateVector(out, n).evolve([gate.inverse()]).amplitudes()
    np.testing.assert_allclose(back.detach().numpy(), psi.amplitudes().numpy(), atol=1e-12)
    # d/dgamma Re<psi|out> = Re sum |a_x|^2 (-i C_x) e^{-i gamma C_x}
    (torch.vdot(psi.amplitudes(), out).real).backward()
    probs = np.abs(psi.amplitudes().numpy()) ** 2
    assert abs(gamma.grad.item() - np.sum(probs * (-1j * cuts) * np.exp(-1j * 0.37 * cuts)).real) < 1e-12


def _no_training(*args, **kwargs):
    raise AssertionError("training started")


@pytest.mark.parametrize(
    "out,message",
    [
        ("FILE", "is a file; --out names a folder"),
        ("/dev/null/x", "cannot write into --out '/dev/null/x': Not a directory"),
        ("/proc/tqsim-out", "cannot write into --out '/proc/tqsim-out'"),
        ("/proc/self", "cannot write into --out '/proc/self'"),  # a folder, but no file can be made in it
        ("", "--out must name a folder, got ''"),
    ],
)
def test_main_job_refuses_an_unusable_out_before_any_work(out, message, tmp_path, monkeypatch, capsys):
    if out == "FILE":
        out = str(tmp_path / "results")
        (tmp_path / "results").write_text("a file")
    monkeypatch.setattr("tqsim.maxcut.job.train", _no_training)
    monkeypatch.setattr(MaxCutProblem, "brute_force", _no_training)
    assert main(["maxcut", "--nodes", "6", "--no-progress", "--device", "cpu", "--out", out]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tqsim maxcut: ") and message in err and len(err.strip().splitlines()) == 1


def test_a_new_run_never_writes_beside_another_runs_results(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["maxcut", "--steps", "2", "--out", str(out), "--no-progress", "--device", "cpu", "--family", "product"]
    assert main([*argv, "--nodes", "6", "--family", "qaoa"]) == 0
    before = (out / "results.json").read_bytes()
    capsys.readouterr()
    assert main([*argv, "--nodes", "8"]) == 1
    err = capsys.readouterr().err
    assert f"--out '{out}' holds the results of an earlier run (checkpoint-product.pt, checkpoint-qaoa.pt, " \
           "history.csv, maxcut.png, results.json); replace them with --overwrite" in err
    assert (out / "results.json").read_bytes() == before
    # --overwrite removes everything of the earlier run, the checkpoint of a family not trained now too
    assert main([*argv, "--nodes", "8", "--overwrite"]) == 0
    assert sorted(os.listdir(out)) == ["checkpoint-product.pt", "history.csv", "maxcut.png", "results.json"]
    assert len(json.loads((out / "results.json").read_text())["problem"]["nodes"]) == 8
    capsys.readouterr()
    assert main([*argv, "--nodes", "8", "--overwrite", "--resume"]) == 1
    assert "give one of them" in capsys.readouterr().err


def test_resume_refuses_a_missing_checkpoint_and_one_with_more_steps(tmp_path, capsys, monkeypatch):
    argv = ["maxcut", "--nodes", "6", "--family", "product", "--out", str(tmp_path), "--no-progress", "--device", "cpu"]
    assert main([*argv, "--steps", "4", "--resume"]) == 1
    assert f"--resume: '{tmp_path}' holds no checkpoint of product to continue from" in capsys.readouterr().err
    assert main([*argv, "--steps", "4"]) == 0
    capsys.readouterr()
    assert main([*argv, "--steps", "2", "--resume"]) == 1
    assert "checkpoint-product.pt' holds 4 steps, more than the 2 asked for" in capsys.readouterr().err
    assert main([*argv, "--steps", "6", "--resume"]) == 0
    assert [h["step"] for h in json.loads((tmp_path / "results.json").read_text())["results"][0]["history"]] == \
        [1, 2, 3, 4, 5, 6]


def test_ctrl_c_in_the_main_job_keeps_the_steps_exits_130_and_resumes(tmp_path, monkeypatch, capsys):
    qaoa = FAMILIES["qaoa"]
    monkeypatch.setattr(qaoa, "loss", _ctrl_c_on_call(qaoa.loss, 3))  # during step 3
    argv = ["maxcut", "--nodes", "6", "--steps", "5", "--family", "qaoa", "--family", "product", "--out", str(tmp_path),
            "--no-progress", "--device", "cpu"]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"tqsim maxcut: interrupted; the steps done are kept in {tmp_path} (continue with --resume)"
    assert torch.load(tmp_path / "checkpoint-qaoa.pt", weights_only=False)["step"] == 3
    assert not (tmp_path / "checkpoint-product.pt").exists()  # the job stops at the interrupted family
    monkeypatch.undo()
    assert main([*argv, "--resume"]) == 0
    warning = "tqsim maxcut: warning: --resume: no checkpoint in '{}' for product (trained from step 0)"
    assert warning.format(tmp_path) in capsys.readouterr().err.splitlines()
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [(r["family"], len(r["history"])) for r in results] == [("qaoa", 5), ("product", 5)]


def test_flags_that_do_not_apply_warn_in_one_line_each(tmp_path, capsys):
    graph = tmp_path / "g.txt"
    graph.write_text("0 1\n1 2\n2 3\n3 0\n")
    code = main(["maxcut", "--graph", str(graph), "--nodes", "8", "--max-bond", "4", "--family", "product", "--family",
                 "product", "--entropy-penalty", "0.5", "--steps", "2", "--out", str(tmp_path / "run"), "--no-progress",
                 "--device", "cpu"])
    assert code == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        f"tqsim maxcut: warning: --nodes ignored: --graph {graph} gives the graph",
        "tqsim maxcut: warning: --family product is given 2 times; it is trained once",
        "tqsim maxcut: warning: --max-bond 4 ignored: no family runs on the mps backend "
        "(--backend mps, or > 26 qubits)",
        "tqsim maxcut: warning: --entropy-penalty 0.5 does nothing to the product family: its entropy is always 0",
    ]
    results = json.loads((tmp_path / "run" / "results.json").read_text())["results"]
    assert [(r["family"], len(r["history"])) for r in results] == [("product", 2)]
    # the largest seed, on the MPS backend (whose sampler seeds grow with it): no warning, no overflow
    code = main(["maxcut", "--nodes", "6", "--backend", "mps", "--max-bond", "4", "--seed", str(2**64 - 1), "--family",
                 "one-directional", "--steps", "2", "--out", str(tmp_path / "mps"), "--no-progress", "--device", "cpu"])
    assert code == 0 and "warning" not in capsys.readouterr().err


def test_mbe_trains_every_family_that_supports_it_by_default(tmp_path):
    argv = ["maxcut", "--nodes", "6", "--encoding", "mbe", "--steps", "1", "--out", str(tmp_path), "--no-progress",
            "--device", "cpu"]
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["family"] for r in results] == [f for f in FAMILIES if f != "qaoa"]
    assert {r["encoding"] for r in results} == {"mbe"}


@pytest.mark.parametrize("family", ["product", "one-directional"])
def test_a_learning_rate_that_blows_up_is_named(family, tmp_path, capsys):
    argv = ["maxcut", "--nodes", "6", "--family", family, "--lr", "1e308", "--steps", "3", "--out", str(tmp_path),
            "--no-progress", "--device", "cpu"]
    assert main(argv) == 1
    assert capsys.readouterr().err == ("tqsim maxcut: step 1 took the angles beyond torch.float32 range; "
                                       "the learning rate lr=1e+308 is too large, lower it\n")


def test_history_csv_is_the_same_bytes_for_the_same_seed(tmp_path):
    for run in ("a", "b"):
        argv = ["maxcut", "--nodes", "8", "--seed", "3", "--steps", "4", "--family", "product", "--family", "qaoa",
                "--family", "two-directional", "--out", str(tmp_path / run), "--no-progress", "--device", "cpu"]
        assert main(argv) == 0
    first = (tmp_path / "a" / "history.csv").read_bytes()
    header = b"family,step,loss,expected_cut,readout_cut,best_cut,expected_ratio,readout_ratio,entropy"
    assert first.splitlines()[0] == header
    assert first == (tmp_path / "b" / "history.csv").read_bytes()
    # the wall times stay in results.json
    assert all(r["ms_per_step"] > 0 for r in json.loads((tmp_path / "a" / "results.json").read_text())["results"])


def test_main_job_shows_the_brute_force_progress_unless_told_not_to(tmp_path, capsys):
    argv = ["maxcut", "--nodes", "6", "--family", "product", "--steps", "1", "--device", "cpu"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert "brute force      [########################] 32/32  cuts scored" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    assert "brute force" not in capsys.readouterr().err


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_in_a_terminal_is_a_tqdm_bar_with_the_step_loss_cut_and_entropy(tmp_path, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["maxcut", "--nodes", "6", "--family", "product", "--steps", "3", "--device", "cpu"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    shown = terminal.getvalue()
    lines = shown.split("\n")
    # tqdm's look: the label, a percentage, the bar, n/total, [elapsed<remaining, rate, postfix]; redrawn after \r
    brute = [line for line in lines if "brute force" in line]
    assert len(brute) == 1 and "\rbrute force: 100%|" in brute[0] and "| 32/32 [" in brute[0]
    assert "cut/s, cuts scored]" in brute[0]
    bar = [line for line in lines if "product" in line]
    assert len(bar) == 1 and "\rproduct: 100%|" in bar[0] and "| 3/3 [" in bar[0]
    last = bar[0].rsplit("\r", 1)[1]  # the bar's final state: what the last step showed
    row = json.loads((tmp_path / "a" / "results.json").read_text())["results"][0]["history"][-1]
    assert f"loss {row['loss']:+.4f}  best cut {row['best_cut']:g} ({row['readout_ratio']:.3f})  S 0.000]" in last
    terminal.seek(0), terminal.truncate()
    assert main([*argv, "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    assert terminal.getvalue().startswith("wrote ") and "\r" not in terminal.getvalue()  # --no-progress: no bar


def test_resume_refuses_another_learning_rate_or_seed(tmp_path, capsys):
    # Adam's saved state carries the old lr, so a silent resume would train on with it
    argv = ["maxcut", "--nodes", "6", "--family", "one-directional", "--out", str(tmp_path), "--no-progress",
            "--device", "cpu", "--steps", "3"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--steps", "5", "--lr", "0.2", "--resume"]) == 1
    assert "was trained with lr 0.05 (now 0.2); resume with the same settings" in capsys.readouterr().err
    assert main([*argv, "--steps", "5", "--resume"]) == 0
    # on the command line --seed also picks the graph; through train() it seeds the read-out alone
    model = make_ansatz("one-directional", MaxCutProblem.random_regular(6, 3, seed=0), seed=0)
    with pytest.raises(ValueError, match=r"was trained with seed 0 \(now 1\)"):
        train(model, steps=6, out=str(tmp_path), resume=True, seed=1, progress=False, device="cpu")


def test_resume_checks_every_checkpoint_before_any_family_trains(tmp_path, capsys, monkeypatch):
    argv = ["maxcut", "--nodes", "6", "--family", "product", "--family", "one-directional", "--out", str(tmp_path),
            "--no-progress", "--device", "cpu", "--steps", "3"]
    assert main(argv) == 0
    capsys.readouterr()
    # the second family's checkpoint is now the first one's: nothing may train before that is found
    (tmp_path / "checkpoint-one-directional.pt").write_bytes((tmp_path / "checkpoint-product.pt").read_bytes())
    trained = []
    monkeypatch.setattr("tqsim.maxcut.job.train", lambda model, **options: trained.append(model.family))
    assert main([*argv, "--steps", "5", "--resume"]) == 1
    assert "checkpoint-one-directional.pt' was written for another graph or family" in capsys.readouterr().err
    assert trained == []


def test_resume_refuses_another_bond_dimension_or_entropy_penalty(tmp_path, capsys):
    argv = ["maxcut", "--nodes", "6", "--family", "deep", "--depth", "1", "--backend", "mps", "--out", str(tmp_path),
            "--no-progress", "--device", "cpu", "--steps", "2"]
    assert main([*argv, "--max-bond", "2"]) == 0
    capsys.readouterr()
    assert main([*argv, "--max-bond", "8", "--steps", "4", "--resume"]) == 1
    assert "max_bond 2 (now 8)" in capsys.readouterr().err
    assert main([*argv, "--max-bond", "2", "--entropy-penalty", "1", "--steps", "4", "--resume"]) == 1
    assert "entropy_penalty 0.0 (now 1.0)" in capsys.readouterr().err


def test_a_graph_of_zero_weights_is_refused():
    g = nx.Graph()
    g.add_edge(0, 1, weight=0.0)
    g.add_edge(1, 2, weight=0.0)
    with pytest.raises(ValueError, match="every edge has weight 0: every cut is 0"):
        MaxCutProblem(g)


def test_a_loss_that_is_not_finite_before_any_update_does_not_blame_the_learning_rate(tmp_path, capsys):
    argv = ["maxcut", "--nodes", "6", "--family", "one-directional", "--entropy-penalty", "1e300", "--steps", "2",
            "--out", str(tmp_path), "--no-progress", "--device", "cpu"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "before any update; check the entropy penalty (1e+300)" in err and "learning rate" not in err


def test_a_failed_resume_leaves_no_empty_folder(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["maxcut", "--nodes", "6", "--family", "product", "--steps", "2", "--out", str(out), "--no-progress",
                 "--device", "cpu", "--resume"]) == 1
    assert not out.exists()


def test_a_family_that_fails_keeps_the_report_of_those_that_finished(tmp_path, monkeypatch, capsys):
    qaoa = FAMILIES["qaoa"]

    def broken(self, state):
        raise ValueError("the loss became nan at step 1")

    monkeypatch.setattr(qaoa, "loss", broken)
    argv = ["maxcut", "--nodes", "6", "--family", "product", "--family", "qaoa", "--steps", "3", "--out", str(tmp_path),
            "--no-progress", "--device", "cpu"]
    assert main(argv) == 1
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [(r["family"], len(r["history"])) for r in results] == [("product", 3)]
    assert "tqsim maxcut: the loss became nan at step 1" in capsys.readouterr().err
