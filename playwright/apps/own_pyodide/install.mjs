// What any Pyodide app does to get tabsqlite: load its Pyodide, then micropip, then the
// wheel (all served by the app's own static host; wheels/index.json names the files).
// With `?bare` in the page's address, tabsqlite is left for the app's Python to install.
import { loadPyodide } from "./pyodide/pyodide.mjs";

export async function pyodideWithTabsqlite() {
  const bare = new URLSearchParams(self.location.search).has("bare");
  const base = new URL(".", import.meta.url);
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", base).href });
  const wheels = await (await fetch(new URL("wheels/index.json", base))).json();
  await pyodide.loadPackage("micropip");
  if (!bare) await pyodide.pyimport("micropip").install(new URL(wheels.tabsqlite, base).href);
  return pyodide;
}

// Run Python and give back a plain value (dicts as objects; what has no JS form, its str).
export async function run(pyodide, code) {
  const value = await pyodide.runPythonAsync(code);
  if (value && typeof value.toJs === "function") {
    let plain;
    try {
      plain = value.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false });
    } catch {
      plain = String(value);
    }
    value.destroy();
    return plain;
  }
  return value;
}
