from __future__ import annotations

from typing import Any

from value_roundtrip import check, round_trip


async def test_values_come_back_with_their_types(db_path: str, open_db: Any) -> None:
    db = await open_db(db_path)
    check(await round_trip(db))
