"""Change stream, on_change and watch: two Database objects on one file behave like two
processes (each has its own connection and signal endpoint)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import tabsqlite
from tabsqlite.runtime import Runtime


async def next_within(iterator: Any, timeout: float = 3.0) -> Any:
    return await asyncio.wait_for(iterator.__anext__(), timeout)


async def assert_quiet(iterator: Any, seconds: float = 0.4) -> None:
    task = asyncio.ensure_future(iterator.__anext__())
    done, _ = await asyncio.wait({task}, timeout=seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not done, f"expected no event, got {task.result() if done else None}"


@pytest.fixture
def runtime(both_runtimes: Runtime | None) -> Runtime | None:
    return both_runtimes

@pytest.fixture
async def pair(db_path: str, open_db: Any) -> tuple[tabsqlite.Database, tabsqlite.Database]:
    a = await open_db(db_path)
    b = await open_db(db_path)
    await a.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, tag TEXT, n INTEGER)")
    await a.execute("CREATE TABLE other(id INTEGER PRIMARY KEY, v TEXT)")
    return a, b


async def test_commit_yields_changed_tables_once(pair: Any) -> None:
    a, b = pair
    local = aiter(a.on_change())
    remote = aiter(b.on_change())
    await a.execute("INSERT INTO items(tag, n) VALUES ('x', 1)")
    ev = await next_within(local)
    assert ev.tables == {"items"} and ev.local and not ev.remote and not ev.unknown
    ev = await next_within(remote)
    assert ev.tables == {"items"} and ev.remote and not ev.local and not ev.unknown
    # Own write is announced once: nothing more arrives on either side.
    await assert_quiet(local)
    await assert_quiet(remote)


async def test_rolled_back_transaction_yields_nothing(pair: Any) -> None:
    a, b = pair
    local = aiter(a.on_change())
    remote = aiter(b.on_change())
    with pytest.raises(RuntimeError):
        async with a.write_transaction() as tx:
            await tx.execute("INSERT INTO items(tag, n) VALUES ('x', 1)")
            raise RuntimeError("abort")
    await a.execute("BEGIN")
    await a.execute("INSERT INTO other(v) VALUES ('y')")
    await a.execute("ROLLBACK")
    await assert_quiet(local)
    await assert_quiet(remote)
    assert await b.get("SELECT count(*) AS n FROM items") == {"n": 0}


async def test_update_matching_no_rows_is_not_a_change(pair: Any) -> None:
    a, _ = pair
    local = aiter(a.on_change())
    await a.execute("UPDATE items SET n = 2 WHERE id = 999")
    await assert_quiet(local)


async def test_transaction_reports_all_its_tables(pair: Any) -> None:
    a, b = pair
    remote = aiter(b.on_change())
    async with a.write_transaction() as tx:
        await tx.execute("INSERT INTO items(tag, n) VALUES ('x', 1)")
        await a.execute("INSERT INTO other(v) VALUES ('joins the transaction')")
    ev = await next_within(remote)
    assert ev.tables == {"items", "other"}
    await assert_quiet(remote)


async def test_on_change_filters_tables(pair: Any) -> None:
    a, b = pair
    only_other = aiter(b.on_change(tables=["OTHER"]))
    await a.execute("INSERT INTO items(tag, n) VALUES ('x', 1)")
    await assert_quiet(only_other)
    await a.execute("INSERT INTO other(v) VALUES ('y')")
    assert (await next_within(only_other)).tables == {"other"}


async def test_watch_reruns_for_other_connection_and_not_for_unrelated(pair: Any) -> None:
    a, b = pair
    watch = b.watch("SELECT tag FROM items ORDER BY id")
    rows = aiter(watch)
    assert await next_within(rows) == []
    assert watch.tables == {"items"}
    await a.execute("INSERT INTO items(tag, n) VALUES ('from a', 1)")
    assert await next_within(rows) == [{"tag": "from a"}]
    await a.execute("INSERT INTO other(v) VALUES ('unrelated')")
    await assert_quiet(rows)
    assert watch.runs == 2
    await watch.aclose()


async def test_watch_infers_tables_through_views_and_joins(pair: Any) -> None:
    a, _ = pair
    await a.execute("CREATE VIEW v AS SELECT i.tag, o.v FROM items i JOIN other o ON o.id = i.id")
    assert await a.tables_read_by("SELECT * FROM v") == {"items", "other"}
    assert await a.tables_read_by("SELECT 1") == frozenset()
    assert await a.tables_read_by("SELECT n FROM items WHERE id = ?", [1]) == {"items"}


async def test_watch_coalesces_bursts(pair: Any) -> None:
    a, b = pair
    watch = b.watch("SELECT count(*) AS n FROM items", throttle_ms=200)
    rows = aiter(watch)
    assert await next_within(rows) == [{"n": 0}]
    for i in range(20):
        await a.execute("INSERT INTO items(tag, n) VALUES ('x', ?)", [i])
    seen = [await next_within(rows)]
    while seen[-1] != [{"n": 20}]:
        seen.append(await next_within(rows))
    assert len(seen) <= 3, seen
    await watch.aclose()


async def test_watch_leading_edge_is_immediate(pair: Any) -> None:
    a, b = pair
    watch = b.watch("SELECT count(*) AS n FROM items", throttle_ms=5000)
    rows = aiter(watch)
    await next_within(rows)
    await asyncio.sleep(0.05)
    await a.execute("INSERT INTO items(tag, n) VALUES ('x', 1)")
    # The throttle is 5 s, but a change after a quiet period must pass at once... unless
    # the previous run was less than 5 s ago, which it was: so it arrives after the rest.
    assert await next_within(rows, 7) == [{"n": 1}]
    await watch.aclose()


async def test_watch_differential(pair: Any) -> None:
    a, b = pair
    diffs = aiter(b.watch("SELECT id, tag FROM items ORDER BY id").differential(key="id"))
    first = await next_within(diffs)
    assert first.added == [] and first.rows == []
    await a.execute("INSERT INTO items(id, tag, n) VALUES (1, 'one', 0), (2, 'two', 0)")
    step = await next_within(diffs)
    assert [r["id"] for r in step.added] == [1, 2]
    async with a.write_transaction() as tx:
        await tx.execute("UPDATE items SET tag = 'uno' WHERE id = 1")
        await tx.execute("DELETE FROM items WHERE id = 2")
    step = await next_within(diffs)
    assert step.updated == [{"id": 1, "tag": "uno"}]
    assert step.removed == [{"id": 2, "tag": "two"}]
    assert step.added == []


async def test_lost_signal_falls_back_to_unknown(db_path: str, open_db: Any) -> None:
    a = await open_db(db_path)
    b = await open_db(db_path, signal_check_interval=0.2)
    await a.execute("CREATE TABLE items(id INTEGER PRIMARY KEY)")
    changes = aiter(b.on_change())
    await next_within(changes)  # the CREATE TABLE
    # Let b's back-stop read the version the CREATE TABLE made first: a read that also
    # covered the lost commit would count it as the CREATE's, and only a's resend (the
    # second half of this test) would tell b.
    await asyncio.sleep(0.3)
    # Lose a's next message on the way.
    assert a.feed.transport is not None
    real_send = a.feed.transport.send

    async def lose(message: str) -> None:
        return None

    a.feed.transport.send = lose  # type: ignore[method-assign]
    await a.execute("INSERT INTO items DEFAULT VALUES")
    a.feed.transport.send = real_send  # type: ignore[method-assign]
    ev = await next_within(changes, 3)
    assert ev.unknown and ev.remote
    # a sends its last message again once its commits pause (1 s): b learns the tables too.
    ev = await next_within(changes, 3)
    assert ev.tables == {"items"} and not ev.unknown
    await assert_quiet(changes, 1.5)


async def test_garbled_and_duplicate_messages(pair: Any) -> None:
    _a, b = pair
    changes = aiter(b.on_change())
    b.feed.on_messages(["not json"])
    ev = await next_within(changes)
    assert ev.unknown
    b.feed.on_messages(['{"tabsqlite": 99, "origin": "x", "seq": 1, "tables": []}'])
    assert (await next_within(changes)).unknown
    msg = '{"tabsqlite": 1, "origin": "peer", "seq": 1, "tables": ["items"]}'
    b.feed.on_messages([msg])
    assert (await next_within(changes)).tables == {"items"}
    b.feed.on_messages([msg])  # duplicate: ignored
    await assert_quiet(changes, 0.2)
    b.feed.on_messages(['{"tabsqlite": 1, "origin": "peer", "seq": 3, "tables": ["other"]}'])
    ev = await next_within(changes)
    assert ev.unknown  # seq 2 is missing
    b.feed.on_messages(['{"tabsqlite": 1, "origin": "peer", "seq": 2, "tables": ["items"]}'])
    await assert_quiet(changes, 0.2)  # late and out of order: already covered


async def test_watch_stops_on_close(pair: Any) -> None:
    _, b = pair
    rows = aiter(b.watch("SELECT * FROM items"))
    await next_within(rows)
    waiter = asyncio.ensure_future(rows.__anext__())
    await asyncio.sleep(0.05)
    await b.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiter, 2)
