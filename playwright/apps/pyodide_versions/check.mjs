// Load the Pyodide named by ?v= (served at /pyodides/<v>/), install the tabsqlite wheel with
// Pyodide's own loadPackage (no micropip: older Pyodides pin other micropips), then open a
// database, write and read. Run on the page and in a worker (check_worker.mjs).
const CODE = `
import json, sys, tabsqlite
db = await tabsqlite.open_database("versions.db")
await db.execute("CREATE TABLE IF NOT EXISTS t(where_ TEXT)")
await db.execute("INSERT INTO t VALUES (?)", [PLACE])
rows = await db.get_all("SELECT where_ FROM t WHERE where_ = ?", [PLACE])
await db.close()
json.dumps({"python": sys.version.split()[0], "rows": rows})
`;

export async function check(where) {
  const version = new URLSearchParams(self.location.search).get("v");
  const base = new URL(`/pyodides/${version}/`, self.location.origin).href;
  const { loadPyodide } = await import(`${base}pyodide.mjs`);
  const pyodide = await loadPyodide({ indexURL: base });
  const wheels = await (await fetch("/wheels/index.json")).json();
  await pyodide.loadPackage(new URL(wheels.tabsqlite, self.location.origin).href);
  return JSON.parse(await pyodide.runPythonAsync(CODE.replaceAll("PLACE", JSON.stringify(where))));
}
