from __future__ import annotations

from typing import Any

import error_messages
import param_sets
import statement_reuse
from value_roundtrip import check, round_trip


async def test_values_come_back_with_their_types(db_path: str, open_db: Any) -> None:
    db = await open_db(db_path)
    check(await round_trip(db))


async def test_repeated_statements_report_each_run(db_path: str, open_db: Any) -> None:
    db = await open_db(db_path)
    statement_reuse.check(await statement_reuse.reuse(db))


async def test_execute_many_takes_each_shape_of_parameter_set(db_path: str, open_db: Any) -> None:
    db = await open_db(db_path)
    param_sets.check(await param_sets.shapes(db))


async def test_each_error_describes_its_own_statement(db_path: str, open_db: Any) -> None:
    db = await open_db(db_path)
    error_messages.check(await error_messages.messages(db))
