"""Holds across OS processes: ``flock`` on lock files beside the database.

A process that dies (even by ``kill -9``) loses its locks, so its holds vanish with it.
``flock`` locks belong to an open file description, so two connections in one process
exclude each other too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from ..names import runtime_directory
from ..runtime import Hold, HoldManager, HoldTakenError

__all__ = ["FileHoldManager"]


class _FileHold(Hold):
    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self._fd: int | None = fd

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the description drops the flock


class FileHoldManager(HoldManager):
    """Holds as ``flock``-ed files in ``<database>-tabsqlite/holds/``."""

    def __init__(self, database_path: str) -> None:
        self.directory = os.path.join(runtime_directory(database_path), "holds")

    def _path(self, name: str) -> str:
        if "/" in name or name.startswith("."):
            raise ValueError(f"bad hold name {name!r}")
        return os.path.join(self.directory, name + ".lock")

    async def acquire(self, name: str) -> Hold:
        path = self._path(name)
        os.makedirs(self.directory, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _same_file(fd, path):
                    return _FileHold(name, fd)
            except BlockingIOError:
                os.close(fd)
                raise HoldTakenError(f"hold {name!r} is held") from None
            except BaseException:
                os.close(fd)
                raise
            # The file was unlinked (``forget``) between our open and our flock: the lock
            # we got is on a file nobody else will open. Take the one at the path instead.
            os.close(fd)

    async def is_held(self, name: str) -> bool:
        try:
            fd = os.open(self._path(name), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    async def forget(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(name))


def _same_file(fd: int, path: str) -> bool:
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (at_path.st_dev, at_path.st_ino)
