"""tabsqlite's own OPFS VFS (js_glue/src/tabvfs.mjs): every tab keeps readwrite-unsafe
handles, the database's Web Lock decides who touches the file. It needs no cross-origin
isolation, it is the default in Chromium, and several tabs on it lose nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")

DB = "/vfs/counter.db"


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


@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_four_tabs_read_modify_write_one_counter(open_tabs: Any, mode: str) -> None:
    tabs = await open_tabs(4, mode=mode)
    await tabs[0].run(f"""
        import tabsqlite
        db = await tabsqlite.open_database({DB!r})
        await db.execute("CREATE TABLE IF NOT EXISTS c(id INTEGER PRIMARY KEY, n INTEGER)")
        await db.execute("INSERT OR REPLACE INTO c VALUES (1, 0)")
    """)
    rounds = 60
    work = f"""
        import asyncio, json, random, tabsqlite
        db = await tabsqlite.open_database({DB!r})
        acknowledged = 0
        for i in range({rounds}):
            async with db.write_transaction() as tx:
                n = (await tx.get("SELECT n FROM c WHERE id = 1"))["n"]
                await asyncio.sleep(random.random() * 0.002)
                await tx.execute("UPDATE c SET n = ? WHERE id = 1", [n + 1])
            acknowledged += 1
            if random.random() < 0.3:  # a plain read between, on the cached pages
                await db.get("SELECT n FROM c WHERE id = 1")
        acknowledged
    """
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
