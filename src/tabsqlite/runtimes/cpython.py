"""The CPython runtime: stdlib ``sqlite3``, Unix datagram signals, ``flock`` holds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil

from ..holds import MemoryHoldManager
from ..names import runtime_directory
from ..paths import is_memory
from ..runtime import Connection, ConnectOptions, Deliver, HoldManager, Runtime, Transport
from .cpython_connection import CPythonConnection
from .file_holds import FileHoldManager
from .unix_transport import UnixDatagramTransport

__all__ = ["CPythonRuntime"]

_SIDE_FILES = ("-journal", "-wal", "-shm")


class CPythonRuntime(Runtime):
    """Runs tabsqlite on CPython: several OS processes can share one database file."""

    name = "cpython"
    options = ConnectOptions(journal_mode="wal")

    def __init__(self, directory: str | None = None) -> None:
        self._directory = directory

    def default_directory(self) -> str:
        """``TABSQLITE_DATA_DIR``, else ``$XDG_DATA_HOME/tabsqlite``, else ``~/.local/share``."""
        if self._directory:
            return os.path.abspath(self._directory)
        env = os.environ.get("TABSQLITE_DATA_DIR")
        if env:
            return os.path.abspath(env)
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
        return os.path.join(os.path.abspath(base), "tabsqlite")

    async def prepare_path(self, path: str) -> str:
        if is_memory(path):
            return path
        parent, name = os.path.split(path)
        os.makedirs(parent, exist_ok=True)
        return os.path.join(os.path.realpath(parent), name)

    async def connect(self, path: str, options: ConnectOptions) -> Connection:
        return await CPythonConnection.open(path, options)

    async def delete_database_files(self, path: str, lock_timeout: float = 10.0) -> None:
        if is_memory(path):
            return
        for suffix in ("", *_SIDE_FILES):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path + suffix)
        await asyncio.to_thread(shutil.rmtree, runtime_directory(path), True)

    async def open_transport(self, channel: str, deliver: Deliver) -> Transport:
        return UnixDatagramTransport(channel, deliver)

    def hold_manager(self, path: str) -> HoldManager:
        if is_memory(path):
            return MemoryHoldManager()
        return FileHoldManager(path)
