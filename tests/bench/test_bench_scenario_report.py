"""The app scenario's script data, turn scoring from logged events, summary and table."""

from __future__ import annotations

import json

from fake_ws_server import FakeWebSocketServer
from websockets.asyncio.server import ServerConnection

from openlive.bench.driver import Received, turn_end
from openlive.bench.scenario import ScenarioSession
from openlive.bench.scenario_checks import ObservedCall
from openlive.bench.scenario_report import (
    ScenarioTurn,
    calls_between,
    first_call_after,
    first_response_after,
    format_scenario_table,
    scored_turn,
    summarize_scenario,
    unplayed_turn,
)
from openlive.bench.scenario_script import (
    APP_FUNCTIONS,
    APP_INSTRUCTION,
    APP_TURNS,
    FUNCTION_NAMES,
    app_instruction,
    tool_result,
)
from openlive.protocol import Setup, ToolResponse, decode_client_message


def test_the_script_is_an_8000_character_app_with_five_functions_and_twelve_turns() -> None:
    assert 7000 <= len(APP_INSTRUCTION) <= 9000
    assert len(APP_FUNCTIONS) == 5
    assert len(APP_TURNS) == 12
    expected_calls = {t.call.name for t in APP_TURNS if t.call is not None}
    assert expected_calls <= set(FUNCTION_NAMES)
    assert APP_TURNS[0].call is not None and APP_TURNS[0].call.name == "set_user_name"
    assert APP_TURNS[-1].call is not None and APP_TURNS[-1].call.name == "end_session"
    for t in APP_TURNS:  # every fact a turn checks is in the instruction
        for group in t.facts:
            assert any(alt.lower() in APP_INSTRUCTION.lower() for alt in group), t.name
    for f in APP_FUNCTIONS:
        assert "error" not in tool_result(f.name, {})


def test_padding_reaches_the_length_and_keeps_the_checked_facts() -> None:
    long = app_instruction(40_000)
    assert 40_000 <= len(long) < 40_400
    assert long.startswith(APP_INSTRUCTION.partition("# Policies")[0])
    assert long.endswith(APP_INSTRUCTION.partition("# Policies")[2])
    assert (
        "speech recognition" not in long.partition("# Extra workshop")[2].partition("# Policies")[0].lower()
    )
    assert app_instruction(100) == APP_INSTRUCTION


def call_event(t: float, function: str, **args: object) -> Received:
    return Received(t, "tool_call", text=json.dumps({"name": function, "args": args}))


def test_calls_and_first_response_are_taken_from_the_turns_window() -> None:
    events = [
        call_event(0.5, "set_user_name", name="Maria"),  # the turn before
        Received(1.2, "audio", audio_bytes=960, sound_at=None),  # silent: not an answer
        call_event(1.5, "submit_request", kind="accessibility", details="step-free seat"),
        Received(1.8, "audio", audio_bytes=960, sound_at=10),
        call_event(3.5, "end_session"),  # after the wait ended
    ]
    calls = calls_between(events, 1.0, 3.0)
    assert [(c.name, c.args["kind"]) for c in calls] == [("submit_request", "accessibility")]
    assert first_response_after(events, 1.0, 3.0) == 1.5
    assert first_response_after(events, 1.6, 3.0) == 1.8
    assert first_call_after(events, 1.0, 3.0) == 1.5
    assert first_call_after(events, 1.6, 3.0) is None


def test_a_tool_call_counts_as_reply_output_for_the_turns_end() -> None:
    events = [call_event(1.5, "end_session"), Received(2.0, "turn_complete")]
    assert turn_end(events, 1.0) == 2.0


def scored(
    name: str,
    reply: str,
    calls: list[tuple[str, dict[str, object]]],
    v2v: float | None,
    tool_call_ms: float | None = None,
    gaps_ms: float | None = None,
) -> ScenarioTurn:
    t = next(t for t in APP_TURNS if t.name == name)
    return scored_turn(
        t,
        heard=t.text,
        reply_text=reply,
        calls=[ObservedCall(n, a) for n, a in calls],
        v2v_ms=v2v,
        first_response_ms=v2v,
        completed=True,
        tool_call_ms=tool_call_ms,
        playback_gaps_ms=gaps_ms,
    )


def test_the_summary_pools_latency_after_the_first_turn_and_lists_markup() -> None:
    turns = [
        scored("give_name", "Hi Maria.", [("set_user_name", {"name": "Maria"})], 90_000.0),
        scored("keynote_room", "In Aurora Hall.", [], 800.0, gaps_ms=0.0),
        scored("lunch_time", "Call `vote_for_session` now.", [], 1200.0, gaps_ms=2300.0),
        unplayed_turn(APP_TURNS[3], "closed 1011"),
        scored("vote_speech", "Okay. Voted.", [("vote_for_session", {"session_id": "T7"})], 700.0, 2100.0),
    ]
    summary = summarize_scenario(turns, first_answer_s=92.5)
    assert summary["turns_passed"] == 3 and summary["turns"] == 5
    assert summary["markup_turns"] == ["lunch_time"]
    assert summary["v2v_ms"]["n"] == 3 and summary["v2v_ms"]["max"] == 1200.0  # not the first turn's 90 s
    # Word turns and call turns apart; a call turn's toolCall time beside its first audio.
    assert summary["word_turn_v2v_ms"]["n"] == 2 and summary["word_turn_v2v_ms"]["p50"] == 1000.0
    assert summary["call_turn_v2v_ms"]["n"] == 1 and summary["call_turn_v2v_ms"]["p50"] == 700.0
    assert summary["tool_call_ms"]["n"] == 1 and summary["tool_call_ms"]["max"] == 2100.0
    assert summary["first_turn_v2v_ms"] == 90_000.0
    assert summary["first_answer_after_setup_s"] == 92.5
    # Silences inside replies: the turn whose playback stalled, and the stalls per turn.
    assert summary["stalled_turns"] == ["lunch_time"]
    assert summary["playback_gaps_ms"]["n"] == 2 and summary["playback_gaps_ms"]["max"] == 2300.0
    assert summary["asr_wer"] == 0.0  # the fake turns were heard as said; the unplayed one is left out
    # The unplayed turn fails tool use, instruction following and grounding.
    assert summary["pass_rates"]["grounding"] == {"passed": 1, "total": 3, "rate": 1 / 3}
    report = {
        "date": "2026-12-02",
        "instruction_chars": len(APP_INSTRUCTION),
        "functions": list(FUNCTION_NAMES),
        "summary": summary,
        "turns": [t.as_dict() for t in turns],
    }
    json.dumps(report)  # the report is JSON as it stands
    table = format_scenario_table(report)
    assert "turns passed: 3/5" in table
    assert "call turns: median 700 (n=1), their toolCall: median 2,100" in table
    assert "tool markup spoken in: lunch_time" in table
    assert "silences inside replies: 1 turns stalled over 100 ms" in table
    assert "set_user_name" in table and "FAIL" in table


class FakeToolCallingServer(FakeWebSocketServer):
    """A fake Live API server: after setup it sends one toolCall and records the client's answer."""

    def __init__(self) -> None:
        self.setup: Setup | None = None
        self.response: ToolResponse | None = None

    async def _handle(self, ws: ServerConnection) -> None:
        call = {"id": "call-1", "name": "submit_request", "args": {"kind": "lost_item", "details": "bag"}}
        async for frame in ws:
            message = decode_client_message(frame)
            if isinstance(message, Setup):
                self.setup = message
                await ws.send(b'{"setupComplete": {}}')
                await ws.send(json.dumps({"toolCall": {"functionCalls": [call]}}))
            elif isinstance(message, ToolResponse):
                self.response = message
                await ws.send(b'{"serverContent": {"turnComplete": true}}')


async def test_the_scenario_session_declares_the_functions_and_answers_every_tool_call() -> None:
    server = FakeToolCallingServer()
    async with server, ScenarioSession(server.ws_url, "You are Nova.") as session:
        assert await session.wait_for(lambda: server.response is not None, 5.0)
    assert server.setup is not None
    (tool,) = server.setup.tools
    assert [f.name for f in tool.function_declarations] == list(FUNCTION_NAMES)
    assert server.response is not None
    (answer,) = server.response.function_responses
    assert (answer.id, answer.name) == ("call-1", "submit_request")
    assert answer.response["ticket"]  # a plausible result the model can speak about
    (logged,) = calls_between(session.events, 0.0, float("inf"))
    assert logged == ObservedCall("submit_request", {"kind": "lost_item", "details": "bag"})
