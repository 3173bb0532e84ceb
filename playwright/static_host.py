"""A plain static host, as an app's own would be: files only, no COOP/COEP, no headers of
tabsqlite's. It serves one folder built from an app's files, a Pyodide at ``pyodide/`` and
the wheels at ``wheels/`` (named in ``wheels/index.json``), and records every path asked
for, so a test can tell what a page loaded from where.

The Pyodide is the npm package's files plus some wheels: Pyodide's full distribution
carries its packages' wheels beside ``pyodide.mjs`` (PyScript loads micropip by name, and
JupyterLite's kernel IPython too), the npm package has none, and the full distribution is a
download this machine cannot make. So the folder adds the same pure-Python wheels from PyPI
and a ``pyodide-lock.json`` whose entries for them have their hashes (nothing else changed)."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYODIDE = ROOT / "js_glue" / "node_modules" / "pyodide"


def pyodide_folder(target: Path, wheels: list[Path]) -> None:
    """Make ``target`` a Pyodide folder: the npm package's files, and ``wheels`` (each one
    its lock lists by that file name) with their hashes in its lock file."""
    target.mkdir(parents=True)
    for item in PYODIDE.iterdir():
        if item.name != "pyodide-lock.json":
            (target / item.name).symlink_to(item)
    lock = json.loads((PYODIDE / "pyodide-lock.json").read_text())
    entries = {entry["file_name"]: entry for entry in lock["packages"].values()}
    for wheel in wheels:
        if wheel.name not in entries:
            raise RuntimeError(f"Pyodide's lock names no {wheel.name}")
        entries[wheel.name]["sha256"] = hashlib.sha256(wheel.read_bytes()).hexdigest()
        shutil.copy(wheel, target / wheel.name)
    (target / "pyodide-lock.json").write_text(json.dumps(lock))


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript",
                      ".wasm": "application/wasm", ".whl": "application/zip"}
    requested: list[str]

    def do_GET(self) -> None:
        self.requested.append(self.path.split("?")[0])
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StaticHost:
    """The folder's URL (``url``) and the paths asked for so far (``requested``)."""

    def __init__(self, url: str, requested: list[str]) -> None:
        self.url = url
        self.requested = requested


@contextmanager
def static_host(site: Path, app: Path, wheels: Path, extra: dict[str, Path] | None = None,
                pyodide_wheels: list[Path] | None = None) -> Iterator[StaticHost]:
    """Serve ``app``'s files with Pyodide and the wheels from ``site`` (made here), and each
    folder of ``extra`` at its name. Pyodide has micropip and ``pyodide_wheels``."""
    site.mkdir(parents=True, exist_ok=True)
    for item in app.iterdir():
        (site / item.name).symlink_to(item)
    for name, folder in (extra or {}).items():
        (site / name).symlink_to(folder)
    (found_micropip,) = sorted(wheels.glob("vendor/micropip-*.whl"))[-1:]
    pyodide_folder(site / "pyodide", [found_micropip, *(pyodide_wheels or [])])
    (site / "wheels").mkdir()
    index = {}
    for pattern, key in (("tabsqlite-*.whl", "tabsqlite"), ("vendor/micropip-*.whl", "micropip")):
        (found,) = sorted(wheels.glob(pattern))[-1:]
        shutil.copy(found, site / "wheels" / found.name)
        index[key] = f"wheels/{found.name}"
    (site / "wheels" / "index.json").write_text(json.dumps(index))
    requested: list[str] = []
    handler = type("Handler", (_Handler,), {"requested": requested})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(site)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaticHost(f"http://127.0.0.1:{httpd.server_address[1]}", requested)
    finally:
        httpd.shutdown()
        httpd.server_close()
