"""Log mode of tabsqlite's VFS (``handles=log``, js_glue/src/writeahead.mjs): commits go to a
write-ahead log beside the database, readers share a read lock of their own and never wait
for a writer, and a checkpoint folds the log into the database file. Real tabs, real
OPFS: what a reader sees, a torn log tail, a checkpoint while others read, a reopen."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import sqlite3
from textwrap import dedent
from typing import Any

import pytest

from tabsqlite.testing import HOLD_WRITE_TRANSACTION

pytestmark = pytest.mark.asyncio(loop_scope="session")



def code(*parts: str) -> str:
    """Python for a tab: the parts, each dedented, one after the other."""
    return "\n".join(dedent(part) for part in parts)


# (a test that names its handles runs once, in the suite's first pass: see conftest.py)
HANDLES = pytest.mark.parametrize("handles", ["log"])

OPEN = """
import asyncio, json, tabsqlite
db = await tabsqlite.open_database({path!r}, busy_timeout=30.0)
await db.execute("CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, tag TEXT, n INTEGER)")
"""

STATS = """
import json, tabsqlite_glue as glue
json.loads(str(glue.lockStats()))
"""

# The OPFS files of a folder as a JSON {name: size}, read from the tab's worker.
FILE_SIZES = """
from pyodide.code import run_js
await run_js('''(async () => {{
    let dir = await navigator.storage.getDirectory();
    for (const part of {folder!r}.split("/").filter(Boolean)) {{
        dir = await dir.getDirectoryHandle(part);
    }}
    const sizes = {{}};
    for await (const [name, handle] of dir.entries()) {{
        if (handle.kind === "file") sizes[name] = (await handle.getFile()).size;
    }}
    return JSON.stringify(sizes);
}})()''')
"""


@HANDLES
async def test_the_log_mode_is_what_runs(open_tabs: Any, handles: str) -> None:
    (tab,) = await open_tabs(1, query=f"&handles={handles}")
    assert await tab.run("import tabsqlite_glue as g; f'{g.vfs} {g.handles}'") == "tabsqlite log"
    path = "/wal/mode.db"
    modes = json.loads(await tab.run(code(OPEN.format(path=path), """
        asked = next(iter((await db.get("PRAGMA journal_mode=delete")).values()))
        now = (await db.get("PRAGMA journal_mode"))["journal_mode"]
        await db.execute("INSERT INTO items(tag, n) VALUES ('a', 1)")
        json.dumps([asked, now])
    """)))
    # SQLite's own journal stays in memory: the log is the journal.
    assert modes == ["memory", "memory"]
    sizes = json.loads(await tab.run(FILE_SIZES.format(folder="/wal")))
    assert sizes["mode.db-log"] > 32 and sizes.get("mode.db-journal", 0) == 0, sizes
    await tab.run("await db.close(delete_database=True)")
    left = json.loads(await tab.run(FILE_SIZES.format(folder="/wal")))
    assert not [n for n in left if n.startswith("mode.db")], left


@HANDLES
async def test_a_reader_does_not_wait_for_an_open_write_transaction(open_tabs: Any,
                                                                   handles: str) -> None:
    """Tab W holds a write transaction open (its write lock held, a row written but not
    committed); tab R reads meanwhile, at once, the committed state only. In the modes
    without a log R would wait for W's commit: here the test would time out."""
    reader, writer = await open_tabs(2, query=f"&handles={handles}")
    path = "/wal/open-tx.db"
    await reader.run(OPEN.format(path=path))  # (opening takes the write lock a moment)
    await writer.run(code(OPEN.format(path=path), """
        await db.execute("INSERT INTO items(tag, n) VALUES ('committed', 1)")
    """, HOLD_WRITE_TRANSACTION.format(tag="pending")))
    for _ in range(20):
        got = json.loads(await reader.run("""
            rows = await db.get_all("SELECT tag FROM items ORDER BY id")
            json.dumps([r["tag"] for r in rows])
        """, timeout=10))
        assert got == ["committed"]
    await writer.run("release.set(); await holding")
    got = json.loads(await reader.run("""
        json.dumps([r["tag"] for r in await db.get_all("SELECT tag FROM items ORDER BY id")])
    """))
    assert got == ["committed", "pending"]
    await reader.run("await db.close()")
    await writer.run("await db.close(delete_database=True)")


@HANDLES
async def test_every_acknowledged_commit_is_read_by_the_other_tab(open_tabs: Any,
                                                                 handles: str) -> None:
    """W commits n; the moment its commit is acknowledged, R's next read must see n, at
    jittered moments, while R's read lock stays kept between reads."""
    reader, writer = await open_tabs(2, query=f"&handles={handles}")
    path = "/wal/seen.db"
    await writer.run(OPEN.format(path=path))
    await reader.run(OPEN.format(path=path))
    rng = random.Random(7)
    for n in range(40):
        await writer.run(f"await db.execute(\"INSERT INTO items(tag, n) VALUES ('w', {n})\")")
        if rng.random() < 0.5:
            await asyncio.sleep(rng.random() * 0.01)
        got = await reader.run("(await db.get(\"SELECT max(n) AS m FROM items\"))[\"m\"]")
        assert got == n
    stats = await reader.run(STATS)
    assert stats["framesRead"] >= 40 and stats["atOnce"] >= 1, stats
    await reader.run("await db.close()")
    await writer.run("await db.close(delete_database=True)")


@HANDLES
async def test_a_torn_tail_is_never_read_and_is_written_over(open_tabs: Any, handles: str) -> None:
    """Bytes after the last commit (what a tab that died mid-append leaves: page frames
    with no commit frame, or garbage) are not read as data by anyone, and the next commit
    writes over them."""
    a, b = await open_tabs(2, query=f"&handles={handles}")
    path = "/wal/torn.db"
    await a.run(code(OPEN.format(path=path), """
        await db.execute_many("INSERT INTO items(tag, n) VALUES ('before', ?)",
                              [[i] for i in range(50)])
    """))
    await b.run(OPEN.format(path=path))
    # Append a torn tail from another worker's handle: a frame head that looks like a
    # page frame of this log (same kind, same salt) with a wrong checksum, then noise.
    await a.run("""
        from pyodide.code import run_js
        await run_js('''(async () => {
            let dir = await navigator.storage.getDirectory();
            dir = await dir.getDirectoryHandle("wal");
            const file = await dir.getFileHandle("torn.db-log");
            const sah = await file.createSyncAccessHandle({mode: "readwrite-unsafe"});
            try {
                const head = new DataView(new ArrayBuffer(32));
                sah.read(new Uint8Array(head.buffer), {at: 0});
                const salt = head.getUint32(8, true);
                const size = sah.getSize();
                const torn = new Uint8Array(24 + 4096 + 24);
                crypto.getRandomValues(torn);
                const frame = new DataView(torn.buffer);
                frame.setUint32(0, 1, true);
                frame.setUint32(4, 1, true);
                frame.setUint32(8, salt, true);
                const commit = 24 + 4096;
                frame.setUint32(commit, 2, true); frame.setUint32(commit + 4, 1, true);
                frame.setUint32(commit + 8, salt, true);
                sah.write(torn, {at: size});
                sah.flush();
            } finally { sah.close(); }
        })()''')
    """)
    for rows in (50, 51):  # (before and after a commit over the torn tail)
        if rows == 51:
            await b.run("await db.execute(\"INSERT INTO items(tag, n) VALUES ('after', 1)\")")
        for tab in (a, b):
            got = json.loads(await tab.run("""
                json.dumps([(await db.get("SELECT count(*) AS c FROM items"))["c"],
                            (await db.get("PRAGMA integrity_check"))["integrity_check"]])
            """))
            assert got == [rows, "ok"]
    await a.run("await db.close()")
    await b.run("await db.close(delete_database=True)")


@HANDLES
async def test_a_checkpoint_while_another_tab_reads(open_tabs: Any, handles: str) -> None:
    """W writes more pages than a checkpoint waits for, while R reads in a loop that never
    sleeps (its read lock kept); a checkpoint runs (R lets its read lock go when asked),
    the log is emptied, and both tabs see every row, with the database intact; a new tab
    opened afterwards reads them from the database file."""
    reader, writer = await open_tabs(2, query=f"&handles={handles}")
    path = "/wal/checkpoint.db"
    await writer.run(OPEN.format(path=path))
    await reader.run(code(OPEN.format(path=path), """
        import time
        seen = []
        async def read_loop():
            while True:
                seen.append((await db.get("SELECT count(*) AS c FROM items"))["c"])
                if seen[-1] >= 1400:
                    return
        reading = asyncio.ensure_future(read_loop())
    """))
    await writer.run("""
        blob = "x" * 3000  # about a page per row
        for start in range(0, 1400, 100):
            async with db.write_transaction() as tx:
                await tx.execute_many("INSERT INTO items(tag, n) VALUES (?, ?)",
                                      [[blob, i] for i in range(start, start + 100)])
        for _ in range(100):  # a checkpoint runs in the background after a commit
            await asyncio.sleep(0.05)
            if json.loads(str(__import__("tabsqlite_glue").lockStats()))["checkpoints"]:
                break
    """, timeout=120)
    out = json.loads(await reader.run("""
        await asyncio.wait_for(reading, 60)
        json.dumps([seen == sorted(seen), seen[-1],
                    (await db.get("PRAGMA integrity_check"))["integrity_check"]])
    """, timeout=90))
    assert out == [True, 1400, "ok"], out
    stats = await writer.run(STATS)
    assert stats["checkpoints"] >= 1 and stats["resets"] >= 1, stats
    assert stats.get("checkpointErrors", 0) == 0, stats
    sizes = json.loads(await writer.run(FILE_SIZES.format(folder="/wal")))
    assert sizes["checkpoint.db"] >= 1000 * 4096, sizes  # the pages are in the file now
    (late,) = await open_tabs(1, query=f"&handles={handles}")
    got = json.loads(await late.run(code(OPEN.format(path=path), """
        json.dumps([(await db.get("SELECT count(*) AS c FROM items"))["c"],
                    (await db.get("PRAGMA integrity_check"))["integrity_check"]])
    """)))
    assert got == [1400, "ok"]
    for tab in (late, reader):
        await tab.run("await db.close()")
    await writer.run("await db.close(delete_database=True)")


@HANDLES
async def test_commits_in_the_log_survive_every_tab_closing(open_tabs: Any, handles: str) -> None:
    """Commits that were never checkpointed are in the log only; after every tab closed
    (the page gone too), a new tab reads them."""
    path = "/wal/reopen.db"
    (first,) = await open_tabs(1, query=f"&handles={handles}")
    await first.run(code(OPEN.format(path=path), """
        for i in range(30):
            await db.execute("INSERT INTO items(tag, n) VALUES ('kept', ?)", [i])
    """))
    await first.page.close()
    (second,) = await open_tabs(1, query=f"&handles={handles}")
    got = json.loads(await second.run(code(OPEN.format(path=path), """
        json.dumps([(await db.get("SELECT count(*) AS c FROM items"))["c"],
                    (await db.get("PRAGMA integrity_check"))["integrity_check"]])
    """)))
    assert got == [30, "ok"]
    await second.run("await db.close(delete_database=True)")


# An open of {path} in this tab: None, or the error it got.
REFUSED = """
import tabsqlite
try:
    other = await tabsqlite.open_database({path!r}, open_timeout=5)
    await other.close()
    err = None
except tabsqlite.DatabaseError as e:
    err = f"{{type(e).__name__}}: {{e}}"
err
"""


@HANDLES
async def test_a_shared_mode_tab_refuses_a_database_with_commits_in_its_log(
        open_tabs: Any, handles: str) -> None:
    """The log's commits are not in the database file yet (the tab that wrote them went
    without closing the database, whose last close would fold them in): a tab in shared
    mode would read (and write) the file under them, so it refuses to open it, and says
    how to."""
    path = "/wal/mixed.db"
    (writer,) = await open_tabs(1, query=f"&handles={handles}")
    await writer.run(code(OPEN.format(path=path), """
        await db.execute("INSERT INTO items(tag, n) VALUES ('logged', 1)")
    """))
    await writer.page.close()
    (shared,) = await open_tabs(1, query="&handles=shared")
    err = await shared.run(REFUSED.format(path=path), timeout=30)
    assert err is not None and "write-ahead log" in err and '"log"' in err, err
    (logged,) = await open_tabs(1, query=f"&handles={handles}")
    got = await logged.run(code(OPEN.format(path=path), """
        (await db.get("SELECT tag FROM items"))["tag"]
    """))
    assert got == "logged"
    await logged.run("await db.close(delete_database=True)")


@HANDLES
async def test_tabs_of_the_log_and_of_the_file_never_share_a_database(
        open_tabs: Any, handles: str) -> None:
    """While a tab has the database open in log mode, a tab whose commits would go into the
    file (shared or lending handles) refuses to open it, and the other way round; each
    opens it once the other closed it."""
    path = "/wal/sides.db"
    (logged,) = await open_tabs(1, query=f"&handles={handles}")
    (shared,) = await open_tabs(1, query="&handles=shared")
    (lending,) = await open_tabs(1, query="&handles=lending")
    await logged.run(code(OPEN.format(path=path), """
        await db.execute("INSERT INTO items(tag, n) VALUES ('logged', 1)")
    """))
    for tab in (shared, lending):
        err = await tab.run(REFUSED.format(path=path), timeout=30)
        assert err is not None and "write-ahead log" in err and "same handles" in err, err
    await logged.run("await db.close()")
    got = await shared.run(code(OPEN.format(path=path), """
        (await db.get("SELECT tag FROM items"))["tag"]
    """))
    assert got == "logged"
    err = await logged.run(REFUSED.format(path=path), timeout=30)
    assert err is not None and "into the database file" in err, err
    await shared.run("await db.close()")
    got = await logged.run(code(OPEN.format(path=path), """
        (await db.get("SELECT tag FROM items"))["tag"]
    """))
    assert got == "logged"
    await logged.run("await db.close(delete_database=True)")


@HANDLES
async def test_the_last_close_folds_the_log_into_the_file(open_tabs: Any, handles: str) -> None:
    """When a tab's last connection to a database closes, its log is folded into the
    database file (a checkpoint), so the file alone holds every commit again."""
    path = "/wal/fold/fold.db"
    (tab,) = await open_tabs(1, query=f"&handles={handles}")
    await tab.run(code(OPEN.format(path=path), """
        await db.execute_many("INSERT INTO items(tag, n) VALUES ('folded', ?)",
                              [[i] for i in range(200)])
        await db.close()
    """))
    sizes: dict[str, int] = {}
    for _ in range(100):
        sizes = json.loads(await tab.run(FILE_SIZES.format(folder="/wal/fold")))
        if sizes.get("fold.db-log") == 32:
            break
        await asyncio.sleep(0.05)
    assert sizes.get("fold.db-log") == 32 and sizes["fold.db"] >= 2 * 4096, sizes
    (shared,) = await open_tabs(1, query="&handles=shared")  # (reads the file alone)
    got = await shared.run(code(OPEN.format(path=path), """
        (await db.get("SELECT count(*) AS c FROM items WHERE tag = 'folded'"))["c"]
    """))
    assert got == 200
    await shared.run("await db.close(delete_database=True)")


# (the page size last: a connection reads it anew when a statement reads the database)
PAGE_STATE = """
tags = [r["tag"] for r in await db.get_all("SELECT tag FROM items ORDER BY id")]
check = (await db.get("PRAGMA integrity_check"))["integrity_check"]
json.dumps([(await db.get("PRAGMA page_size"))["page_size"], tags, check])
"""


@HANDLES
async def test_a_page_size_change_reaches_every_tab(open_tabs: Any, handles: str) -> None:
    """The log takes a new page size: VACUUM after PRAGMA page_size, and an image of other
    pages copied in, each commit the whole database in the new size, voiding what was
    logged before. Another tab that read the old pages reads the new ones; commits after
    it go on in the new size; the last close folds it all into the file, which a
    shared-mode tab then reads."""
    source = sqlite3.connect(":memory:")
    source.execute("PRAGMA page_size=512")
    source.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, tag TEXT, n INTEGER)")
    source.executemany("INSERT INTO items(tag, n) VALUES (?, 0)",
                       [(f"image{i}",) for i in range(40)])
    source.commit()
    image = base64.b64encode(source.serialize()).decode()
    source.close()
    path = "/wal/pagesize/pages.db"
    writer, reader = await open_tabs(2, query=f"&handles={handles}")
    await writer.run(code(OPEN.format(path=path), """
        for i in range(5):
            await db.execute("INSERT INTO items(tag, n) VALUES (?, 0)", [f"a{i}"])
    """))
    before = json.loads(await reader.run(code(OPEN.format(path=path), PAGE_STATE)))
    assert before == [4096, [f"a{i}" for i in range(5)], "ok"], before

    await writer.run(code("""
        await db.execute("PRAGMA page_size=8192")
        await db.execute("VACUUM")
        await db.execute("INSERT INTO items(tag, n) VALUES ('b', 0)")
    """))
    want = [f"a{i}" for i in range(5)] + ["b"]
    assert json.loads(await reader.run(PAGE_STATE)) == [8192, want, "ok"]
    assert json.loads(await writer.run(PAGE_STATE)) == [8192, want, "ok"]

    await reader.run(code(f"""
        import base64
        await tabsqlite.import_database(db.path, base64.b64decode({image!r}))
        await db.execute("INSERT INTO items(tag, n) VALUES ('c', 0)")
    """))
    want = [f"image{i}" for i in range(40)] + ["c"]
    for tab in (writer, reader):
        assert json.loads(await tab.run(PAGE_STATE)) == [512, want, "ok"]
    for tab in (writer, reader):
        await tab.run("await db.close()")
    sizes: dict[str, int] = {}
    for _ in range(100):  # (the last close folds the log into the file)
        sizes = json.loads(await reader.run(FILE_SIZES.format(folder="/wal/pagesize")))
        if sizes.get("pages.db-log") == 32:
            break
        await asyncio.sleep(0.05)
    assert sizes.get("pages.db-log") == 32 and sizes["pages.db"] % 512 == 0, sizes
    (shared,) = await open_tabs(1, query="&handles=shared")  # (reads the file alone)
    assert json.loads(await shared.run(code(OPEN.format(path=path), PAGE_STATE))) == [
        512, want, "ok"]
    await shared.run("await db.close(delete_database=True)")
