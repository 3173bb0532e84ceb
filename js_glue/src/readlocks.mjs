// Shared Web Locks kept between reads. A tab that reads takes the database's lock in shared
// mode and keeps it after the statement, so its next reads run at once, with no lock round
// trip (a Web Lock request costs ~0.35 ms). Whoever wants the lock exclusively (a writer, an
// open, a delete) first calls want(name): this realm's kept lock of that name goes at once,
// and every other tab's and worker's goes when they hear it on the "tabsqlite-want"
// BroadcastChannel, between two statements. Web Locks queue requests in order, so a
// reader's next shared request waits behind the writer's exclusive one: writers are never
// starved. A lock nobody used for IDLE_MS goes too.
//
// A read at once is synchronous: a Python loop of them never lets this thread's event loop
// turn, so no want could be heard and no release could happen. A kept lock therefore
// serves reads only for LEASE_MS after the event loop last turned here; past that the read
// lets go and requests the lock again (which waits, and lets the loop turn), so a writer
// waits at most about LEASE_MS plus one message for a reader in a tight loop.
//
// Kept locks are per realm (worker or page) and lock name, not per connection: while this
// realm holds the lock shared, nobody writes, so any of its connections may read.

const CHANNEL = "tabsqlite-want";
const IDLE_MS = 250;
const LEASE_MS = 10;
// A want heard this recently stops a freshly granted shared lock from being kept (the want
// may have been posted before the grant, when there was nothing to give up).
const WANT_MEMORY_MS = 100;
// How often a waiting exclusive request says it again (a reader may have been granted
// between its first word and its request joining the queue).
export const WANT_REPEAT_MS = 20;

const now = () => performance.now();

function createReadLocks() {
  const held = new Map(); // name -> {release, lastUse, timer}
  const wantedAt = new Map(); // name -> when a want was last heard
  let channel = null;
  // Counters for tests and benchmarks: shared locks kept, reads run under one, locks given
  // up (for any reason), of which for a lease's end; wants sent and heard; reads that had
  // to run again exclusively (shim.mjs).
  const stats = { kept: 0, reads: 0, givenUp: 0, leaseEnds: 0, wantsSent: 0, wantsHeard: 0,
                  exclusiveAgain: 0 };

  const listen = () => {
    if (channel !== null || typeof BroadcastChannel === "undefined") return;
    channel = new BroadcastChannel(CHANNEL);
    channel.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      stats.wantsHeard += 1;
      wantedAt.set(event.data, now());
      giveUp(event.data);
    };
  };

  function giveUp(name) {
    const lock = held.get(name);
    if (lock === undefined) return;
    held.delete(name);
    clearTimeout(lock.timer);
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
    // True while this realm keeps `name` shared: a read may run now, without a request.
    holds(name) {
      const lock = held.get(name);
      if (lock === undefined) return false;
      const at = now();
      if (at - lock.turned > LEASE_MS) { // the event loop has not turned for a while
        stats.leaseEnds += 1;
        giveUp(name);
        return false;
      }
      lock.lastUse = at;
      if (!lock.ticking) { // note when this thread's event loop turns next
        lock.ticking = true;
        setTimeout(() => {
          lock.ticking = false;
          lock.turned = now();
        }, 0);
      }
      stats.reads += 1;
      return true;
    },
    // A shared grant of `name` ended its statement: keep it (true) unless a writer asked
    // for it lately or it is kept already; `release()` lets go of it.
    keep(name, release) {
      listen();
      if (held.has(name)) return false;
      const heard = wantedAt.get(name);
      if (heard !== undefined && now() - heard < WANT_MEMORY_MS) return false;
      const lock = { release, lastUse: now(), turned: now(), ticking: false, timer: null };
      lock.timer = setTimeout(() => idleCheck(name), IDLE_MS);
      held.set(name, lock);
      stats.kept += 1;
      return true;
    },
    // Someone here is about to ask for `name` exclusively: give up ours, and tell the rest.
    want(name) {
      giveUp(name);
      listen();
      stats.wantsSent += 1;
      if (channel !== null) channel.postMessage(name);
    },
    giveUp,
    stats,
  };
}

// One per realm: the module is evaluated once per worker or page.
export const readLocks = createReadLocks();
