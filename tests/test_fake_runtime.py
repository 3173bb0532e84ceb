"""The FakeRuntime keeps the seam's contract: it is what the core's tests run on besides the
real runtimes, so it must lock, signal and hold the way they do."""

from __future__ import annotations

import asyncio

import pytest

import tabsqlite
from tabsqlite.runtimes.fake import FakeRuntime


async def test_connections_of_one_runtime_share_a_database_others_do_not() -> None:
    fake = FakeRuntime()
    a = await tabsqlite.open_database("app.db", runtime=fake)
    b = await tabsqlite.open_database("app.db", runtime=fake)
    other = await tabsqlite.open_database("app.db", runtime=FakeRuntime())
    try:
        await a.execute("CREATE TABLE t(x)")
        await a.execute("INSERT INTO t VALUES (1)")
        assert await b.get("SELECT x FROM t") == {"x": 1}
        assert await other.get_optional(
            "SELECT name FROM sqlite_schema WHERE name = 't'") is None
    finally:
        for db in (a, b, other):
            await db.close()


async def test_a_write_transaction_locks_out_the_other_connection() -> None:
    fake = FakeRuntime()
    a = await tabsqlite.open_database("app.db", runtime=fake)
    b = await tabsqlite.open_database("app.db", runtime=fake, busy_timeout=0.2)
    try:
        await a.execute("CREATE TABLE t(x)")
        async with a.write_transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (1)")
            with pytest.raises(tabsqlite.BusyError):
                await b.execute("INSERT INTO t VALUES (2)")
        await b.execute("INSERT INTO t VALUES (2)")  # free again once A commits
        assert (await a.get("SELECT count(*) AS n FROM t"))["n"] == 2
    finally:
        await a.close()
        await b.close()


async def test_commit_reaches_the_other_connection_not_the_sender_twice() -> None:
    fake = FakeRuntime()
    a = await tabsqlite.open_database("app.db", runtime=fake)
    b = await tabsqlite.open_database("app.db", runtime=fake)
    try:
        await a.execute("CREATE TABLE t(x)")
        seen_a = a.on_change(["t"])
        seen_b = b.on_change(["t"])
        await a.execute("INSERT INTO t VALUES (1)")
        event_b = await asyncio.wait_for(seen_b.__anext__(), 2)
        event_a = await asyncio.wait_for(seen_a.__anext__(), 2)
        assert event_b.remote and not event_b.local and event_b.tables == {"t"}
        assert event_a.local and not event_a.remote
        assert b.feed.messages_heard >= 1
        assert a.feed.messages_heard == 0  # its own message never came back
    finally:
        await a.close()
        await b.close()


async def test_holds_are_shared_by_one_runtime() -> None:
    fake = FakeRuntime()
    holds = fake.hold_manager("/fake/app.db")
    held = await holds.acquire("h")
    with pytest.raises(tabsqlite.HoldTakenError):
        await fake.hold_manager("/fake/app.db").acquire("h")
    await held.release()
    assert not await holds.is_held("h")
