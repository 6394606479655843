"""Sphinx hooks for the tqsim site.

- ``GalleryOrder``: the order of the gallery's examples.
- ``quick_argv``: the command line sphinx-gallery gives each example, ``--quick``
  where the example offers that flag (a hook named by import path, so the
  gallery's configuration can be cached between builds).
- Docstrings are written for ``help()``: kets read ``|0...0>`` and powers
  ``2**n``. In reStructuredText ``|...|`` is a substitution and ``**`` starts
  bold, so outside inline literals those are shown as code and escaped.
"""

from __future__ import annotations

import pathlib
import re

TOKEN = re.compile(r"(\s+)")
POWER = re.compile(r"(?<=[\w)\]])\*\*(?=[\w(])")
LITERAL = re.compile(r"(``.+?``|`[^`]+`)")


#: The order of the gallery: from a first circuit to training, scale and the
#: classical layers. Examples not listed here follow, by file name.
GALLERY_ORDER = ["bell_ghz.py", "gradient.py", "qutip_comparison.py", "maxcut_entanglement.py",
                 "mps_at_scale.py", "tt_regression.py", "digits_compression.py"]


class GalleryOrder:
    """sphinx-gallery's ``within_subsection_order`` key: :data:`GALLERY_ORDER`."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename: str):
        if filename in GALLERY_ORDER:
            return (0, GALLERY_ORDER.index(filename), filename)
        return (1, 0, filename)


def quick_argv(gallery_conf, script_vars) -> list[str]:
    """``["--quick"]`` for the examples whose source offers that flag, else ``[]``."""
    source = pathlib.Path(script_vars["src_file"]).read_text()
    return ["--quick"] if '"--quick"' in source else []


def _render_word(word: str) -> str:
    """A word holding ``|`` (a ket, bra, bracket or norm) as inline code."""
    if "|" not in word:
        return POWER.sub(r"\\*\\*", word)
    core = word.lstrip("([")
    head = word[: len(word) - len(core)]
    stripped = core.rstrip(")].,;:")
    return f"{head}``{stripped}``{core[len(stripped):]}"


def _render_plain_text(text: str) -> str:
    """Kets, bras and norms as inline code, ``**`` escaped, in text outside literals."""
    return "".join(_render_word(word) for word in TOKEN.split(text))


def render_line(line: str) -> str:
    """One docstring line with its plain-text parts rendered; literals left alone."""
    parts = LITERAL.split(line)
    return "".join(part if i % 2 else _render_plain_text(part) for i, part in enumerate(parts))


def process_docstring(app, what, name, obj, options, lines) -> None:
    """Render every docstring line but those of literal blocks and doctests."""
    block_indent = None  # indent of the line that opened a literal block (``::``)
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if block_indent is not None:
            if not stripped or indent > block_indent:
                continue
            block_indent = None
        if stripped.startswith((">>>", "...")):
            continue
        lines[i] = render_line(line)
        if stripped.endswith("::"):
            block_indent = indent


def setup(app):
    app.connect("autodoc-process-docstring", process_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
