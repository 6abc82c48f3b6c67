"""Sphinx configuration of the workbook's static site (``make book``; ``scripts/build_book.py`` writes the pages).

``scripts/build_book.py`` copies this file and ``_static/`` into the generated source folder
(``build/book/src``) beside the pages it writes, then runs Sphinx on that folder. The site is built from the
notebooks as executed by ``make figures`` (never re-executed here: ``nb_execution_mode = "off"``), embeds
everything it shows (no CDN: MathJax is served from ``_static/mathjax`` when the ``django-static-mathjax``
package is installed, and widget JavaScript is not loaded) and uses relative links only, so it works from
``file://`` and from any static host.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

project = "DLN Workbook"
author = "DLN Workbook contributors"
copyright = "DLN Workbook contributors"  # noqa: A001 (Sphinx's name)

extensions = [
    "myst_nb",  # Markdown (MyST) and executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

# Notebooks: shown as executed; widgets are shown through their text form (their JavaScript would come from a CDN).
nb_execution_mode = "off"
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None),
                              ("html", "application/vnd.jupyter.widget-state+json", None)]
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3

# API reference from dlnlib's docstrings.
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = True

# Math: MathJax 3 (SVG output: no web fonts) from the site itself; a no-op script when it is not installed.
_MATHJAX = "mathjax/tex-svg-full.js"
mathjax_path = _MATHJAX if (HERE / "_static" / _MATHJAX).exists() else "nomathjax.js"

html_theme = "alabaster"
html_title = "DLN Workbook"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_js_files = ["book.js"]
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "description": "Deep linear networks: claims, computations, figures, verdicts",
    "page_width": "1240px",
    "body_max_width": "none",
    "sidebar_width": "230px",
    "fixed_sidebar": False,
    "show_powered_by": False,
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]
