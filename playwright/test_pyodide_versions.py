"""The Pyodide versions tabsqlite supports: the pinned one (314.0.7), those PyScript 0.7.31
(314.0.2) and JupyterLite's kernel 0.8.6 (314.0.6) are made for, and older lines (0.29:
Python 3.13, 0.27: Python 3.12). Each installs the wheel and opens, writes and reads a
database in a worker and on the page, at once, on a plain static host."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page
from static_host import StaticHost, static_host

pytestmark = pytest.mark.asyncio(loop_scope="session")

HERE = Path(__file__).resolve().parent
MODULES = HERE.parent / "js_glue" / "node_modules"
#: npm package (js_glue/package.json) -> the Python it brings.
VERSIONS = {"pyodide": "3.14", "pyodide-314.0.6": "3.14", "pyodide-314.0.2": "3.14",
            "pyodide-0.29": "3.13", "pyodide-0.27": "3.12"}


@pytest.fixture(scope="module")
def host(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    pyodides = tmp_path_factory.mktemp("pyodides")
    for name in VERSIONS:
        (pyodides / name).symlink_to(MODULES / name)
    site = tmp_path_factory.mktemp("site") / "app"
    with static_host(site, HERE / "apps" / "pyodide_versions", wheels,
                     extra={"pyodides": pyodides}) as served:
        yield served


@pytest.mark.parametrize("package", list(VERSIONS))
async def test_tabsqlite_runs_on_this_pyodide(
        logged_pages: Callable[[str, str], Awaitable[Page]], host: StaticHost,
        package: str) -> None:
    version = json.loads((MODULES / package / "package.json").read_text())["version"]
    page = await logged_pages(f"{host.url}/page.html?v={package}", version)
    await page.wait_for_function("window.results !== undefined", timeout=120_000)
    results = await page.evaluate("window.results")
    for where in ("worker", "page"):
        assert "error" not in results[where], f"{version} ({where}): {results[where]}"
        value = results[where]["value"]
        assert value["python"].startswith(VERSIONS[package] + "."), value
        assert value["rows"] == [{"where_": where}]
    print(f"Pyodide {version} (Python {value['python']}): worker and page ok")
