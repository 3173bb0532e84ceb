"""``db.on_change(...)`` and ``db.watch(...)``: async iterators over the change stream.

Both are plain iterator objects (not generators), so cancelling one ``__anext__`` (for
instance through ``asyncio.wait_for``) loses nothing: the pending change stays pending.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from .changes import ChangeEvent, Subscription, SubscriptionClosed, throttled_wait
from .feed import ChangeFeed
from .queries import Queries, Row
from .runtime import Params
from .table_inference import infer_tables

__all__ = ["ChangeStream", "Watch", "WatchDiff"]


class _Closing:
    _sub: Subscription | None

    async def aclose(self) -> None:
        """Stop listening; a pending ``__anext__`` ends with ``StopAsyncIteration``."""
        if self._sub is not None:
            self._sub.close()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class ChangeStream(_Closing):
    """Async iterator of :class:`ChangeEvent` (see :meth:`Database.on_change`).

    :param feed: the change feed to listen to.
    :param tables: the tables of interest (``None``: every table).
    :param throttle_ms: changes within this many ms of the last one are merged into one.
    """

    def __init__(
        self, feed: ChangeFeed, tables: frozenset[str] | None, throttle_ms: float
    ) -> None:
        self._sub = feed.subscribe(tables)
        self._throttle_ms = throttle_ms
        self._last = 0.0

    def __aiter__(self) -> ChangeStream:
        return self

    async def __anext__(self) -> ChangeEvent:
        assert self._sub is not None
        try:
            event = await throttled_wait(self._sub, self._last, self._throttle_ms)
        except SubscriptionClosed:
            raise StopAsyncIteration from None
        self._last = time.monotonic()
        return event

    async def __aenter__(self) -> ChangeStream:
        return self


@dataclass(frozen=True, slots=True)
class WatchDiff:
    """One step of a differential watch: what changed since the previous result.

    :param added: rows whose key is new.
    :param removed: rows whose key is gone.
    :param updated: rows whose key stayed and whose values changed (as they are now).
    :param rows: the whole result.
    """

    added: list[Row] = field(default_factory=list)
    removed: list[Row] = field(default_factory=list)
    updated: list[Row] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


class Watch(_Closing):
    """Async iterator of a query's rows (see :meth:`Database.watch`).

    ``async for rows in db.watch(...)``; ``aclose()`` or ``async with`` stops it, and so does
    closing the database. ``runs`` counts how many times the query ran.

    :param feed: the change feed that says when to run the query again.
    :param queries: where the query runs.
    :param sql: the query.
    :param params: its values.
    :param tables: the tables it reads (``None``: found from the query plan).
    :param throttle_ms: runs within this many ms of the last one wait for the rest.
    """

    def __init__(
        self,
        feed: ChangeFeed,
        queries: Queries,
        sql: str,
        params: Params,
        tables: frozenset[str] | None,
        throttle_ms: float,
    ) -> None:
        self._feed = feed
        self._queries = queries
        self.sql = sql
        self.params = params
        #: The tables watched (inferred from the query on the first run unless given).
        self.tables = tables
        self._tables_known = tables is not None
        self.throttle_ms = throttle_ms
        self.runs = 0
        self._sub: Subscription | None = None
        self._must_run = True
        self._last = 0.0

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> list[Row]:
        if self._sub is None:
            if not self._tables_known:
                self.tables = await infer_tables(self._queries, self.sql, self.params)
                self._tables_known = True
            # Subscribe before the first run, so no commit between the two is missed.
            self._sub = self._feed.subscribe(self.tables)
        sub = self._sub
        if sub.closed:
            raise StopAsyncIteration
        if not self._must_run:
            try:
                await throttled_wait(sub, self._last, self.throttle_ms)
            except SubscriptionClosed:
                raise StopAsyncIteration from None
            self._must_run = True
        rows = await self._queries.get_all(self.sql, self.params)
        self._must_run = False
        self.runs += 1
        self._last = time.monotonic()
        return rows

    async def __aenter__(self) -> Watch:
        return self

    def differential(
        self, key: str | Callable[[Row], Hashable] = "id"
    ) -> AsyncIterator[WatchDiff]:
        """Yield :class:`WatchDiff` steps instead of whole results; rows are matched by
        ``key`` (a column name or a function of the row). Steps with no difference are
        skipped (the first step is always yielded).

        :param key: a column name, or a function giving a row's key.
        """
        return self._differential(key)

    async def _differential(
        self, key: str | Callable[[Row], Hashable]
    ) -> AsyncGenerator[WatchDiff, None]:
        key_of: Callable[[Row], Any] = (lambda row: row[key]) if isinstance(key, str) else key
        previous: dict[Any, Row] = {}
        first = True
        try:
            async for rows in self:
                current = {key_of(row): row for row in rows}
                added = [row for k, row in current.items() if k not in previous]
                removed = [row for k, row in previous.items() if k not in current]
                updated = [
                    row for k, row in current.items() if k in previous and previous[k] != row
                ]
                previous = current
                if added or removed or updated or first:
                    first = False
                    yield WatchDiff(added, removed, updated, rows)
        finally:
            await self.aclose()
