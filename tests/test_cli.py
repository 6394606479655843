"""The tqsim command."""

import math
import os
import signal
import subprocess
import sys

from tqsim.cli import main


def test_demo_prints_state_probabilities_and_entropy(capsys):
    assert main(["demo", "--qubits", "3", "--angle", "0"]) == 0
    out = capsys.readouterr().out
    # GHZ: |000> and |111> with probability 1/2 each, entropy of one qubit ln 2
    assert "|000>  +0.707107+0.000000j   0.500000" in out
    assert "|111>  +0.707107+0.000000j   0.500000" in out
    assert "|001>" not in out
    assert f"entropy of qubit 0 = {math.log(2):.6f} nats" in out


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "tqsim.cli", "demo", "--qubits", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "entropy of qubit 0" in result.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_python_dash_m_tqsim_runs_the_command():
    result = subprocess.run([sys.executable, "-m", "tqsim", "demo", "--qubits", "2"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "entropy of qubit 0" in result.stdout


def test_ctrl_c_during_the_brute_force_exits_130_with_one_line(tmp_path):
    """24 nodes: 8 chunks of 2**20 cuts, each reported on stderr; SIGINT after the first one stops the search."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tqsim", "maxcut", "--nodes", "24", "--family", "product", "--device", "cpu",
         "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = process.stderr.readline()
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    finally:
        process.kill()
    assert first.startswith("brute force") and "1048576/8388608  cuts scored" in first
    assert process.returncode == 130
    assert rest.strip() == "tqsim maxcut: interrupted"
    assert os.listdir(tmp_path) == []  # the write probe is gone and nothing was half written


def test_a_reader_that_leaves_early_gets_no_traceback():
    # `tqsim demo | head -1`: the pipe closes before the demo has written
    child = subprocess.Popen([sys.executable, "-m", "tqsim", "demo", "--qubits", "12"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    child.stdout.close()
    errors = child.stderr.read().decode()
    assert child.wait(timeout=120) == 1
    assert errors == ""
