"""A bounded number of inferences at once, and a bounded queue behind them.

Each inference of a 1-megapixel photo holds a few hundred MB of activations, so the server runs
at most ``workers`` at a time and lets at most ``queue`` more wait; any request beyond that is
answered at once with 503 and ``Retry-After`` instead of piling up in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the queue is full: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy; try again in {retry_after} s")
        self.retry_after = retry_after


class InferenceSlots:
    """Runs blocking functions in threads, ``workers`` at a time, ``queue`` more waiting.

    Args:
        workers: Inferences that run at once.
        queue: Requests that may wait for a worker; more are refused with :class:`Busy`.
        retry_after: Seconds a refused client is told to wait.
    """

    def __init__(self, workers: int = 1, queue: int = 8, retry_after: int = 1) -> None:
        self.workers, self.queue, self.retry_after = max(1, workers), max(0, queue), retry_after
        self.pending = 0  # running + waiting; touched only on the event loop's thread
        self._semaphore: asyncio.Semaphore | None = None

    @property
    def capacity(self) -> int:
        """Requests admitted at once: running plus waiting."""
        return self.workers + self.queue

    def enter(self) -> None:
        """Take a place, or raise :class:`Busy` when none is left."""
        if self.pending >= self.capacity:
            raise Busy(self.retry_after)
        self.pending += 1

    def leave(self) -> None:
        """Give a place back."""
        self.pending -= 1

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker thread once a worker is free (Busy if none will be).

        The thread is not abandoned when the client goes away, so the worker count holds.
        """
        self.enter()
        try:
            if self._semaphore is None:
                self._semaphore = asyncio.Semaphore(self.workers)
            async with self._semaphore:
                return await anyio.to_thread.run_sync(function, *args)
        finally:
            self.leave()
