"""Web Locks from Python: requests, the lock a transaction keeps, who holds a lock, and
holds (which the browser frees when their tab closes or crashes)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from ...names import presence_prefix
from ...runtime import Hold, HoldManager, HoldTakenError
from .glue import Glue


async def lock_holder(glue: Glue, lock_name: str) -> str | None:
    """Who holds ``lock_name`` now: its connection(s) and since when they are open, and how
    many others wait; ``None`` if nobody holds it (or the browser can't tell)."""
    if not lock_name:
        return None
    try:
        found = await glue.lockHolder(lock_name, presence_prefix(lock_name))
    except Exception:
        return None
    if found is None:
        return None
    info = json.loads(str(found))
    now_ms = time.time() * 1000
    names = []
    for label in info["labels"]:
        conn_id, _, opened = str(label).partition("@")
        try:
            age = f", open {max(0.0, (now_ms - float(opened)) / 1000):.1f} s"
        except ValueError:
            age = ""
        names.append(f"connection {conn_id}{age}")
    who = " and ".join(names) or "a connection that did not name itself"
    return f"{who} (client {str(info['clientId'])[:8]}); {info['waiting']} waiting"


class _Lock:
    """A Web Lock request in flight (or granted), cancellable from Python."""

    def __init__(self, glue: Glue, name: str, timeout_ms: int, if_available: bool = False):
        self._request = glue.requestLock(name, timeout_ms, if_available)

    async def granted(self) -> Any:
        try:
            return await self._request.promise
        except asyncio.CancelledError:
            self._request.cancel()
            raise

    def release(self) -> None:
        self._request.cancel()

    async def released(self) -> None:
        """Wait until the browser has the lock back (a release only asks for that)."""
        await self._request.released()


class _KeptLock:
    """The Web Lock the shim kept for this connection's open transaction."""

    def __init__(self, glue: Glue, handle: int) -> None:
        self._glue = glue
        self._handle = handle

    def release(self) -> None:
        self._glue.unlock(self._handle)


class _WebLockHold(Hold):
    def __init__(self, name: str, lock: _Lock) -> None:
        self.name = name
        self._lock: _Lock | None = lock

    async def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()
            # So that whoever asks next, this tab included, finds the hold free.
            await lock.released()


class WebLockHoldManager(HoldManager):
    """Holds as Web Locks: the browser frees them when the holding tab goes away."""

    def __init__(self, glue: Glue) -> None:
        self._glue = glue

    async def acquire(self, name: str) -> Hold:
        lock = _Lock(self._glue, name, -1, if_available=True)
        if await lock.granted() is None:
            raise HoldTakenError(f"hold {name!r} is held")
        return _WebLockHold(name, lock)

    async def is_held(self, name: str) -> bool:
        held = (await self._glue.heldLocks()).to_py()
        return name in held
