"""tabsqlite as an ordinary Pyodide package: an app that boots its own Pyodide (in a worker
it made, or on the page) installs the wheel with micropip and imports it; nothing of
tabsqlite's JS is served, no COOP/COEP is sent (``static_host.py``). The wheel brings the
glue and sqlite-wasm, loaded as blob URLs."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page
from static_host import StaticHost, static_host

pytestmark = pytest.mark.asyncio(loop_scope="session")

APP = Path(__file__).resolve().parent / "apps" / "own_pyodide"
INSTALL_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def host(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with static_host(tmp_path_factory.mktemp("site") / "app", APP, wheels) as served:
        yield served


class AppTab:
    """A page of the app: ``await tab.run(code)`` runs Python there (its last expression's
    value comes back)."""

    def __init__(self, page: Page, mode: str) -> None:
        self.page = page
        self.mode = mode
        self.log: list[str] = []
        page.on("console", lambda m: self.log.append(f"[{mode}] {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.log.append(f"[{mode}] pageerror: {e}"))

    async def run(self, code: str) -> Any:
        return await self.page.evaluate("(code) => window.runPython(code)", code)


OpenApp = Callable[[str], Awaitable[AppTab]]


@pytest_asyncio.fixture(loop_scope="session")
async def open_app(context: BrowserContext, host: StaticHost,
                   request: pytest.FixtureRequest) -> AsyncIterator[OpenApp]:
    tabs: list[AppTab] = []

    async def opener(mode: str) -> AppTab:
        page = await context.new_page()
        tab = AppTab(page, mode)
        tabs.append(tab)
        await page.goto(f"{host.url}/{mode}.html")
        await page.wait_for_function("window.installed !== undefined",
                                     timeout=INSTALL_TIMEOUT_MS)
        return tab

    yield opener
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for tab in tabs:
            print("\n".join(tab.log[-40:]))


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
    assert out["vfs"] == "tabsqlite" and out["handles"] in ("shared", "lending")
    # Nothing of tabsqlite's JS was served: the app's files, Pyodide, the wheels only.
    own = {"/", "/main.html", "/worker.html", "/install.mjs", "/app_worker.mjs", "/favicon.ico"}
    stray = [p for p in host.requested
             if p not in own and not p.startswith(("/pyodide/", "/wheels/"))]
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
