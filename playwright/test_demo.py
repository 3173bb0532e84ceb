"""The demo site, used as a person would: two tabs side by side."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page

pytestmark = pytest.mark.asyncio(loop_scope="session")

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


async def wait_for(page: Page, js: str, timeout_ms: int = 60_000) -> None:
    await page.wait_for_function(js, timeout=timeout_ms)


async def test_demo_two_tabs(context: BrowserContext, demo_url: str) -> None:
    pages = []
    logs: list[str] = []
    for i in range(2):
        page = await context.new_page()
        await page.set_viewport_size({"width": 760, "height": 620})
        page.on("console", lambda m, i=i: logs.append(f"[tab{i}] {m.text}"))
        page.on("pageerror", lambda e, i=i: logs.append(f"[tab{i}] pageerror {e}"))
        await page.goto(demo_url + "/")
        pages.append(page)
    a, b = pages
    try:
        for page in pages:
            await wait_for(page, "window.demoReady === true || window.demoError", 90_000)
            assert await page.evaluate("window.demoError || null") is None
        for title in ("Buy oat milk", "Write the release notes", "Water the plants"):
            await a.fill("#title", title)
            await a.press("#title", "Enter")
        await wait_for(b, "document.querySelectorAll('#todos li[data-id]').length === 3")
        # Edit in B, tick and delete in A: both lists agree, the diff panels show who did it.
        first_b = b.locator("#todos li[data-id] .title").first
        await first_b.fill("Buy oat milk (2 l)")
        await first_b.press("Enter")
        await wait_for(a, "[...document.querySelectorAll('#todos .title')]"
                          ".some(e => e.value === 'Buy oat milk (2 l)')")
        await a.locator("#todos li[data-id] input[type=checkbox]").nth(1).check()
        await wait_for(b, "document.querySelectorAll('#todos li.done').length === 1")
        await b.locator("#todos li[data-id] .del").nth(2).click()
        await wait_for(a, "document.querySelectorAll('#todos li[data-id]').length === 2")
        for page in pages:
            await wait_for(page, "document.querySelectorAll('#diffs li').length === 6")
            ops = await page.eval_on_selector_all(
                "#diffs .op", "els => els.map(e => e.textContent)")
            assert sorted(ops) == sorted(["INSERT"] * 3 + ["UPDATE"] * 2 + ["DELETE"])
        titles = await b.eval_on_selector_all("#todos .title", "els => els.map(e => e.value)")
        assert titles == ["Buy oat milk (2 l)", "Write the release notes"]
        # The page shows the Python it runs, and how long the start took.
        source = await a.text_content("#source") or ""
        assert "await tabsqlite.open_database(DB_PATH)" in source
        assert "started in" in (await a.text_content("#started") or "")
        # A reload keeps the diff panel (and the list, read from the database again).
        await b.reload()
        await wait_for(b, "document.querySelectorAll('#diffs li').length === 6", 5_000)
        await wait_for(b, "window.demoReady === true || window.demoError", 90_000)
        await wait_for(b, "document.querySelectorAll('#todos li[data-id]').length === 2")
        await a.fill("#title", "After the reload")
        await a.press("#title", "Enter")
        await wait_for(b, "document.querySelectorAll('#diffs li').length === 7")
        # Screenshot of the two tabs side by side.
        ARTIFACTS.mkdir(exist_ok=True)
        shots = [base64.b64encode(await p.screenshot()).decode() for p in pages]
        board = await context.new_page()
        await board.set_viewport_size({"width": 1540, "height": 640})
        await board.set_content(
            "<body style='margin:0;background:#c9cedb;display:flex;gap:20px;padding:10px'>"
            + "".join(f"<img style='border-radius:6px' src='data:image/png;base64,{s}'>"
                      for s in shots) + "</body>")
        await asyncio.sleep(0.2)
        await board.screenshot(path=str(ARTIFACTS / "demo-two-tabs.png"))
    except Exception:
        print("\n".join(logs[-80:]))
        raise
