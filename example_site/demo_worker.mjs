// The demo's worker, as any Pyodide app has one: its own Pyodide, micropip, the tabsqlite
// wheel installed from this site, then app.py. The page sees progress, then app.py's posts;
// it calls app.py's functions with {type: "call", fn, args}.
import { loadPyodide } from "/pyodide/pyodide.mjs";

const progress = (step, text) => self.postMessage({ type: "progress", step, text });
let pyodide = null;

async function start(tabName) {
  const started = performance.now();
  progress(1, "Loading Python (Pyodide)…");
  pyodide = await loadPyodide({ indexURL: new URL("/pyodide/", location.origin).href });
  progress(2, "Installing tabsqlite with micropip…");
  const wheels = await (await fetch("/wheels/index.json")).json();
  await pyodide.loadPackage(new URL(wheels.micropip, location.origin).href,
                            { messageCallback: () => {} });
  await pyodide.pyimport("micropip").install(new URL(wheels.tabsqlite, location.origin).href);
  progress(3, "Opening the shared database…");
  const source = await (await fetch("/app.py")).text();
  pyodide.globals.set("TAB_NAME", tabName);
  await pyodide.runPythonAsync(source, { filename: "app.py" });
  self.postMessage({ type: "started", ms: Math.round(performance.now() - started) });
}

self.onmessage = async ({ data }) => {
  if (data.type === "start") {
    try {
      await start(data.tabName);
    } catch (e) {
      self.postMessage({ type: "failed", error: String(e && e.message || e) });
    }
  } else if (data.type === "call") {
    try {
      await pyodide.globals.get(data.fn)(...data.args);
    } catch (e) {
      self.postMessage({ type: "error", error: String(e && e.message || e) });
    }
  }
};
