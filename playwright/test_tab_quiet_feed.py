"""A tab where nothing waits for changes stops waking Python for every other tab's commit,
and hears them again, precisely, as soon as it subscribes (real tabs, a real
BroadcastChannel)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")

DB = "/quiet/app.db"
SETUP = f"""
import asyncio, gc, json, random, tabsqlite
db = await tabsqlite.open_database({DB!r})
await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
await db.execute("CREATE TABLE IF NOT EXISTS u(x)")
"""


async def test_an_idle_tab_sleeps_through_commits_and_a_subscription_wakes_it(
    open_tabs: Any,
) -> None:
    a, b = await open_tabs(2)
    await a.run(SETUP)
    await b.run(SETUP)
    await a.run("""
        for i in range(40):
            await db.execute("INSERT INTO t VALUES (?)", [i])
        await asyncio.sleep(0.2)
    """)
    heard = json.loads(await b.run(
        "await asyncio.sleep(0.2)\njson.dumps([db.feed.quiet, db.feed.messages_heard])"))
    assert heard[0] is True
    assert heard[1] <= 3, heard  # the first message or so, not 40 wake-ups
    # Subscriptions come and go at random moments while A commits with jittered pauses;
    # then one waits: it sees what came after it, with the tables named (no false
    # "unknown" for what went by unheard, no sequence gap).
    await b.run("gaps0 = db.feed.receiver.gaps")
    await a.run("""
        async def commit_on():  # (until B is done: B's trials take what they take)
            i = 0
            while True:
                await db.execute("INSERT INTO t VALUES (?)", [i])
                i += 1
                await asyncio.sleep(random.random() * 0.01)
        committing = asyncio.ensure_future(commit_on())
    """)
    await b.run("""
        for trial in range(12):
            events = db.on_change(["t"])
            await asyncio.wait_for(anext(events), 5)  # A's next commit
            await events.aclose()
            del events
            gc.collect()  # no subscription left: the next message makes the tab quiet
            await asyncio.sleep(random.random() * 0.03)
    """, timeout=60)
    await a.run("""
        committing.cancel()
        try:
            await committing
        except asyncio.CancelledError:
            pass
    """)
    await b.run("""
        w = db.on_change(["u"])
        last = asyncio.ensure_future(anext(w))
        await asyncio.sleep(0.05)
    """)
    await a.run("await db.execute('INSERT INTO u VALUES (1)')")
    out = json.loads(await b.run("""
        event = await asyncio.wait_for(last, 5)
        json.dumps([sorted(event.tables), event.unknown, db.feed.receiver.gaps - gaps0,
                    db.feed.quiet])
    """))
    assert out == [["u"], False, 0, False], out
