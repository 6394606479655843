"""The example scripts run as written and print what they promise."""

import pathlib
import re
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def run(name: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_bell_ghz_example():
    out = run("bell_ghz.py")
    assert out.count("1.000000 bits (GHZ: exactly 1)") == 3
    counts = [int(v) for v in re.search(r"\[(\d+), (\d+), (\d+), (\d+)\]", out).groups()]
    assert counts[1] == counts[2] == 0 and sum(counts) == 1000


def test_gradient_example_matches_finite_differences_and_trains():
    out = run("gradient.py")
    auto, fd = map(float, re.search(r"autograd ([+-][\d.]+), finite differences ([+-][\d.]+)", out).groups())
    assert abs(auto - fd) < 1e-6
    energies = [float(v) for v in re.findall(r"energy ([+-][\d.]+)", out)]
    exact = float(re.search(r"exact ground-state energy ([+-][\d.]+)", out).group(1))
    assert energies[-1] < energies[0] and energies[-1] - exact < 0.05
