"""The shared cases (tests/cases/) on CPython; playwright/test_tab_shared_cases.py runs the same
source in a tab."""

from __future__ import annotations

from pathlib import Path

import pytest

from cases import all_cases, run_case


@pytest.mark.parametrize(("module", "case"), all_cases(),
                         ids=[f"{m}.{c}" for m, c in all_cases()])
async def test_shared_case(module: str, case: str, tmp_path: Path) -> None:
    await run_case(module, case, str(tmp_path / "dbs"))
