"""The official JavaScript clients against a real ``openlive serve``: @google/genai 3.3.0 in Node, and the
Firebase AI Logic Web SDK (firebase 12.19.0 → @firebase/ai 2.16.0) redirected by a WebSocket subclass.

Each test runs one script from tests/js, which holds one conversation through the unmodified SDK and
prints a JSON summary of what the SDK received (tests/js/common.mjs). One server, started with an API
key, serves the whole module, because loading the models takes most of the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from js_harness import ClientRun, node_missing_reason, openlive_server, run_node, write_speech_pcm16k
from serve_process import ServeProcess

pytestmark = [
    pytest.mark.node,
    pytest.mark.models,
    # Includes the server's start (model loading) in the first test.
    pytest.mark.timeout(900),
]

_missing = node_missing_reason()
if _missing is not None:
    pytest.skip(_missing, allow_module_level=True)

API_KEY = "js-client-test-key"
# Node 20 has a global WebSocket only behind this flag; Firebase's Live API needs the global one.
FIREBASE_NODE_FLAGS = ("--experimental-websocket",)
AUDIO_MIME = "audio/pcm;rate=24000"
UNKNOWN_MODEL = "no-such-model-xyz"
SPOKEN_QUESTION = "What is the capital of France?"
# The word the recogniser must hear. Not "France": the small embedded Whisper sometimes hears "friends"
# in the synthetic voice, depending on how the incremental recognition is segmented.
SPOKEN_KEYWORD = "capital"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with openlive_server(tmp_path_factory.mktemp("openlive-js"), API_KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def spoken_question(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_speech_pcm16k(SPOKEN_QUESTION, tmp_path_factory.mktemp("speech") / "question.pcm")


def genai(server: ServeProcess, *args: str, base_url: str | None = None, key: str = API_KEY) -> ClientRun:
    base = base_url or server.http_url
    return run_node(
        server,
        "genai_live.mjs",
        "--base-url",
        base,
        "--api-key",
        key,
        *args,
        extra_ca=base.startswith("https"),
    )


def firebase(server: ServeProcess, *args: str, target: str | None = None, key: str = API_KEY) -> ClientRun:
    url = target or server.ws_url
    return run_node(
        server,
        "firebase_live.mjs",
        "--server",
        url,
        "--api-key",
        key,
        *args,
        extra_ca=url.startswith("wss"),
        node_flags=FIREBASE_NODE_FLAGS,
    )


def assert_completed_turn(run: ClientRun) -> None:
    """The SDK saw setup complete, then a whole model turn, and no error."""
    assert run["error"] is None, run.explain()
    assert run["setupComplete"], run.explain()
    assert run["turnComplete"], run.explain()
    assert run.returncode == 0, run.explain()


def assert_text_reply(run: ClientRun) -> None:
    assert run["texts"], run.explain()
    assert "".join(run["texts"]).strip(), run.explain()
    assert run["audioBytes"] == 0, run.explain()


def assert_audio_reply(run: ClientRun) -> None:
    # 16-bit mono PCM: a whole number of samples, and at least 0.1 s of it.
    assert run["audioBytes"] >= 4800, run.explain()
    assert run["audioBytes"] % 2 == 0, run.explain()
    assert run["audioMimes"] == [AUDIO_MIME], run.explain()
    assert run["texts"] == [], run.explain()


def assert_genai_order_and_usage(run: ClientRun) -> None:
    kinds = run["messageKinds"]
    assert kinds[0] == "setupComplete", run.explain()
    assert all(k.startswith("serverContent") or "usageMetadata" in k for k in kinds[1:]), run.explain()
    usage = run["usage"]
    assert usage is not None, run.explain()
    assert usage["promptTokenCount"] > 0, run.explain()
    assert usage["totalTokenCount"] >= usage["promptTokenCount"], run.explain()


def assert_weather_tool_round_trip(run: ClientRun) -> None:
    """The SDK surfaced a toolCall for the declared function, answered it, and the turn then completed.

    Only the protocol is checked: what the small local model says after the tool result is not."""
    calls = run["toolCalls"]
    assert calls, run.explain()
    first = calls[0]
    assert first["name"] == "get_weather", run.explain()
    assert first["id"], run.explain()
    assert "paris" in str((first["args"] or {}).get("city", "")).lower(), run.explain()
    assert len({c["id"] for c in calls}) == len(calls), run.explain()


def assert_barged_in(run: ClientRun, content: str) -> None:
    """The long turn was cut short by the new clientContent: ``interrupted`` and its ``turnComplete``
    without a ``generationComplete``, then the new turn's ``content`` ("audio" or "text") and its end."""
    events = run["contentEvents"]
    assert run["interrupted"], run.explain()
    assert run["turnCompletes"] == 2, run.explain()
    cut = events.index("interrupted")
    assert events[cut + 1] == "turnComplete", run.explain()
    assert "generationComplete" not in events[:cut], run.explain()
    after = events[cut + 2 :]
    assert content in after, run.explain()
    assert after[-2:] == ["generationComplete", "turnComplete"], run.explain()


def assert_resumed(run: ClientRun) -> None:
    """A resumable handle arrived, and a new connection set up with it held another whole turn."""
    assert run["resumptionHandles"], run.explain()
    resumed = run["resumed"]
    assert resumed["error"] is None, run.explain()
    assert resumed["setupComplete"] and resumed["turnComplete"], run.explain()
    assert "".join(resumed["texts"]).strip(), run.explain()


def assert_rejected_by_policy(run: ClientRun) -> None:
    assert run.returncode == 1, run.explain()
    assert not run["setupComplete"], run.explain()
    assert run["closeCode"] == 1008, run.explain()


# ---- @google/genai (Node 'ws' transport, ?key= in the URL, path starting with //ws/) -------------------


def test_genai_text_via_client_content(server: ServeProcess) -> None:
    run = genai(server, "--modality", "TEXT", "--send", "client-content")
    assert_completed_turn(run)
    assert_text_reply(run)
    assert_genai_order_and_usage(run)
    assert run["generationComplete"], run.explain()


def test_genai_audio_via_realtime_text_with_transcription(server: ServeProcess) -> None:
    run = genai(server, "--modality", "AUDIO", "--send", "realtime-text", "--output-transcription")
    assert_completed_turn(run)
    assert_audio_reply(run)
    assert_genai_order_and_usage(run)
    assert run["outputTranscription"].strip(), run.explain()


def test_genai_audio_in_audio_out(server: ServeProcess, spoken_question: Path) -> None:
    run = genai(
        server,
        "--modality",
        "AUDIO",
        "--send",
        "realtime-audio",
        "--audio-file",
        str(spoken_question),
        "--input-transcription",
        "--output-transcription",
    )
    assert_completed_turn(run)
    assert_audio_reply(run)
    assert_genai_order_and_usage(run)
    assert SPOKEN_KEYWORD in run["inputTranscription"].lower(), run.explain()
    assert run["outputTranscription"].strip(), run.explain()


def test_genai_over_tls_with_extra_ca(server: ServeProcess) -> None:
    run = genai(server, "--modality", "TEXT", "--send", "client-content", base_url=server.https_url)
    assert_completed_turn(run)
    assert_text_reply(run)
    assert_genai_order_and_usage(run)


def test_genai_v1beta_api_version(server: ServeProcess) -> None:
    run = genai(server, "--modality", "TEXT", "--api-version", "v1beta")
    assert_completed_turn(run)
    assert_text_reply(run)


def test_genai_vertex_express_mode(server: ServeProcess) -> None:
    # Vertex with an API key: …/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent,
    # key in x-goog-api-key, and the SDK's Vertex response conversion on the way back.
    run = genai(server, "--vertex", "--modality", "TEXT")
    assert_completed_turn(run)
    assert_text_reply(run)


def test_genai_ephemeral_token_single_use(server: ServeProcess) -> None:
    run = genai(server, "--ephemeral", "--modality", "TEXT")
    assert run["tokenName"].startswith("auth_tokens/"), run.explain()
    assert_completed_turn(run)
    assert_text_reply(run)
    reuse = run["reuse"]
    # uses: 1 — a second session with the same token must be refused before setup completes.
    assert not reuse["connected"], run.explain()
    assert reuse["closeCode"] == 1008, run.explain()


def test_genai_tool_call_and_response(server: ServeProcess) -> None:
    # Temperature 0 keeps the local model's choice (call the tool) the same from run to run.
    run = genai(server, "--tool", "--modality", "TEXT", "--temperature", "0")
    assert_completed_turn(run)
    assert_weather_tool_round_trip(run)
    assert "toolCall" in run["messageKinds"], run.explain()
    assert run["usage"]["toolUsePromptTokenCount"] > 0, run.explain()


def test_genai_barge_in_with_client_content(server: ServeProcess) -> None:
    run = genai(server, "--barge-in", "--modality", "AUDIO", "--output-transcription")
    assert_completed_turn(run)
    assert_barged_in(run, "audio")
    assert run["audioMimes"] == [AUDIO_MIME], run.explain()


def test_genai_session_resumption(server: ServeProcess) -> None:
    run = genai(server, "--resume", "--modality", "TEXT", "--temperature", "0")
    assert_completed_turn(run)
    assert_resumed(run)


def test_genai_unknown_model_is_closed_1008(server: ServeProcess) -> None:
    run = genai(server, "--model", UNKNOWN_MODEL)
    assert_rejected_by_policy(run)
    # Gemini's wording: "models/X is not found for API version v1, or is not supported for …"
    reason = run["closeReason"]
    assert f"models/{UNKNOWN_MODEL}" in reason, run.explain()
    assert "not found" in reason, run.explain()
    assert "Live connection closed before setup completed (code 1008)" in run["error"], run.explain()


def test_genai_wrong_api_key_is_closed_1008(server: ServeProcess) -> None:
    run = genai(server, key="not-the-key")
    assert_rejected_by_policy(run)
    assert "API key not valid" in run["closeReason"], run.explain()


# ---- Firebase AI Logic (global WebSocket redirected from wss://firebasevertexai.googleapis.com) -------


def test_firebase_google_ai_text_via_send(server: ServeProcess) -> None:
    run = firebase(server, "--backend", "googleai", "--modality", "TEXT", "--send", "client-content")
    assert_completed_turn(run)
    assert_text_reply(run)
    assert run["urls"][0].startswith(
        f"{server.ws_url}/ws/google.firebase.vertexai.v1beta.GenerativeService/BidiGenerateContent?key="
    ), run.explain()
    assert run["wireKinds"][0] == "setupComplete", run.explain()


def test_firebase_video_frames_of_a_sign_are_read(server: ServeProcess, tmp_path: Path) -> None:
    from sign_frames import random_sign, render_sign

    number, word = random_sign()
    frame = tmp_path / "sign.jpg"
    frame.write_bytes(render_sign(number, word))
    run = firebase(
        server,
        "--modality",
        "TEXT",
        "--video-file",
        str(frame),
        "--text",
        "What does the sign say? Answer in one short sentence.",
    )
    assert_completed_turn(run)
    said = "".join(run["texts"]).replace(",", "").replace(" ", "").lower()
    assert number in said and word.lower() in said, run.explain()


def test_firebase_vertex_ai_audio_via_realtime_text_over_tls(server: ServeProcess) -> None:
    run = firebase(
        server,
        "--backend",
        "vertexai",
        "--location",
        "europe-west4",
        "--modality",
        "AUDIO",
        "--send",
        "realtime-text",
        target=server.wss_url,
    )
    assert_completed_turn(run)
    assert_audio_reply(run)
    assert ".LlmBidiService/BidiGenerateContent/locations/europe-west4?key=" in run["urls"][0], run.explain()
    assert run["wireKinds"][0] == "setupComplete", run.explain()


def test_firebase_audio_in_audio_out(server: ServeProcess, spoken_question: Path) -> None:
    run = firebase(
        server,
        "--modality",
        "AUDIO",
        "--send",
        "realtime-audio",
        "--audio-file",
        str(spoken_question),
        "--input-transcription",
        "--output-transcription",
    )
    assert_completed_turn(run)
    assert_audio_reply(run)
    assert SPOKEN_KEYWORD in run["inputTranscription"].lower(), run.explain()
    assert run["outputTranscription"].strip(), run.explain()


def test_firebase_tool_call_and_response(server: ServeProcess) -> None:
    # Firebase's Schema.object sends lowercase JSON-schema types and "nullable": false.
    run = firebase(server, "--tool", "--modality", "TEXT", "--temperature", "0")
    assert_completed_turn(run)
    assert_weather_tool_round_trip(run)
    assert "toolCall" in run["messageKinds"], run.explain()


def test_firebase_barge_in_with_send(server: ServeProcess) -> None:
    run = firebase(server, "--barge-in", "--modality", "TEXT")
    assert_completed_turn(run)
    assert_barged_in(run, "text")


def test_firebase_session_resumption(server: ServeProcess) -> None:
    # connect({}) asks for resumption; resumeSession({handle}) closes with 1000 and sets up again.
    run = firebase(server, "--resume", "--modality", "TEXT", "--temperature", "0")
    assert_completed_turn(run)
    assert_resumed(run)


def test_firebase_unknown_model_is_closed_1008(server: ServeProcess) -> None:
    run = firebase(server, "--model", UNKNOWN_MODEL)
    assert_rejected_by_policy(run)
    assert UNKNOWN_MODEL in run["closeReason"], run.explain()
    assert "not found" in run["closeReason"], run.explain()
    assert "setupComplete" in run["error"], run.explain()


def test_firebase_wrong_api_key_is_closed_1008(server: ServeProcess) -> None:
    run = firebase(server, key="not-the-key")
    assert_rejected_by_policy(run)
