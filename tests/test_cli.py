"""The tqsim command."""

import math
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
