"""Helpers to drive tabsqlite in real browser tabs (used by the Playwright suite and bench/).

Needs the ``playwright`` package (``pip install tabsqlite[test]``) and a Chromium: the one
named by ``$TABSQLITE_BROWSER`` (or ``$CHROME_PATH``), else Debian's ``chromium``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import textwrap
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, Playwright

__all__ = ["CHROMIUM_ARGS", "HOLD_WRITE_TRANSACTION", "READ_MODIFY_WRITE",
           "SPILLED_TRANSACTION", "BrowserTab", "browser_path", "profile_context"]

#: Python for a tab whose ``db`` has a table ``items(tag, n)`` (format with ``tag``): open
#: a write transaction that writes one row tagged ``tag`` and stays open (its lock held)
#: until ``release.set()``; ``holding`` is its task.
HOLD_WRITE_TRANSACTION = """
import asyncio
release = asyncio.Event()
async def hold():
    async with db.write_transaction() as tx:
        await tx.execute("INSERT INTO items(tag, n) VALUES (?, 0)", [{tag!r}])
        await release.wait()
holding = asyncio.ensure_future(hold())
await asyncio.sleep(0.2)
"""

#: Python for a tab whose ``db`` has a table ``items(tag, n)``: start a write transaction
#: whose pages spill to the file (a 10-page cache; every row updated, then 20,000 rows of
#: 200 bytes), then a statement that runs for a long while, in a task of its own. The caller
#: then closes or kills the tab mid-transaction: it leaves a hot journal behind.
SPILLED_TRANSACTION = """
import asyncio
await db.execute("PRAGMA cache_size=10")
async def doomed():
    async with db.write_transaction() as tx:
        await tx.execute("UPDATE items SET tag = 'changed'")
        await tx.execute_many("INSERT INTO items(tag, n) VALUES (?, ?)",
                              [["x" * 200, i] for i in range(20000)])
        await asyncio.sleep(0.01)  # (a tab that keeps the lock runs all of it at once)
        await tx.get_all("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                         "FROM c) SELECT count(*) FROM c WHERE x < 2000000000")
doing = asyncio.ensure_future(doomed())
await asyncio.sleep(0)
"""

#: Python for a tab whose ``db`` has a table ``c(id, n)`` with the row ``(1, n)``: ``ROUNDS``
#: write transactions that each read the counter and write it plus one (a short random
#: sleep between), with plain reads now and then; the value of the code is the number of
#: commits acknowledged. Several tabs at once must end with the counter at their sum.
READ_MODIFY_WRITE = """
import asyncio, random
acknowledged = 0
for i in range(ROUNDS):
    async with db.write_transaction() as tx:
        n = (await tx.get("SELECT n FROM c WHERE id = 1"))["n"]
        await asyncio.sleep(random.random() * 0.002)
        await tx.execute("UPDATE c SET n = ? WHERE id = 1", [n + 1])
    acknowledged += 1
    if random.random() < 0.3:  # a plain read between, on the cached pages
        await db.get("SELECT n FROM c WHERE id = 1")
acknowledged
"""

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def browser_path() -> str:
    """The browser to launch: ``$TABSQLITE_BROWSER``, ``$CHROME_PATH``, else chromium."""
    for var in ("TABSQLITE_BROWSER", "CHROME_PATH"):
        value = os.environ.get(var)
        if value:
            return value
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no browser: install Debian's chromium or set TABSQLITE_BROWSER")


@contextlib.asynccontextmanager
async def profile_context(playwright: Playwright) -> AsyncIterator[BrowserContext]:
    """A browser with a fresh on-disk profile, as a user's browser has; its pages are tabs.

    Playwright's ``browser.new_context()`` is an off-the-record context: its OPFS lives in
    memory behind the browser process, and every access-handle call is a round trip to it
    (0.3-0.4 ms each here, against 1-5 us on disk). Tabs and benchmarks therefore run in a
    persistent context on a temporary profile, deleted on exit.

    Args:
        playwright: the running Playwright (``async with async_playwright() as p``).
    """
    profile = tempfile.mkdtemp(prefix="tabsqlite-profile-")
    try:
        context = await playwright.chromium.launch_persistent_context(
            profile, executable_path=browser_path(), args=CHROMIUM_ARGS)
        try:
            yield context
        finally:
            await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class TabPage(Protocol):
    """What :class:`BrowserTab` needs of a page: Playwright's ``Page``, or a Firefox tab
    (:class:`tabsqlite.webdriver_bidi.FirefoxPage`)."""

    def on(self, event: str, handler: Callable[[Any], None]) -> Any: ...
    async def goto(self, url: str) -> Any: ...
    async def evaluate(self, expression: str, arg: Any = None) -> Any: ...
    async def close(self) -> None: ...


class BrowserTab:
    """A page of ``js_glue/harness``; :meth:`run` executes Python (top-level await) in it."""

    boot_timeout = 90.0

    def __init__(self, page: Page | TabPage, name: str) -> None:
        self.page = page
        self.name = name
        self.log: list[str] = []
        self.timings: dict[str, float] = {}
        page.on("console", lambda m: self.log.append(f"[{name}] {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.log.append(f"[{name}] pageerror: {e}"))
        page.on("crash", lambda _: self.log.append(f"[{name}] crashed"))

    async def ready(self) -> dict[str, float]:
        """Wait until tabsqlite is ready in the tab; return its start-up timings (ms)."""
        timings = await self.page.evaluate(
            """ms => Promise.race([window.tabReady, new Promise((_, rej) =>
                   setTimeout(() => rej(new Error('boot timed out')), ms))])""",
            int(self.boot_timeout * 1000),
        )
        self.timings = dict(timings)
        return self.timings

    #: The page's function that runs Python (``code`` -> a promise of its value).
    runner = "window.tab.run"

    async def run(self, code: str, timeout: float = 30) -> Any:
        """Run Python in the tab; raise AssertionError (with the console) after ``timeout``.

        :param code: Python (dedented first; top-level ``await`` allowed); the value of its
            last expression comes back, converted to plain JSON-like values.
        :param timeout: seconds to wait for it.
        """
        code = textwrap.dedent(code)
        try:
            return await asyncio.wait_for(
                self.page.evaluate(
                    f"""([code, ms]) => Promise.race([{self.runner}(code),
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
        """What Python posted to the page with ``tabsqlite_glue.post_to_page``."""
        return list(await self.page.evaluate("window.events"))
