"""The JS side's contract (:class:`Glue`: ``tabsqlite_glue``, registered by ``startTab`` or
started by :mod:`.boot`), Pyodide's FFI, and awaiting its promises."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ...runtime import wait_out

JsValue = Any  # a JS value or proxy (a promise, an array, a function ...)


class Glue(Protocol):
    """The contract of ``tabsqlite_glue``, which the JS side registers in each mode
    (``js_glue/src/py_worker.mjs`` in worker mode, ``tabsqlite.mjs`` in main-thread mode,
    both over ``shim.mjs`` (``engine.mjs``, ``statement_locks.mjs``, ``answers.mjs``) and
    ``coordination.mjs``). Calls that reach the database worker in main-thread mode answer
    with a promise of what worker mode answers directly.

    Answers are the shim's compact forms (``answers.mjs`` has their JSDoc types):
    a number or a string for a statement without result columns (:func:`.wire.parse_done`),
    a string for a small result (:func:`.wire.parse_small_rows`), else an array that
    :func:`.wire.decode_answer` names (:class:`.wire.Rows`, :class:`.wire.Failure`).
    """

    #: ``"worker"`` (Python and SQLite share a worker) or ``"main"`` (proxied calls).
    mode: str
    #: Where plain database names are placed in OPFS.
    defaultDirectory: str
    #: The VFS connections open on (``"tabsqlite"``, or sqlite-wasm's ``"opfs"``).
    vfs: str
    #: How tabsqlite's VFS holds the files' handles: ``"shared"`` (every tab keeps
    #: ``readwrite-unsafe`` handles), ``"lending"`` (the lock's holder has them) or ``"log"``
    #: (shared, with a write-ahead log); ``None`` on another VFS.
    handles: str | None

    # -- connections (answers: see above; a promise in main mode or on tabsqlite's VFS) --
    def open(self, path: str) -> JsValue: ...
    def close(self, handle: int) -> JsValue: ...
    def exec(self, handle: int, sql: str, params: JsValue, reals: JsValue,
             timeout_ms: int | None = None) -> JsValue: ...
    def execArgs(self, handle: int, sql: str, reals: int, *params: Any) -> JsValue: ...
    def execMany(self, handle: int, sql: str, sets: JsValue, reals: JsValue,
                 timeout_ms: int | None = None) -> JsValue: ...
    def statementId(self, handle: int, sql: str) -> int: ...
    def runner(self, handle: int) -> JsValue: ...
    def deleteFiles(self, path: str) -> JsValue: ...
    # worker mode only: ``fn`` is called from inside a statement, in this thread
    def createFunction(self, handle: int, name: str, nargs: int, fn: JsValue,
                       deterministic: bool) -> None: ...

    # -- inside the database's Web Lock: {promise, cancel} requests, or the answer itself
    #    for a statement run at once under the lock the tab keeps (keptlocks.mjs) --------
    def lockedExec(self, *args: Any) -> JsValue: ...
    def lockedExecArgs(self, *args: Any) -> JsValue: ...
    def lockedExecMany(self, *args: Any) -> JsValue: ...
    def unlock(self, handle: int) -> JsValue: ...
    def presence(self, handle: int, name: str) -> JsValue: ...

    # -- main-thread mode only: the database worker ------------------------------------
    def interrupt(self, handle: int) -> None: ...
    def alive(self, handle: int) -> bool: ...

    # -- coordination ------------------------------------------------------------------
    def requestLock(self, name: str, timeout_ms: int, if_available: bool) -> JsValue: ...
    def heldLocks(self) -> JsValue: ...
    def lockHolder(self, name: str, presence_prefix: str) -> JsValue: ...
    def openChannel(self, name: str, on_messages: Any) -> JsValue: ...


def registered_glue() -> Glue | None:
    """The ``tabsqlite_glue`` module the JS side registered (``startTab``), if any."""
    try:
        import tabsqlite_glue  # type: ignore[import-not-found]  # registered by js_glue
    except ImportError:
        return None
    glue: Glue = tabsqlite_glue
    return glue


def _ffi() -> Any:
    import pyodide.ffi  # type: ignore[import-not-found]

    return pyodide.ffi


async def _awaited(promise: Any) -> Any:
    return await promise


async def _settled(promise: Any) -> Any:
    """The value of a JS promise, waited for whatever cancellations arrive (None if it
    fails)."""
    answer = asyncio.ensure_future(_awaited(promise))
    await wait_out(answer)
    if answer.cancelled() or answer.exception() is not None:
        return None
    return answer.result()
