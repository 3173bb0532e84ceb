from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest

import bulk_load
import tabsqlite
from tabsqlite.runtime import Runtime

ALL = {"INSERT": None, "UPDATE": None, "DELETE": None}


@pytest.fixture
def runtime(both_runtimes: Runtime | None) -> Runtime | None:
    return both_runtimes

@pytest.fixture
async def db(db_path: str, open_db: Any) -> tabsqlite.Database:
    d = await open_db(db_path)
    await d.execute(
        "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT, done INTEGER DEFAULT 0, note BLOB)"
    )
    return d


async def diff(db: tabsqlite.Database, table: str = "d") -> list[dict[str, Any]]:
    rows = await db.get_all(
        "SELECT operation_id, id, operation, timestamp, value, previous_value "
        f'FROM "{table}" ORDER BY operation_id')
    for r in rows:
        for col in ("value", "previous_value"):
            if r[col] is not None:
                r[col] = json.loads(r[col])
    return rows


async def test_insert_update_delete_tracked_in_order(db: tabsqlite.Database) -> None:
    await db.triggers.create_diff_trigger(source="todos", destination="d", when=ALL,
                                          columns=["title", "done"])
    await db.execute("INSERT INTO todos(id, title) VALUES ('a', 'first')")
    await db.execute("UPDATE todos SET done = 1 WHERE id = 'a'")
    await db.execute("DELETE FROM todos WHERE id = 'a'")
    rows = await diff(db)
    assert [r["operation"] for r in rows] == ["INSERT", "UPDATE", "DELETE"]
    assert [r["operation_id"] for r in rows] == sorted(r["operation_id"] for r in rows)
    assert all(r["id"] == "a" for r in rows)
    assert rows[0]["value"] == {"title": "first", "done": 0}
    assert rows[0]["previous_value"] is None
    assert rows[1]["value"] == {"title": "first", "done": 1}
    assert rows[1]["previous_value"] == {"title": "first", "done": 0}
    assert rows[2]["value"] == {"title": "first", "done": 1}
    assert rows[2]["previous_value"] is None
    ts = rows[0]["timestamp"]
    assert len(ts) == 24 and ts.endswith("Z") and ts[10] == "T" and ts[19] == "."


async def test_all_columns_by_default_and_blobs_as_hex(db: tabsqlite.Database) -> None:
    await db.triggers.create_diff_trigger(source="todos", destination="d", when={"INSERT": None})
    await db.execute("INSERT INTO todos VALUES ('b', 't', 0, x'00ff')")
    (row,) = await diff(db)
    assert row["value"] == {"id": "b", "title": "t", "done": 0, "note": "00FF"}
    assert row["previous_value"] is None  # (no UPDATE tracked: the storage keeps no OLD copy)


async def test_delete_through_the_view_and_on_change_by_its_name(
    db: tabsqlite.Database,
) -> None:
    await db.triggers.create_diff_trigger(source="todos", destination="d", when=ALL)
    changes = aiter(db.on_change(tables=["d"]))
    await db.execute("INSERT INTO todos(id, title) VALUES ('a', 'x'), ('b', 'y')")
    event = await asyncio.wait_for(anext(changes), 2)
    assert "d" in event.tables
    first = (await diff(db))[0]["operation_id"]
    await db.execute("DELETE FROM d WHERE operation_id = ?", [first])
    assert [r["id"] for r in await diff(db)] == ["b"]


async def test_zero_columns(db: tabsqlite.Database) -> None:
    await db.triggers.create_diff_trigger(source="todos", destination="d", when=ALL, columns=[])
    await db.execute("INSERT INTO todos(id, title) VALUES ('a', 'x')")
    await db.execute("UPDATE todos SET title = 'y'")
    rows = await diff(db)
    assert [r["value"] for r in rows] == [{}, {}]
    assert rows[1]["previous_value"] == {}


async def test_when_filter(db: tabsqlite.Database) -> None:
    await db.triggers.create_diff_trigger(
        source="todos", destination="d",
        when={"INSERT": "NEW.title LIKE 'keep%'", "UPDATE": "NEW.done != OLD.done"},
    )
    await db.execute("INSERT INTO todos(id, title) VALUES ('1', 'keep me'), ('2', 'drop me')")
    await db.execute("UPDATE todos SET title = 'renamed' WHERE id = '1'")
    await db.execute("UPDATE todos SET done = 1 WHERE id = '2'")
    await db.execute("DELETE FROM todos")
    rows = await diff(db)
    assert [(r["operation"], r["id"]) for r in rows] == [("INSERT", "1"), ("UPDATE", "2")]


async def test_many_columns(db_path: str, open_db: Any) -> None:
    db = await open_db(db_path)
    cols = [f"c{i}" for i in range(150)]
    await db.execute(f"CREATE TABLE wide(id INTEGER PRIMARY KEY, {', '.join(cols)})")
    await db.triggers.create_diff_trigger(source="wide", destination="d", when={"INSERT": None})
    await db.execute(f"INSERT INTO wide(id, {', '.join(cols)}) VALUES (1, "
                     f"{', '.join(str(i) for i in range(150))})")
    (row,) = await diff(db)
    assert row["value"] == {"id": 1, **{c: i for i, c in enumerate(cols)}}


async def test_too_many_columns_is_a_typed_error(db_path: str, open_db: Any) -> None:
    db = await open_db(db_path)
    cols = [f"c{i}" for i in range(1200)]
    await db.execute(f"CREATE TABLE wide(id INTEGER PRIMARY KEY, {', '.join(cols)})")
    with pytest.raises(tabsqlite.BadCallError, match="pass columns"):
        await db.triggers.create_diff_trigger(source="wide", destination="d", when=ALL)
    assert await db.get_optional("SELECT name FROM sqlite_schema WHERE name = 'd'") is None
    await db.triggers.create_diff_trigger(source="wide", destination="d", when=ALL,
                                          columns=cols[:500])
    await db.execute("INSERT INTO wide(id, c499) VALUES (1, 'x')")
    await db.execute("UPDATE wide SET c499 = 'y'")
    rows = await diff(db)
    assert [r["value"]["c499"] for r in rows] == ["x", "y"]
    assert rows[1]["previous_value"]["c499"] == "x"


async def test_before_create_snapshot_and_concurrent_inserts_add_up(
    db_path: str, open_db: Any
) -> None:
    db = await open_db(db_path)
    writer = await open_db(db_path)
    await db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, n INTEGER)")
    await db.execute_many("INSERT INTO items(n) VALUES (?)", [[i] for i in range(50)])

    async def inserts() -> None:
        for i in range(100):
            await writer.execute("INSERT INTO items(n) VALUES (?)", [1000 + i])
            if i % 10 == 0:
                await asyncio.sleep(0)

    snapshot: list[int] = []

    async def before_create(tx: tabsqlite.Transaction) -> None:
        rows = await tx.get_all("SELECT id FROM items")
        snapshot.extend(r["id"] for r in rows)
        await asyncio.sleep(0.05)  # let the writer queue up behind our transaction

    task = asyncio.ensure_future(inserts())
    await asyncio.sleep(0.01)
    await db.triggers.create_diff_trigger(source="items", destination="d",
                                          when={"INSERT": None}, before_create=before_create)
    await task
    recorded = [r["id"] for r in await diff(db)]
    total = await db.get("SELECT count(*) AS n FROM items")
    assert len(snapshot) + len(recorded) == total["n"] == 150
    assert set(snapshot).isdisjoint(recorded)


async def test_dispose_removes_everything(db: tabsqlite.Database) -> None:
    before = await db.get_all("SELECT type, name FROM sqlite_schema ORDER BY name")
    trig = await db.triggers.create_diff_trigger(source="todos", destination="d", when=ALL)
    # One per operation, and the view's INSTEAD OF DELETE.
    assert len(await db.get_all("SELECT name FROM sqlite_schema WHERE type='trigger'")) == 4
    kinds = await db.get_all("SELECT type, name FROM sqlite_schema WHERE name IN (?, ?)",
                             ["d", "_tabsqlite_log_d"])
    assert sorted((r["type"], r["name"]) for r in kinds) == [
        ("table", "_tabsqlite_log_d"), ("view", "d")]
    await trig.dispose()
    after = await db.get_all(
        "SELECT type, name FROM sqlite_schema WHERE name != '_tabsqlite_diff_triggers' "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name")
    assert after == [r for r in before if not r["name"].startswith("sqlite_")]
    assert await db.get("SELECT count(*) AS n FROM _tabsqlite_diff_triggers") == {"n": 0}
    await db.execute("INSERT INTO todos(id) VALUES ('z')")  # source still writable
    await trig.dispose()  # twice is fine


async def test_persisted_trigger_sees_other_connection_temp_does_not(
    db_path: str, open_db: Any
) -> None:
    a = await open_db(db_path)
    b = await open_db(db_path)
    await a.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT)")
    persisted = await a.triggers.create_diff_trigger(source="items", destination="p",
                                                     when=ALL)
    temp = await a.triggers.create_diff_trigger(source="items", destination="t", when=ALL,
                                                persisted=False)
    assert persisted.persisted and not temp.persisted
    await b.execute("INSERT INTO items(v) VALUES ('from b')")
    await b.execute("UPDATE items SET v = 'changed by b'")
    await b.execute("DELETE FROM items")
    rows = await diff(a, "p")
    assert [r["operation"] for r in rows] == ["INSERT", "UPDATE", "DELETE"]
    assert rows[1]["previous_value"] == {"id": 1, "v": "from b"}
    assert await diff(a, "t") == []
    await a.execute("INSERT INTO items(v) VALUES ('from a')")
    assert len(await diff(a, "t")) == 1


async def test_orphan_cleanup_keeps_live_holds(db_path: str, open_db: Any) -> None:
    a = await open_db(db_path)
    await a.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT)")
    await a.triggers.create_diff_trigger(source="items", destination="kept", when=ALL)
    b = await open_db(db_path)
    gone = await b.triggers.create_diff_trigger(source="items", destination="gone", when=ALL)
    await gone.release_hold()  # as if b's process died: the trigger is an orphan now
    c = await open_db(db_path)  # opening cleans up
    names = {r["name"] for r in await c.get_all("SELECT name FROM sqlite_schema")}
    assert "kept" in names and "gone" not in names
    assert len([n for n in names if n.startswith("_tabsqlite_") and "_insert" in n]) == 1
    assert await c.triggers.cleanup_orphans() == []


async def test_track_table_diff_delivers_each_row_once(db_path: str, open_db: Any) -> None:
    a = await open_db(db_path)
    b = await open_db(db_path)
    await a.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT)")
    seen: list[tuple[str, Any]] = []
    via_cte: list[int] = []
    got_all = asyncio.Event()

    async def on_change(ctx: tabsqlite.DiffContext) -> None:
        for row in ctx.diff_rows():
            seen.append((row["operation"], row["id"]))
        counted = await ctx.with_diff("SELECT count(*) AS n FROM DIFF")
        via_cte.append(counted[0]["n"])
        await ctx.tx.execute("CREATE TABLE IF NOT EXISTS audit(n)")
        await ctx.tx.execute("INSERT INTO audit VALUES (?)", [counted[0]["n"]])
        if len(seen) >= 60:
            got_all.set()

    tracker = await a.triggers.track_table_diff(source="items", when=ALL, on_change=on_change)
    for i in range(20):
        await b.execute("INSERT INTO items(id, v) VALUES (?, 'x')", [i])
    await b.execute_many("UPDATE items SET v = 'y' WHERE id = ?", [[i] for i in range(20)])
    async with b.write_transaction() as tx:
        for i in range(20):
            await tx.execute("DELETE FROM items WHERE id = ?", [i])
    await asyncio.wait_for(got_all.wait(), 5)
    await asyncio.sleep(0.2)
    assert len(seen) == 60 and len(set(seen)) == 60
    assert sum(via_cte) == 60
    assert tracker.rows_delivered == 60
    dest = tracker.trigger.destination
    assert await a.get(f'SELECT count(*) AS n FROM "{dest}"') == {"n": 0}
    assert (await a.get("SELECT sum(n) AS s FROM audit"))["s"] == 60
    await tracker.close()
    assert await a.get_optional("SELECT name FROM sqlite_schema WHERE name = ?", [dest]) is None


async def test_track_table_diff_failed_callback_retries(db_path: str, open_db: Any) -> None:
    a = await open_db(db_path)
    await a.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT)")
    attempts: list[list[int]] = []
    delivered: list[int] = []

    async def on_change(ctx: tabsqlite.DiffContext) -> None:
        ids = [r["id"] for r in ctx.diff_rows()]
        attempts.append(ids)
        if len(attempts) == 1:
            raise ValueError("first time fails")
        delivered.extend(ids)

    tracker = await a.triggers.track_table_diff(source="items", when={"INSERT": None},
                                                on_change=on_change, throttle_ms=0)
    await a.execute("INSERT INTO items(id, v) VALUES (1, 'x')")
    for _ in range(100):
        await asyncio.sleep(0.02)
        if attempts:
            break
    await a.execute("INSERT INTO items(id, v) VALUES (2, 'y')")
    for _ in range(100):
        await asyncio.sleep(0.02)
        if sorted(delivered) == [1, 2]:
            break
    assert attempts[0] == [1]
    assert sorted(delivered) == [1, 2]  # the failed row was offered again, once delivered
    assert tracker.errors == 1
    await tracker.close()


@pytest.mark.parametrize("bad", ["sqlite_master", "SQLITE_x", "", " ",
                                 "a\x00b", "x" * 200, 12, None])
async def test_bad_identifiers_are_rejected(db: tabsqlite.Database, bad: Any) -> None:
    with pytest.raises(tabsqlite.InvalidIdentifierError):
        await db.triggers.create_diff_trigger(source="todos", destination=bad, when=ALL)
    with pytest.raises(tabsqlite.InvalidIdentifierError):
        await db.triggers.create_diff_trigger(source=bad, destination="d", when=ALL)
    await db.execute("INSERT INTO todos(id) VALUES ('still usable')")


@pytest.mark.parametrize(
    "name", ['we"ird', 'x"; DROP TABLE todos; --', "with space", "select", "Ünïcödé", "a.b", "[x]"]
)
async def test_odd_but_valid_identifiers_are_quoted(db: tabsqlite.Database, name: str) -> None:
    await db.execute(f'CREATE TABLE "{name.replace(chr(34), chr(34) * 2)}" '
                     f'(id INTEGER PRIMARY KEY, "{name.replace(chr(34), chr(34) * 2)}" TEXT)')
    trig = await db.triggers.create_diff_trigger(source=name, destination=name + "_d",
                                                 when=ALL, columns=[name])
    q = name.replace('"', '""')
    await db.execute(f'INSERT INTO "{q}"("{q}") VALUES (?)', ["v"])
    (row,) = await diff(db, name.replace('"', '""') + "_d")
    assert row["value"] == {name: "v"}
    await trig.dispose()
    assert await db.get("SELECT count(*) AS n FROM todos") == {"n": 0}  # not dropped


@pytest.mark.parametrize("when", [
    {}, {"MERGE": None}, {"INSERT": "1); DROP TABLE todos; --"}, {"INSERT": "1;"},
    {"INSERT": "(1"}, {"INSERT": "'unterminated"}, {"INSERT": "/* open"}, {"INSERT": ""},
    "INSERT",
])
async def test_bad_when_is_rejected(db: tabsqlite.Database, when: Any) -> None:
    with pytest.raises(tabsqlite.BadCallError):
        await db.triggers.create_diff_trigger(source="todos", destination="d", when=when)
    assert await db.get_optional("SELECT name FROM sqlite_schema WHERE name = 'd'") is None


async def test_when_with_sql_error_leaves_nothing_behind(db: tabsqlite.Database) -> None:
    with pytest.raises(tabsqlite.SQLiteError):
        await db.triggers.create_diff_trigger(source="todos", destination="d",
                                              when={"INSERT": "NEW.nope = 1 -- comment"})
    assert await db.get_optional("SELECT name FROM sqlite_schema WHERE name = 'd'") is None
    assert not await db.triggers._services.holds.is_held("anything")


async def test_missing_source_and_column(db: tabsqlite.Database) -> None:
    with pytest.raises(tabsqlite.NoSuchTableError):
        await db.triggers.create_diff_trigger(source="nope", destination="d", when=ALL)
    with pytest.raises(tabsqlite.BadCallError, match="no column"):
        await db.triggers.create_diff_trigger(source="todos", destination="d", when=ALL,
                                              columns=["missing"])
    with pytest.raises(tabsqlite.BadCallError, match="no column"):
        await db.triggers.create_diff_trigger(source="todos", destination="d", when=ALL,
                                              id_column="missing")
    trig = await db.triggers.create_diff_trigger(source="todos", destination="d", when=ALL)
    with pytest.raises(tabsqlite.SQLiteError):  # destination exists
        await db.triggers.create_diff_trigger(source="todos", destination="d", when=ALL)
    await trig.dispose()


async def test_close_drops_own_triggers(db_path: str, open_db: Any) -> None:
    a = await open_db(db_path)
    await a.execute("CREATE TABLE items(id INTEGER PRIMARY KEY)")
    await a.triggers.create_diff_trigger(source="items", destination="d", when=ALL)
    await a.close()
    b = await open_db(db_path)
    assert await b.get_all("SELECT name FROM sqlite_schema WHERE type = 'trigger'") == []


async def test_bulk_load_in_one_statement(db_path: str, open_db: Any) -> None:
    db = await open_db(db_path)
    bulk_load.check(await bulk_load.load(db))


async def test_compile_check_survives_trigger_churn(db_path: str, open_db: Any) -> None:
    """Creating and dropping diff triggers on one table again and again: the compile check
    (EXPLAIN of a write) once reused a cached statement SQLite 3.40 re-prepared after the
    triggers changed, and the process crashed (segfault) reading its program."""
    db = await open_db(db_path)
    await db.execute("CREATE TABLE todos(id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
                     "done INTEGER DEFAULT 0)")
    for i in range(60):
        trigger = await db.triggers.create_diff_trigger(
            source="todos", destination=f"d{i % 3}",
            when={"INSERT": None, "UPDATE": "NEW.done IS NOT OLD.done", "DELETE": None})
        await db.execute("INSERT INTO todos(title) VALUES (?)", [f"t{i}"])
        await trigger.dispose()
    assert (await db.get("SELECT count(*) AS n FROM todos"))["n"] == 60


async def test_file_hold_taken_on_an_unlinked_file_is_taken_again(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """``forget`` unlinks a hold's file; a process that opened it just before and flocks it
    just after would hold a lock nobody else sees. acquire() notices (the file at the path
    is another one) and locks the file at the path instead."""
    import fcntl

    from tabsqlite.runtimes import file_holds

    manager = file_holds.FileHoldManager(str(tmp_path / "x.db"))
    path = manager._path("h")
    real_flock = fcntl.flock
    raced = []

    def flock_after_a_forget(fd: int, op: int) -> None:
        if not raced:  # between our open and our flock, the holder forgot the file
            raced.append(True)
            os.unlink(path)
        real_flock(fd, op)

    monkeypatch.setattr(file_holds.fcntl, "flock", flock_after_a_forget)
    hold = await manager.acquire("h")
    monkeypatch.setattr(file_holds.fcntl, "flock", real_flock)
    assert raced
    other = file_holds.FileHoldManager(str(tmp_path / "x.db"))
    with pytest.raises(tabsqlite.HoldTakenError):
        await other.acquire("h")  # the file at the path is the locked one
    assert await other.is_held("h")
    await hold.release()
    again = await other.acquire("h")
    await again.release()
