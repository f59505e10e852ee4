"""The playground in a real browser (Debian's Chromium, via Playwright) against a real ``openlive serve``.

Chromium's fake microphone plays a question spoken by Piper; the page must connect, show the question
as an input transcript, receive and play a spoken answer, show its transcript, and measure the latency.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playground_harness import browser_missing_reason, chromium_args, write_question_wav
from serve_process import ServeProcess

pytestmark = pytest.mark.models

REPO = Path(__file__).resolve().parents[2]
# The README's screenshot is refreshed only on request, so a test run leaves the tree clean:
#   OPENLIVE_PLAYGROUND_SCREENSHOT=docs/img/playground.png make test
SCREENSHOT_ENV = "OPENLIVE_PLAYGROUND_SCREENSHOT"
API_KEY = "playground-test-key"
TURN_TIMEOUT_S = 150.0  # a cold first turn on two shared cores


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    if reason := browser_missing_reason():
        pytest.skip(reason)
    # Plain HTTP only: the page is served from, and connects back to, the same origin.
    with ServeProcess(tmp_path_factory.mktemp("playground"), API_KEY, tls=False) as srv:
        yield srv


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_question_wav(
        "What is the capital of France?", tmp_path_factory.mktemp("audio") / "question.wav"
    )


@pytest.fixture
def browser(question_wav: Path) -> Iterator[Any]:
    if reason := browser_missing_reason():
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=chromium_args(question_wav))
        try:
            yield chromium
        finally:
            chromium.close()


def stats(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("window.openlive.stats")
    return result


def wait_stats(page: Any, predicate: Any, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    current = stats(page)
    while time.monotonic() < deadline and not predicate(current):
        page.wait_for_timeout(250)
        current = stats(page)
    return current


def test_a_spoken_question_gets_a_spoken_answer_with_transcripts(server: ServeProcess, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.http_url}/?key={API_KEY}")
    assert page.title() == "openlive playground"
    assert page.locator("#voice").input_value() == "Puck"
    assert page.locator("#voice option").count() == 30

    page.click("#connect")
    s = wait_stats(page, lambda s: s["state"] in ("connected", "error"), 20)
    assert s["state"] == "connected", f"{s}\n{server.log_tail()}"
    s = wait_stats(page, lambda s: s["turns"] >= 1 or s["state"] != "connected", TURN_TIMEOUT_S)
    page.wait_for_timeout(500)
    s = stats(page)
    page.screenshot(path=os.environ.get(SCREENSHOT_ENV) or str(server.workdir / "playground.png"))
    explain = f"{s}\npage errors: {errors}\n{server.log_tail()}"

    assert s["turns"] >= 1, explain
    # Recognition quality is the server's business; the page must show what was recognised.
    assert "capital" in s["inputTranscript"].lower(), explain
    assert s["audioChunks"] > 0 and s["audioSeconds"] > 0.5, explain  # a spoken answer arrived...
    assert s["scheduledSeconds"] >= s["audioSeconds"] - 0.01 and s["contextState"] == "running", (
        explain
    )  # ...and played
    assert s["outputTranscript"].strip(), explain
    assert len(s["latenciesMs"]) == 1 and 0 < s["latenciesMs"][0] < TURN_TIMEOUT_S * 1000, explain
    assert page.locator("#transcript li.user").first.inner_text().lower().startswith("what is the capital")
    assert s["outputTranscript"].split()[0] in page.locator("#transcript li.model").first.inner_text()
    assert re.fullmatch(r"\d+ ms", page.locator("#latencyLast").inner_text())
    assert errors == []

    page.click("#connect")  # disconnect
    s = wait_stats(page, lambda s: s["state"] == "disconnected", 10)
    assert (s["state"], s["closeCode"]) == ("disconnected", 1000)


def test_text_mode_with_camera_frames_gets_a_text_answer(server: ServeProcess, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{server.http_url}/?key={API_KEY}&modality=TEXT")
    page.uncheck("#micOn")
    page.check("#cameraOn")  # Chromium's fake camera
    page.click("#connect")
    assert wait_stats(page, lambda s: s["state"] != "connecting", 20)["state"] == "connected"
    s = wait_stats(page, lambda s: s["framesSent"] >= 2, 10)
    assert s["framesSent"] >= 2 and s["state"] == "connected", s  # about one JPEG frame a second
    page.fill("#textInput", "What is the capital of France? Answer in one word.")
    page.click("#sendText")
    s = wait_stats(page, lambda s: s["turns"] >= 1 or s["state"] != "connected", TURN_TIMEOUT_S)
    assert "paris" in s["textReply"].lower(), f"{s}\n{server.log_tail()}"
    assert s["audioChunks"] == 0


def test_a_wrong_key_shows_the_close_code_and_reason(server: ServeProcess, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{server.http_url}/?key=wrong-key")
    page.click("#connect")
    s = wait_stats(page, lambda s: s["state"] == "error", 20)
    assert (s["state"], s["closeCode"]) == ("error", 1008), s
    assert page.locator("#state").inner_text().startswith("closed 1008")
