// Cross-tab coordination that works in any context (page or worker): Web Locks and
// BroadcastChannel. Python holds the returned objects and calls back into them.
import { keptLocks } from "./keptlocks.mjs";

// Run `fn()` inside the lock `name`, in the grant callback itself: no task switch
// happens while the lock is held, so the next tab gets it as soon as `fn` returns. Returns
// {promise, cancel}: `promise` resolves to fn's result, or to undefined if `timeoutMs` passed
// before the grant (or, with `ifAvailable`, if someone holds the lock). After `fn` ran,
// `keep(release, grantedAt)` decides: true keeps the lock until `release()` is called (a
// transaction left open, or a lock kept for the next statements), false gives it back at
// once; `grantedAt` is the grant's performance.now().
// `cancel()` withdraws a request not yet granted and returns undefined, or returns fn's
// result if it ran. `finished` settles (never rejects) once the lock is released or the
// request ended without it. Options: `mode` "exclusive" (the default) or "shared"; `ifAvailable`;
// `before()`, run first inside the grant, may return a promise (fn waits for it, the lock
// held) and `letGo()`, run just before the lock goes, whenever that is: the lending VFS
// opens the file's handles in one and closes them in the other. If `before` throws or
// rejects, `fn` does not run, the lock goes, and `promise` rejects. A request first asks
// the tabs that keep the lock to let go (see keptlocks.mjs).
export function runLocked(name, timeoutMs, fn, keep, { mode = "exclusive", ifAvailable = false,
                                                       before = null, letGo = null } = {}) {
  const controller = new AbortController();
  let timer = null;
  let wanting = null; // stops saying we want the lock
  let ran = false;
  let cancelled = false;
  let result;
  const settle = () => {
    if (timer !== null) clearTimeout(timer);
    if (wanting !== null) wanting();
    timer = wanting = null;
  };
  let finished = null; // settles once the browser has the lock back (or never gave it)
  const promise = new Promise((resolve, reject) => {
    const options = { mode };
    if (ifAvailable) {
      options.ifAvailable = true;
    } else {
      options.signal = controller.signal;
      if (timeoutMs >= 0) {
        timer = setTimeout(() => controller.abort(new DOMException("timeout", "TimeoutError")), timeoutMs);
      }
    }
    if (!ifAvailable) wanting = keptLocks.want(name, mode);
    // The statement, once the lock (and what `before` readies) is there.
    const granted = () => {
      if (cancelled) { // granted after cancel (an abort does not undo a grant)
        resolve(undefined);
        return false;
      }
      let failed = null;
      try {
        result = fn();
      } catch (e) {
        failed = e;
      }
      ran = true;
      if (failed) reject(failed);
      else resolve(result);
      return true;
    };
    finished = navigator.locks.request(name, options, (lock) => {
      const grantedAt = performance.now();
      settle();
      if (!lock) { // not available
        resolve(undefined);
        return undefined;
      }
      let held = null;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (letGo !== null) letGo();
        if (held !== null) held();
      };
      // After the statement: hold on (a promise the kept lock's release settles) or go.
      const after = () => {
        if (granted() && keep(release, grantedAt)) {
          return released ? undefined : new Promise((done) => { held = done; });
        }
        if (letGo !== null) letGo();
        return undefined;
      };
      let ready;
      try {
        ready = before === null ? undefined : before();
      } catch (e) {
        if (letGo !== null) letGo();
        reject(e);
        return undefined;
      }
      if (ready === null || ready === undefined) return after();
      return Promise.resolve(ready).then(after, (e) => {
        if (letGo !== null) letGo();
        reject(e);
      });
    }).catch((e) => {
      settle();
      if (e && (e.name === "AbortError" || e.name === "TimeoutError")) resolve(undefined);
      else reject(e);
    });
  });
  return {
    promise,
    finished,
    cancel() {
      if (ran) return result;
      cancelled = true;
      controller.abort(new DOMException("cancelled", "AbortError"));
      return undefined;
    },
  };
}

// Request the exclusive lock `name` and hold it. Returns {promise, cancel, released}:
// `promise` resolves to a release function once granted, or to undefined (None in Python) if
// `timeoutMs` passed first (or if `ifAvailable` and someone holds it). `cancel()` withdraws a
// pending request, or releases a granted lock; `released()` waits for the browser to have it
// back.
export function requestLock(name, timeoutMs, ifAvailable = false) {
  let release = null;
  const request = runLocked(name, timeoutMs, () => () => release(),
                            (r) => { release = r; return true; }, { ifAvailable });
  return {
    promise: request.promise,
    cancel() {
      if (request.cancel() !== undefined) release();
    },
    // Resolves once the lock is back with the browser (after cancel(), or a refusal).
    released: () => request.finished,
  };
}
// Names of the locks held by anyone on this origin.
export async function heldLocks() {
  const state = await navigator.locks.query();
  return (state.held || []).map((l) => l.name);
}

// Who holds the lock `name`: a JSON string {clientId, labels, waiting} (labels: the names,
// after `presencePrefix`, of the locks the same client holds with that prefix), or null.
export async function lockHolder(name, presencePrefix) {
  const state = await navigator.locks.query();
  const held = (state.held || []).find((l) => l.name === name);
  if (!held) return null;
  const labels = (state.held || [])
    .filter((l) => l.clientId === held.clientId && l.name.startsWith(presencePrefix))
    .map((l) => l.name.slice(presencePrefix.length));
  const waiting = (state.pending || []).filter((l) => l.name === name).length;
  return JSON.stringify({ clientId: held.clientId, labels, waiting });
}

// Join a BroadcastChannel; `onMessages(strings)` is called with the messages from others,
// several at once: one call (one crossing into Python) per turn of the event loop. What
// can't be a tabsqlite message (not a string, or not starting like one) is not handed
// over one by one: a single "\u0000unreadable" stands for all of it in a batch. A batch
// past MAX_BATCH messages is a flood: the rest is dropped, and the channel is closed for
// DEAF_MS (the browser then delivers nothing here, so a flood costs this thread nothing
// meanwhile) and opened again; "\u0000overflow" stands for all that was missed, and the
// receiver treats it as "unknown tables changed".
// A thread where nothing waits for changes need not wake for them: after
// `setListening(false)` messages are only counted (no call into Python), and
// `setListening(true)` starts handing them over again and answers how many went by.
const MAX_BATCH = 64;
const DEAF_MS = 250;
const PREFIX = '{"tabsqlite"';
export function openChannel(name, onMessages) {
  let channel = null;
  let closed = false;
  let batch = [];
  let unreadable = false;
  let overflow = false;
  let scheduled = false;
  let listening = true;
  let missed = 0; // messages that came while not listening
  const listen = () => {
    channel = new BroadcastChannel(name);
    channel.onmessage = (event) => take(event.data);
    channel.onmessageerror = () => take(null);
  };
  let deaf = false;
  const shut = () => {
    channel.onmessage = channel.onmessageerror = null;
    channel.close();
  };
  const deafen = () => {
    shut();
    deaf = true;
    setTimeout(() => {
      if (closed) return;
      deaf = false;
      listen();
      if (listening) onMessages(["\u0000overflow"]); // whatever came meanwhile is unknown
      else missed += 1;
    }, DEAF_MS);
  };
  const flush = () => {
    scheduled = false;
    const out = batch;
    if (unreadable) out.push("\u0000unreadable");
    if (overflow) out.push("\u0000overflow");
    const flood = overflow;
    batch = [];
    unreadable = overflow = false;
    if (closed) return;
    if (flood) deafen();
    if (out.length) onMessages(out);
  };
  const take = (data) => {
    if (!listening) {
      missed += 1;
      return;
    }
    if (typeof data !== "string" || !data.startsWith(PREFIX)) unreadable = true;
    else if (batch.length < MAX_BATCH) batch.push(data);
    else overflow = true;
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, 0);
    }
  };
  listen();
  return {
    post(message) {
      if (closed) return;
      if (deaf) { // our listening channel is shut for now: send through a passing one
        const once = new BroadcastChannel(name);
        once.postMessage(message);
        once.close();
      } else {
        channel.postMessage(message);
      }
    },
    // Hand messages over (true) or only count them (false); the count of messages that
    // went by since the last call.
    setListening(on) {
      listening = !!on;
      const went = missed;
      missed = 0;
      return went;
    },
    close() {
      closed = true;
      if (!deaf) shut();
    },
  };
}

export const coordination = { requestLock, runLocked, heldLocks, lockHolder, openChannel };
