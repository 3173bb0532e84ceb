"""Draw bench/results.png from bench/results.json: ratios against their goals, and the
absolute figures as a table. Rendered as HTML by the same headless Chromium."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from tabsqlite.testing import CHROMIUM_ARGS, browser_path

OUT = Path(__file__).resolve().parent


def _ratio(text: str) -> float | None:
    m = re.fullmatch(r"([0-9.]+)x", text.strip())
    return float(m.group(1)) if m else None


def _goal(text: str) -> tuple[str, float] | None:
    m = re.fullmatch(r"(<=|>=)\s*([0-9.]+)x", text.strip())
    return (m.group(1), float(m.group(2))) if m else None


def page(rows: list[list[str]]) -> str:
    bars = []
    table = []
    for fig, what, value, ratio, goal in rows:
        r, g = _ratio(ratio), _goal(goal)
        if r is not None and g is not None:
            ok = r <= g[1] if g[0] == "<=" else r >= g[1]
            scale = 120  # px per 1.0x
            bars.append(
                f"<div class=bar><span class=label>{fig}. {html.escape(what)}</span>"
                f"<span class=track><span class='fill {'ok' if ok else 'miss'}' "
                f"style='width:{min(r, 6) * scale:.0f}px'></span>"
                f"<span class=goal style='left:{g[1] * scale:.0f}px' title='goal'></span>"
                f"</span><span class=num>{r:.2f}x <small>goal {html.escape(goal)}</small>"
                f"</span></div>")
        else:
            table.append(f"<tr><td>{fig}</td><td>{html.escape(what)}</td>"
                         f"<td>{html.escape(value)}</td><td>{html.escape(ratio)}</td>"
                         f"<td>{html.escape(goal)}</td></tr>")
    return f"""<html><head><style>
      body {{ font: 13px system-ui, sans-serif; margin: 18px; width: 1180px; color: #1d2330; }}
      h1 {{ font-size: 18px; }} .bar {{ display: flex; align-items: center; margin: 5px 0; }}
      .label {{ width: 430px; }} .track {{ position: relative; width: 560px; height: 16px;
        background: #eef0f6; border-radius: 4px; }}
      .fill {{ position: absolute; height: 16px; border-radius: 4px; }}
      .ok {{ background: #14a37f; }} .miss {{ background: #e5484d; }}
      .goal {{ position: absolute; top: -3px; width: 2px; height: 22px; background: #1d2330; }}
      .num {{ margin-left: 12px; }} small {{ color: #7a8194; }}
      table {{ border-collapse: collapse; margin-top: 14px; }}
      td {{ padding: 3px 10px; border-bottom: 1px solid #e6e8ef; }}
    </style></head><body><h1>tabsqlite benchmarks: ratio against the baseline of the same run
    (bar = ratio, black line = goal; green met, red missed)</h1>{''.join(bars)}
    <table>{''.join(table)}</table></body></html>"""


async def draw(results: dict[str, Any], path: Path = OUT / "results.png") -> None:
    """Render the chart of ``results`` to ``path``."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=browser_path(), args=CHROMIUM_ARGS)
        tab = await browser.new_page(viewport={"width": 1220, "height": 400})
        await tab.set_content(page(results.get("rows", [])))
        await tab.screenshot(path=str(path), full_page=True)
        await browser.close()


if __name__ == "__main__":
    import asyncio

    asyncio.run(draw(json.loads((OUT / "results.json").read_text())))
