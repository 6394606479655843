"""Sphinx hooks for the tqsim site.

- ``GalleryOrder``: the order of the gallery's examples.
- ``quick_argv``: the command line sphinx-gallery gives each example, ``--quick``
  where the example offers that flag (a hook named by import path, so the
  gallery's configuration can be cached between builds).
- Docstrings are written for ``help()``: kets read ``|0...0>`` and powers
  ``2**n``. In reStructuredText ``|...|`` is a substitution and ``**`` starts
  bold, so outside inline literals, literal blocks, directives and tables,
  Dirac notation is shown as code and ``**`` is escaped.
"""

from __future__ import annotations

import pathlib
import re

# Bra-kets <a|b> and <a|B|b> (optionally inside |...|**2), kets |psi> and
# projectors |psi><psi|, bras <psi|, and norms |x| or |x|**2: never a lone "|"
# (as in "int | None") and never bars with spaces inside.
PART = r"[^\s|<>`]*"
DIRAC = re.compile(
    rf"\|?<{PART}\|(?:{PART}\|)?{PART}>\|?(?:\*\*\d+)?"
    rf"|\|{PART}>(?:<{PART}\|)?"
    rf"|<{PART}\|"
    rf"|\|[^\s|<>`]+\|(?:\*\*\d+)?"
)
POWER = re.compile(r"(?<=[\w)\]])\*\*(?=[\w(])")
LITERAL_MARK = "``"
ROLE_TEXT = re.compile(r"(`[^`]*`)")  # :class:`X`, :math:`|x|`, `link`_: left alone


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


def _render_plain_text(text: str) -> str:
    """Dirac notation as inline code and ``**`` escaped, in text outside literals."""
    parts = ROLE_TEXT.split(text)
    return "".join(part if i % 2 else _render_prose(part) for i, part in enumerate(parts))


def _render_prose(text: str) -> str:
    pieces = []
    last = 0
    for match in DIRAC.finditer(text):
        pieces.append(POWER.sub(r"\\*\\*", text[last:match.start()]))
        pieces.append(f"``{match.group(0)}``")
        last = match.end()
    pieces.append(POWER.sub(r"\\*\\*", text[last:]))
    return "".join(pieces)


def render_line(line: str, in_literal: bool = False) -> tuple[str, bool]:
    """One docstring line with its plain text rendered and its literals left alone.

    ``in_literal`` says whether a double-backquote literal opened on an
    earlier line is still open; the state after this line is returned too.
    """
    parts = line.split(LITERAL_MARK)
    for i, part in enumerate(parts):
        inside = in_literal if i % 2 == 0 else not in_literal
        if not inside:
            parts[i] = _render_plain_text(part)
    return LITERAL_MARK.join(parts), in_literal ^ (len(parts) % 2 == 0)


def process_docstring(app, what, name, obj, options, lines) -> None:
    """Render every docstring line but those of literal blocks, directives,
    doctests and tables."""
    block_indent = None  # indent of the line that opened a literal block or a directive
    in_literal = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if block_indent is not None:
            if not stripped or indent > block_indent:
                continue
            block_indent = None
        if stripped.startswith(".."):
            block_indent = indent
            continue
        if stripped.startswith((">>>", "...", "|", "+-", "+=")):
            continue
        lines[i], in_literal = render_line(line, in_literal)
        if stripped.endswith("::"):
            block_indent = indent


def setup(app):
    app.connect("autodoc-process-docstring", process_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
