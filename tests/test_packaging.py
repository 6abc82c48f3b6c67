"""Packaging and notebook hygiene: environment.yml mirrors pyproject.toml; every notebook is stripped, has a
``parameters`` cell with ``scale = "ci"`` and exactly one golden cell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
GOLDEN = "# NBVAL_CHECK_OUTPUT"


def pyproject_requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    return list(project["dependencies"]) + [r for k in ("notebooks", "book", "test") for r in extras.get(k, [])]


def parse_environment_yml(text: str) -> dict:
    """The small subset of YAML that environment.yml uses: ``key: value``, ``key:`` + ``- item`` lists, and
    one nested ``- pip:`` list. Comments and blank lines are ignored."""
    out: dict = {"dependencies": [], "pip": []}
    key, in_pip, pip_indent = None, False, -1
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if indent == 0:
            in_pip = False
            k, _, v = item.partition(":")
            key = k.strip()
            if v.strip():
                out[key] = v.strip()
            else:
                out.setdefault(key, [])
            continue
        if not item.startswith("- "):
            raise ValueError(f"unexpected line in environment.yml: {raw!r}")
        value = item[2:].strip()
        if in_pip and indent > pip_indent:
            out["pip"].append(value)
        elif value == "pip:":
            in_pip, pip_indent = True, indent
        else:
            in_pip = False
            out[key].append(value)
    return out


def test_environment_yml_parser():
    env = parse_environment_yml("name: x  # c\nchannels:\n  - a\ndependencies:\n  - python=3.11\n  - pip\n"
                                "  - pip:\n      - numpy>=1\n      - -e .\n")
    assert env == {"name": "x", "channels": ["a"], "dependencies": ["python=3.11", "pip"], "pip": ["numpy>=1", "-e ."]}


def test_environment_yml_mirrors_pyproject():
    env = parse_environment_yml((REPO / "environment.yml").read_text())
    assert env["name"] == "dln-workbook"
    assert env["channels"] == ["conda-forge"]
    assert env["dependencies"] == ["python=3.11", "pip"]
    pip = env["pip"]
    assert pip[-1] == "-e ."
    reqs = pyproject_requirements()
    assert pip[:-1] == reqs, (
        "environment.yml's pip list must equal pyproject's [project.dependencies] + the notebooks, book and test "
        f"extras, in order.\n  missing from environment.yml: {sorted(set(reqs) - set(pip))}\n"
        f"  not in pyproject.toml: {sorted(set(pip[:-1]) - set(reqs))}")
    assert len(set(pip)) == len(pip)


def test_python_version_is_allowed_by_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lowest = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, "3.11".split("."))) >= tuple(map(int, lowest.split(".")))


# ----------------------------------------------------------------------------------------------
# Notebooks
# ----------------------------------------------------------------------------------------------


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stripped(nb_path):
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "strip_notebooks.py"), "--check", str(nb_path)],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"{nb_path.name} is not stripped; run `make strip`.\n{res.stdout}{res.stderr}"


def _cells(nb_path):
    return json.loads(nb_path.read_text())["cells"]


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_has_a_ci_parameters_cell(nb_path):
    params = [c for c in _cells(nb_path)
              if c["cell_type"] == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{nb_path.name}: needs exactly one code cell tagged 'parameters', found {len(params)}"
    lines = [l.strip() for l in _source(params[0]).splitlines() if l.strip() and not l.strip().startswith("#")]
    assert lines == ['scale = "ci"'], f"{nb_path.name}: the parameters cell must hold exactly scale = \"ci\", got {lines}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_has_one_golden_cell(nb_path):
    golden = [c for c in _cells(nb_path) if c["cell_type"] == "code" and _source(c).lstrip().startswith(GOLDEN)]
    assert len(golden) == 1, f"{nb_path.name}: needs exactly one golden cell ({GOLDEN}), found {len(golden)}"
    assert golden[0].get("outputs"), (
        f"{nb_path.name}: the golden cell has no stored output; copy it from a ci run (scripts/strip_notebooks.py --golden)")


def _modules() -> list[str]:
    """Every module of dlnlib as a path relative to the repository (``dlnlib/...py``), packages' ``__init__`` left out."""
    return sorted(str(p.relative_to(REPO)) for p in (REPO / "dlnlib").rglob("*.py")
                  if p.name != "__init__.py" and "__pycache__" not in p.parts)


def test_readme_layout_lists_every_module():
    """The README's layout table names every module (a row may name two: `a.py`, `b.py` in one directory)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):]
    missing = [m for m in _modules() if f"`{m}`" not in layout and f"`{Path(m).name}`" not in layout]
    assert not missing, f"README's layout table misses {missing}"


def test_package_docstring_lists_every_module():
    import dlnlib

    missing = [m for m in _modules() if Path(m).stem not in dlnlib.__doc__]
    assert not missing, f"dlnlib/__init__.py's docstring misses {missing}"
