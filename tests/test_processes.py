"""Several real OS processes on one database file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import tabsqlite


async def make_items(path: str) -> None:
    async with tabsqlite.open_database(path) as db:
        await db.execute("CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, tag TEXT, n)")


async def test_four_processes_times_1000_writes_nothing_lost(db_path: str, child: Any) -> None:
    await make_items(db_path)
    writers = [child("write", db_path, "1000", f"p{i}") for i in range(4)]
    for w in writers:
        await w.expect("ready", 60)
    for w in writers:
        await w.expect("done", 240)
        assert await w.wait() == 0
    async with tabsqlite.open_database(db_path) as db:
        counts = await db.get_all("SELECT tag, count(*) AS c, count(DISTINCT n) AS d "
                                  "FROM items GROUP BY tag ORDER BY tag")
        assert counts == [{"tag": f"p{i}", "c": 1000, "d": 1000} for i in range(4)]
        assert await db.get("PRAGMA integrity_check") == {"integrity_check": "ok"}


async def test_watch_wakes_for_another_process_and_measures_latency(
    db_path: str, child: Any
) -> None:
    await make_items(db_path)
    async with tabsqlite.open_database(db_path) as db:
        await db.execute("CREATE TABLE unrelated(x)")
        writer = child("insert-on-command", db_path)
        await writer.expect("ready")
        watch = db.watch("SELECT count(*) AS n FROM items", throttle_ms=0)
        rows = aiter(watch)
        assert await rows.__anext__() == [{"n": 0}]
        latencies = []
        for i in range(1, 41):
            writer.send(f"row{i}")
            committed = float((await writer.expect("committed")).split()[1])
            result = await asyncio.wait_for(rows.__anext__(), 5)
            latencies.append(time.time() - committed)
            assert result == [{"n": i}]
        p50 = statistics.median(latencies) * 1000
        p95 = statistics.quantiles(latencies, n=20)[18] * 1000
        print(f"\ncross-process watch latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        assert watch.runs == 41
        writer.send("quit")
        assert await writer.wait() == 0


async def test_unrelated_write_in_other_process_wakes_no_watch(
    db_path: str, child: Any
) -> None:
    await make_items(db_path)
    async with tabsqlite.open_database(db_path) as db:
        await db.execute("CREATE TABLE unrelated(id INTEGER PRIMARY KEY, tag TEXT, n)")
        watch = db.watch("SELECT * FROM unrelated", throttle_ms=0)
        rows = aiter(watch)
        await rows.__anext__()
        changes = aiter(db.on_change())
        writer = child("write", db_path, "20", "x")
        await writer.expect("ready", 60)
        await writer.expect("done", 60)
        event = await asyncio.wait_for(changes.__anext__(), 5)
        assert event.remote and event.tables == {"items"}
        await asyncio.sleep(0.3)
        assert watch.runs == 1


async def test_killed_process_orphans_are_dropped_at_next_open(
    db_path: str, child: Any
) -> None:
    await make_items(db_path)
    async with tabsqlite.open_database(db_path) as keeper:
        live = await keeper.triggers.create_diff_trigger(
            source="items", destination="live_diff", when={"INSERT": None})
        victim = child("trigger", db_path, "victim_diff")
        await victim.expect("ready")
        async with tabsqlite.open_database(db_path) as probe:
            names = {r["name"] for r in await probe.get_all("SELECT name FROM sqlite_schema")}
            assert "victim_diff" in names  # alive: not touched by this open
        victim.proc.kill()  # SIGKILL
        await victim.wait()
        async with tabsqlite.open_database(db_path) as fresh:
            names = {r["name"] for r in await fresh.get_all("SELECT name FROM sqlite_schema")}
            assert "victim_diff" not in names
            assert "live_diff" in names
            triggers = await fresh.get_all(
                "SELECT name FROM sqlite_schema WHERE type = 'trigger'")
            assert {t["name"] for t in triggers} == set(live.trigger_names)
            await fresh.execute("INSERT INTO items(tag) VALUES ('after')")
        assert await keeper.get("SELECT count(*) AS n FROM live_diff") == {"n": 1}


async def test_killed_mid_transaction_loses_only_the_partial_transaction(
    db_path: str, child: Any
) -> None:
    await make_items(db_path)
    async with tabsqlite.open_database(db_path) as db:
        await db.execute("INSERT INTO items(tag) VALUES ('committed')")
        victim = child("tx-then-hang", db_path)
        await victim.expect("ready")
        victim.proc.kill()
        await victim.wait()
        start = time.monotonic()
        await db.execute("INSERT INTO items(tag) VALUES ('after')")
        assert time.monotonic() - start < 1.0
        tags = [r["tag"] for r in await db.get_all("SELECT tag FROM items ORDER BY id")]
        assert tags == ["committed", "after"]
        assert await db.get("PRAGMA integrity_check") == {"integrity_check": "ok"}


async def test_idle_watching_process_uses_no_cpu(db_path: str) -> None:
    await make_items(db_path)
    async with tabsqlite.open_database(db_path) as db:
        watch = db.watch("SELECT * FROM items")
        rows = aiter(watch)
        await rows.__anext__()
        waiter = asyncio.ensure_future(rows.__anext__())
        before = os.times()
        wall = time.monotonic()
        await asyncio.sleep(3)
        used = (os.times().user - before.user) + (os.times().system - before.system)
        share = used / (time.monotonic() - wall)
        print(f"\nidle CPU of a watching process: {share * 100:.2f}%")
        assert share < 0.01
        waiter.cancel()


def test_processes_migrating_at_once_apply_each_step_once(tmp_path: Any) -> None:
    """Four processes open a new file and migrate it at the same moment, five times over:
    every step is applied once, by one of them, and each ends with the whole schema."""
    child = Path(__file__).with_name("migrate_child.py")
    for trial in range(5):
        path = str(tmp_path / f"race{trial}.db")
        start_at = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, str(child), path, str(start_at)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        outs = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            outs.append(json.loads(out))
        applied = sorted(step for out in outs for step in out["applied"])
        assert applied == [1, 2, 3, 4], outs
        for out in outs:
            assert out["version"] == 4 and out["columns"] == ["id", "body", "pinned"], out
        with contextlib.closing(sqlite3.connect(path)) as check:  # (a plain reader)
            rows = check.execute("SELECT step, count(*) FROM log GROUP BY step").fetchall()
        assert rows == [(1, 1), (2, 1), (3, 20), (4, 1)], rows


async def test_durable_consumer_survives_a_killed_consumer_process(
    db_path: str, child: Any
) -> None:
    """A child consumes the durable diff and is killed (``kill -9``) at a random moment,
    often inside its ``on_change`` transaction; this process's waiting consumer takes over
    and every row the writer committed reaches ``sent`` exactly once."""
    rng = random.Random(23)
    async with tabsqlite.open_database(db_path) as db:
        await db.execute_script("CREATE TABLE todos(id INTEGER PRIMARY KEY, title TEXT);"
                                "CREATE TABLE sent(todo INTEGER, consumer TEXT)")

        async def on_change(ctx: tabsqlite.DiffContext) -> None:
            for row in ctx.diff_rows():
                await ctx.tx.execute("INSERT INTO sent(todo, consumer) VALUES (?, 'parent')",
                                     [row["id"]])

        written = 0
        for trial in range(4):
            victim = child("consume-durable", db_path, str(trial))
            await victim.expect("active", 30)
            mine = await db.triggers.track_table_diff(
                source="todos", when={"INSERT": None}, on_change=on_change, name="outbox",
                durable=True, throttle_ms=0)
            assert not mine.active
            deadline = time.monotonic() + rng.uniform(0.05, 0.6)
            while time.monotonic() < deadline:
                await db.execute("INSERT INTO todos(title) VALUES ('x')")
                written += 1
                await asyncio.sleep(rng.uniform(0, 0.005))
            victim.proc.kill()
            await victim.wait()
            killed = time.monotonic()
            await asyncio.wait_for(mine.wait_active(), 5)
            took_over = time.monotonic() - killed
            for _ in range(5):
                await db.execute("INSERT INTO todos(title) VALUES ('after')")
                written += 1
            await mine.drain()
            ids = [r["todo"] for r in await db.get_all("SELECT todo FROM sent ORDER BY todo")]
            assert ids == list(range(1, written + 1)), (trial, len(ids), written)
            print(f"trial {trial}: take-over {took_over:.3f} s after the kill, {written} rows")
            assert took_over < 1.5, took_over
            await mine.close()  # the next trial's child takes it
        by = await db.get_all("SELECT consumer, count(*) AS n FROM sent GROUP BY consumer")
        assert {r["consumer"] for r in by} == {"child", "parent"}, by
        assert await db.get("PRAGMA integrity_check") == {"integrity_check": "ok"}
