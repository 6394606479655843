"""Imports point one way (docs: DESIGN.md): tensor <- paulis, states <- info,
observables <- maxcut <- cli. Read from the source, imports inside functions included."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tqsim"


def tqsim_imports(path: pathlib.Path) -> set[str]:
    """The tqsim modules a source file imports, as dotted names (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "tqsim"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] == "tqsim":
                found.add(name)
                found |= {f"{name}.{alias.name}" for alias in node.names}
    return found


def imports_of(files) -> dict[str, set[str]]:
    return {str(path.relative_to(PACKAGE.parent)): tqsim_imports(path) for path in files}


def offending(files, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for name, imported in imports_of(files).items():
        hits = sorted(i for i in imported if any(i == f or i.startswith(f + ".") for f in forbidden))
        if hits:
            bad[name] = hits
    return bad


ABOVE_STATES = ("tqsim.info", "tqsim.observables", "tqsim.maxcut", "tqsim.cli", "tqsim.execution", "tqsim.bench")


def test_the_state_kinds_and_the_pauli_algebra_never_import_upwards():
    files = [*sorted((PACKAGE / "states").glob("*.py")), PACKAGE / "paulis.py"]
    # the states' to_qutip/from_qutip reach tqsim.interop lazily, on the user's call: the one
    # sideways import, allowed because interop itself imports nothing above the states
    assert offending(files, ABOVE_STATES) == {}


def test_info_and_observables_import_nothing_above_them():
    files = [PACKAGE / "info.py", PACKAGE / "observables.py"]
    assert offending(files, ("tqsim.maxcut", "tqsim.cli", "tqsim.bench", "tqsim.nn")) == {}


def test_the_tensor_core_imports_only_itself():
    files = sorted((PACKAGE / "tensor").glob("*.py"))
    outside = {name: sorted(i for i in imported if not i.startswith("tqsim.tensor"))
               for name, imported in imports_of(files).items()}
    assert {name: hits for name, hits in outside.items() if hits} == {}


@pytest.mark.parametrize("source, expected", [
    ("from ..info import entropy\n", {"tqsim.info", "tqsim.info.entropy"}),
    ("def f():\n    from .. import observables\n", {"tqsim", "tqsim.observables"}),
    ("import tqsim.maxcut.train\n", {"tqsim.maxcut.train"}),
])
def test_the_import_reader_sees_relative_and_function_level_imports(tmp_path, source, expected, monkeypatch):
    fake = PACKAGE / "states" / "_layering_probe.py"
    monkeypatch.setattr(pathlib.Path, "read_text", lambda self, *a, **k: source if self == fake else "")
    assert tqsim_imports(fake) == expected
