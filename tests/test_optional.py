"""An optional package that is missing is named together with the extra that installs it."""

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
