"""Build hook: the wheel carries the browser's files (``tabsqlite/_browser/``).

It copies ``js_glue/src/*.mjs`` and sqlite-wasm's files from ``js_glue/node_modules`` (as
``js_glue/package-lock.json`` pins them: run ``npm ci`` in ``js_glue`` first) into the wheel,
in the same layout, so the modules' relative imports hold. Nothing is copied by hand into
git. An editable install needs no copy: it reads ``js_glue/`` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SQLITE_DIST = "node_modules/@sqlite.org/sqlite-wasm/dist"
#: sqlite-wasm's files the browser loads: the module, its wasm, and the async proxy that
#: its own "opfs" VFS starts (only where pages are served with COOP/COEP).
SQLITE_FILES = ("index.mjs", "sqlite3.wasm", "sqlite3-opfs-async-proxy.js")
TARGET = "tabsqlite/_browser"


class BrowserAssetsHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds ``js_glue``'s modules and sqlite-wasm to the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        glue = Path(self.root) / "js_glue"
        sqlite = glue / SQLITE_DIST
        missing = [name for name in SQLITE_FILES if not (sqlite / name).is_file()]
        if missing:
            raise RuntimeError(
                f"sqlite-wasm's {', '.join(missing)} not found in {sqlite}: run "
                "`npm ci` in js_glue before building the wheel (scripts/setup.sh does)"
            )
        include = build_data.setdefault("force_include", {})
        for module in sorted((glue / "src").glob("*.mjs")):
            include[str(module)] = f"{TARGET}/src/{module.name}"
        for name in SQLITE_FILES:
            include[str(sqlite / name)] = f"{TARGET}/{SQLITE_DIST}/{name}"
