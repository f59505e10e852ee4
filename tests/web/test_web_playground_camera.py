"""The playground with a camera, in a real Chromium against a real ``openlive serve``: Chromium's fake
camera shows a sign rendered at test time (a random number and a word), its fake microphone asks
"What does the sign say?" (spoken by Piper), and the spoken answer must hold what the sign says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playground_harness import browser_missing_reason, chromium_args, write_question_wav
from serve_process import ServeProcess
from sign_frames import random_sign, render_sign

pytestmark = pytest.mark.models

API_KEY = "playground-camera-key"
TURN_TIMEOUT_S = 150.0


def write_y4m(frame_jpeg: bytes, path: Path, *, frames: int = 10) -> Path:
    """A Y4M video (what Chromium's fake camera reads) showing one image: YUV 4:2:0, 1 fps, looped."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(frame_jpeg)).convert("YCbCr").resize((640, 360))
    y, cb, cr = (np.asarray(band) for band in image.split())
    half = (image.width // 2, image.height // 2)
    cb = np.asarray(Image.fromarray(cb).resize(half))
    cr = np.asarray(Image.fromarray(cr).resize(half))
    header = f"YUV4MPEG2 W{image.width} H{image.height} F1:1 Ip A1:1 C420jpeg\n".encode()
    body = b"".join(b"FRAME\n" + y.tobytes() + cb.tobytes() + cr.tobytes() for _ in range(frames))
    path.write_bytes(header + body)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path_factory.mktemp("playground-camera"), API_KEY, tls=False) as srv:
        yield srv


@pytest.fixture
def sign_and_browser(tmp_path: Path) -> Iterator[tuple[str, str, Any]]:
    if reason := browser_missing_reason():
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    number, word = random_sign()
    video = write_y4m(render_sign(number, word), tmp_path / "sign.y4m")
    # The camera is on a few seconds before the question, as a person points it and then asks.
    question = write_question_wav("What does the sign say?", tmp_path / "question.wav", lead_s=4.0)
    args = [*chromium_args(question), f"--use-file-for-fake-video-capture={video}"]
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            yield number, word, chromium
        finally:
            chromium.close()


def test_a_sign_shown_to_the_camera_is_read_aloud(
    server: ServeProcess, sign_and_browser: tuple[str, str, Any]
) -> None:
    number, word, browser = sign_and_browser
    page = browser.new_page()
    page.goto(f"{server.http_url}/?key={API_KEY}")
    page.check("#cameraOn")
    page.click("#connect")
    deadline = time.monotonic() + TURN_TIMEOUT_S
    stats: dict[str, Any] = page.evaluate("window.openlive.stats")
    while (
        time.monotonic() < deadline and stats["turns"] < 1 and stats["state"] in ("connecting", "connected")
    ):
        page.wait_for_timeout(250)
        stats = page.evaluate("window.openlive.stats")
    said = stats["outputTranscript"].replace(",", "").replace(" ", "").lower()
    why = f"{number} {word}: {stats}\n{server.log_tail()}"
    assert stats["framesSent"] >= 1, why
    assert number in said and word.lower() in said, why
