"""``scripts/build_book.py`` (``make book``) without a browser: the pages it writes, the site Sphinx builds from them,
its link check, and the wiring (Makefile target, CI installing Chromium). The browser tests are test_browser.py."""

from __future__ import annotations

import doctest
import importlib.util
import json
import re

import pytest

from book_site import EXPECTED, ROOT, build_book, demo_inputs, demo_site

bb = build_book()


def test_build_book_doctests():
    result = doctest.testmod(bb, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 5 and result.failed == 0


def test_the_repository_verification_counts_are_those_of_its_report():
    """The site's verification page counts rows as figures/VERIFICATION.md does (both from verification.json)."""
    figures = ROOT / "figures"
    if not (figures / "verification.json").exists() or not (figures / "VERIFICATION.md").exists():
        pytest.skip("no figures/verification.json or figures/VERIFICATION.md in this checkout")
    _, counts = bb.load_verification(figures)
    assert counts == bb.report_counts((figures / "VERIFICATION.md").read_text(encoding="utf-8"))


def test_pages_hold_the_failures_first_the_gallery_the_rows_and_the_anchors(tmp_path):
    facts = demo_inputs(tmp_path / "in")
    (facts["notebooks"] / "99_removed.ipynb").write_bytes((facts["notebooks"] / "01_demo.ipynb").read_bytes())
    src = tmp_path / "src"
    info = bb.generate(notebooks=facts["notebooks"], figures=facts["figures"], src=src,
                       screenshots=facts["screenshots"], api=["dlnlib.metrics"], expected=EXPECTED)
    assert info["missing"] == ["03_not_run.ipynb"] and info["figures"] == 3
    assert info["stale"] == ["99_removed.ipynb"] and not (src / "notebooks" / "99_removed.ipynb").exists()
    index = (src / "index.md").read_text(encoding="utf-8")
    assert index.index('id="dln-failures"') < index.index("## Figures") < index.index('class="dln-gallery"')
    assert "demo-fig2-bound" in index and "03_not_run.ipynb" in index
    assert 'href="notebooks/01_demo.html#fig-demo-fig1"' in index  # thumbnail -> the section drawing it
    assert "preset cpu · scale paper · cpu: demo, 1 threads · 1.25 s" in index
    for fid in facts["figure_ids"]:
        assert (src / "_static" / "gallery" / "thumbs" / f"{fid}.png").stat().st_size > 0
    ver = (src / "verification.md").read_text(encoding="utf-8")
    assert ver.count("<tr class=\"dln-status-") == len(facts["rows"]) == 5
    assert 'data-status="failed"' in ver and 'href="notebooks/02_demo.html#claim-demo-fig2-bound"' in ver
    nb2 = json.loads((src / "notebooks" / "02_demo.ipynb").read_text(encoding="utf-8"))
    text = json.dumps(nb2)
    assert "widget-view+json" not in text and "widgets" not in nb2["metadata"]
    assert 'id=\\"fig-demo-fig3\\"' in text and 'id=\\"claim-demo-fig3-data\\"' in text
    assert "../_static/screenshots/demo-fig2.png" in text
    sources = ["".join(c["source"]) for c in nb2["cells"]]
    assert sources.index(next(s for s in sources if "dln-nbinfo" in s)) == 1  # the header follows the title
    # rebuilding with nothing changed rewrites nothing (Sphinx then rebuilds nothing)
    stamp = {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.is_file()}
    bb.generate(notebooks=facts["notebooks"], figures=facts["figures"], src=src, screenshots=facts["screenshots"],
                api=["dlnlib.metrics"], expected=EXPECTED)
    assert {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.is_file()} == stamp


def test_the_readme_quick_start_and_docs_links_stay_inside_the_site():
    page = bb.quickstart((ROOT / "README.md").read_text(encoding="utf-8"))
    assert page.startswith("# Quick start") and "make " in page
    doc_map = {"docs/conventions.md": "docs/conventions.md", "CONTRIBUTING.md": "contributing.md"}
    text = bb.rewrite_links((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"), "CONTRIBUTING.md",
                            "contributing.md", doc_map)
    for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", text)):
        assert target.startswith(("http", "#", "docs/conventions.md")), target


@pytest.mark.skipif(importlib.util.find_spec("myst_nb") is None, reason="needs the book extra (sphinx, myst-nb)")
def test_the_demo_site_builds_without_warnings_and_every_link_resolves():
    site = demo_site()
    assert site["warnings"].strip() == ""
    assert bb.check_site(site["html"]) == []
    html = (site["html"] / "index.html").read_text(encoding="utf-8")
    assert "dln-failures" in html and "https://" not in re.sub(r'<a [^>]*href="https?://[^"]*"', "", html)
    assert (site["html"] / "_static" / "mathjax" / "tex-svg-full.js").exists() == bool(site["info"]["mathjax"])
    assert "automodule" not in (site["html"] / "api" / "dlnlib.metrics.html").read_text(encoding="utf-8")
    assert "relative_error" in (site["html"] / "api" / "dlnlib.metrics.html").read_text(encoding="utf-8")


def test_check_site_reports_missing_files_ids_and_network_resources(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="a/b.html#here">ok</a><a href="a/b.html#gone">id</a><a href="nope.html">file</a>'
        '<a href="verification.html#status=failed">filter</a><a href="https://example.org">web link</a>'
        '<img src="https://cdn.example.org/x.png"><script src="_static/x.js"></script>'
        '<a href="#id1"><span class="problematic" id="id2">|x|</span></a><a href="../../etc/passwd">out</a>')
    (tmp_path / "a" / "b.html").write_text('<h1 id="here">b</h1><a href="../index.html">up</a>')
    (tmp_path / "verification.html").write_text("<table></table>")
    problems = bb.check_site(tmp_path)
    assert sorted(problems) == sorted([
        "index.html: a/b.html#gone -> no id 'gone' in a/b.html",
        "index.html: nope.html -> missing file",
        "index.html: <img> loads https://cdn.example.org/x.png from the network",
        "index.html: _static/x.js -> missing file",
        "index.html: ../../etc/passwd -> outside the site"])


def test_find_executed_prefers_paper_and_says_when_it_falls_back_to_ci(tmp_path):
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "01_a.ipynb").write_text("{}")
    ci = bb.find_executed(tmp_path)
    assert ci.fallback and ci.scale == "ci" and "ci scale" in ci.note and "make figures" in ci.note
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "01_a.ipynb").write_text("{}")
    paper = bb.find_executed(tmp_path)
    assert not paper.fallback and paper.scale == "paper" and paper.folder == tmp_path / "paper"
    assert bb.find_executed(tmp_path / "none").folder is None


def test_make_book_and_ci_wiring():
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"(?m)^book: venv$", make) and "scripts/build_book.py" in make
    assert "DLN_BOOK_SCREENSHOTS" in make and "tests/test_browser.py" in make
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.index("apt-get install") < ci.index("make test") and "chromium" in ci and "set -euo pipefail" in ci
