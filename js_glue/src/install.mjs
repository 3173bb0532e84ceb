// Installing the tabsqlite wheel into a Pyodide, shared by both modes.
//
// tabsqlite has no dependencies, so its wheel is unpacked straight into site-packages: no
// micropip (loading and importing micropip took most of a second of every tab's start). The
// wheel's bytes are fetched while Pyodide loads. micropip is loaded only when the page asks
// for it (`micropipURL`), for its own packages.

async function fetchBytes(url) {
  if (!url) throw new Error("startTab needs wheelURL: the URL of the tabsqlite wheel");
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch the tabsqlite wheel ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Start fetching the wheel at `url` (to run while Pyodide loads); resolves to its bytes.
 * A failure is raised where the promise is awaited, not reported as unhandled before. */
export function fetchWheel(url) {
  const bytes = fetchBytes(url);
  bytes.catch(() => {});
  return bytes;
}

/** Unpack the wheel (bytes from `fetchWheel`) into `pyodide`'s site-packages, then load
 * micropip from `micropipURL` if one is given. */
export async function installWheel(pyodide, wheelBytes, micropipURL) {
  const site = pyodide.runPython("import sysconfig; sysconfig.get_path('purelib')");
  pyodide.unpackArchive(wheelBytes, "wheel", { extractDir: site });
  pyodide.runPython("import importlib; importlib.invalidate_caches()");
  if (micropipURL) await pyodide.loadPackage(micropipURL, { messageCallback: () => {} });
}
