import { check } from "./check.mjs";

check("worker").then((value) => self.postMessage({ value }),
                     (e) => self.postMessage({ error: String(e && e.message || e) }));
