"""The cores for the work a person waits on: speech recognition goes first, a prefill steps aside.

On two cores, Whisper's decode at the start of a pause and the language model's prefill of the last
interim transcript slow each other down about twofold when they run together, and neither gains from
the overlap: the two share the cores and the memory bandwidth. The decode is what the reply waits for
(its transcript decides whether the prefilled prompt is the turn's), while the prefill only reads ahead.
So while a recogniser decodes (``foreground``), a prefill waits inside its batch and goes on where it
was (``step_aside``): llama.cpp asks between a batch's operations whether to stop, and the embedded
backend's check waits here before it answers (see ``LlamaCppLanguageModel._abortable``).

Measured (a probe, not kept: a 13-token batch at a 3,000-token context with a Whisper tiny.en decode of
3 s of speech started 100 ms into it, 2 threads each, 2026-12-03 17:42 UTC, load ~0.5): together, the
decode took 160-187 ms and the batch 311-401 ms; with the batch stepping aside, the decode took
94-117 ms and the batch 335-373 ms. The transcript comes ~75 ms sooner and the prompt is read no later.

A real request (a reply) never steps aside: only prefills install the wait. A prefill's wait is bounded
(see ``YIELD_BASE_S``) so that recognition that never pauses (many sessions) slows prefills but cannot
stall them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# How often a waiting prefill looks at its own stop signal (a real request stops it): the condition is
# notified when recognition ends, not when a request arrives.
POLL_S = 0.005
# A prefill steps aside at most this long plus as long as it has run (so it runs at least at half speed
# however busy recognition is). One decode takes 50-300 ms on two cores.
YIELD_BASE_S = 0.5


class CoreShare:
    """Who has the cores: recognition (``foreground``) before a prefill (``step_aside``).

    Thread-safe; shared by the profile's recognisers and its embedded language model.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._idle = threading.Condition()
        self._foreground = 0
        self.waited_s = 0.0  # seconds prefills spent stepping aside (for tests and logs)

    @property
    def busy(self) -> bool:
        """Whether foreground work runs now (a plain read: cheap enough for every llama.cpp operation)."""
        return self._foreground > 0

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Hold the cores for the work inside (a recogniser's decode); nesting and threads may overlap."""
        with self._idle:
            self._foreground += 1
        try:
            yield
        finally:
            with self._idle:
                self._foreground -= 1
                if not self._foreground:
                    self._idle.notify_all()

    def step_aside(self, stop: Callable[[], bool], limit_s: float) -> float:
        """Wait while foreground work runs, until ``stop()`` is true or ``limit_s`` has passed.

        Returns the seconds waited (0 at once when nothing runs in the foreground).
        """
        if not self._foreground or limit_s <= 0:
            return 0.0
        started = self._clock()
        deadline = started + limit_s
        with self._idle:
            while self._foreground and not stop():
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                self._idle.wait(min(remaining, POLL_S))
            waited = self._clock() - started
            self.waited_s += waited
        return waited


class StepAside:
    """One prefill's check for llama.cpp: stop when ``cancel`` says so, and step aside for recognition
    within a budget of ``YIELD_BASE_S`` plus the time the prefill has run."""

    def __init__(
        self,
        share: CoreShare | None,
        cancel: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._share = share
        self._cancel = cancel
        self._clock = clock
        self._started = clock()
        self.waited_s = 0.0

    def __call__(self) -> bool:
        share = self._share
        if share is not None and share.busy and not self._cancel():
            ran = self._clock() - self._started - self.waited_s
            self.waited_s += share.step_aside(self._cancel, YIELD_BASE_S + ran - self.waited_s)
        return self._cancel()
