"""An optional package that is missing is named together with the extra that installs it."""

import io
import sys

import pytest

from tqsim._optional import require


def test_missing_package_names_the_extra_and_keeps_the_cause():
    with pytest.raises(ImportError, match=r'the frobnicator needs the optional package .no_such_pkg_xyz.: '
                                          r'pip install "tqsim\[qasm\]"') as info:
        require("no_such_pkg_xyz.sub", "qasm", "the frobnicator")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_present_package_is_returned():
    import json

    assert require("json", "none", "reading") is json


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def no_tqdm(monkeypatch):
    """tqdm is not installed: importing it fails."""
    monkeypatch.setitem(sys.modules, "tqdm", None)


def _model():
    from tqsim.maxcut import MaxCutProblem, make_ansatz

    return make_ansatz("product", MaxCutProblem.random_regular(6, 3, seed=0), seed=0)


def test_a_progress_bar_asked_for_in_a_terminal_without_tqdm_names_the_progress_extra(no_tqdm, monkeypatch):
    from tqsim.maxcut import train
    from tqsim.maxcut.train import Progress

    monkeypatch.setattr(sys, "stderr", _Terminal())
    message = r"the progress bar needs the optional package 'tqdm': pip install \"tqsim\[progress\]\""
    with pytest.raises(ImportError, match=message):
        train(_model(), steps=2, device="cpu", progress=True)
    with pytest.raises(ImportError, match=message):
        Progress("brute force", True)
    assert sys.stderr.getvalue() == ""


def test_progress_on_by_default_in_a_terminal_without_tqdm_says_so_once_and_runs_without_a_bar(
        no_tqdm, monkeypatch, tmp_path):
    from tqsim.cli import main
    from tqsim.maxcut import train

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["maxcut", "--nodes", "6", "--family", "product", "--family", "qaoa", "--steps", "2",
                 "--device", "cpu", "--out", str(tmp_path)]) == 0
    lines = terminal.getvalue().splitlines()
    assert lines[0] == ("tqsim: the progress bar needs the optional package 'tqdm': pip install \"tqsim[progress]\"; "
                        "running without it")
    assert len(lines) == 2 and lines[1].startswith("wrote ")  # no bar, no second notice
    terminal.seek(0), terminal.truncate()
    assert len(train(_model(), steps=2, device="cpu").history) == 2  # the Python default: the same
    assert terminal.getvalue().splitlines() == lines[:1]


def test_progress_off_a_terminal_is_plain_lines_and_needs_no_tqdm(no_tqdm, capsys):
    from tqsim.maxcut import train

    train(_model(), steps=20, device="cpu", progress=True)
    lines = capsys.readouterr().err.splitlines()
    # a line at every tenth of the steps, each whole: "product [####    ] 2/20  loss ...  0.1s"
    assert [line.split("] ")[1].split("  ")[0] for line in lines] == [f"{2 * i}/20" for i in range(1, 11)]
    assert all(line.startswith("product          [") and "\r" not in line for line in lines)
