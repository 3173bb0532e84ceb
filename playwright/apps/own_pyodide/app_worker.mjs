// The app's own worker: its Pyodide, tabsqlite installed with micropip, Python run on request.
import { pyodideWithTabsqlite, run } from "./install.mjs";

const ready = pyodideWithTabsqlite();
ready.then(() => self.postMessage({ type: "installed" }),
           (e) => console.error("install failed", e));
self.onmessage = async ({ data }) => {
  try {
    self.postMessage({ id: data.id, value: await run(await ready, data.code) });
  } catch (e) {
    self.postMessage({ id: data.id, error: String(e && e.message || e) });
  }
};
