"""The change stream: committed changes of this connection and of the others, per table."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ChangeEvent",
    "ChangeHub",
    "Subscription",
    "SubscriptionClosed",
    "normalize_tables",
    "throttled_wait",
]


class SubscriptionClosed(Exception):
    """The subscription was closed while waiting (its database closed, or ``aclose``)."""


def normalize_tables(tables: Iterable[str]) -> frozenset[str]:
    """Lower-case table names (SQLite compares them case-insensitively)."""
    return frozenset(t.lower() for t in tables)


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """Tables changed by one or more committed transactions.

    ``unknown`` means the tables are not known (a lost or unreadable signal): every
    listener must treat it as a change of every table. ``remote`` is true when (part of) the
    change was committed by another connection, ``local`` when by this one.

    :param tables: the changed tables (lower-case; empty when ``unknown``).
    :param unknown: the tables are not known.
    :param remote: committed (partly) by another connection.
    :param local: committed (partly) by this connection.
    """

    tables: frozenset[str]
    unknown: bool = False
    remote: bool = False
    local: bool = False

    def affects(self, tables: frozenset[str] | None) -> bool:
        """True if this event may have changed any of ``tables`` (``None``: any table)."""
        if self.unknown or tables is None:
            return True
        return not self.tables.isdisjoint(tables)

    def merge(self, other: ChangeEvent) -> ChangeEvent:
        """One event standing for both.

        :param other: the event merged into this one.
        """
        return ChangeEvent(
            tables=self.tables | other.tables,
            unknown=self.unknown or other.unknown,
            remote=self.remote or other.remote,
            local=self.local or other.local,
        )


class Subscription:
    """A listener's view of the stream: relevant events coalesce until taken."""

    def __init__(self, hub: ChangeHub, tables: frozenset[str] | None) -> None:
        self.tables = tables
        self._hub = hub
        self._pending: ChangeEvent | None = None
        self._ready = asyncio.Event()
        self.closed = False

    def offer(self, event: ChangeEvent) -> None:
        """Take ``event`` if it is relevant to this subscription."""
        if self.closed or not event.affects(self.tables):
            return
        self._pending = event if self._pending is None else self._pending.merge(event)
        self._ready.set()

    def pending(self) -> bool:
        """True if a change is waiting."""
        return self._pending is not None

    def take(self) -> ChangeEvent | None:
        """The coalesced change since the last take, if any."""
        event, self._pending = self._pending, None
        self._ready.clear()
        return event

    async def ready(self) -> None:
        """Wait until a relevant change is pending (without taking it).

        Raises :class:`SubscriptionClosed` once the subscription is closed.
        """
        while self._pending is None:
            if self.closed:
                raise SubscriptionClosed
            await self._ready.wait()
            if self._pending is None:
                self._ready.clear()
        if self.closed:
            raise SubscriptionClosed

    async def wait(self) -> ChangeEvent:
        """Wait for the next relevant change and take it."""
        await self.ready()
        event = self.take()
        assert event is not None
        return event

    def close(self) -> None:
        """Stop receiving; a waiter is woken and cancelled."""
        self.closed = True
        self._hub._remove(self)
        self._ready.set()


class ChangeHub:
    """Fans committed changes out to subscriptions (held weakly: a dropped watch goes away)."""

    def __init__(self) -> None:
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self.published = 0

    def subscribe(self, tables: Iterable[str] | None = None) -> Subscription:
        """A new subscription to changes of ``tables`` (``None``: every table)."""
        sub = Subscription(self, None if tables is None else normalize_tables(tables))
        self._subscriptions.add(sub)
        return sub

    @property
    def has_subscriptions(self) -> bool:
        """Whether any subscription is open (one dropped but not yet collected counts)."""
        return len(self._subscriptions) > 0

    def publish(self, event: ChangeEvent) -> None:
        """Hand ``event`` to every subscription it concerns."""
        if not event.tables and not event.unknown:
            return
        self.published += 1
        for sub in list(self._subscriptions):
            sub.offer(event)

    def close(self) -> None:
        """Close every subscription."""
        for sub in list(self._subscriptions):
            sub.close()

    def _remove(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)


async def throttled_wait(sub: Subscription, last_run: float, throttle_ms: float) -> ChangeEvent:
    """Wait for a relevant change and take it. If the last run was under ``throttle_ms`` ago,
    first wait out the rest (merging what else comes); a change after a quiet period
    passes at once. Cancelling loses nothing: the change is taken only at the end."""
    await sub.ready()
    delay = last_run + throttle_ms / 1000 - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    event = sub.take()
    if event is None:  # pragma: no cover - only this task takes from the subscription
        return await sub.wait()
    return event
