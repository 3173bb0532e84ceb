"""A connection where nothing waits for changes stops waking for the others' commits, and
hears them again, precisely, as soon as something subscribes (core, on the fake runtime,
whose channel can stop listening the way the browser's does)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import tabsqlite
from tabsqlite.changes import ChangeEvent
from tabsqlite.runtimes.fake import FakeRuntime


async def _pair(**kwargs: Any) -> tuple[tabsqlite.Database, tabsqlite.Database]:
    fake = FakeRuntime()
    a = await tabsqlite.open_database("app.db", runtime=fake, **kwargs)
    b = await tabsqlite.open_database("app.db", runtime=fake, **kwargs)
    await a.execute("CREATE TABLE t(x)")
    await a.execute("CREATE TABLE u(x)")
    return a, b


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _delivered(db: tabsqlite.Database) -> int:
    return db.feed.transport.delivered  # type: ignore[union-attr]


async def test_without_subscriptions_the_others_commits_stop_waking_it() -> None:
    a, b = await _pair()
    try:
        await _settle()
        before = _delivered(b)
        for i in range(20):
            await a.execute("INSERT INTO t VALUES (?)", [i])
        await _settle()
        assert b.feed.quiet
        assert _delivered(b) - before <= 1  # the first message, then nothing
    finally:
        await a.close()
        await b.close()


async def test_a_subscription_hears_the_next_commit_precisely_and_nothing_older() -> None:
    a, b = await _pair()
    try:
        for i in range(5):
            await a.execute("INSERT INTO t VALUES (?)", [i])
        await _settle()
        assert b.feed.quiet
        gaps = b.feed.receiver.gaps
        events = b.on_change()
        first = asyncio.ensure_future(events.__anext__())
        await _settle()
        assert not b.feed.quiet
        assert not first.done()  # what went by before the subscription is not reported
        await a.execute("INSERT INTO u VALUES (1)")
        event: ChangeEvent = await asyncio.wait_for(first, 2)
        assert event.tables == {"u"} and not event.unknown and event.remote
        assert b.feed.receiver.gaps == gaps
        # and it keeps hearing while subscribed
        for i in range(3):
            await a.execute("INSERT INTO t VALUES (?)", [i])
        event = await asyncio.wait_for(events.__anext__(), 2)
        assert "t" in event.tables and not event.unknown
        await events.aclose()
    finally:
        await a.close()
        await b.close()


async def test_the_back_stop_calls_nothing_unknown_for_commits_that_went_by() -> None:
    """The back-stop reads the file's version after listening again: the commits that went
    by moved it, and that is no lost message."""
    a, b = await _pair(signal_check_interval=0.05)
    try:
        for i in range(5):
            await a.execute("INSERT INTO t VALUES (?)", [i])
        await asyncio.sleep(0.2)  # several back-stop intervals while quiet
        assert b.feed.quiet
        events = b.on_change()
        nxt = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0.6)  # the back-stop's read after listening again, and its grace
        assert not nxt.done(), nxt.result() if nxt.done() else None
        await a.execute("INSERT INTO u VALUES (1)")
        event = await asyncio.wait_for(nxt, 2)
        assert event.tables == {"u"} and not event.unknown
        await events.aclose()
    finally:
        await a.close()
        await b.close()


async def test_subscribing_and_dropping_at_random_moments_loses_no_commit_after_it() -> None:
    """Watches come and go while the other connection commits with jittered pauses: each
    one sees every commit made after it subscribed (its last event comes after the last
    commit), whether the transport was quiet when it came or not."""
    a, b = await _pair()
    rng = random.Random(7)
    try:
        for trial in range(30):
            for _ in range(rng.randrange(0, 4)):
                await a.execute("INSERT INTO t VALUES (?)", [trial])
                await asyncio.sleep(rng.random() * 0.002)
            await _settle()
            events = b.on_change(["u"])
            nxt = asyncio.ensure_future(events.__anext__())
            await asyncio.sleep(rng.random() * 0.002)
            await a.execute("INSERT INTO u VALUES (?)", [trial])
            event = await asyncio.wait_for(nxt, 2)
            assert "u" in event.tables
            await events.aclose()
            del events, nxt
        assert b.feed.receiver.gaps == 0
    finally:
        await a.close()
        await b.close()
