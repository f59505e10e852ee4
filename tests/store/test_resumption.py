"""The in-memory store of resumable sessions: handles, replacement, expiry and its bound."""

from __future__ import annotations

from openlive.protocol.messages import Content, Part
from openlive.store import MemoryResumptionStore


def turn(role: str, text: str) -> Content:
    return Content(role=role, parts=[Part(text=text)])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_saved_history_comes_back_under_its_handle_as_a_copy() -> None:
    store = MemoryResumptionStore()
    history = [turn("user", "My name is Alice."), turn("model", "Hello, Alice.")]
    handle = store.save(history)
    history.append(turn("user", "said after the save"))
    snapshot = store.load(handle)
    assert snapshot is not None
    assert [c.text() for c in snapshot.history] == ["My name is Alice.", "Hello, Alice."]
    assert store.load("not-a-handle") is None


def test_handles_are_long_and_random_and_a_session_keeps_its_last_three() -> None:
    store = MemoryResumptionStore()
    handles = [store.save([turn("user", "one")])]
    for i in range(3):
        handles.append(store.save([turn("user", "one"), turn("model", str(i))], replaces=handles[-1]))
    assert len(set(handles)) == 4 and all(len(h) >= 40 for h in handles)
    assert store.load(handles[0]) is None  # the oldest of four
    # An older handle resumes the conversation as it was when that handle was issued.
    kept = [store.load(h) for h in handles[1:]]
    assert [s.history[-1].text() for s in kept if s is not None] == ["0", "1", "2"]
    other = store.save([turn("user", "another session")])
    assert len(store) == 4 and store.load(other) is not None


def test_a_handle_expires_after_its_time_to_live() -> None:
    clock = Clock()
    store = MemoryResumptionStore(ttl_s=60.0, clock=clock)
    handle = store.save([turn("user", "hi")])
    clock.now = 59.0
    assert store.load(handle) is not None
    clock.now = 60.5
    assert store.load(handle) is None
    assert len(store) == 0


def test_beyond_the_bound_the_oldest_handles_are_forgotten() -> None:
    store = MemoryResumptionStore(max_handles=2)
    handles = [store.save([turn("user", str(i))]) for i in range(3)]
    assert store.load(handles[0]) is None
    assert all(store.load(h) is not None for h in handles[1:])
    assert len(store) == 2
