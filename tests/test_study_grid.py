"""Study grids: checked axes, the runs they span (order, skipped combinations), run keys, study.toml."""

import itertools
import json
import os
import subprocess
import sys

import pytest

from tqsim.maxcut import BACKENDS, ENCODINGS, FAMILIES, MaxCutProblem, make_ansatz
from tqsim.maxcut.study import RunSpec, StudyGrid

SMALL = dict(graphs=2, nodes=6, degree=3, seeds=[0, 1], steps=3)


# ------------------------------------------------------------------ defaults
def test_defaults_span_every_family_on_five_graphs_and_three_seeds():
    grid = StudyGrid()
    assert grid.families == tuple(FAMILIES)
    assert (grid.graphs, grid.nodes, grid.degree, grid.seeds) == (5, 16, 3, (0, 1, 2))
    runs = grid.runs()
    assert len(runs) == 5 * len(FAMILIES) * 3
    assert {r.graph for r in runs} == {f"rr-n16-d3-s{s}" for s in range(5)}
    assert all(r.depth is None and r.backend is None and r.encoding == "node" and r.penalty == 0.0 for r in runs)


def test_default_families_leave_out_those_that_cannot_run():
    assert "qaoa" not in StudyGrid(encodings=["mbe"]).families
    assert StudyGrid(backends=["product"]).families == ("product",)
    assert StudyGrid(encodings=["node", "mbe"]).families == tuple(FAMILIES)


# ------------------------------------------------------------------ run order
def test_runs_are_ordered_graph_family_depth_encoding_backend_penalty_seed():
    grid = StudyGrid(**SMALL, families=["deep", "product"], depths=[None, 2], encodings=["node", "mbe"],
                     backends=["auto", "mps"], penalties=[0.0, 0.5])
    got = [(r.graph, r.family, r.depth, r.encoding, r.backend, r.penalty, r.seed) for r in grid.runs()]
    want = list(itertools.product(["rr-n6-d3-s0", "rr-n6-d3-s1"], ["deep", "product"], [None, 2], ["node", "mbe"],
                                  [None, "mps"], [0.0, 0.5], [0, 1]))
    assert got == want
    assert [r.key for r in grid.runs()] == [r.key for r in grid.runs()]  # deterministic


def test_runs_carry_the_training_settings_and_graph_size():
    grid = StudyGrid(**SMALL, families=["qaoa"], lr=0.1, optimizer="sgd", max_bond=8)
    for r in grid.runs():
        assert (r.nodes, r.degree, r.steps, r.lr, r.optimizer, r.max_bond) == (6, 3, 3, 0.1, "sgd", 8)
        assert r.graph_path is None and r.graph == f"rr-n6-d3-s{r.graph_seed}"


# ---------------------------------------------------------- skipped combinations
def test_the_runnable_rule_agrees_with_make_ansatz():
    """Every family x encoding x backend: runs() holds it exactly when make_ansatz accepts it."""
    problem = MaxCutProblem.random_regular(6, 3, seed=0)
    grid = StudyGrid(graphs=1, nodes=6, seeds=[0], encodings=list(ENCODINGS), backends=[None, *BACKENDS])
    planned = {(r.family, r.encoding, r.backend) for r in grid.runs()}
    skipped = set(grid.skipped())
    for combo in itertools.product(FAMILIES, ENCODINGS, [None, *BACKENDS]):
        family, encoding, backend = combo
        try:
            make_ansatz(family, problem, encoding=encoding, backend=backend)
            accepted = True
        except ValueError:
            accepted = False
        assert (combo in planned) == accepted, combo
        assert (combo in skipped) == (not accepted), combo


def test_qaoa_with_mbe_is_skipped_and_listed():
    grid = StudyGrid(**SMALL, families=["qaoa", "product"], encodings=["node", "mbe"])
    assert grid.skipped() == [("qaoa", "mbe", None)]
    combos = {(r.family, r.encoding) for r in grid.runs()}
    assert combos == {("qaoa", "node"), ("product", "node"), ("product", "mbe")}


@pytest.mark.parametrize("settings, named", [
    (dict(families=["qaoa"], encodings=["mbe"]), "family 'qaoa'"),
    (dict(families=["deep"], backends=["product"]), "family 'deep'"),
    (dict(families=["qaoa", "product"], backends=["product", "dense"], encodings=["mbe"]), "family 'qaoa'"),
    (dict(families=["deep", "qaoa"], backends=["dense", "product"]), "backend 'product'"),
])
def test_an_axis_value_left_with_no_run_is_refused(settings, named):
    with pytest.raises(ValueError, match=named):
        StudyGrid(**settings)


def test_dense_backend_on_too_many_qubits_is_refused_by_runs():
    grid = StudyGrid(graphs=1, nodes=28, degree=3, families=["one-directional"], backends=["dense"])
    with pytest.raises(ValueError, match="needs 28 qubits.*'dense' holds at most 26"):
        grid.runs()
    halved = StudyGrid(graphs=1, nodes=28, degree=3, families=["one-directional"], backends=["dense"],
                       encodings=["mbe"])
    assert {r.encoding for r in halved.runs()} == {"mbe"}  # 14 qubits fit


# ---------------------------------------------------------------- bad values
@pytest.mark.parametrize("axis", ["seeds", "families", "depths", "encodings", "backends", "penalties"])
def test_an_empty_axis_is_refused(axis):
    with pytest.raises(ValueError, match=f"^empty grid: {axis} has no values$"):
        StudyGrid(**{axis: []})


@pytest.mark.parametrize("settings, kind, message", [
    (dict(families=["qoaa"]), ValueError, "unknown family 'qoaa'; choose from product, .*qaoa"),
    (dict(encodings=["edge"]), ValueError, "unknown encoding 'edge'; choose from node, mbe"),
    (dict(backends=["gpu"]), ValueError, "unknown backend 'gpu'; choose from dense, mps, product, auto"),
    (dict(optimizer="lbfgs"), ValueError, "unknown optimizer 'lbfgs'; choose from adam"),
    (dict(seeds=[0, 1, 1]), ValueError, r"seeds \[0, 1, 1\] repeat 1; give each value once"),
    (dict(penalties=[0, 0.0]), ValueError, "penalties .* repeat 0.0"),
    (dict(depths=["default", None]), ValueError, "depths .* repeat None"),
    (dict(seeds="012"), TypeError, "seeds must be a list, got '012'"),
    (dict(seeds=3), TypeError, "seeds must be a list, got 3"),
    (dict(seeds=[1.5]), TypeError, "seeds must be ints, got 1.5"),
    (dict(seeds=[True]), TypeError, "seeds must be ints, got True"),
    (dict(seeds=[-1]), ValueError, "seed -1 is out of range"),
    (dict(seeds=[2**63]), ValueError, "out of range; seeds are 0..2\\*\\*63-1"),
    (dict(depths=[0]), ValueError, "depth must be >= 1, got 0"),
    (dict(depths=[1.0]), TypeError, "depths must be ints >= 1 or 'default'"),
    (dict(penalties=[-0.1]), ValueError, "penalties must be finite numbers >= 0, got -0.1"),
    (dict(penalties=[float("nan")]), ValueError, "penalties must be finite"),
    (dict(steps=0), ValueError, "steps must be >= 1, got 0"),
    (dict(graphs=2.0), TypeError, "graphs must be an int, got 2.0"),
    (dict(max_bond=0), ValueError, "max_bond must be >= 1"),
    (dict(lr=0), ValueError, "lr must be a finite number > 0, got 0"),
    (dict(lr=float("inf")), ValueError, "lr must be a finite number > 0"),
    (dict(lr="0.1"), ValueError, "lr must be a finite number > 0, got '0.1'"),
    (dict(nodes=5, degree=3), ValueError, "no 3-regular graph on 5 nodes"),
    (dict(nodes=4, degree=4), ValueError, "no 4-regular graph on 4 nodes"),
    (dict(graph_dir=""), TypeError, "graph_dir must name a folder"),
])
def test_bad_values_are_refused_by_name(settings, kind, message):
    with pytest.raises(kind, match=message):
        StudyGrid(**settings)


def test_words_for_none_and_lists_become_tuples():
    grid = StudyGrid(depths=["default", 3], backends=["auto", "mps"], penalties=[0, 1], seeds=range(2))
    assert grid.depths == (None, 3) and grid.backends == (None, "mps")
    assert grid.penalties == (0.0, 1.0) and all(type(p) is float for p in grid.penalties)
    assert grid.seeds == (0, 1)


def test_an_impossible_regular_graph_is_allowed_with_a_graph_dir(tmp_path):
    (tmp_path / "g.txt").write_text("0 1\n1 2\n")
    grid = StudyGrid(nodes=5, degree=3, graph_dir=str(tmp_path), families=["product"], seeds=[0])
    assert [r.graph for r in grid.runs()] == ["g.txt"]


# --------------------------------------------------------------------- specs
def test_key_is_pinned_canonical_json():
    """The key names stored runs: a change of its text would make every stored study look undone."""
    spec = RunSpec("rr-n6-d3-s0", 0, None, 6, 3, "qaoa", None, "node", None, 0.1, 2, 3, 0.05, "adam", 32)
    assert spec.key == ('{"backend":null,"degree":3,"depth":null,"encoding":"node","family":"qaoa",'
                        '"graph":"rr-n6-d3-s0","graph_path":null,"graph_seed":0,"lr":0.05,"max_bond":32,'
                        '"nodes":6,"optimizer":"adam","penalty":0.1,"seed":2,"steps":3}')
    assert json.loads(spec.key)["seed"] == 2
    assert "seed" not in json.loads(spec.group) and json.loads(spec.group)["graph_seed"] == 0


def test_keys_are_the_same_in_another_process():
    grid = StudyGrid(**SMALL, families=["qaoa", "deep"], penalties=[0.0, 0.25])
    keys = [r.key for r in grid.runs()]
    code = ("import json, sys\nfrom tqsim.maxcut.study import StudyGrid\n"
            "print(json.dumps([r.key for r in StudyGrid(**json.loads(sys.argv[1])).runs()]))")
    settings = json.dumps({**SMALL, "families": ["qaoa", "deep"], "penalties": [0.0, 0.25]})
    out = subprocess.run([sys.executable, "-c", code, settings], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert json.loads(out.stdout) == keys


def test_keys_are_unique_and_groups_pool_only_seeds():
    grid = StudyGrid(**SMALL, families=["qaoa", "deep"], depths=[None, 2], penalties=[0.0, 0.5])
    runs = grid.runs()
    assert len({r.key for r in runs}) == len(runs)
    groups = {}
    for r in runs:
        groups.setdefault(r.group, []).append(r.seed)
    assert len(groups) == len(runs) // 2 and all(seeds == [0, 1] for seeds in groups.values())


def test_problem_rebuilds_the_random_regular_graph():
    for spec in StudyGrid(**SMALL, families=["qaoa"]).runs():
        want = MaxCutProblem.random_regular(6, 3, seed=spec.graph_seed)
        got = spec.problem()
        assert got.edges.tolist() == want.edges.tolist() and got.nodes == want.nodes
    assert StudyGrid(**SMALL).runs()[0].problem().edges.tolist() != \
        StudyGrid(**SMALL).runs()[-1].problem().edges.tolist()  # graph seeds 0 and 1 differ


# ---------------------------------------------------------------- graph files
@pytest.fixture
def graph_dir(tmp_path):
    folder = tmp_path / "graphs"
    folder.mkdir()
    (folder / "b.edges").write_text("0 1\n1 2\n2 3\n3 0\n")
    (folder / "a.txt").write_text("# triangle\nx y 2.0\ny z\nz x\n")
    (folder / "c.edgelist").write_text("0 1\n")
    (folder / "notes.md").write_text("not a graph\n")
    (folder / "d.txt").mkdir()  # a folder with a graph suffix is not a graph
    return folder


def test_graph_dir_reads_every_graph_file_sorted_by_name(graph_dir):
    grid = StudyGrid(graph_dir=str(graph_dir), families=["product"], seeds=[0])
    runs = grid.runs()
    assert [(r.graph, r.nodes, r.graph_seed, r.degree) for r in runs] == \
        [("a.txt", 3, None, None), ("b.edges", 4, None, None), ("c.edgelist", 2, None, None)]
    assert runs[0].graph_path == os.path.join(str(graph_dir), "a.txt")
    assert runs[0].problem().total_weight == 4.0


def test_a_graph_file_changed_after_listing_is_refused(graph_dir):
    spec = StudyGrid(graph_dir=str(graph_dir), families=["product"], seeds=[0]).runs()[0]
    (graph_dir / "a.txt").write_text("x y\ny z\nz w\n")
    with pytest.raises(ValueError, match="now has 4 nodes, not the 3"):
        spec.problem()


def test_graph_dir_errors_name_the_folder(tmp_path, graph_dir):
    with pytest.raises(ValueError, match="graph_dir .*missing.* is not a folder"):
        StudyGrid(graph_dir=str(tmp_path / "missing")).runs()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"holds no graph file \(\*.txt, \*.edges, \*.edgelist\)"):
        StudyGrid(graph_dir=str(empty)).runs()
    (graph_dir / "bad.txt").write_text("0 1 2 3\n")
    with pytest.raises(ValueError, match="bad.txt:1: expected 'u v"):
        StudyGrid(graph_dir=str(graph_dir)).runs()


# ------------------------------------------------------------ settings as data
def test_to_dict_round_trips_through_json():
    grid = StudyGrid(**SMALL, families=["qaoa", "deep"], depths=[None, 2], backends=["auto", "mps"],
                     penalties=[0.0, 0.5], graph_dir=None)
    data = json.loads(json.dumps(grid.to_dict()))
    assert data["depths"] == [None, 2] and data["backends"] == [None, "mps"]
    assert StudyGrid.from_dict(data) == grid
    assert StudyGrid.from_dict(data).runs() == grid.runs()


def test_from_dict_refuses_unknown_keys_by_name():
    with pytest.raises(ValueError, match="unknown key 'seed' .*did you mean 'seeds'.*; allowed: graphs, nodes"):
        StudyGrid.from_dict({"seed": [1]})


# ---------------------------------------------------------------- study.toml
def write(path, text):
    path.write_text(text)
    return path


def test_from_toml_reads_the_study_table(tmp_path):
    path = write(tmp_path / "study.toml", """
[study]
graphs = 2
nodes = 6
seeds = [3, 4]
families = ["qaoa", "deep"]
depths = ["default", 2]
backends = ["auto", "mps"]
penalties = [0, 0.1]
lr = 0.1
steps = 5
""")
    grid = StudyGrid.from_toml(path)
    assert grid == StudyGrid(graphs=2, nodes=6, seeds=(3, 4), families=("qaoa", "deep"), depths=(None, 2),
                             backends=(None, "mps"), penalties=(0.0, 0.1), lr=0.1, steps=5)


def test_from_toml_reads_graph_dir_relative_to_the_file(tmp_path, graph_dir, monkeypatch):
    folder = tmp_path / "config"
    folder.mkdir()
    path = write(folder / "study.toml", '[study]\ngraph_dir = "../graphs"\nfamilies = ["product"]\n')
    monkeypatch.chdir(folder.parent.parent)  # somewhere else
    grid = StudyGrid.from_toml(path)
    assert [r.graph for r in grid.runs()][:1] == ["a.txt"]


@pytest.mark.parametrize("text, kind, message", [
    ('[study]\nfamlies = ["qaoa"]\n', ValueError,
     r"^unknown key 'famlies' in .*study.toml \(did you mean 'families'\?\); allowed: graphs, nodes, degree"),
    ('[study]\nseeds = [0, 1\nsteps = 3\n', ValueError, r"study.toml is not valid TOML: .*line 3"),
    ('graphs = 3\n', ValueError, r"unknown key 'graphs' in .*study.toml; the settings go in one \[study\] table"),
    ('[study]\ngraphs = 3\n[extra]\nx = 1\n', ValueError, "unknown key 'extra'"),
    ('', ValueError, r"has no \[study\] table"),
    ('study = 3\n', ValueError, r"'study' in .* must be a table"),
    ('[study]\nseeds = []\n', ValueError, r"study.toml: empty grid: seeds has no values$"),
    ('[study]\nfamilies = ["qoaa"]\n', ValueError, r"study.toml: unknown family 'qoaa'"),
    ('[study]\nsteps = "80"\n', TypeError, r"study.toml: steps must be an int, got '80'"),
])
def test_from_toml_refuses_bad_files_naming_the_file(tmp_path, text, kind, message):
    path = write(tmp_path / "study.toml", text)
    with pytest.raises(kind, match=message):
        StudyGrid.from_toml(path)


def test_from_toml_refuses_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no study file .*nope.toml"):
        StudyGrid.from_toml(tmp_path / "nope.toml")
