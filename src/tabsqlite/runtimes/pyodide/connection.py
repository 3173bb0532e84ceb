"""One connection of a tab: statements go to the shim (directly in worker mode, through the
database worker in main-thread mode), inside the database's Web Lock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...commit_tracking import CommitTracker, StatementInfo
from ...errors import (
    SQLITE_BUSY,
    SQLITE_INTERRUPT,
    BadCallError,
    BusyError,
    ConnectionLostError,
    DatabaseClosedError,
    DatabaseError,
    NotSupportedError,
    QueryTimeoutError,
    sqlite_error,
)
from ...runtime import (
    Connection,
    Params,
    Result,
    ends_transaction,
    wait_out,
)
from .glue import Glue, _awaited, _ffi, _settled
from .locks import _KeptLock, lock_holder
from .wire import (
    _KEYS_KEPT,
    _TEXT_LIKE,
    Done,
    Failure,
    _parse_facts,
    _plain_reals,
    _real_keys,
    _value,
    decode_answer,
    parse_done,
    parse_small_rows,
)


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


class PyodideConnection(Connection):
    """One sqlite-wasm connection; calls are direct (worker mode) or proxied (main mode)."""

    def __init__(
        self, glue: Glue, handle: int, lock_name: str | None, lock_timeout_ms: int
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
        # Python functions made SQL functions (their proxies live until close).
        self._functions: list[Any] = []

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

    def _release_unless_in_tx(self) -> None:
        """After a statement under the lock this connection held: outside a transaction
        now, the lock goes (the other tabs get in)."""
        if not self._in_tx:
            self._release()

    async def _answer(self, raw: Any, sql: str) -> Result:
        """The result of a call under the held lock: its answer, or in main-thread mode the
        promise of it (see :meth:`_await_call`)."""
        if self._async:
            raw = await self._await_call(raw, sql)
        return self._result(raw)

    async def _run_locked(
        self, request: Any, waited_ms: int | None = None, call_timeout: bool = False
    ) -> Result:
        """Wait for a statement the shim runs inside the Web Lock, and take its result (or
        take it at once: a read that ran under the shared lock this tab keeps)."""
        if type(request) is str or type(request) is int:  # answered at once (the usual)
            return self._locked_result(request)
        promise = getattr(request, "promise", None)
        if promise is None:
            return self._locked_result(request)
        try:
            raw = await promise
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
        if type(raw) is int:  # (rowid * 32 + rows affected + 1) * 8 + flags, see answers.mjs
            in_tx = self._in_tx = raw & 2 == 2
            committed = self._tracker.statement_done(
                self._keyed_facts[statement_id], raw & 4 == 4, raw & 1 == 1, in_tx
            )
            return Result((), [], ((raw >> 3) & 31) - 1, raw >> 8, committed)
        if type(raw) is str and raw[0] == "2":  # a small result: the string form
            small = parse_small_rows(raw)
            committed = self._done(small.done)
            return Result(small.columns, small.rows, small.done.affected, small.done.rowid,
                          committed)
        if type(raw) is str:  # a statement without result columns: the string form
            done = parse_done(raw)
            committed = self._done(done, statement_id)
            return Result((), [], done.affected, done.rowid, committed)
        answer = decode_answer(raw.to_py())
        self._in_tx = answer.in_tx
        if isinstance(answer, Failure):
            self._tracker.statement_failed(
                was_in_transaction=answer.was_in_tx, in_transaction=answer.in_tx
            )
            if answer.kind == "timeout":
                raise QueryTimeoutError(
                    f"the statement ran past its timeout and was stopped: {answer.message}",
                    extended_code=answer.code or SQLITE_INTERRUPT)
            if answer.kind == "sqlite" and answer.code:
                raise sqlite_error(answer.message, answer.code)
            raise BadCallError(answer.message)
        committed = self._tracker.statement_done(
            answer.info, rows_changed=answer.changed, was_in_transaction=answer.was_in_tx,
            in_transaction=answer.in_tx,
        )
        return Result(answer.columns, answer.rows, answer.affected, answer.lastrowid, committed)

    def _done(self, done: Done, statement_id: int = 0) -> frozenset[str] | None:
        """Track a string answer's transaction state and facts (parsed once per facts
        text; remembered for ``statement_id``, whose next answers may be numbers): what it
        committed, as :meth:`CommitTracker.statement_done` says."""
        in_tx = self._in_tx = bool(done.flags & 2)
        info = self._facts.get(done.facts)
        if info is None:
            info = self._facts[done.facts] = _parse_facts(done.facts)
        if statement_id:
            self._keyed_facts[statement_id] = info
        return self._tracker.statement_done(
            info, bool(done.flags & 4), bool(done.flags & 1), in_tx
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
            return await self._answer(raw, sql)
        finally:
            self._release_unless_in_tx()

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
            return await self._answer(self._exec_many(self._handle, sql, param_sets, reals), sql)
        finally:
            self._release_unless_in_tx()

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
            return await self._answer(run(self._handle, sql, js_params, js_reals, ms), sql)
        finally:
            self._release_unless_in_tx()

    async def create_function(
        self, name: str, nargs: int, fn: Callable[..., Any], deterministic: bool = False
    ) -> None:
        if self._closed or self._lost:
            self._check_usable()
        if self._async:
            raise NotSupportedError(
                "SQL functions written in Python need SQLite in Python's own thread (worker "
                "mode); in main-thread mode SQLite runs in another worker")
        ffi = _ffi()

        def call(*args: Any) -> Any:
            values = [a.to_py() if hasattr(a, "to_py") else a for a in args]
            out = fn(*values)
            if isinstance(out, bytes | bytearray | memoryview):
                return ffi.to_js(bytes(out))
            return int(out) if isinstance(out, bool) else out

        proxy = ffi.create_proxy(call)
        self._functions.append(proxy)
        try:
            self._glue.createFunction(self._handle, name, nargs, proxy, deterministic)
        except Exception as error:
            raise BadCallError(f"cannot define the SQL function {name}: {error}") from error

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
            for proxy in self._functions:
                proxy.destroy()
            self._functions.clear()
