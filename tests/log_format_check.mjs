// The write-ahead log's format (js_glue/src/writeahead.mjs) under Node: two tabs' views over
// one log file, the files kept in memory (the access handles are not under test here; the
// browser suite runs the log on real OPFS). Run by tests/test_log_format.py: prints one
// JSON object of what each scenario saw.
import { createLog, HEADER } from "../js_glue/src/writeahead.mjs";

// A file in memory with the calls of an OPFS sync access handle that the log makes.
function memoryFile() {
  let bytes = new Uint8Array(0);
  return {
    get bytes() {
      return bytes;
    },
    read(dest, { at }) {
      const n = Math.max(0, Math.min(dest.length, bytes.length - at));
      dest.set(bytes.subarray(at, at + n));
      return n;
    },
    write(src, { at }) {
      if (at + src.length > bytes.length) {
        const grown = new Uint8Array(at + src.length);
        grown.set(bytes);
        bytes = grown;
      }
      bytes.set(src, at);
      return src.length;
    },
    getSize: () => bytes.length,
    truncate(n) {
      const cut = new Uint8Array(n);
      cut.set(bytes.subarray(0, Math.min(n, bytes.length)));
      bytes = cut;
    },
    flush() {},
  };
}

// A page of `size` bytes filled with `fill`.
const page = (size, fill) => new Uint8Array(size).fill(fill);
// What `log` serves for page `index` (its first byte), or null when it is not logged.
function firstByte(log, index) {
  if (!log.has(index)) return null;
  const one = new Uint8Array(1);
  log.read(index, one, 0);
  return one[0];
}
const viewOf = (log, pages) => ({
  pageSize: log.pageSize, dbPages: log.dbPages, frames: log.frames,
  pages: pages.map((i) => firstByte(log, i)),
});

function scenario(tornAt) {
  const logFile = memoryFile();
  const dbFile = memoryFile();
  const writer = createLog(logFile, dbFile);
  const reader = createLog(logFile, dbFile);
  writer.catchUp();
  writer.commit(new Map([[0, page(4096, 1)], [1, page(4096, 2)], [2, page(4096, 3)]]), 3, 4096);
  reader.catchUp();
  const before = viewOf(reader, [0, 1, 2, 3]);
  const sizeBefore = logFile.getSize();
  // A page size change: the whole database in 8192-byte pages (the third 4096-byte page
  // gone), page 1 not written (zeros).
  writer.commit(new Map([[0, page(8192, 7)]]), 2, 8192, true);
  const after = { writer: viewOf(writer, [0, 1, 2]) };
  if (tornAt !== null) logFile.truncate(sizeBefore + tornAt); // (a tab died mid-append)
  reader.catchUp();
  after.reader = viewOf(reader, [0, 1, 2]);
  return { before, after, logBytes: logFile.getSize() - sizeBefore };
}

function checkpointed() {
  const logFile = memoryFile();
  const dbFile = memoryFile();
  const log = createLog(logFile, dbFile);
  log.catchUp();
  log.commit(new Map([[0, page(4096, 1)], [1, page(4096, 2)]]), 2, 4096);
  log.commit(new Map([[0, page(512, 5)], [1, page(512, 6)], [2, page(512, 7)]]), 3, 512, true);
  log.commit(new Map([[3, page(512, 8)]]), 4, 512); // (goes on in the new size)
  log.checkpoint();
  const fresh = createLog(logFile, dbFile);
  fresh.catchUp();
  return {
    dbFile: Array.from(dbFile.bytes.filter((_, i) => i % 512 === 0)),
    dbBytes: dbFile.getSize(), logBytes: logFile.getSize(),
    fresh: { pageSize: fresh.pageSize, frames: fresh.frames, dbPages: fresh.dbPages },
  };
}

function refusals() {
  const log = createLog(memoryFile(), memoryFile());
  log.catchUp();
  log.commit(new Map([[0, page(4096, 1)]]), 1, 4096);
  try {
    log.commit(new Map([[0, page(8192, 1)]]), 1, 8192); // (not the whole database)
    return { partResize: null };
  } catch (e) {
    return { partResize: e.message };
  }
}

console.log(JSON.stringify({
  whole: scenario(null),
  tornInPages: scenario(24 + 8192 + 10),
  tornBeforeCommit: scenario(2 * (24 + 8192) + 10),
  header: HEADER,
  checkpointed: checkpointed(),
  refusals: refusals(),
}));
