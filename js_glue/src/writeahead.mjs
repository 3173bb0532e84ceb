// The write-ahead log of tabsqlite's VFS in "log" mode (tabvfs.mjs): a commit appends its
// pages to a log file beside the database instead of writing the database file, so a tab
// reading never waits for a tab committing. Every tab keeps "readwrite-unsafe" handles on
// the log and the database (Chromium).
//
// Who may do what is decided by two Web Locks (statement_locks.mjs):
//   the write lock (the database's lock), exclusive: one writer appends at a time;
//   the read lock, shared by readers and kept between reads; taken exclusively (together
//   with the write lock) only by a checkpoint, which copies the log's pages into the
//   database file and empties the log. A reader therefore never sees the database file
//   change under it, and the log only grows while anyone reads.
//
// The log: a HEADER (magic, version, salt, page size), then frames. A page frame is a
// FRAME-byte head (kind PAGE, page index, salt, size, checksum a, b) and the page; a
// commit frame is a head alone (kind COMMIT, the database's size in pages, salt, size).
// The checksums run on from the header's salt through every frame (head and page), so a
// frame counts only if everything before it does; a commit frame makes the pages before
// it visible.
// `size` is 0, or a new page size: a commit that changes the database's page size (VACUUM
// after PRAGMA page_size, an image copied in) carries every page of the database in the
// new size, and its commit frame voids every page logged before it.
// A torn append (a tab that died or lost power mid-commit) has no valid commit frame:
// nobody ever sees it, and the next writer writes over it. A new salt (a checkpoint's
// reset) makes every older frame invalid.
//
// Each tab's view: an overlay (page index -> where the page's newest committed copy sits
// in the log) and the offset up to which it has read the log. catchUp() runs when SQLite
// takes its shared lock (the start of every read and write transaction): one getSize()
// and a header read when nothing is new.

const MAGIC = 0x54534c47; // "TSLG"
const VERSION = 1;
export const HEADER = 32;
const FRAME = 24;
const PAGE = 1;
const COMMIT = 2;
// A checkpoint is due once the log holds this many page frames.
export const CHECKPOINT_PAGES = 1000;

// A log's counters, all 0: commits, page frames written, catch-ups, page frames read (by
// catch-ups), checkpoints, resets.
export function newLogStats() {
  return { commits: 0, framesWritten: 0, catchUps: 0, framesRead: 0, checkpoints: 0, resets: 0 };
}

// Run the checksum (a, b in `sums`) over `words` (an even count of 32-bit words).
function runSums(sums, words) {
  let a = sums[0];
  let b = sums[1];
  for (let i = 0; i < words.length; i += 2) {
    a = (a + words[i] + b) >>> 0;
    b = (b + words[i + 1] + a) >>> 0;
  }
  sums[0] = a;
  sums[1] = b;
}

// Whether `n` is a page size SQLite can have.
export const validPageSize = (n) => n >= 512 && n <= 65536 && (n & (n - 1)) === 0;

const words = (bytes) => new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);

// The log over its access handle `sah` (the database's is `db`, for checkpoints).
export function createLog(sah, db) {
  let salt = 0; // 0: no log read yet (or none written)
  let headerSize = 0; // the page size in the header
  let pageSize = 0; // the page size of the view (the header's, or a later commit's)
  let applied = 0; // the end of the last commit applied to the overlay
  const sums = new Uint32Array(2);
  const overlay = new Map(); // page index -> offset of its newest committed copy
  let dbPages = null; // the database's size in pages after the last commit, or null
  let frames = 0; // page frames in the log
  const head = new Uint8Array(HEADER);
  const headView = new DataView(head.buffer);
  const stats = newLogStats();

  // Forget the view: the log (re)starts with `newSalt` and `size`.
  function restart(newSalt, size) {
    salt = newSalt;
    headerSize = size;
    pageSize = size;
    applied = HEADER;
    overlay.clear();
    dbPages = null;
    frames = 0;
    sums[0] = newSalt;
    sums[1] = size;
  }

  // Read the header: {salt, pageSize}, or null (no valid header yet).
  function readHeader() {
    if (sah.read(head, { at: 0 }) < HEADER) return null;
    if (headView.getUint32(0, true) !== MAGIC || headView.getUint32(4, true) !== VERSION) {
      return null;
    }
    return { salt: headView.getUint32(8, true), pageSize: headView.getUint32(12, true) };
  }

  // Start the log afresh: a header with a new salt and page size `size`, and an empty view.
  function writeHeader(size) {
    const fresh = 1 + Math.floor(Math.random() * 0xfffffffe);
    head.fill(0);
    headView.setUint32(0, MAGIC, true);
    headView.setUint32(4, VERSION, true);
    headView.setUint32(8, fresh, true);
    headView.setUint32(12, size, true);
    sah.write(head, { at: 0 });
    restart(fresh, size);
  }

  // Bring the overlay up to the log's last valid commit.
  function catchUp() {
    stats.catchUps += 1;
    const header = readHeader();
    if (header === null) {
      if (salt !== 0) restart(0, 0);
      return;
    }
    if (header.salt !== salt || header.pageSize !== headerSize) {
      restart(header.salt, header.pageSize);
    }
    const size = sah.getSize();
    if (size <= applied || pageSize === 0) return;
    const base = applied;
    const bytes = new Uint8Array(size - base);
    const got = sah.read(bytes, { at: base });
    const view = new DataView(bytes.buffer);
    const run = Uint32Array.from(sums);
    const seen = [];
    let seenSize = 0; // the page size of the frames in `seen`
    let at = 0;
    while (at + FRAME <= got) {
      const kind = view.getUint32(at, true);
      const value = view.getUint32(at + 4, true);
      if ((kind !== PAGE && kind !== COMMIT) || view.getUint32(at + 8, true) !== salt) break;
      const size = view.getUint32(at + 12, true) || pageSize;
      if (!validPageSize(size) || (seen.length > 0 && size !== seenSize)) break;
      const end = at + FRAME + (kind === PAGE ? size : 0);
      if (end > got) break;
      runSums(run, words(bytes.subarray(at, at + 16)));
      if (kind === PAGE) runSums(run, words(bytes.subarray(at + FRAME, end)));
      if (view.getUint32(at + 16, true) !== run[0] || view.getUint32(at + 20, true) !== run[1]) {
        break;
      }
      if (kind === PAGE) {
        seen.push(value, base + at + FRAME);
        seenSize = size;
      } else {
        if (size !== pageSize) { // a new page size: the pages before are void
          overlay.clear();
          pageSize = size;
        }
        for (let i = 0; i < seen.length; i += 2) overlay.set(seen[i], seen[i + 1]);
        frames += seen.length / 2;
        stats.framesRead += seen.length / 2;
        seen.length = 0;
        dbPages = value;
        sums.set(run);
        applied = base + end;
      }
      at = end;
    }
  }

  return {
    stats,
    catchUp,
    get pageSize() {
      return pageSize;
    },
    get dbPages() {
      return dbPages;
    },
    get frames() {
      return frames;
    },
    // Whether the newest committed copy of page `index` is in the log.
    has(index) {
      return overlay.has(index);
    },
    // Read `dest.length` bytes of page `index`'s logged copy from `within` the page.
    read(index, dest, within) {
      return sah.read(dest, { at: overlay.get(index) + within });
    },
    // Append a transaction: `pages` (page index -> page bytes, all `size` long) and the
    // database's size in pages after it; flushed before it returns (the commit is durable
    // then). The caller holds the write lock and caught up at its transaction's start.
    // `whole`: `pages` is the whole database (a missing page is zeros), as it must be with
    // a page size other than the log's; such a commit voids every page logged before it.
    commit(pages, newDbPages, size, whole = false) {
      if (salt === 0 || (pageSize !== size && frames === 0)) {
        writeHeader(size); // (a new log, or an empty one for another page size)
      }
      const resize = pageSize !== size;
      if (resize && !whole) {
        throw new Error(`tabsqlite VFS: a commit of ${size}-byte pages, not the whole ` +
          `database, into a log of ${pageSize}-byte pages`);
      }
      const mark = resize ? size : 0;
      if (whole) { // (nothing of it is read through to the database file)
        for (let index = 0; index < newDbPages; index++) {
          if (!pages.has(index)) pages.set(index, new Uint8Array(size));
        }
      }
      const order = [...pages.keys()].sort((x, y) => x - y);
      const out = new Uint8Array(order.length * (FRAME + size) + FRAME);
      const view = new DataView(out.buffer);
      const run = Uint32Array.from(sums);
      let at = 0;
      const placed = [];
      const frame = (kind, value, page) => {
        view.setUint32(at, kind, true);
        view.setUint32(at + 4, value, true);
        view.setUint32(at + 8, salt, true);
        view.setUint32(at + 12, mark, true);
        runSums(run, words(out.subarray(at, at + 16)));
        if (page !== null) {
          out.set(page, at + FRAME);
          runSums(run, words(out.subarray(at + FRAME, at + FRAME + size)));
        }
        view.setUint32(at + 16, run[0], true);
        view.setUint32(at + 20, run[1], true);
        at += FRAME + (page === null ? 0 : size);
      };
      for (const index of order) {
        placed.push(index, applied + at + FRAME);
        frame(PAGE, index, pages.get(index));
      }
      frame(COMMIT, newDbPages, null);
      let wrote = 0;
      try {
        wrote = sah.write(out, { at: applied });
      } finally {
        if (wrote !== out.length) { // (thrown, or short: no commit frame went out)
          try {
            sah.truncate(applied);
          } catch {
            // a torn tail nobody reads: the next commit writes over it
          }
        }
      }
      if (wrote !== out.length) throw new Error("tabsqlite VFS: a short write to the log");
      // Written whole, the commit is visible to every tab that catches up now, so it is
      // this tab's too, even if the flush below fails (SQLite then reports the commit as
      // failed, like a failed fsync, and reads its pages back from the view).
      if (resize) {
        overlay.clear();
        pageSize = size;
      }
      for (let i = 0; i < placed.length; i += 2) overlay.set(placed[i], placed[i + 1]);
      frames += order.length;
      dbPages = newDbPages;
      const end = applied + out.length;
      applied = end;
      sums.set(run);
      stats.commits += 1;
      stats.framesWritten += order.length;
      if (sah.getSize() > end) sah.truncate(end);
      sah.flush();
    },
    // Copy every logged page into the database file and empty the log (a new salt). The
    // caller holds the write lock and the read lock, both exclusively.
    checkpoint() {
      catchUp();
      if (salt === 0) return;
      if (overlay.size > 0 || dbPages !== null) {
        const page = new Uint8Array(pageSize);
        for (const index of [...overlay.keys()].sort((x, y) => x - y)) {
          if (dbPages !== null && index >= dbPages) continue;
          sah.read(page, { at: overlay.get(index) });
          db.write(page, { at: index * pageSize });
        }
        if (dbPages !== null) db.truncate(dbPages * pageSize);
        db.flush();
        stats.checkpoints += 1;
      }
      writeHeader(pageSize); // (the database file has it all: start afresh)
      sah.truncate(HEADER);
      sah.flush();
      stats.resets += 1;
    },
  };
}
