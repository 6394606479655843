"""The new gallery examples run as plain scripts, save their figures, and print numbers that oracles confirm.

Each example runs once, from a temporary folder; its figure lands in
``results/examples/`` beside the repository, whatever the working folder.
The oracles: networkx's ``cut_size`` and a brute force over every assignment
for MaxCut; QuTiP (inside the example, whose printed differences are checked
here) and ``log 2`` for the GHZ entropy; NumPy's SVD of the dense state for
the MPS entropies.
"""

import ast
import itertools
import math
import os
import pathlib
import re
import subprocess
import sys

import networkx as nx
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIGURES = ROOT / "results" / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(name: str, cwd: pathlib.Path) -> str:
    """Run ``examples/<name>.py`` from ``cwd``; check that it wrote a PNG figure; return what it printed."""
    figure = FIGURES / f"{name}.png"
    figure.unlink(missing_ok=True)
    env = dict(os.environ, MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True,
                            timeout=300, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    assert figure.is_file(), f"{figure} was not written"
    data = figure.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000, f"{figure} is not a PNG figure"
    assert not (cwd / "results").exists()  # nothing written into the working folder
    return result.stdout


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text}"
    return float(match.group(1))


def test_maxcut_entanglement_example(tmp_path):
    out = run("maxcut_entanglement", tmp_path)

    # the graph as printed, and its optimum by brute force over every assignment (networkx's cut_size)
    edges = ast.literal_eval(re.search(r"^edges: (\[.*\])$", out, re.M).group(1))
    graph = nx.Graph(edges)
    nodes = sorted(graph.nodes)
    assert nodes == list(range(len(nodes))) and all(d == 3 for _, d in graph.degree)
    best = max(nx.cut_size(graph, [v for v, b in zip(nodes, bits) if b])
               for bits in itertools.product((0, 1), repeat=len(nodes)))
    assert number(r"optimum \(brute force\): (\d+)", out) == best
    random_ratio = graph.number_of_edges() / 2 / best
    assert abs(number(r"random cut: expected [\d.]+, ratio ([\d.]+)", out) - random_ratio) < 1e-3

    rows = re.findall(r"^(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+([01]+) \(cut (\d+)\)$",
                      out, re.M)
    assert [r[0] for r in rows] == ["product", "one-directional", "two-directional", "deep", "qaoa"]
    for family, _, expected, readout, final_s, max_s, _, bits, cut in rows:
        expected, readout, final_s, max_s = map(float, (expected, readout, final_s, max_s))
        assert 0 <= expected <= 1 and 0 <= readout <= 1, family
        # the printed best assignment really cuts what the row says, and the ratio is that cut over the optimum
        side = [v for v, b in zip(nodes, bits) if b == "1"]
        assert len(bits) == len(nodes) and nx.cut_size(graph, side) == int(cut), family
        assert abs(readout - int(cut) / best) < 1e-3, family
        assert 0 <= final_s <= max_s <= 5 * math.log(2) + 1e-9, family
    by_family = {r[0]: r for r in rows}
    assert float(by_family["product"][5]) == 0  # a product state never entangles
    assert float(by_family["qaoa"][5]) > 0.1  # QAOA does
    assert max(float(r[2]) for r in rows) > max(0.5, random_ratio)  # training beats a random cut


def test_qutip_comparison_example(tmp_path):
    out = run("qutip_comparison", tmp_path)
    differences = dict(re.findall(r"^max \|tqsim - qutip\| (.+?)\s+(\S+)\s+\(", out, re.M))
    assert set(differences) == {"partial trace", "entropy", "purity", "mutual information", "negativity",
                                "fidelity", "trace distance"}
    for quantity, value in differences.items():
        assert float(value) < 1e-12, (quantity, value)
    assert "largest difference over every quantity and state" in out and "(below 1e-12)" in out

    # the value table: columns are the cases in the header; the GHZ state's entropy and end-to-end
    # mutual information are log 2, its negativity between qubit 0 and qubits 1, 2 is 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("quantity"))
    cases = re.findall(r"\S+ n=\d+|noisy rho n=\d+", header[len("quantity"):])
    table = {}
    for line in lines[lines.index(header) + 1:]:
        match = re.match(r"^(\D+?)\s+((?:-?[\d.]+\s*)+)$", line)
        if not match:
            break
        table[match.group(1)] = dict(zip(cases, map(float, match.group(2).split())))
    ghz = "GHZ n=6"
    assert abs(table["entropy"][ghz] - math.log(2)) < 1e-9
    assert abs(table["mutual information"][ghz] - math.log(2)) < 1e-9
    assert table["negativity"][ghz] == 0
    for name, value in table["fidelity"].items():
        assert 0 < value <= 1, name
    # the MPS holds the same 10-qubit state as the ket, so every quantity matches to the printed digits
    for quantity, row in table.items():
        assert abs(row["MPS n=10"] - row["ket n=10"]) < 1e-8, quantity

    ours = number(r"tqsim trace_distance\s+([\d.]+)", out)
    assert abs(ours - number(r"QuTiP eigenvalues of D\s+([\d.]+)", out)) < 1e-12


def test_mps_at_scale_example(tmp_path):
    out = run("mps_at_scale", tmp_path)

    layers = re.findall(r"^\s+(\d+)\s+(\d+)\s+(\S+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    assert len(layers) == 16
    errors = [float(r[2]) for r in layers]
    for (_, bond, error, estimate, _), previous in zip(layers, [0.0] + errors):
        assert int(bond) <= 32
        assert float(error) >= previous  # accumulated: never shrinks
        assert abs(float(estimate) - (1 - float(error))) < 1e-3  # prod(1 - w) ~ 1 - sum(w) while small
    bonds = ast.literal_eval(re.search(r"bond dimensions after the last layer: (\[.*\])", out).group(1))
    n = len(bonds) + 1
    assert n == 50 and max(bonds) == 32
    assert all(b <= min(32, 2 ** min(c, n - c)) for c, b in enumerate(bonds, 1))

    assert number(r"fidelity with the dense StateVector: ([\d.]+)", out) > 1 - 1e-10
    assert number(r"over all cuts: (\S+)", out) < 1e-10  # against numpy's SVD of the dense amplitudes
    small_bonds = ast.literal_eval(re.search(r"cutoff 0: bonds (\[.*\])", out).group(1))
    assert small_bonds == [2 ** min(c, 12 - c) for c in range(1, 12)]

    truncated = re.findall(r"max_bond\s+(\d+): truncation error (\S+), fidelity estimate ([\d.]+), "
                           r"true fidelity ([\d.]+)", out)
    assert [int(t[0]) for t in truncated] == [32, 16, 8]
    fidelities = [float(t[3]) for t in truncated]
    assert fidelities == sorted(fidelities, reverse=True) and fidelities[-1] < 0.99
    for _, _, estimate, true in truncated:
        assert abs(float(estimate) - float(true)) < 0.01


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
