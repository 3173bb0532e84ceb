"""A durable diff consumer across real tabs: the consuming tab is closed at a random moment
(often inside its ``on_change`` transaction) while a third tab writes; a waiting tab takes
over and every committed row is delivered exactly once (both modes)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")

DB = "/durable/outbox.db"
SETUP = f"""
import asyncio, json, random, time, tabsqlite
db = await tabsqlite.open_database({DB!r})
await db.execute_script("CREATE TABLE IF NOT EXISTS todos(id INTEGER PRIMARY KEY, title TEXT);"
                        "CREATE TABLE IF NOT EXISTS sent(todo INTEGER, consumer TEXT)")
"""

CONSUME = """
rng = random.Random({seed})
async def on_change(ctx):
    for row in ctx.diff_rows():
        await ctx.tx.execute("INSERT INTO sent(todo, consumer) VALUES (?, ?)",
                             [row["id"], {who!r}])
        await asyncio.sleep(rng.uniform(0, 0.004))
consumer = await db.triggers.track_table_diff(
    source="todos", when={{"INSERT": None}}, on_change=on_change, name="outbox",
    durable=True, throttle_ms=0)
consumer.active
"""

WRITE = """
written = 0
async def write(seconds):
    global written
    rng = random.Random(1)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await db.execute("INSERT INTO todos(title) VALUES ('x')")
        written += 1
        await asyncio.sleep(rng.uniform(0.002, 0.02))
writing = asyncio.ensure_future(write({seconds}))
"""


@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_closed_consumer_tab_is_taken_over_and_nothing_is_lost(
    open_tabs: Any, mode: str
) -> None:
    rng = random.Random(31 if mode == "worker" else 37)
    writer, standby = await open_tabs(2, mode=mode)
    await writer.run(SETUP)
    await standby.run(SETUP)
    victims = 0
    for trial in range(3):
        (victim,) = await open_tabs(1, mode=mode)
        await victim.run(SETUP)
        if trial > 0:  # the standby consumes since the last trial: it lets go for the victim
            await standby.run("await consumer.close()")
        assert await victim.run(CONSUME.format(seed=trial, who=f"victim{trial}")) is True
        assert await standby.run(CONSUME.format(seed=100 + trial, who="standby")) is False
        await writer.run(WRITE.format(seconds=1.5))
        await asyncio.sleep(rng.uniform(0.2, 1.2))
        await victim.page.close()
        victims += 1
        closed = time.monotonic()
        await standby.run("await asyncio.wait_for(consumer.wait_active(), 10)", timeout=20)
        took_over = time.monotonic() - closed
        written = await writer.run("await writing\nwritten", timeout=30)
        out = json.loads(await standby.run("""
            await consumer.drain()
            ids = [r["todo"] for r in await db.get_all("SELECT todo FROM sent ORDER BY todo")]
            by = {r["consumer"]: r["n"] for r in await db.get_all(
                "SELECT consumer, count(*) AS n FROM sent GROUP BY consumer")}
            n = (await db.get("SELECT count(*) AS n FROM todos"))["n"]
            ok = (await db.get("PRAGMA integrity_check"))["integrity_check"]
            json.dumps({"ids": ids, "by": by, "n": n, "ok": ok})
        """, timeout=30))
        assert out["ids"] == list(range(1, out["n"] + 1)), (trial, out["by"], out["n"])
        assert out["ok"] == "ok"
        assert out["by"].get(f"victim{trial}", 0) > 0, out["by"]  # it did consume some
        print(f"[{mode}] trial {trial}: take-over {took_over:.3f} s, {out['n']} rows, "
              f"by {out['by']}")
        assert took_over < 2.0, took_over
        assert written > 0
    assert victims == 3
