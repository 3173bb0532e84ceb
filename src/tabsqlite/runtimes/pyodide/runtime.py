"""The browser runtime: :class:`PyodideRuntime`."""

from __future__ import annotations

import asyncio
import secrets
import time

from ...errors import (
    SQLITE_BUSY,
    BadCallError,
    BusyError,
    DatabaseError,
    sqlite_error,
)
from ...names import MEMORY_LOCK, database_lock_name, presence_prefix
from ...paths import is_memory
from ...runtime import (
    Connection,
    ConnectOptions,
    Deliver,
    HoldManager,
    Runtime,
    Transport,
)
from .boot import DEFAULT_DIRECTORY, BootOptions, start_glue
from .connection import PyodideConnection
from .glue import Glue, _awaited, _settled, registered_glue
from .locks import WebLockHoldManager, _Lock, lock_holder
from .transport import BroadcastTransport


class PyodideRuntime(Runtime):
    """Runs tabsqlite in a browser tab, on tabsqlite's own OPFS VFS (``js_glue``'s
    ``tabvfs.mjs``): every tab keeps the file's handles where the browser lets several tabs
    share them (Chromium), and commits go to a write-ahead log beside the database; else
    the holder of the database's lock lends them on request; sqlite-wasm's ``opfs`` only
    where OPFS sync access handles are missing."""

    name = "pyodide"
    #: A rollback journal (WAL needs memory shared between tabs, which they lack), kept
    #: between commits (``persist``: its header is zeroed, not the file deleted or
    #: truncated: one flush less per commit) and cut back to 1 MiB after a big one. 4 KiB
    #: pages: on tabsqlite's VFS every page costs a few microseconds, so a small commit
    #: writes and flushes less. One tab's autocommit inserts, one run on this machine
    #: (bench/, figure 3): 4 KiB persist 291/s, 16 KiB persist 227/s, 16 KiB delete 214/s,
    #: 16 KiB truncate 185/s. ``synchronous`` stays FULL (NORMAL: 242/s against 227/s, but
    #: a power cut could then undo acknowledged commits). In log mode (Chromium's default)
    #: the VFS keeps SQLite's journal in memory whatever is asked: the log is the journal.
    options = ConnectOptions(journal_mode="persist", page_size=4096,
                             journal_size_limit=1 << 20)

    def __init__(self, *, assets_url: str | None = None, handles: str = "auto",
                 default_directory: str = DEFAULT_DIRECTORY) -> None:
        """
        :param assets_url: where the browser files are served (the wheel's
            ``tabsqlite/_browser/`` folder); ``None``: from the installed package. Unused
            where ``startTab`` registered the glue.
        :param handles: ``"auto"``, ``"shared"``, ``"lending"`` (forced only to test) or
            ``"log"`` (shared handles with a write-ahead log): how tabsqlite's VFS holds
            the files. Unused where ``startTab`` registered the glue.
        :param default_directory: the OPFS folder for plain names (unless ``startTab``
            named one).
        """
        self._boot = BootOptions(assets_url, handles, default_directory)
        self._glue: Glue | None = registered_glue()

    def default_directory(self) -> str:
        if self._glue is not None:
            return str(self._glue.defaultDirectory)
        return self._boot.default_directory

    async def _started(self) -> Glue:
        if self._glue is None:
            self._glue = await start_glue(self._boot)
        return self._glue

    def _ready(self) -> Glue:
        if self._glue is None:
            raise BadCallError("the browser runtime is not started: open a database first")
        return self._glue

    async def prepare_path(self, path: str) -> str:
        await self._started()  # the JS side, started on the first open
        return path  # OPFS has no links; the VFS creates directories on open

    async def connect(self, path: str, options: ConnectOptions) -> Connection:
        glue = await self._started()
        lock_name = database_lock_name(path)
        timeout_ms = int(options.lock_timeout * 1000)
        lock = _Lock(glue, MEMORY_LOCK if is_memory(path) else lock_name, timeout_ms)
        if await lock.granted() is None:
            holder = await lock_holder(glue, lock_name)
            raise BusyError(f"database is locked: {path}" + (f": held by {holder}" if holder
                                                            else ""),
                            extended_code=SQLITE_BUSY)
        try:
            opened = glue.open(path)
            if getattr(opened, "then", None) is not None:  # main mode, or the tabsqlite VFS
                try:  # opening the file's handles first: a promise
                    opened = await asyncio.shield(asyncio.ensure_future(_awaited(opened)))
                except asyncio.CancelledError:
                    late = await _settled(opened)  # it opens anyway: close what it opened
                    if late is not None and late.to_py()[0] == 1:
                        closing = glue.close(late.to_py()[1])
                        if getattr(closing, "then", None) is not None:
                            await _settled(closing)
                    raise
            out = opened.to_py()
        finally:
            lock.release()
        if out[0] == 0:
            _, message, code, kind, *_ = out
            if kind == "sqlite" and code:
                raise sqlite_error(f"cannot open {path}: {message}", int(code))
            raise BadCallError(f"cannot open {path}: {message}")
        handle = int(out[1])
        if not is_memory(path):  # held where the statements run (the database worker)
            label = f"{secrets.token_hex(4)}@{int(time.time() * 1000)}"
            glue.presence(handle, presence_prefix(lock_name) + label)
        return PyodideConnection(
            glue, handle, None if is_memory(path) else lock_name, timeout_ms
        )

    async def delete_database_files(self, path: str, lock_timeout: float = 10.0) -> None:
        if is_memory(path):
            return
        glue = await self._started()
        lock = _Lock(glue, database_lock_name(path), int(lock_timeout * 1000))
        if await lock.granted() is None:
            raise BusyError(f"database is locked: {path}", extended_code=SQLITE_BUSY)
        try:
            await glue.deleteFiles(path)
        except Exception as error:  # a JS error from OPFS (quota, permission, busy handle)
            raise DatabaseError(f"could not delete {path}: {error}") from error
        finally:
            lock.release()

    async def open_transport(self, channel: str, deliver: Deliver) -> Transport:
        return BroadcastTransport(await self._started(), channel, deliver)

    def hold_manager(self, path: str) -> HoldManager:
        if is_memory(path):
            from ...holds import MemoryHoldManager

            return MemoryHoldManager()
        return WebLockHoldManager(self._ready())
