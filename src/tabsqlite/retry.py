"""Retry with exponential backoff under a hard deadline (used to open under contention)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .errors import BusyError, OpenTimeoutError

__all__ = ["Backoff", "retry_while_busy"]

T = TypeVar("T")


class Backoff:
    """Exponential backoff delays: ``initial`` doubling up to ``cap``, with +-25% jitter."""

    def __init__(self, initial: float = 0.01, cap: float = 0.25) -> None:
        self.initial = initial
        self.cap = cap
        self._next = initial

    def next_delay(self) -> float:
        """The delay to wait before the next attempt."""
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return delay * random.uniform(0.75, 1.25)


async def retry_while_busy(
    attempt: Callable[[], Awaitable[T]],
    *,
    path: str,
    timeout: float,
    backoff: Backoff | None = None,
    retry_on: tuple[type[BaseException], ...] = (BusyError,),
) -> T:
    """Call ``attempt`` until it succeeds, retrying on ``retry_on`` errors.

    Waits with :class:`Backoff` between attempts and gives up with
    :class:`OpenTimeoutError` once ``timeout`` seconds have passed: an attempt still running
    at the deadline is cancelled. Cancelling the calling task cancels the wait at once.
    """
    backoff = backoff or Backoff()
    start = time.monotonic()
    deadline = start + timeout
    attempts = 0
    last_error: BaseException | None = None
    while True:
        attempts += 1
        try:
            # An attempt may itself wait (for a lock held by another tab): never past the
            # deadline.
            return await asyncio.wait_for(attempt(), max(deadline - time.monotonic(), 0.001))
        except retry_on as error:
            last_error = error
        except TimeoutError as error:
            if isinstance(error, OpenTimeoutError):
                raise
            raise OpenTimeoutError(path, time.monotonic() - start, attempts, last_error) from None
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            raise OpenTimeoutError(path, now - start, attempts, last_error)
        await asyncio.sleep(min(backoff.next_delay(), remaining))
