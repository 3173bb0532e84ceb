"""One lock-wait setting: ``open_database(busy_timeout=...)`` bounds how long a statement
waits for another connection's write lock, and the BusyError names the holder."""

from __future__ import annotations

import time
from typing import Any

import pytest

import tabsqlite


@pytest.mark.parametrize("busy_timeout", [0.3, 1.5])
async def test_busy_timeout_bounds_the_wait_and_names_the_holder(
    db_path: str, open_db: Any, child: Any, busy_timeout: float
) -> None:
    db = await open_db(db_path, busy_timeout=busy_timeout)
    await db.execute("CREATE TABLE t(x)")
    holder = child("hold-lock", db_path, "-1")
    await holder.expect("ready")
    t0 = time.monotonic()
    with pytest.raises(tabsqlite.BusyError) as caught:
        await db.execute("INSERT INTO t VALUES (1)")
    waited = time.monotonic() - t0
    assert busy_timeout * 0.8 <= waited < busy_timeout + 1.0
    error = caught.value
    assert error.holder is not None and str(holder.proc.pid) in error.holder, str(error)
    assert error.waited == busy_timeout
    assert f"process {holder.proc.pid}" in str(error)
    holder.kill()
    await db.execute("INSERT INTO t VALUES (2)")  # nothing stays locked
    assert (await db.get("SELECT count(*) AS n FROM t"))["n"] == 1
