"""The in-process :class:`MemoryHoldManager` (hold names: :mod:`tabsqlite.names`)."""

from __future__ import annotations

from .runtime import Hold, HoldManager, HoldTakenError

__all__ = ["MemoryHoldManager"]


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

    :param registry: the set of held names to share (``None``: one set for the process).
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
