// Web Locks kept between statements. A tab keeps the database's lock after a statement, so
// its next statements run at once, with no lock round trip (a Web Lock request costs ~0.35
// ms): a read's lock, kept shared, or a write's, kept exclusive (with lending, tabvfs.mjs,
// the file's handles with it). Whoever requests the lock first calls want(name, mode):
// this realm's kept lock of that name goes at once, and every other tab's and worker's
// goes when they hear it on the "tabsqlite-want" BroadcastChannel, between two statements
// (a shared want leaves shared kept locks alone). Web Locks queue requests in order, so a
// reader's next request waits behind the writer's: writers are never starved. A lock
// nobody used for IDLE_MS goes too.
//
// A statement run at once is synchronous: a Python loop of them never lets this thread's
// event loop turn, so no want could be heard and no release could happen. A kept lock
// therefore serves statements only for LEASE_MS after the event loop last turned here; past
// that the statement first lets the loop turn once (a want heard then makes the lock go,
// and the statement requests it again), so a writer waits at most about LEASE_MS plus one
// message for a tab in a tight loop.
//
// Kept locks are per realm (worker or page) and lock name, not per connection: while this
// realm holds the lock, any of its connections may use it (a transaction takes it over,
// see take()).

const CHANNEL = "tabsqlite-want";
const IDLE_MS = 250;
const LEASE_MS = 10;
// A want heard this recently stops a freshly granted lock from being kept (the want
// may have been posted before the grant, when there was nothing to give up).
const WANT_MEMORY_MS = 100;
// How often a waiting request says it again.
const WANT_REPEAT_MS = 20;

const now = () => performance.now();
// holds()'s answer when the event loop must turn first.
export const TURN = "turn";

function createKeptLocks() {
  // name -> {release, mode, holdUntil, lastUse, turned, ticking, timer, due (a give-up set
  // for holdUntil)}
  const held = new Map();
  // when a want was last heard: mode -> name -> performance.now()
  const wantedAt = { exclusive: new Map(), shared: new Map() };
  const waiting = new Map(); // name -> requests of this realm waiting for it
  let channel = null;
  // Counters for tests and benchmarks: locks kept, statements run under one, locks given
  // up (for any reason), of which for a lease's end; wants sent and heard; reads that had
  // to run again exclusively (statement_locks.mjs).
  const stats = { kept: 0, atOnce: 0, givenUp: 0, leaseEnds: 0, wantsSent: 0, wantsHeard: 0,
                  exclusiveAgain: 0 };

  const listen = () => {
    if (channel !== null || typeof BroadcastChannel === "undefined") return;
    channel = new BroadcastChannel(CHANNEL);
    channel.onmessage = (event) => {
      const { name, mode } = event.data || {};
      if (typeof name !== "string" || !(mode in wantedAt)) return;
      stats.wantsHeard += 1;
      wantedAt[mode].set(name, now());
      giveUpSoon(name, mode);
    };
  };

  // Someone else wants `name` (`mode`): give it up now, or at the end of its slice (see
  // keep()); a shared want leaves a shared lock alone.
  function giveUpSoon(name, mode) {
    const lock = held.get(name);
    if (lock === undefined || (mode === "shared" && lock.mode === "shared")) return;
    const left = lock.holdUntil - now();
    if (left <= 0) giveUp(name);
    else if (lock.due === null) lock.due = setTimeout(() => giveUp(name), left);
  }

  // Stop keeping `name` (its timers too) without letting it go: the lock, or undefined.
  function unkeep(name) {
    const lock = held.get(name);
    if (lock === undefined) return undefined;
    held.delete(name);
    clearTimeout(lock.timer);
    if (lock.due !== null) clearTimeout(lock.due);
    return lock;
  }

  function giveUp(name) {
    const lock = unkeep(name);
    if (lock === undefined) return;
    stats.givenUp += 1;
    lock.release();
  }

  function idleCheck(name) {
    const lock = held.get(name);
    if (lock === undefined) return;
    const idle = now() - lock.lastUse;
    if (idle >= IDLE_MS) giveUp(name);
    else lock.timer = setTimeout(() => idleCheck(name), IDLE_MS - idle);
  }

  return {
    // Whether this realm keeps `name`: true (a statement may run now, without a request),
    // false (it does not), or TURN: it does, but the event loop has not turned for
    // LEASE_MS, so a want may be waiting unheard: let it turn once (a setTimeout), then ask
    // again. The lock stays meanwhile (with lending, the handles too).
    holds(name) {
      const lock = held.get(name);
      if (lock === undefined) return false;
      const at = now();
      if (!lock.ticking) { // note when this thread's event loop turns next
        lock.ticking = true;
        setTimeout(() => {
          lock.ticking = false;
          lock.turned = now();
        }, 0);
      }
      if (at - lock.turned > LEASE_MS) {
        stats.leaseEnds += 1;
        return TURN;
      }
      lock.lastUse = at;
      stats.atOnce += 1;
      return true;
    },
    // A grant of `name` in `mode` ("shared" or "exclusive") ended its statement (or a
    // transaction its own): keep it (true) unless someone asked for it lately or it is kept
    // already; `release()` lets go of it. `holdUntil` (a performance.now() time): until
    // then the lock is kept even if others want it, a time slice that spreads a costly
    // hand-over over several statements (the lending VFS's: the next holder opens the
    // file's handles anew).
    keep(name, release, mode, holdUntil = 0) {
      listen();
      if (held.has(name) || waiting.has(name)) return false;
      const at = now();
      const lately = (heard) => heard !== undefined && at - heard < WANT_MEMORY_MS;
      const wantedBy = lately(wantedAt.exclusive.get(name)) ? "exclusive"
        : mode === "exclusive" && lately(wantedAt.shared.get(name)) ? "shared" : null;
      if (wantedBy !== null && at >= holdUntil) return false;
      const lock = { release, mode, holdUntil, lastUse: at, turned: at, ticking: false,
                     timer: null, due: null };
      lock.timer = setTimeout(() => idleCheck(name), IDLE_MS);
      held.set(name, lock);
      stats.kept += 1;
      if (wantedBy !== null) giveUpSoon(name, wantedBy);
      return true;
    },
    // The mode this realm keeps `name` in ("shared" or "exclusive"), or null.
    mode(name) {
      const lock = held.get(name);
      return lock === undefined ? null : lock.mode;
    },
    // A statement run under the kept lock of `name` left a transaction open: the lock is
    // its connection's now. Returns {release, holdUntil} (it is no longer kept here).
    take(name) {
      const lock = unkeep(name);
      return lock === undefined ? null : { release: lock.release, holdUntil: lock.holdUntil };
    },
    // Someone here asks for `name` in `mode`: give up ours (unless both are shared), and
    // tell the rest, now and every WANT_REPEAT_MS (a tab may have been granted the lock
    // between our first word and our request joining the queue) until the returned
    // function is called (granted, or given up). Meanwhile this realm keeps no lock of
    // that name either.
    want(name, mode = "exclusive") {
      const say = () => {
        const lock = held.get(name);
        if (lock !== undefined && (mode === "exclusive" || lock.mode === "exclusive")) {
          giveUp(name);
        }
        listen();
        stats.wantsSent += 1;
        if (channel !== null) channel.postMessage({ name, mode });
      };
      say();
      waiting.set(name, (waiting.get(name) || 0) + 1);
      const repeat = setInterval(say, WANT_REPEAT_MS);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        clearInterval(repeat);
        const left = waiting.get(name) - 1;
        if (left > 0) waiting.set(name, left);
        else waiting.delete(name);
      };
    },
    giveUp,
    stats,
  };
}

// One per realm: the module is evaluated once per worker or page.
export const keptLocks = createKeptLocks();
