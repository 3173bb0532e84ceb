"""Cancelled and timed-out calls leave nothing behind: no orphan transaction, no statement
running on, no lock held, nothing acknowledged lost (CPython, real sqlite3 connections)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

import tabsqlite

LONG_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT count(*) FROM c WHERE x < 2000000000"
)


@pytest.fixture
async def pair(db_path: str, open_db: Any) -> tuple[tabsqlite.Database, tabsqlite.Database]:
    a = await open_db(db_path)
    b = await open_db(db_path, busy_timeout=5)
    await a.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, who TEXT, n INTEGER)")
    return a, b


async def test_cancelled_begin_never_leaves_an_orphan(pair: Any) -> None:
    """A's write_transaction is cancelled at jittered points while BEGIN waits for B's
    write lock; after every try A's acknowledged writes are committed and B can write."""
    a, b = pair
    rng = random.Random(1313)
    acknowledged: list[int] = []
    outcomes = {"cancelled": 0, "committed": 0}
    for i in range(400):  # until both outcomes are common enough (60 tries, usually)
        if i >= 60 and outcomes["cancelled"] >= 10 and outcomes["committed"] >= 5:
            break
        hold = rng.uniform(0.005, 0.06)
        holding = asyncio.Event()

        async def hold_lock(hold: float = hold, holding: asyncio.Event = holding) -> None:
            async with b.write_transaction() as tx:
                await tx.execute("INSERT INTO t(who, n) VALUES ('b', 0)")
                holding.set()
                await asyncio.sleep(hold)

        holder = asyncio.ensure_future(hold_lock())
        await holding.wait()

        async def block(i: int = i) -> None:
            async with a.write_transaction() as tx:
                await tx.execute("INSERT INTO t(who, n) VALUES ('a-tx', ?)", [i])

        try:
            await asyncio.wait_for(block(), rng.uniform(0.0, hold * 1.5))
            outcomes["committed"] += 1
        except TimeoutError:
            outcomes["cancelled"] += 1
        await holder
        assert not a.in_transaction, f"try {i}: A is left inside a transaction"
        await a.execute("INSERT INTO t(who, n) VALUES ('a', ?)", [i])  # acknowledged
        acknowledged.append(i)
        # B sees it at once and can write (no BusyError from an orphan holding the lock).
        seen = await b.get_all("SELECT n FROM t WHERE who = 'a'", timeout=2)
        assert [r["n"] for r in seen] == acknowledged
        await b.execute("INSERT INTO t(who, n) VALUES ('b', -1)", timeout=2)
    assert outcomes["cancelled"] >= 10 and outcomes["committed"] >= 5, outcomes
    assert a.orphans_rolled_back == 0
    await a.close()
    assert [r["n"] for r in await b.get_all("SELECT n FROM t WHERE who = 'a'")] == acknowledged


async def test_cancelled_statement_in_the_thread_is_not_abandoned(pair: Any) -> None:
    """Cancelling a long query interrupts it: the next query does not wait for it."""
    a, b = pair
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(a.get_all(LONG_QUERY), 0.3)
    assert time.monotonic() - t0 < 1.5
    t1 = time.monotonic()
    assert await a.get("SELECT 1 AS one") == {"one": 1}
    assert time.monotonic() - t1 < 0.5
    await b.execute("INSERT INTO t(who, n) VALUES ('b', 1)", timeout=2)


async def test_timeout_stops_a_query_and_the_connection_stays_usable(pair: Any) -> None:
    a, b = pair
    t0 = time.monotonic()
    with pytest.raises(tabsqlite.QueryTimeoutError) as caught:
        await a.get_all(LONG_QUERY, timeout=0.2)
    assert time.monotonic() - t0 < 1.5
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, tabsqlite.QueryInterruptedError)
    assert isinstance(caught.value, tabsqlite.DatabaseError)
    assert await a.get("SELECT 2 AS two", timeout=1) == {"two": 2}
    await b.execute("INSERT INTO t(who, n) VALUES ('b', 2)", timeout=2)


async def test_timeout_in_a_transaction_rolls_it_back(pair: Any) -> None:
    a, b = pair
    with pytest.raises(tabsqlite.QueryTimeoutError):
        async with a.write_transaction() as tx:
            await tx.execute("INSERT INTO t(who, n) VALUES ('lost', 1)")
            await tx.get_all(LONG_QUERY, timeout=0.2)
    assert not a.in_transaction
    assert await b.get_all("SELECT * FROM t WHERE who = 'lost'") == []
    await b.execute("INSERT INTO t(who, n) VALUES ('b', 3)", timeout=2)
    # Caught inside the block: the transaction has ended, later statements say so.
    async with a.write_transaction() as tx:
        with pytest.raises(tabsqlite.QueryTimeoutError):
            await tx.get_all(LONG_QUERY, timeout=0.1)
        with pytest.raises(tabsqlite.TransactionEndedError):
            await tx.execute("INSERT INTO t(who, n) VALUES ('lost', 2)")
    assert await a.get_all("SELECT * FROM t WHERE who = 'lost'") == []
    await a.execute("INSERT INTO t(who, n) VALUES ('a', 3)")
    assert (await b.get("SELECT count(*) AS n FROM t WHERE who = 'a'"))["n"] == 1


async def test_timeout_while_waiting_for_another_connection(pair: Any) -> None:
    a, b = pair
    async with b.write_transaction() as tx:
        await tx.execute("INSERT INTO t(who, n) VALUES ('b', 4)")
        t0 = time.monotonic()
        with pytest.raises((tabsqlite.QueryTimeoutError, tabsqlite.BusyError)):
            await a.execute("INSERT INTO t(who, n) VALUES ('a', 4)", timeout=0.3)
        assert time.monotonic() - t0 < 12
    assert not a.in_transaction
    await a.execute("INSERT INTO t(who, n) VALUES ('a', 5)", timeout=2)


async def test_bad_timeout_is_refused(pair: Any) -> None:
    a, _ = pair
    for bad in (-1, "1", True):
        with pytest.raises(tabsqlite.BadCallError):
            await a.execute("SELECT 1", timeout=bad)


async def test_statement_that_finds_an_orphan_transaction_raises(pair: Any) -> None:
    """The guard: a transaction nobody owns (made here behind the core's back) is never
    joined by a plain statement; it is rolled back and the statement raises."""
    a, b = pair
    await a._runner.conn.execute("BEGIN IMMEDIATE")
    await a._runner.conn.execute("INSERT INTO t(who, n) VALUES ('orphan', 0)")
    with pytest.raises(tabsqlite.TransactionStateError):
        await a.execute("INSERT INTO t(who, n) VALUES ('a', 6)")
    assert a.orphans_rolled_back == 1
    assert not a.in_transaction
    await b.execute("INSERT INTO t(who, n) VALUES ('b', 6)", timeout=2)
    await a.execute("INSERT INTO t(who, n) VALUES ('a', 7)")
    rows = await b.get_all("SELECT who, n FROM t WHERE who IN ('a', 'orphan') ORDER BY id")
    assert rows == [{"who": "a", "n": 7}]


async def test_manual_begin_belongs_to_its_task(pair: Any) -> None:
    a, b = pair
    await a.execute("BEGIN")
    await a.execute("INSERT INTO t(who, n) VALUES ('manual', 1)")

    async def other_task() -> None:
        await a.execute("INSERT INTO t(who, n) VALUES ('other', 1)")

    with pytest.raises(tabsqlite.TransactionStateError):
        await asyncio.ensure_future(other_task())
    with pytest.raises(tabsqlite.BadCallError):
        async with a.write_transaction():
            pass
    await a.execute("COMMIT")
    assert [r["who"] for r in await b.get_all("SELECT who FROM t")] == ["manual"]

    async def begins_and_ends() -> None:
        await a.execute("BEGIN IMMEDIATE")
        await a.execute("INSERT INTO t(who, n) VALUES ('forgotten', 1)")

    await asyncio.ensure_future(begins_and_ends())  # its task ends inside the transaction
    with pytest.raises(tabsqlite.TransactionStateError):
        await a.execute("INSERT INTO t(who, n) VALUES ('a', 8)")
    await a.execute("INSERT INTO t(who, n) VALUES ('a', 9)")
    assert [r["who"] for r in await b.get_all("SELECT who FROM t ORDER BY id")] == \
        ["manual", "a"]
