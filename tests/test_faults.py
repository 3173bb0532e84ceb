"""Faults as a feature: concurrent cold opens, lock holders that never let go, storms."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import tabsqlite


async def test_eight_processes_cold_open_at_once_repeatedly(tmp_path: Any, child: Any) -> None:
    for trial in range(3):
        path = str(tmp_path / f"cold{trial}.db")
        go_at = time.time() + 1.5
        kids = [child("cold-open", path, str(go_at)) for _ in range(8)]
        results = [await k.line(30) for k in kids]
        assert all(r.startswith("ok ") for r in results), results
        assert max(float(r.split()[1]) for r in results) < 10
        for k in kids:
            assert await k.wait() == 0
        async with tabsqlite.open_database(path, open_timeout=2) as db:  # nothing left locked
            assert (await db.get("SELECT count(*) AS n FROM opened"))["n"] == 8
            await db.execute("INSERT INTO opened VALUES (0)")


async def test_holder_that_never_lets_go_gives_timeout_and_nothing_stays_locked(
    db_path: str, child: Any
) -> None:
    holder = child("hold-lock", db_path, "-1")
    await holder.expect("ready")
    go_at = time.time() + 0.5
    kids = [child("cold-open", db_path, str(go_at)) for _ in range(4)]
    start = time.monotonic()
    results = [await k.line(30) for k in kids]
    assert all(r.startswith("timeout ") for r in results), results
    assert all(float(r.split()[1]) < 11 for r in results)
    assert time.monotonic() - start < 15
    holder.kill()
    async with tabsqlite.open_database(db_path, open_timeout=3) as db:
        await db.execute("CREATE TABLE after(x)")


async def test_no_storms(db_path: str, open_db: Any) -> None:
    """Several watches, a writer to an unwatched table: zero extra queries; own writes are
    seen once; a watch whose loop body writes does not loop."""
    reader = await open_db(db_path)
    writer = await open_db(db_path)
    await writer.execute("CREATE TABLE a(id INTEGER PRIMARY KEY, v INTEGER)")
    await writer.execute("CREATE TABLE b(id INTEGER PRIMARY KEY, v INTEGER)")
    await writer.execute("CREATE TABLE noise(id INTEGER PRIMARY KEY, v INTEGER)")
    await writer.execute("CREATE TABLE log(id INTEGER PRIMARY KEY, n INTEGER)")
    await writer.execute("INSERT INTO a(id, v) VALUES (1, 0)")
    watches = [reader.watch("SELECT * FROM a"), reader.watch("SELECT count(*) FROM b"),
               reader.watch("SELECT * FROM a JOIN b USING (id)")]
    for w in watches:
        await anext(w)
    before = reader.statements_run
    local_events = aiter(writer.on_change())
    stop = time.monotonic() + 3
    writes = 0
    while time.monotonic() < stop:
        await writer.execute("INSERT INTO noise(v) VALUES (?)", [writes])
        writes += 1
        await asyncio.sleep(0.005)
    await asyncio.sleep(1.2)  # let any late signal (and the data_version check) arrive
    assert writes > 100
    assert [w.runs for w in watches] == [1, 1, 1]
    # Only the back-stop's PRAGMA data_version may have run on the reader.
    assert reader.statements_run - before <= 6
    seen = 0
    while True:
        try:
            event = await asyncio.wait_for(anext(local_events), 0.2)
        except TimeoutError:
            break
        seen += 1
        assert event.local and not event.remote
    assert seen >= 1  # coalesced while unread, never more than one per write
    assert seen <= writes

    # A watch whose body writes: to another table, and a no-op update of its own table.
    w = reader.watch("SELECT v FROM a WHERE id = 1", throttle_ms=0)
    rows = await anext(w)
    for _ in range(3):
        await reader.execute("INSERT INTO log(n) VALUES (?)", [rows[0]["v"]])
        await reader.execute("UPDATE a SET v = ? WHERE id = 1 AND v != ?", [rows[0]["v"]] * 2)
        with pytest.raises(TimeoutError):
            rows = await asyncio.wait_for(anext(w), 0.3)
    assert w.runs == 1
    await writer.execute("UPDATE a SET v = 5 WHERE id = 1")
    assert await asyncio.wait_for(anext(w), 2) == [{"v": 5}]


async def test_signal_faults_end_in_the_right_state(db_path: str, open_db: Any) -> None:
    """Drop, duplicate, reorder, corrupt and version-skew the messages between two
    connections: receivers fall back to "unknown" and their watches end correct."""
    a = await open_db(db_path)
    b = await open_db(db_path, signal_check_interval=0.2)
    await a.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)")
    watch = b.watch("SELECT count(*) AS n FROM t", throttle_ms=0)
    await anext(watch)
    assert a.feed.transport is not None
    real_send = a.feed.transport.send
    held: list[str] = []
    faults = {"drop": 0, "duplicate": 0, "reorder": 0, "corrupt": 0, "version": 0}
    order = ["drop", "duplicate", "reorder", "corrupt", "version", "pass"] * 10

    async def faulty(message: str) -> None:
        kind = order.pop(0)
        if kind == "drop":
            faults[kind] += 1
        elif kind == "duplicate":
            faults[kind] += 1
            await real_send(message)
            await real_send(message)
        elif kind == "reorder":
            faults[kind] += 1
            held.append(message)
        elif kind == "corrupt":
            faults[kind] += 1
            await real_send(message[: len(message) // 2] + "\x00garbage")
        elif kind == "version":
            faults[kind] += 1
            await real_send(message.replace('"tabsqlite":1', '"tabsqlite":2'))
        else:
            await real_send(message)
            while held:
                await real_send(held.pop())

    a.feed.transport.send = faulty  # type: ignore[method-assign]
    for i in range(60):
        await a.execute("INSERT INTO t(v) VALUES (?)", [i])
    deadline = time.monotonic() + 5
    last = None
    while time.monotonic() < deadline:
        try:
            last = await asyncio.wait_for(anext(watch), 0.5)
        except TimeoutError:
            if last == [{"n": 60}]:
                break
    assert last == [{"n": 60}]
    assert all(count == 10 for count in faults.values()), faults
    seen = b.feed.receiver
    assert seen.unreadable >= 20 and seen.gaps >= 1 and seen.duplicates >= 10
