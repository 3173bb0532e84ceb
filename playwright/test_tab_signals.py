"""Change signals in real tabs can't be forged into silence or flooded: anyone on the
origin can post on the BroadcastChannel."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")

DB = "/signals/app.db"
SETUP = f"""
import asyncio, json, time, tabsqlite
db = await tabsqlite.open_database({DB!r}, signal_check_interval={{interval}})
await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
"""
WATCH = """
w = db.watch("SELECT count(*) AS n FROM t", throttle_ms=0)
await anext(w)
async def until(n, seconds):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        rows = await asyncio.wait_for(anext(w), seconds)
        if rows == [{"n": n}]:
            return time.monotonic() - t0
    raise AssertionError(f"watch stayed at {rows}")
"""


async def test_a_forged_huge_sequence_number_does_not_silence_a_tab(open_tabs: Any) -> None:
    a, b = await open_tabs(2)
    await a.run(SETUP.format(interval=1.0))
    await b.run(SETUP.format(interval=30) + WATCH)  # no back-stop: the signals alone
    origin = await a.run("db.origin")
    forged = json.dumps({"tabsqlite": 1, "origin": origin, "seq": 10**15, "tables": ["z"]},
                        separators=(",", ":"))
    await a.page.evaluate(
        "([name, m]) => { const bc = new BroadcastChannel(name); bc.postMessage(m); bc.close(); }",
        ["tabsqlite:" + DB, forged])
    for i in range(1, 4):
        await a.run(f"await db.execute('INSERT INTO t VALUES ({i})')")
        took = await b.run(f"await until({i}, 3)")
        assert took < 1.0, took
    assert await b.run("db.feed.receiver.resets") >= 1


async def test_a_flood_of_garbage_costs_a_tab_little(open_tabs: Any) -> None:
    a, b = await open_tabs(2)
    await a.run(SETUP.format(interval=1.0))
    await b.run(SETUP.format(interval=1.0) + WATCH)
    flood = a.page.evaluate("""(name) => new Promise((resolve) => {
        const bc = new BroadcastChannel(name);
        let sent = 0;
        const end = performance.now() + 5000;
        const tick = () => {
            for (let i = 0; i < 500; i++) bc.postMessage(i % 2 ? "garbage " + sent++ :
                JSON.stringify({tabsqlite: 1, origin: "o" + (sent++ % 5000), seq: 1, tables: []}));
            if (performance.now() < end) setTimeout(tick, 10); else { bc.close(); resolve(sent); }
        };
        tick();
    })""", "tabsqlite:" + DB)
    probe = b.run("""
        slowest, n = 0.0, 0
        stop = time.monotonic() + 5.5
        while time.monotonic() < stop:
            t0 = time.monotonic()
            await db.get("SELECT 1 AS one")
            slowest = max(slowest, time.monotonic() - t0)
            n += 1
            await asyncio.sleep(0.05)
        json.dumps([slowest, n])
    """, timeout=60)
    sent, measured = await asyncio.gather(flood, probe)
    slowest, probes = json.loads(measured)
    assert sent >= 60_000 and probes >= 40 and slowest < 0.5, (sent, slowest, probes)
    # Afterwards the tab still follows real changes.
    await a.run("await db.execute('INSERT INTO t VALUES (1)')")
    assert await b.run("await until(1, 5)") < 3
    assert await b.run("len(db.feed.receiver._last_seq)") <= 256
