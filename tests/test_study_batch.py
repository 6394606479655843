"""Seeds trained together as one batched state: each equals its own run, to dtype precision.

The oracle is the ordinary one-seed model and ``train()``; the batched numbers
must match them entry by entry, in the seed order given.
"""

import sqlite3

import pytest
import torch

from tqsim.cli import main
from tqsim.maxcut import FAMILIES, MaxCutProblem, make_ansatz, train
from tqsim.maxcut.study import StudyGrid, StudyStore, runner

PROBLEM = MaxCutProblem.random_regular(10, 3, seed=4)
SEEDS = [5, 0, 3]
# every way a dense model is built: families, the multi-basis encoding, the penalty, the product family on dense
CASES = [(family, {}) for family in FAMILIES if family != "product"] + [
    ("product", {"backend": "dense"}),
    ("two-directional", {"encoding": "mbe"}),
    ("one-directional", {"entropy_penalty": 0.2}),
]
NUMBERS = ("loss", "expected_cut", "readout_cut", "best_cut", "entropy", "expected_ratio", "readout_ratio")


def one_and_batch(family, options, depth=None, dtype=torch.complex128):
    singles = [make_ansatz(family, PROBLEM, depth, seed=s, dtype=dtype, **options) for s in SEEDS]
    return singles, make_ansatz(family, PROBLEM, depth, seed=SEEDS, dtype=dtype, **options)


@pytest.mark.parametrize("family, options", CASES)
def test_a_batched_model_holds_each_seed_s_parameters_and_prepares_each_seed_s_state(family, options):
    singles, batched = one_and_batch(family, options, depth=2 if family == "qaoa" else None)
    assert batched.seeds == tuple(SEEDS) and batched.batch_size == 3
    for name, parameter in batched.named_parameters():
        for entry, single in enumerate(singles):
            assert torch.equal(parameter[entry], getattr(single, name))
    state = batched()
    assert state.batch_shape == (3,)
    losses, values = batched.loss(state)
    for entry, single in enumerate(singles):
        alone = single()
        assert torch.allclose(state.amplitudes()[entry], alone.amplitudes(), atol=1e-12, rtol=0)
        loss, value = single.loss(alone)
        assert losses[entry].item() == pytest.approx(loss.item(), abs=1e-12)
        assert values[entry].item() == pytest.approx(value.item(), abs=1e-12)


@pytest.mark.parametrize("family, options", CASES)
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])  # sgd: a loss scaled by the batch size would show
def test_batched_training_equals_each_seed_trained_alone(family, options, optimizer):
    singles, batched = one_and_batch(family, options)
    results = train(batched, steps=6, lr=0.05, optimizer=optimizer, progress=False)
    assert len(results) == 3
    # Adam divides by the gradient's root mean square: where the loss is flat (one-directional's first angle)
    # it moves an angle by lr * rounding / eps, about 5e-9 a step, alone as in a batch; the entropy sees it
    angle_tolerance = 1e-10 if optimizer == "sgd" else 1e-6
    tolerance = {key: 1e-10 for key in NUMBERS} | {"entropy": 1e-10 if optimizer == "sgd" else 1e-7}
    for entry, (single, result) in enumerate(zip(singles, results)):
        alone = train(single, steps=6, lr=0.05, optimizer=optimizer, progress=False)
        assert result.best_cut == alone.best_cut
        assert PROBLEM.cut_value(result.best_bits).item() == result.best_cut
        assert result.num_parameters == alone.num_parameters
        for row, expected in zip(result.history, alone.history, strict=True):
            for key in NUMBERS:
                assert row[key] == pytest.approx(expected[key], abs=tolerance[key]), (key, row["step"])
        for name, parameter in single.named_parameters():  # the angles after training: each seed's own
            assert torch.allclose(getattr(batched, name)[entry], parameter, atol=angle_tolerance, rtol=0)


def test_each_seed_keeps_its_own_optimizer_state_over_a_longer_run():
    """30 Adam steps: a moment shared across seeds, or seeds out of order, would part the losses at once."""
    singles, batched = one_and_batch("two-directional", {})
    results = train(batched, steps=30, progress=False)
    for single, result in zip(singles, results):
        alone = train(single, steps=30, progress=False)
        assert [h["loss"] for h in result.history] == pytest.approx([h["loss"] for h in alone.history], abs=1e-9)


def test_complex64_batches_match_to_single_precision_over_the_first_steps():
    singles, batched = one_and_batch("one-directional", {}, dtype=torch.complex64)
    results = train(batched, steps=3, progress=False)
    for single, result in zip(singles, results):
        alone = train(single, steps=3, progress=False)
        assert [h["expected_cut"] for h in result.history] == pytest.approx(
            [h["expected_cut"] for h in alone.history], rel=1e-5)


@pytest.mark.parametrize("seeds, options, message", [
    ([], {}, "seed is an empty list; give at least one seed"),
    ([1, 2, 1], {}, r"seed=\[1, 2, 1\] lists 1 more than once; a batch trains each seed once"),
    ([0, 1], {"backend": "mps"}, "a batch of seeds trains as one batched dense state; backend 'mps' holds one state"),
])
def test_bad_batches_are_refused(seeds, options, message):
    with pytest.raises(ValueError, match=message):
        make_ansatz("one-directional", PROBLEM, seed=seeds, **options)


def test_a_seed_that_is_not_an_integer_is_named():
    with pytest.raises(ValueError, match=r"seed=\[0, '1'\] holds '1'; seeds are integers in 0..2\*\*64-1"):
        make_ansatz("one-directional", PROBLEM, seed=[0, "1"])


def test_a_graph_too_big_for_dense_states_does_not_batch_and_is_not_told_to_use_them():
    big = MaxCutProblem.random_regular(30, 3, seed=0)
    with pytest.raises(ValueError, match=r"backend 'mps' holds one state \(give one seed at a time\)$"):
        make_ansatz("one-directional", big, seed=[0, 1])


def test_the_product_backend_does_not_batch():
    with pytest.raises(ValueError, match="backend 'product' holds one state"):
        make_ansatz("product", PROBLEM, seed=[0, 1])


@pytest.mark.parametrize("options", [{"out": "OUT"}, {"checkpoint_every": 1}, {"resume": True}])
def test_a_batch_has_no_checkpoint(tmp_path, options):
    model = make_ansatz("one-directional", PROBLEM, seed=[0, 1])
    options = {k: str(tmp_path) if v == "OUT" else v for k, v in options.items()}
    with pytest.raises(ValueError, match="a checkpoint holds one run; train the 2 seeds without out="):
        train(model, steps=2, progress=False, **options)


def test_a_diverging_seed_is_named():
    model = make_ansatz("one-directional", PROBLEM, seed=[0, 7])
    with pytest.raises(ValueError, match=r"step 1 took the angles for seed 0 beyond torch.float32 range"):
        train(model, steps=2, lr=1e300, progress=False)


# ------------------------------------------------------------------ studies
FLAGS = ["--graphs", "2", "--nodes", "8", "--seeds", "0", "1", "2", "--families", "one-directional", "qaoa",
         "--steps", "4", "--device", "cpu", "--no-progress"]


def test_jobs_group_the_seeds_of_a_group_up_to_the_batch_size():
    grid = StudyGrid(graphs=2, nodes=8, seeds=(0, 1, 2), families=("one-directional", "product"),
                     backends=("dense", "mps", "auto"), steps=2)
    jobs = list(runner._jobs(grid.runs(), "exact", batch_seeds=2))
    sizes = [(job.specs[0].graph, job.specs[0].family, job.specs[0].backend, len(job.specs)) for job in jobs]
    for graph in ("rr-n8-d3-s0", "rr-n8-d3-s1"):
        # dense (asked for or automatic) batches 2 + 1; MPS and product states train alone
        assert [s[3] for s in sizes if s[:3] == (graph, "one-directional", "dense")] == [2, 1]
        assert [s[3] for s in sizes if s[:3] == (graph, "one-directional", None)] == [2, 1]
        assert [s[3] for s in sizes if s[:3] == (graph, "one-directional", "mps")] == [1, 1, 1]
        assert [s[3] for s in sizes if s[:3] == (graph, "product", None)] == [1, 1, 1]
    for job in jobs:  # one group per job, seeds in the grid's order
        assert len({spec.group for spec in job.specs}) == 1
    assert [spec for job in jobs for spec in job.specs] == grid.runs()


def test_the_cpu_batches_only_small_states_and_cuda_batches_larger_ones():
    grid = StudyGrid(graphs=1, nodes=18, seeds=(0, 1), families=("qaoa",), steps=2)
    assert [len(job.specs) for job in runner._jobs(grid.runs(), "exact", batch_seeds=2, cpu=True)] == [1, 1]
    assert [len(job.specs) for job in runner._jobs(grid.runs(), "exact", batch_seeds=2, cpu=False)] == [2]


def test_a_batch_holds_no_more_amplitudes_than_the_limit(monkeypatch):
    monkeypatch.setattr(runner, "BATCH_STATE_BYTES", 3 * 8 * 2**8)  # three 8-qubit complex64 states
    grid = StudyGrid(graphs=1, nodes=8, seeds=tuple(range(7)), families=("qaoa",), steps=2)
    assert [len(job.specs) for job in runner._jobs(grid.runs(), "exact", batch_seeds=32)] == [3, 3, 1]


def test_a_batched_study_stores_each_run_with_its_batch_size_and_matches_the_sequential_one(tmp_path):
    assert main(["study", "run", "--db", str(tmp_path / "one.db"), *FLAGS]) == 0
    assert main(["study", "run", "--db", str(tmp_path / "batched.db"), "--batch-seeds", "3", *FLAGS]) == 0
    with StudyStore.open(tmp_path / "one.db") as one, StudyStore.open(tmp_path / "batched.db") as batched:
        alone = {run["key"]: run for run in one.runs()}
        runs = batched.runs()
        assert len(runs) == len(alone) == 12
        for run in runs:
            assert run["batch_size"] == 3 and alone[run["key"]]["batch_size"] == 1
            assert run["expected_ratio"] == pytest.approx(alone[run["key"]]["expected_ratio"], rel=1e-5)
            assert run["entropy"] == pytest.approx(alone[run["key"]]["entropy"], abs=1e-4)
            assert len(batched.steps(run["key"])) == 4


def test_the_same_batched_command_again_adds_nothing_and_a_bad_batch_size_is_refused(tmp_path, capsys):
    db = tmp_path / "study.db"
    assert main(["study", "run", "--db", str(db), "--batch-seeds", "2", *FLAGS]) == 0
    assert main(["study", "run", "--db", str(db), "--batch-seeds", "2", *FLAGS]) == 0
    assert sqlite3.connect(db).execute("select count(*) from runs").fetchone()[0] == 12
    capsys.readouterr()
    assert main(["study", "run", "--db", str(tmp_path / "other.db"), "--batch-seeds", "0", *FLAGS]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "tqsim study: batch_seeds (--batch-seeds) must be >= 1, got 0"
