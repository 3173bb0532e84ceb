"""The wheel carries the browser's files, and they link into blob-URL modules.

The linking (each module's relative imports rewritten to the URLs of what they name) is
plain text work: here it runs on CPython over the real files, from the source checkout and
from a freshly built wheel. The browser half (blob URLs, import()) runs in
``playwright/test_any_pyodide.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import tabsqlite
from tabsqlite.runtimes.pyodide.assets import (
    GLUE_DIR,
    SQLITE_DIR,
    AssetsMissingError,
    ModuleLinker,
    asset_root,
    read_asset,
    relative_imports,
)

ROOT = Path(__file__).resolve().parent.parent
#: The modules tabsqlite starts in each mode (boot.py), and what main mode's worker runs.
ENTRIES = [f"{GLUE_DIR}/worker_glue.mjs", f"{GLUE_DIR}/db_proxy.mjs", f"{GLUE_DIR}/db_worker.mjs"]


class FakeUrls:
    """``make_url`` that keeps what it was given: ``fake:N`` -> (bytes, media type)."""

    def __init__(self) -> None:
        self.made: dict[str, tuple[bytes, str]] = {}

    def __call__(self, data: bytes, media_type: str) -> str:
        url = f"fake:{len(self.made)}"
        self.made[url] = (data, media_type)
        return url


def test_relative_imports_are_found_and_comments_left_alone() -> None:
    source = (
        'import { a } from "./a.mjs";\n'
        "export { b } from '../b.mjs';\n"
        'import "./side.mjs";\n'
        'import {\n  c,\n  d,\n} from "./c.mjs";\n'
        '/** @typedef {import("./types.mjs").T} T */\n'
        'import { x } from "https://example.org/x.mjs";\n'
        'const s = "from \\"./not.mjs\\"";\n'
    )
    assert relative_imports(source) == ["./a.mjs", "../b.mjs", "./side.mjs", "./c.mjs"]


def _linked(root_read: object, entries: list[str]) -> tuple[ModuleLinker, FakeUrls]:
    urls = FakeUrls()
    linker = ModuleLinker(root_read, urls)  # type: ignore[arg-type]
    for entry in entries:
        linker.url(entry)
    return linker, urls


def _check_linked(urls: FakeUrls) -> None:
    texts = {url: data.decode() for url, (data, kind) in urls.made.items()
             if kind == "text/javascript"}
    for url, text in texts.items():
        assert relative_imports(text) == [], f"{url} still imports by a relative path"
        for match in re.findall(r'from "(fake:\d+)"', text):
            assert match in texts, f"{url} imports {match}, which is no module made here"
    # sqlite-wasm's module is among them, and nothing was made twice.
    assert any("sqlite3InitModule" in t and len(t) > 500_000 for t in texts.values())
    assert len({d for d, _ in urls.made.values()}) == len(urls.made)


def test_every_entry_links_from_the_checkout() -> None:
    linker, urls = _linked(read_asset(asset_root()), ENTRIES)
    _check_linked(urls)
    # keptlocks.mjs holds one state per thread: it is imported from three modules, and
    # must still be one module.
    kept = [u for u, (d, _) in urls.made.items() if b"export const keptLocks" in d]
    assert len(kept) == 1
    wasm = linker.file_url(f"{SQLITE_DIR}/sqlite3.wasm", "application/wasm")
    assert urls.made[wasm][0][:4] == b"\0asm"
    assert linker.file_url(f"{SQLITE_DIR}/sqlite3.wasm", "application/wasm") == wasm


def test_a_cycle_and_a_missing_file_are_named() -> None:
    files = {"src/a.mjs": b'import { b } from "./b.mjs";\n',
             "src/b.mjs": b'import { a } from "./a.mjs";\n'}

    def read(path: str) -> bytes:
        if path not in files:
            raise AssetsMissingError(f"tabsqlite's browser file {path} is missing")
        return files[path]

    with pytest.raises(AssetsMissingError, match=r"cycle: src/a.mjs -> src/b.mjs -> src/a.mjs"):
        ModuleLinker(read, FakeUrls()).url("src/a.mjs")
    files["src/c.mjs"] = b'import { z } from "./gone.mjs";\n'
    with pytest.raises(AssetsMissingError, match=r"src/gone.mjs is missing"):
        ModuleLinker(read, FakeUrls()).url("src/c.mjs")
    files["src/d.mjs"] = b'import { z } from "../../up.mjs";\n'
    with pytest.raises(AssetsMissingError, match=r"outside the assets"):
        ModuleLinker(read, FakeUrls()).url("src/d.mjs")
    assert issubclass(AssetsMissingError, tabsqlite.BrowserSetupError)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out),
                    str(ROOT)], check=True, capture_output=True)
    (found,) = out.glob("tabsqlite-*.whl")
    return found


def test_the_wheel_carries_the_glue_and_sqlite_wasm(wheel: Path) -> None:
    prefix = "tabsqlite/_browser/"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for module in sorted((ROOT / "js_glue" / "src").glob("*.mjs")):
            name = f"{prefix}{GLUE_DIR}/{module.name}"
            assert name in names
            assert z.read(name) == module.read_bytes(), f"{name} differs from js_glue"
        for file in ("index.mjs", "sqlite3.wasm"):
            source = ROOT / "js_glue" / SQLITE_DIR / file
            assert z.read(f"{prefix}{SQLITE_DIR}/{file}") == source.read_bytes()
        # Linked from inside the wheel alone: nothing reaches outside it.

        def read(path: str) -> bytes:
            try:
                return z.read(prefix + path)
            except KeyError:
                raise AssetsMissingError(f"{path} is not in the wheel") from None

        _, urls = _linked(read, ENTRIES)
        _check_linked(urls)
    assert wheel.stat().st_size < 1_000_000, "the wheel grew past 1 MB"
