"""Every public name has a docstring that names each of its parameters."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import tabsqlite
from tabsqlite import feed
from tabsqlite import runtime as seam
from tabsqlite.runtimes import fake


def _public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    modules = [(tabsqlite, tabsqlite.__all__), (seam, seam.__all__),
               (feed, ["ChangeFeed"]), (fake, ["FakeRuntime"])]
    for module, names in modules:
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                yield name, obj
                seen: set[str] = set()
                for klass in obj.__mro__:  # inherited methods too (Database.execute)
                    if not klass.__module__.startswith("tabsqlite"):
                        continue
                    for attr, member in vars(klass).items():
                        if attr.startswith("_") or attr in seen:
                            continue
                        seen.add(attr)
                        if isinstance(member, staticmethod | classmethod):
                            member = member.__func__
                        if inspect.isfunction(member):
                            yield f"{name}.{attr}", member
            elif inspect.isfunction(obj):
                yield name, obj


def _missing(qualname: str, fn: Callable[..., Any]) -> list[str]:
    target = fn
    doc_owner: Any = fn
    if inspect.isclass(fn):
        target = fn.__init__  # type: ignore[misc]
        if target is object.__init__:
            return []
    doc = inspect.getdoc(doc_owner) or ""
    if not doc:
        return [f"{qualname}: no docstring"]
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return []
    out = []
    for pname, param in params.items():
        if pname in ("self", "cls") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if f"``{pname}``" not in doc and f":param {pname}:" not in doc:
            out.append(f"{qualname}: parameter {pname!r} not described")
    return out


def test_public_docstrings_name_every_parameter() -> None:
    problems = []
    for qualname, fn in _public_callables():
        problems += _missing(qualname, fn)
    assert not problems, "\n".join(problems)
