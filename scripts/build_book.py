"""Build the workbook's static site (``make book``) from the notebooks as executed by the last ``make figures``.

    python scripts/build_book.py [--notebooks DIR] [--figures DIR] [--out DIR] [--screenshots DIR] [--api MOD ...]

Writes the pages into ``<out>/src`` (default ``build/book``), then runs Sphinx + myst-nb on them into
``<out>/html`` (open ``<out>/html/index.html``; relative links only, so it works from the file system and from any
static host; nothing is loaded from the network):

- ``index``: a red box listing every failing verification row (if any), where the notebooks come from (paper
  scale from ``build/notebooks/paper``, else ci scale from ``build/notebooks/ci``, said on the page), the notebooks
  that have no executed copy, and the gallery of ``figures/*.png`` (thumbnail -> the notebook section that draws
  the figure; preset, scale, device and runtime from the figure's ``.json``); explorer screenshots when present;
- ``verification``: every row of ``figures/verification.json`` (counts as in ``figures/VERIFICATION.md``),
  colour-coded, filterable by figure, notebook, status and scale, each row linking to the cell of its check;
- ``notebooks/*``: the executed notebooks (never re-executed), with anchors at the sections drawing each figure
  (``#fig-<id>``) and at each check (``#claim-<id>``), and a header naming their scale, figures and checks;
- ``api/*``: ``dlnlib``'s docstrings (autodoc + napoleon); ``docs/*``, ``contributing``, ``quickstart``: the docs,
  with links between them kept and links to files outside the site turned into plain text.

After the build every ``href``/``src`` of the site is checked (:func:`check_site`); a broken one fails the build.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(ROOT))

from dlnlib.report.verification import STATUSES  # noqa: E402

STATUS_ORDER = STATUSES[::-1]  # worst first


# ---------------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Source:
    """Where the executed notebooks come from: ``folder`` (or None), its ``scale`` and a note for the landing page."""

    folder: Path | None
    scale: str | None
    note: str
    fallback: bool = False


def find_executed(build_notebooks: Path) -> Source:
    """``build/notebooks/paper`` when it holds executed notebooks, else ``build/notebooks/ci`` (a fallback the
    landing page says), else none.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); (d / "ci").mkdir()
    >>> _ = (d / "ci" / "01_a.ipynb").write_text("{}")
    >>> s = find_executed(d); s.scale, s.fallback
    ('ci', True)
    """
    for scale in ("paper", "ci"):
        folder = Path(build_notebooks) / scale
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            if scale == "paper":
                return Source(folder, scale, f"The notebooks as executed at paper scale by the last `make figures` "
                                             f"(`{_show(folder)}`).")
            return Source(folder, scale, f"No paper-scale run was found (`{_show(build_notebooks / 'paper')}`): "
                                         f"showing the notebooks as executed at **ci scale** (`{_show(folder)}`, "
                                         "written by `make test`). Run `make figures` for the paper-scale workbook.",
                          fallback=True)
    return Source(None, None, f"No executed notebooks were found in `{_show(build_notebooks)}`: run `make figures` "
                              "(or `make test` for ci scale) first.", fallback=True)


def _show(p: Path) -> str:
    """``p`` relative to the repository when inside it (pages never show this machine's absolute paths)."""
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return Path(p).name


def natural_key(s: str) -> list:
    """Sort key with numbers compared as numbers (``kwon-fig2`` before ``kwon-fig10``).

    >>> sorted(["kwon-fig10", "kwon-fig2", "lop-thm"], key=natural_key)
    ['kwon-fig2', 'kwon-fig10', 'lop-thm']
    """
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


@dataclass
class Figure:
    """A saved figure: ``figures/<id>.png`` and what its ``<id>.json`` says (fields may be missing)."""

    id: str
    png: Path
    info: dict

    @property
    def notebook(self) -> str:
        return self.info.get("notebook") or ""

    @property
    def scale(self) -> str:
        return self.info.get("scale") or ""

    @property
    def preset(self) -> str:
        params = self.info.get("params") if isinstance(self.info.get("params"), dict) else {}
        return str(self.info.get("preset") or params.get("preset") or self.scale)

    def meta(self) -> str:
        """``preset cpu · scale paper · cpu: x86_64, 1 threads · 53.9 s``.

        >>> Figure("a", Path("a.png"), {"scale": "paper", "device": "cpu", "runtime_s": 1.234}).meta()
        'preset paper · scale paper · cpu · 1.23 s'
        """
        parts = []
        if self.preset:
            parts.append(f"preset {self.preset}")
        if self.scale:
            parts.append(f"scale {self.scale}")
        if self.info.get("device"):
            parts.append(str(self.info["device"]))
        rt = self.info.get("runtime_s")
        if isinstance(rt, (int, float)):
            parts.append(f"{rt:.3g} s")
        return " · ".join(parts)


def load_figures(folder: Path) -> list[Figure]:
    """Every ``<id>.png`` of ``folder`` with its ``<id>.json`` (``{}`` when missing or unreadable), sorted by id."""
    figs = []
    for png in Path(folder).glob("*.png"):
        j = png.with_suffix(".json")
        try:
            info = json.loads(j.read_text(encoding="utf-8")) if j.exists() else {}
        except (OSError, ValueError):
            info = {}
        figs.append(Figure(png.stem, png, info if isinstance(info, dict) else {}))
    return sorted(figs, key=lambda f: natural_key(f.id))


def load_verification(folder: Path) -> tuple[list[dict], dict | None]:
    """The rows of ``folder/verification.json`` (normalised, each with ``shown_status``: ``failed`` for an
    asserted row with a problem, as in ``VERIFICATION.md``) and their counts (:func:`summary`); ``([], None)``
    when there is no such file."""
    from dlnlib.report.verification import load_rows, problem, summary

    path = Path(folder) / "verification.json"
    if not path.exists():
        return [], None
    rows = load_rows(path)
    for r in rows:
        r["problem"] = problem(r)
        r["shown_status"] = "failed" if r["problem"] else r["status"]
    return rows, summary(rows)


REPORT_COUNTS = re.compile(r"(\d+) rows; (\d+) passed, (\d+) failed, (\d+) reported, (\d+) skipped")


def report_counts(text: str) -> dict | None:
    """The counts on the summary line of ``VERIFICATION.md``.

    >>> report_counts("467 rows; 255 passed, 0 failed, 210 reported, 2 skipped.")
    {'rows': 467, 'passed': 255, 'failed': 0, 'reported': 210, 'skipped': 2}
    """
    m = REPORT_COUNTS.search(text)
    if not m:
        return None
    return dict(zip(("rows", "passed", "failed", "reported", "skipped"), map(int, m.groups())))


# ---------------------------------------------------------------------------------------------------------------
# Notebooks: anchors at each figure's section and each check, a header, explorer screenshots
# ---------------------------------------------------------------------------------------------------------------


def anchor(kind: str, name: str) -> str:
    """An HTML id for a figure (``fig-…``) or a claim (``claim-…``).

    >>> anchor("claim", "kwon-fig02-order"), anchor("fig", "a b/c")
    ('claim-kwon-fig02-order', 'fig-a-b-c')
    """
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


_LITERAL = re.compile(r"""(?<![A-Za-z0-9_])[rRbBuU]?(["'])([A-Za-z0-9_.:-]+)\1""")


def literals(source: str) -> set[str]:
    """The simple string literals in a code cell's source (ids such as ``"kwon-fig02"``; f-strings excluded).

    >>> sorted(literals('S.check("kwon-thm1-sv", "kwon-thm1", f"x {a}", 1e-10)  # "no"'))
    ['kwon-thm1', 'kwon-thm1-sv', 'no']
    """
    return {m.group(2) for m in _LITERAL.finditer(source)}


def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _is_heading_cell(cell: dict) -> bool:
    return cell.get("cell_type") == "markdown" and any(line.startswith("#") for line in _src(cell).splitlines())


def locate(nb: dict, name: str, *, drawn: bool) -> int | None:
    """The index of the code cell that uses the literal ``name``: for a figure (``drawn``), the cell that saves it
    (``save_figure`` in its source) else the last one naming it; for a claim, the first one naming it."""
    hits = [i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code" and name in literals(_src(c))]
    if not hits:
        return None
    if drawn:
        saving = [i for i in hits if "save_figure" in _src(nb["cells"][i])]
        return (saving or hits)[-1]
    return hits[0]


def section_start(nb: dict, i: int) -> int:
    """The index of the heading cell opening the section that holds cell ``i`` (``i`` itself if none)."""
    for j in range(i, -1, -1):
        if _is_heading_cell(nb["cells"][j]):
            return j
    return i


def _raw_cell(html_text: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {},
            "source": _raw(html_text)}


WIDGET_MIMES = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")


def drop_widget_outputs(nb: dict) -> int:
    """Replace widget outputs (their JavaScript would come from a CDN) by a note; drop the saved widget state.
    Returns how many were replaced."""
    n = 0
    nb.get("metadata", {}).pop("widgets", None)
    note = ('<p class="dln-note">An interactive explorer (ipywidgets): open this notebook in JupyterLab '
            '(<code>make lab</code>) to use it.</p>')
    for cell in nb["cells"]:
        outs = []
        for o in cell.get("outputs", []):
            if any(m in o.get("data", {}) for m in WIDGET_MIMES):
                n += 1
                o = {"output_type": "display_data", "metadata": {}, "data": {"text/html": note}}
            outs.append(o)
        if "outputs" in cell:
            cell["outputs"] = outs
    return n


@dataclass
class Page:
    """A notebook of the site: its name, stem, title, and which figures/claims got an anchor in it."""

    name: str
    title: str
    scale: str = ""
    end_time: str = ""
    error: bool = False
    figures: dict[str, str] = field(default_factory=dict)  # figure id -> anchor
    claims: dict[str, str] = field(default_factory=dict)  # claim id -> anchor

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def link(self, frag: str = "", prefix: str = "") -> str:
        return f"{prefix}notebooks/{self.stem}.html" + (f"#{frag}" if frag else "")


def notebook_title(nb: dict, fallback: str) -> str:
    """The text of the notebook's first ``#`` heading."""
    for c in nb["cells"]:
        if c.get("cell_type") == "markdown":
            for line in _src(c).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def prepare_notebook(nb: dict, name: str, figure_ids: list[str], claim_ids: list[str],
                     screenshots: dict[str, str] | None = None) -> Page:
    """Add anchors (a figure's at the start of the section that saves it, a claim's at its check cell) and
    screenshots (``{figure id: relative src}``, after the cell naming that id) to ``nb`` in place; return the
    :class:`Page`. The header cell is added later by :func:`add_header` (it links the anchors found here)."""
    page = Page(name, notebook_title(nb, Path(name).stem))
    pm = nb.get("metadata", {}).get("papermill", {})
    page.scale = str((pm.get("parameters") or {}).get("scale", ""))
    page.end_time = str(pm.get("end_time") or "")[:19].replace("T", " ")
    page.error = bool(pm.get("exception")) or any(  # an error papermill stopped at, or one nobody expected
        o.get("output_type") == "error" and "raises-exception" not in c.get("metadata", {}).get("tags", [])
        for c in nb["cells"] for o in c.get("outputs", []))
    drop_widget_outputs(nb)
    before: dict[int, list[str]] = {}
    after: dict[int, list[str]] = {}
    for fid in figure_ids:
        i = locate(nb, fid, drawn=True)
        if i is not None:
            page.figures[fid] = anchor("fig", fid)
            mark = f'<div class="dln-anchor" id="{page.figures[fid]}"></div>'
            before.setdefault(section_start(nb, i), []).append(mark)
            if screenshots and fid in screenshots:
                after.setdefault(i, []).append(
                    f'<p class="dln-shots"><b>In JupyterLab</b> (a headless Chromium, after pressing Train):<br>'
                    f'<img src="{html.escape(screenshots[fid])}" alt="{html.escape(fid)} in JupyterLab"></p>')
    for cid in claim_ids:
        i = locate(nb, cid, drawn=False)
        if i is not None and cid not in page.claims:
            page.claims[cid] = anchor("claim", cid)
            before.setdefault(i, []).append(f'<div class="dln-anchor" id="{page.claims[cid]}"></div>')
    cells = []
    for i, c in enumerate(nb["cells"]):
        if i in before:
            cells.append(_raw_cell("\n".join(before[i]), f"dln-before-{i}"))
        cells.append(c)
        if i in after:
            cells.append(_raw_cell("\n".join(after[i]), f"dln-after-{i}"))
    nb["cells"] = cells
    return page


def add_header(nb: dict, page: Page, rows: list[dict], source: Source) -> None:
    """Insert, after the title cell, a box naming the run (scale, time), the figures (links to their sections and
    gallery cards) and the notebook's verification counts (a link to the filtered table)."""
    from collections import Counter

    mine = Counter(r["shown_status"] for r in rows)
    bits = [f"Executed by papermill at scale <b>{html.escape(page.scale or source.scale or '?')}</b>"
            + (f", finished {html.escape(page.end_time)} UTC" if page.end_time else "") + "; shown as executed."]
    if page.error:
        bits.append('<b style="color:#b00020">This notebook raised an error when it was executed (see the red '
                    'output below).</b>')
    if page.figures:
        bits.append("Figures: " + ", ".join(f'<a href="#{a}"><code>{html.escape(f)}</code></a>'
                                             for f, a in page.figures.items()) + ".")
    if rows:
        counts = ", ".join(f'<span class="dln-badge dln-badge-{s}">{mine[s]} {s}</span>' for s in STATUS_ORDER
                           if mine[s])
        bits.append(f'Verification: {counts} — <a href="../verification.html#notebook={page.stem}">'
                    "its rows in the verification report</a>.")
    box = '<div class="dln-nbinfo">' + "<br>".join(bits) + "</div>"
    cells = nb["cells"]
    at = next((i + 1 for i, c in enumerate(cells) if _is_heading_cell(c)), 0)
    cells.insert(at, _raw_cell(box, "dln-header"))


# ---------------------------------------------------------------------------------------------------------------
# Landing page and verification page
# ---------------------------------------------------------------------------------------------------------------


def _fmt(v) -> str:
    """A value as in ``VERIFICATION.md``: 3 significant digits, ``—`` for none, non-finite values as stored."""
    if v is None:
        return "—"
    return f"{v:.3g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _raw(html_text: str) -> str:
    return "```{raw} html\n" + html_text.strip() + "\n```\n"


def row_link(r: dict, pages: dict[str, Page], fig_nb: dict[str, str], prefix: str = "") -> str | None:
    """The link of a verification row: its check cell, else its figure's section, in its notebook's page."""
    nb = fig_nb.get(r["figure"])
    page = pages.get(nb) if nb else None
    if page is None:
        return None
    frag = page.claims.get(r["claim"]) or page.figures.get(r["figure"]) or ""
    return page.link(frag, prefix)


def counts_html(n: dict) -> str:
    """``467 rows; 255 passed, 0 failed, …`` with each count in a span (the browser test reads them)."""
    def span(k):
        cls = "dln-count" + (" dln-failed-count" if k == "failed" else "") + (
            " dln-nonzero" if k == "failed" and n[k] else "")
        return f'<span class="{cls}" data-status="{k}">{n[k]}</span>'

    return (f'<p class="dln-summary" id="dln-counts"><span class="dln-count" data-status="rows">{n["rows"]}</span> '
            f'rows; {span("passed")} passed, {span("failed")} failed, {span("reported")} reported, '
            f'{span("skipped")} skipped.</p>')


def failures_html(rows: list[dict], pages: dict[str, Page], fig_nb: dict[str, str],
                  broken: list[Page] = ()) -> str:
    """The red box at the top of the landing page: every failing row and every notebook that raised; ``""`` if none."""
    failed = [r for r in rows if r["shown_status"] == "failed"]
    if not failed and not broken:
        return ""
    from dlnlib.report.verification import criterion

    items = []
    for r in failed:
        link = row_link(r, pages, fig_nb)
        where = f"{r['figure']} / {r['claim']} ({r['scale']})"
        where = f'<a href="{link}">{html.escape(where)}</a>' if link else html.escape(where)
        items.append(f"<li>{where}: {html.escape(r['statement'])} — value {html.escape(_fmt(r['value']))}, "
                     f"must be {html.escape(criterion(r))}; {html.escape(str(r['problem']))}</li>")
    for p in broken:
        items.append(f'<li>notebook <a href="{p.link()}">{html.escape(p.name)}</a> raised an error when executed</li>')
    title = (f"{len(failed)} verification row{'s' if len(failed) != 1 else ''} FAILED" if failed else
             "A notebook FAILED")
    if failed and broken:
        title += f"; {len(broken)} notebook{'s' if len(broken) != 1 else ''} raised"
    return (f'<div class="dln-failures" id="dln-failures" role="alert"><h2>{title}</h2><ul>{"".join(items)}</ul>'
            '<p><a href="verification.html#status=failed">All failed rows in the verification report</a></p></div>')


def verification_page(rows: list[dict], n: dict | None, pages: dict[str, Page], fig_nb: dict[str, str]) -> str:
    """The verification report as a MyST page: counts, filters (figure, notebook, status, scale) and the table."""
    from dlnlib.report.verification import SYMBOLS

    parts = ["# Verification report", ""]
    if n is None:
        return "\n".join(parts + ["No `verification.json` was found beside the figures: run `make figures`.", ""])
    parts += ["Every numerical claim checked by a notebook, as merged by `python -m dlnlib.report` into "
              "`figures/verification.json` (the same rows and counts as `figures/VERIFICATION.md`). *passed* / "
              "*failed* rows are assertions (the value must meet the criterion); *reported* rows are measured, "
              "not asserted; *skipped* rows were not measured. Each row links to the notebook cell that checks it.",
              ""]

    def options(values, label):
        return f'<option value="">{label}</option>' + "".join(
            f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in values)

    figs = sorted({r["figure"] for r in rows}, key=natural_key)
    nbs = sorted({Path(fig_nb[r["figure"]]).stem for r in rows if fig_nb.get(r["figure"])})
    statuses = [s for s in STATUS_ORDER if any(r["shown_status"] == s for r in rows)]
    scales = sorted({r["scale"] for r in rows})
    head = ["figure", "claim", "scale", "preset", "statement", "direction", "value", "tolerance", "status", "notebook"]
    body = []
    for r in rows:
        link = row_link(r, pages, fig_nb)
        nb = fig_nb.get(r["figure"], "")
        nb_cell = (f'<a href="{link}">{html.escape(Path(nb).stem)}</a>' if link else
                   html.escape(Path(nb).stem + (" (not executed)" if nb else "")))
        d = r.get("direction")
        tip = f' title="{html.escape(str(r["problem"]))}"' if r["problem"] else ""
        stmt = html.escape(r["statement"])
        if r["status"] == "skipped" and r.get("reason"):
            stmt += f'<br><i>skipped: {html.escape(str(r["reason"]))}</i>' if "skipped:" not in r["statement"] else ""
        body.append(
            f'<tr class="dln-status-{r["shown_status"]}" data-figure="{html.escape(r["figure"])}" '
            f'data-notebook="{html.escape(Path(nb).stem)}" data-status="{r["shown_status"]}" '
            f'data-scale="{html.escape(r["scale"])}">'
            f'<td>{html.escape(r["figure"])}</td><td>{html.escape(r["claim"])}</td><td>{html.escape(r["scale"])}</td>'
            f'<td>{html.escape(str(r.get("preset") or ""))}</td><td>{stmt}</td>'
            f'<td class="dln-num">{html.escape(SYMBOLS.get(d, "") if d else "")}</td>'
            f'<td class="dln-num">{html.escape(_fmt(r["value"]))}</td>'
            f'<td class="dln-num">{html.escape(_fmt(r.get("tolerance")))}</td>'
            f'<td class="dln-status"{tip}>{r["shown_status"]}</td><td>{nb_cell}</td></tr>')
    table = (f'<table class="dln-verification" id="dln-verification"><thead><tr>'
             + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>" + "\n".join(body) + "</tbody></table>")
    def select(key, values, label):
        return (f'<label for="dln-filter-{key}">{key}</label>'
                f'<select id="dln-filter-{key}">{options(values, label)}</select>')

    filters = ('<div class="dln-filters">' + select("figure", figs, "all figures")
               + select("notebook", nbs, "all notebooks") + select("status", statuses, "any status")
               + select("scale", scales, "both scales")
               + '<button type="button" id="dln-filter-reset">show all</button>'
               + f'<span><span id="dln-shown">{len(rows)}</span> of {len(rows)} rows shown</span></div>')
    parts.append(_raw(counts_html(n) + "\n" + filters + "\n" + table))
    return "\n".join(parts)


def gallery_html(figs: list[Figure], pages: dict[str, Page], rows: list[dict]) -> str:
    """The cards of some figures: thumbnail linking to the section that draws it, id, checks, meta, caption."""
    from collections import Counter

    per_fig: dict[str, Counter] = {}
    for r in rows:
        per_fig.setdefault(r["figure"], Counter())[r["shown_status"]] += 1
    cards = []
    for f in figs:
        page = pages.get(f.notebook)
        link = page.link(page.figures.get(f.id, "")) if page else None
        img = f'<img src="_static/gallery/thumbs/{f.id}.png" alt="{html.escape(f.id)}">'
        c = per_fig.get(f.id, Counter())
        checks = " ".join(f'<span class="dln-badge dln-badge-{s}">{c[s]} {s}</span>' for s in STATUS_ORDER if c[s])
        checks = f' · <a href="verification.html#figure={html.escape(f.id)}">checks</a> {checks}' if c else ""
        nb_text = (f'<a href="{link}">{html.escape(f.notebook)}</a>' if link else
                   html.escape(f.notebook + " (not executed)") if f.notebook else "notebook unknown")
        cls = "dln-card dln-card-failed" if c["failed"] else "dln-card"
        cards.append(f'<div class="{cls}" id="card-{html.escape(f.id)}">'
                     + (f'<a href="{link}">{img}</a>' if link else img)
                     + f'<div><span class="dln-figid">{html.escape(f.id)}</span> · '
                       f'<a href="_static/gallery/{f.id}.png">full size</a>{checks}</div>'
                     f'<div class="dln-meta">{html.escape(f.meta())}<br>{nb_text}</div>'
                     f'<div class="dln-caption">{html.escape(str(f.info.get("caption", "")))}</div></div>')
    return '<div class="dln-gallery">' + "\n".join(cards) + "</div>"


def landing_page(*, source: Source, figs: list[Figure], pages: dict[str, Page], order: list[str],
                 missing: list[str], rows: list[dict], n: dict | None, fig_nb: dict[str, str],
                 screenshots: dict[str, str], docs: list[str], api: bool) -> str:
    """The landing page: failures (red, first), provenance, summary, gallery by notebook, screenshots, contents."""
    parts = ["# DLN Workbook", ""]
    broken = [pages[k] for k in order if pages[k].error]
    fail = failures_html(rows, pages, fig_nb, broken)
    if fail:
        parts.append(_raw(fail))
    parts += ["The workbook verifies, numerically and in float64, the theorems behind the low-dimensional learning "
              "dynamics of deep linear networks and regenerates the figures of the works it reproduces: each "
              "notebook states a claim, computes, draws the figure and records its verdict.", ""]
    names = {"quickstart": "Quick start", "docs/conventions": "Conventions", "docs/data": "Data sets",
             "contributing": "Contributing"}
    links = ["[Verification report](verification.md)"] + [f"[{names.get(d, d)}]({d}.md)" for d in docs]
    parts += [" · ".join(links + (["[API reference](api/index.md)"] if api else [])), ""]
    cls = "dln-note dln-warn" if source.fallback else "dln-note"
    note = md_inline(source.note)
    if missing:
        note += ("<br><b>Not executed</b> (no executed copy, so no page): "
                 + ", ".join(f"<code>{html.escape(m)}</code>" for m in missing) + ".")
    parts.append(_raw(f'<div class="{cls}" id="dln-source">{note}</div>'))
    if n is not None:
        parts += ["## Verification", "", _raw(counts_html(n)),
                  "See the [verification report](verification.md): every row, filterable by figure, notebook and "
                  "status.", ""]
    parts += ["## Figures", "",
              f"{len(figs)} figures from `figures/` (paper scale, written by `make figures`), in the order of the "
              "notebooks that draw them. A thumbnail opens its notebook at the section drawing the figure.", ""]
    ordered = sorted(figs, key=lambda f: (f.notebook == "", natural_key(f.notebook), natural_key(f.id)))
    parts.append(_raw(gallery_html(ordered, pages, rows)))
    if screenshots:
        parts += ["## Explorers in JupyterLab", "",
                  "Screenshots taken by `tests/test_browser.py` in a headless Chromium after pressing *Train* in "
                  "each explorer of `30_explorers.ipynb` (JupyterLab, `make book`).", ""]
        parts.append(_raw('<div class="dln-shots">' + "".join(
            f'<p><code>{html.escape(k)}</code><br><img src="{html.escape(v)}" alt="{html.escape(k)} in JupyterLab"></p>'
            for k, v in sorted(screenshots.items())) + "</div>"))
    parts += ["## Contents", "", "```{toctree}", ":caption: Workbook", ":maxdepth: 1", "", "verification"]
    parts += [f"notebooks/{Path(k).stem}" for k in order] + ["```", ""]
    parts += ["```{toctree}", ":caption: Documentation", ":maxdepth: 1", ""] + docs + (["api/index"] if api else [])
    parts += ["```", ""]
    return "\n".join(parts)


def md_inline(text: str) -> str:
    """Backticks and ``**bold**`` of a one-line note as HTML (the note sits in a raw HTML block).

    >>> md_inline("run `make figures` **now** <x>")
    'run <code>make figures</code> <b>now</b> &lt;x&gt;'
    """
    t = html.escape(text, quote=False)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)


# ---------------------------------------------------------------------------------------------------------------
# Docs pages and the API reference
# ---------------------------------------------------------------------------------------------------------------

_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)((?:\s+\"[^\"]*\")?)\)")


def rewrite_links(text: str, src: str, page: str, doc_map: dict[str, str]) -> str:
    """Rewrite the relative links of a Markdown file of the repository (``src``, e.g. ``CONTRIBUTING.md``) for its
    page in the site (``page``, e.g. ``contributing.md``): links to files that are pages (``doc_map``: repository
    path -> page path) point to those pages; links to other repository files become their text (the site holds
    only its pages); web links, anchors and code spans are kept.

    >>> m = {"docs/conventions.md": "docs/conventions.md", "figures/VERIFICATION.md": "verification.md"}
    >>> rewrite_links("[c](docs/conventions.md#s2) [v](figures/VERIFICATION.md) [t](dlnlib/theory.py) "
    ...               "[w](https://x.org) `[k](a.py)` [`d`](docs/data.md)", "CONTRIBUTING.md", "contributing.md", m)
    '[c](docs/conventions.md#s2) [v](verification.md) t [w](https://x.org) `[k](a.py)` `d`'
    """
    def fix(m: re.Match) -> str:
        bang, label, target, title = m.groups()
        parts = urlsplit(target)
        if parts.scheme or target.startswith(("#", "//")):
            return m.group(0)
        repo_path = os.path.normpath(os.path.join(os.path.dirname(src), unquote(parts.path)))
        if repo_path in doc_map:
            rel = os.path.relpath(doc_map[repo_path], os.path.dirname(page) or ".")
            return f"{bang}[{label}]({rel}{'#' + parts.fragment if parts.fragment else ''}{title})"
        return label

    code = [m.span() for m in re.finditer(r"(?ms)^(```|~~~).*?^\1|(`+)[^`]*?\2", text)]  # fences, code spans

    def outside_code(m: re.Match) -> str:
        return m.group(0) if any(a < m.start() < b for a, b in code) else fix(m)

    return _LINK.sub(outside_code, text)


def quickstart(readme: str) -> str:
    """The README's quick start as a page: its ``##`` sections headed "Two commands", "Quick start…" or "Getting
    started…", in the README's order (else its first ``##`` section).

    >>> readme = "# T\\nintro\\n## Two commands\\nrun\\n### a\\nx\\n## Layout\\ny\\n## Quick start on data\\nz\\n"
    >>> print(quickstart(readme))
    # Quick start
    <BLANKLINE>
    From the README.
    <BLANKLINE>
    ## Two commands
    run
    ### a
    x
    <BLANKLINE>
    ## Quick start on data
    z
    <BLANKLINE>
    """
    sections = [s for s in re.split(r"(?m)^(?=## )", readme) if s.startswith("## ")]
    chosen = [s for s in sections if re.match(r"## +(two commands|quick ?start|getting started)", s, re.I)]
    body = "\n".join(s.rstrip("\n") + "\n" for s in (chosen or sections[:1]))
    return "# Quick start\n\nFrom the README.\n\n" + body


def api_modules(package: Path = ROOT / "dlnlib") -> list[str]:
    """The public modules of ``dlnlib`` (files, not imported): packages and modules without a leading underscore.

    >>> "dlnlib.theory" in api_modules() and "dlnlib._util" not in api_modules()
    True
    """
    mods = []
    for p in sorted(Path(package).rglob("*.py")):
        rel = p.relative_to(Path(package).parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(x.startswith("_") for x in parts) or "__pycache__" in p.parts:
            continue
        mods.append(".".join(parts))
    return sorted(set(mods), key=lambda m: (m.count("."), m))


def api_pages(modules: list[str]) -> dict[str, str]:
    """``api/index.md`` (grouped by subpackage) and one autodoc page per module."""
    pages = {}
    groups: dict[str, list[str]] = {}
    for m in modules:
        parts = m.split(".")
        groups.setdefault(".".join(parts[:2]) if len(parts) > 2 else parts[0], []).append(m)
    for m in modules:
        is_pkg = (ROOT / Path(*m.split(".")) / "__init__.py").exists()
        opts = "   :no-members:\n" if is_pkg else ""
        pages[f"api/{m}.rst"] = f"{m}\n{'=' * len(m)}\n\n.. automodule:: {m}\n{opts}"
    idx = ["# API reference", "",
           "Generated from the docstrings of `dlnlib` (shapes and formulas as written there). The engine "
           "(`dlnlib.*`) is used by the studies (`dlnlib.studies`, `dlnlib.nonlinear`), which the report layer "
           "(`dlnlib.report`) and the notebooks use.", ""]
    for g in sorted(groups, key=lambda k: (k != "dlnlib", k)):
        idx += ["```{toctree}", f":caption: {g}", ":maxdepth: 1", ""] + groups[g] + ["```", ""]
    pages["api/index.md"] = "\n".join(idx)
    return pages


# ---------------------------------------------------------------------------------------------------------------
# The site's own link check
# ---------------------------------------------------------------------------------------------------------------


def _refs_and_ids(text: str) -> tuple[list[tuple[str, str]], set[str]]:
    from html.parser import HTMLParser

    refs: list[tuple[str, str]] = []
    ids: set[str] = set()

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "span" and "problematic" in (a.get("class") or "").split() and refs and refs[-1][0] == "a":
                refs.pop()  # docutils' link from a markup error in a docstring to its (unshown) message
            for k in ("id", "name") if tag == "a" else ("id",):
                if a.get(k):
                    ids.add(a[k])
            for k in ("href", "src"):
                if a.get(k) is not None and tag in ("a", "img", "link", "script", "iframe", "source", "embed"):
                    refs.append((tag, a[k]))

    P(convert_charrefs=True).feed(text)
    return refs, ids


def check_site(html_dir: Path) -> list[str]:
    """Problems of the built site: a relative ``href``/``src`` to a missing file or to a missing ``#id``, or a
    resource (image, script, style sheet) loaded from another host. ``[]`` when every link resolves.

    Fragments holding ``=`` are filter states of the verification page, not ids.
    """
    html_dir = Path(html_dir).resolve()
    pages = {p: _refs_and_ids(p.read_text(encoding="utf-8", errors="replace")) for p in html_dir.rglob("*.html")}
    problems = []
    for p, (refs, _) in sorted(pages.items()):
        where = p.relative_to(html_dir)
        for tag, ref in refs:
            parts = urlsplit(ref)
            if parts.scheme in ("mailto", "javascript", "data"):
                continue
            if parts.scheme or ref.startswith("//"):
                if tag != "a":
                    problems.append(f"{where}: <{tag}> loads {ref} from the network")
                continue
            target = (p.parent / unquote(parts.path)).resolve() if parts.path else p.resolve()
            if target.is_dir():
                target = target / "index.html"
            if html_dir not in target.parents:
                problems.append(f"{where}: {ref} -> outside the site")
                continue
            if not target.exists():
                problems.append(f"{where}: {ref} -> missing file")
                continue
            frag = unquote(parts.fragment)
            if frag and "=" not in frag and target.suffix == ".html":
                ids = pages[target][1] if target in pages else _refs_and_ids(target.read_text(errors="replace"))[1]
                if frag not in ids:
                    problems.append(f"{where}: {ref} -> no id {frag!r} in {target.relative_to(html_dir)}")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------------------------


class Writer:
    """Writes the generated source tree, touching only files whose content changed (so Sphinx rebuilds only what
    changed), and removes files left from an earlier build."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.written: set[Path] = set()

    def text(self, rel: str, text: str) -> None:
        self.bytes(rel, text.encode("utf-8"))

    def bytes(self, rel: str, data: bytes) -> None:
        p = self.root / rel
        self.written.add(p)
        if p.exists() and p.read_bytes() == data:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    def copy(self, rel: str, src: Path) -> None:
        p = self.root / rel
        self.written.add(p)
        if p.exists() and p.stat().st_size == src.stat().st_size and p.stat().st_mtime >= src.stat().st_mtime:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, p)

    def prune(self) -> None:
        for p in sorted(self.root.rglob("*"), reverse=True):
            if p.is_file() and p not in self.written:
                p.unlink()
            elif p.is_dir() and not any(p.iterdir()):
                p.rmdir()


def thumbnail(png: Path, width: int = 480) -> bytes:
    """A PNG of ``png`` at most ``width`` pixels wide (Pillow, which matplotlib brings)."""
    import io

    from PIL import Image

    with Image.open(png) as im:
        im = im.convert("RGBA") if im.mode not in ("RGB", "RGBA") else im
        if im.width > width:
            im = im.resize((width, max(1, round(im.height * width / im.width))), Image.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=False)
        return buf.getvalue()


def mathjax_file() -> Path | None:
    """MathJax 3's single-file TeX-to-SVG build from the ``django-static-mathjax`` package, or None."""
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        f = Path(loc) / "static" / "mathjax" / "es5" / "tex-svg-full.js"
        if f.exists():
            return f
    return None


def generate(*, notebooks: Path | None, figures: Path, src: Path, screenshots: Path | None = None,
             api: list[str] | None = None, source: Source | None = None, expected: list[str] | None = None,
             readme: Path = ROOT / "README.md", docs_root: Path = ROOT) -> dict:
    """Write the site's source tree into ``src``; return what it holds (for the summary and the tests)."""
    source = source or Source(notebooks, None, f"Executed notebooks from `{_show(notebooks)}`." if notebooks else
                              "No executed notebooks.", fallback=notebooks is None)
    w = Writer(src)
    for p in sorted(BOOK.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            w.copy(str(p.relative_to(BOOK)), p)
    mj = mathjax_file()
    if mj is not None:
        w.copy("_static/mathjax/tex-svg-full.js", mj)
        lic = mj.parents[1] / "LICENSE"
        if lic.exists():
            w.copy("_static/mathjax/LICENSE", lic)

    figs = load_figures(figures)
    rows, n = load_verification(figures)
    for f in figs:
        w.copy(f"_static/gallery/{f.id}.png", f.png)
        w.bytes(f"_static/gallery/thumbs/{f.id}.png", thumbnail(f.png))

    shots: dict[str, str] = {}
    if screenshots and Path(screenshots).is_dir():
        for p in sorted(Path(screenshots).glob("*.png")):
            w.copy(f"_static/screenshots/{p.name}", p)
            shots[p.stem] = f"_static/screenshots/{p.name}"

    # Notebooks: which figure and claim ids each one holds, anchors, header.
    expected = expected if expected is not None else [p.name for p in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))]
    executed = sorted(Path(notebooks).glob("*.ipynb"), key=lambda p: natural_key(p.name)) if notebooks else []
    stale = [p.name for p in executed if p.name not in expected]  # executed copies of notebooks no longer in the repo
    nbs = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in executed if p.name in expected}
    fig_nb = {f.id: f.notebook for f in figs if f.notebook}
    for fid in sorted({r["figure"] for r in rows} | {f.id for f in figs}):
        if fid not in fig_nb:  # no json saying where: the notebook whose code names the figure
            fig_nb.update({fid: name for name, nb in nbs.items() if locate(nb, fid, drawn=True) is not None})
    pages: dict[str, Page] = {}
    for name, nb in nbs.items():
        fids = [f for f, k in fig_nb.items() if k == name]
        cids = [r["claim"] for r in rows if fig_nb.get(r["figure"]) == name]
        rel_shots = {k: "../" + v for k, v in shots.items()}
        pages[name] = prepare_notebook(nb, name, sorted(fids, key=natural_key), cids, rel_shots)
        add_header(nb, pages[name], [r for r in rows if fig_nb.get(r["figure"]) == name], source)
        w.text(f"notebooks/{Path(name).stem}.ipynb", json.dumps(nb, ensure_ascii=False))
    missing = [m for m in expected if m not in nbs]

    # Docs: the repository's Markdown, with links between pages kept.
    doc_files = {"docs/conventions.md": "docs/conventions.md", "docs/data.md": "docs/data.md",
                 "CONTRIBUTING.md": "contributing.md"}
    doc_map = {k: v for k, v in doc_files.items() if (docs_root / k).exists()}
    doc_map.update({"figures/VERIFICATION.md": "verification.md", "README.md": "quickstart.md"})
    doc_map.update({f"notebooks/{k}": f"notebooks/{Path(k).stem}.ipynb" for k in nbs})
    docs = []
    if readme.exists():
        w.text("quickstart.md", rewrite_links(quickstart(readme.read_text(encoding="utf-8")), "README.md",
                                              "quickstart.md", doc_map))
        docs.append("quickstart")
    for repo_path, page in doc_files.items():
        if repo_path in doc_map:
            text = (docs_root / repo_path).read_text(encoding="utf-8")
            w.text(page, rewrite_links(text, repo_path, page, doc_map))
            docs.append(page[:-3])

    modules = api_modules() if api is None else list(api)
    if modules:
        for rel, text in api_pages(modules).items():
            w.text(rel, text)

    w.text("verification.md", verification_page(rows, n, pages, fig_nb))
    order = list(nbs)
    w.text("index.md", landing_page(source=source, figs=figs, pages=pages, order=order, missing=missing, rows=rows,
                                    n=n, fig_nb=fig_nb, screenshots=shots, docs=docs, api=bool(modules)))
    w.prune()
    return {"figures": len(figs), "rows": n, "notebooks": order, "missing": missing, "stale": stale, "pages": pages,
            "screenshots": sorted(shots), "mathjax": mj is not None, "modules": modules}


def sphinx(src: Path, out: Path, doctrees: Path, warnings: Path, jobs: str = "1", in_process: bool = False) -> int:
    """Run Sphinx (HTML) on ``src``; warnings go to ``warnings``; returns Sphinx's exit status.

    ``in_process`` builds in this interpreter (the tests: ``dlnlib`` and torch are imported already), else in a
    fresh one (``make book``).
    """
    args = ["-b", "html", "-q", "-j", jobs, "-d", str(doctrees), "-w", str(warnings), str(src), str(out)]
    if in_process:
        import warnings as _warnings

        from sphinx.cmd.build import build_main

        with _warnings.catch_warnings():  # the extensions' deprecation notices are Sphinx's business, not ours
            _warnings.simplefilter("ignore")
            return build_main(args)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               MPLBACKEND="Agg")
    run = subprocess.run([sys.executable, "-m", "sphinx", *args], env=env, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:  # warnings are in the -w file; a crash's traceback only on stderr
        print(run.stderr[-5000:], file=sys.stderr)
    return run.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebooks", type=Path, help="executed notebooks (default: build/notebooks/paper, else ci)")
    ap.add_argument("--figures", type=Path, help="figures and verification.json (default: DLN_FIGURES_DIR or figures/)")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "book", help="src/, html/ and doctrees/ go here")
    ap.add_argument("--screenshots", type=Path,
                    help="explorer screenshots to show (default: DLN_BOOK_SCREENSHOTS, else <out>/screenshots)")
    ap.add_argument("--api", nargs="*", help="modules of the API reference (default: all public dlnlib modules; "
                                             "none: no API reference)")
    ap.add_argument("--jobs", default="1", help="Sphinx's -j (default 1)")
    ap.add_argument("--no-check", action="store_true", help="skip the link check of the built site")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.notebooks is not None:
        source = Source(args.notebooks, None, f"Executed notebooks from `{_show(args.notebooks)}`.")
    else:
        source = find_executed(ROOT / "build" / "notebooks")
    figures = args.figures or Path(os.environ.get("DLN_FIGURES_DIR") or ROOT / "figures")
    shots = args.screenshots or Path(os.environ.get("DLN_BOOK_SCREENSHOTS") or args.out / "screenshots")
    info = generate(notebooks=source.folder, figures=figures, src=args.out / "src", screenshots=shots,
                    api=args.api, source=source)
    t1 = time.perf_counter()
    warn_file = args.out / "sphinx-warnings.txt"
    rc = sphinx(args.out / "src", args.out / "html", args.out / "doctrees", warn_file, args.jobs)
    t2 = time.perf_counter()
    warns = [w for w in warn_file.read_text(encoding="utf-8").splitlines() if "WARNING" in w or "ERROR" in w] \
        if warn_file.exists() else []
    print(f"[book] {len(info['notebooks'])} executed notebook(s) from {_show(source.folder) if source.folder else '-'}"
          f"{' (fallback: ci scale)' if source.fallback and source.folder else ''}; {info['figures']} figures; "
          f"{info['rows']['rows'] if info['rows'] else 0} verification rows; {len(info['modules'])} API modules; "
          f"{len(info['screenshots'])} screenshot(s); MathJax {'bundled' if info['mathjax'] else 'not installed'}")
    if info["missing"]:
        print(f"[book] not executed (no page): {', '.join(info['missing'])}")
    if info["stale"]:
        print(f"[book] executed copies of notebooks no longer in notebooks/ (not shown): {', '.join(info['stale'])}")
    if warns:
        print(f"[book] {len(warns)} Sphinx warning(s), see {_show(warn_file)}; first ones:")
        for line in warns[:8]:
            print("   ", line[-300:])
    if rc != 0:
        print(f"[book] Sphinx failed (exit {rc})", file=sys.stderr)
        return rc
    problems = [] if args.no_check else check_site(args.out / "html")
    for p in problems[:30]:
        print(f"[book] broken: {p}", file=sys.stderr)
    print(f"[book] pages {t1 - t0:.1f} s, Sphinx {t2 - t1:.1f} s, check {time.perf_counter() - t2:.1f} s -> "
          f"{_show(args.out / 'html' / 'index.html')}")
    if problems:
        print(f"[book] {len(problems)} broken link(s) in the site", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
