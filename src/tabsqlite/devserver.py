"""A small static server for the browser side: ``python -m tabsqlite serve``.

It serves a site (``/``), a Pyodide (``/pyodide/``), the wheels (``/wheels/``: tabsqlite's
and micropip's, listed in ``/wheels/index.json``) and, in this repository, ``js_glue``
(``/js_glue/``: the shim, sqlite-wasm and Pyodide from its ``node_modules``, for
``startTab`` and the tests' harness). Everything comes from this machine: no CDN. With
``isolated`` it also sends ``Cross-Origin-Opener-Policy: same-origin`` and
``Cross-Origin-Embedder-Policy: require-corp`` (SharedArrayBuffer: only sqlite-wasm's
``opfs`` fallback needs them).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

__all__ = ["DevServer", "StaticServer", "serve"]

_TYPES = {
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".py": "text/x-python; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _wheel_index(directory: Path) -> dict[str, str | None]:
    def newest(pattern: str) -> str | None:
        found = sorted(directory.glob(pattern), key=lambda p: p.stat().st_mtime)
        return f"/wheels/{found[-1].relative_to(directory).as_posix()}" if found else None

    return {
        "tabsqlite": newest("tabsqlite-*-py3-none-any.whl"),
        "micropip": newest("**/micropip-*.whl"),
    }


class _Handler(SimpleHTTPRequestHandler):
    mounts: Mapping[str, Path] = {}
    wheels: Path | None = None
    quiet = True
    isolated = True

    def end_headers(self) -> None:
        if self.isolated:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def guess_type(self, path: Any) -> str:
        return _TYPES.get(Path(str(path)).suffix) or super().guess_type(path)

    def translate_path(self, path: str) -> str:
        url_path = unquote(urlsplit(path).path)
        for prefix in sorted(self.mounts, key=len, reverse=True):
            if url_path == prefix.rstrip("/") or url_path.startswith(prefix):
                root = self.mounts[prefix]
                parts = [p for p in url_path[len(prefix):].split("/") if p not in ("", ".")]
                if ".." in parts or any("\\" in p or "\0" in p for p in parts):
                    return str(root / "__forbidden__")  # (links the site holds are followed)
                return str(root.joinpath(*parts))
        return str(Path("/nonexistent"))

    def do_GET(self) -> None:
        if self.wheels is not None and urlsplit(self.path).path == "/wheels/index.json":
            body = json.dumps(_wheel_index(self.wheels)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def version_string(self) -> str:
        """The Server header: no Python version."""
        return "tabsqlite"

    def list_directory(self, path: Any) -> None:
        """Directories are not listed."""
        self.send_error(404, "Not found")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)


class StaticServer:
    """Static files by URL prefix, in a background thread (used by the tests and the pytest
    plugin).

    :param mounts: folders by URL prefix (``{"/pyodide/": path, "/": site}``); the longest
        prefix that matches serves a request.
    :param host: the address to listen on.
    :param port: the port (0: any free one).
    :param quiet: do not log requests.
    :param isolated: send COOP/COEP (cross-origin isolation, SharedArrayBuffer).
    :param wheels: the folder mounted at ``/wheels/`` whose ``index.json`` is made here.
    """

    def __init__(self, mounts: Mapping[str, Path], host: str = "127.0.0.1", port: int = 0,
                 quiet: bool = True, isolated: bool = False,
                 wheels: Path | None = None) -> None:
        handler = type("Handler", (_Handler,), {
            "mounts": dict(mounts),
            "wheels": wheels,
            "quiet": quiet,
            "isolated": isolated,
        })
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> Self:
        """Start serving in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


class DevServer(StaticServer):
    """A site with a Pyodide, the wheels and (in this repository) ``js_glue``.

    :param site: the folder served at ``/``.
    :param glue: the ``js_glue`` folder, served at ``/js_glue/`` (``None``: not served).
    :param wheels: the folder of wheels, served at ``/wheels/``.
    :param host: the address to listen on.
    :param port: the port (0: any free one).
    :param quiet: do not log requests.
    :param isolated: send COOP/COEP (cross-origin isolation, SharedArrayBuffer); tabsqlite's
        own VFS works without, sqlite-wasm's ``opfs`` VFS does not.
    :param pyodide: the Pyodide folder served at ``/pyodide/`` (``None``: ``glue``'s
        ``node_modules/pyodide``, if there is one).
    """

    def __init__(self, site: Path, glue: Path | None, wheels: Path, host: str = "127.0.0.1",
                 port: int = 0, quiet: bool = True, isolated: bool = True,
                 pyodide: Path | None = None) -> None:
        mounts = {"/wheels/": wheels, "/": site}
        if glue is not None:
            mounts["/js_glue/"] = glue
            if pyodide is None and (glue / "node_modules" / "pyodide").is_dir():
                pyodide = glue / "node_modules" / "pyodide"
        if pyodide is not None:
            mounts["/pyodide/"] = pyodide
        super().__init__(mounts, host, port, quiet, isolated, wheels)


def serve(site: str, wheels: str, host: str, port: int, pyodide: str | None = None,
          glue: str | None = None, isolated: bool = False) -> None:
    """Serve until interrupted, printing the URL.

    :param site: the folder served at ``/``.
    :param wheels: the folder holding the tabsqlite wheel and micropip's (``pip download``).
    :param host: the address to listen on.
    :param port: the port.
    :param pyodide: a Pyodide folder (``pyodide.mjs`` and its files: npm's ``pyodide``
        package or Pyodide's release); ``None``: ``js_glue``'s, in this repository.
    :param glue: the ``js_glue`` folder (only ``startTab`` pages need it); ``None``: not served.
    :param isolated: send COOP/COEP.
    """
    for name, path in (("site", site), ("wheels", wheels)):
        if not os.path.isdir(path):
            raise SystemExit(f"{name} directory not found: {path}")
    if glue is not None and not os.path.isdir(os.path.join(glue, "node_modules")):
        raise SystemExit(f"run 'npm ci' in {glue} first")
    if pyodide is None and glue is None:
        raise SystemExit("pass --pyodide DIR: a folder with Pyodide's pyodide.mjs (npm's "
                         "pyodide package, or a Pyodide release)")
    if pyodide is not None and not os.path.isfile(os.path.join(pyodide, "pyodide.mjs")):
        raise SystemExit(f"no pyodide.mjs in {pyodide}")
    index = _wheel_index(Path(wheels))
    missing = [name for name, url in index.items() if url is None]
    if missing:
        raise SystemExit(f"no {' or '.join(missing)} wheel in {wheels} (pip download "
                         f"{' '.join(missing)} --no-deps -d {wheels})")
    server = DevServer(Path(site), Path(glue) if glue else None, Path(wheels), host, port,
                       quiet=False, isolated=isolated,
                       pyodide=Path(pyodide) if pyodide else None)
    print(f"tabsqlite: serving {site} at {server.url}/ (open it in two or three tabs)",
          flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
