"""`make lab` starts a JupyterLab server in the project's venv that answers on localhost."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("jupyterlab")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_makefile_lab_target_runs_jupyter_lab():
    text = (ROOT / "Makefile").read_text()
    assert "\nlab: venv" in text and "jupyter lab --no-browser --allow-root --ip=127.0.0.1 --notebook-dir=notebooks" in text


def test_lab_server_answers_on_localhost(tmp_path):
    port = _free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--allow-root", "--ServerApp.token=", "--ServerApp.password=", f"--notebook-dir={ROOT / 'notebooks'}"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        info = None
        while time.time() < deadline and info is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as r:
                    info = json.loads(r.read())
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("jupyter lab exited early")
                time.sleep(0.5)
        assert info is not None and "version" in info
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
