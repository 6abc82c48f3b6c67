"""dlnlib.report.lint: each rule fails on a deliberately bad figure and passes on a good one; the hook in
save_figure raises before anything is written; committed paper-scale figures pass the rules their files show.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlnlib.report import figures as RF  # noqa: E402
from dlnlib.report import lint  # noqa: E402
from dlnlib.report.style import use_style  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
INFO = {"caption": "Two curves (ci scale).", "scale": "ci", "preset": "ci"}


@pytest.fixture(autouse=True)
def _style():
    use_style()
    yield
    plt.close("all")


def good(**kw):
    """A figure that passes every rule: two labelled panels, a legend in a free corner."""
    fig, axes = plt.subplots(1, 2, figsize=(5, 2), **kw)
    t = np.linspace(0, 1, 200)
    for ax in axes:
        ax.plot(t, t**2, label="$t^2$")
        ax.plot(t, t**3, "o", ms=2, markevery=20, label="$t^3$")
        ax.set(xlabel="iteration $t$", ylabel="value", title="panel")
    axes[0].legend(loc="upper left")
    return fig, axes


def rules(fig, info=INFO):
    return sorted({p.rule for p in lint.lint_figure(fig, info)})


def test_a_good_figure_passes():
    fig, _ = good()
    assert lint.lint_figure(fig, INFO) == []


def test_overlapping_titles_fail():
    fig, axes = good()
    for ax in axes:
        ax.set_title("L=2, ε=0.001, η=0.007797, r̂=5, a long title that runs on")
    problems = lint.lint_figure(fig, INFO)
    assert [p.rule for p in problems] == ["text-overlap"]
    assert "title of axes 0" in problems[0].message and "title of axes 1" in problems[0].message


def test_crowded_tick_labels_fail():
    fig, axes = good()
    axes[0].set_xticks(np.linspace(0, 1, 30))
    axes[0].xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.4f"))
    problems = lint.lint_figure(fig, INFO)
    assert {p.rule for p in problems} == {"text-overlap"} and "x tick label" in problems[0].message


def test_text_off_the_canvas_fails():
    fig, axes = good(layout="none")
    fig.subplots_adjust(left=0.0, right=1.0)
    with matplotlib.rc_context({"savefig.bbox": "standard"}):
        assert "off-canvas" in rules(fig)


def test_a_legend_on_the_curves_fails_and_in_a_corner_passes():
    fig, axes = good()
    axes[0].legend(loc="center right", frameon=True, markerscale=4, fontsize=12)
    problems = [p for p in lint.lint_figure(fig, INFO) if p.rule == "legend-covers-data"]
    assert problems and "legend of axes 0" in problems[0].message
    share = lint.legend_coverage(axes[0].get_legend(), axes[0], fig.canvas.get_renderer())
    assert share > lint.LEGEND_COVER_MAX
    axes[0].legend(loc="upper left")
    assert rules(fig) == []


def test_a_figure_legend_over_an_axes_counts():
    fig, axes = good()
    axes[0].get_legend().remove()
    fig.legend(*axes[1].get_legend_handles_labels(), loc="center", bbox_to_anchor=(0.75, 0.5), fontsize=14)
    assert "legend-covers-data" in rules(fig)


def test_missing_axis_labels_fail_unless_shared():
    fig, axes = good(sharey=True)
    axes[1].set_ylabel("")  # shared with axes 0, which has it
    assert rules(fig) == []
    axes[1].set_xlabel("")
    problems = lint.lint_figure(fig, INFO)
    assert [p.rule for p in problems] == ["axis-label"] and "no x-label" in problems[0].message
    fig.supxlabel("iteration $t$")  # one label for the figure
    assert rules(fig) == []


def test_3d_axes_need_a_z_label():
    fig = plt.figure(figsize=(3, 3))
    ax = fig.add_subplot(projection="3d")
    ax.plot([0, 1], [0, 1], [0, 1])
    ax.set(xlabel="index $i$", ylabel="iteration $t$")
    assert [p.message for p in lint.check_labels(fig)] == ["axes 0 has data but no z-label"]


@pytest.mark.parametrize("label, bad", [("‖V_{l,2}‖", "_{"), ("ρ^L", "^"), (r"\tilde W", r"\tilde"),
                                        ("v_i(t)", "v_i")])
def test_raw_tex_outside_mathtext_fails(label, bad):
    fig, axes = good()
    axes[1].set_ylabel(label)
    problems = lint.lint_figure(fig, INFO)
    assert [p.rule for p in problems] == ["raw-tex"] and repr(bad) in problems[0].message
    axes[1].set_ylabel(r"$\|W_l V_{l,2}\|$, $\rho^L$, $\tilde W$, final_loss")
    assert rules(fig) == []


def test_a_layout_warning_while_drawing_fails():
    fig, axes = good()
    fig.set_layout_engine("constrained")
    fig.set_size_inches(0.8, 0.6)  # decorations cannot fit: constrained layout gives up and warns
    assert "layout-warning" in rules(fig)


def test_a_layout_warning_while_building_fails():
    lint.watch_layout_warnings()
    fig, axes = good()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = plt.figure()  # the warning is pinned on the figure whose method raised it, not the active one
        fig.subplots_adjust(left=0.2)  # constrained layout: matplotlib ignores it, with a warning
    problems = lint.lint_figure(fig, INFO)
    assert [p.rule for p in problems] == ["layout-warning"] and "subplots_adjust" in problems[0].message
    assert lint.lint_figure(other) == []


@pytest.mark.parametrize("caption", ["", "   ", "Two curves."])
def test_a_caption_empty_or_silent_about_the_scale_fails(caption):
    fig, _ = good()
    assert rules(fig, dict(INFO, caption=caption)) == ["caption"]


def test_captions_name_the_scale():
    assert lint.caption_names_scale("Errors (paper scale).", "paper")
    assert lint.caption_names_scale("Errors (preset 'cpu').", "paper", "cpu")
    assert not lint.caption_names_scale("Errors as in the paper.", "paper")
    assert RF.scale_caption("Errors.", "paper") == "Errors. (paper scale)"


def test_save_figure_lints_what_it_wrote(tmp_path, monkeypatch):
    fig, axes = good()
    axes[1].set_ylabel("ρ^L")
    monkeypatch.setenv("DLN_LINT", "1")
    with pytest.raises(lint.FigureLintError, match=r"figure 'bad-fig' breaks 1 lint rule.*\n  \[raw-tex\]"):
        RF.save_figure(fig, "bad-fig", tmp_path, scale="ci", caption="A figure.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad-fig.json", "bad-fig.pdf", "bad-fig.png"]  # to look at
    monkeypatch.setenv("DLN_LINT", "warn")
    with pytest.warns(UserWarning, match=r"figure 'bad-fig' breaks 1 lint rule"):
        RF.save_figure(fig, "bad-fig", tmp_path, scale="ci", caption="A figure.")
    info = json.loads((tmp_path / "bad-fig.json").read_text())
    assert info["caption"] == "A figure. (ci scale)"


def test_linting_does_not_change_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("DLN_LINT", "0")
    RF.save_figure(good()[0], "f", tmp_path / "off", scale="ci", caption="c", device="cpu: t")
    monkeypatch.setenv("DLN_LINT", "1")
    RF.save_figure(good()[0], "f", tmp_path / "on", scale="ci", caption="c", device="cpu: t")
    for ext in ("pdf", "png"):
        assert (tmp_path / "off" / f"f.{ext}").read_bytes() == (tmp_path / "on" / f"f.{ext}").read_bytes()


def test_lint_files_reads_caption_png_and_pdf(tmp_path):
    RF.save_figure(good()[0], "f", tmp_path, scale="paper", caption="Two curves.", device="cpu: t")
    assert lint.lint_files(tmp_path / "f.json") == []
    info = json.loads((tmp_path / "f.json").read_text())
    (tmp_path / "f.json").write_text(json.dumps(dict(info, caption="")))
    assert [p.rule for p in lint.lint_files(tmp_path / "f.json")] == ["caption"]
    (tmp_path / "f.json").write_text(json.dumps(info))
    (tmp_path / "f.png").write_bytes(b"\x89PNG broken")
    assert [p.rule for p in lint.lint_files(tmp_path / "f.json")] == ["files"]
    fig, ax = plt.subplots(figsize=(6, 2))  # a PNG of another figure beside the PDF: a mismatched set
    ax.plot([0, 1]); ax.set(xlabel="x", ylabel="y")
    fig.savefig(tmp_path / "f.png", format="png")
    plt.close(fig)
    assert "is not f.pdf" in str(lint.lint_files(tmp_path / "f.json")[0])
    (tmp_path / "f.png").unlink()
    assert "f.png is missing" in str(lint.lint_files(tmp_path / "f.json")[0])


COMMITTED = lint.saved_figures(REPO / "figures")


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_committed_paper_figures_pass_the_file_rules(path):
    """Committed figures are paper scale; what can be read from their files holds (make figures regenerates them)."""
    assert json.loads(path.read_text())["scale"] == "paper"
    problems = lint.lint_files(path)
    assert not problems, lint.report(path.stem, problems)


def test_check_figure_names_a_bad_how():
    with pytest.raises(ValueError, match="how must be 'raise', 'warn' or 'off', got 'Raise'"):
        lint.check_figure(good()[0], "f", how="Raise")
