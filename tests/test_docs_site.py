"""The documentation site: every public name has a reference page, and the
docstring hook renders kets and powers as valid reStructuredText.

The site itself is built by ``sphinx-build -W`` in CI (.ci/run); these tests
pin what that build cannot notice: a public name left out of the reference.
"""

import importlib
import pathlib
import re
import sys

import docutils.core
import docutils.utils
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
PUBLIC_MODULES = ["tqsim", "tqsim.gates", "tqsim.channels", "tqsim.tensor", "tqsim.info", "tqsim.observables",
                  "tqsim.paulis", "tqsim.maxcut",
                  "tqsim.maxcut.study", "tqsim.nn"]

sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import tqsim_docs  # noqa: E402


def documented_names() -> set[str]:
    """Fully qualified names listed in the reference's autosummary tables."""
    names = set()
    for page in REFERENCE.glob("*.rst"):
        module = None
        in_table = False
        for line in page.read_text().splitlines():
            if line.startswith(".. currentmodule::"):
                module = line.split("::")[1].strip()
            elif line.startswith(".. autosummary::"):
                in_table = True
            elif in_table and re.fullmatch(r"   [A-Za-z_][\w.]*", line):
                names.add(f"{module}.{line.strip()}")
            elif in_table and line and not line.startswith("   "):
                in_table = False
    return names


def resolve(qualified: str):
    """The object a dotted name stands for (module, then attributes)."""
    module_name, _, attribute = qualified.rpartition(".")
    while module_name:
        try:
            target = importlib.import_module(module_name)
            break
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            attribute = f"{head}.{attribute}"
    for part in attribute.split("."):
        target = getattr(target, part)  # AttributeError names a stale entry
    return target


def test_every_public_name_has_a_reference_page():
    documented = documented_names()
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type(module)):
                continue  # subpackages (tq.gates, tq.channels, tq.tensor) have pages of their own
            # documented once, under whichever module shows it (the package face, or the
            # submodule that defines it): the page must stand for this very object
            pages = [n for n in documented if n.endswith("." + name)]
            if not any(resolve(n) is value for n in pages):
                missing.append(f"{module_name}.{name}")
    assert not missing, f"public names without a reference entry: {missing}"


def test_reference_lists_only_names_that_exist():
    for qualified in documented_names():
        resolve(qualified)


def _warnings_of(rst: str) -> list[str]:
    """docutils' own messages for a piece of reStructuredText (level >= warning)."""
    settings = {"report_level": docutils.utils.Reporter.WARNING_LEVEL, "halt_level": 5, "warning_stream": False}
    document = docutils.core.publish_doctree(rst, settings_overrides=settings)
    return [node.astext() for node in document.findall(docutils.nodes.system_message)]


@pytest.mark.parametrize("line, literal, raw_warns", [
    ("iSWAP: swap with a phase i on |01> and |10>.", ["|01>", "|10>"], True),
    ("|<bits|psi>|**2 for one bitstring, in O(n chi**2).", ["|<bits|psi>|**2"], True),
    ("<self|other> of two MPS", ["<self|other>"], False),
    ("Apply the circuit to ``state`` (default |0...0>) and return it.", ["state", "|0...0>"], True),
    ("|amplitude|**2 for every basis state", ["|amplitude|**2"], True),
    ("(|0> + |1>)/sqrt(2), a dict | None", ["|0>", "|1>"], True),
    ("rho = |psi><psi| and <a|H|b>", ["|psi><psi|", "<a|H|b>"], False),  # Sphinx, not docutils, objects
])
def test_dirac_notation_renders_as_literals_without_docutils_warnings(line, literal, raw_warns):
    assert bool(_warnings_of(line)) == raw_warns
    rendered, still_open = tqsim_docs.render_line(line)
    assert not still_open
    assert _warnings_of(rendered) == []
    document = docutils.core.publish_doctree(rendered)
    assert [node.astext() for node in document.findall(docutils.nodes.literal)] == literal


def test_powers_are_escaped_and_literals_untouched():
    rendered, _ = tqsim_docs.render_line("a state of 2**n entries, ``x**2`` stays, :math:`|x|^2` too")
    assert _warnings_of("a state of 2**n entries, *bold") != []
    assert _warnings_of(rendered) == []
    text = docutils.core.publish_doctree(rendered).astext()
    assert "2**n entries" in text and "x**2" in text
    assert ":math:`|x|^2`" in rendered


def test_a_literal_across_two_lines_stays_whole():
    lines = ["The size is ``2**n", "for n qubits`` and 2**n again."]
    tqsim_docs.process_docstring(None, "function", "f", None, {}, lines)
    assert lines == ["The size is ``2**n", "for n qubits`` and 2\\*\\*n again."]
    assert _warnings_of("\n".join(lines)) == []


def test_literal_blocks_directives_doctests_and_tables_are_left_alone():
    lines = ["Example::", "", "    psi = |0>  # code", "", ">>> print('|1>')",
             ".. code-block:: python", "", "    n = 2**k  # |0>", "", ".. math:: e^{x**2}",
             "| a | b |", "after |1> text"]
    original = list(lines)
    tqsim_docs.process_docstring(None, "function", "f", None, {}, lines)
    assert lines[:-1] == original[:-1]
    assert lines[-1] == "after ``|1>`` text"


def test_gallery_gives_quick_only_to_examples_that_offer_it(tmp_path):
    with_flag = tmp_path / "a.py"
    with_flag.write_text('parser.add_argument("--quick", action="store_true")\n')
    without = tmp_path / "b.py"
    without.write_text("print(1)\n")
    assert tqsim_docs.quick_argv({}, {"src_file": str(with_flag)}) == ["--quick"]
    assert tqsim_docs.quick_argv({}, {"src_file": str(without)}) == []
