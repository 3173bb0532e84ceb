"""The browser runtime: Pyodide drives sqlite-wasm on OPFS through ``js_glue``.

The page or worker registers the JS module ``tabsqlite_glue`` (see ``js_glue/src``) before
importing tabsqlite. Every statement runs while this tab holds the database's Web Lock
``tabsqlite-db-<id>`` (held from BEGIN to COMMIT for transactions), so tabs queue in order
instead of spinning on SQLITE_BUSY. Changes go out on a BroadcastChannel; holds are Web
Locks, which the browser frees when a tab closes or crashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..commit_tracking import CommitTracker, StatementInfo
from ..errors import (
    SQLITE_BUSY,
    SQLITE_INTERRUPT,
    BadCallError,
    BusyError,
    ConnectionLostError,
    DatabaseClosedError,
    DatabaseError,
    QueryTimeoutError,
    sqlite_error,
)
from ..names import MEMORY_LOCK, database_lock_name, presence_prefix
from ..paths import is_memory
from ..runtime import (
    Connection,
    ConnectOptions,
    Hold,
    HoldManager,
    HoldTakenError,
    Params,
    Result,
    Runtime,
    Transport,
    ends_transaction,
    wait_out,
)

__all__ = ["PyodideRuntime"]

_MAX_INT64 = 2**63 - 1
_MIN_INT64 = -(2**63)


def _glue() -> Any:
    import tabsqlite_glue  # type: ignore[import-not-found]  # registered by js_glue

    return tabsqlite_glue


def _ffi() -> Any:
    import pyodide.ffi  # type: ignore[import-not-found]

    return pyodide.ffi


async def lock_holder(glue: Any, lock_name: str) -> str | None:
    """Who holds ``lock_name`` now: its connection(s) and since when they are open, and how
    many others wait; ``None`` if nobody holds it (or the browser can't tell)."""
    if not lock_name:
        return None
    try:
        found = await glue.lockHolder(lock_name, presence_prefix(lock_name))
    except Exception:
        return None
    if found is None:
        return None
    info = json.loads(str(found))
    now_ms = time.time() * 1000
    names = []
    for label in info["labels"]:
        conn_id, _, opened = str(label).partition("@")
        try:
            age = f", open {max(0.0, (now_ms - float(opened)) / 1000):.1f} s"
        except ValueError:
            age = ""
        names.append(f"connection {conn_id}{age}")
    who = " and ".join(names) or "a connection that did not name itself"
    return f"{who} (client {str(info['clientId'])[:8]}); {info['waiting']} waiting"


_SEP = "\x1e"
_UNIT = "\x1f"


_PLAIN_TYPES = frozenset({int, str, float, bool, type(None)})
# A value of a result row that JS could not carry as is: the shim names its kind.
_FIXUPS: dict[str, Callable[[Any], Any]] = {
    "f": float,  # a REAL with an integral value (a JS number)
    "b": bytes,  # a BLOB (a Uint8Array)
    "i": int,  # an INTEGER beyond 2**53 (a BigInt)
}


# Not parameter sets although iterable. A tuple: isinstance with ``str | bytes | bytearray``
# builds the union on every call, ~2 us each in Pyodide (per row of execute_many).
_TEXT_LIKE = (str, bytes, bytearray)
_BYTES_LIKE = (bytes, bytearray, memoryview)
_MASK_POSITIONS = 31  # positions a mask can name (a JS number's bit operations)
_KEYS_KEPT = 512  # statement keys a connection remembers (by SQL text and value types)


def _plain_reals(params: Any) -> int | None:
    """The fast path: ``None`` if ``params`` can't go to JS as plain arguments, else the
    mask of its REAL values (bit ``i``: value ``i`` is a float). Pyodide passes ints as
    numbers or exact BigInts and strs as strings, and the shim refuses what SQLite cannot
    take (ints beyond 64 bits, strs with unpaired surrogates); but 2.0 arrives as the
    number 2, so the shim is told which values are floats. This runs for every statement:
    one ``type()`` lookup per value."""
    kind = type(params)
    if kind is not list and kind is not tuple:
        return None
    mask = 0
    for i, v in enumerate(params):
        kind = type(v)
        if kind is float:
            if i >= _MASK_POSITIONS:
                return None  # the converting path names the positions in a list
            mask |= 1 << i
        elif kind not in _PLAIN_TYPES:
            return None
    return mask


def _real_keys(keyed_types: Iterable[tuple[Any, type]]) -> int | list[Any]:
    """The keys (positions or names) of the float values: a mask (see :func:`_plain_reals`)
    if all are positions it can name, else a list; 0 for none."""
    keys = [k for k, t in keyed_types if issubclass(t, float)]
    mask = 0
    for k in keys:
        if type(k) is not int or k >= _MASK_POSITIONS:
            return keys
        mask |= 1 << k
    return mask


def _value(v: Any) -> Any:
    if v is None or isinstance(v, float):
        return v
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise BadCallError("str parameter is not valid Unicode") from None
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        if not _MIN_INT64 <= v <= _MAX_INT64:
            raise BadCallError("OverflowError: Python int too large for an SQLite INTEGER")
        return v
    if isinstance(v, _BYTES_LIKE):
        return bytes(v)
    raise BadCallError(f"Error binding parameter: type {type(v).__name__!r} is not supported")


def _js_params(params: Params) -> tuple[Any, Any]:
    """``params`` converted for the shim, and the keys of its REAL values (a mask or a JS
    array, see :func:`_real_keys`)."""
    ffi = _ffi()
    if isinstance(params, Mapping):
        from js import Object  # type: ignore[import-not-found]

        converted = {str(k): _value(v) for k, v in params.items()}
        js = ffi.to_js(converted, dict_converter=Object.fromEntries)
        keyed_types: list[tuple[Any, type]] = [(k, type(v)) for k, v in converted.items()]
    elif isinstance(params, _TEXT_LIKE):
        raise BadCallError("params must be a sequence or mapping of values")
    else:
        try:
            values = [_value(v) for v in params]
        except TypeError:
            raise BadCallError("params must be a sequence or mapping of values") from None
        js = ffi.to_js(values)
        keyed_types = list(enumerate(map(type, values)))
    reals = _real_keys(keyed_types)
    return js, ffi.to_js(reals) if type(reals) is list else reals


def _js_param_sets(seq_of_params: Sequence[Params]) -> tuple[Any, Any]:
    """All parameter sets in one conversion (values JS can't take are refused), and the
    REAL keys of each set (see :func:`_js_params`), or ``None`` if no set has a float."""
    ffi = _ffi()
    from js import Object

    if isinstance(seq_of_params, _TEXT_LIKE):
        raise BadCallError("execute_many needs a sequence of parameter sets")
    sets: list[Any] = []
    reals: list[int | list[Any]] = []
    by_types: dict[tuple[type, ...], int | list[Any]] = {}  # sets mostly share their types
    for p in seq_of_params:
        kind = type(p)
        if kind is list or kind is tuple:  # the usual case, without the slower checks below
            values = p
        elif isinstance(p, _TEXT_LIKE):
            raise BadCallError("each parameter set must be a sequence or mapping")
        elif isinstance(p, Mapping):
            sets.append(p)
            reals.append(_real_keys((str(k), type(v)) for k, v in p.items()))
            continue
        else:
            try:
                values = list(p)
            except TypeError:
                raise BadCallError(
                    "each parameter set must be a sequence or mapping") from None
        sets.append(values)
        types = tuple(map(type, values))
        keys = by_types.get(types)
        if keys is None:
            keys = by_types[types] = _real_keys(enumerate(types))
        reals.append(keys)
    js_reals = ffi.to_js(reals) if any(reals) else None
    try:
        return ffi.to_js(sets, dict_converter=Object.fromEntries, create_pyproxies=False), js_reals
    except Exception:
        # Something to_js can't carry: convert value by value for a precise error.
        return ffi.to_js([_js_params(p)[0] for p in seq_of_params]), js_reals


def _parse_facts(facts: str) -> StatementInfo:
    """``rollback␞writes␞ddl`` (tables joined by \\x1f) from the shim's compact result."""
    rollback, writes, ddl = facts.split(_SEP)
    return StatementInfo(
        set(writes.split(_UNIT)) if writes else set(),
        set(ddl.split(_UNIT)) if ddl else set(),
        rollback == "1",
        True,
    )


async def _awaited(promise: Any) -> Any:
    return await promise


async def _settled(promise: Any) -> Any:
    """The value of a JS promise, waited for whatever cancellations arrive (None if it
    fails)."""
    answer = asyncio.ensure_future(_awaited(promise))
    await wait_out(answer)
    if answer.cancelled() or answer.exception() is not None:
        return None
    return answer.result()


class _Lock:
    """A Web Lock request in flight (or granted), cancellable from Python."""

    def __init__(self, glue: Any, name: str, timeout_ms: int, if_available: bool = False):
        self._request = glue.requestLock(name, timeout_ms, if_available)

    async def granted(self) -> Any:
        try:
            return await self._request.promise
        except asyncio.CancelledError:
            self._request.cancel()
            raise

    def release(self) -> None:
        self._request.cancel()


class _KeptLock:
    """The Web Lock the shim kept for this connection's open transaction."""

    def __init__(self, glue: Any, handle: int) -> None:
        self._glue = glue
        self._handle = handle

    def release(self) -> None:
        self._glue.unlock(self._handle)


class PyodideConnection(Connection):
    """One sqlite-wasm connection; calls are direct (worker mode) or proxied (main mode)."""

    def __init__(
        self, glue: Any, handle: int, lock_name: str | None, lock_timeout_ms: int
    ) -> None:
        super().__init__()
        self._glue = glue
        self._handle = handle
        self._async = str(glue.mode) == "main"
        # Looked up once: each attribute access on the JS module makes a new proxy.
        self._exec = glue.exec
        self._exec_args = glue.execArgs
        self._exec_many = glue.execMany
        # A statement outside a transaction runs inside the Web Lock's grant callback in JS
        # (in the database worker in main-thread mode), so the lock is never held while
        # Python wakes up, and dies with the worker that holds it.
        self._locked_exec: Any = glue.lockedExec
        self._locked_args: Any = glue.lockedExecArgs
        self._locked_many: Any = glue.lockedExecMany
        # The name of the error a dead database worker's calls fail with (main-thread mode).
        self._stopped = str(getattr(glue, "workerStopped", "")) or None
        self._lost = False
        self._lock_name = lock_name
        self.lock_timeout_ms = lock_timeout_ms
        self._lock: _KeptLock | None = None
        self._tracker = CommitTracker()
        self._facts: dict[str, StatementInfo] = {}
        # A statement's key, found here by its SQL text and value types: the mask of its
        # float values times 256 plus its id in the shim (see shim.mjs; 0: none), or -1 when
        # the values can't go as plain arguments. Worker mode, the hot path: a statement run
        # again and again in a transaction goes by its id. And the facts given for each id.
        self._run_keyed: Any = None if self._async else glue.runner(handle)
        self._keys: dict[tuple[Any, ...], int] = {}
        self._keyed_facts: dict[int, StatementInfo] = {}
        self._closed = False

    async def _lock_wait_error(self, waited_ms: int, call_timeout: bool) -> DatabaseError:
        holder = await lock_holder(self._glue, self._lock_name or "")
        who = f": held by {holder}" if holder else ""
        if call_timeout:
            return QueryTimeoutError(
                f"timed out after {waited_ms} ms waiting for the database{who}",
                extended_code=SQLITE_INTERRUPT,
            )
        busy = BusyError(
            f"database is locked: waited {waited_ms} ms (busy_timeout){who}",
            extended_code=SQLITE_BUSY,
        )
        busy.holder = holder
        busy.waited = waited_ms / 1000
        return busy

    def _release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    async def _run_locked(
        self, request: Any, waited_ms: int | None = None, call_timeout: bool = False
    ) -> Result:
        """Wait for a statement the shim runs inside the Web Lock, and take its result."""
        try:
            raw = await request.promise
        except asyncio.CancelledError:
            raw = request.cancel()  # the result if it ran already, else None
            if self._async:  # the worker answers: wait for it, whatever else is cancelled
                raw = await _settled(raw)
            if raw is not None:  # it ran: keep the transaction state (and lock) in step
                with contextlib.suppress(DatabaseError):
                    self._late = self._locked_result(raw)
            raise
        except Exception as error:
            raise self._call_failed(error) from error
        if raw is None:
            raise await self._lock_wait_error(
                self.lock_timeout_ms if waited_ms is None else waited_ms, call_timeout)
        return self._locked_result(raw)

    def _call_failed(self, error: Exception) -> Exception:
        """A call's promise rejected: the database worker died (the connection is lost:
        its lock went with the worker), or some other JS failure."""
        if self._stopped is not None and getattr(error, "name", None) == self._stopped:
            self._mark_lost()
            return ConnectionLostError(
                "the tab's database worker stopped: this connection is lost; open the "
                "database again")
        if isinstance(error, DatabaseError):
            return error
        return DatabaseError(f"the database call failed: {error}")

    async def _await_call(self, promise: Any, sql: str) -> Any:
        """Main-thread mode: a call's answer from the database worker. Cancelled, it still
        waits for the answer (the worker runs the statement anyway), so the transaction
        state stays in step and a commit that happened is reported."""
        answer = asyncio.ensure_future(_awaited(promise))  # its own task: never cancelled
        try:
            return await asyncio.shield(answer)
        except asyncio.CancelledError:
            if not ends_transaction(sql):
                self._glue.interrupt(self._handle)  # its statement stops if it still runs
            await wait_out(answer)
            if not answer.cancelled() and answer.exception() is None:
                with contextlib.suppress(DatabaseError):
                    self._late = self._result(answer.result())
            elif not answer.cancelled() and isinstance(answer.exception(), Exception):
                self._call_failed(answer.exception())  # type: ignore[arg-type]
            raise
        except Exception as error:
            raise self._call_failed(error) from error

    def _mark_lost(self) -> None:
        self._lost = True
        self._in_tx = False
        self._lock = None  # freed by the browser with the worker

    @property
    def lost(self) -> bool:
        if not self._lost and self._async and not self._glue.alive(self._handle):
            self._mark_lost()
        return self._lost

    def _locked_result(self, raw: Any) -> Result:
        try:
            return self._result(raw)
        finally:
            if self._in_tx:  # the shim kept the lock for the open transaction
                self._lock = _KeptLock(self._glue, self._handle)

    def _new_key(self, sig: tuple[Any, ...], sql: str, params: Sequence[Any]) -> int:
        """The key for ``sql`` with values of these types (see ``_keys``). In worker mode a
        statement gets its id when it first runs in a transaction (0 once the shim has
        named as many as it keeps)."""
        reals = _plain_reals(params)
        if reals is None:
            key = -1
        elif self._run_keyed is None:
            key = reals * 256  # main mode: no ids
        elif self._lock is None and self._lock_name is not None:
            return reals * 256  # outside a transaction: not remembered, so it gets its id
        else:
            key = reals * 256 + int(self._glue.statementId(self._handle, sql))
        if len(self._keys) < _KEYS_KEPT:
            self._keys[sig] = key
        return key

    def _result(self, raw: Any, statement_id: int = 0) -> Result:
        """Turn the shim's answer into a result (or raise), tracking the transaction state.
        ``statement_id``: the call went by key (its answer may be a number)."""
        if type(raw) is int:  # (rowid * 32 + rows affected + 1) * 8 + flags, see shim.mjs
            in_tx = self._in_tx = raw & 2 == 2
            committed = self._tracker.statement_done(
                self._keyed_facts[statement_id], raw & 4 == 4, raw & 1 == 1, in_tx
            )
            return Result((), [], ((raw >> 3) & 31) - 1, raw >> 8, committed)
        if type(raw) is str:  # a statement without result columns: the string form
            _, affected, rowid, flags_text, facts = raw.split(_SEP, 4)
            flags = int(flags_text)
            in_tx = self._in_tx = bool(flags & 2)
            info = self._facts.get(facts)
            if info is None:
                info = self._facts[facts] = _parse_facts(facts)
            if statement_id:
                self._keyed_facts[statement_id] = info
            committed = self._tracker.statement_done(
                info, bool(flags & 4), bool(flags & 1), in_tx
            )
            return Result((), [], int(affected), int(rowid), committed)
        out = raw.to_py()
        if out[0] == 0:
            _, message, code, kind, was_in_tx, in_tx = out
            self._in_tx = bool(in_tx)
            self._tracker.statement_failed(
                was_in_transaction=bool(was_in_tx), in_transaction=self._in_tx
            )
            if kind == "timeout":
                raise QueryTimeoutError(
                    f"the statement ran past its timeout and was stopped: {message}",
                    extended_code=int(code) or SQLITE_INTERRUPT)
            if kind == "sqlite" and code:
                raise sqlite_error(str(message), int(code))
            raise BadCallError(str(message))
        (_, columns, rows, affected, lastrowid, was_in_tx, in_tx, changed, writes, ddl,
         rollback, fixups) = out
        self._in_tx = bool(in_tx)
        for r, c, kind in fixups:
            rows[r][c] = _FIXUPS[kind](rows[r][c])
        info = StatementInfo(set(writes), set(ddl), bool(rollback), True)
        committed = self._tracker.statement_done(
            info, rows_changed=bool(changed), was_in_transaction=bool(was_in_tx),
            in_transaction=self._in_tx,
        )
        return Result(
            tuple(columns), [tuple(row) for row in rows], int(affected),
            int(lastrowid) if lastrowid is not None else None, committed,
        )

    def _check_usable(self) -> None:
        if self._lost:
            raise ConnectionLostError("the tab's database worker stopped: this connection "
                                      "is lost; open the database again")
        raise DatabaseClosedError("connection is closed")

    async def execute(
        self, sql: str, params: Params = (), timeout: float | None = None
    ) -> Result:
        if self._closed or self._lost:
            self._check_usable()
        if timeout is not None:
            return await self._timed(sql, params, False, timeout)
        key = -1
        kind = type(params)
        if kind is list or kind is tuple:
            sig = (sql, *map(type, params))
            known = self._keys.get(sig)
            key = self._new_key(sig, sql, params) if known is None else known  # type: ignore[arg-type]
        reals: int | None = None
        if key >= 0:
            reals = key >> 8  # plain arguments, no conversion
        else:
            js_params, js_reals = _js_params(params)
        if self._lock is None and self._lock_name is not None:
            name, timeout_ms = self._lock_name, self.lock_timeout_ms
            request = (
                self._locked_exec(self._handle, name, timeout_ms, sql, js_params, js_reals)
                if reals is None
                else self._locked_args(self._handle, name, timeout_ms, sql, reals, *params)
            )
            return await self._run_locked(request)
        try:
            if key >= 0 and key & 255:  # this tab holds the lock (a transaction): the hot path
                return self._result(self._run_keyed(key, *params), key & 255)
            if reals is None:
                raw = self._exec(self._handle, sql, js_params, js_reals)
            else:
                raw = self._exec_args(self._handle, sql, reals, *params)
            if self._async:
                raw = await self._await_call(raw, sql)
            return self._result(raw)
        finally:
            if not self._in_tx:  # outside a transaction: let the other tabs in
                self._release()

    async def execute_many(
        self, sql: str, seq_of_params: Sequence[Params], timeout: float | None = None
    ) -> Result:
        if self._closed or self._lost:
            self._check_usable()
        if timeout is not None:
            return await self._timed(sql, seq_of_params, True, timeout)
        param_sets, reals = _js_param_sets(seq_of_params)
        if self._lock is None and self._lock_name is not None:
            request = self._locked_many(
                self._handle, self._lock_name, self.lock_timeout_ms, sql, param_sets, reals
            )
            return await self._run_locked(request)
        try:
            raw = self._exec_many(self._handle, sql, param_sets, reals)
            if self._async:
                raw = await self._await_call(raw, sql)
            return self._result(raw)
        finally:
            if not self._in_tx:
                self._release()

    async def _timed(self, sql: str, params: Any, many: bool, timeout: float) -> Result:
        """A call with a time limit: the lock wait gets at most ``timeout``, and the shim
        stops the statement (its progress handler checks the deadline) once it is past."""
        ms = max(0, int(timeout * 1000))
        if many:
            js_params, js_reals = _js_param_sets(params)
        else:
            js_params, js_reals = _js_params(params)
        wait_ms = min(self.lock_timeout_ms, ms)
        call_timeout = ms <= self.lock_timeout_ms
        if self._lock is None and self._lock_name is not None:
            locked = self._locked_many if many else self._locked_exec
            request = locked(self._handle, self._lock_name, wait_ms, sql, js_params,
                             js_reals, ms)
            return await self._run_locked(request, wait_ms, call_timeout)
        try:
            run = self._exec_many if many else self._exec
            raw = run(self._handle, sql, js_params, js_reals, ms)
            if self._async:
                raw = await self._await_call(raw, sql)
            return self._result(raw)
        finally:
            if not self._in_tx:
                self._release()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._run_keyed = None
        try:
            result = self._glue.close(self._handle)
            if self._async:
                await result
        finally:
            self._release()


class BroadcastTransport(Transport):
    """Change messages over a BroadcastChannel (which never echoes to its sender)."""

    def __init__(self, glue: Any, channel: str, deliver: Callable[[str], None]) -> None:
        ffi = _ffi()

        def on_message(batch: Any) -> None:
            for data in batch.to_py():  # strings, several per call (see openChannel)
                deliver(data if isinstance(data, str) else "\x00unreadable")

        self._proxy = ffi.create_proxy(on_message)
        self._channel = glue.openChannel(channel, self._proxy)
        self._closed = False

    async def send(self, message: str) -> None:
        if not self._closed:
            self._channel.post(message)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._channel.close()
        self._proxy.destroy()


class _WebLockHold(Hold):
    def __init__(self, name: str, lock: _Lock) -> None:
        self.name = name
        self._lock: _Lock | None = lock

    async def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()


class WebLockHoldManager(HoldManager):
    """Holds as Web Locks: the browser frees them when the holding tab goes away."""

    def __init__(self, glue: Any) -> None:
        self._glue = glue

    async def acquire(self, name: str) -> Hold:
        lock = _Lock(self._glue, name, -1, if_available=True)
        if await lock.granted() is None:
            raise HoldTakenError(f"hold {name!r} is held")
        return _WebLockHold(name, lock)

    async def is_held(self, name: str) -> bool:
        held = (await self._glue.heldLocks()).to_py()
        return name in held


class PyodideRuntime(Runtime):
    """Runs tabsqlite in a browser tab: sqlite-wasm's ``opfs`` VFS, shared by every tab."""

    name = "pyodide"
    #: Rollback journal (WAL needs shared memory the VFS lacks). The opfs VFS hands every
    #: page write to its I/O worker and waits for the answer (about a millisecond each on
    #: a small machine), so a commit costs per page written. 16 KiB
    #: pages halve the round trips of sqlite-wasm's default 8 KiB: a 5,000-row commit took
    #: 22 ms instead of 30, and 37 instead of 62 with a diff trigger (bench/, figure 6).
    options = ConnectOptions(journal_mode="delete", page_size=16384)

    def __init__(self) -> None:
        self._glue = _glue()

    def default_directory(self) -> str:
        return str(self._glue.defaultDirectory)

    async def prepare_path(self, path: str) -> str:
        return path  # OPFS has no links; the VFS creates directories on open

    async def connect(self, path: str, options: ConnectOptions) -> Connection:
        glue = self._glue
        lock_name = database_lock_name(path)
        timeout_ms = int(options.lock_timeout * 1000)
        lock = _Lock(glue, MEMORY_LOCK if is_memory(path) else lock_name, timeout_ms)
        if await lock.granted() is None:
            holder = await lock_holder(glue, lock_name)
            raise BusyError(f"database is locked: {path}" + (f": held by {holder}" if holder
                                                            else ""),
                            extended_code=SQLITE_BUSY)
        try:
            opened = glue.open(path)
            if getattr(opened, "then", None) is not None:  # main mode, or the tabsqlite VFS
                try:  # opening the file's handles first: a promise
                    opened = await asyncio.shield(asyncio.ensure_future(_awaited(opened)))
                except asyncio.CancelledError:
                    late = await _settled(opened)  # it opens anyway: close what it opened
                    if late is not None and late.to_py()[0] == 1:
                        closing = glue.close(late.to_py()[1])
                        if getattr(closing, "then", None) is not None:
                            await _settled(closing)
                    raise
            out = opened.to_py()
        finally:
            lock.release()
        if out[0] == 0:
            _, message, code, kind, *_ = out
            if kind == "sqlite" and code:
                raise sqlite_error(f"cannot open {path}: {message}", int(code))
            raise BadCallError(f"cannot open {path}: {message}")
        handle = int(out[1])
        if not is_memory(path):  # held where the statements run (the database worker)
            label = f"{secrets.token_hex(4)}@{int(time.time() * 1000)}"
            glue.presence(handle, presence_prefix(lock_name) + label)
        return PyodideConnection(
            glue, handle, None if is_memory(path) else lock_name, timeout_ms
        )

    async def delete_database_files(self, path: str, lock_timeout: float = 10.0) -> None:
        if is_memory(path):
            return
        lock = _Lock(self._glue, database_lock_name(path), int(lock_timeout * 1000))
        if await lock.granted() is None:
            raise BusyError(f"database is locked: {path}", extended_code=SQLITE_BUSY)
        try:
            await self._glue.deleteFiles(path)
        except Exception as error:  # a JS error from OPFS (quota, permission, busy handle)
            raise DatabaseError(f"could not delete {path}: {error}") from error
        finally:
            lock.release()

    async def open_transport(self, channel: str, deliver: Callable[[str], None]) -> Transport:
        return BroadcastTransport(self._glue, channel, deliver)

    def hold_manager(self, path: str) -> HoldManager:
        if is_memory(path):
            from ..holds import MemoryHoldManager

            return MemoryHoldManager()
        return WebLockHoldManager(self._glue)
