"""In a real browser: the static site of ``make book``, and the explorers of ``30_explorers.ipynb`` in JupyterLab.

Playwright for Python drives Debian's headless ``chromium`` (``executable_path``; Playwright's own browser download
is neither used nor needed). Without Chromium or the ``book`` extra the whole module is skipped with one line
saying how to enable it. Every wait is on page state (an element, a count, a changed image) and bounded.

``DLN_BOOK_SCREENSHOTS=DIR`` (set by ``make book``) also copies the explorer screenshots into ``DIR``, from where
``scripts/build_book.py`` puts them on the site.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DLN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
_MISSING = [name for name, ok in (("chromium", Path(CHROMIUM).exists()),
                                  ("playwright", importlib.util.find_spec("playwright")),
                                  ("sphinx/myst-nb", importlib.util.find_spec("myst_nb")),
                                  ("jupyterlab", importlib.util.find_spec("jupyterlab"))) if not ok]
if _MISSING:
    pytest.skip(f"browser tests skipped, {' and '.join(_MISSING)} missing: enable them with `apt-get install "
                "chromium` (Debian, as root) and `pip install -e '.[book]'` (DLN_CHROMIUM=/path picks another "
                "Chromium)", allow_module_level=True)

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from book_site import build_book, demo_site  # noqa: E402

WAIT_MS = 60_000  # a DOM wait on a loaded 2-core machine
LAB_WAIT_MS = 240_000  # JupyterLab: loading the app, starting the kernel, running the notebook
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, timeout=WAIT_MS,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


class Watched:
    """A browser context and page that record console errors and uncaught exceptions, and abort (and record) every
    request that leaves ``allowed`` (URL prefixes): the site must not touch the network."""

    def __init__(self, browser, allowed=("file://",), viewport=(1300, 900)):
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.context.route("**/*", self._route)
        self.allowed = tuple(allowed)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"{self.page.url}: {e}"))

    def _console(self, msg):
        if msg.type == "error":
            self.errors.append(f"{self.page.url}: {msg.text}")

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.allowed) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def site():
    return demo_site()


@pytest.fixture()
def watched(browser):
    w = Watched(browser)
    try:
        yield w
    finally:
        w.close()


# ---------------------------------------------------------------------------------------------------------------
# The static site
# ---------------------------------------------------------------------------------------------------------------


def test_landing_page_loads_without_errors_and_every_figure_image_loads(site, watched):
    page = watched.page
    page.goto((site["html"] / "index.html").as_uri())
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    imgs = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
    gallery = [(s, w) for s, w in imgs if "_static/gallery/" in s]
    assert sorted(Path(s).stem for s, _ in gallery) == site["figure_ids"]
    assert all(w > 0 for _, w in imgs), imgs
    assert "_static/screenshots/demo-fig2.png" in [s for s, _ in imgs]
    expect(page.locator("#dln-source")).to_contain_text("03_not_run.ipynb")  # listed as not executed
    assert watched.errors == [] and watched.blocked == []


def test_a_failing_row_is_red_at_the_top_of_the_landing_page(site, watched):
    page = watched.page
    page.goto((site["html"] / "index.html").as_uri())
    box = page.locator("#dln-failures")
    expect(box).to_be_visible()
    expect(box).to_contain_text("1 verification row FAILED")
    expect(box).to_contain_text("demo-fig2-bound")
    assert box.bounding_box()["y"] < 300  # right under the title, in the first screen
    first = page.evaluate("""() => { const b = document.querySelector('#dln-failures');
        const g = document.querySelector('.dln-gallery');
        return !!(b.compareDocumentPosition(g) & Node.DOCUMENT_POSITION_FOLLOWING); }""")
    assert first
    assert box.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(176, 0, 32)"
    assert box.locator("a").first.get_attribute("href") == "notebooks/02_demo.html#claim-demo-fig2-bound"


def test_every_internal_link_of_the_site_resolves(site, watched):
    """Crawl every page reachable from the landing page; every href/src must name an existing file (and an
    existing id for a #fragment); no image, script or style sheet may come from the network."""
    page, root = watched.page, site["html"].resolve()
    todo, ids, problems, fragments = [(root / "index.html").as_uri()], {}, [], []
    collect = """() => Array.from(document.querySelectorAll('a[href]')).map(a => ['a', a.href, a.getAttribute('href')])
        .concat(Array.from(document.querySelectorAll('img[src], script[src], link[href], iframe[src], source[src]'))
        .map(e => [e.tagName.toLowerCase(), e.src || e.href, e.getAttribute('src') || e.getAttribute('href')]))"""
    while todo:
        url = todo.pop()
        if url in ids:
            continue
        page.goto(url)
        ids[url] = set(page.eval_on_selector_all("[id], a[name]",
                                                 "els => els.flatMap(e => [e.id, e.getAttribute('name')])"))
        for tag, absolute, raw in page.evaluate(collect):
            parts = urlsplit(absolute)
            if parts.scheme != "file":
                if tag != "a" and parts.scheme not in ("data", "blob"):
                    problems.append(f"{url}: <{tag}> {raw} loads from the network")
                continue
            if raw.startswith(("/", "file:")):
                problems.append(f"{url}: {raw} is not a relative link")
            target = Path(unquote(parts.path))
            target = target / "index.html" if target.is_dir() else target
            if not target.exists():
                problems.append(f"{url}: {raw} -> missing {target}")
                continue
            if target.suffix == ".html" and root in target.parents:
                todo.append(target.as_uri())
                if parts.fragment and "=" not in parts.fragment:
                    fragments.append((url, raw, target.as_uri(), unquote(parts.fragment)))
    for url, raw, target, frag in fragments:
        if frag not in ids[target]:
            problems.append(f"{url}: {raw} -> no id {frag!r}")
    names = {Path(unquote(urlsplit(u).path)).relative_to(root).as_posix() for u in ids}
    assert {"index.html", "verification.html", "notebooks/01_demo.html", "notebooks/02_demo.html", "quickstart.html",
            "docs/conventions.html", "docs/data.html", "contributing.html", "api/index.html",
            "api/dlnlib.metrics.html"} <= names
    assert problems == []
    assert watched.errors == [] and watched.blocked == []


def test_verification_page_shows_the_report_counts_and_its_filters_work(site, watched):
    page = watched.page
    expected = build_book().report_counts(site["report"].read_text(encoding="utf-8"))
    page.goto((site["html"] / "verification.html").as_uri())
    page.wait_for_selector("#dln-verification[data-ready='1']", state="attached")
    shown = {k: int(page.inner_text(f"#dln-counts [data-status='{k}']")) for k in expected}
    assert shown == expected
    rows = page.locator("#dln-verification tbody tr")
    expect(rows).to_have_count(expected["rows"])
    visible = page.locator("#dln-verification tbody tr:visible")
    for status in ("failed", "passed", "reported", "skipped"):
        page.select_option("#dln-filter-status", status)
        expect(visible).to_have_count(expected[status])
        assert set(visible.evaluate_all("rs => rs.map(r => r.dataset.status)")) == {status}
        expect(page.locator("#dln-shown")).to_have_text(str(expected[status]))
    failed_cell = page.locator("#dln-verification tr[data-status='failed'] td.dln-status").first
    assert failed_cell.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(176, 0, 32)"
    page.click("#dln-filter-reset")
    expect(visible).to_have_count(expected["rows"])
    page.select_option("#dln-filter-figure", "demo-fig1")
    expect(visible).to_have_count(sum(r["figure"] == "demo-fig1" for r in site["rows"]))
    # a link can open the table filtered (the landing page's "all failed rows")
    page.goto((site["html"] / "verification.html").as_uri() + "#status=failed")
    page.wait_for_selector("#dln-verification[data-ready='1']", state="attached")
    expect(visible).to_have_count(expected["failed"])
    expect(visible.locator("a")).to_have_attribute("href", "notebooks/02_demo.html#claim-demo-fig2-bound")
    assert watched.errors == [] and watched.blocked == []


def test_a_notebook_page_shows_its_figures_claim_and_verdict(site, watched):
    page = watched.page
    page.goto((site["html"] / "index.html").as_uri())
    page.locator("#card-demo-fig1 a img").click()  # the thumbnail opens the section drawing the figure
    page.wait_for_url("**/notebooks/01_demo.html#fig-demo-fig1")
    expect(page.locator("#fig-demo-fig1")).to_have_count(1)
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    outputs = page.locator(".cell_output img")
    expect(outputs).to_have_count(1)
    assert outputs.first.evaluate("i => i.naturalWidth") > 0
    body = page.locator(".body")
    expect(body).to_contain_text("Claim. The error of the simulation stays below")
    expect(body).to_contain_text("Verdict: the recursion holds to 3e-14 (tolerance 1e-10): passed")
    expect(page.locator(".dln-nbinfo")).to_contain_text("2 passed")
    expect(page.locator(".dln-nbinfo")).to_contain_text("scale paper")
    page.wait_for_selector("mjx-container svg", timeout=WAIT_MS)  # MathJax, from the site itself, rendered
    assert page.locator("mjx-container").count() >= 2  # the Markdown formula and the LaTeX output
    page.goto((site["html"] / "notebooks" / "02_demo.html").as_uri())
    expect(page.locator(".body")).to_contain_text("Verdict: error 0.5 above the bound 1e-3: FAILED")
    expect(page.locator(".body")).to_contain_text("open this notebook in JupyterLab")  # the widget's stand-in
    assert watched.errors == [] and watched.blocked == []


# ---------------------------------------------------------------------------------------------------------------
# The explorers in JupyterLab
# ---------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (Linux ``/proc``; ``[]`` elsewhere)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    st = Path(f"/proc/{pid}/stat")
    return not (st.exists() and st.read_text().rsplit(")", 1)[1].split()[0] == "Z")


class LabServer:
    """``jupyter lab`` on 127.0.0.1 (free port, a token) in ``root`` with its own config, settings and runtime
    folders; :meth:`stop` shuts its kernels down, stops it and checks that none of its processes is left."""

    def __init__(self, root: Path, notebook_dir: Path):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        settings = root / "settings"
        for ext, name, value in (("notebook-extension", "tracker", {"windowingMode": "none"}),
                                 ("apputils-extension", "notification", {"fetchNews": "false",
                                                                         "checkForUpdates": False})):
            (settings / "@jupyterlab" / ext).mkdir(parents=True, exist_ok=True)
            (settings / "@jupyterlab" / ext / f"{name}.jupyterlab-settings").write_text(json.dumps(value))
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel must use the inline backend
        env.update(JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
                   DLN_FIGURES_DIR=str(root / "figures"), DLN_RESULTS_DIR=str(root / "results"),
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
               f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={self.token}",
               "--ServerApp.password=", f"--ServerApp.root_dir={notebook_dir}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        self.log_path = root / "lab.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=env, cwd=notebook_dir, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.kernels: set[int] = set()

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyter lab exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                self.api("status")
                return
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"jupyter lab did not answer within {timeout} s:\n{self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> list[int]:
        """Shut the kernels down, stop the server (TERM, then KILL after 30 s) and return the pids of its
        processes still alive 20 s later (killed then)."""
        self.kernels.update(_children(self.proc.pid))
        try:
            for k in self.api("kernels") or []:
                self.api(f"kernels/{k['id']}", "DELETE")
        except (OSError, ValueError):
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this test started (the server)
            self.proc.wait(timeout=30)
        self.log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(p) for p in self.kernels):
            time.sleep(0.2)
        left = [p for p in self.kernels if _alive(p)]
        for p in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        return left


# Every code cell has run (or one raised: then its error), the kernel is idle and the three explorers show a plot.
RAN_ALL = """() => {
    const nb = window.jupyterapp.shell.currentWidget;
    const code = nb.content.widgets.filter(c => c.model.type === 'code');
    const errors = code.flatMap(c => c.model.outputs.toJSON().filter(o => o.output_type === 'error')
                                      .map(o => o.ename + ': ' + o.evalue));
    if (errors.length) { return {errors: errors}; }
    const done = code.length > 0 && code.every(c => c.model.executionCount !== null) &&
        nb.sessionContext.kernelDisplayStatus === 'idle' &&
        document.querySelectorAll('.widget-interact .widget-output img').length >= 3;
    return done ? {errors: []} : false;
}"""


def _train(explorer, timeout=LAB_WAIT_MS) -> tuple[str, str]:
    """Press the explorer's Train button and wait until its output shows a new picture; the old and new image src."""
    img = explorer.locator(".widget-output img").first
    old = img.get_attribute("src")
    img.evaluate("i => { i.dataset.old = '1'; }")
    explorer.get_by_role("button", name="Train").click()
    new = explorer.locator(".widget-output img:not([data-old])").first
    new.wait_for(state="visible", timeout=timeout)
    new.evaluate("i => i.decode()")  # fully loaded before a screenshot
    return old, new.get_attribute("src")


KERNEL_IDLE = "() => window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus === 'idle'"


def _set_slider(explorer, label: str, value: str, shown: str) -> None:
    """Type ``value`` into the readout of the explorer's slider labelled ``label``, as a user would, and wait until
    the widget shows it formatted as ``shown`` (the model took it) and the kernel is idle (it has it too)."""
    slider = explorer.locator(".widget-slider").filter(has=explorer.page.locator("label", has_text=label))
    readout = slider.locator(".widget-readout")
    readout.click()
    explorer.page.keyboard.press("Control+A")
    explorer.page.keyboard.type(value)
    explorer.page.keyboard.press("Enter")
    expect(readout).to_have_text(shown)
    explorer.page.wait_for_function(KERNEL_IDLE, timeout=WAIT_MS, polling=100)


def test_explorers_train_in_jupyterlab(browser, tmp_path):
    """Open 30_explorers.ipynb in JupyterLab, run all cells, set the C-DLN explorer's α to 4, press Train and
    see its plot change; a bad control (r̂ < r) shows the explorer's message. Screenshots of each explorer after
    Train go to tmp_path (and to DLN_BOOK_SCREENSHOTS when set)."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / "30_explorers.ipynb", work)
    server = LabServer(tmp_path, work)
    w, t0 = None, time.monotonic()

    def phase(name):  # printed with the server's log when the test fails
        print(f"[{time.monotonic() - t0:6.1f} s] {name}")

    try:
        server.wait_ready()
        phase("server ready")
        w = Watched(browser, allowed=(server.base, f"ws://127.0.0.1:{server.port}"), viewport=(1400, 1000))
        page = w.page
        page.goto(f"{server.base}/lab/tree/30_explorers.ipynb?token={server.token}&reset", timeout=LAB_WAIT_MS,
                  wait_until="domcontentloaded")
        page.wait_for_function("""() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const s = w && w.sessionContext; return !!(s && s.session && s.session.kernel &&
            s.kernelDisplayStatus === 'idle' && w.content && w.content.widgets.length > 0); }""",
                               timeout=LAB_WAIT_MS, polling=250)
        phase("notebook open, kernel idle")
        server.kernels.update(_children(server.proc.pid))
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        ran = page.wait_for_function(RAN_ALL, timeout=LAB_WAIT_MS, polling=500).json_value()
        assert ran["errors"] == [], f"cells raised: {ran['errors']}"
        phase("all cells ran")
        server.kernels.update(_children(server.proc.pid))
        explorers = {name: page.locator(".widget-interact").filter(has=page.locator("option", has_text=option))
                     for name, option in (("explore-lop", "2-D"), ("explore-cdln", "factorisation"),
                                          ("explore-collapse", "orthogonal"))}
        for loc in explorers.values():
            expect(loc).to_have_count(1)

        shots = tmp_path / "screenshots"
        shots.mkdir()
        cdln = explorers["explore-cdln"]
        _set_slider(cdln, "α", "4", shown="4.00")
        old, new = _train(cdln)
        assert new != old, "the C-DLN plot did not change after setting α = 4 and pressing Train"
        cdln.screenshot(path=str(shots / "explore-cdln.png"))
        phase("C-DLN explorer retrained")
        for name in ("explore-lop", "explore-collapse"):
            _train(explorers[name])
            explorers[name].screenshot(path=str(shots / f"{name}.png"))
        phase("other explorers retrained")

        _set_slider(cdln, "r\u0302", "2", shown="2")
        cdln.get_by_role("button", name="Train").click()
        expect(cdln.locator(".widget-output")).to_contain_text(re.compile(r"⚠ .*r_hat = 2"), timeout=LAB_WAIT_MS)
        expect(cdln.locator(".widget-output img")).to_have_count(0)
        phase("bad control showed its message")
        assert w.blocked == [], f"JupyterLab asked the network for {w.blocked}"

        for p in sorted(shots.glob("*.png")):
            assert p.stat().st_size > 1000, f"{p.name} is only {p.stat().st_size} bytes"
        if os.environ.get("DLN_BOOK_SCREENSHOTS"):
            dest = Path(os.environ["DLN_BOOK_SCREENSHOTS"])
            dest.mkdir(parents=True, exist_ok=True)
            for p in shots.glob("*.png"):
                shutil.copy(p, dest / p.name)
    except Exception:
        print(f"--- jupyter lab log (tail) ---\n{server.tail()}")
        raise
    finally:
        if w is not None:
            w.close()
        left = server.stop()
        phase("server stopped")
    assert left == [], f"kernel processes {left} outlived the server (killed)"
    shots = sorted(p.name for p in (tmp_path / "screenshots").glob("*.png"))
    assert shots == ["explore-cdln.png", "explore-collapse.png", "explore-lop.png"], shots
