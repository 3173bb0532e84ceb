"""Benchmark bodies that run inside browser tabs (Python in the tab, raw JS via ``run_js``).

Each constant is Python source sent to a tab with ``BrowserTab.run``; it returns JSON.
The raw baseline drives sqlite-wasm's oo1 API from JS in the same worker and VFS.
"""

PRELUDE = """
import asyncio, json, time, statistics
import tabsqlite, tabsqlite_glue as glue
from pyodide.code import run_js

# The raw baseline opens its file like the library does: same VFS, flags and page size.
from tabsqlite.runtimes.pyodide import PyodideRuntime
PAGE_SIZE = PyodideRuntime.options.page_size or 0  # 0: sqlite-wasm's default
VFS = str(glue.vfs)  # the one the library uses in this tab
js_open_raw = run_js('''(sqlite3, path, pageSize, vfs, logged) => {
  const flags = vfs === 'opfs' ? '?vfs=opfs&opfs-unlock-asap=1' : '?vfs=' + vfs;
  const db = new sqlite3.oo1.DB({filename: 'file:' + path + flags, flags: 'c'});
  if (vfs !== 'opfs') db.exec('PRAGMA temp_store=MEMORY');
  if (logged) db.exec('PRAGMA journal_mode=MEMORY');  // (as the library: the log is the journal)
  if (pageSize) db.exec('PRAGMA page_size=' + pageSize);
  return db;
}''')
async def js_open(sqlite3, path, vfs=None):
    vfs = vfs or VFS
    if vfs == "tabsqlite":
        await glue.prepareFile(path)  # the VFS's handles, as the library's open does
    return js_open_raw(sqlite3, path, PAGE_SIZE, vfs,
                       vfs == "tabsqlite" and str(glue.handles) == "log")

js_bulk = run_js('''(sqlite3, db, n) => {
  db.exec('DROP TABLE IF EXISTS t');
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL)');
  const t0 = performance.now();
  db.exec('BEGIN');
  const st = db.prepare('INSERT INTO t(a, b, c) VALUES (?, ?, ?)');
  for (let i = 0; i < n; i++) st.bind([i, 'row ' + i, i * 0.5]).stepReset();
  st.finalize();
  db.exec('COMMIT');
  return performance.now() - t0;
}''')

js_point_select = run_js('''(sqlite3, db, n) => {
  const st = db.prepare('SELECT b FROM t WHERE id = ?');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) { st.bind([1 + (i % 1000)]); st.step(); st.get(0); st.reset(); }
  const ms = performance.now() - t0;
  st.finalize();
  return ms;
}''')

js_single_inserts = run_js('''(sqlite3, db, n) => {
  const st = db.prepare('INSERT INTO t(a, b, c) VALUES (?, ?, ?)');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) st.bind([i, 'single', 0.5]).stepReset();
  const ms = performance.now() - t0;
  st.finalize();
  return ms;
}''')

def rows(n):
    return [[i, f"row {i}", i * 0.5] for i in range(n)]

T = "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL)"

async def fresh(db):
    await db.execute("DROP TABLE IF EXISTS t")
    await db.execute(T)

# SQLite's own cost of the same trigger: raw JS inserts (as in figure 1) on a raw connection,
# with no trigger and with the library's trigger and storage table copied from its schema.
js_trigger_round = run_js('''(sqlite3, db, n, ddl) => {
  db.exec('DROP TABLE IF EXISTS t');
  for (const sql of ddl) db.exec(sql);
  const t0 = performance.now();
  db.exec('BEGIN');
  const st = db.prepare('INSERT INTO t(a, b, c) VALUES (?, ?, ?)');
  for (let i = 0; i < n; i++) st.bind([i, 'row ' + i, 0.5]).stepReset();
  st.finalize();
  db.exec('COMMIT');
  const ms = performance.now() - t0;
  db.exec('DROP TABLE t');
  for (const sql of ddl) {
    const m = /^CREATE TABLE ("?[^ (]+"?)/.exec(sql);
    if (m && m[1] !== 't') db.exec('DROP TABLE ' + m[1]);
  }
  return ms;
}''')
"""

BULK = """
N = {n}
out = {{"js": [], "execute_many": [], "execute_loop": []}}
raw = await js_open(glue.sqlite3, "/bench/raw.db")
db = await tabsqlite.open_database("/bench/lib.db")
data = rows(N)
for rep in range({repeat} + 1):  # the first round warms up (wasm tiers up) and is not kept
    took = {{"js": js_bulk(glue.sqlite3, raw, N)}}
    await fresh(db)
    t0 = time.perf_counter()
    async with db.write_transaction() as tx:
        await tx.execute_many("INSERT INTO t(a, b, c) VALUES (?, ?, ?)", data)
    took["execute_many"] = (time.perf_counter() - t0) * 1000
    await fresh(db)
    t0 = time.perf_counter()
    async with db.write_transaction() as tx:
        for r in data:
            await tx.execute("INSERT INTO t(a, b, c) VALUES (?, ?, ?)", r)
    took["execute_loop"] = (time.perf_counter() - t0) * 1000
    for k, ms in took.items():
        if rep:
            out[k].append(ms)
assert (await db.get("SELECT count(*) AS n FROM t"))["n"] == N
raw.close()
await db.close()
json.dumps(out)
"""

ROUND_TRIP = """
N = {n}
M = {m}
out = {{"js_select": [], "py_select": [], "js_insert": [], "py_insert": []}}
raw = await js_open(glue.sqlite3, "/bench/rt_raw.db")
js_bulk(glue.sqlite3, raw, 1000)
db = await tabsqlite.open_database("/bench/rt_lib.db")
await fresh(db)
await db.execute_many("INSERT INTO t(a, b, c) VALUES (?, ?, ?)", rows(1000))
for _ in range({repeat}):
    out["js_select"].append(js_point_select(glue.sqlite3, raw, N) / N)
    t0 = time.perf_counter()
    for i in range(N):
        await db.get_optional("SELECT b FROM t WHERE id = ?", [1 + i % 1000])
    out["py_select"].append((time.perf_counter() - t0) * 1000 / N)
    out["js_insert"].append(js_single_inserts(glue.sqlite3, raw, M) / M)
    t0 = time.perf_counter()
    for i in range(M):
        await db.execute("INSERT INTO t(a, b, c) VALUES (?, ?, ?)", [i, "single", 0.5])
    out["py_insert"].append((time.perf_counter() - t0) * 1000 / M)
raw.close()
await db.close()
json.dumps(out)
"""

# Main-thread mode has no direct sqlite3 handle: the same Python loop, compared across modes.
ROUND_TRIP_PY_ONLY = """
import json, time, tabsqlite
N = {n}
db = await tabsqlite.open_database("/bench/rt_mode_{mode}.db")
await db.execute("DROP TABLE IF EXISTS t")
await db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL)")
await db.execute_many("INSERT INTO t(a, b, c) VALUES (?, ?, ?)",
                      [[i, f"row {{i}}", 0.5] for i in range(1000)])
out = []
for _ in range({repeat}):
    t0 = time.perf_counter()
    for i in range(N):
        await db.get_optional("SELECT b FROM t WHERE id = ?", [1 + i % 1000])
    out.append((time.perf_counter() - t0) * 1000 / N)
await db.close()
json.dumps(out)
"""

NOW = """
import js
def now_ms():
    return js.performance.timeOrigin + js.performance.now()
"""

WRITES = """
import asyncio, json, time, tabsqlite
N = {n}
db = await tabsqlite.open_database({path!r})
for pragma in {journal!r}.split(";"):  # e.g. "journal_mode=persist;synchronous=NORMAL"
    if pragma:
        await db.execute("PRAGMA " + pragma)
await db.execute("CREATE TABLE IF NOT EXISTS w(id INTEGER PRIMARY KEY, tab TEXT, n INTEGER)")
while now_ms() < {start_at}:  # every tab has opened: start together
    await asyncio.sleep(0.002)
lat = []
start = now_ms()
for i in range(N):
    t0 = time.perf_counter()
    await db.execute("INSERT INTO w(tab, n) VALUES (?, ?)", [{tag!r}, i])
    lat.append((time.perf_counter() - t0) * 1000)
end = now_ms()
await db.close()
json.dumps({{"start": start, "end": end, "lat": lat}})
"""

# Figure 10: point selects in one tab while another tab writes without pause. The reader
# reads every 2 ms (a busy app, not a spin loop) for the same span as the writer writes.
READ_WHILE_WRITING = """
import asyncio, json, time, tabsqlite
db = await tabsqlite.open_database({path!r})
await db.execute("CREATE TABLE IF NOT EXISTS w(id INTEGER PRIMARY KEY, tab TEXT, n INTEGER)")
await db.execute_many("INSERT INTO w(tab, n) VALUES ('seed', ?)", [[i] for i in range(100)])
while now_ms() < {start_at}:
    await asyncio.sleep(0.002)
lat, writes = [], 0
end = now_ms() + {ms}
while now_ms() < end:
    t0 = time.perf_counter()
    if {write}:
        await db.execute("INSERT INTO w(tab, n) VALUES ('writer', ?)", [writes])
        writes += 1
    else:
        await db.get_optional("SELECT n FROM w WHERE id = ?", [1 + len(lat) % 100])
        lat.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.002)
await db.close()
json.dumps({{"lat": lat, "writes": writes}})
"""

# Figure 11: a tab dies inside a spilled transaction; the survivor's next write.
KILL_SURVIVOR_OPEN = """
import json, time, tabsqlite
db = await tabsqlite.open_database({path!r})
await db.execute("CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, tag TEXT, n INTEGER)")
"""

KILL_VICTIM = """
import tabsqlite
db = await tabsqlite.open_database({path!r})
"""

KILL_SURVIVOR_WRITE = """
t0 = time.monotonic()
await db.execute("INSERT INTO items(tag, n) VALUES ('after', 1)")
took = time.monotonic() - t0
left = (await db.get("SELECT count(*) AS n FROM items WHERE tag != 'after'"))["n"]
ok = (await db.get("PRAGMA integrity_check"))["integrity_check"]
await db.close()
json.dumps({"took_s": took, "left": left, "ok": ok})
"""

# The same writes from raw JS on sqlite-wasm, each inside a Web Lock: what the hand-over
# between tabs costs without tabsqlite.
# Runs after PRELUDE (its js_open makes the file like the library does).
RAW_WRITES = """
f = run_js('''async (db, path, n, tag, startAt) => {{
  const lock = 'raw-bench' + path;
  await navigator.locks.request(lock, () =>
    db.exec('CREATE TABLE IF NOT EXISTS w(id INTEGER PRIMARY KEY, tab TEXT, n INTEGER)'));
  while (performance.timeOrigin + performance.now() < startAt) {{
    await new Promise((r) => setTimeout(r, 2));
  }}
  const st = db.prepare('INSERT INTO w(tab, n) VALUES (?, ?)');
  const lat = [];
  const start = performance.timeOrigin + performance.now();
  for (let i = 0; i < n; i++) {{
    const t0 = performance.now();
    await navigator.locks.request(lock, () => {{ st.bind([tag, i]).stepReset(); }});
    lat.push(performance.now() - t0);
  }}
  const end = performance.timeOrigin + performance.now();
  st.finalize();
  db.close();
  return JSON.stringify({{start, end, lat}});
}}''')
await f(await js_open(glue.sqlite3, {path!r}), {path!r}, {n}, {tag!r}, {start_at})
"""

COUNT = """
import json, tabsqlite
db = await tabsqlite.open_database({path!r})
r = await db.get("SELECT count(*) AS c FROM w")
ok = (await db.get("PRAGMA integrity_check"))["integrity_check"]
await db.close()
json.dumps([r["c"], ok])
"""

SAHPOOL = """
import json
from pyodide.code import run_js
f = run_js('''async (sqlite3, n) => {
  const pool = await sqlite3.installOpfsSAHPoolVfs({ name: 'bench-sahpool' });
  const db = new pool.OpfsSAHPoolDb('/sah.db');
  db.exec('CREATE TABLE IF NOT EXISTS w(id INTEGER PRIMARY KEY, tab TEXT, n INTEGER)');
  const st = db.prepare('INSERT INTO w(tab, n) VALUES (?, ?)');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) st.bind(['s', i]).stepReset();
  const ms = performance.now() - t0;
  st.finalize(); db.close();
  return ms;
}''')
ms = await f(glue.sqlite3, N_ROWS)
json.dumps(ms)
"""

WATCH_RECEIVER = """
import asyncio, json, tabsqlite
from pyodide.code import run_js
db = await tabsqlite.open_database("/bench/latency.db")
await db.execute("CREATE TABLE IF NOT EXISTS l(id INTEGER PRIMARY KEY, t REAL)")
await db.execute("CREATE TABLE IF NOT EXISTS unrelated(x)")
arrivals = []
hop = run_js('''(() => { const got = []; const bc = new BroadcastChannel('bench-hop');
  bc.onmessage = (e) => got.push([e.data, performance.timeOrigin + performance.now()]);
  return got; })()''')
w = db.watch("SELECT max(id) AS id FROM l")
await anext(w)
async def follow():
    async for rows in w:
        arrivals.append([rows[0]["id"], now_ms()])
follower = asyncio.ensure_future(follow())
"ok"
"""

WATCH_SENDER = """
import asyncio, json, tabsqlite
from pyodide.code import run_js
db = await tabsqlite.open_database("/bench/latency.db")
post = run_js("(() => {{ const bc = new BroadcastChannel('bench-hop'); return (x) => "
              "bc.postMessage([x, performance.timeOrigin + performance.now()]); }})()")
commits = []
for i in range({n}):
    r = await db.execute("INSERT INTO l(t) VALUES (?)", [now_ms()])
    commits.append([r.last_insert_rowid, now_ms()])
    post(i)
    await asyncio.sleep({gap})
json.dumps(commits)
"""

COLD_OPEN = """
import json, time, tabsqlite
t0 = time.perf_counter()
try:
    db = await tabsqlite.open_database({path!r}, open_timeout=20)
    await db.execute("CREATE TABLE IF NOT EXISTS c(x)")
    ok = True
except Exception as e:
    ok = repr(e)
ms = (time.perf_counter() - t0) * 1000
if ok is True:
    await db.close()
json.dumps([ok, ms])
"""

# Runs after PRELUDE (its imports, T, fresh, js_open and js_trigger_round).
TRIGGER_COST = """
from pyodide.ffi import to_js
from tabsqlite.names import storage_table
N = {n}
db = await tabsqlite.open_database("/bench/trigger.db")
raw = await js_open(glue.sqlite3, "/bench/trigger_raw.db")
out = {{"plain": [], "trigger": [], "minimal": [], "drain_rows_per_s": [], "js_plain": [],
       "js_trigger": [], "js_const_time": [], "js_nn_plain": [], "js_nn_const_time": [],
       "trigger_one_statement": []}}
NN = T.replace("a INTEGER", "a INTEGER NOT NULL")
def variant(ddl, old, new):  # the copied DDL with one piece swapped (which must be there)
    assert sum(old in sql for sql in ddl) == 1, (old, ddl)
    return [sql.replace(old, new) for sql in ddl]
data = [[i, f"row {{i}}", 0.5] for i in range(N)]
for rep in range({repeat} + 1):  # the first round warms up (wasm tiers up) and is not kept
    for kind in ("plain", "trigger", "minimal", "trigger_one_statement"):
        await fresh(db)
        await db.execute("DROP TABLE IF EXISTS minimal_log")
        trig = None
        if kind == "minimal":  # the floor: a hand-written trigger copying only the row id
            await db.execute("CREATE TABLE minimal_log(id)")
            await db.execute("CREATE TRIGGER minimal AFTER INSERT ON t "
                             "BEGIN INSERT INTO minimal_log VALUES (NEW.id); END")
        if kind in ("trigger", "trigger_one_statement"):
            trig = await db.triggers.create_diff_trigger(
                source="t", destination="t_diff", when={{"INSERT": None}})
        if kind == "trigger":
            copied = [r["sql"] for r in await db.get_all(
                "SELECT sql FROM sqlite_schema WHERE type IN ('table', 'trigger') "
                "AND tbl_name IN ('t', ?) ORDER BY type, name", [storage_table("t_diff")])]
        t0 = time.perf_counter()
        async with db.write_transaction() as tx:
            if kind == "trigger_one_statement":  # the README's tip for bulk loads
                await tx.execute("INSERT INTO t(a, b, c) SELECT value->>0, value->>1, "
                                 "value->>2 FROM json_each(?)", [json.dumps(data)])
            else:
                for r in data:
                    await tx.execute("INSERT INTO t(a, b, c) VALUES (?, ?, ?)", r)
        if rep:
            out[kind].append((time.perf_counter() - t0) * 1000)
        assert (await db.get("SELECT count(*) AS n FROM t"))["n"] == N
        if trig is not None:
            await trig.dispose()
    # Where SQLite's cost goes: any function call in a trigger (here the time) makes each
    # statement inside a transaction keep a statement journal (a copy of every page it
    # touches); so does a NOT NULL or UNIQUE column, with no function at all.
    const_time = variant(copied, "julianday('now')", "0.0")
    for kind, ddl in (("js_plain", [T]), ("js_trigger", copied), ("js_const_time", const_time),
                      ("js_nn_plain", [NN]), ("js_nn_const_time", variant(const_time, T, NN))):
        ms = js_trigger_round(glue.sqlite3, raw, N, to_js(ddl))
        if rep:
            out[kind].append(ms)
    if not rep:
        continue
    got = 0
    done = asyncio.Event()
    async def on_change(ctx):
        global got
        got += len(ctx.diff_rows())
        if got >= N:
            done.set()
    tracker = await db.triggers.track_table_diff(source="t", when={{"UPDATE": None}},
                                                 on_change=on_change)
    t0 = time.perf_counter()
    await db.execute("UPDATE t SET a = a + 1")
    await asyncio.wait_for(done.wait(), 60)
    out["drain_rows_per_s"].append(N / (time.perf_counter() - t0))
    await tracker.close()
raw.close()
await db.close()
json.dumps(out)
"""

OPEN_ONLY = """
import json, time, tabsqlite
t0 = time.perf_counter()
db = await tabsqlite.open_database("/bench/startup.db")
ms = (time.perf_counter() - t0) * 1000
await db.close()
json.dumps(ms)
"""
