from __future__ import annotations

from typing import Any

from value_roundtrip import check, round_trip


async def test_values_come_back_with_their_types(db_path: str, open_db: Any) -> None:
    db = await open_db(db_path)
    check(await round_trip(db))


async def test_repeated_statements_report_each_run(db_path: str, open_db: Any) -> None:
    from statement_reuse import check as check_reuse
    from statement_reuse import reuse

    db = await open_db(db_path)
    check_reuse(await reuse(db))
