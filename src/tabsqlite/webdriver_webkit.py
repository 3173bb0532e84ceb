"""WebKitGTK tabs for the test suite and the bench, over classic WebDriver (test tooling).

Playwright drives only its own WebKit builds, which are downloads; Debian's
``webkit2gtk-driver`` (``WebKitWebDriver``) drives WebKitGTK's MiniBrowser, which needs an
X display (``Xvfb``, started here when ``DISPLAY`` is unset). :func:`webkit_context` gives
pages with the few methods :class:`tabsqlite.testing.BrowserTab` uses (``goto``,
``evaluate``, ``on``, ``close``). Classic WebDriver runs one command at a time per session,
so the pages' commands take turns. :func:`webkit_probe` measures what tabsqlite needs
from a page of a running WebKit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from .webdriver_bidi import stop_process

__all__ = ["EngineCannotRun", "WebDriverError", "WebKitContext", "WebKitPage",
           "require_sync_access_handles", "webkit_context", "webkit_driver_path",
           "webkit_probe"]

#: Where Debian puts WebKitGTK's MiniBrowser.
_MINIBROWSER = ("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
                "/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
                "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.0/MiniBrowser")

#: JavaScript run by :meth:`WebKitPage.evaluate`: a function's source is called with the
#: argument, anything else is evaluated; the last argument is WebDriver's callback.
_EVALUATE = """
const [source, arg, done] = arguments;
(async () => {
  const value = /^(async\\s+)?(\\(|[A-Za-z_$][\\w$]*\\s*=>|function\\b)/.test(source.trim())
    ? await (0, eval)("(" + source + ")")(arg) : await (0, eval)(source);
  return value === undefined ? null : value;
})().then((value) => done({ ok: true, value }),
          (e) => done({ ok: false, error: String((e && e.stack) || e) }));
"""

#: What tabsqlite needs, as a page and a dedicated worker of it see it.
_PROBE = """async () => {
  const facts = {
    webLocks: typeof navigator.locks !== "undefined",
    broadcastChannel: typeof BroadcastChannel !== "undefined",
    sharedArrayBuffer: typeof SharedArrayBuffer !== "undefined",
    storageGetDirectory: !!(navigator.storage && navigator.storage.getDirectory),
  };
  if (facts.storageGetDirectory) {
    try {
      const root = await navigator.storage.getDirectory();
      await root.getFileHandle("tabsqlite-probe", { create: true });
      await root.removeEntry("tabsqlite-probe");
      facts.opfsFile = "ok";
    } catch (e) {
      facts.opfsFile = (e && e.name) || String(e);
    }
  }
  const code = "postMessage(typeof FileSystemFileHandle !== 'undefined' && " +
    "typeof FileSystemFileHandle.prototype.createSyncAccessHandle === 'function')";
  const worker = new Worker(URL.createObjectURL(new Blob([code], { type: "text/javascript" })));
  facts.workerSyncAccessHandles = await new Promise((resolve) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = () => resolve(null);
  });
  worker.terminate();
  return facts;
}"""


class WebDriverError(RuntimeError):
    """A WebDriver command failed, or the page's script threw."""


class EngineCannotRun(RuntimeError):
    """The engine lacks what tabsqlite needs (the message says what, as measured)."""


def webkit_driver_path() -> str:
    """``$TABSQLITE_WEBKIT_DRIVER``, else ``WebKitWebDriver`` on the PATH."""
    found = os.environ.get("TABSQLITE_WEBKIT_DRIVER") or shutil.which("WebKitWebDriver")
    if not found:
        raise FileNotFoundError("no WebKitWebDriver: install Debian's webkit2gtk-driver, or set "
                                "TABSQLITE_WEBKIT_DRIVER")
    return found


def _minibrowser() -> str:
    found = os.environ.get("TABSQLITE_WEBKIT") or next(
        (p for p in _MINIBROWSER if Path(p).exists()), None)
    if not found:
        raise FileNotFoundError("no WebKitGTK MiniBrowser (Debian's libwebkit2gtk-4.1-0), or "
                                "set TABSQLITE_WEBKIT")
    return found


class WebKitPage:
    """One tab (a WebDriver window)."""

    def __init__(self, browser: WebKitContext, handle: str) -> None:
        self._browser = browser
        self.handle = handle

    def on(self, event: str, handler: Callable[[Any], None]) -> None:
        """Classic WebDriver reports no console: nothing is ever emitted.

        :param event: the event's name.
        :param handler: never called.
        """

    async def goto(self, url: str) -> None:
        """Load ``url`` (WebDriver waits for the load).

        :param url: the address.
        """
        await self._browser.command(self.handle, "POST", "url", {"url": url})

    async def evaluate(self, expression: str, arg: Any = None) -> Any:
        """Run ``expression`` in the page and wait for its promise, as Playwright's does: a
        function (``x => ...``) is called with ``arg``, anything else is evaluated.

        :param expression: JavaScript: a function's source or an expression.
        :param arg: the function's argument (JSON-like values).
        """
        out = await self._browser.command(self.handle, "POST", "execute/async",
                                          {"script": _EVALUATE, "args": [expression, arg]})
        if not isinstance(out, dict) or not out.get("ok"):
            raise WebDriverError(str(out.get("error") if isinstance(out, dict) else out))
        return out.get("value")

    async def close(self) -> None:
        """Close the tab."""
        await self._browser.command(self.handle, "DELETE", "window", None)


class WebKitContext:
    """A running WebKitGTK with one WebDriver session; :meth:`new_page` opens a tab."""

    def __init__(self, base: str, session: str, capabilities: dict[str, Any]) -> None:
        self._base = base
        self._session = session
        self._turn = asyncio.Lock()
        self._current: str | None = None
        self._first: str | None = None
        #: The browser's name and version, e.g. "MiniBrowser 2.50.6".
        self.version = (f"{capabilities.get('browserName')} "
                        f"{capabilities.get('browserVersion')}")

    async def _call(self, method: str, path: str, body: Any) -> Any:
        url = f"{self._base}/session/{self._session}{'/' + path if path else ''}"
        return await asyncio.to_thread(_request, method, url, body)

    async def command(self, handle: str | None, method: str, path: str, body: Any) -> Any:
        """Run one command in the window ``handle`` (switched to first; commands take turns).

        :param handle: the window, or None for the current one.
        :param method: the HTTP method.
        :param path: the command's path after the session's.
        :param body: its JSON body, or None.
        """
        async with self._turn:
            if handle is not None and handle != self._current:
                await self._call("POST", "window", {"handle": handle})
                self._current = handle
            out = await self._call(method, path, body)
            if method == "DELETE" and path == "window":
                self._current = None
            return out

    async def new_page(self) -> WebKitPage:
        """Open a new tab (the session's first window serves as the first one)."""
        async with self._turn:
            if self._first is None:
                self._first = str(await self._call("GET", "window", None))
                return WebKitPage(self, self._first)
            made = await self._call("POST", "window/new", {"type": "tab"})
            return WebKitPage(self, str(made["handle"]))

    async def quit(self) -> None:
        """End the session (the browser goes with it)."""
        async with self._turn:
            await self._call("DELETE", "", None)


def _request(method: str, url: str, body: Any) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as answer:
            payload = json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            payload = json.loads(e.read() or b"{}")
        except ValueError:
            payload = {}
        value = payload.get("value", {}) if isinstance(payload, dict) else {}
        raise WebDriverError(f"{method} {url}: {value.get('error', e.code)}: "
                             f"{value.get('message', '')}") from None
    return payload.get("value") if isinstance(payload, dict) else payload


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _ready(url: str, process: asyncio.subprocess.Process, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if process.returncode is not None:
            raise RuntimeError(f"{url}: the process exited ({process.returncode})")
        with contextlib.suppress(OSError, WebDriverError, ValueError):
            await asyncio.to_thread(_request, "GET", url, None)
            return
        if loop.time() > deadline:
            raise TimeoutError(f"{url} did not answer within {seconds} s")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def webkit_context(features: str = "") -> AsyncIterator[WebKitContext]:
    """WebKitGTK's MiniBrowser under WebKitWebDriver (and Xvfb when there is no display).

    :param features: MiniBrowser's ``--features`` (e.g. ``"+FileSystem,+StorageAPI"``), or
        "" for its defaults.
    """
    env = dict(os.environ)
    stack = contextlib.AsyncExitStack()
    async with stack:
        if not env.get("DISPLAY"):
            display = f":{_free_port() % 400 + 100}"
            xvfb = await asyncio.create_subprocess_exec(
                shutil.which("Xvfb") or "Xvfb", display, "-screen", "0", "1280x1024x24",
                "-nolisten", "tcp", stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            stack.push_async_callback(stop_process, xvfb)
            env["DISPLAY"] = display
            await asyncio.sleep(0.5)
        port = _free_port()
        driver = await asyncio.create_subprocess_exec(
            webkit_driver_path(), f"--port={port}", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        stack.push_async_callback(stop_process, driver)
        base = f"http://127.0.0.1:{port}"
        await _ready(f"{base}/status", driver, 30)
        args = ["--automation"] + ([f"--features={features}"] if features else [])
        made = await asyncio.to_thread(_request, "POST", f"{base}/session", {"capabilities": {
            "alwaysMatch": {"webkitgtk:browserOptions": {"binary": _minibrowser(),
                                                         "args": args}}}})
        browser = WebKitContext(base, str(made["sessionId"]), made.get("capabilities", {}))
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.quit(), 20)


async def webkit_probe(page: WebKitPage) -> dict[str, Any]:
    """What tabsqlite needs, as ``page`` (loaded from an http origin) has it: Web Locks,
    BroadcastChannel, SharedArrayBuffer, ``navigator.storage.getDirectory``, whether a file
    can be made in OPFS (``"ok"`` or the error's name) and whether a dedicated worker has
    ``createSyncAccessHandle``.

    :param page: a page of :func:`webkit_context`.
    """
    facts: dict[str, Any] = await page.evaluate(_PROBE)
    return facts


async def require_sync_access_handles(page: WebKitPage, version: str) -> None:
    """Raise :class:`EngineCannotRun` with what :func:`webkit_probe` measured unless a
    dedicated worker of ``page`` has OPFS sync access handles (tabsqlite's VFS needs them;
    sqlite-wasm's ``opfs`` needs them and SharedArrayBuffer).

    :param page: a page of :func:`webkit_context`, loaded from the server under test.
    :param version: the browser's name and version, for the message.
    """
    facts = await webkit_probe(page)
    if not facts.get("workerSyncAccessHandles"):
        raise EngineCannotRun(f"{version}: no OPFS sync access handles in a dedicated worker "
                              f"({json.dumps(facts, sort_keys=True)})")
