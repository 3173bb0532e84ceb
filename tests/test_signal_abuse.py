"""Change signals can't be forged into silence or flooded (two real connections with real
Unix datagram sockets; the abuse is posted into the receiver's socket like any sender)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from typing import Any

import tabsqlite


async def _watch_until(watch: Any, expected: Any, seconds: float) -> float:
    """Seconds until ``watch`` yields ``expected`` (fails after ``seconds``)."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < seconds:
        try:
            last = await asyncio.wait_for(anext(watch), seconds)
        except TimeoutError:
            break
        if last == expected:
            return time.monotonic() - t0
    raise AssertionError(f"watch stayed at {last}, wanted {expected}")


def _post(db: tabsqlite.Database, messages: list[str]) -> None:
    """Send raw datagrams to ``db``'s receiving socket, as another process could."""
    assert db.feed.transport is not None
    target = db.feed.transport.path  # type: ignore[attr-defined]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        for m in messages:
            with contextlib.suppress(BlockingIOError):  # a full buffer: the flood's tail
                s.sendto(m.encode(), target)


async def test_a_forged_huge_sequence_number_does_not_silence_a_sender(
    db_path: str, open_db: Any
) -> None:
    a = await open_db(db_path)
    b = await open_db(db_path, signal_check_interval=30)  # no back-stop: the signal alone
    await a.execute("CREATE TABLE t(x)")
    watch = b.watch("SELECT count(*) AS n FROM t", throttle_ms=0)
    assert await anext(watch) == [{"n": 0}]
    forged = {"tabsqlite": 1, "origin": a.origin, "seq": 10**15, "tables": ["other"]}
    _post(b, [json.dumps(forged, separators=(",", ":"))])
    await asyncio.sleep(0.1)
    for i in range(1, 4):
        await a.execute("INSERT INTO t VALUES (?)", [i])
        assert await _watch_until(watch, [{"n": i}], 2.0) < 1.0
    assert b.feed.receiver.resets >= 1


async def test_back_stop_catches_a_change_no_message_explains_amid_traffic(
    db_path: str, open_db: Any
) -> None:
    a = await open_db(db_path, signal_check_interval=0)  # sends nothing again later
    b = await open_db(db_path, signal_check_interval=0.5)
    await a.execute("CREATE TABLE t(x)")
    watch = b.watch("SELECT count(*) AS n FROM t", throttle_ms=0)
    assert await anext(watch) == [{"n": 0}]
    assert a.feed.transport is not None

    async def lose(message: str) -> None:
        return None

    a.feed.transport.send = lose  # type: ignore[method-assign]
    stop = False

    async def chatter() -> None:  # duplicates keep arriving at b, explaining nothing
        while not stop:
            _post(b, [copy, copy])
            await asyncio.sleep(0.05)

    copy = json.dumps({"tabsqlite": 1, "origin": "peer", "seq": 1, "tables": ["u"]},
                      separators=(",", ":"))
    _post(b, [copy])  # heard once, before: from now on only its duplicates arrive
    await asyncio.sleep(0.8)
    noise = asyncio.ensure_future(chatter())
    try:
        await a.execute("INSERT INTO t VALUES (1)")  # its message is lost
        assert await _watch_until(watch, [{"n": 1}], 5.0) < 3.0
    finally:
        stop = True
        await noise


async def test_a_flood_costs_little(db_path: str, open_db: Any) -> None:
    a = await open_db(db_path)
    b = await open_db(db_path)
    await a.execute("CREATE TABLE t(x)")
    watch = b.watch("SELECT count(*) AS n FROM t", throttle_ms=0)
    assert await anext(watch) == [{"n": 0}]
    garbage = [f"garbage {i}" for i in range(400)] + [
        json.dumps({"tabsqlite": 1, "origin": f"o{i}", "seq": i + 1, "tables": [f"x{i}"]})
        for i in range(400)
    ]
    stop = time.monotonic() + 5
    slowest = 0.0
    sent = 0
    while time.monotonic() < stop:  # ~80,000 messages in 5 s, as many as the socket takes
        _post(b, garbage)
        sent += len(garbage)
        t0 = time.monotonic()
        assert await b.get("SELECT 1 AS one") == {"one": 1}
        slowest = max(slowest, time.monotonic() - t0)
        await asyncio.sleep(0.04)
    assert sent >= 50_000
    assert slowest < 0.5, slowest
    await a.execute("INSERT INTO t VALUES (1)")
    assert await _watch_until(watch, [{"n": 1}], 5.0) < 3.0
    assert len(b.feed.receiver._last_seq) <= 256  # senders remembered are bounded
