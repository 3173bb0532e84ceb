"""Real Chromium, real OPFS, real sqlite-wasm, real Pyodide: several tabs of one context.

The browser is ``$TABSQLITE_BROWSER`` (or ``$CHROME_PATH``), else Debian's ``chromium``.
Every wait has a time-out; a failing test gets the tabs' console output in its report.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
HARNESS = Path(__file__).resolve().parent / "harness"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BOOT_TIMEOUT_MS = 90_000


def browser_path() -> str:
    for var in ("TABSQLITE_BROWSER", "CHROME_PATH"):
        if os.environ.get(var):
            return os.environ[var]
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no browser: install Debian's chromium or set TABSQLITE_BROWSER")


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh wheel of the working tree, and micropip's wheel from dist/vendor."""
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    vendor = ROOT / "dist" / "vendor"
    micropip = sorted(vendor.glob("micropip-*.whl"))
    if not micropip:
        raise RuntimeError("dist/vendor has no micropip wheel: run scripts/setup.sh")
    (out / "vendor").mkdir()
    shutil.copy(micropip[-1], out / "vendor" / micropip[-1].name)
    return out


@pytest.fixture(scope="session")
def server_url(wheels: Path) -> Any:
    sys.path.insert(0, str(ROOT / "src"))
    from tabsqlite.devserver import DevServer

    server = DevServer(HARNESS, ROOT / "js_glue", wheels).start()
    yield server.url
    server.stop()


class Tab:
    """One browser tab running tabsqlite; ``run`` executes Python (top-level await) in it."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self.log: list[str] = []
        page.on("console", lambda m: self.log.append(f"[{name}] {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.log.append(f"[{name}] pageerror: {e}"))
        page.on("crash", lambda _: self.log.append(f"[{name}] crashed"))

    async def ready(self) -> dict[str, float]:
        timings = await self.page.evaluate(
            """ms => Promise.race([window.tabReady, new Promise((_, rej) =>
                   setTimeout(() => rej(new Error('boot timed out')), ms))])""",
            BOOT_TIMEOUT_MS,
        )
        return dict(timings)

    async def run(self, code: str, timeout: float = 30) -> Any:
        """Run Python in the tab; fail (never hang) after ``timeout`` seconds."""
        code = textwrap.dedent(code)
        try:
            return await asyncio.wait_for(
                self.page.evaluate(
                    """([code, ms]) => Promise.race([window.tab.run(code),
                        new Promise((_, rej) => setTimeout(
                            () => rej(new Error('python timed out after ' + ms + ' ms')), ms))])""",
                    [code, int(timeout * 1000)],
                ),
                timeout + 5,
            )
        except Exception as error:
            raise AssertionError(
                f"{self.name}: {error}\n--- console ---\n" + "\n".join(self.log[-60:])
            ) from error

    async def events(self) -> list[Any]:
        return list(await self.page.evaluate("window.events"))


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=browser_path(), args=ARGS)
        yield b
        await b.close()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser context: its own OPFS, locks and BroadcastChannels."""
    ctx = await browser.new_context()
    yield ctx
    await ctx.close()


OpenTabs = Callable[..., Awaitable[list[Tab]]]


@pytest_asyncio.fixture(loop_scope="session")
async def open_tabs(
    context: BrowserContext, server_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[OpenTabs]:
    """Open tabs (pages of one context) and wait until each has tabsqlite ready."""
    tabs: list[Tab] = []

    async def opener(count: int, mode: str = "worker", query: str = "") -> list[Tab]:
        new = []
        for _ in range(count):
            page = await context.new_page()
            tab = Tab(page, f"tab{len(tabs)}")
            tabs.append(tab)
            new.append(tab)
            await page.goto(f"{server_url}/?mode={mode}{query}")
        timings = await asyncio.gather(*(t.ready() for t in new))
        for tab, t in zip(new, timings, strict=True):
            tab.timings = t  # type: ignore[attr-defined]
        return new

    yield opener
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for tab in tabs:
            print("\n".join(tab.log[-40:]))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def js(value: Any) -> str:
    """A Python literal for ``value`` (for building code sent to a tab)."""
    return json.dumps(value)


@pytest.fixture(scope="session")
def demo_url(wheels: Path) -> Any:
    sys.path.insert(0, str(ROOT / "src"))
    from tabsqlite.devserver import DevServer

    server = DevServer(ROOT / "example_site", ROOT / "js_glue", wheels).start()
    yield server.url
    server.stop()
