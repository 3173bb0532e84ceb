"""Firefox tabs for the test suite and the bench, over WebDriver BiDi (test tooling).

Playwright drives only its own Firefox builds, which are downloads; Debian's ``firefox-esr``
speaks WebDriver BiDi itself (``--remote-debugging-port``), so a small client suffices:
:func:`firefox_context` launches it on a fresh on-disk profile and gives pages with the
few methods :class:`tabsqlite.testing.BrowserTab` uses (``goto``, ``evaluate``, ``on``,
``close``). Needs the ``websockets`` package (the ``test`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FirefoxContext", "FirefoxPage", "firefox_context", "firefox_path"]

#: Preferences for a quiet, offline test profile.
_PREFS = {
    "app.update.disabledForTesting": True,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "network.captive-portal-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "extensions.update.enabled": False,
    "dom.ipc.processCount": 8,  # (one content process per tab, as in a user's browser)
}


class BidiError(RuntimeError):
    """A WebDriver BiDi command failed, or the script it ran threw."""


def firefox_path() -> str:
    """The Firefox to launch: ``$TABSQLITE_FIREFOX``, else Debian's ``firefox-esr``."""
    found = os.environ.get("TABSQLITE_FIREFOX") or shutil.which("firefox-esr") or \
        shutil.which("firefox")
    if not found:
        raise RuntimeError("no Firefox: install Debian's firefox-esr or set TABSQLITE_FIREFOX")
    return found


@dataclass(frozen=True)
class ConsoleMessage:
    """A tab's console line, as Playwright's ``ConsoleMessage`` names its fields."""

    type: str
    text: str


def _local(value: Any) -> dict[str, Any]:
    """A Python value as a BiDi LocalValue."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, list | tuple):
        return {"type": "array", "value": [_local(v) for v in value]}
    if isinstance(value, dict):
        return {"type": "object", "value": [[str(k), _local(v)] for k, v in value.items()]}
    raise TypeError(f"cannot send a {type(value).__name__} to the page")


def _remote(value: dict[str, Any]) -> Any:
    """A BiDi RemoteValue as a Python value (what Playwright's ``evaluate`` returns)."""
    kind = value.get("type")
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return value["value"]
    if kind == "number":
        number = value["value"]
        return number if not isinstance(number, str) else float(number.replace("Infinity",
                                                                                "inf"))
    if kind == "array":
        return [_remote(v) for v in value.get("value", [])]
    if kind in ("object", "map"):
        return {(k if isinstance(k, str) else _remote(k)): _remote(v)
                for k, v in value.get("value", [])}
    return f"<{kind}>"


class FirefoxPage:
    """One tab (a BiDi top-level browsing context)."""

    def __init__(self, browser: FirefoxContext, context_id: str) -> None:
        self._browser = browser
        self.context_id = context_id
        self._handlers: dict[str, list[Callable[[Any], None]]] = {}

    def on(self, event: str, handler: Callable[[Any], None]) -> None:
        """Call ``handler`` for each ``"console"`` message (others are never emitted).

        :param event: the event's name.
        :param handler: called with a :class:`ConsoleMessage`.
        """
        self._handlers.setdefault(event, []).append(handler)

    def _emit(self, event: str, payload: Any) -> None:
        for handler in self._handlers.get(event, []):
            handler(payload)

    async def goto(self, url: str) -> None:
        """Load ``url`` and wait for its load event.

        :param url: the address.
        """
        await self._browser.call("browsingContext.navigate",
                                 {"context": self.context_id, "url": url, "wait": "complete"})

    async def evaluate(self, expression: str, arg: Any = None) -> Any:
        """Run ``expression`` in the page and wait for its promise, as Playwright's does: a
        function (``x => ...``) is called with ``arg``, anything else is evaluated.

        :param expression: JavaScript: a function's source or an expression.
        :param arg: the function's argument (JSON-like values).
        """
        source = expression.strip()
        target = {"context": self.context_id}
        if re.match(r"^(async\s+)?(\(|[A-Za-z_$][\w$]*\s*=>|function\b)", source):
            result = await self._browser.call("script.callFunction", {
                "functionDeclaration": source, "arguments": [_local(arg)],
                "awaitPromise": True, "target": target})
        else:
            result = await self._browser.call("script.evaluate", {
                "expression": source, "awaitPromise": True, "target": target})
        if result.get("type") == "exception":
            details = result.get("exceptionDetails", {})
            raise BidiError(str(details.get("text") or details))
        return _remote(result["result"])

    async def close(self) -> None:
        """Close the tab (its workers and Web Locks go with it)."""
        await self._browser.call("browsingContext.close", {"context": self.context_id})


class FirefoxContext:
    """A running Firefox; :meth:`new_page` opens a tab (all tabs share OPFS, Web Locks and
    BroadcastChannels, as one user's tabs do)."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._next = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, FirefoxPage] = {}
        self._reader = asyncio.ensure_future(self._read())
        #: The browser's name and version, e.g. "firefox 153.8.0".
        self.version = ""

    async def _read(self) -> None:
        async for raw in self._socket:
            message = json.loads(raw)
            waiter = self._pending.pop(message.get("id", -1), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            elif message.get("method") == "log.entryAdded":
                params = message["params"]
                page = self._pages.get(params.get("source", {}).get("context", ""))
                if page is not None:
                    page._emit("console", ConsoleMessage(str(params.get("level", "log")),
                                                         str(params.get("text", ""))))

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send one BiDi command and return its result.

        :param method: the command, e.g. ``"browsingContext.create"``.
        :param params: its parameters.
        """
        self._next += 1
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next] = waiter
        await self._socket.send(json.dumps({"id": self._next, "method": method,
                                            "params": params}))
        message = await waiter
        if message.get("type") == "error":
            raise BidiError(f"{method}: {message.get('error')}: {message.get('message')}")
        result: dict[str, Any] = message["result"]
        return result

    async def new_page(self) -> FirefoxPage:
        """Open a new tab."""
        made = await self.call("browsingContext.create", {"type": "tab"})
        page = FirefoxPage(self, made["context"])
        self._pages[page.context_id] = page
        return page


@contextlib.asynccontextmanager
async def firefox_context() -> AsyncIterator[FirefoxContext]:
    """Firefox, headless, on a fresh on-disk profile (deleted on exit)."""
    import websockets

    profile = tempfile.mkdtemp(prefix="tabsqlite-firefox-")
    Path(profile, "user.js").write_text("".join(
        f"user_pref({json.dumps(key)}, {json.dumps(value)});\n" for key, value in _PREFS.items()))
    process = await asyncio.create_subprocess_exec(
        firefox_path(), "--headless", "--no-remote", "--profile", profile,
        "--remote-debugging-port", "0",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        url = await asyncio.wait_for(_listening(process), 60)
        draining = asyncio.ensure_future(_drain(process))  # (a full pipe would stall it)
        async with websockets.connect(url + "/session", max_size=None) as socket:
            browser = FirefoxContext(socket)
            caps = (await browser.call("session.new", {"capabilities": {}}))["capabilities"]
            browser.version = f"{caps.get('browserName')} {caps.get('browserVersion')}"
            await browser.call("session.subscribe", {"events": ["log.entryAdded"]})
            try:
                yield browser
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(browser.call("browser.close", {}), 10)
                browser._reader.cancel()
                draining.cancel()
    finally:
        await stop_process(process)
        shutil.rmtree(profile, ignore_errors=True)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """Stop a browser or driver process: terminate, and kill it after 10 s.

    :param process: the process (nothing happens if it has exited).
    """
    if process.returncode is None:
        process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 10)
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _listening(process: asyncio.subprocess.Process) -> str:
    """The WebSocket address Firefox prints once its BiDi server listens."""
    assert process.stderr is not None
    while True:
        line = (await process.stderr.readline()).decode(errors="replace")
        if not line:
            raise RuntimeError("Firefox exited before its WebDriver BiDi server listened")
        found = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
        if found:
            return found.group(1)


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stderr is not None
    while await process.stderr.read(65536):
        pass
