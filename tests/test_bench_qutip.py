"""`tqsim bench qutip` runs and writes its table, JSON and plot."""

import json
import subprocess
import sys


def test_quick_benchmark_writes_table_json_and_plot(tmp_path):
    out = tmp_path / "bench"
    result = subprocess.run(
        [sys.executable, "-m", "tqsim.cli", "bench", "qutip", "--quick", "--no-memory",
         "--sections", "dm,mps", "--device", "cpu", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "QuTiP 5" in result.stdout
    data = json.loads((out / "bench_qutip.json").read_text())
    sections = {c["section"] for c in data["cases"]}
    assert sections == {"dm partial trace", "MPS: partial trace 6", "MPS: entropy of 6", "MPS: mutual information",
                        "ket as a full MPS: partial trace 7"}
    for case in data["cases"]:
        assert set(case["times"]) == {"qutip", "tqsim"} and all(t > 0 for t in case["times"].values())
    table = (out / "bench_qutip.md").read_text()
    assert table.count("\n| dm partial trace |") == 8
    assert (out / "bench_qutip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_section_is_refused():
    result = subprocess.run([sys.executable, "-m", "tqsim.cli", "bench", "qutip", "--sections", "kets"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "unknown sections ['kets']" in result.stderr


def test_brickwork_layers_alternate_and_match_the_circuit():
    from tqsim.bench.tools import brickwork, brickwork_circuit

    layers = brickwork(5, 4, seed=1)
    assert [pairs for _, pairs in layers] == [[(0, 1), (2, 3)], [(1, 2), (3, 4)]] * 2
    circuit = brickwork_circuit(5, layers)
    assert [op.name for op in circuit].count("ry") == 20 and [op.name for op in circuit].count("cz") == 8
    assert float(circuit[0].params[0]) == layers[0][0][0]
    assert all(0 <= a < 2 * 3.141593 for angles, _ in layers for a in angles)
