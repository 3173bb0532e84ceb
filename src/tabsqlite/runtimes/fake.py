"""A runtime in one process and in memory, for tests: :class:`FakeRuntime`.

The seam's promise ("a new runtime is one new module") kept for tests: connections of one
``FakeRuntime`` to the same name share one in-memory database (SQLite's shared cache); a
per-database lock stands in for the file lock, taken by each statement and held from
``BEGIN`` to the end of the transaction, the way a tab holds its Web Lock; messages go
through an in-process channel; holds live in a set. Statements run on the event loop's
thread, so the core's change, watch and trigger tests run in milliseconds and with no
thread, file, socket or browser in the way.

``open_database("app.db", runtime=FakeRuntime())``; share one ``FakeRuntime`` between
the connections that should see one another.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ..errors import SQLITE_BUSY, BusyError
from ..holds import MemoryHoldManager
from ..paths import is_memory
from ..runtime import (
    Connection,
    ConnectOptions,
    Deliver,
    HoldManager,
    Params,
    Result,
    Runtime,
)
from ..runtime import Transport as TransportBase
from .cpython_connection import CPythonConnection, translate_error

__all__ = ["FakeRuntime"]

_worlds = itertools.count(1)


class _InlineExecutor(concurrent.futures.Executor):
    """Runs each call at once, on the caller's thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
               ) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the awaiting task
            future.set_exception(error)
        return future


class _File:
    """One named database: its lock (who holds it) and a connection keeping it alive."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.anchor = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.owner: _FakeConnection | None = None
        self.freed = asyncio.Condition()


class _FakeConnection(Connection):
    """A :class:`CPythonConnection` on the loop's thread, behind the database's lock."""

    def __init__(self, inner: CPythonConnection, file: _File | None, lock_timeout: float) -> None:
        super().__init__()
        self._inner = inner
        self._file = file
        self._lock_timeout = lock_timeout

    @property
    def in_transaction(self) -> bool:
        return self._inner.in_transaction

    def take_late_result(self) -> Result | None:
        return self._inner.take_late_result()

    async def _enter(self, timeout: float | None) -> None:
        file = self._file
        if file is None or file.owner is self:
            return
        wait = self._lock_timeout if timeout is None else min(timeout, self._lock_timeout)
        async with file.freed:
            try:
                await asyncio.wait_for(file.freed.wait_for(lambda: file.owner is None), wait)
            except TimeoutError:
                raise BusyError("database is locked", extended_code=SQLITE_BUSY) from None
            file.owner = self

    async def _leave(self) -> None:
        """Free the lock after a call, unless a transaction keeps it."""
        if not self._inner.in_transaction:
            await self._free()

    async def _free(self) -> None:
        file = self._file
        if file is not None and file.owner is self:
            async with file.freed:
                file.owner = None
                file.freed.notify_all()

    async def _locked(
        self, call: Coroutine[Any, Any, Result], timeout: float | None
    ) -> Result:
        """Run ``call`` (an inner connection's call, not yet started) under the lock."""
        try:
            await self._enter(timeout)
        except BaseException:
            call.close()  # a coroutine that never ran
            raise
        try:
            return await call
        finally:
            await asyncio.shield(self._leave())

    async def execute(
        self, sql: str, params: Params = (), timeout: float | None = None
    ) -> Result:
        return await self._locked(self._inner.execute(sql, params, timeout), timeout)

    async def execute_many(
        self, sql: str, seq_of_params: Sequence[Params], timeout: float | None = None
    ) -> Result:
        return await self._locked(
            self._inner.execute_many(sql, seq_of_params, timeout), timeout)

    async def close(self) -> None:
        try:
            await self._inner.close()
        finally:
            await self._free()


class _Channel(TransportBase):
    """A channel between connections of one process; like the browser's, it can stop
    handing messages over and only count them (``set_listening``)."""

    def __init__(self, members: set[_Channel], deliver: Deliver) -> None:
        self._members = members
        self._deliver = deliver
        self._listening = True
        self._missed = 0
        self.delivered = 0  # batches handed over (tests)
        members.add(self)

    async def send(self, message: str) -> None:
        loop = asyncio.get_running_loop()
        for other in list(self._members):
            if other is not self:  # delivered later, as a real channel would
                loop.call_soon(other._take, message)

    def _take(self, message: str) -> None:
        if not self._listening:
            self._missed += 1
            return
        self.delivered += 1
        self._deliver([message])

    def set_listening(self, listening: bool) -> int:
        self._listening = listening
        missed, self._missed = self._missed, 0
        return missed

    async def close(self) -> None:
        self._members.discard(self)


class FakeRuntime(Runtime):
    """Several connections in one process sharing in-memory databases (for tests).

    :param directory: where plain names are placed (only a prefix: nothing is written).
    """

    name = "fake"
    options = ConnectOptions(journal_mode="memory")

    def __init__(self, directory: str = "/fake") -> None:
        self._directory = directory
        self._world = next(_worlds)
        self._files: dict[str, _File] = {}
        self._channels: dict[str, set[_Channel]] = {}
        self._holds: set[str] = set()

    def default_directory(self) -> str:
        return self._directory

    async def prepare_path(self, path: str) -> str:
        return path

    async def connect(self, path: str, options: ConnectOptions) -> Connection:
        file: _File | None = None
        if is_memory(path):
            uri = ":memory:"
        else:
            file = self._files.get(path)
            if file is None:
                name = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
                file = self._files[path] = _File(
                    f"file:fake{self._world}{name}?mode=memory&cache=shared")
            uri = file.uri
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as error:
            raise translate_error(error) from error
        inner = CPythonConnection(_InlineExecutor(), conn, path, options)
        return _FakeConnection(inner, file, options.lock_timeout)

    async def delete_database_files(self, path: str, lock_timeout: float = 10.0) -> None:
        file = self._files.pop(path, None)
        if file is not None:
            file.anchor.close()

    async def open_transport(
        self, channel: str, deliver: Deliver
    ) -> TransportBase:
        return _Channel(self._channels.setdefault(channel, set()), deliver)

    def hold_manager(self, path: str) -> HoldManager:
        return MemoryHoldManager(self._holds)
