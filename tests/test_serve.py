"""``python -m tabsqlite serve`` from a pip-installed tabsqlite, outside this repository: it
serves a site, a Pyodide and the wheels, or says what is missing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYODIDE = ROOT / "js_glue" / "node_modules" / "pyodide"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(site-packages holding a freshly built tabsqlite wheel, the wheels folder)."""
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o",
                    str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("tabsqlite-*.whl")
    micropip = sorted((ROOT / "dist" / "vendor").glob("micropip-*.whl"))
    assert micropip, "dist/vendor has no micropip wheel: run scripts/setup.sh"
    (wheels / micropip[-1].name).write_bytes(micropip[-1].read_bytes())
    target = tmp_path_factory.mktemp("site-packages")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    return target, wheels


def _serve(installed: tuple[Path, Path], cwd: Path, *args: str) -> subprocess.Popen[str]:
    target, _ = installed
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.Popen([sys.executable, "-m", "tabsqlite", "serve", *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_it_names_what_is_missing(installed: tuple[Path, Path], tmp_path: Path) -> None:
    _, wheels = installed
    (tmp_path / "site").mkdir()
    done = _serve(installed, tmp_path, "--site", "site", "--wheels", str(wheels))
    _, err = done.communicate(timeout=60)
    assert done.returncode != 0 and "pass --pyodide DIR" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _serve(installed, tmp_path, "--site", "site", "--wheels", str(empty),
                  "--pyodide", str(PYODIDE))
    _, err = done.communicate(timeout=60)
    assert done.returncode != 0 and "no tabsqlite or micropip wheel" in err


def test_it_serves_a_site_pyodide_and_the_wheels(installed: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    _, wheels = installed
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>my app</p>")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = _serve(installed, tmp_path, "--site", "site", "--wheels", str(wheels),
                    "--pyodide", str(PYODIDE), "--port", str(port))
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                page = urllib.request.urlopen(f"{base}/index.html", timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"the server did not start: {server.stderr}")
        assert page.read() == b"<p>my app</p>"
        assert page.headers.get("Cross-Origin-Embedder-Policy") is None
        pyodide = urllib.request.urlopen(f"{base}/pyodide/pyodide.mjs", timeout=5)
        assert pyodide.headers["Content-Type"] == "text/javascript"
        index = json.load(urllib.request.urlopen(f"{base}/wheels/index.json", timeout=5))
        assert index["tabsqlite"].startswith("/wheels/tabsqlite-")
        wheel = urllib.request.urlopen(base + index["tabsqlite"], timeout=5).read()
        assert wheel[:2] == b"PK"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}/js_glue/src/shim.mjs", timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=30)
