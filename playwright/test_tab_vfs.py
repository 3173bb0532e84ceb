"""tabsqlite's own OPFS VFS (js_glue/src/tabvfs.mjs), in every way of holding the files:
every tab keeps readwrite-unsafe handles and commits into a write-ahead log ("log",
Chromium's default) or into the file ("shared"), or the lock's holder has the only handles
and lends them on request ("lending", what other browsers run; forced here). The
database's Web Lock decides who touches the file. It needs no cross-origin isolation, and
several tabs on it lose nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tabsqlite.testing import READ_MODIFY_WRITE, SPILLED_TRANSACTION

pytestmark = pytest.mark.asyncio(loop_scope="session")

DB = "/vfs/counter.db"
HANDLES = ["shared", "lending", "log"]


@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_works_without_cross_origin_isolation(open_tabs: Any, plain_server_url: str,
                                                    mode: str) -> None:
    a, b = await open_tabs(2, mode=mode, base=plain_server_url)
    assert await a.page.evaluate("crossOriginIsolated") is False
    await a.run(f"""
        import tabsqlite
        db = await tabsqlite.open_database({DB!r})
        await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
        await db.execute("INSERT INTO t VALUES (42)")
    """)
    got = await b.run(f"""
        import tabsqlite
        db = await tabsqlite.open_database({DB!r})
        (await db.get("SELECT x FROM t"))["x"]
    """)
    assert got == 42
    names = await b.run("""
        from pyodide.code import run_js
        await run_js('''(async () => {
            const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle("vfs");
            const names = [];
            for await (const name of dir.keys()) names.push(name);
            return names.sort().join(",");
        })()''')
    """)
    assert names.split(",")[0] == "counter.db"  # the file sits at its own OPFS path
    await a.run("await db.close()")
    await b.run("await db.close(delete_database=True)")


async def test_worker_uses_our_vfs_by_default(open_tabs: Any) -> None:
    (tab,) = await open_tabs(1)
    assert await tab.run("import tabsqlite_glue as glue; glue.vfs") == "tabsqlite"
    root = await tab.run("""
        from pyodide.code import run_js
        await run_js(
            "(async () => { const names = [];"
            " for await (const n of (await navigator.storage.getDirectory()).keys()) names.push(n);"
            " return names.join(','); })()")
    """)
    assert not [n for n in root.split(",") if n.startswith(".tabsqlite-probe")]  # cleaned up


@pytest.mark.parametrize("handles", HANDLES)
@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_four_tabs_read_modify_write_one_counter(open_tabs: Any, mode: str,
                                                       handles: str) -> None:
    tabs = await open_tabs(4, mode=mode, query=f"&handles={handles}")  # (shared: probed)
    path = f"/vfs/counter-{mode}-{handles}.db"
    await tabs[0].run(f"""
        import tabsqlite
        db = await tabsqlite.open_database({path!r})
        await db.execute("CREATE TABLE IF NOT EXISTS c(id INTEGER PRIMARY KEY, n INTEGER)")
        await db.execute("INSERT OR REPLACE INTO c VALUES (1, 0)")
    """)
    rounds = 60
    await asyncio.gather(*(t.run(f"import tabsqlite; db = await tabsqlite.open_database({path!r})")
                           for t in tabs))
    work = f"ROUNDS = {rounds}\n" + READ_MODIFY_WRITE
    # tabs started together all chose it (each probes its own file)
    chosen = await asyncio.gather(*(t.run("import tabsqlite_glue as g; f'{g.vfs} {g.handles}'")
                                    for t in tabs))
    assert set(chosen) == {f"tabsqlite {handles}"}
    counts = await asyncio.gather(*(t.run(work, timeout=120) for t in tabs))
    final = json.loads(await tabs[1].run("""
        import json
        json.dumps([(await db.get("SELECT n FROM c WHERE id = 1"))["n"],
                    (await db.get("PRAGMA integrity_check"))["integrity_check"]])
    """))
    assert final == [sum(counts), "ok"]
    assert sum(counts) == 4 * rounds
    for t in tabs:
        await t.run("await db.close()")


STATS = """
import json, tabsqlite_glue as glue
stats = glue.lockStats()
if hasattr(stats, "then"):  # main-thread mode: from the database worker
    stats = await stats
json.loads(str(stats))
"""


@pytest.mark.parametrize("handles", HANDLES)
@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_a_kept_lock_still_lets_writers_in(open_tabs: Any, mode: str,
                                                 handles: str) -> None:
    """A tab that reads keeps the lock (shared; lending: exclusive, with the handles) and
    reads again at once; another tab's writes still get in (the reader lets go when asked,
    even from a loop that never waits), and the reader sees each of them."""
    reader, writer = await open_tabs(2, mode=mode, query=f"&handles={handles}")
    path = f"/vfs/kept-{mode}-{handles}.db"
    await reader.run(f"""
        import tabsqlite
        db = await tabsqlite.open_database({path!r})
        await db.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v)")
        await db.execute("DELETE FROM t")
        for _ in range(50):
            await db.get("SELECT count(*) AS n FROM t")
    """)
    first = await reader.run(STATS)
    assert first["kept"] >= 1 and first["atOnce"] >= 40, first
    await writer.run(f"""
        import tabsqlite
        db = await tabsqlite.open_database({path!r}, busy_timeout=5.0)
    """)
    await reader.run("""
        import asyncio, time
        seen = []
        async def read_loop(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:  # no sleep: only the reads' own awaits
                seen.append((await db.get("SELECT count(*) AS n FROM t"))["n"])
        reading = asyncio.ensure_future(read_loop(4.0))
        await asyncio.sleep(0.2)
    """)
    took = json.loads(await writer.run("""
        import json, time
        took = []
        for i in range(60):
            t0 = time.monotonic()
            await db.execute("INSERT INTO t(v) VALUES (?)", [i])
            took.append(time.monotonic() - t0)
        json.dumps(took)
    """, timeout=60))
    assert len(took) == 60  # every write got in (each within busy_timeout)
    out = json.loads(await reader.run("""
        await reading
        n = (await db.get("SELECT count(*) AS n FROM t"))["n"]
        json.dumps({"n": n, "reads": len(seen), "sorted": seen == sorted(seen),
                    "last": seen[-1], "distinct": len(set(seen))})
    """, timeout=30))
    assert out["n"] == 60 and out["last"] == 60 and out["sorted"], out
    assert out["distinct"] > 2, out  # it saw writes land while it read
    stats = await reader.run(STATS)
    assert stats["atOnce"] > first["atOnce"] and stats["wantsHeard"] >= 1, stats
    await reader.run("await db.close()")
    await writer.run("await db.close(delete_database=True)")


@pytest.mark.parametrize("handles", HANDLES)
async def test_read_after_a_dead_writer_rolls_its_journal_back(open_tabs: Any,
                                                               handles: str) -> None:
    """A tab keeps the lock between reads; another tab dies inside a transaction whose
    pages spilled to the file. The reader's next read finds the hot journal (shared: under
    its shared lock, and takes the lock exclusively; lending: in the handles the dead tab
    held, which the browser closed), rolls the journal back and reads the old data. (Log:
    the spilled pages stayed in the dead tab's memory and no commit frame was written,
    so there is nothing to roll back.)"""
    reader, victim = await open_tabs(2, query=f"&handles={handles}")
    path = f"/vfs/hot-{handles}.db"
    await reader.run(f"""
        import tabsqlite
        db = await tabsqlite.open_database({path!r})
        await db.execute("CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, tag, n)")
        await db.execute_many("INSERT INTO items(tag, n) VALUES (?, ?)",
                              [["before", i] for i in range(100)])
        for _ in range(5):
            await db.get("SELECT count(*) AS n FROM items")
    """)
    await victim.run(f"""
        import asyncio, tabsqlite
        db = await tabsqlite.open_database({path!r})
    """)
    await victim.run(SPILLED_TRANSACTION)
    await asyncio.sleep(1.0)  # inside the long statement, pages spilled
    await victim.page.close()
    out = json.loads(await reader.run("""
        import json
        rows = await db.get_all("SELECT tag, count(*) AS n FROM items GROUP BY tag")
        ok = (await db.get("PRAGMA integrity_check"))["integrity_check"]
        json.dumps([[r["tag"], r["n"]] for r in rows] + [ok])
    """, timeout=30))
    assert out == [["before", 100], "ok"], out
    stats = await reader.run(STATS)
    if handles == "shared":
        assert stats["exclusiveAgain"] >= 1, stats  # the shared read found the journal hot
    elif handles == "log":
        assert stats["exclusiveAgain"] == 0, stats
    else:
        assert stats["borrowed"] >= 2 and stats["exclusiveAgain"] == 0, stats
    await reader.run("await db.close(delete_database=True)")


@pytest.mark.parametrize("handles", ["shared"])  # (lending: every statement is exclusive)
async def test_a_write_that_starts_like_a_read(open_tabs: Any, handles: str) -> None:
    """``WITH ... INSERT`` starts like a read: the VFS refuses it the write lock while the
    tab holds the lock shared, and it runs again exclusively, once, and is announced."""
    a, b = await open_tabs(2, query=f"&handles={handles}")
    path = "/vfs/with.db"
    await a.run(f"""
        import tabsqlite
        db = await tabsqlite.open_database({path!r})
        await db.execute("CREATE TABLE IF NOT EXISTS t(v)")
        await db.get_all("SELECT * FROM t")  # keeps the lock shared
    """)
    await b.run(f"""
        import asyncio, tabsqlite
        db = await tabsqlite.open_database({path!r})
        changes = db.on_change(["t"])
        waiting = asyncio.ensure_future(changes.__anext__())
        await asyncio.sleep(0.05)
    """)
    before = (await a.run(STATS))["exclusiveAgain"]
    out = await a.run("""
        r = await db.execute("WITH x(v) AS (VALUES (1), (2)) INSERT INTO t(v) SELECT v FROM x")
        [r.rows_affected, (await db.get("SELECT count(*) AS n FROM t"))["n"]]
    """)
    assert out == [2, 2]
    assert (await a.run(STATS))["exclusiveAgain"] == before + 1
    tables = await b.run("""
        event = await asyncio.wait_for(waiting, 5)
        sorted(event.tables)
    """)
    assert "t" in tables
    await b.run("await changes.aclose(); await db.close()")
    await a.run("await db.close(delete_database=True)")
