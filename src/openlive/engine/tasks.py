"""Task ownership: every task the engine starts belongs to an owner that cancels and awaits it.

``asyncio.TaskGroup`` needs one ``async with`` block around the tasks' whole life; a session or a reply
lives across many calls (``start``, ``handle``, ``aclose``), so each has a ``TaskOwner`` instead: the
same contract (no fire-and-forget, everything cancelled and awaited at the end) without the block.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended.

    Unlike ``task.cancel(); await task`` inside ``suppress(CancelledError)``, a cancellation of the
    *caller* while it waits is not swallowed: ``asyncio.wait`` raises only for the caller's own.
    """
    if not task.done():
        task.cancel()
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: its owner reports failures, not the loop's "never retrieved"


class TaskOwner:
    """Owns the tasks it starts: ``aclose()`` cancels every one still running and waits for them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, R], name: str) -> asyncio.Task[R]:
        if self._closed:
            coro.close()
            raise RuntimeError(f"{self.name} is closed; cannot start {name}")
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def closed(self) -> bool:
        return self._closed

    def alive(self) -> list[asyncio.Task[Any]]:
        return [t for t in self._tasks if not t.done()]

    async def aclose(self) -> None:
        """Cancel and await every task; no new one can start. Safe to call more than once."""
        self._closed = True
        current = asyncio.current_task()
        while tasks := [t for t in self._tasks if t is not current and not t.done()]:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
        for task in list(self._tasks):
            if task is not current and task.done() and not task.cancelled():
                task.exception()
