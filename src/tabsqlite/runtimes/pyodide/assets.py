"""The browser's files that ship inside the wheel, and loading them without a server.

The wheel carries ``tabsqlite/_browser/``: the JS glue (``src/*.mjs``) and sqlite-wasm
(``node_modules/@sqlite.org/sqlite-wasm/dist/``: ``index.mjs``, ``sqlite3.wasm``), in the
same layout as the repository's ``js_glue/``, so their relative imports hold (copied at build
time by ``hatch_build.py``). A page or worker that imported tabsqlite has no URL for those
files, so :class:`ModuleLinker` makes one ``blob:`` URL per file: each module's relative
imports are rewritten to the blob URLs of the modules they name, dependencies first. The
linking is plain text work, tested on CPython; only :func:`blob_url` needs a browser.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ...errors import BrowserSetupError

__all__ = [
    "GLUE_DIR",
    "SQLITE_DIR",
    "AssetsMissingError",
    "ModuleLinker",
    "asset_root",
    "relative_imports",
]

#: Where the glue modules and sqlite-wasm sit inside the asset root (as in ``js_glue/``).
GLUE_DIR = "src"
SQLITE_DIR = "node_modules/@sqlite.org/sqlite-wasm/dist"

#: A static import or re-export of a relative module: ``import {a} from "./b.mjs";``,
#: ``export * from "../c.mjs";`` or ``import "./d.mjs";``, each at the start of a line
#: (comments such as JSDoc's ``import("./x.mjs")`` types are left alone).
_IMPORT = re.compile(
    r"""^(?P<head>[ \t]*(?:import|export)\b[^"';]*?\bfrom[ \t]*|[ \t]*import[ \t]*)"""
    r"""(?P<quote>["'])(?P<spec>\.\.?/[^"'\n]+)(?P=quote)""",
    re.MULTILINE,
)


class AssetsMissingError(BrowserSetupError):
    """The browser files are not in this installation (a wheel built without ``js_glue``'s
    npm packages, or a source checkout without ``npm ci``)."""


def asset_root() -> Traversable:
    """The folder holding ``src/`` and ``node_modules/...``: the installed package's
    ``_browser``, else (a source checkout, an editable install) the repository's
    ``js_glue``."""
    packaged = resources.files("tabsqlite") / "_browser"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[4] / "js_glue"
    if (checkout / SQLITE_DIR / "sqlite3.wasm").is_file():
        return checkout
    raise AssetsMissingError(
        "tabsqlite's browser files are missing: install a tabsqlite wheel built with them "
        "(its build runs `npm ci` in js_glue), or pass assets_url= the URL of a folder "
        "serving them"
    )


def relative_imports(source: str) -> list[str]:
    """The relative module specifiers ``source`` imports statically, in order."""
    return [m.group("spec") for m in _IMPORT.finditer(source)]


class ModuleLinker:
    """Gives each module under an asset root a URL whose relative imports resolve.

    :param read: the bytes of a file, by its path relative to the root (``src/x.mjs``).
    :param make_url: a URL for some bytes and their media type (in the browser, a blob URL).
    """

    def __init__(self, read: Callable[[str], bytes],
                 make_url: Callable[[bytes, str], str]) -> None:
        self._read = read
        self._make_url = make_url
        self._urls: dict[str, str] = {}
        self._linking: list[str] = []

    def url(self, path: str) -> str:
        """The URL of the module at ``path`` (relative to the root), linked with everything
        it imports. Each module gets one URL, so a module imported from two places is one
        module (one instance of its state)."""
        path = posixpath.normpath(path)
        if path in self._urls:
            return self._urls[path]
        if path in self._linking:
            cycle = " -> ".join([*self._linking, path])
            raise AssetsMissingError(f"the browser modules import each other in a cycle: {cycle}")
        self._linking.append(path)
        try:
            source = self._read(path).decode("utf-8")
            base = posixpath.dirname(path)

            def linked(match: re.Match[str]) -> str:
                target = posixpath.normpath(posixpath.join(base, match.group("spec")))
                if target.startswith("../"):
                    raise AssetsMissingError(f"{path} imports {target}, outside the assets")
                quote = match.group("quote")
                return f"{match.group('head')}{quote}{self.url(target)}{quote}"

            text = _IMPORT.sub(linked, source)
        finally:
            self._linking.pop()
        url = self._make_url(text.encode("utf-8"), "text/javascript")
        self._urls[path] = url
        return url

    def file_url(self, path: str, media_type: str) -> str:
        """The URL of a file that is not a module (``sqlite3.wasm``), made once."""
        key = posixpath.normpath(path)
        if key not in self._urls:
            self._urls[key] = self._make_url(self._read(key), media_type)
        return self._urls[key]


def read_asset(root: Traversable) -> Callable[[str], bytes]:
    """A ``read`` for :class:`ModuleLinker` over ``root``."""

    def read(path: str) -> bytes:
        node = root
        for part in path.split("/"):
            node = node / part
        try:
            return node.read_bytes()
        except FileNotFoundError:
            raise AssetsMissingError(f"tabsqlite's browser file {path} is missing") from None

    return read


def blob_url(data: bytes, media_type: str) -> str:
    """A ``blob:`` URL for ``data`` (in a page or a worker)."""
    import js  # type: ignore[import-not-found]
    from pyodide.ffi import to_js  # type: ignore[import-not-found]

    options = to_js({"type": media_type}, dict_converter=js.Object.fromEntries)
    blob = js.Blob.new([to_js(data)], options)
    return str(js.URL.createObjectURL(blob))


_VERSION = re.compile(rb'SQLITE_VERSION "(\d+\.\d+\.\d+)"')


def sqlite_wasm_version(root: Traversable | None = None) -> str:
    """The SQLite version of the sqlite-wasm build these files carry (from its module's
    header comment), without loading it.

    :param root: the asset root (``None``: :func:`asset_root`).
    """
    source = read_asset(root if root is not None else asset_root())(
        f"{SQLITE_DIR}/index.mjs")
    match = _VERSION.search(source[:4096])
    if match is None:
        raise AssetsMissingError("sqlite-wasm's index.mjs does not name its SQLite version")
    return match.group(1).decode()
