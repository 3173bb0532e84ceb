"""A pytest plugin to test your own Pyodide app in several real tabs of one browser.

Installed with tabsqlite (the ``pytest11`` entry point); its fixtures need
``pip install tabsqlite[test]`` (Playwright, pytest-asyncio) and a Chromium (Debian's
``chromium``, or the one ``$TABSQLITE_BROWSER`` names; Playwright's downloads are not used).

Your app folder is served as a plain static host would (no special headers). Each page you
open must define ``window.runPython(code)``: a function that runs Python in the app (on the
page or in its worker) and resolves to the value of its last expression. Then::

    # pytest.ini:  [pytest]  tabsqlite_app = app   (the folder, relative to the rootdir)
    async def test_two_tabs(app_tabs):
        a, b = await app_tabs(2, "index.html")
        await a.run("db = await tabsqlite.open_database('notes.db') ...")
        assert await b.run("...") == 1

Fixtures: ``app_tabs`` (open tabs: pages of one browser context, so they share OPFS, Web
Locks and BroadcastChannel), ``tabsqlite_app_dir`` (the folder served; override it or set
``tabsqlite_app``), ``tabsqlite_mounts`` (more folders to serve, e.g. ``{"/pyodide/":
Path(...)}``; override it) and ``tabsqlite_app_url``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from .testing import BrowserTab

__all__ = ["AppTab"]

_Fixture = TypeVar("_Fixture", bound=Callable[..., Any])


def _async_fixture(function: _Fixture) -> _Fixture:
    """pytest-asyncio's fixture (any asyncio mode); without it, pytest's (which then says
    the coroutine was not awaited: install tabsqlite[test])."""
    try:
        import pytest_asyncio
    except ImportError:
        return cast(_Fixture, pytest.fixture(function))
    return cast(_Fixture, pytest_asyncio.fixture(function))


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``tabsqlite_app`` ini option and ``--tabsqlite-app``."""
    parser.addini("tabsqlite_app", "the folder of the app that app_tabs serves", default="")
    parser.addoption("--tabsqlite-app", default=None,
                     help="the folder of the app that app_tabs serves")


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Note whether the test itself failed (``app_tabs`` then prints the tabs' console)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


class AppTab(BrowserTab):
    """A page of your app: :meth:`run` calls its ``window.runPython(code)``."""

    runner = "window.runPython"

    async def ready(self) -> dict[str, float]:
        """Wait until the page has defined ``window.runPython``."""
        await self.page.evaluate(
            """ms => new Promise((resolve, reject) => {
                 const until = Date.now() + ms;
                 const check = () => typeof window.runPython === "function" ? resolve()
                   : Date.now() > until ? reject(new Error("the page defines no runPython"))
                   : setTimeout(check, 50);
                 check();
               })""", int(self.boot_timeout * 1000))
        return {}


@pytest.fixture(scope="session")
def tabsqlite_app_dir(pytestconfig: pytest.Config) -> Path:
    """The app folder: ``--tabsqlite-app``, else the ``tabsqlite_app`` ini option (relative
    to the rootdir). Override this fixture to choose it in code."""
    chosen = pytestconfig.getoption("--tabsqlite-app") or pytestconfig.getini("tabsqlite_app")
    if not chosen:
        raise pytest.UsageError("app_tabs needs your app's folder: set tabsqlite_app in "
                                "pytest.ini, pass --tabsqlite-app, or override "
                                "the tabsqlite_app_dir fixture")
    folder = Path(pytestconfig.rootpath, str(chosen)).resolve()
    if not folder.is_dir():
        raise pytest.UsageError(f"tabsqlite_app: no folder {folder}")
    return folder


@pytest.fixture(scope="session")
def tabsqlite_mounts() -> Mapping[str, Path]:
    """More folders to serve beside the app, by URL prefix (``{"/pyodide/": path}``);
    none unless overridden."""
    return {}


@pytest.fixture(scope="session")
def tabsqlite_app_url(tabsqlite_app_dir: Path,
                      tabsqlite_mounts: Mapping[str, Path]) -> Iterator[str]:
    """The URL the app is served at (a static server for the test session)."""
    from .devserver import StaticServer

    server = StaticServer({**tabsqlite_mounts, "/": tabsqlite_app_dir}).start()
    yield server.url
    server.stop()


OpenAppTabs = Callable[..., Awaitable[list[AppTab]]]


@_async_fixture
async def app_tabs(tabsqlite_app_url: str,
                   request: pytest.FixtureRequest) -> AsyncIterator[OpenAppTabs]:
    """``await app_tabs(count, page="index.html")``: open ``count`` tabs of the app's
    ``page`` in one fresh browser (a new on-disk profile: its own OPFS), each ready to
    :meth:`AppTab.run` Python. A failed test's report gets the tabs' console output."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("app_tabs needs Playwright: pip install tabsqlite[test]")
    from .testing import profile_context

    tabs: list[AppTab] = []
    async with async_playwright() as playwright, profile_context(playwright) as context:

        async def opener(count: int, page: str = "index.html") -> list[AppTab]:
            new = []
            for _ in range(count):
                tab = AppTab(await context.new_page(), f"tab{len(tabs)}")
                tabs.append(tab)
                new.append(tab)
                await tab.page.goto(f"{tabsqlite_app_url}/{page.lstrip('/')}")
            for tab in new:
                await tab.ready()
            return new

        try:
            yield opener
        finally:
            if request.node.stash.get(_FAILED, True):
                for tab in tabs:
                    print("\n".join(tab.log[-40:]))
