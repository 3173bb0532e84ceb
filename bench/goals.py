"""The storage engine's goals (issue 15), checked against one run's figures.

``check(figures)`` reads ``bench/results.json``'s ``figures`` and returns one entry per goal:
its figure, what it measures, the value, the goal and whether it was met (``None`` when the
run did not measure it: a figure left out with ``--only``, or a mode not built).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stats import median, p95

Figures = dict[str, Any]

WRITE_AHEAD = "wa-sqlite OPFSWriteAheadVFS"
COOP = "wa-sqlite OPFSCoopSyncVFS"
#: How long the bench gives a peer's 4 tabs x 250 inserts (bench/run.py, figure 9).
PEER_LIMIT_S = 120


def _get(figures: Figures, *path: str) -> Any:
    value: Any = figures
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _or_none(stat: Callable[[list[float]], float], values: list[float] | None) -> float | None:
    return stat(values) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b in (None, 0) else a / b  # type: ignore[operator]


def _thousand(ms: float | None) -> float | None:
    return None if ms is None else ms * 1000


def _lending_four_tabs(figures: Figures) -> float | None:
    """Lending mode's 4-tab rate over OPFSCoopSyncVFS's; a peer that did not finish within
    the bench's limit is counted at the most it could have reached (1000 rows in it)."""
    ours = _get(figures, "lending", "lending", "four_tabs_commits_per_s")
    peer = _get(figures, "peers", "peers", COOP)
    if ours is None or not isinstance(peer, dict):
        return None
    rate = peer.get("four_tabs_commits_per_s")
    if rate is None and peer.get("timed_out"):
        rate = 1000 / PEER_LIMIT_S
    return _ratio(ours, rate)


def _trigger_overhead(figures: Figures) -> float | None:
    """Our persisted trigger's added cost over SQLite's own cost of the same trigger."""
    t = _get(figures, "trigger_cost", "trigger_cost")
    if not t:
        return None
    ours = median(t["trigger"]) - median(t["plain"])
    sqlite = median(t["js_trigger"]) - median(t["js_plain"])
    return ours / sqlite if sqlite > 0 else None


# (figure, what, unit, value from the figures, test of the value, the goal as text)
GOALS: list[tuple[str, str, str, Callable[[Figures], Any], Callable[[Any], bool], str]] = [
    ("2", "point select by primary key from Python, p50", "ms",
     lambda f: _get(f, "round_trip", "round_trip_ms", "py_select"),
     lambda v: v <= 0.5, "<= 0.5 ms"),
    ("2", "point select from Python, stretch", "ms",
     lambda f: _get(f, "round_trip", "round_trip_ms", "py_select"),
     lambda v: v <= 0.1, "<= 0.1 ms"),
    ("3", "1 tab autocommit inserts vs OPFSWriteAheadVFS raw JS", "x",
     lambda f: _ratio(_get(f, "contention", "contention", "tabsqlite", "single_commits_per_s"),
                      _get(f, "peers", "peers", WRITE_AHEAD, "single_commits_per_s")),
     lambda v: v >= 1.0, ">= 1.0x"),
    ("3", "4 tabs x 250 autocommit, aggregate vs OPFSWriteAheadVFS raw JS", "x",
     lambda f: _ratio(
         _get(f, "contention", "contention", "tabsqlite", "four_tabs_commits_per_s"),
         _get(f, "peers", "peers", WRITE_AHEAD, "four_tabs_commits_per_s")),
     lambda v: v >= 1.0, ">= 1.0x"),
    ("3", "4 tabs x 250 autocommit, aggregate vs our one tab", "x",
     lambda f: _ratio(
         _get(f, "contention", "contention", "tabsqlite", "four_tabs_commits_per_s"),
         _get(f, "contention", "contention", "tabsqlite", "single_commits_per_s")),
     lambda v: v >= 0.8, ">= 0.8x"),
    ("3", "4 tabs p95 write latency vs raw JS on our VFS with a Web Lock", "x",
     lambda f: _ratio(_get(f, "contention", "contention", "tabsqlite", "four_tabs_p95_ms"),
                      _get(f, "contention", "contention", "raw JS + Web Lock",
                           "four_tabs_p95_ms")),
     lambda v: v <= 1.2, "<= 1.2x"),
    ("3", "rows lost, 4 tabs", "rows",
     lambda f: _get(f, "contention", "contention", "tabsqlite", "lost"),
     lambda v: v == 0, "0"),
    *[("10", f"reader point select while another tab writes, {stat}", "ms",
       (lambda f, stat=stat:
        _get(f, "read_while_writing", "read_while_writing", f"reader_{stat}_ms")),
       (lambda v, limit=limit: v <= limit), f"<= {limit} ms")
      for stat, limit in (("p50", 2), ("p95", 10))],
    ("12", "lending mode point select vs OPFSCoopSyncVFS raw JS (its time / ours)", "x",
     lambda f: _ratio(_get(f, "peers", "peers", COOP, "point_select_us"),
                      _thousand(_get(f, "lending", "lending", "point_select_ms"))),
     lambda v: v >= 1.0, ">= 1.0x"),
    ("12", "lending mode 1 tab autocommit vs OPFSCoopSyncVFS raw JS", "x",
     lambda f: _ratio(_get(f, "lending", "lending", "single_commits_per_s"),
                      _get(f, "peers", "peers", COOP, "single_commits_per_s")),
     lambda v: v >= 1.0, ">= 1.0x"),
    ("12", "lending mode 4 tabs x 250 vs OPFSCoopSyncVFS raw JS", "x",
     _lending_four_tabs,
     lambda v: v >= 1.0, ">= 1.0x"),
    ("12", "lending mode rows lost, 4 tabs", "rows",
     lambda f: _get(f, "lending", "lending", "lost"),
     lambda v: v == 0, "0"),
    ("11", "tab killed mid-transaction -> next write in another tab", "s",
     lambda f: _get(f, "kill", "kill", "next_write_s"),
     lambda v: v <= 0.5, "<= 0.5 s"),
    ("1", "10k inserts, execute_many vs raw JS on our VFS", "x",
     lambda f: _ratio(_get(f, "bulk", "bulk_insert_10k", "execute_many"),
                      _get(f, "bulk", "bulk_insert_10k", "js")),
     lambda v: v <= 1.2, "<= 1.2x"),
    ("1", "10k inserts, per-row loop vs raw JS on our VFS", "x",
     lambda f: _ratio(_get(f, "bulk", "bulk_insert_10k", "execute_loop"),
                      _get(f, "bulk", "bulk_insert_10k", "js")),
     lambda v: v <= 1.6, "<= 1.6x"),
    ("4", "commit in A -> watch result in B, p50", "ms",
     lambda f: _or_none(median, _get(f, "latency", "latency_ms", "watch")),
     lambda v: v <= 5, "<= 5 ms"),
    ("4", "commit in A -> watch result in B, p95", "ms",
     lambda f: _or_none(p95, _get(f, "latency", "latency_ms", "watch")),
     lambda v: v <= 20, "<= 20 ms"),
    ("5", "8 tabs cold open, 20 trials: success", "share",
     lambda f: _get(f, "cold_open", "cold_open", "success"),
     lambda v: v == 1.0, "100%"),
    ("5", "8 tabs cold open, p95", "ms",
     lambda f: _or_none(p95, _get(f, "cold_open", "cold_open", "times_ms")),
     lambda v: v <= 1000, "<= 1000 ms"),
    ("6", "persisted diff trigger's cost vs SQLite's own cost of it in raw JS", "x",
     _trigger_overhead,
     lambda v: v <= 1.1, "<= 1.1x"),
]


def check(figures: Figures) -> list[dict[str, Any]]:
    """Every goal with its value in ``figures`` and whether it was met.

    :param figures: ``results.json``'s ``figures`` (by benchmark name).
    """
    out = []
    for figure, what, unit, value_of, test, goal in GOALS:
        value = value_of(figures)
        out.append({"figure": figure, "what": what, "value": value, "unit": unit,
                    "goal": goal, "met": None if value is None else bool(test(value))})
    return out


def table(goals: list[dict[str, Any]]) -> str:
    """The goals as a Markdown table.

    :param goals: what :func:`check` returned.
    """
    lines = ["| fig | goal | value | target | met |", "|---|---|---|---|---|"]
    for g in goals:
        v = g["value"]
        shown = "not measured" if v is None else (
            f"{v:.2f} {g['unit']}" if isinstance(v, float) else f"{v} {g['unit']}")
        met = {True: "yes", False: "**no**", None: "-"}[g["met"]]
        lines.append(f"| {g['figure']} | {g['what']} | {shown} | {g['goal']} | {met} |")
    return "\n".join(lines)
