"""``export`` and ``import_database``: whole-file copies while others have the file open."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import zlib
from typing import Any

import tabsqlite


async def _filled(ctx: Any, name: str = "source.db", rows: int = 500) -> Any:
    db = await ctx.open(name)
    await db.execute_script("""
        CREATE TABLE item(id INTEGER PRIMARY KEY, label TEXT, data BLOB);
        CREATE INDEX item_label ON item(label);
        PRAGMA user_version = 7;
    """)
    await db.execute("PRAGMA user_version = 7")
    await db.execute_many("INSERT INTO item(label, data) VALUES (?, ?)",
                          [(f"item {i}", bytes([i % 256]) * 300) for i in range(rows)])
    return db


async def case_an_export_imports_as_the_same_database(ctx: Any) -> None:
    source = await _filled(ctx)
    data = await source.export()
    assert data[:16] == b"SQLite format 3\x00" and data[18:20] == b"\x01\x01"
    target = ctx.path("copy.db")
    await tabsqlite.import_database(target, data)
    copy = await ctx.open(target)
    assert (await copy.get("PRAGMA user_version"))["user_version"] == 7
    assert (await copy.get("PRAGMA integrity_check"))["integrity_check"] == "ok"
    query = "SELECT id, label, data FROM item ORDER BY id"
    assert await copy.get_all(query) == await source.get_all(query)
    names = "SELECT type, name FROM sqlite_schema ORDER BY name"
    assert await copy.get_all(names) == await source.get_all(names)


async def case_an_export_is_a_consistent_snapshot_while_others_write(ctx: Any) -> None:
    source = await _filled(ctx, rows=10)
    writer = await ctx.open("source.db")
    stop = False

    async def write() -> int:
        n = 0
        while not stop:
            async with writer.write_transaction() as tx:  # two rows per commit, always
                await tx.execute("INSERT INTO item(label) VALUES ('a')")
                await tx.execute("INSERT INTO item(label) VALUES ('b')")
            n += 1
            # (a pause: a loop that never waits starves the tab's own OPFS calls, such as
            # the opens and deletes of this case, for seconds)
            await asyncio.sleep(0.02)
        return n

    task = asyncio.ensure_future(write())
    try:
        for trial in range(8):
            data = await source.export()
            path = ctx.path(f"snap{trial}.db")
            await tabsqlite.import_database(path, data)
            snap = await ctx.open(path)
            count = (await snap.get("SELECT count(*) AS n FROM item"))["n"]
            assert (count - 10) % 2 == 0, count  # never half a commit
            assert (await snap.get("PRAGMA integrity_check"))["integrity_check"] == "ok"
            await snap.close(delete_database=True)
    finally:
        stop = True
        assert await task > 0


async def case_an_import_replaces_the_file_under_open_connections(ctx: Any) -> None:
    new = await _filled(ctx, "new.db", rows=50)
    data = await new.export()
    old = await ctx.open("app.db")
    await old.execute("CREATE TABLE legacy(x)")
    await old.execute("INSERT INTO legacy VALUES (1)")
    watching = await ctx.open("app.db")
    seen: list[Any] = []
    first = asyncio.Event()
    gone = asyncio.Event()

    async def follow() -> None:
        async for rows in watching.watch("SELECT count(*) AS n FROM sqlite_schema",
                                         tables=["legacy"]):
            seen.append(rows)
            first.set()
            if len(seen) == 2:
                gone.set()
                return

    item_changes = watching.on_change(tables=["item"])
    item_event = asyncio.ensure_future(anext(item_changes))
    task = asyncio.ensure_future(follow())
    await asyncio.wait_for(first.wait(), 10)
    await tabsqlite.import_database(old.path, data)
    await asyncio.wait_for(gone.wait(), 10)  # its watch woke for the table that went
    assert seen[1] != seen[0]
    await task
    assert await asyncio.wait_for(item_event, 10)
    # Both open connections read the new content at once.
    for db in (old, watching):
        assert (await db.get("SELECT count(*) AS n FROM item"))["n"] == 50
        assert await db.get_optional(
            "SELECT name FROM sqlite_schema WHERE name = 'legacy'") is None
    await old.execute("INSERT INTO item(label) VALUES ('after')")
    assert (await watching.get("SELECT count(*) AS n FROM item"))["n"] == 51


async def case_bytes_that_are_not_a_database_leave_the_file_intact(ctx: Any) -> None:
    good = await (await _filled(ctx, "good.db", rows=40)).export()
    app = await ctx.open("app.db")
    await app.execute("CREATE TABLE keep(x)")
    await app.execute("INSERT INTO keep VALUES ('still here')")
    page = int.from_bytes(good[16:18], "big")
    damaged = bytearray(good)
    damaged[page * 2: page * 3] = b"\xa5" * page  # a page of the table, overwritten
    bad_header = b"SQLite format 4\x00" + good[16:]
    for data in (b"", b"hello world" * 100, bad_header, good[: len(good) - 100],
                 bytes(damaged)):
        try:
            await tabsqlite.import_database(app.path, data)
        except tabsqlite.NotADatabaseError as error:
            assert error.code_name == "SQLITE_NOTADB", error.code_name
            assert "not an SQLite database" in str(error)
        else:
            raise AssertionError(f"{len(data)} bad bytes were imported")
        assert await app.get_all("SELECT x FROM keep") == [{"x": "still here"}]
    try:
        await tabsqlite.import_database(app.path, "SQLite format 3")  # type: ignore[arg-type]
    except tabsqlite.BadCallError:
        pass
    else:
        raise AssertionError("a str was imported")
    new_path = ctx.path("never.db")
    with contextlib.suppress(tabsqlite.NotADatabaseError):
        await tabsqlite.import_database(new_path, b"junk" * 200)
    check = await ctx.open(new_path)
    assert await check.get_optional("SELECT name FROM sqlite_schema") is None


# A database of 512-byte pages (table u, rows 'x' and 'y'), made by stdlib sqlite3.
SMALL_PAGES = ("eNoLDvTJLElVSMsvyk0sUTBmYGJgZGRwUFBggAAmBgRgBGIWND5RgBekmPE+AxCNAvoCeUY2cX5+"
               "Rv2SxKSc1NJSJucgV8cQV4UQRycfV4VSjUpNUNwwMX5jYPwNJEbBCAHMTEz8lcyMTPwVAMB3E7g=")


async def case_an_image_of_another_page_size_is_taken(ctx: Any) -> None:
    data = zlib.decompress(base64.b64decode(SMALL_PAGES))
    assert int.from_bytes(data[16:18], "big") == 512
    app = await ctx.open("app.db")
    await app.execute("CREATE TABLE t(x)")
    other = await ctx.open("app.db")
    await tabsqlite.import_database(app.path, data)
    for db in (app, other):
        assert [r["y"] for r in await db.get_all("SELECT y FROM u ORDER BY y")] == ["x", "y"]
        assert (await db.get("PRAGMA integrity_check"))["integrity_check"] == "ok"
    await other.execute("INSERT INTO u VALUES ('z')")
    assert (await app.get("SELECT count(*) AS n FROM u"))["n"] == 3
