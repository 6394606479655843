"""The example scripts run as written and print what they promise."""

import math
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
    # a deep random circuit's entropy at every cut is near Page's average for random pure states
    random = [float(v) for v in re.search(r"random state, entropy .*?: \[(.*?)\]", out).group(1).split(",")]
    n = len(random) + 1
    page = [min(k, n - k) - 2.0 ** (2 * min(k, n - k) - n) / (2 * math.log(2)) for k in range(1, n)]
    assert max(abs(a - b) for a, b in zip(random, page)) < 0.2


def test_gradient_example_matches_finite_differences_and_trains():
    out = run("gradient.py")
    auto, fd = map(float, re.search(r"autograd ([+-][\d.]+), finite differences ([+-][\d.]+)", out).groups())
    assert abs(auto - fd) < 1e-6
    energies = [float(v) for v in re.findall(r"energy ([+-][\d.]+)", out)]
    exact = float(re.search(r"exact ground-state energy ([+-][\d.]+)", out).group(1))
    assert energies[-1] < energies[0] and energies[-1] - exact < 0.05


def _load(name: str):
    """Import an example as a module (to call its main and check what it returns)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name[:-3], EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tt_regression_example_reaches_r2_with_3_5_percent_of_parameters():
    """Yinchong Yang's TT regression: training R^2 >= 0.93 (checked with sklearn's r2_score) at ~3.5%."""
    from sklearn.metrics import r2_score

    result = _load("tt_regression.py").main([])
    assert abs(result["fraction"] - 0.035) < 0.002
    assert abs(r2_score(result["target"], result["prediction"]) - result["r2"]) < 1e-5
    assert result["r2"] >= 0.93


def test_digits_compression_example_keeps_accuracy():
    """CP and Tucker convolutions with 3-4x fewer parameters lose at most 1 point after fine-tuning."""
    out = run("digits_compression.py")
    dense = float(re.search(r"test accuracy ([\d.]+)%", out).group(1))
    assert dense >= 95
    for name in ("cp", "tucker"):
        line = next(l for l in out.splitlines() if l.strip().startswith(name + ":"))
        reduction = float(re.search(r"\(([\d.]+)x fewer\)", line).group(1))
        after = float(re.search(r"([\d.]+)% after", line).group(1))
        assert 3.0 <= reduction <= 4.0, line
        assert dense - after <= 1.0, line
