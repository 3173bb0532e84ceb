"""Several real tabs on one OPFS database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.asyncio(loop_scope="session")

DB = "/shared/app.db"
SETUP = f"""
import asyncio, json, tabsqlite
db = await tabsqlite.open_database({DB!r})
await db.execute("CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, tag TEXT, n INTEGER)")
await db.execute("CREATE TABLE IF NOT EXISTS other(id INTEGER PRIMARY KEY, v TEXT)")
"""


async def test_four_tabs_open_at_once_and_share_rows(open_tabs: Any) -> None:
    tabs = await open_tabs(4)
    # All four open (and create the schema) at the same moment.
    await asyncio.gather(*(t.run(SETUP) for t in tabs))
    await tabs[0].run("await db.execute(\"INSERT INTO items(tag, n) VALUES ('from A', 1)\")")
    rows = await tabs[1].run("json.dumps(await db.get_all('SELECT tag, n FROM items'))")
    assert json.loads(rows) == [{"tag": "from A", "n": 1}]
    types = await tabs[2].run("""
        await db.execute("INSERT INTO other(v) VALUES (?)", [b"\\x00\\xff"])
        row = await db.get("SELECT v, 1.5 AS f, 2.0 AS g, 9007199254740993 AS big, NULL AS z "
                           "FROM other")
        json.dumps([type(row['v']).__name__, row['v'].hex(), row['f'],
                    type(row['g']).__name__, row['big'], row['z']])
    """)
    assert json.loads(types) == ["bytes", "00ff", 1.5, "float", 9007199254740993, None]


async def test_watch_wakes_for_other_tab_and_not_for_unrelated(open_tabs: Any) -> None:
    a, b = await open_tabs(2)
    await a.run(SETUP)
    await b.run(SETUP)
    await b.run("""
        w = db.watch("SELECT count(*) AS n FROM items")
        results = [await anext(w)]
        async def follow():
            async for rows in w:
                results.append(rows)
        follower = asyncio.ensure_future(follow())
    """)
    await a.run("await db.execute(\"INSERT INTO items(tag, n) VALUES ('x', 1)\")")
    await b.run("""
        for _ in range(100):
            if len(results) >= 2:
                break
            await asyncio.sleep(0.05)
        assert results[-1] == [{"n": 1}], results
    """)
    await a.run("await db.execute(\"INSERT INTO other(v) VALUES ('unrelated')\")")
    await asyncio.sleep(0.5)
    runs = await b.run("w.runs")
    assert runs == 2


async def test_track_table_diff_gets_other_tabs_diffs_once(open_tabs: Any) -> None:
    a, b = await open_tabs(2)
    await a.run(SETUP)
    await b.run(SETUP)
    await a.run("""
        seen = []
        async def on_change(ctx):
            seen.extend((r["operation"], r["id"]) for r in ctx.diff_rows())
        tracker = await db.triggers.track_table_diff(
            source="items", when={"INSERT": None, "UPDATE": None, "DELETE": None},
            on_change=on_change)
    """)
    await b.run("""
        for i in range(30):
            await db.execute("INSERT INTO items(id, tag, n) VALUES (?, 'b', 0)", [100 + i])
        await db.execute("UPDATE items SET n = 1 WHERE id >= 100")
        await db.execute("DELETE FROM items WHERE id >= 115")
    """)
    seen = await a.run("""
        for _ in range(200):
            if len(seen) >= 75:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        json.dumps(seen)
    """)
    seen = json.loads(seen)
    assert len(seen) == 75 and len({tuple(s) for s in seen}) == 75
    assert sum(1 for op, _ in seen if op == "DELETE") == 15


async def test_four_tabs_interleaved_writes_all_present(open_tabs: Any) -> None:
    tabs = await open_tabs(4)
    await asyncio.gather(*(t.run(SETUP) for t in tabs))
    await asyncio.gather(*(t.run(f"""
        for i in range(250):
            await db.execute("INSERT INTO items(tag, n) VALUES (?, ?)", ["w{k}", i])
            if i % 10 == 0:
                await asyncio.sleep(0)
    """, timeout=240) for k, t in enumerate(tabs)))
    (fresh,) = await open_tabs(1)
    await fresh.run(SETUP)
    counts = json.loads(await fresh.run(
        "json.dumps(await db.get_all('SELECT tag, count(*) AS c, count(DISTINCT n) AS d "
        "FROM items GROUP BY tag ORDER BY tag'))"))
    assert counts == [{"tag": f"w{k}", "c": 250, "d": 250} for k in range(4)]
    assert await fresh.run("(await db.get('PRAGMA integrity_check'))['integrity_check']") == "ok"
    # Interleaved: the writes of the tabs alternate, not one tab's block after another's.
    switches = await fresh.run("""
        tags = [r["tag"] for r in await db.get_all("SELECT tag FROM items ORDER BY id")]
        sum(1 for x, y in zip(tags, tags[1:]) if x != y)
    """)
    assert switches > 20


async def test_tab_closed_mid_transaction_leaves_no_partial_write(open_tabs: Any) -> None:
    survivor, victim = await open_tabs(2)
    await survivor.run(SETUP)
    await victim.run(SETUP)
    await victim.run("await db.execute(\"INSERT INTO items(tag, n) VALUES ('committed', 0)\")")
    await victim.run("""
        async def hang():
            async with db.write_transaction() as tx:
                await tx.execute("INSERT INTO items(tag, n) VALUES ('partial', 1)")
                await asyncio.sleep(3600)
        hanging = asyncio.ensure_future(hang())
        await asyncio.sleep(0.2)
    """)
    await victim.page.close()
    took = await survivor.run("""
        import time
        t0 = time.monotonic()
        await db.execute("INSERT INTO items(tag, n) VALUES ('after', 2)")
        time.monotonic() - t0
    """, timeout=20)
    assert took < 2.0
    tags = json.loads(await survivor.run(
        "json.dumps([r['tag'] for r in await db.get_all('SELECT tag FROM items ORDER BY id')])"))
    assert tags == ["committed", "after"]
    assert await survivor.run(
        "(await db.get('PRAGMA integrity_check'))['integrity_check']") == "ok"


async def test_delete_database_removes_opfs_files(open_tabs: Any) -> None:
    (tab,) = await open_tabs(1)
    listing = await tab.run("""
        import js, json, tabsqlite
        d = await tabsqlite.open_database("/gone/x.db")
        await d.execute("CREATE TABLE t(x)")
        async def names():
            root = await js.navigator.storage.getDirectory()
            folder = await root.getDirectoryHandle("gone")
            out = []
            it = folder.keys()
            while True:
                step = await it.next()
                if step.done:
                    return sorted(out)
                out.append(step.value)
        before = await names()
        await d.close(delete_database=True)
        json.dumps([before, await names()])
    """)
    before, after = json.loads(listing)
    assert "x.db" in before
    assert [n for n in after if n.startswith("x.db")] == []


async def test_new_file_gets_the_runtime_page_size_existing_keeps_its_own(
    open_tabs: Any, isolated_server_url: str,
) -> None:
    (tab,) = await open_tabs(1, base=isolated_server_url)  # (the old file is made on opfs)
    sizes = await tab.run("""
        import json, tabsqlite
        from pyodide.code import run_js
        import tabsqlite_glue as glue
        # A file made by plain sqlite-wasm with the default page size, then opened by tabsqlite.
        run_js('''(sqlite3) => { const db = new sqlite3.oo1.DB(
            {filename: 'file:/ps/old.db?vfs=opfs', flags: 'c'});
            db.exec('CREATE TABLE t(x); INSERT INTO t VALUES (7)'); db.close(); }''')(glue.sqlite3)
        old = await tabsqlite.open_database("/ps/old.db")
        new = await tabsqlite.open_database("/ps/new.db")
        await new.execute("CREATE TABLE t(x)")
        out = [(await old.get("PRAGMA page_size"))["page_size"],
               (await old.get("SELECT x FROM t"))["x"],
               (await new.get("PRAGMA page_size"))["page_size"]]
        await old.close(delete_database=True)
        await new.close(delete_database=True)
        json.dumps(out)
    """)
    assert json.loads(sizes) == [8192, 7, 4096]  # 8192: sqlite-wasm's own default


# Cases written once for every runtime: tests/<file> runs on CPython and here in a tab.
SHARED_CASES = {
    "values come back with their types": ("value_roundtrip.py", "check(await round_trip(db))"),
    "repeated statements report each run": ("statement_reuse.py", "check(await reuse(db))"),
    "a bulk load in one statement is tracked": ("bulk_load.py", "check(await load(db))"),
    "execute_many takes each shape of parameter set": (
        "param_sets.py", "check(await shapes(db))"),
    "each error describes its own statement": (
        "error_messages.py", "check(await messages(db))"),
}


@pytest.mark.parametrize("mode", ["worker", "main"])
@pytest.mark.parametrize("case", list(SHARED_CASES))
async def test_shared_case_in_a_tab(open_tabs: Any, case: str, mode: str) -> None:
    file, call = SHARED_CASES[case]
    (tab,) = await open_tabs(1, mode=mode)
    source = (ROOT / "tests" / file).read_text()
    await tab.run(source + f"""
import tabsqlite
db = await tabsqlite.open_database("/shared_case.db")
try:
    {call}
finally:
    await db.close(delete_database=True)
""")


@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_smoke_both_modes(open_tabs: Any, mode: str) -> None:
    a, b = await open_tabs(2, mode=mode)
    await a.run(SETUP)
    await b.run(SETUP)
    await b.run("""
        changes = db.on_change(tables=["items"])
        waiter = asyncio.ensure_future(anext(changes))
    """)
    await a.run("""
        async with db.write_transaction() as tx:
            await tx.execute_many("INSERT INTO items(tag, n) VALUES (?, ?)",
                                  [["m", i] for i in range(100)])
    """)
    got = json.loads(await b.run("""
        ev = await asyncio.wait_for(waiter, 5)
        count = (await db.get("SELECT count(*) AS c FROM items"))["c"]
        json.dumps([sorted(ev.tables), ev.remote, count])
    """))
    assert got == [["items"], True, 100]
    err = await a.run("""
        try:
            await db.execute("INSERT INTO nope VALUES (1)")
        except tabsqlite.SQLiteError as e:
            r = [type(e).__name__, e.code]
        try:
            await db.execute("SELECT ?", [1, 2])
        except tabsqlite.BadCallError as e:
            r.append(type(e).__name__)
        json.dumps(r)
    """)
    assert json.loads(err) == ["SQLiteError", 1, "BadCallError"]


async def test_schema_statements_reused_across_schema_changes(open_tabs: Any) -> None:
    """Regression: reusing prepared DROP/CREATE/EXPLAIN across schema changes trapped
    ("memory access out of bounds") inside sqlite-wasm."""
    (tab,) = await open_tabs(1)
    out = await tab.run("""
        import tabsqlite
        d = await tabsqlite.open_database("/regress/explain.db")
        await d.execute("PRAGMA journal_mode=delete")
        await d.execute("SELECT count(*) FROM sqlite_schema")
        for _ in range(4):
            await d.execute("DROP TABLE IF EXISTS t")
            await d.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER)")
            await d.execute("EXPLAIN INSERT INTO t DEFAULT VALUES")
            trig = await d.triggers.create_diff_trigger(source="t", destination="t_d",
                                                        when={"INSERT": None})
            await d.execute("INSERT INTO t(a) VALUES (1)")
            await trig.dispose()
        (await d.get("SELECT count(*) AS n FROM t"))["n"]
    """)
    assert out == 1


@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_start_installs_the_wheel_alone_and_micropip_on_request(
    open_tabs: Any, context: Any, server_url: str, mode: str
) -> None:
    plain, with_micropip = await open_tabs(1, mode=mode) + await open_tabs(
        1, mode=mode, query="&micropip=1")
    check = """
        import importlib.metadata, importlib.util, json, tabsqlite
        json.dumps([importlib.metadata.version("tabsqlite"),
                    importlib.util.find_spec("micropip") is not None])
    """
    version, has_micropip = json.loads(await plain.run(check))
    assert version and not has_micropip  # installed as a real distribution, without micropip
    version2, has_micropip = json.loads(await with_micropip.run(check))
    assert version2 == version and has_micropip
    # micropip counts the unpacked wheel as installed: asking for tabsqlite fetches
    # nothing (this machine has no index to fetch from).
    await with_micropip.run("""
        import micropip
        await micropip.install(f"tabsqlite=={tabsqlite.__version__}")
    """)
    # A wheel URL that does not answer fails the start with a message naming it.
    page = await context.new_page()
    await page.goto(f"{server_url}/?mode={mode}&wheel=/wheels/missing.whl")
    error = await page.evaluate("window.tabReady.then(() => 'started', e => String(e))")
    await page.close()
    assert "could not fetch the tabsqlite wheel" in error and "missing.whl" in error
    assert "404" in error
