import asyncio
import base64
import json

import numpy as np
from scripted_turn_server import ScriptedTurnServer

from openlive.bench.audio import float_to_pcm16
from openlive.bench.clips import Clip, ClipKind
from openlive.bench.driver import CHUNK_MS, BenchSession, server_events
from openlive.bench.runner import BenchConfig, barge_in_phase, converse, latency_phase, noise_phase

RATE = 16_000


def _speech(
    name: str,
    kind: ClipKind,
    seconds: float,
    *,
    text: str = "What is the capital of France?",
    keywords: tuple[str, ...] = ("paris",),
) -> Clip:
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.concatenate([np.zeros(1600), 0.3 * np.sin(2 * np.pi * 200 * t), np.zeros(1600)])
    return Clip(name, float_to_pcm16(x), kind, text, "test", keywords)


def test_server_events_split_a_packed_message_and_spot_silence() -> None:
    loud = base64.b64encode(float_to_pcm16(np.full(480, 0.2))).decode()
    frame = json.dumps(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [
                        {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": loud}},
                        {"text": "thinking", "thought": True},
                    ]
                },
                "outputTranscription": {"text": "Hi"},
                "interrupted": True,
                "turnComplete": True,
            },
            "usageMetadata": {"totalTokenCount": 3},
        }
    )
    events = server_events(frame, 1.0)
    assert [e.kind for e in events] == ["audio", "output_text", "interrupted", "turn_complete"]
    assert events[0].audible and events[0].audio_bytes == 960 and abs(events[0].audio_s - 0.02) < 1e-9
    silent = json.dumps(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [
                        {
                            "inlineData": {
                                "mimeType": "audio/pcm;rate=24000",
                                "data": base64.b64encode(bytes(960)).decode(),
                            }
                        }
                    ]
                }
            }
        }
    )
    assert not server_events(silent, 2.0)[0].audible


async def test_a_spoken_question_gets_a_latency_from_its_end_of_speech() -> None:
    async with ScriptedTurnServer(hangover_chunks=10, think_s=0.1) as server:
        cfg = BenchConfig(turn_timeout_s=10.0, gap_s=0.1)
        run = await converse(server.ws_url, [_speech("q", ClipKind.QUESTION, 0.4)], cfg)
    assert run.error is None
    (turn,) = run.turns
    # 200 ms hangover + 100 ms "thinking" + one 20 ms chunk gap, give or take scheduling jitter.
    assert turn.v2v_ms is not None and 250 < turn.v2v_ms < 900, turn
    assert turn.asr_final_ms is not None and turn.asr_final_ms < turn.v2v_ms
    assert (
        turn.first_audio_ms is not None and turn.first_audio_ms < turn.v2v_ms
    )  # the silent chunk came first
    assert turn.correct is True and turn.completed
    assert turn.input_transcript == "What is the capital of France?"
    (trace,) = cfg.trace  # the session's timeline, for bench-events.jsonl
    assert trace["clips"][0]["clip"] == "q" and trace["clips"][0]["speech_end"] > 0
    assert [e["kind"] for e in trace["events"]][-1] == "turn_complete"
    assert any(e.get("audible") for e in trace["events"])


async def test_latency_rounds_are_conversations_one_after_another_pooled() -> None:
    async with ScriptedTurnServer(hangover_chunks=10, think_s=0.1) as server:
        cfg = BenchConfig(turn_timeout_s=10.0, gap_s=0.1)
        clips = [_speech(name, ClipKind.QUESTION, 0.4) for name in ("q1", "q2")]
        result = await latency_phase(server.ws_url, clips, 1, cfg, None, rounds=2)
    assert result["rounds"] == 2 and result["errors"] == []
    assert [t["clip"] for t in result["turns"]] == ["q1", "q2", "q1", "q2"]
    assert len(result["conversation_v2v_p50_ms"]) == 2 and all(result["conversation_v2v_p50_ms"])
    # Each round is its own session, started after the previous one ended.
    first, second = cfg.trace
    assert first["session"] == "latency-1-round1.0" and second["session"] == "latency-1-round2.0"


async def test_microphone_streams_in_real_time_with_silence_between_clips() -> None:
    async with ScriptedTurnServer() as server:
        async with BenchSession(server.ws_url) as session:
            playback = session.play(_speech("q", ClipKind.QUESTION, 0.3))
            await playback.done.wait()
            await session.idle(0.3)
        sent = server.audio_chunks
    gaps = np.diff(playback.chunk_times)
    assert abs(float(np.median(gaps)) - CHUNK_MS / 1000) < 0.005
    # 0.5 s of clip then 0.3 s of silence: about 40 chunks, never a burst of the whole clip at once.
    assert 33 <= sent <= 50
    assert playback.chunk_times[-1] - playback.chunk_times[0] > 0.4


async def test_barge_in_phase_measures_the_interruption() -> None:
    async with ScriptedTurnServer(reply_chunks=30, chunk_gap_s=0.05) as server:
        cfg = BenchConfig(turn_timeout_s=10.0, barge_trials=1, gap_s=0.1, barge_after_s=0.5)
        result = await barge_in_phase(
            server.ws_url,
            _speech("long", ClipKind.BARGE_PROMPT, 0.4),
            _speech("stop", ClipKind.BARGE_IN, 0.4),
            cfg,
        )
    (trial,) = result["trials"]
    assert trial["valid"], trial
    # The toy server interrupts on the first loud chunk it receives: well under 200 ms on loopback.
    assert 0 <= trial["interrupted_ms"] < 200
    assert result["interrupted_ms"]["n"] == 1


async def test_noise_phase_reports_whether_a_turn_started() -> None:
    rng = np.random.default_rng(1)
    faint = Clip("faint", float_to_pcm16(rng.normal(0, 0.01, 16000)), ClipKind.NOISE, "", "test")
    loud = Clip("loud", float_to_pcm16(rng.normal(0, 0.3, 16000)), ClipKind.NOISE, "", "test")
    async with ScriptedTurnServer() as server:
        cfg = BenchConfig(noise_listen_s=1.0)
        assert (await noise_phase(server.ws_url, faint, cfg))["started_turn"] is False
        assert (await noise_phase(server.ws_url, loud, cfg))["started_turn"] is True


async def test_a_server_that_drops_the_connection_mid_clip_ends_the_session_without_hanging() -> None:
    clips = [_speech("q1", ClipKind.QUESTION, 2.0), _speech("q2", ClipKind.QUESTION, 2.0)]
    async with ScriptedTurnServer(close_after_chunks=20) as server:
        run = await asyncio.wait_for(converse(server.ws_url, clips, BenchConfig(turn_timeout_s=10.0)), 8.0)
    assert run.error is not None and "1011" in run.error, run.error
    assert all(t.v2v_ms is None for t in run.turns)
