"""CPython benchmarks (figure 7): commit in process A -> watch in process B; idle CPU."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import tabsqlite

WRITER = r"""
import asyncio, sys, time, tabsqlite
async def main(path, n):
    db = await tabsqlite.open_database(path)
    print("ready", flush=True)
    for i in range(n):
        sys.stdin.readline()
        await db.execute("INSERT INTO items(n) VALUES (?)", [i])
        print(time.time(), flush=True)
    await db.close()
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def run(repeat: int) -> tuple[list[tuple[str, str, str, str, str]], dict[str, Any]]:
    """Figure 7 rows and data."""
    commits = 200
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.db")
        db = await tabsqlite.open_database(path)
        await db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, n INTEGER)")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, path, str(commits),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert proc.stdin and proc.stdout
        assert (await proc.stdout.readline()).strip() == b"ready"
        watch = db.watch("SELECT count(*) AS n FROM items")
        await anext(watch)
        latencies = []
        for i in range(commits):
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
            committed = float((await proc.stdout.readline()).decode())
            while (await asyncio.wait_for(anext(watch), 5))[0]["n"] != i + 1:
                pass
            latencies.append((time.time() - committed) * 1000)
            await asyncio.sleep(0.05)  # commits spaced beyond the default 30 ms throttle
        await proc.wait()
        # Idle CPU of a process that is watching.
        waiter = asyncio.ensure_future(anext(watch))
        before = os.times()
        t0 = time.monotonic()
        await asyncio.sleep(10)
        after = os.times()
        cpu = (after.user - before.user + after.system - before.system) / (time.monotonic() - t0)
        waiter.cancel()
        await db.close()
    # Baseline in the same run: a bare datagram round trip through the same socket kind.
    p50, p95 = statistics.median(latencies), sorted(latencies)[int(0.95 * (commits - 1))]
    rows = [
        ("7", "CPython: commit in A -> watch in B, p50", f"{p50:.2f} ms", "", "<= 50 ms"),
        ("7", "CPython: commit in A -> watch in B, p95", f"{p95:.2f} ms", "", ""),
        ("7", "CPython: idle CPU of a watching process (10 s)", f"{cpu * 100:.2f} %", "",
         "< 1%"),
    ]
    return rows, {"latency_ms": latencies, "p50_ms": p50, "p95_ms": p95, "idle_cpu": cpu}
