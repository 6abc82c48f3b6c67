"""The figure linter: rules a referee would apply to every figure the workbook saves, checked by code.

:func:`lint_figure` draws a figure once and returns the :class:`Problem` s it finds; :func:`check_figure` raises a
:class:`FigureLintError` naming the figure and the rules. :func:`figures.save_figure` calls it after writing when
``DLN_LINT=1`` (``make test``, ``make figures`` and the unit tests set it; ``DLN_LINT=warn`` warns instead).

Rules (the ``rule`` of a :class:`Problem`):

- ``text-overlap``: the boxes of titles, suptitles, axis labels, tick labels, offset texts, free texts,
  annotations and legends (display coordinates after a draw; rotated text: its rotated rectangle,
  :func:`outline`) do not overlap each other more than :data:`OVERLAP_PX` pixels deep (:func:`penetration`),
  and those of one axes do not run into the plotting area of another (where its background would hide them);
- ``off-canvas``: none of those boxes leaves the saved canvas (the figure, or its tight box with
  ``savefig.bbox: tight``);
- ``legend-covers-data``: a legend covers at most :data:`LEGEND_COVER_MAX` of the plotted data of any axes it
  lies on — the lines sampled every :data:`SAMPLE_PX` pixels in display coordinates, plus scatter points; so does
  the text of an annotation or free text in its axes;
- ``axis-label``: every axes with data (lines, scatter, images, patches) has x and y labels (z too in 3-D); a label
  may be shared: another axes sharing that axis has it, or the figure has a ``supxlabel``/``supylabel``;
- ``raw-tex``: no text has ``_{``, ``^``, a TeX command (``\\alpha``) or a one-letter subscript (``W_1``) outside
  mathtext ``$…$``;
- ``layout-warning``: no matplotlib layout warning (``tight_layout``, ``subplots_adjust`` on a constrained
  figure, decorations that do not fit) while drawing, nor, with :func:`watch_layout_warnings` on, while the
  figure was built;
- ``caption``: the caption in the figure's ``.json`` is non-empty and names its scale or preset.

:func:`lint_files` checks a saved figure from its files alone (caption, PNG and PDF readable, sizes): what can be
checked of committed paper-scale figures without redrawing them.

>>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
>>> from dlnlib.report.style import use_style; use_style()
>>> fig, ax = plt.subplots(figsize=(3, 2)); _ = ax.plot([0, 1], [0, 1]); _ = ax.set_xlabel("t")
>>> [p.rule for p in lint_figure(fig, {"caption": "A line (ci scale).", "scale": "ci", "preset": "ci"})]
['axis-label']
>>> plt.close(fig)
"""

from __future__ import annotations

import json
import os
import re
import warnings
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

#: Two text boxes overlapping more than this many pixels deep (at the figure's dpi) collide.
OVERLAP_PX = 1.0
#: The largest share of an axes' plotted data a legend may cover.
LEGEND_COVER_MAX = 0.03
#: Lines are sampled every this many pixels (display coordinates) to measure what a legend covers.
SAMPLE_PX = 2.0
#: Warnings matplotlib gives when a layout could not be applied (matched against the message).
LAYOUT_WARNING = re.compile(r"layout|subplots_adjust|not compatible|decorations|Axes.*too small|too large to fit",
                            re.IGNORECASE)
#: Limits on saved files: PNG width/height in pixels, file sizes in bytes.
PNG_WIDTH = (400, 1600)
PNG_HEIGHT = (200, 2000)
MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class Problem:
    """One broken rule: ``rule`` (its name, e.g. ``"text-overlap"``) and ``message`` (what, where)."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


class FigureLintError(ValueError):
    """A saved figure breaks lint rules; the message names the figure and every broken rule."""


def mode(value: str | None = None) -> str:
    """What ``DLN_LINT`` (or ``value``) asks for: ``"raise"`` (``1``, ``true``, ``yes``, ``raise``), ``"warn"`` or
    ``"off"`` (unset, anything else).

    >>> mode("1"), mode("warn"), mode("0")
    ('raise', 'warn', 'off')
    """
    v = (os.environ.get("DLN_LINT", "") if value is None else value).strip().lower()
    return "raise" if v in ("1", "true", "yes", "raise") else "warn" if v == "warn" else "off"


# ----------------------------------------------------------------------------------------------
# Layout warnings raised while a figure is built (fig.subplots_adjust on a constrained figure, ...)
# ----------------------------------------------------------------------------------------------

_BUILD_WARNINGS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def watch_layout_warnings() -> None:
    """From now on, remember matplotlib's layout warnings (``fig.subplots_adjust`` or ``fig.tight_layout`` on a
    figure with an incompatible layout engine, ...) against the figure they are about, so that :func:`lint_figure`
    reports them for that figure; they are still warned as before. Called by :func:`style.use_style` when
    ``DLN_LINT`` is on; idempotent. (Matplotlib raises them through ``matplotlib._api.warn_external``, which is
    wrapped: a warnings filter or a test's warning capture does not hide them from the linter.)
    """
    from matplotlib import _api

    if getattr(_api.warn_external, "_dln_lint", False):
        return
    original = _api.warn_external

    def warn_external(message, category=None):
        if (category is None or issubclass(category, UserWarning)) and LAYOUT_WARNING.search(str(message)):
            fig = _warning_figure()
            if fig is not None:
                _BUILD_WARNINGS.setdefault(fig, []).append(str(message))
        return original(message, category)

    warn_external._dln_lint = True
    _api.warn_external = warn_external


def _warning_figure():
    """The figure a warning is about: the ``Figure`` whose method is on the call stack (``fig.tight_layout()``,
    ``fig.subplots_adjust()``), else pyplot's active figure."""
    import sys

    from matplotlib._pylab_helpers import Gcf
    from matplotlib.figure import Figure

    f = sys._getframe(1)
    while f is not None:
        if isinstance(f.f_locals.get("self"), Figure):
            return f.f_locals["self"]
        f = f.f_back
    manager = Gcf.get_active()
    return None if manager is None else manager.canvas.figure


# ----------------------------------------------------------------------------------------------
# What is drawn: text boxes, data, labels
# ----------------------------------------------------------------------------------------------


def _shown(t) -> bool:
    return t is not None and t.get_visible() and bool(t.get_text().strip())


def _name(ax, i: int) -> str:
    title = next((t.get_text() for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()), "")
    return f"axes {i}" + (f" ({title[:40]!r})" if title else "")


def _figures(fig) -> list:
    """``fig`` and its subfigures, recursively (each has its own sup-labels and legends)."""
    out = [fig]
    for sub in getattr(fig, "subfigs", []):
        out += _figures(sub)
    return out


def _legends(fig) -> list:
    """``(description, legend)`` of every legend of ``fig``: of its axes, of it and of its subfigures."""
    out = [(f"legend of {_name(ax, i)}", ax.get_legend()) for i, ax in enumerate(_axes_list(fig))]
    for k, f in enumerate(_figures(fig)):
        where = "figure" if k == 0 else f"subfigure {k}"
        out += [(f"{where} legend {j}", leg) for j, leg in enumerate(f.legends)]
    return [(d, leg) for d, leg in out if leg is not None and leg.get_visible()]


def _sup_texts(fig) -> list:
    """``(description, text)`` of the suptitles and sup-labels of ``fig`` and its subfigures."""
    out = []
    for k, f in enumerate(_figures(fig)):
        for name in ("_suptitle", "_supxlabel", "_supylabel"):
            t = getattr(f, name, None)
            if _shown(t):
                out.append((name.strip("_") + ("" if k == 0 else f" of subfigure {k}"), t))
    return out


def _free_texts(fig) -> list:
    """``fig.text(...)`` texts of ``fig`` and its subfigures (not the sup-title/labels, which are texts too)."""
    sup = {id(t) for _, t in _sup_texts(fig)}
    return [t for f in _figures(fig) for t in f.texts if id(t) not in sup]


def _axes_list(fig) -> list:
    """Every axes of ``fig`` including secondary and inset axes (``child_axes``), once each."""
    out, stack = [], list(fig.axes)
    while stack:
        ax = stack.pop(0)
        if ax not in out:
            out.append(ax)
            stack.extend(getattr(ax, "child_axes", []))
    return out


def _is_colorbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None


def _is_3d(ax) -> bool:
    return getattr(ax, "name", "") == "3d"


def _axes_on(ax) -> bool:
    """Whether ``ax`` draws its axes (3-D axes keep ``axison`` off and draw their own)."""
    return bool(ax._axis3don) if _is_3d(ax) else ax.axison


def _axis_list(ax) -> list:
    return [ax.xaxis, ax.yaxis] + ([ax.zaxis] if _is_3d(ax) else [])


def _drawn_ticks(ax, axis) -> list:
    """The ticks of ``axis`` drawn at the last draw (in 3-D: those in the view interval, whose labels the draw
    placed; recomputing them would place the labels in 2-D data coordinates)."""
    if not _is_3d(ax):
        return axis._update_ticks()
    lo, hi = sorted(axis.get_view_interval())
    return [t for t in axis.get_major_ticks() if t.get_loc() is not None and lo <= t.get_loc() <= hi]


def text_boxes(fig, renderer) -> list[tuple[str, object, object]]:
    """``(description, artist, display bbox)`` of every suptitle/sup-label, free text, title, annotation, axis
    label, tick label, offset text and legend of ``fig`` that is drawn (after ``fig.canvas.draw()``)."""
    boxes = []

    def add(desc, t):
        if _shown(t):
            boxes.append((desc, t, t.get_window_extent(renderer)))

    for desc, t in _sup_texts(fig):
        add(desc, t)
    for t in _free_texts(fig):
        add(f"figure text {t.get_text()[:30]!r}", t)
    for i, ax in enumerate(_axes_list(fig)):
        if not ax.get_visible():
            continue
        name = _name(ax, i)
        for t in (ax.title, ax._left_title, ax._right_title):
            add(f"title of {name}", t)
        for t in ax.texts:
            add(f"text {t.get_text()[:30]!r} in {name}", t)
        if _axes_on(ax):
            for axis in _axis_list(ax):
                if not axis.get_visible():
                    continue
                xyz = axis.axis_name
                add(f"{xyz}-label of {name}", axis.label)
                add(f"{xyz} offset text of {name}", axis.offsetText)
                for tick in _drawn_ticks(ax, axis):
                    for lab in (tick.label1, tick.label2):
                        add(f"{xyz} tick label {lab.get_text()!r} of {name}", lab)
    boxes += [(desc, leg, leg.get_window_extent(renderer)) for desc, leg in _legends(fig)]
    return boxes


def _overlap(a, b) -> tuple[float, float]:
    return min(a.x1, b.x1) - max(a.x0, b.x0), min(a.y1, b.y1) - max(a.y0, b.y0)


def _canvas(fig, renderer):
    import matplotlib as mpl
    from matplotlib.transforms import Bbox

    if mpl.rcParams["savefig.bbox"] == "tight":
        tight = fig.get_tightbbox(renderer)
        return Bbox.from_extents(*(np.asarray(tight.extents) * fig.dpi))
    return fig.bbox


def outline(artist, bbox, renderer) -> np.ndarray:
    """The 4 corners ``(4, 2)`` of what ``artist`` covers in display coordinates: its box ``bbox``, or for text
    rotated by a non-right angle (3-D axis labels, slanted tick labels) the rotated rectangle of the text itself,
    not the larger axis-aligned box around it."""
    from matplotlib.text import Text

    x0, y0, x1, y1 = bbox.extents
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    angle = artist.get_rotation() if isinstance(artist, Text) else 0.0
    if abs(angle % 90.0) < 1e-6 or abs(angle % 90.0 - 90.0) < 1e-6:
        return corners
    artist.set_rotation(0.0)
    try:
        flat = artist.get_window_extent(renderer)
    finally:
        artist.set_rotation(angle)
    a = np.deg2rad(angle)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [flat.width / 2, flat.height / 2]
    return corners.mean(0) + half @ R.T


def penetration(p: np.ndarray, q: np.ndarray) -> float:
    """How deep two convex polygons ``p``, ``q`` (``(n, 2)`` corners in order) overlap: the smallest overlap of
    their projections on the edge normals of both (≤ 0: apart; separating axis theorem).

    >>> sq = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    >>> float(penetration(sq, sq + 1.5)), float(penetration(sq, sq + 3))
    (0.5, -1.0)
    """
    depth = np.inf
    for poly in (p, q):
        edges = np.roll(poly, -1, 0) - poly
        for nx, ny in np.stack([-edges[:, 1], edges[:, 0]], 1):
            n = np.array([nx, ny]) / (np.hypot(nx, ny) or 1.0)
            a, b = p @ n, q @ n
            depth = min(depth, min(a.max(), b.max()) - max(a.min(), b.min()))
    return float(depth)


def check_text(fig, renderer) -> list[Problem]:
    """``text-overlap`` and ``off-canvas`` problems of ``fig`` (drawn)."""
    boxes = text_boxes(fig, renderer)
    shapes = [outline(a, bb, renderer) for _, a, bb in boxes]
    out = []
    canvas = _canvas(fig, renderer)
    for desc, _, bb in boxes:
        if (bb.x0 < canvas.x0 - OVERLAP_PX or bb.y0 < canvas.y0 - OVERLAP_PX or bb.x1 > canvas.x1 + OVERLAP_PX
                or bb.y1 > canvas.y1 + OVERLAP_PX):
            out.append(Problem("off-canvas", f"{desc} leaves the canvas"))
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            w, h = _overlap(boxes[i][2], boxes[j][2])
            if w > OVERLAP_PX and h > OVERLAP_PX:
                depth = penetration(shapes[i], shapes[j])
                if depth > OVERLAP_PX:
                    out.append(Problem("text-overlap", f"{boxes[i][0]} overlaps {boxes[j][0]} ({depth:.0f} px deep)"))
    axes = [ax for ax in _axes_list(fig) if ax.get_visible()]
    for (desc, artist, bb), shape in zip(boxes, shapes):
        own = getattr(artist, "axes", None)
        if own is None:
            continue
        for j, other in enumerate(axes):
            if other is own or _related(own, other):
                continue
            w, h = _overlap(bb, other.bbox)
            if w > OVERLAP_PX and h > OVERLAP_PX:
                depth = penetration(shape, outline(None, other.bbox, renderer))
                if depth > OVERLAP_PX:
                    out.append(Problem("text-overlap", f"{desc} runs into the plotting area of {_name(other, j)} "
                                                       f"({depth:.0f} px deep)"))
    return out


def _related(a, b) -> bool:
    """``a`` and ``b`` share a plotting area: twins (same box), or one is a secondary/inset axes of the other."""
    return (a in getattr(b, "child_axes", []) or b in getattr(a, "child_axes", [])
            or np.allclose(a.bbox.extents, b.bbox.extents))


def _sample_line(xy: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` pixels along the polyline ``xy (n, 2)`` (display coordinates; NaN breaks it)."""
    pts = [xy[np.isfinite(xy).all(1)]]
    a, b = xy[:-1], xy[1:]
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    a, b = a[ok], b[ok]
    n = np.minimum(np.ceil(np.hypot(*(b - a).T) / step), 10_000).astype(int)
    for k in np.unique(n[n > 1]):
        sel = n == k
        f = (np.arange(1, k) / k)[None, :, None]
        pts.append((a[sel, None] + f * (b[sel] - a[sel])[:, None]).reshape(-1, 2))
    return np.concatenate(pts) if pts else np.zeros((0, 2))


def data_points(ax) -> np.ndarray:
    """Display coordinates ``(n, 2)`` of the data drawn in ``ax`` and inside it: its lines sampled every
    :data:`SAMPLE_PX` pixels (markers only: their points) and its scatter points."""
    from matplotlib.collections import LineCollection, PathCollection

    pts = []
    for line in ax.lines:
        if not line.get_visible() or len(line.get_xydata()) == 0:
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
        joined = line.get_linestyle() not in ("None", "none", "", " ")
        pts.append(_sample_line(xy, SAMPLE_PX) if joined else xy[np.isfinite(xy).all(1)])
    for c in ax.collections:
        if not c.get_visible():
            continue
        if isinstance(c, PathCollection) and len(c.get_offsets()):
            xy = c.get_offset_transform().transform(np.asarray(c.get_offsets(), dtype=float))
            pts.append(xy[np.isfinite(xy).all(1)])
        elif isinstance(c, LineCollection):
            tr = c.get_transform()
            pts += [_sample_line(tr.transform(np.asarray(s, dtype=float)), SAMPLE_PX) for s in c.get_segments()
                    if len(s)]
    if not pts:
        return np.zeros((0, 2))
    xy = np.concatenate(pts)
    bb = ax.bbox
    return xy[(xy[:, 0] >= bb.x0) & (xy[:, 0] <= bb.x1) & (xy[:, 1] >= bb.y0) & (xy[:, 1] <= bb.y1)]


def covered_share(bbox, ax) -> float:
    """The share of ``ax``'s plotted data (:func:`data_points`) inside the display box ``bbox`` (0 if none)."""
    xy = data_points(ax)
    if not len(xy):
        return 0.0
    inside = (xy[:, 0] >= bbox.x0) & (xy[:, 0] <= bbox.x1) & (xy[:, 1] >= bbox.y0) & (xy[:, 1] <= bbox.y1)
    return float(inside.mean())


def legend_coverage(legend, ax, renderer) -> float:
    """The share of ``ax``'s plotted data inside ``legend``'s box."""
    return covered_share(legend.get_window_extent(renderer), ax)


def check_legends(fig, renderer) -> list[Problem]:
    """``legend-covers-data`` problems: every legend against every 2-D axes it overlaps, and every free text or
    annotation (its text, not its arrow) against its axes."""
    from matplotlib.text import Text

    every = _axes_list(fig)
    axes = [ax for ax in every if ax.get_visible() and not _is_3d(ax) and not _is_colorbar(ax)]
    boxes = [(desc, leg.get_window_extent(renderer), axes) for desc, leg in _legends(fig)]
    boxes += [(f"text {t.get_text()[:30]!r}", Text.get_window_extent(t, renderer), [ax])
              for ax in axes for t in ax.texts if _shown(t)]
    out = []
    for desc, bb, candidates in boxes:
        for ax in candidates:
            w, h = _overlap(bb, ax.bbox)
            if w <= 0 or h <= 0:
                continue
            share = covered_share(bb, ax)
            if share > LEGEND_COVER_MAX:
                out.append(Problem("legend-covers-data", f"{desc} covers {share:.1%} of the data plotted in "
                                   f"{_name(ax, every.index(ax))} (at most {LEGEND_COVER_MAX:.0%})"))
    return out


def has_data(ax) -> bool:
    """Whether ``ax`` draws data: a line with points, a collection, an image or a patch (not only text/frames)."""
    lines = any(line.get_visible() and (len(line.get_xydata()) or len(getattr(line, "_verts3d", [[]])[0]))
                for line in ax.lines)
    return lines or any(c.get_visible() for c in ax.collections) or bool(ax.images) or bool(ax.patches)


def _label_shared(fig, ax, axis) -> bool:
    """``axis`` (``"x"``/``"y"``) of ``ax`` is labelled by an axes sharing it, or by the figure's sup-label."""
    if any(_shown(getattr(f, f"_sup{axis}label", None)) for f in _figures(fig)):
        return True
    group = getattr(ax, f"get_shared_{axis}_axes")()
    return any(_shown(getattr(o, f"{axis}axis").label) for o in group.get_siblings(ax) if o is not ax)


def check_labels(fig) -> list[Problem]:
    """``axis-label`` problems: axes with data whose x, y (or, in 3-D, z) axis has no label."""
    out = []
    for i, ax in enumerate(_axes_list(fig)):
        if not ax.get_visible() or not _axes_on(ax) or _is_colorbar(ax) or not has_data(ax):
            continue
        for axis in _axis_list(ax):
            xyz = axis.axis_name
            if not _shown(axis.label) and not (xyz in "xy" and _label_shared(fig, ax, xyz)):
                out.append(Problem("axis-label", f"{_name(ax, i)} has data but no {xyz}-label"))
    return out


_MATH = re.compile(r"(?<!\\)\$.*?(?<!\\)\$")
_RAW_TEX = re.compile(r"_\{|\^|\\[A-Za-z]+|(?<!\w)[^\W\d_]_\w")


def raw_tex(text: str) -> str | None:
    """The first piece of TeX outside mathtext in ``text`` (``_{``, ``^``, ``\\cmd`` or a one-letter subscript
    ``x_i``), or ``None``.

    >>> raw_tex("$V_{l,2}$ and ρ^L"), raw_tex("W_1 (t)"), raw_tex("final_loss, $\\\\rho^L$, σ₁"), raw_tex("")
    ('^', 'W_1', None, None)
    """
    m = _RAW_TEX.search(_MATH.sub("", text))
    return None if m is None else m.group(0)


def figure_texts(fig) -> list[tuple[str, str]]:
    """``(description, text)`` of every text of ``fig`` a person wrote: titles, axis labels, legend entries and
    titles, annotations and free texts (not the tick labels matplotlib formats)."""
    from matplotlib.text import Text

    out = [(d, t.get_text()) for d, t in _sup_texts(fig)]
    out += [("figure text", t.get_text()) for t in _free_texts(fig) if _shown(t)]
    for i, ax in enumerate(_axes_list(fig)):
        name = _name(ax, i)
        for t in (ax.title, ax._left_title, ax._right_title):
            if _shown(t):
                out.append((f"title of {name}", t.get_text()))
        for axis in _axis_list(ax):
            if _shown(axis.label):
                out.append((f"{axis.axis_name}-label of {name}", axis.label.get_text()))
        out += [(f"text in {name}", t.get_text()) for t in ax.texts if isinstance(t, Text) and _shown(t)]
    for desc, leg in _legends(fig):
        out += [(f"entry of {desc}", t.get_text()) for t in leg.get_texts() if _shown(t)]
        if _shown(leg.get_title()):
            out.append((f"title of {desc}", leg.get_title().get_text()))
    return out


def check_mathtext(fig) -> list[Problem]:
    """``raw-tex`` problems: texts with TeX syntax outside ``$…$``."""
    out = []
    for desc, text in figure_texts(fig):
        bad = raw_tex(text)
        if bad is not None:
            out.append(Problem("raw-tex", f"{desc} {text!r} has {bad!r} outside mathtext $…$"))
    return out


def caption_names_scale(caption: str, scale: str, preset: str | None = None) -> bool:
    """Whether ``caption`` names the scale (``"ci scale"``, ``"scale paper"``) or the preset (``"preset 'cpu'"``).

    >>> caption_names_scale("Errors (ci scale).", "ci"), caption_names_scale("As in the paper.", "paper")
    (True, False)
    >>> caption_names_scale("Errors (preset 'cpu').", "paper", "cpu")
    True
    """
    names = "|".join(re.escape(n) for n in {scale, preset or scale})
    pattern = rf"\b({names})[- ]scale\b|\bscale[:=]?\s*[`'\"]?({names})\b|\bpreset[:=]?\s*[`'\"]?({names})\b"
    return bool(re.search(pattern, caption or "", re.IGNORECASE))


def check_caption(info: dict) -> list[Problem]:
    """``caption`` problems of a figure's ``.json`` record: empty, or silent about its scale/preset."""
    cap = (info.get("caption") or "").strip()
    if not cap:
        return [Problem("caption", "the caption in the figure's .json is empty")]
    if not caption_names_scale(cap, info.get("scale", ""), info.get("preset")):
        return [Problem("caption", f"the caption does not name its scale ({info.get('scale')!r}) or preset "
                                   f"({info.get('preset')!r}): {cap[:80]!r}")]
    return []


@contextmanager
def _agg_canvas(fig) -> Iterator[None]:
    """``fig`` on an Agg canvas for the block (a ``Figure()`` made without pyplot has a canvas that cannot draw);
    its own canvas is put back after."""
    if hasattr(fig.canvas, "get_renderer"):
        yield
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    old = fig.canvas
    FigureCanvasAgg(fig)
    try:
        yield
    finally:
        fig.set_canvas(old)


def draw(fig) -> tuple[object, list[str]]:
    """Draw ``fig`` (as ``savefig`` would lay it out) and return its renderer and the layout warnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)
            and LAYOUT_WARNING.search(str(w.message))]
    return fig.canvas.get_renderer(), msgs


def lint_figure(fig, info: dict | None = None) -> list[Problem]:
    """Every :class:`Problem` of ``fig``: drawn once, then all rules; the caption rule when ``info`` (the figure's
    ``.json`` record) is given."""
    with _agg_canvas(fig):
        renderer, msgs = draw(fig)
        msgs = list(dict.fromkeys(_BUILD_WARNINGS.get(fig, []) + msgs))
        out = [Problem("layout-warning", f"matplotlib warned: {m}") for m in msgs]
        out += check_text(fig, renderer) + check_legends(fig, renderer) + check_labels(fig) + check_mathtext(fig)
    if info is not None:
        out += check_caption(info)
    return out


def report(fig_id: str, problems: Iterable[Problem]) -> str:
    """The message of a :class:`FigureLintError`: the figure and one line per problem."""
    problems = list(problems)
    lines = [f"figure {fig_id!r} breaks {len(problems)} lint rule(s) (dlnlib.report.lint):"]
    return "\n".join(lines + [f"  {p}" for p in problems])


def check_figure(fig, fig_id: str, info: dict | None = None, how: str = "raise") -> list[Problem]:
    """Lint ``fig``; raise a :class:`FigureLintError` (``how="raise"``) or warn (``"warn"``) if a rule is broken
    (``"off"``: only return the problems)."""
    if how not in ("raise", "warn", "off"):
        raise ValueError(f"how must be 'raise', 'warn' or 'off', got {how!r}.")
    problems = lint_figure(fig, info)
    if problems and how == "raise":
        raise FigureLintError(report(fig_id, problems))
    if problems and how == "warn":
        warnings.warn(report(fig_id, problems), stacklevel=3)
    return problems


# ----------------------------------------------------------------------------------------------
# Saved files: what can be checked without redrawing (committed paper-scale figures)
# ----------------------------------------------------------------------------------------------


def _pdf_page_size(data: bytes) -> tuple[float, float] | None:
    m = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", data)
    return None if m is None else (float(m[3]) - float(m[1]), float(m[4]) - float(m[2]))


def lint_files(json_path: str | Path, dpi: float | None = None) -> list[Problem]:
    """Problems of a saved figure ``<id>.json`` with its ``<id>.png`` and ``<id>.pdf``: the caption rule; both files
    there, readable and under :data:`MAX_BYTES`; the PNG's size within :data:`PNG_WIDTH` × :data:`PNG_HEIGHT`; the
    PNG the PDF's page at ``dpi`` (default ``savefig.dpi`` of the style) to within 3 % (4 px at least): both
    files show the same layout (the tight bounding box of text differs by up to ≈ 2 % between the PDF and PNG
    backends, measured on kwon-prop1, kwon-thm2 and talk-t07)."""
    from PIL import Image

    json_path = Path(json_path)
    info = json.loads(json_path.read_text(encoding="utf-8"))
    out = check_caption(info)
    png, pdf = json_path.with_suffix(".png"), json_path.with_suffix(".pdf")
    for p in (png, pdf):
        if not p.is_file():
            out.append(Problem("files", f"{p.name} is missing"))
        elif p.stat().st_size > MAX_BYTES:
            out.append(Problem("files", f"{p.name} has {p.stat().st_size:,} bytes (at most {MAX_BYTES:,})"))
    if out and any(p.rule == "files" and "missing" in p.message for p in out):
        return out
    try:
        with Image.open(png) as im:
            im.load()
            w, h = im.size
    except Exception as e:  # noqa: BLE001 - any decoding failure is the finding
        return out + [Problem("files", f"{png.name} cannot be read: {e}")]
    if not (PNG_WIDTH[0] <= w <= PNG_WIDTH[1] and PNG_HEIGHT[0] <= h <= PNG_HEIGHT[1]):
        out.append(Problem("files", f"{png.name} is {w}×{h} px (width {PNG_WIDTH}, height {PNG_HEIGHT})"))
    data = pdf.read_bytes()
    page = _pdf_page_size(data)
    if not data.startswith(b"%PDF") or b"%%EOF" not in data[-64:] or page is None:
        return out + [Problem("files", f"{pdf.name} is not a complete PDF")]
    if dpi is None:
        from .style import savefig_dpi

        dpi = savefig_dpi()
    want = np.asarray(page) / 72 * dpi
    if (np.abs(want - (w, h)) > np.maximum(4.0, 0.03 * want)).any():  # text extents differ a little by backend
        out.append(Problem("files", f"{png.name} ({w}×{h} px) is not {pdf.name} ({page[0]:.0f}×{page[1]:.0f} pt) "
                                    f"at {dpi:g} dpi"))
    return out


def saved_figures(folder: str | Path) -> list[Path]:
    """The ``<id>.json`` of every figure saved in ``folder`` (not tables, not ``verification.json``)."""
    return sorted(p for p in Path(folder).glob("*.json")
                  if not p.name.endswith(".table.json") and p.name != "verification.json")
