"""``db.on_change(...)`` and ``db.watch(...)``: async iterators over the change stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .changes import ChangeEvent, Subscription
from .queries import Row
from .runtime import Params

if TYPE_CHECKING:
    from .database import Database

__all__ = ["ChangeStream", "Watch", "WatchDiff"]


async def _throttle(sub: Subscription, last_run: float, throttle_ms: float) -> ChangeEvent:
    """Wait for a change; if the last run was under ``throttle_ms`` ago, wait out the rest
    and merge what else came in. A change after a quiet period passes at once."""
    event = await sub.wait()
    delay = last_run + throttle_ms / 1000 - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
        more = sub.take()
        if more is not None:
            event = event.merge(more)
    return event


class ChangeStream:
    """Async iterator of :class:`ChangeEvent` (see :meth:`Database.on_change`)."""

    def __init__(self, db: Database, tables: frozenset[str] | None, throttle_ms: float) -> None:
        self._sub = db._hub.subscribe(tables)
        self._throttle_ms = throttle_ms
        self._last = 0.0

    def __aiter__(self) -> ChangeStream:
        return self

    async def __anext__(self) -> ChangeEvent:
        try:
            event = await _throttle(self._sub, self._last, self._throttle_ms)
        except asyncio.CancelledError:
            if self._sub.closed:
                raise StopAsyncIteration from None
            raise
        self._last = time.monotonic()
        return event

    async def aclose(self) -> None:
        """Stop listening."""
        self._sub.close()

    async def __aenter__(self) -> ChangeStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sub.close()


@dataclass(frozen=True, slots=True)
class WatchDiff:
    """One step of a differential watch: what changed since the previous result."""

    added: list[Row] = field(default_factory=list)
    removed: list[Row] = field(default_factory=list)
    updated: list[Row] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


class Watch:
    """Async iterator of a query's rows (see :meth:`Database.watch`).

    Use ``async for rows in db.watch(...)``; leaving the loop, or ``async with``, stops it.
    ``runs`` counts how many times the query ran.
    """

    def __init__(
        self,
        db: Database,
        sql: str,
        params: Params,
        tables: frozenset[str] | None,
        throttle_ms: float,
    ) -> None:
        self._db = db
        self.sql = sql
        self.params = params
        self.tables = tables
        self.throttle_ms = throttle_ms
        self.runs = 0
        self._sub: Subscription | None = None
        self._gen: AsyncGenerator[list[Row], None] | None = None

    async def _results(self) -> AsyncGenerator[list[Row], None]:
        db = self._db
        if self.tables is None:
            self.tables = await db.tables_read_by(self.sql, self.params)
        # Subscribe before the first run, so no commit between the two is missed.
        sub = self._sub = db._hub.subscribe(self.tables)
        try:
            while True:
                rows = await db.get_all(self.sql, self.params)
                self.runs += 1
                last = time.monotonic()
                yield rows
                try:
                    await _throttle(sub, last, self.throttle_ms)
                except asyncio.CancelledError:
                    if sub.closed:
                        return
                    raise
        finally:
            sub.close()

    def __aiter__(self) -> AsyncIterator[list[Row]]:
        if self._gen is None:
            self._gen = self._results()
        return self._gen

    async def __anext__(self) -> list[Row]:
        return await self.__aiter__().__anext__()

    async def aclose(self) -> None:
        """Stop watching."""
        if self._sub is not None:
            self._sub.close()
        if self._gen is not None:
            await self._gen.aclose()

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def differential(
        self, key: str | Callable[[Row], Hashable] = "id"
    ) -> AsyncIterator[WatchDiff]:
        """Yield :class:`WatchDiff` steps instead of whole results; rows are matched by
        ``key`` (a column name or a function of the row)."""
        return self._differential(key)

    async def _differential(
        self, key: str | Callable[[Row], Hashable]
    ) -> AsyncGenerator[WatchDiff, None]:
        key_of: Callable[[Row], Any] = (lambda row: row[key]) if isinstance(key, str) else key
        previous: dict[Any, Row] = {}
        try:
            async for rows in self:
                current = {key_of(row): row for row in rows}
                added = [row for k, row in current.items() if k not in previous]
                removed = [row for k, row in previous.items() if k not in current]
                updated = [
                    row for k, row in current.items() if k in previous and previous[k] != row
                ]
                previous = current
                if added or removed or updated or self.runs == 1:
                    yield WatchDiff(added, removed, updated, rows)
        finally:
            await self.aclose()
