"""Sphinx configuration of the nmlc site: the guide pages, the API reference and the generated model catalogue."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the in-tree packages, so the site builds from a checkout without installing nmlc first
for sub in ("validation", "compiler"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

import nmlc

project = "nmlc"
author = "the nmlc developers"
copyright = "the nmlc developers"
release = version = nmlc.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "nmlc.docs.sphinx_ext"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "README.md"]
root_doc = "index"

# the model catalogue (see nmlc.docs.sphinx_ext): library, where the pages go, the results to reuse
nmlc_library = "../library"
nmlc_catalogue_dir = "models"
nmlc_results = "../.nmlc-results"
nmlc_jobs = 2

# math as SVG drawn by matplotlib at build time: no MathJax, no CDN
html_math_renderer = "nmlc_mathtext"

html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["nmlc.css"]
html_favicon = "_static/favicon.svg"
html_title = f"nmlc {release}"
html_theme_options = {
    "description": "A NESTML compiler for NEST, with a library of validated models",
    "page_width": "1180px",
    "sidebar_width": "230px",
    "fixed_sidebar": True,
    "show_relbars": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_show_sourcelink = False

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
nitpicky = False

# pages whose text comes from a Markdown file elsewhere in the repository
nmlc_include_markdown = {"spec-format": "../specs/README.md"}

