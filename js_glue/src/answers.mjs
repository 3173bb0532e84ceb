// The answers the shim gives Python, and their encoding (Python names their fields in
// tabsqlite/runtimes/pyodide/wire.py). No call throws: a statement without result columns
// gets a string (cheapest to hand to Python), fields separated by \x1e, table names by \x1f:
//   "1␞rowsAffected␞lastRowid␞flags␞rollback␞writes␞ddl"
// where flags = wasInTx | inTx << 1 | rowsChanged << 2
// otherwise an array:
//   ok:    [1, columns, rows, rowsAffected, lastRowid, wasInTx, inTx, rowsChanged,
//           writes, ddl, rollback, fixups]
//   error: [0, message, extendedCode, kind, wasInTx, inTx]
// `fixups` lists [row, col, kind] for values JS can't carry faithfully: kind "f" is a REAL
// that happens to be integral (JS has one number type), "b" is a BLOB (a Uint8Array), "i"
// an INTEGER beyond 2^53 (a BigInt).
// A statement run by its id may get a number instead (see compact()).
// A small result (SMALL_ROWS values at most: a point select) whose values a string carries
// as they are comes as a string too, cheaper for Python than an array (no to_py of nested
// arrays, one split):
//   "2␞rowsAffected␞lastRowid␞flags␞rollback␞writes␞ddl␞columns␞rowCount␞v␞v..."
// with columns joined by \x1f and each value tagged: "i" INTEGER, "r" REAL (JS's shortest
// round-trip text), "t" TEXT, "n" NULL (see smallRows()).
//
/** @typedef {string} DoneAnswer "1␞rowsAffected␞lastRowid␞flags␞rollback␞writes␞ddl" */
/** @typedef {number} CompactAnswer see compact() */
/** @typedef {[row: number, col: number, kind: "f" | "b" | "i"]} Fixup */
/**
 * @typedef {[ok: 1, columns: string[], rows: Array<Array<number | bigint | string |
 *   Uint8Array | undefined>>, rowsAffected: number, lastRowid: number, wasInTx: boolean,
 *   inTx: boolean, rowsChanged: boolean, writes: string[], ddl: string[], rollback: boolean,
 *   fixups: Fixup[]]} RowsAnswer
 */
/**
 * @typedef {[ok: 0, message: string, extendedCode: number, kind: "sqlite" | "timeout" |
 *   "programming", wasInTx: boolean, inTx: boolean]} FailureAnswer
 */
/** @typedef {string} SmallRowsAnswer "2␞...", see smallRows() */
/** @typedef {DoneAnswer | CompactAnswer | RowsAnswer | SmallRowsAnswer | FailureAnswer} Answer */
/** @typedef {{promise: Promise<Answer | null>, cancel: () => Answer | undefined}} Request */

export const SEP = "\x1e";
const UNIT = "\x1f";
const COMPACT_ROWID = 2n ** 40n; // row ids a compact answer holds: [0, 2^40)

// The compact answer: (lastRowid * 32 + rowsAffected + 1) * 8 + flags, below 2^48 so a JS
// number carries it exactly; null if it doesn't fit (rowsAffected outside -1..30, a row id
// outside [0, 2^40)). Python decodes it in PyodideConnection._result.
export function compact(rowsAffected, rowid, flags) {
  if (rowsAffected < -1 || rowsAffected > 30 || rowid < 0n || rowid >= COMPACT_ROWID) return null;
  return (Number(rowid) * 32 + rowsAffected + 1) * 8 + flags;
}

// The authorizer's facts in the compact result form, computed once per prepared statement.
export function packed(info) {
  if (info.packed === null) {
    info.packed = (info.rollback ? 1 : 0) + SEP + [...info.writes].join(UNIT) + SEP +
      [...info.ddl].join(UNIT);
  }
  return info.packed;
}

const SMALL_ROWS = 16; // values a result may have to come as a SmallRowsAnswer

// The tail of a SmallRowsAnswer ("columns␞rowCount␞v␞v..."), or null when the result is not
// small or a value or column name can't go as text: a BLOB, an INTEGER beyond 2^53 or an
// integral REAL (each has a fixup), a separator character in a text or a name.
export function smallRows(columns, rows, fixups) {
  if (fixups.length || rows.length * columns.length > SMALL_ROWS) return null;
  for (const name of columns) {
    if (name.includes(SEP) || name.includes(UNIT)) return null;
  }
  let out = columns.join(UNIT) + SEP + rows.length;
  for (const row of rows) {
    for (const v of row) {
      if (v === undefined) {
        out += SEP + "n";
      } else if (typeof v === "string") {
        if (v.includes(SEP) || v.includes(UNIT)) return null;
        out += SEP + "t" + v;
      } else if (typeof v === "number") {
        out += SEP + (Number.isInteger(v) ? "i" : "r") + v;
      } else {
        return null;
      }
    }
  }
  return out;
}

/** @returns {FailureAnswer} */
export function failureAnswer(message, extendedCode, kind, wasInTx, inTx) {
  return [0, message, extendedCode, kind, wasInTx, inTx];
}
