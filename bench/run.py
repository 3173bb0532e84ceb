"""Run tabsqlite's benchmarks: ``python bench/run.py [--only NAME,...] [--repeat N]``.

Every figure is a median of repeated runs, reported as a ratio against a baseline measured
in the same run (the machine is noisy). Prints a table, writes ``bench/results.json`` and
draws ``bench/results.png``. Benchmarks report; they assert nothing about timings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, async_playwright

from tabsqlite.devserver import DevServer
from tabsqlite.testing import CHROMIUM_ARGS, BrowserTab, browser_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser_cases as cases  # noqa: E402
import cpython_cases  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))])


class Bench:
    def __init__(self, context: BrowserContext, url: str, repeat: int) -> None:
        self.context = context
        self.url = url
        self.repeat = repeat
        self.results: dict[str, Any] = {}
        self.rows: list[tuple[str, str, str, str, str]] = []

    async def tabs(self, count: int, mode: str = "worker", query: str = "") -> list[BrowserTab]:
        tabs = []
        for i in range(count):
            page = await self.context.new_page()
            tab = BrowserTab(page, f"{mode}{i}")
            await page.goto(f"{self.url}/?mode={mode}{query}")
            tabs.append(tab)
        await asyncio.gather(*(t.ready() for t in tabs))
        return tabs

    async def close(self, tabs: list[BrowserTab]) -> None:
        for tab in tabs:
            await tab.page.close()

    def row(self, figure: str, what: str, value: str, ratio: str, goal: str) -> None:
        self.rows.append((figure, what, value, ratio, goal))
        print(f"{figure:<4} {what:<54} {value:>16} {ratio:>9} {goal}", flush=True)

    async def bulk(self) -> None:
        (tab,) = await self.tabs(1)
        await tab.run(cases.PRELUDE)
        out = json.loads(await tab.run(cases.BULK.format(n=10_000, repeat=self.repeat),
                                       timeout=600))
        js = median(out["js"])
        many = median(out["execute_many"])
        loop = median(out["execute_loop"])
        self.results["bulk_insert_10k"] = {k: median(v) for k, v in out.items()} | {"raw": out}
        self.row("1", "10k inserts, raw JS prepared statement (baseline)", f"{js:.0f} ms", "1.00",
                 "")
        self.row("1", "10k inserts, execute_many", f"{many:.0f} ms", f"{many / js:.2f}x",
                 "<= 1.2x")
        self.row("1", "10k inserts, execute loop in one transaction", f"{loop:.0f} ms",
                 f"{loop / js:.2f}x", "<= 1.6x")
        await self.close([tab])

    async def round_trip(self) -> None:
        (tab,) = await self.tabs(1)
        await tab.run(cases.PRELUDE)
        out = json.loads(await tab.run(
            cases.ROUND_TRIP.format(n=1000, m=50, repeat=self.repeat), timeout=600))
        med = {k: median(v) for k, v in out.items()}
        self.results["round_trip_ms"] = med | {"raw": out}
        self.row("2", "point select, raw JS (baseline)", f"{med['js_select'] * 1000:.0f} us",
                 "1.00", "")
        self.row("2", "point select, db.get_optional", f"{med['py_select'] * 1000:.0f} us",
                 f"{med['py_select'] / med['js_select']:.2f}x", "<= 2x")
        self.row("2", "autocommit insert, raw JS (baseline)", f"{med['js_insert']:.1f} ms",
                 "1.00", "")
        self.row("2", "autocommit insert, db.execute", f"{med['py_insert']:.1f} ms",
                 f"{med['py_insert'] / med['js_insert']:.2f}x", "<= 2x")
        await self.close([tab])
        modes = {}
        for mode in ("worker", "main"):
            (t,) = await self.tabs(1, mode=mode)
            modes[mode] = median(json.loads(await t.run(cases.ROUND_TRIP_PY_ONLY.format(
                n=500, repeat=self.repeat, mode=mode), timeout=600)))
            await self.close([t])
        self.results["round_trip_modes_ms"] = modes
        self.row("2", "point select, worker mode (baseline)", f"{modes['worker'] * 1000:.0f} us",
                 "1.00", "")
        self.row("2", "point select, main-thread mode", f"{modes['main'] * 1000:.0f} us",
                 f"{modes['main'] / modes['worker']:.2f}x", "(report)")


FIGURES: dict[str, Callable[[Bench], Awaitable[None]]] = {
    "bulk": Bench.bulk,
    "round_trip": Bench.round_trip,
}


def build_wheels(out: Path) -> None:
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out),
                    str(ROOT)], check=True, capture_output=True)
    vendor = out / "vendor"
    vendor.mkdir()
    for wheel in (ROOT / "dist" / "vendor").glob("micropip-*.whl"):
        (vendor / wheel.name).write_bytes(wheel.read_bytes())


async def main(only: list[str], repeat: int) -> None:
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        build_wheels(wheels)
        server = DevServer(ROOT / "js_glue" / "harness", ROOT / "js_glue", wheels).start()
        bench = None
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=browser_path(),
                                                  args=CHROMIUM_ARGS)
                print(f"{'fig':<4} {'what':<54} {'median':>16} {'ratio':>9} goal")
                for name, fn in FIGURES.items():
                    if only and name not in only:
                        continue
                    context = await browser.new_context()
                    bench = Bench(context, server.url, repeat)
                    await fn(bench)
                    await context.close()
                    results = load_results()
                    results["figures"][name] = bench.results
                    results["rows"] = merge_rows(results.get("rows", []), bench.rows)
                    save_results(results)
                await browser.close()
        finally:
            server.stop()
    if not only or "cpython" in only:
        results = load_results()
        rows, data = await cpython_cases.run(repeat)
        for r in rows:
            print(f"{r[0]:<4} {r[1]:<54} {r[2]:>16} {r[3]:>9} {r[4]}", flush=True)
        results["figures"]["cpython"] = data
        results["rows"] = merge_rows(results.get("rows", []), rows)
        save_results(results)
    print(f"done in {time.time() - started:.0f} s; wrote bench/results.json")


def load_results() -> dict[str, Any]:
    path = OUT / "results.json"
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    return {"figures": {}, "rows": []}


def merge_rows(old: list[Any], new: list[tuple[str, ...]]) -> list[Any]:
    figures = {r[0] for r in new}
    return [r for r in old if r[0] not in figures] + [list(r) for r in new]


def save_results(results: dict[str, Any]) -> None:
    results["machine"] = {"cores": __import__("os").cpu_count(), "when": time.ctime()}
    (OUT / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(FIGURES))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main([x for x in args.only.split(",") if x], args.repeat))
