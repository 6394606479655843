"""Sphinx configuration for the tqsim documentation site.

Build with ``sphinx-build -W -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``. The gallery is executed from ``examples/`` at
build time, so every figure on the site is made by the code shown beside it.
"""

import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))  # tqsim_docs: docstring and gallery hooks
os.environ.setdefault("MPLBACKEND", "Agg")

import tqsim  # noqa: E402  (after the path is set)

project = "tqsim"
author = "the tqsim developers"
copyright = "2026, the tqsim developers"
release = tqsim.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    "tqsim_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.codeobj.json"]
templates_path = ["_templates"]

# The user guide is Markdown (MyST): the same files render on GitHub.
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# API reference: numpy-style docstrings, one page per public name.
autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # attributes as fields: no second description of a NamedTuple field

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",        # execute every example, not only plot_*
    "within_subsection_order": "tqsim_docs.GalleryOrder",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "seaborn"),
    "capture_repr": (),
    "show_memory": False,
    "line_numbers": False,
    "min_reported_time": 1,
    "reset_argv": "tqsim_docs.quick_argv",
}

html_theme = "furo"
html_title = f"tqsim {release}"
html_static_path = ["_static"]
html_css_files = ["tqsim.css"]
