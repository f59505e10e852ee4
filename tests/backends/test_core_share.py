"""CoreShare: recognition holds the cores, a prefill steps aside within its budget (real threads, short
real waits: the wait is a threading.Condition's)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from openlive.backends import core_share
from openlive.backends.core_share import CoreShare, StepAside


@contextmanager
def held_elsewhere(share: CoreShare, seconds: float) -> Iterator[threading.Thread]:
    """Recognition in another thread holds ``share`` for ``seconds`` (entered before this yields)."""
    entered = threading.Event()

    def hold() -> None:
        with share.foreground():
            entered.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    assert entered.wait(5)
    try:
        yield thread
    finally:
        thread.join(10)


def test_nothing_in_the_foreground_means_no_wait() -> None:
    share = CoreShare()
    assert not share.busy
    assert share.step_aside(lambda: False, 5.0) == 0.0
    assert share.waited_s == 0.0


def test_a_prefill_waits_until_recognition_ends() -> None:
    share = CoreShare()
    with held_elsewhere(share, 0.15):
        assert share.busy
        started = time.monotonic()
        waited = share.step_aside(lambda: False, 5.0)
        elapsed = time.monotonic() - started
    assert not share.busy
    assert 0.1 <= waited <= elapsed < 2.0
    assert share.waited_s == waited


def test_overlapping_decodes_hold_the_cores_until_the_last_ends() -> None:
    share = CoreShare()
    with held_elsewhere(share, 0.1), held_elsewhere(share, 0.3):
        waited = share.step_aside(lambda: False, 5.0)
    assert waited >= 0.25


def test_a_stop_ends_the_wait_at_once() -> None:
    # A real request stops the prefill: it must not wait out the decode first.
    share = CoreShare()
    stop = threading.Event()
    with held_elsewhere(share, 2.0):
        threading.Timer(0.05, stop.set).start()
        waited = share.step_aside(stop.is_set, 5.0)
    assert waited < 1.0


def test_the_wait_is_bounded_by_its_limit() -> None:
    share = CoreShare()
    with held_elsewhere(share, 1.0):
        waited = share.step_aside(lambda: False, 0.05)
    assert 0.04 <= waited < 0.6


def test_a_prefill_steps_aside_at_most_its_base_budget_plus_what_it_ran(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Recognition that never pauses (many sessions) slows prefills down but cannot stall them.
    monkeypatch.setattr(core_share, "YIELD_BASE_S", 0.1)
    share = CoreShare()
    check = StepAside(share, lambda: False)
    with share.foreground():  # held by this thread: only the budget ends the waits
        assert check() is False
        first = check.waited_s
        assert 0.08 <= first < 0.6
        check()  # ran only microseconds since: hardly any budget left
        assert check.waited_s - first < 0.05
    assert check() is False  # nothing in the foreground: no wait at all
    assert check.waited_s < 0.6


def test_the_check_says_stop_when_cancelled_and_without_a_share() -> None:
    cancel = threading.Event()
    assert StepAside(None, cancel.is_set)() is False
    cancel.set()
    assert StepAside(None, cancel.is_set)() is True
    share = CoreShare()
    with share.foreground():
        started = time.monotonic()
        assert StepAside(share, cancel.is_set)() is True
        assert time.monotonic() - started < 0.05  # cancelled: no wait
