"""The shared cases (tests/cases/, the same source tests/test_shared_cases.py runs on
CPython) in real tabs: Chromium in worker and main-thread mode, Firefox in worker mode.
One tab per way runs every case, each case as its own test."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Playwright

from tabsqlite.testing import BrowserTab, profile_context
from tabsqlite.webdriver_bidi import firefox_context

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
HANDLES = os.environ.get("TABSQLITE_TEST_HANDLES", "auto")

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _case_ids() -> list[tuple[str, str]]:
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from cases import all_cases

    return all_cases()


WAYS = ["chromium-worker", "chromium-main", "firefox-worker"]


@pytest_asyncio.fixture(loop_scope="session", scope="module", params=WAYS)
async def case_tab(request: pytest.FixtureRequest, playwright_session: Playwright,
                   server_url: str) -> AsyncIterator[BrowserTab]:
    """One tab of a fresh browser, with tests/cases/ importable as ``cases``."""
    engine, mode = request.param.split("-")
    async with contextlib.AsyncExitStack() as stack:
        if engine == "chromium":
            browser: Any = await stack.enter_async_context(profile_context(playwright_session))
        else:
            browser = await stack.enter_async_context(firefox_context())
        query = f"&handles={HANDLES}" if engine == "chromium" and HANDLES != "auto" else ""
        page = await browser.new_page()
        tab = BrowserTab(page, request.param)
        await page.goto(f"{server_url}/?mode={mode}{query}")
        await tab.ready()
        files = {p.name: p.read_text() for p in CASES.glob("*.py")}
        await tab.run(f"""
            import os, sys, json
            os.makedirs("/tmp/shared/cases", exist_ok=True)
            for name, text in json.loads({json.dumps(json.dumps(files))}).items():
                with open(f"/tmp/shared/cases/{{name}}", "w") as out:
                    out.write(text)
            sys.path.insert(0, "/tmp/shared")
            import cases
        """)
        yield tab


CASE_IDS = _case_ids()


@pytest.mark.parametrize(("module", "case"), CASE_IDS,
                         ids=[f"{m}.{c}" for m, c in CASE_IDS])
async def test_shared_case_in_a_tab(case_tab: BrowserTab, module: str, case: str) -> None:
    root = f"/cases/{secrets.token_hex(4)}"
    await case_tab.run(f"await cases.run_case({module!r}, {case!r}, {root!r})", timeout=120)
