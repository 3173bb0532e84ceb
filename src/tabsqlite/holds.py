"""Hold names and the in-process :class:`MemoryHoldManager`."""

from __future__ import annotations

import hashlib

from .runtime import Hold, HoldManager, HoldTakenError

__all__ = ["MemoryHoldManager", "hold_name", "scope_id"]


def scope_id(path: str) -> str:
    """A short, stable id of a canonical database path, used in hold and channel names."""
    return hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def hold_name(path: str, trigger_id: str) -> str:
    """The hold guarding the managed trigger ``trigger_id`` of the database at ``path``.

    Never starts with ``sqlite3-vfs-`` (the names sqlite-wasm's VFS uses for its own locks).
    """
    return f"tabsqlite-hold-{scope_id(path)}-{trigger_id}"


class _MemoryHold(Hold):
    def __init__(self, registry: set[str], name: str) -> None:
        self.name = name
        self._registry = registry

    async def release(self) -> None:
        self._registry.discard(self.name)


class MemoryHoldManager(HoldManager):
    """Holds that live in this process only.

    Right for one process (every connection sees the same registry); several processes need
    an OS-level manager, since a hold here is invisible to other processes.
    """

    _shared: set[str] = set()

    def __init__(self, registry: set[str] | None = None) -> None:
        self._registry = MemoryHoldManager._shared if registry is None else registry

    async def acquire(self, name: str) -> Hold:
        if name in self._registry:
            raise HoldTakenError(f"hold {name!r} is already held")
        self._registry.add(name)
        return _MemoryHold(self._registry, name)

    async def is_held(self, name: str) -> bool:
        return name in self._registry
