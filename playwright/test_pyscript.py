"""tabsqlite in PyScript (``@pyscript/core`` from npm, its interpreter pointed at the locally
served Pyodide), on a plain static host: a main-thread ``<script type="py">`` page and a
``worker`` script page, two tabs sharing one database. The wheel is one of the page's
``packages``, as any PyScript app lists one."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page
from static_host import StaticHost, static_host

pytestmark = pytest.mark.asyncio(loop_scope="session")

HERE = Path(__file__).resolve().parent
APP = HERE / "apps" / "pyscript"
PYSCRIPT = HERE.parent / "js_glue" / "node_modules" / "@pyscript" / "core" / "dist"
START_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def host(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not (PYSCRIPT / "core.js").is_file():
        raise RuntimeError(f"{PYSCRIPT} is missing: run scripts/setup.sh (npm ci in js_glue)")
    # pyscript.json names the wheel as an app's config would: the one setup built.
    config = json.loads((APP / "pyscript.json").read_text())
    (wheel,) = sorted(wheels.glob("tabsqlite-*.whl"))[-1:]
    assert config["packages"] == [f"./wheels/{wheel.name}"], "pyscript.json names another wheel"
    site = tmp_path_factory.mktemp("site") / "app"
    with static_host(site, APP, wheels, extra={"pyscript": PYSCRIPT}) as served:
        yield served


@pytest.fixture
def open_page(logged_pages: Callable[[str, str], Awaitable[Page]],
              host: StaticHost) -> Callable[[str], Awaitable[Page]]:
    return lambda name: logged_pages(f"{host.url}/{name}.html", name)


async def test_a_pyscript_page_and_a_pyscript_worker_share_one_database(
        open_page: Callable[[str], Awaitable[Page]], host: StaticHost) -> None:
    started = time.perf_counter()
    page = await open_page("main")
    await page.wait_for_function("typeof window.addNote === 'function'",
                                 timeout=START_TIMEOUT_MS)
    await page.wait_for_function("document.querySelector('#count').textContent === '0'")
    page_ready = time.perf_counter() - started

    started = time.perf_counter()
    worker_page = await open_page("worker")
    await worker_page.wait_for_function("window.notes !== undefined")
    count = await worker_page.evaluate("async () => (await window.notes).count()",)
    worker_ready = time.perf_counter() - started
    assert count == 0

    # The worker writes; the page's watch shows it.
    for i in range(5):
        await worker_page.evaluate("async (i) => (await window.notes).add_note(`w${i}`)", i)
    await page.wait_for_function("document.querySelector('#count').textContent === '5'")
    # The page writes; the worker reads it.
    await page.evaluate("() => window.addNote('from the page')")
    assert await worker_page.evaluate("async () => (await window.notes).count()") == 6
    await page.wait_for_function("document.querySelector('#count').textContent === '6'")

    stray = [p for p in host.requested
             if not p.startswith(("/pyodide/", "/wheels/", "/pyscript/"))
             and p not in {"/main.html", "/worker.html", "/pyscript.json", "/notes_main.py",
                           "/notes_worker.py", "/favicon.ico"}]
    assert stray == []
    print(f"PyScript: main-thread page ready {page_ready:.2f} s, worker page {worker_ready:.2f} s")
