"""A child process for the multi-process tests: ``python proc_helper.py MODE PATH ...``.

It prints one line per event on stdout, which the parent reads.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time

import tabsqlite


async def write(path: str, count: int, tag: str) -> None:
    db = await tabsqlite.open_database(path, open_timeout=60)
    print("ready", flush=True)
    for i in range(count):
        await db.execute("INSERT INTO items(tag, n) VALUES (?, ?)", [tag, i])
    print("done", flush=True)
    await db.close()


async def trigger_and_wait(path: str, destination: str) -> None:
    db = await tabsqlite.open_database(path)
    await db.triggers.create_diff_trigger(
        source="items", destination=destination, when={"INSERT": None}
    )
    print("ready", flush=True)
    await asyncio.sleep(3600)


async def insert_on_command(path: str) -> None:
    """Insert one row into ``items`` per stdin line; print the commit time."""
    db = await tabsqlite.open_database(path)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "quit":
            break
        await db.execute("INSERT INTO items(tag, n) VALUES (?, ?)", [line.strip(), 0])
        print(f"committed {time.time()}", flush=True)
    await db.close()


async def tx_then_hang(path: str) -> None:
    """Open a write transaction, write, and hang inside it (to be killed)."""
    db = await tabsqlite.open_database(path)
    async with db.write_transaction() as tx:
        await tx.execute("INSERT INTO items(tag, n) VALUES ('partial', 1)")
        print("ready", flush=True)
        await asyncio.sleep(3600)


async def cold_open(path: str, go_at: float) -> None:
    """Wait until ``go_at`` (a time.time()), then open, write one row and close."""
    await asyncio.sleep(max(0.0, go_at - time.time()))
    t0 = time.monotonic()
    try:
        db = await tabsqlite.open_database(path, open_timeout=10)
        await db.execute("CREATE TABLE IF NOT EXISTS opened(pid INTEGER)")
        await db.execute("INSERT INTO opened VALUES (?)", [os.getpid()])
        await db.close()
        print(f"ok {time.monotonic() - t0:.3f}", flush=True)
    except tabsqlite.OpenTimeoutError as error:
        print(f"timeout {time.monotonic() - t0:.3f} {error}", flush=True)


async def consume_durable(path: str, seed: int) -> None:
    """Consume the durable diff ``outbox`` of ``todos`` (copying each row to ``sent``, slowly,
    inside the transaction that clears it) until killed."""
    import random

    rng = random.Random(seed)
    db = await tabsqlite.open_database(path)

    async def on_change(ctx: tabsqlite.DiffContext) -> None:
        for row in ctx.diff_rows():
            await ctx.tx.execute("INSERT INTO sent(todo, consumer) VALUES (?, 'child')",
                                 [row["id"]])
            await asyncio.sleep(rng.uniform(0, 0.004))

    consumer = await db.triggers.track_table_diff(
        source="todos", when={"INSERT": None}, on_change=on_change, name="outbox",
        durable=True, throttle_ms=0)
    print("active" if consumer.active else "waiting", flush=True)
    await asyncio.sleep(3600)


def hold_lock(path: str, seconds: float) -> None:
    """Hold an exclusive lock with a raw sqlite3 connection for ``seconds`` (-1: forever)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("CREATE TABLE IF NOT EXISTS lockers(x)")
    print("ready", flush=True)
    time.sleep(3600 if seconds < 0 else seconds)
    conn.execute("COMMIT")
    print("released", flush=True)


def main() -> None:
    mode, path, *rest = sys.argv[1:]
    if mode == "write":
        asyncio.run(write(path, int(rest[0]), rest[1]))
    elif mode == "trigger":
        asyncio.run(trigger_and_wait(path, rest[0]))
    elif mode == "insert-on-command":
        asyncio.run(insert_on_command(path))
    elif mode == "tx-then-hang":
        asyncio.run(tx_then_hang(path))
    elif mode == "cold-open":
        asyncio.run(cold_open(path, float(rest[0])))
    elif mode == "consume-durable":
        asyncio.run(consume_durable(path, int(rest[0])))
    elif mode == "hold-lock":
        hold_lock(path, float(rest[0]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
