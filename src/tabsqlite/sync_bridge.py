"""Calling tabsqlite's async API from synchronous code: what :mod:`tabsqlite.dbapi` runs on.

A :class:`Bridge` gives each synchronous connection one :class:`Worker`: a task that runs
the connection's calls one after another, so a transaction begun by one call (its
``BEGIN``) is owned by the same task as the calls that follow it. How the caller waits for
a call differs by runtime:

* CPython: the workers live on one event loop in a background thread of the process
  (started on first use); the caller's thread blocks until its call is done.
* Pyodide: the worker lives on the page's or worker's own event loop and the caller waits
  with ``pyodide.ffi.run_sync`` (JSPI: the WebAssembly stack is suspended while the event
  loop runs). Where the browser has no JSPI (or the code was not entered through a
  promising call, e.g. ``runPythonAsync``), :class:`~tabsqlite.errors.NotSupportedError`
  says so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .errors import InterfaceError, NotSupportedError

__all__ = ["Bridge", "Worker", "bridge"]

T = TypeVar("T")
Call = Callable[[], Awaitable[Any]]


Done = Callable[[BaseException | None, Any], None]


def _settles(future: asyncio.Future[Any] | concurrent.futures.Future[Any]) -> Done:
    """The ``done`` of :meth:`Worker.submit` that hands the outcome to ``future``."""

    def done(error: BaseException | None, result: Any) -> None:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    return done


class Worker:
    """One task that runs a connection's calls in order (see the module's docstring).

    :param loop: the event loop the task runs on.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._queue: asyncio.Queue[tuple[Call, Done] | None] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Create the queue and the task (on :attr:`loop`'s thread)."""
        self._queue = asyncio.Queue()
        self._task = self.loop.create_task(self._serve())

    async def _serve(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            if item is None:
                return
            call, done = item
            try:
                result = await call()
            except BaseException as error:  # handed to the caller, whatever it is
                done(error, None)
                if not isinstance(error, Exception):
                    raise
            else:
                done(None, result)

    def submit(self, call: Call, done: Done) -> None:
        """Queue ``call`` (on :attr:`loop`'s thread); ``done(error, result)`` when it ends.

        :param call: makes the coroutine to run.
        :param done: told the outcome.
        """
        assert self._queue is not None
        self._queue.put_nowait((call, done))

    def stop(self) -> None:
        """End the task after the calls queued so far (on :attr:`loop`'s thread)."""
        if self._queue is not None:
            self._queue.put_nowait(None)


class Bridge:
    """Runs coroutines for synchronous callers (one implementation per runtime)."""

    def new_worker(self) -> Worker:
        """A started :class:`Worker` for a new connection."""
        raise NotImplementedError

    def call(self, worker: Worker, call: Call) -> Any:
        """Run ``call()`` in ``worker``'s task and return its result (or raise its error),
        blocking the caller until then.

        :param worker: the connection's worker.
        :param call: makes the coroutine to run.
        """
        raise NotImplementedError

    def stop(self, worker: Worker) -> None:
        """End ``worker``'s task once its queued calls are done.

        :param worker: the connection's worker.
        """
        raise NotImplementedError


class ThreadBridge(Bridge):
    """CPython: one event loop in a daemon thread runs every worker of the process."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=run, name="tabsqlite-dbapi", daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop

    def new_worker(self) -> Worker:
        loop = self._running_loop()
        worker = Worker(loop)
        started = concurrent.futures.Future[None]()

        def start() -> None:
            worker.start()
            started.set_result(None)

        loop.call_soon_threadsafe(start)
        started.result()
        return worker

    def call(self, worker: Worker, call: Call) -> Any:
        if threading.current_thread().name == "tabsqlite-dbapi":
            raise InterfaceError("a tabsqlite.dbapi call from inside tabsqlite's own event "
                                 "loop (e.g. from an SQL function) would wait for itself")
        outcome = concurrent.futures.Future[Any]()
        worker.loop.call_soon_threadsafe(worker.submit, call, _settles(outcome))
        return outcome.result()

    def stop(self, worker: Worker) -> None:
        worker.loop.call_soon_threadsafe(worker.stop)


class PyodideBridge(Bridge):
    """Pyodide: workers on the running event loop, waited for with JSPI's ``run_sync``."""

    def new_worker(self) -> Worker:
        worker = Worker(asyncio.get_event_loop())
        worker.start()
        return worker

    def call(self, worker: Worker, call: Call) -> Any:
        from pyodide.ffi import can_run_sync, run_sync  # type: ignore[import-not-found]

        if not can_run_sync():
            raise NotSupportedError(
                "tabsqlite.dbapi is synchronous, and in the browser that needs JSPI "
                "(WebAssembly stack switching: Chromium 137+), entered through an async "
                "call such as pyodide.runPythonAsync; here it is not available. Use the "
                "async API (tabsqlite.open_database) instead")
        outcome: asyncio.Future[Any] = worker.loop.create_future()
        worker.submit(call, _settles(outcome))
        return run_sync(outcome)

    def stop(self, worker: Worker) -> None:
        worker.stop()


_bridge: Bridge | None = None


def bridge() -> Bridge:
    """This process's bridge (Pyodide's in a browser, else a thread's)."""
    global _bridge
    if _bridge is None:
        _bridge = PyodideBridge() if sys.platform == "emscripten" else ThreadBridge()
    return _bridge
