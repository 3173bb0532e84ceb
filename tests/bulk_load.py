"""The README's bulk load into a tracked table: all rows in one statement
(``INSERT ... SELECT ... FROM json_each(?)``), which pays SQLite's per-statement journal once.
Checked on every runtime (the browser test runs this file's source in a tab): the values keep
their types as the README says, and the diff trigger records every row, all with the time of
their one statement."""

import json
from typing import Any

ROWS = [["plain", 1, 2.5], ["é ✓ 𝄞", 2**53 + 1, 2.0], ["flag", True, None], ["", -7, 0.1]]
LOAD = "INSERT INTO b(t, n, f) SELECT value->>0, value->>1, value->>2 FROM json_each(?)"


async def load(db: Any) -> dict[str, Any]:
    """Load ``ROWS`` twice (two transactions) under a diff trigger; return what is stored."""
    await db.execute("DROP TABLE IF EXISTS b")
    await db.execute("CREATE TABLE b(id INTEGER PRIMARY KEY, t, n, f)")
    trigger = await db.triggers.create_diff_trigger(
        source="b", destination="b_diff", when={"INSERT": None})
    try:
        for _ in range(2):
            async with db.write_transaction() as tx:
                res = await tx.execute(LOAD, [json.dumps(ROWS)])
        rows = await db.get_all("SELECT t, n, f, typeof(n) AS tn FROM b "
                                "ORDER BY id")
        diff = await db.get_all("SELECT id, operation, timestamp, value FROM b_diff "
                                "ORDER BY operation_id")
    finally:
        await trigger.dispose()
    return {"rows": rows, "diff": diff, "count": res.rows_affected}


def check(out: dict[str, Any]) -> None:
    """What :func:`load` must return."""
    want = [{"t": t, "n": int(n), "f": f} for t, n, f in ROWS] * 2
    assert [{k: r[k] for k in ("t", "n", "f")} for r in out["rows"]] == want, out["rows"]
    assert [type(r["f"]) for r in out["rows"][:4]] == [float, float, type(None), float]
    assert [r["tn"] for r in out["rows"][:4]] == ["integer"] * 4, out["rows"]
    assert out["count"] == len(ROWS), out["count"]
    diff = out["diff"]
    assert [d["id"] for d in diff] == list(range(1, 2 * len(ROWS) + 1)), diff
    assert {d["operation"] for d in diff} == {"INSERT"}, diff
    assert [json.loads(d["value"]) for d in diff] == [
        {"id": i + 1, **r} for i, r in enumerate(want)], diff
    first, second = diff[: len(ROWS)], diff[len(ROWS):]
    assert len({d["timestamp"] for d in first}) == 1, first  # one statement, one time
    assert len({d["timestamp"] for d in second}) == 1, second
    assert first[0]["timestamp"] <= second[0]["timestamp"], diff
