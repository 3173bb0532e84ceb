"""One lock-wait setting in tabs: ``busy_timeout`` bounds the wait for another tab's lock
(it was always 10 s), and the BusyError names the connection that holds it."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")

DB = "/lockwait/app.db"


@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_busy_timeout_bounds_the_wait_and_names_the_holder(
    open_tabs: Any, mode: str
) -> None:
    a, b = await open_tabs(2, mode=mode)
    await b.run(f"""
        import json, time, tabsqlite
        db = await tabsqlite.open_database({DB!r}, busy_timeout=0.5)
    """)
    await a.run(f"""
        import asyncio, tabsqlite
        db = await tabsqlite.open_database({DB!r})
        await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
        started = asyncio.Event()
        async def hold():
            async with db.write_transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (1)")
                started.set()
                await asyncio.sleep(3)
        holding = asyncio.ensure_future(hold())
        await started.wait()
    """)
    out = json.loads(await b.run("""
        t0 = time.monotonic()
        try:
            await db.execute("INSERT INTO t VALUES (2)")
            error = None
        except tabsqlite.BusyError as e:
            error = e
        json.dumps({"waited": time.monotonic() - t0, "message": str(error),
                    "holder": error and error.holder, "attr": error and error.waited})
    """))
    assert 0.4 <= out["waited"] < 1.5, out
    assert out["holder"] and "connection" in out["holder"] and "open" in out["holder"], out
    assert out["attr"] == 0.5
    assert "held by connection" in out["message"], out
    await a.run("await holding")
    assert await b.run("(await db.execute('INSERT INTO t VALUES (3)')).rows_affected") == 1
