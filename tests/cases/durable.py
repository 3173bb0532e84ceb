"""Durable diff consumers: ``track_table_diff(..., name=..., durable=True)`` keeps its trigger
and pending diff when every connection has closed, and one connection at a time consumes it."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import tabsqlite

SCHEMA = ("CREATE TABLE IF NOT EXISTS todos(id INTEGER PRIMARY KEY, title TEXT);"
          "CREATE TABLE IF NOT EXISTS sent(todo INTEGER, consumer TEXT)")


def _sender(who: str) -> Any:
    """An ``on_change`` that 'uploads' each diff row by writing it to ``sent`` in the same
    transaction that clears it: each row lands there exactly once, whoever consumed it."""

    async def on_change(ctx: Any) -> None:
        for row in ctx.diff_rows():
            await ctx.tx.execute("INSERT INTO sent(todo, consumer) VALUES (?, ?)",
                                 [row["id"], who])

    return on_change


async def _consume(db: Any, who: str, **options: Any) -> Any:
    return await db.triggers.track_table_diff(
        source="todos", when={"INSERT": None}, on_change=_sender(who),
        name="outbox", durable=True, **options)


async def _sent(db: Any) -> list[tuple[int, str]]:
    rows = await db.get_all("SELECT todo, consumer FROM sent ORDER BY todo")
    return [(int(r["todo"]), str(r["consumer"])) for r in rows]


async def case_pending_diff_survives_every_connection_closing(ctx: Any) -> None:
    path = ctx.path("outbox.db")
    a = await ctx.open(path)
    await a.execute_script(SCHEMA)
    consumer = await _consume(a, "a")
    assert consumer.active and consumer.name == "outbox"
    await a.execute("INSERT INTO todos(title) VALUES ('one')")
    await consumer.drain()
    await consumer.close()
    await a.execute("INSERT INTO todos(title) VALUES ('two')")  # nobody consumes now
    await a.close()
    b = await ctx.open(path)  # the only connection: its open-time orphan cleanup ran
    await b.execute("INSERT INTO todos(title) VALUES ('three')")
    assert (await b.get("SELECT count(*) AS n FROM _tabsqlite_consumer_outbox"))["n"] == 2
    consumer = await b.triggers.track_table_diff(  # the same table, spelled otherwise
        source="TODOS", when={"insert": None}, on_change=_sender("b"), name="outbox",
        durable=True)
    await consumer.drain()
    assert await _sent(b) == [(1, "a"), (2, "b"), (3, "b")]
    await b.triggers.cleanup_orphans()
    await b.execute("INSERT INTO todos(title) VALUES ('four')")
    await consumer.drain()
    assert await _sent(b) == [(1, "a"), (2, "b"), (3, "b"), (4, "b")]
    await consumer.close()


async def case_one_consumer_at_a_time_and_the_next_takes_over(ctx: Any) -> None:
    path = ctx.path("takeover.db")
    a = await ctx.open(path)
    b = await ctx.open(path)
    await a.execute_script(SCHEMA)
    first = await _consume(a, "a")
    second = await _consume(b, "b")
    assert first.active and not second.active
    try:
        await second.drain()
    except tabsqlite.BadCallError as error:
        assert "outbox" in str(error), error
    else:
        raise AssertionError("a waiting consumer drained")
    for i in range(5):
        await b.execute("INSERT INTO todos(title) VALUES (?)", [f"t{i}"])
    await first.drain()
    await asyncio.sleep(0.3)
    assert not second.active and second.rows_delivered == 0
    await a.close()  # the hold goes with the connection: b takes over, nothing waits
    await asyncio.wait_for(second.wait_active(), 5)
    for i in range(5, 8):
        await b.execute("INSERT INTO todos(title) VALUES (?)", [f"t{i}"])
    await second.drain()
    sent = await _sent(b)
    assert [todo for todo, _ in sent] == list(range(1, 9)), sent
    assert {who for _, who in sent[:5]} == {"a"} and {who for _, who in sent[5:]} == {"b"}
    await second.close()


async def case_consumers_racing_for_one_name_deliver_each_row_once(ctx: Any) -> None:
    path = ctx.path("race.db")
    writer = await ctx.open(path)
    await writer.execute_script(SCHEMA)
    dbs = [await ctx.open(path) for _ in range(4)]
    pairs = list(zip(dbs, await asyncio.gather(
        *(_consume(db, f"c{i}") for i, db in enumerate(dbs))), strict=True))
    assert sum(c.active for _, c in pairs) == 1
    rng = random.Random(5)
    written = 0

    async def write(n: int) -> None:
        nonlocal written
        for _ in range(n):
            await writer.execute("INSERT INTO todos(title) VALUES ('x')")
            written += 1
            await asyncio.sleep(rng.uniform(0, 0.005))

    for _ in range(3):  # the consumer's connection closes while the writer writes
        db, active = next((db, c) for db, c in pairs if c.active)
        writing = asyncio.ensure_future(write(rng.randint(5, 15)))
        await asyncio.sleep(rng.uniform(0, 0.03))
        await db.close()
        assert active.closed and not active.active
        await writing
        pairs = [(d, c) for d, c in pairs if c is not active]
        await asyncio.wait_for(_any_active([c for _, c in pairs]), 5)
        assert sum(c.active for _, c in pairs) == 1
    final = next(c for _, c in pairs if c.active)
    await final.drain()
    sent = await _sent(writer)
    assert [todo for todo, _ in sent] == list(range(1, written + 1)), sent


async def _any_active(consumers: list[Any]) -> None:
    waits = [asyncio.ensure_future(c.wait_active()) for c in consumers]
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        task.result()


async def case_a_changed_definition_is_refused_while_rows_are_pending(ctx: Any) -> None:
    db = await ctx.open()
    await db.execute_script(SCHEMA)
    consumer = await _consume(db, "a")
    await consumer.close()
    await db.execute("INSERT INTO todos(title) VALUES ('pending')")
    try:  # (refused at the take-over: at once, or in wait_active had the hold been busy)
        other = await db.triggers.track_table_diff(
            source="todos", when={"INSERT": None, "DELETE": None}, on_change=_sender("b"),
            name="outbox", durable=True)
        await asyncio.wait_for(other.wait_active(), 5)
    except tabsqlite.BadCallError as error:
        assert "outbox" in str(error) and "1 pending" in str(error), error
    else:
        raise AssertionError("a different definition replaced pending rows")
    consumer = await _consume(db, "a")  # the same definition still works, nothing held
    await consumer.drain()
    await consumer.close()
    # Nothing pending: the new definition replaces the old one.
    consumer = await db.triggers.track_table_diff(
        source="todos", when={"INSERT": None, "DELETE": None}, on_change=_sender("b"),
        name="outbox", durable=True)
    await db.execute("DELETE FROM todos")
    await consumer.drain()
    assert await _sent(db) == [(1, "a"), (1, "b")]
    await consumer.drop()
    left = await db.get_all("SELECT name FROM sqlite_schema WHERE name LIKE '_tabsqlite_%' "
                            "AND name NOT LIKE '_tabsqlite_durable_consumers'")
    assert left == [], left
    await db.execute("INSERT INTO todos(title) VALUES ('after drop')")
    # drop_durable on a name nobody consumes
    consumer = await _consume(db, "c")
    await consumer.close()
    await db.triggers.drop_durable("outbox")
    assert await db.triggers.drop_durable("outbox") is False


async def case_bad_durable_calls_are_refused(ctx: Any) -> None:
    db = await ctx.open()
    await db.execute_script(SCHEMA)
    attempts: list[dict[str, Any]] = [
        {"name": "outbox"},  # a name without durable
        {"durable": True},  # durable without a name
        {"name": "", "durable": True},
        {"name": "a\x00b", "durable": True},
        {"name": 3, "durable": True},
    ]
    for extra in attempts:
        try:
            await db.triggers.track_table_diff(
                source="todos", when={"INSERT": None}, on_change=_sender("x"), **extra)
        except tabsqlite.BadCallError:
            pass
        else:
            raise AssertionError(f"accepted {extra!r}")
    try:
        await db.triggers.track_table_diff(
            source="nowhere", when={"INSERT": None}, on_change=_sender("x"),
            name="outbox", durable=True)
    except tabsqlite.NoSuchTableError:
        pass
    else:
        raise AssertionError("a durable consumer of a missing table")
    consumer = await _consume(db, "ok")  # the failures left nothing held
    assert consumer.active
    await consumer.close()


async def case_a_cancelled_takeover_leaves_nothing_held(ctx: Any) -> None:
    path = ctx.path("cancel.db")
    a = await ctx.open(path)
    await a.execute_script(SCHEMA)
    rng = random.Random(11)
    for _ in range(12):
        with contextlib.suppress(TimeoutError):
            consumer = await asyncio.wait_for(_consume(a, "a"), rng.uniform(0, 0.02))
            await consumer.close()
        assert not a.in_transaction
    b = await ctx.open(path)
    consumer = await _consume(b, "b")
    assert consumer.active
    await b.execute("INSERT INTO todos(title) VALUES ('x')")
    await consumer.drain()
    assert await _sent(b) == [(1, "b")]
    await consumer.close()
