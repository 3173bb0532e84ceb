// Python values (PyProxy) to plain JS values that can be posted or returned to the page.

// Convert a PyProxy with toJs (dicts become objects); anything toJs can't carry becomes its
// str(). With `destroy`, the proxy is released (not for borrowed arguments of a call).
export function toPlain(value, destroy = true) {
  if (value && typeof value.toJs === "function") {
    let converted;
    try {
      converted = value.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false });
    } catch {
      converted = String(value);
    }
    if (destroy) value.destroy?.();
    return converted;
  }
  return value;
}
