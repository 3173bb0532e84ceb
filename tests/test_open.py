from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import tabsqlite


async def test_open_waits_for_a_lock_holder_that_lets_go(db_path: str, child: Any) -> None:
    holder = child("hold-lock", db_path, "1.0")
    await holder.expect("ready")
    start = time.monotonic()
    db = await tabsqlite.open_database(db_path, open_timeout=10)
    waited = time.monotonic() - start
    try:
        assert waited > 0.5, "the open should have had to wait for the lock"
        assert await db.get("SELECT count(*) AS n FROM lockers") == {"n": 0}
    finally:
        await db.close()
    await holder.expect("released")


async def test_open_times_out_with_typed_error(db_path: str, child: Any) -> None:
    holder = child("hold-lock", db_path, "-1")
    await holder.expect("ready")
    start = time.monotonic()
    with pytest.raises(tabsqlite.OpenTimeoutError) as info:
        await tabsqlite.open_database(db_path, open_timeout=0.8)
    elapsed = time.monotonic() - start
    assert 0.7 < elapsed < 2.0
    assert isinstance(info.value, TimeoutError)
    assert info.value.path == db_path
    assert info.value.attempts > 3
    assert isinstance(info.value.last_error, tabsqlite.BusyError)
    assert db_path in str(info.value)


async def test_open_is_cancellable(db_path: str, child: Any) -> None:
    holder = child("hold-lock", db_path, "-1")
    await holder.expect("ready")
    task = asyncio.ensure_future(tabsqlite.open_database(db_path, open_timeout=60))
    await asyncio.sleep(0.5)
    start = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - start < 0.5


async def test_many_connections_cold_open_together(db_path: str) -> None:
    dbs = await asyncio.gather(*(tabsqlite.open_database(db_path) for _ in range(8)))
    try:
        await dbs[0].execute("CREATE TABLE t(x)")
        await asyncio.gather(*(db.execute("INSERT INTO t VALUES (?)", [i])
                               for i, db in enumerate(dbs)))
        assert await dbs[3].get("SELECT count(*) AS n FROM t") == {"n": 8}
    finally:
        for db in dbs:
            await db.close()


async def test_open_context_manager_and_use_after_close(db_path: str) -> None:
    async with tabsqlite.open_database(db_path) as db:
        await db.execute("CREATE TABLE t(x)")
    assert db.closed
    with pytest.raises(tabsqlite.DatabaseClosedError):
        await db.execute("SELECT 1")
    with pytest.raises(tabsqlite.DatabaseClosedError):
        db.watch("SELECT 1")
    await db.close()  # twice is fine


async def test_memory_database_is_private(open_db: Any) -> None:
    a = await open_db(":memory:")
    b = await open_db(":memory:")
    await a.execute("CREATE TABLE t(x)")
    with pytest.raises(tabsqlite.SQLiteError):
        await b.execute("SELECT * FROM t")
    assert a.triggers.default_persisted is False
