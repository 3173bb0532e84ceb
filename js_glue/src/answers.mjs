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
/** @typedef {DoneAnswer | CompactAnswer | RowsAnswer | FailureAnswer} Answer */
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

/** @returns {FailureAnswer} */
export function failureAnswer(message, extendedCode, kind, wasInTx, inTx) {
  return [0, message, extendedCode, kind, wasInTx, inTx];
}
