"""tabsqlite as an ordinary Pyodide package: an app that boots its own Pyodide (in a worker
it made, or on the page) installs the wheel with micropip and imports it; nothing of
tabsqlite's JS is served, no COOP/COEP is sent (``static_host.py``). The wheel brings the
glue and sqlite-wasm, loaded as blob URLs."""

from __future__ import annotations

import json
import sys
import time
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page
from static_host import StaticHost, static_host

pytestmark = pytest.mark.asyncio(loop_scope="session")

HERE = Path(__file__).resolve().parent
APP = HERE / "apps" / "own_pyodide"
sys.path.insert(0, str(HERE.parent / "tests"))
from readme_blocks import blocks  # noqa: E402

INSTALL_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def host(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    # The wheel's browser files, unpacked, at /assets/: what an app serves to load them by
    # URL (PyodideRuntime(assets_url=...)) instead of from the installed package.
    assets = tmp_path_factory.mktemp("assets")
    (wheel,) = sorted(wheels.glob("tabsqlite-*.whl"))[-1:]
    with zipfile.ZipFile(wheel) as z:
        z.extractall(assets, [n for n in z.namelist() if n.startswith("tabsqlite/_browser/")])
    with static_host(tmp_path_factory.mktemp("site") / "app", APP, wheels,
                     extra={"assets": assets / "tabsqlite" / "_browser"}) as served:
        yield served


class AppTab:
    """A page of the app: ``await tab.run(code)`` runs Python there (its last expression's
    value comes back)."""

    def __init__(self, page: Page) -> None:
        self.page = page

    async def run(self, code: str) -> Any:
        return await self.page.evaluate("(code) => window.runPython(code)", code)


OpenApp = Callable[..., Awaitable[AppTab]]


@pytest.fixture
def open_app(logged_pages: Callable[[str, str], Awaitable[Page]], host: StaticHost) -> OpenApp:
    async def opener(mode: str, query: str = "") -> AppTab:
        page = await logged_pages(f"{host.url}/{mode}.html{query}", mode)
        await page.wait_for_function("window.installed !== undefined",
                                     timeout=INSTALL_TIMEOUT_MS)
        return AppTab(page)

    return opener


OPEN_AND_WRITE = """
import json, time
import tabsqlite
started = time.perf_counter()
db = await tabsqlite.open_database("own_app.db")
opened_ms = (time.perf_counter() - started) * 1000
await db.execute("CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, body TEXT)")
await db.execute("INSERT INTO notes(body) VALUES (?)", [MODE])
json.dumps({"rows": await db.get_all("SELECT body FROM notes ORDER BY id"),
            "runtime": db.runtime.name, "opened_ms": opened_ms,
            "vfs": str(db.runtime._glue.vfs), "handles": str(db.runtime._glue.handles)})
"""


@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_an_app_with_its_own_pyodide_imports_tabsqlite(
        open_app: OpenApp, host: StaticHost, mode: str) -> None:
    started = time.perf_counter()
    tab = await open_app(mode)
    installed = time.perf_counter() - started
    out = json.loads(await tab.run(OPEN_AND_WRITE.replace("MODE", json.dumps(mode))))
    assert out["rows"] == [{"body": mode}]
    assert out["runtime"] == "pyodide"
    assert out["vfs"] == "tabsqlite" and out["handles"] in ("log", "lending")
    # Nothing of tabsqlite's JS was served: the app's files, Pyodide, the wheels only.
    own = {"/", "/main.html", "/worker.html", "/install.mjs", "/app_worker.mjs", "/favicon.ico"}
    stray = [p for p in host.requested
             if p not in own and not p.startswith(("/pyodide/", "/wheels/", "/assets/"))]
    assert not any(p.startswith("/assets/") for p in host.requested)
    assert stray == []
    print(f"{mode}: page to installed {installed:.2f} s, first open {out['opened_ms']:.0f} ms")
    await tab.run("await db.close(delete_database=True)")


async def test_a_worker_app_and_a_page_app_share_one_database(open_app: OpenApp) -> None:
    a = await open_app("worker")
    b = await open_app("main")
    setup = """
import asyncio, json, tabsqlite
db = await tabsqlite.open_database("/apps/shared.db")
await db.execute("CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, who TEXT)")
"""
    await a.run(setup)
    await b.run(setup)
    await b.run("""
seen = []
async def follow():
    async for rows in db.watch("SELECT count(*) AS n FROM items"):
        seen.append(rows[0]["n"])
follower = asyncio.ensure_future(follow())
await asyncio.sleep(0.2)
""")
    await a.run("""
for i in range(20):
    await db.execute("INSERT INTO items(who) VALUES ('worker')")
""")
    await b.run("""
for _ in range(200):
    if seen and seen[-1] == 20:
        break
    await asyncio.sleep(0.05)
assert seen[-1] == 20, seen
""")
    # And the other way round: the worker app reads what the page app wrote.
    await b.run("await db.execute(\"INSERT INTO items(who) VALUES ('page')\")")
    who = await a.run("json.dumps(await db.get_all("
                      "'SELECT who, count(*) AS n FROM items GROUP BY who ORDER BY who'))")
    assert json.loads(who) == [{"who": "page", "n": 1}, {"who": "worker", "n": 20}]
    assert await a.run("(await db.get('PRAGMA integrity_check'))['integrity_check']") == "ok"
    await b.run("follower.cancel()\nawait db.close()")
    await a.run("await db.close(delete_database=True)")


async def test_the_readmes_lines_install_and_open(open_app: OpenApp, host: StaticHost,
                                                  wheels: Path) -> None:
    (block,) = [b for b in blocks("python") if b.info == "pyodide"]
    (wheel,) = sorted(wheels.glob("tabsqlite-*.whl"))[-1:]
    quoted = json.dumps(wheel.name)
    assert quoted in block.code, f"README.md:{block.line} installs another wheel"
    tab = await open_app("worker", "?bare")  # Pyodide and micropip only
    assert await tab.run("import importlib.util\nimportlib.util.find_spec('tabsqlite') is None")
    await tab.run(block.code.replace(quoted, json.dumps(f"{host.url}/wheels/{wheel.name}")))
    await tab.run("await db.execute('CREATE TABLE t(x)')\n"
                  "await db.execute('INSERT INTO t VALUES (1)')")
    assert await tab.run("(await db.get('SELECT count(*) AS n FROM t'))['n']") == 1
    await tab.run("await db.close(delete_database=True)")


async def test_assets_from_a_url_the_app_names(open_app: OpenApp, host: StaticHost) -> None:
    tab = await open_app("worker")
    before = len(host.requested)
    out = await tab.run(f"""
import json, tabsqlite
from tabsqlite.runtimes.pyodide import PyodideRuntime
db = await tabsqlite.open_database(
    "by_url.db", runtime=PyodideRuntime(assets_url={json.dumps(host.url + "/assets/")}))
await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
await db.execute("INSERT INTO t VALUES (1)")
n = (await db.get("SELECT count(*) AS n FROM t"))["n"]
await db.close(delete_database=True)
n
""")
    assert out == 1
    fetched = host.requested[before:]
    assert "/assets/src/worker_glue.mjs" in fetched
    assert "/assets/node_modules/@sqlite.org/sqlite-wasm/dist/sqlite3.wasm" in fetched


async def test_a_wrong_assets_url_is_a_typed_error_then_the_next_open_works(
        open_app: OpenApp, host: StaticHost) -> None:
    tab = await open_app("worker")
    caught = await tab.run(f"""
import tabsqlite
from tabsqlite.runtimes.pyodide import PyodideRuntime
try:
    await tabsqlite.open_database(
        "wrong.db", runtime=PyodideRuntime(assets_url={json.dumps(host.url + "/nowhere/")}))
    caught = None
except tabsqlite.BrowserSetupError as error:
    caught = str(error)
db = await tabsqlite.open_database("wrong.db")  # from the installed package: it starts
await db.close(delete_database=True)
caught
""")
    assert caught is not None
    assert f"could not start its browser side from {host.url}/nowhere" in caught
