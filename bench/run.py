"""Run tabsqlite's benchmarks: ``python bench/run.py [--only NAME,...] [--repeat N]``.

Every figure is a median of repeated runs, reported as a ratio against a baseline measured
in the same run (the machine is noisy). Prints a table, writes ``bench/results.json`` and
draws ``bench/results.png``. Benchmarks report; they assert nothing about timings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, async_playwright

from tabsqlite.devserver import DevServer
from tabsqlite.testing import SPILLED_TRANSACTION, BrowserTab, profile_context
from tabsqlite.webdriver_bidi import firefox_context

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser_cases as cases
import chart
import cpython_cases
import goals
from stats import median, p95

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent


class Bench:
    def __init__(self, context: BrowserContext, url: str, repeat: int, vfs: str = "") -> None:
        self.context = context
        self.url = url
        self.repeat = repeat
        self.vfs = f"&vfs={vfs}" if vfs else ""  # "": the tab's default
        self.results: dict[str, Any] = {}
        self.rows: list[tuple[str, str, str, str, str]] = []

    async def tabs(self, count: int, mode: str = "worker", query: str = "") -> list[BrowserTab]:
        tabs = []
        for i in range(count):
            page = await self.context.new_page()
            tab = BrowserTab(page, f"{mode}{i}")
            await page.goto(f"{self.url}/?mode={mode}{query}{self.vfs}")
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
        for mode, page_mode, query in (("worker", "worker", ""), ("main", "main", ""),
                                       ("shared", "worker", "&handles=shared")):
            (t,) = await self.tabs(1, mode=page_mode, query=query)
            modes[mode] = median(json.loads(await t.run(cases.ROUND_TRIP_PY_ONLY.format(
                n=500, repeat=self.repeat, mode=mode), timeout=600)))
            await self.close([t])
        self.results["round_trip_modes_ms"] = modes
        self.row("2", "point select, worker mode (baseline)", f"{modes['worker'] * 1000:.0f} us",
                 "1.00", "")
        self.row("2", "point select, main-thread mode", f"{modes['main'] * 1000:.0f} us",
                 f"{modes['main'] / modes['worker']:.2f}x", "(report)")
        self.row("2", "point select, shared mode", f"{modes['shared'] * 1000:.0f} us",
                 f"{modes['shared'] / modes['worker']:.2f}x", "(report)")

    async def writes(self, tabs: list[BrowserTab], case: str, n: int, path: str,
                     journal: str = "") -> tuple[float, list[float]]:
        """Each tab writes ``n`` autocommit rows, all starting together: (commits/s, latencies)."""
        start_at = time.time() * 1000 + 1500 + 500 * len(tabs)  # after every tab has opened
        outs = [json.loads(x) for x in await asyncio.gather(*(
            t.run(case.format(n=n, path=path, journal=journal, tag=f"t{k}", start_at=start_at),
                  timeout=600) for k, t in enumerate(tabs)))]
        span = max(o["end"] for o in outs) - min(o["start"] for o in outs)
        return n * len(tabs) / (span / 1000), [x for o in outs for x in o["lat"]]

    async def contention(self) -> None:
        """Figure 3: 4 tabs x 250 interleaved autocommit inserts vs 1 tab x 1000, started
        together; the same from raw JS behind a Web Lock, for what the hand-over costs."""
        results: dict[str, Any] = {}
        trials = max(1, self.repeat // 2)
        for key, label, query, case in (
            ("tabsqlite", "tabsqlite", "&unlockAsap=1", cases.WRITES),
            ("raw", "raw JS + Web Lock", "&unlockAsap=1", cases.RAW_WRITES),
            ("idle", "tabsqlite, idle release", "&unlockAsap=0", cases.WRITES),
            ("shared", "tabsqlite, shared mode", "&unlockAsap=1&handles=shared", cases.WRITES),
        ):
            tabs = await self.tabs(4, query=query)
            for t in tabs:
                await t.run(cases.PRELUDE)
                await t.run(cases.NOW)
            single, multi, lost = [], [], 0
            single_lat: list[float] = []
            multi_lat: list[float] = []
            for trial in range(trials):
                rate, lat = await self.writes(tabs[:1], case, 1000, f"/bench/c-{key}-{trial}-1.db")
                single.append(rate)
                single_lat += lat
                path = f"/bench/c-{key}-{trial}-4.db"
                rate, lat = await self.writes(tabs, case, 250, path)
                multi.append(rate)
                multi_lat += lat
                count, ok = json.loads(await tabs[0].run(cases.COUNT.format(path=path)))
                lost += 1000 - count
                assert ok == "ok"
            results[label] = {
                "single_commits_per_s": median(single), "four_tabs_commits_per_s": median(multi),
                "single_p95_ms": p95(single_lat), "four_tabs_p95_ms": p95(multi_lat),
                "single_p50_ms": median(single_lat), "four_tabs_p50_ms": median(multi_lat),
                "lost": lost,
            }
            r = results[label]
            goal = key == "tabsqlite"  # the others are for comparison
            self.row("3", f"[{label}] 1 tab x 1000 autocommit (baseline)",
                     f"{r['single_commits_per_s']:.0f} /s", "1.00", "")
            self.row("3", f"[{label}] 4 tabs x 250 interleaved, aggregate",
                     f"{r['four_tabs_commits_per_s']:.0f} /s",
                     f"{r['four_tabs_commits_per_s'] / r['single_commits_per_s']:.2f}x",
                     ">= 0.9x" if goal else "(report)")
            self.row("3", f"[{label}] p95 write latency, 4 tabs vs 1 tab",
                     f"{r['four_tabs_p95_ms']:.0f} ms",
                     f"{r['four_tabs_p95_ms'] / r['single_p95_ms']:.2f}x",
                     "<= 4x" if goal else "(report)")
            self.row("3", f"[{label}] rows lost", str(lost), "", "0")
            if key == "shared":  # (log mode keeps SQLite's journal in memory)
                modes = {}
                for journal in ("journal_mode=delete", "journal_mode=persist",
                                "journal_mode=truncate",
                                "journal_mode=persist;synchronous=NORMAL",
                                "page_size=4096;journal_mode=persist"):
                    rates = []
                    for trial in range(trials):
                        rate, _ = await self.writes(tabs[:1], cases.WRITES, 300,
                                                    f"/bench/journal-{len(modes)}-{trial}.db",
                                                    journal)
                        rates.append(rate)
                    modes[journal] = median(rates)
                results["journal_modes_commits_per_s"] = modes
                for journal, rate in modes.items():
                    self.row("3", f"1 tab autocommit, {journal}", f"{rate:.0f} /s",
                             f"{rate / modes['journal_mode=delete']:.2f}x", "(report)")
            await self.close(tabs)
        self.results["contention"] = results

    async def peers(self) -> None:
        """Figure 9: wa-sqlite's multi-tab OPFS VFSs (OPFSCoopSyncVFS, OPFSWriteAheadVFS),
        raw JS in each tab's worker (js_glue/harness/peers): 4 tabs x 250 interleaved
        autocommit inserts, one tab's, point selects, as figures 2 and 3 measure ours. A
        phase that does not end within 120 s is reported as timed out."""
        results: dict[str, Any] = {}

        async def call(page: Any, op: str, args: dict[str, Any], limit: float = 120) -> Any:
            return await asyncio.wait_for(
                page.evaluate("([op, a]) => window.peer(op, a)", [op, args]), limit)

        for vfs, label in (("coop", "wa-sqlite OPFSCoopSyncVFS"),
                           ("wal", "wa-sqlite OPFSWriteAheadVFS")):
            pages = []
            for _ in range(4):
                page = await self.context.new_page()
                await page.goto(f"{self.url}/peers/")
                await page.wait_for_function("window.peer !== undefined")
                await call(page, "init", {"vfs": vfs})
                pages.append(page)
            point_us, single, multi, lat4, lost, timed_out = [], [], [], [], 0, 0
            for trial in range(max(1, self.repeat // 2)):
                # one tab first: its figures stand even if 4 tabs get stuck
                one = await call(pages[0], "inserts", {
                    "path": f"/peer/{vfs}-s{trial}.db", "n": 300, "startAt": 0})
                single.append(300 / ((one["end"] - one["start"]) / 1000))
                out = await call(pages[0], "point", {"path": f"/peer/{vfs}-p{trial}.db",
                                                     "n": 2000})
                point_us.append(out["ms"] * 1000 / 2000)
                await call(pages[0], "closeAll", {})
                path = f"/peer/{vfs}-m{trial}.db"
                for page in pages:  # every tab opens (and creates) the file first
                    await call(page, "count", {"path": path})
                start_at = time.time() * 1000 + 500
                try:
                    outs = await asyncio.wait_for(asyncio.gather(*(call(page, "inserts", {
                        "path": path, "n": 250, "startAt": start_at, "tag": f"t{k}"})
                        for k, page in enumerate(pages))), 120)
                    span = max(o["end"] for o in outs) - min(o["start"] for o in outs)
                    multi.append(1000 / (span / 1000))
                    lat4 += [x for o in outs for x in o["lat"]]
                    lost += 1000 - (await call(pages[1], "count", {"path": path}))["count"]
                except TimeoutError:
                    timed_out += 1
                    break  # the tabs' workers are stuck: the rest of this VFS is moot
                for page in pages:
                    await call(page, "closeAll", {})
            results[label] = {
                "point_select_us": median(point_us) if point_us else None,
                "single_commits_per_s": median(single) if single else None,
                "four_tabs_commits_per_s": median(multi) if multi else None,
                "four_tabs_p95_ms": p95(lat4) if lat4 else None,
                "lost": lost, "timed_out": timed_out,
            }
            r = results[label]
            self.row("9", f"[{label}] point select, raw JS",
                     f"{r['point_select_us']:.0f} us", "", "(peer)")
            self.row("9", f"[{label}] 1 tab autocommit, raw JS",
                     f"{r['single_commits_per_s']:.0f} /s", "", "(peer)")
            if timed_out:
                self.row("9", f"[{label}] 4 tabs x 250 interleaved", "timed out", "",
                         "(peer)")
            else:
                self.row("9", f"[{label}] 4 tabs x 250 interleaved, aggregate",
                         f"{r['four_tabs_commits_per_s']:.0f} /s",
                         f"{r['four_tabs_commits_per_s'] / r['single_commits_per_s']:.2f}x",
                         "(peer)")
                self.row("9", f"[{label}] rows lost", str(lost), "", "0")
            for page in pages:
                await page.close()
        self.results["peers"] = results

    async def lending(self) -> None:
        """Figure 12: the rows of figures 2, 3 and 10 on our VFS in lending mode (default-mode
        handles, lent on request: what browsers without readwrite-unsafe handles run),
        forced here, against wa-sqlite's OPFSCoopSyncVFS (figure 9), which lends the same
        way."""
        query = "&handles=lending"
        (tab,) = await self.tabs(1, query=query)
        assert await tab.run("import tabsqlite_glue as g; str(g.handles)") == "lending"
        point = median(json.loads(await tab.run(cases.ROUND_TRIP_PY_ONLY.format(
            n=500, repeat=self.repeat, mode="lending"), timeout=600)))
        await self.close([tab])
        tabs = await self.tabs(4, query=query)
        for t in tabs:
            await t.run(cases.NOW)
        single, multi, lat4, lost = [], [], [], 0
        for trial in range(max(1, self.repeat // 2)):
            rate, _ = await self.writes(tabs[:1], cases.WRITES, 1000, f"/bench/l-{trial}-1.db")
            single.append(rate)
            path = f"/bench/l-{trial}-4.db"
            rate, lat = await self.writes(tabs, cases.WRITES, 250, path)
            multi.append(rate)
            lat4 += lat
            count, ok = json.loads(await tabs[0].run(cases.COUNT.format(path=path)))
            lost += 1000 - count
            assert ok == "ok"
        read_lat: list[float] = []
        writes = 0
        for trial in range(max(1, self.repeat // 2)):
            path = f"/bench/l-rw-{trial}.db"
            start_at = time.time() * 1000 + 1500
            outs = [json.loads(x) for x in await asyncio.gather(*(
                t.run(cases.READ_WHILE_WRITING.format(path=path, start_at=start_at, ms=3000,
                                                      write=k == 1), timeout=120)
                for k, t in enumerate(tabs[:2])))]
            read_lat += outs[0]["lat"]
            writes += outs[1]["writes"]
        await self.close(tabs)
        r = self.results["lending"] = {
            "point_select_ms": point, "single_commits_per_s": median(single),
            "four_tabs_commits_per_s": median(multi), "four_tabs_p95_ms": p95(lat4),
            "lost": lost, "reader_p50_ms": median(read_lat), "reader_p95_ms": p95(read_lat),
            "writer_commits_per_s": writes / (3 * max(1, self.repeat // 2))}
        self.row("12", "[lending] point select, db.get_optional",
                 f"{point * 1000:.0f} us", "", "(vs figure 9)")
        self.row("12", "[lending] 1 tab x 1000 autocommit", f"{r['single_commits_per_s']:.0f} /s",
                 "1.00", "(vs figure 9)")
        self.row("12", "[lending] 4 tabs x 250 interleaved, aggregate",
                 f"{r['four_tabs_commits_per_s']:.0f} /s",
                 f"{r['four_tabs_commits_per_s'] / r['single_commits_per_s']:.2f}x",
                 "(vs figure 9)")
        self.row("12", "[lending] p95 write latency, 4 tabs", f"{r['four_tabs_p95_ms']:.0f} ms",
                 "", "(report)")
        self.row("12", "[lending] rows lost", str(lost), "", "0")
        self.row("12", "[lending] reader point select while a tab writes, p50 / p95",
                 f"{r['reader_p50_ms']:.2f} / {r['reader_p95_ms']:.2f} ms", "", "(report)")
        self.row("12", "[lending]   the writer meanwhile", f"{r['writer_commits_per_s']:.0f} /s",
                 "", "(report)")

    async def engines(self) -> None:
        """Figure 13: every engine here, through the public API, each tab choosing how to
        hold the files (Chromium: shared handles; Firefox, Debian's firefox-esr over
        WebDriver BiDi: lending): point select, one tab's autocommit inserts, three tabs'."""
        results: dict[str, Any] = {}
        async with firefox_context() as firefox:
            for engine, browser in (("chromium", self.context), ("firefox", firefox)):
                bench = Bench(browser, self.url, self.repeat)  # type: ignore[arg-type]
                (tab,) = await bench.tabs(1)
                handles = await tab.run("import tabsqlite_glue as g; str(g.handles)")
                point = median(json.loads(await tab.run(cases.ROUND_TRIP_PY_ONLY.format(
                    n=500, repeat=self.repeat, mode=engine), timeout=600)))
                await bench.close([tab])
                tabs = await bench.tabs(3)
                for t in tabs:
                    await t.run(cases.NOW)
                single, multi = [], []
                for trial in range(max(1, self.repeat // 2)):
                    rate, _ = await bench.writes(tabs[:1], cases.WRITES, 300,
                                                 f"/bench/e-{engine}-{trial}-1.db")
                    single.append(rate)
                    rate, _ = await bench.writes(tabs, cases.WRITES, 200,
                                                 f"/bench/e-{engine}-{trial}-3.db")
                    multi.append(rate)
                await bench.close(tabs)
                version = firefox.version if engine == "firefox" else \
                    f"chromium {self.context.browser.version if self.context.browser else '?'}"
                r = results[engine] = {
                    "version": version, "handles": handles, "point_select_ms": point,
                    "single_commits_per_s": median(single),
                    "three_tabs_commits_per_s": median(multi)}
                self.row("13", f"[{version}, {handles}] point select, get_optional",
                         f"{point * 1000:.0f} us", "", "(report)")
                self.row("13", f"[{version}, {handles}] 1 tab x 300 autocommit",
                         f"{r['single_commits_per_s']:.0f} /s", "1.00", "(report)")
                self.row("13", f"[{version}, {handles}] 3 tabs x 200, aggregate",
                         f"{r['three_tabs_commits_per_s']:.0f} /s",
                         f"{r['three_tabs_commits_per_s'] / r['single_commits_per_s']:.2f}x",
                         "(report)")
        self.results["engines"] = results

    async def sahpool(self) -> None:
        """Figure 3, ceiling: opfs-sahpool (exclusive to one tab), raw JS autocommit."""
        (tab,) = await self.tabs(1)
        await tab.run(cases.PRELUDE)
        ms = json.loads(await tab.run(cases.SAHPOOL.replace("N_ROWS", "1000"), timeout=600))
        rate = 1000 / (ms / 1000)
        self.results["sahpool_commits_per_s"] = rate
        self.row("3", "opfs-sahpool, 1 tab, raw JS autocommit (ceiling)", f"{rate:.0f} /s", "",
                 "(report)")
        await self.close([tab])

    async def latency(self) -> None:
        """Figure 4: commit in tab A -> fresh watch result in tab B."""
        a, b = await self.tabs(2)
        for t in (a, b):
            await t.run(cases.NOW)
        await b.run(cases.WATCH_RECEIVER)
        n = 200
        commits = json.loads(await a.run(cases.WATCH_SENDER.format(n=n, gap=0.04), timeout=600))
        await asyncio.sleep(0.5)
        arrivals = json.loads(await b.run("json.dumps(arrivals)"))
        hops = json.loads(await b.run("json.dumps(hop.to_py())"))
        seen = {}
        for row_id, t in arrivals:
            seen.setdefault(row_id, t)
        watch = [seen[row_id] - t for row_id, t in commits if row_id in seen]
        hop = [arrived - sent for (_, sent), arrived in hops]
        self.results["latency_ms"] = {"watch": watch, "hop": hop,
                                      "missed": n - len(watch)}
        self.row("4", "BroadcastChannel hop, p50 (baseline)", f"{median(hop):.2f} ms", "", "")
        self.row("4", "commit in A -> watch result in B, p50", f"{median(watch):.1f} ms",
                 f"{median(watch) / median(hop):.0f}x hop", "<= 15 ms")
        self.row("4", "commit in A -> watch result in B, p95", f"{p95(watch):.1f} ms", "",
                 "<= 50 ms")
        self.row("4", "commits whose result never arrived", str(n - len(watch)), "", "0")
        await self.close([a, b])

    async def read_while_writing(self) -> None:
        """Figure 10: point selects in tab A every 2 ms while tab B writes without pause, as
        the browser's default runs (log mode in Chromium) and in shared mode."""
        for key, label, query in (("read_while_writing", "", ""),
                                  ("read_while_writing_shared", "[shared mode] ",
                                   "&handles=shared")):
            reader, writer = await self.tabs(2, query=query)
            for t in (reader, writer):
                await t.run(cases.NOW)
            trials = max(1, self.repeat // 2)
            lat: list[float] = []
            writes = 0
            for trial in range(trials):
                path = f"/bench/rw-{key}-{trial}.db"
                start_at = time.time() * 1000 + 1500
                outs = [json.loads(x) for x in await asyncio.gather(*(
                    t.run(cases.READ_WHILE_WRITING.format(path=path, start_at=start_at,
                                                          ms=3000, write=t is writer),
                          timeout=120)
                    for t in (reader, writer)))]
                lat += outs[0]["lat"]
                writes += outs[1]["writes"]
            seconds = 3 * trials
            self.results[key] = {
                "reader_p50_ms": median(lat), "reader_p95_ms": p95(lat), "reads": len(lat),
                "writer_commits_per_s": writes / seconds}
            self.row("10", f"{label}reader point select while a tab writes, p50",
                     f"{median(lat):.2f} ms", "", "<= 2 ms")
            self.row("10", f"{label}reader point select while a tab writes, p95",
                     f"{p95(lat):.2f} ms", "", "<= 10 ms")
            self.row("10", f"  {label}the writer meanwhile", f"{writes / seconds:.0f} /s", "",
                     "(report)")
            await self.close([reader, writer])
        await self.close([reader, writer])

    async def kill(self) -> None:
        """Figure 11: a tab closed inside a transaction whose pages spilled to the file ->
        the next write in another tab (which rolls the hot journal back), from the close."""
        (survivor,) = await self.tabs(1)
        took: list[float] = []
        for trial in range(max(1, self.repeat // 2)):
            path = f"/bench/kill-{trial}.db"
            (victim,) = await self.tabs(1)
            await survivor.run(cases.KILL_SURVIVOR_OPEN.format(path=path))
            await victim.run(cases.KILL_VICTIM.format(path=path))
            await victim.run(SPILLED_TRANSACTION)
            await asyncio.sleep(1.0)  # inside its long statement, pages spilled
            await victim.page.close()
            out = json.loads(await survivor.run(cases.KILL_SURVIVOR_WRITE, timeout=60))
            assert out["left"] == 0 and out["ok"] == "ok", out
            took.append(out["took_s"])
        self.results["kill"] = {"next_write_s": median(took), "raw": took}
        self.row("11", "tab closed mid-transaction -> next write elsewhere",
                 f"{median(took):.2f} s", "", "<= 0.5 s")
        await self.close([survivor])

    async def cold_open(self) -> None:
        """Figure 5: 8 tabs cold-open one file at once, repeated."""
        tabs = await self.tabs(8)
        times: list[float] = []
        ok = 0
        trials = 20
        for trial in range(trials):
            outs = [json.loads(x) for x in await asyncio.gather(*(
                t.run(cases.COLD_OPEN.format(path=f"/cold/t{trial}.db"), timeout=60)
                for t in tabs))]
            ok += sum(1 for o in outs if o[0] is True)
            times += [o[1] for o in outs]
        self.results["cold_open"] = {"success": ok / (8 * trials), "times_ms": times}
        self.row("5", "8 tabs cold-open one file, 20 trials: success", f"{ok}/{8 * trials}", "",
                 "100%")
        self.row("5", "8 tabs cold-open: p95 open time", f"{p95(times):.0f} ms",
                 f"p50 {median(times):.0f}", "<= 1.5 s")
        await self.close(tabs)

    async def trigger_cost(self) -> None:
        """Figure 6: inserts with a persisted diff trigger vs none; tracker drain rate."""
        (tab,) = await self.tabs(1)
        await tab.run(cases.PRELUDE)
        # Three times the rounds: each takes half a second, and single rounds vary by +-50%
        # on a small shared machine (not garbage collection: the same with gc disabled).
        out = json.loads(await tab.run(
            cases.TRIGGER_COST.format(n=5000, repeat=3 * self.repeat), timeout=900))
        plain, trig = median(out["plain"]), median(out["trigger"])
        minimal = median(out["minimal"])
        drain = median(out["drain_rows_per_s"])
        self.results["trigger_cost"] = out
        self.row("6", "5k inserts in a transaction, no trigger (baseline)", f"{plain:.0f} ms",
                 "1.00", "")
        self.row("6", "5k inserts, one persisted diff trigger", f"{trig:.0f} ms",
                 f"{trig / plain:.2f}x", "<= 1.5x")
        one = median(out["trigger_one_statement"])
        self.row("6", "5k rows in one INSERT ... json_each(?), with the trigger",
                 f"{one:.0f} ms", f"{one / plain:.2f}x", "(report)")
        self.row("6", "5k inserts, hand-written 1-column trigger (floor)", f"{minimal:.0f} ms",
                 f"{minimal / plain:.2f}x", "(report)")
        js_plain, js_trig = median(out["js_plain"]), median(out["js_trigger"])
        self.row("6", "  raw JS, no trigger / the same trigger (SQLite's own cost)",
                 f"{js_plain:.0f}/{js_trig:.0f} ms", f"{js_trig / js_plain:.2f}x", "(report)")
        js_const = median(out["js_const_time"])
        self.row("6", "  raw JS, that trigger with a constant for the time (no statement journal)",
                 f"{js_const:.0f} ms", f"{js_const / js_plain:.2f}x", "(report)")
        js_nn, js_nn_const = median(out["js_nn_plain"]), median(out["js_nn_const_time"])
        self.row("6", "  raw JS, NOT NULL column: none / constant-time trigger (journal again)",
                 f"{js_nn:.0f}/{js_nn_const:.0f} ms", f"{js_nn_const / js_nn:.2f}x", "(report)")
        self.row("6", "track_table_diff drain rate", f"{drain:.0f} rows/s", "", "(report)")
        await self.close([tab])

    async def startup(self) -> None:
        """Figure 8: worker start -> ready Database, against bare Pyodide start."""
        rows = []
        for _ in range(self.repeat):
            (tab,) = await self.tabs(1)
            open_ms = json.loads(await tab.run(cases.OPEN_ONLY))
            t = tab.timings
            rows.append({
                "sqlite": t["sqliteReady"] - t["workerStart"],
                "pyodide": t["pyodideReady"] - t["sqliteReady"],
                "wheel": t["tabsqliteReady"] - t["pyodideReady"],
                "open": open_ms,
                "total": t["tabsqliteReady"] - t["workerStart"] + open_ms,
            })
            await self.close([tab])
        med = {k: median([r[k] for r in rows]) for k in rows[0]}
        self.results["startup_ms"] = med | {"raw": rows}
        self.row("8", "bare Pyodide load in the worker (baseline)", f"{med['pyodide']:.0f} ms",
                 "1.00", "")
        self.row("8", "worker start -> ready Database", f"{med['total']:.0f} ms",
                 f"{med['total'] / med['pyodide']:.2f}x", "(report)")
        self.row("8", "  of which sqlite-wasm / wheel+import / open",
                 f"{med['sqlite']:.0f}/{med['wheel']:.0f}/{med['open']:.0f}", "", "")


FIGURES: dict[str, Callable[[Bench], Awaitable[None]]] = {
    "bulk": Bench.bulk,
    "round_trip": Bench.round_trip,
    "contention": Bench.contention,
    "sahpool": Bench.sahpool,
    "peers": Bench.peers,
    "latency": Bench.latency,
    "read_while_writing": Bench.read_while_writing,
    "kill": Bench.kill,
    "lending": Bench.lending,
    "engines": Bench.engines,
    "cold_open": Bench.cold_open,
    "trigger_cost": Bench.trigger_cost,
    "startup": Bench.startup,
}


def build_wheels(out: Path) -> None:
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out),
                    str(ROOT)], check=True, capture_output=True)
    vendor = out / "vendor"
    vendor.mkdir()
    for wheel in (ROOT / "dist" / "vendor").glob("micropip-*.whl"):
        (vendor / wheel.name).write_bytes(wheel.read_bytes())


async def main(only: list[str], repeat: int, vfs: str = "", save: bool = True,
               isolated: bool = False) -> None:
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        build_wheels(wheels)
        server = DevServer(ROOT / "js_glue" / "harness", ROOT / "js_glue", wheels,
                           isolated=isolated).start()
        served = "with COOP/COEP" if isolated else "without COOP/COEP"
        print(f"pages served {served}; each figure in a browser with a fresh on-disk profile")
        bench = None
        try:
            async with async_playwright() as p:
                print(f"{'fig':<4} {'what':<54} {'median':>16} {'ratio':>9} goal")
                for name, fn in FIGURES.items():
                    if only and name not in only:
                        continue
                    async with profile_context(p) as context:
                        bench = Bench(context, server.url, repeat, vfs)
                        await fn(bench)
                    if not save:
                        continue
                    results = load_results()
                    results["figures"][name] = bench.results | {"served": served}
                    set_rows(results, name, bench.rows)
                    save_results(results)
        finally:
            server.stop()
    if save:
        results = load_results()
        results["goals"] = goals.check(results["figures"])
        save_results(results)
        print(goals.table(results["goals"]))
    if not only or "cpython" in only:
        rows, data = await cpython_cases.run(repeat)
        for r in rows:
            print(f"{r[0]:<4} {r[1]:<54} {r[2]:>16} {r[3]:>9} {r[4]}", flush=True)
        if save:
            results = load_results()
            results["figures"]["cpython"] = data
            set_rows(results, "cpython", rows)
            save_results(results)
    if save:
        await chart.draw(load_results())
    wrote = "wrote bench/results.json and results.png" if save else "saved nothing"
    print(f"done in {time.time() - started:.0f} s; {wrote}")


def load_results() -> dict[str, Any]:
    path = OUT / "results.json"
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    return {"figures": {}, "rows": []}


def set_rows(results: dict[str, Any], bench: str, rows: list[tuple[str, ...]]) -> None:
    """Replace one benchmark's rows (several benchmarks can report on one figure)."""
    by_bench = results.setdefault("rows_by_bench", {})
    by_bench[bench] = [list(r) for r in rows]
    names = [*FIGURES, "cpython"]
    results["rows"] = [r for name in names for r in by_bench.get(name, [])]


def save_results(results: dict[str, Any]) -> None:
    results["machine"] = {"cores": __import__("os").cpu_count(), "when": time.ctime()}
    (OUT / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(FIGURES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--vfs", default="", help="the tabs' VFS (default: theirs: tabsqlite "
                        "where readwrite-unsafe handles exist, else opfs)")
    parser.add_argument("--no-save", action="store_true", help="print only (a comparison run)")
    parser.add_argument("--isolated", action="store_true",
                        help="serve the pages with COOP/COEP (needed by --vfs opfs)")
    args = parser.parse_args()
    asyncio.run(main([x for x in args.only.split(",") if x], args.repeat, args.vfs,
                     not args.no_save, args.isolated))
