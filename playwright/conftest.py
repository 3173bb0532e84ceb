"""Real Chromium, real OPFS, real sqlite-wasm, real Pyodide: several tabs of one context.

The browser is ``$TABSQLITE_BROWSER`` (or ``$CHROME_PATH``), else Debian's ``chromium``.
Every wait has a time-out; a failing test gets the tabs' console output in its report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Playwright, async_playwright

from tabsqlite.devserver import DevServer
from tabsqlite.testing import BrowserTab, browser_path, profile_context
from tabsqlite.webdriver_bidi import firefox_context, firefox_path
from tabsqlite.webdriver_webkit import (
    require_sync_access_handles,
    webkit_context,
    webkit_driver_path,
)

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "js_glue" / "harness"


def _engine_version(path_of: Callable[[], str]) -> str:
    """What ``<browser> --version`` says (its first line), or why there is no answer."""
    try:
        path = path_of()
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        return f"not available ({e})"
    lines = done.stdout.strip().splitlines()
    return f"{lines[0]} ({path})" if lines else f"no version from {path}"


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The engines this run drives, with their versions, at the head of the report."""
    return [f"chromium: {_engine_version(browser_path)}",
            f"firefox: {_engine_version(firefox_path)}",
            f"webkit driver: {_engine_version(webkit_driver_path)}",
            f"holding the files: {HANDLES}; pages served: {HEADERS}"]


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
    dbapi = sorted((vendor / "dbapi").glob("*.whl"))  # (test_dbapi_tab.py's SQLAlchemy)
    if not dbapi:
        raise RuntimeError("dist/vendor/dbapi has no wheels: run scripts/setup.sh")
    (out / "dbapi").mkdir()
    for wheel in dbapi:
        shutil.copy(wheel, out / "dbapi" / wheel.name)
    return out


#: How the suite's pages are served: "plain" (the default: no COOP/COEP, as most static
#: hosts serve, and as tabsqlite's own VFS needs nothing more) or "isolated" (COOP/COEP, so
#: SharedArrayBuffer exists: what sqlite-wasm's `opfs` fallback needs).
HEADERS = os.environ.get("TABSQLITE_TEST_HEADERS", "plain")

#: How tabsqlite's VFS holds the files in the suite's tabs: "auto" (the default: what the
#: browser supports, "log" in Chromium: shared handles with a write-ahead log), "shared"
#: (shared handles, commits into the file), "lending" (what browsers without
#: readwrite-unsafe handles run; Chromium runs it too when told) or "log". A test that
#: names its own ``handles`` keeps them.
HANDLES = os.environ.get("TABSQLITE_TEST_HANDLES", "auto")


@pytest.fixture(scope="session")
def server_url(wheels: Path) -> Any:
    """The harness, served as ``$TABSQLITE_TEST_HEADERS`` says (see :data:`HEADERS`)."""
    if HEADERS not in ("plain", "isolated"):
        raise ValueError(f"TABSQLITE_TEST_HEADERS must be plain or isolated, not {HEADERS!r}")
    server = DevServer(HARNESS, ROOT / "js_glue", wheels, isolated=HEADERS == "isolated").start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def isolated_server_url(wheels: Path) -> Any:
    """The harness served with COOP/COEP, for what needs SharedArrayBuffer."""
    server = DevServer(HARNESS, ROOT / "js_glue", wheels).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def plain_server_url(wheels: Path) -> Any:
    """The harness served without COOP/COEP (no SharedArrayBuffer), as most static hosts do."""
    server = DevServer(HARNESS, ROOT / "js_glue", wheels, isolated=False).start()
    yield server.url
    server.stop()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def playwright_session() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest_asyncio.fixture(loop_scope="session")
async def context(playwright_session: Playwright) -> AsyncIterator[BrowserContext]:
    """A fresh browser on a fresh on-disk profile: its own OPFS, locks and BroadcastChannels.

    On disk, as a user's browser is: an off-the-record context keeps OPFS in memory behind
    the browser process, which changes both speed and what a crash leaves behind.
    """
    async with profile_context(playwright_session) as ctx:
        yield ctx


Tab = BrowserTab
OpenTabs = Callable[..., Awaitable[list[Tab]]]


@pytest_asyncio.fixture(loop_scope="session")
async def open_tabs(
    context: BrowserContext, server_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[OpenTabs]:
    """Open tabs (pages of one context) and wait until each has tabsqlite ready."""
    tabs: list[Tab] = []

    async def opener(count: int, mode: str = "worker", query: str = "",
                     base: str | None = None) -> list[Tab]:
        if HANDLES not in ("auto", "shared", "lending", "log"):
            raise ValueError(f"TABSQLITE_TEST_HANDLES must be auto, shared, lending or log, "
                             f"not {HANDLES!r}")
        if HANDLES != "auto" and "handles=" not in query:
            query += f"&handles={HANDLES}"
        return await _open_pages(context, f"{base or server_url}/?mode={mode}{query}",
                                 count, "tab", tabs)

    yield opener
    _print_logs_if_failed(request, tabs)


async def _open_pages(browser: Any, url: str, count: int, prefix: str,
                      tabs: list[Tab]) -> list[Tab]:
    """Open ``count`` pages of ``url`` in ``browser`` (added to ``tabs``), all ready."""
    new = []
    for _ in range(count):
        page = await browser.new_page()
        tab = Tab(page, f"{prefix}{len(tabs)}")
        tabs.append(tab)
        new.append(tab)
        await page.goto(url)
    await asyncio.gather(*(t.ready() for t in new))
    return new


@pytest_asyncio.fixture(loop_scope="session")
async def logged_pages(context: BrowserContext, request: pytest.FixtureRequest
                       ) -> AsyncIterator[Callable[[str, str], Awaitable[Any]]]:
    """``await logged_pages(url, name)``: a new page of the context at ``url``; the pages'
    console output goes into a failed test's report, each line marked with ``name``."""
    logs: list[str] = []

    async def opener(url: str, name: str) -> Any:
        page = await context.new_page()
        page.on("console", lambda m: logs.append(f"[{name}] {m.type}: {m.text}"))
        page.on("pageerror", lambda e: logs.append(f"[{name}] pageerror: {e}"))
        await page.goto(url)
        return page

    yield opener
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("\n".join(logs[-80:]))


def _print_logs_if_failed(request: pytest.FixtureRequest, tabs: list[Tab]) -> None:
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for tab in tabs:
            print("\n".join(tab.log[-40:]))


#: Tests whose pages start tabsqlite as an app does (its own Pyodide, PyScript, JupyterLite,
#: the demo): the browser's features choose how the files are held, as for a user.
APP_PATH_MODULES = {"test_any_pyodide.py", "test_pyscript.py", "test_jupyterlite.py",
                    "test_user_plugin.py", "test_demo.py", "test_pyodide_versions.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``TABSQLITE_TEST_HANDLES`` set, the tests that choose their own ``handles``
    (they run every way already), the other engines' cases (they hold the files as
    their engine does, the same in every pass) and the app-path tests
    (:data:`APP_PATH_MODULES`) are left out: that pass is for the rest."""
    if HANDLES == "auto":
        return

    def own_way(item: pytest.Item) -> bool:
        params = getattr(item, "callspec", _NO_PARAMS).params
        return ("handles" in params or params.get("engine", "chromium") != "chromium"
                or item.path.name in APP_PATH_MODULES)

    chosen = [i for i in items if own_way(i)]
    if chosen:
        config.hook.pytest_deselected(items=chosen)
        items[:] = [i for i in items if i not in chosen]


class _NoParams:
    params: dict[str, Any] = {}


_NO_PARAMS = _NoParams()


@pytest_asyncio.fixture(loop_scope="session")
async def engine_tabs(
    playwright_session: Playwright, server_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Awaitable[list[Tab]]]]:
    """``await engine_tabs(engine, count)``: tabs of one fresh browser of that engine
    ("chromium" through Playwright, "firefox" through WebDriver BiDi, "webkit" through
    WebKitGTK's WebDriver: :class:`EngineCannotRun` first if it lacks what tabsqlite
    needs), worker mode, each
    choosing how to hold the files by feature detection (Chromium's as
    ``TABSQLITE_TEST_HANDLES`` says, when set)."""
    tabs: list[Tab] = []
    async with contextlib.AsyncExitStack() as stack:
        browsers: dict[str, Any] = {}

        async def opener(engine: str, count: int) -> list[Tab]:
            if engine not in browsers:
                if engine == "chromium":
                    browsers[engine] = await stack.enter_async_context(
                        profile_context(playwright_session))
                elif engine == "firefox":
                    browsers[engine] = await stack.enter_async_context(firefox_context())
                elif engine == "webkit":
                    browsers[engine] = await stack.enter_async_context(webkit_context())
                else:
                    raise ValueError(f"no engine {engine!r}")
            if engine == "webkit":  # (what it lacks, measured, before any tab boots)
                page = await browsers[engine].new_page()
                await page.goto(f"{server_url}/")
                await require_sync_access_handles(page, browsers[engine].version)
            query = f"&handles={HANDLES}" if engine == "chromium" and HANDLES != "auto" else ""
            return await _open_pages(browsers[engine], f"{server_url}/?mode=worker{query}",
                                     count, engine, tabs)

        yield opener
        _print_logs_if_failed(request, tabs)


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
    # As scripts/demo.sh serves it: a Pyodide and the wheels, no js_glue, no COOP/COEP.
    server = DevServer(ROOT / "example_site", None, wheels, isolated=False,
                       pyodide=ROOT / "js_glue" / "node_modules" / "pyodide").start()
    yield server.url
    server.stop()
