"""The session state machine, driven with scripted fake stages (no sockets, no models)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import numpy as np
import pytest
from engine_fakes import (
    FakePrefillingLanguageModel,
    MalformedCall,
    RecordingOutbox,
    ScriptedLanguageModel,
    ScriptedSynthesizer,
    fake_profile,
    live_session,
    user,
)
from listener_fakes import (
    SR,
    FakeRecognizer,
    FakeTablePhonemizer,
    FakeTurnDetector,
    FakeVad,
    pcm,
    silence,
    tone,
)

from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.protocol.messages import (
    ActivityHandling,
    AudioTranscriptionConfig,
    Blob,
    ClientContent,
    Content,
    ContextWindowCompression,
    FunctionDeclaration,
    FunctionResponse,
    GenerationConfig,
    GoAway,
    Modality,
    Part,
    RealtimeInput,
    RealtimeInputConfig,
    ServerContent,
    SessionResumptionConfig,
    SessionResumptionUpdate,
    Setup,
    SpeechConfig,
    Tool,
    ToolCall,
    ToolResponse,
    VoiceActivity,
    VoiceActivityDetectionSignal,
)
from openlive.stages.language_model import ToolCallRequest

# Virtual time (looptime): the scripted delays and timers take no real time.
pytestmark = pytest.mark.looptime


def make_session(
    llm: ScriptedLanguageModel,
    *,
    modality: Modality = Modality.TEXT,
    tts: ScriptedSynthesizer | None = None,
    limits: SessionLimits | None = None,
    resumption: object = None,
    **setup_kwargs: object,
) -> tuple[LiveSession, RecordingOutbox]:
    return live_session(
        llm,
        profile=fake_profile(llm, tts),
        modality=modality,
        limits=limits,
        resumption=resumption,  # type: ignore[arg-type]
        **setup_kwargs,
    )


async def test_text_turn_streams_parts_then_generation_and_turn_complete() -> None:
    llm = ScriptedLanguageModel(replies=[["Paris ", "is the capital."]])
    session, outbox = make_session(llm)
    await session.handle(user("What is the capital of France?"))
    await outbox.wait_turn()
    contents = outbox.contents()
    texts = [c.model_turn.text() for c in contents if c.model_turn]
    assert texts == ["Paris ", "is the capital."]
    assert contents[-2].generation_complete and contents[-1].turn_complete
    usage = outbox.messages[-1][1]
    assert usage is not None and usage.prompt_token_count > 0 and usage.response_token_count == 2
    assert usage.total_token_count == usage.prompt_token_count + usage.response_token_count
    assert [c.role for c in session.history] == ["user", "model"]
    assert session.history[-1].text() == "Paris is the capital."


async def test_system_instruction_history_and_sampling_reach_the_model() -> None:
    llm = ScriptedLanguageModel(replies=[["One."], ["Two."]])
    gc = GenerationConfig(
        response_modalities=[Modality.TEXT],
        temperature=0.3,
        top_p=0.9,
        top_k=20,
        max_output_tokens=50,
        seed=7,
    )
    session, outbox = make_session(
        llm, generation_config=gc, system_instruction=Content(parts=[Part(text="Be a pirate.")])
    )
    await session.handle(user("first"))
    await outbox.wait_turn()
    await session.handle(user("second"))
    await outbox.wait_turn()
    request = llm.requests[-1]
    assert request.messages[0].role == "system" and "Be a pirate." in request.messages[0].content
    assert "Speak briefly." not in request.messages[0].content  # the spoken style is for AUDIO only
    assert [(m.role, m.content) for m in request.messages[1:]] == [
        ("user", "first"),
        ("assistant", "One."),
        ("user", "second"),
    ]
    s = request.sampling
    assert (s.temperature, s.top_p, s.top_k, s.max_tokens, s.seed) == (0.3, 0.9, 20, 50, 7)


async def test_turn_complete_false_accumulates_until_a_complete_turn() -> None:
    llm = ScriptedLanguageModel(replies=[["Ok."]])
    session, outbox = make_session(llm)
    await session.handle(ClientContent(turns=[Content(role="user", parts=[Part(text="a")])]))
    await session.handle(ClientContent(turns=[Content(role="model", parts=[Part(text="b")])]))
    await asyncio.sleep(0.05)
    assert llm.requests == [] and outbox.messages == []
    await session.handle(user("c"))
    await outbox.wait_turn()
    assert [m.content for m in llm.requests[0].messages[1:]] == ["a", "b", "c"]


async def test_new_client_content_interrupts_and_keeps_only_what_was_sent() -> None:
    words = [f"w{i} " for i in range(50)]
    llm = ScriptedLanguageModel(replies=[words, ["Fine."]], delay_s=0.02)
    session, outbox = make_session(llm)
    await session.handle(user("tell me a long story"))
    await asyncio.sleep(0.15)
    await session.handle(user("stop"))
    await outbox.wait_turn()  # the interrupted turn
    flags = [(c.interrupted, c.turn_complete) for c in outbox.contents() if c.interrupted or c.turn_complete]
    assert flags[0] == (True, None) and flags[1] == (None, True)
    assert not any(c.generation_complete for c in outbox.contents()[: len(outbox.contents())])
    await outbox.wait_turn()
    interrupted_reply = session.history[1].text()
    sent = "".join(c.model_turn.text() for c in outbox.contents() if c.model_turn)
    assert 0 < len(interrupted_reply) < len("".join(words))
    assert sent.startswith(interrupted_reply)
    assert [c.role for c in session.history] == ["user", "model", "user", "model"]
    # The interrupted turn is accounted for too, from what was prompted and what was sent.
    interrupted_usage = next(
        u for m, u in outbox.messages if isinstance(m, ServerContent) and m.turn_complete
    )
    assert interrupted_usage is not None and interrupted_usage.prompt_token_count > 0
    assert interrupted_usage.response_token_count == len(interrupted_reply.split())


async def test_audio_reply_is_chunked_at_most_100_ms_with_output_transcription() -> None:
    llm = ScriptedLanguageModel(replies=[["Hello there, friend. ", "How are you today?"]])
    tts = ScriptedSynthesizer()
    session, outbox = make_session(
        llm,
        modality=Modality.AUDIO,
        tts=tts,
        output_audio_transcription=AudioTranscriptionConfig(),
        generation_config=GenerationConfig(
            response_modalities=[Modality.AUDIO], speech_config=SpeechConfig(voice_name="kore")
        ),
    )
    await session.handle(user("hi"))
    await outbox.wait_turn()
    contents = outbox.contents()
    chunks = [p.inline_data for c in contents if c.model_turn for p in c.model_turn.parts if p.inline_data]
    assert chunks and all(b.mime_type == "audio/pcm;rate=24000" for b in chunks)
    assert max(len(b.data) for b in chunks) <= 24000 * 2 // 10
    transcript = "".join(c.output_transcription.text for c in contents if c.output_transcription)
    assert transcript.strip() == "Hello there, friend. How are you today?"
    last_transcription = max(i for i, c in enumerate(contents) if c.output_transcription)
    generation_complete = next(i for i, c in enumerate(contents) if c.generation_complete)
    assert last_transcription < generation_complete < len(contents) - 1
    assert {voice for _, voice, _ in tts.calls} == {"Kore"}  # canonical spelling
    assert outbox.messages[-1][1] is not None
    assert outbox.messages[-1][1].response_tokens_details[0].modality == "AUDIO"


async def test_japanese_text_gets_a_japanese_voice_reply() -> None:
    llm = ScriptedLanguageModel(replies=[["こんにちは。"]])
    tts = ScriptedSynthesizer()
    session, outbox = make_session(llm, modality=Modality.AUDIO, tts=tts)
    await session.handle(user("日本の首都はどこですか？"))
    await outbox.wait_turn()
    assert tts.calls[0][2] == "ja"


@pytest.mark.parametrize(
    ("config", "detail"),
    [
        (GenerationConfig(response_modalities=[Modality.TEXT, Modality.AUDIO]), "one of"),
        (GenerationConfig(speech_config=SpeechConfig(voice_name="Nobody")), "voice"),
        (GenerationConfig(speech_config=SpeechConfig(language_code="not a code")), "language"),
    ],
)
def test_invalid_setups_close_with_1007(config: GenerationConfig, detail: str) -> None:
    with pytest.raises(ProtocolError) as err:
        make_session(ScriptedLanguageModel(), generation_config=config)
    assert err.value.code == CloseCode.INVALID_ARGUMENT and detail in err.value.reason


async def test_second_setup_is_an_error() -> None:
    session, _ = make_session(ScriptedLanguageModel())
    with pytest.raises(ProtocolError) as err:
        await session.handle(Setup(model="models/x"))
    assert err.value.code == CloseCode.INVALID_ARGUMENT


async def test_realtime_text_starts_a_turn() -> None:
    llm = ScriptedLanguageModel(replies=[["Hi."]])
    session, outbox = make_session(llm)
    await session.handle(RealtimeInput(text="hello"))
    await outbox.wait_turn()
    assert llm.requests[0].messages[-1].content == "hello"


async def test_blocking_tool_call_round_trip() -> None:
    call = ToolCallRequest(id="call-1", name="get_weather", args={"city": "Paris"})
    llm = ScriptedLanguageModel(replies=[[call], ["It is sunny."]])
    tools = [
        Tool(
            function_declarations=[
                FunctionDeclaration(
                    name="get_weather",
                    parameters={"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
                )
            ]
        )
    ]
    session, outbox = make_session(llm, tools=tools)
    await session.handle(user("weather in Paris?"))
    for _ in range(100):
        if any(isinstance(m, ToolCall) for m, _ in outbox.messages):
            break
        await asyncio.sleep(0.01)
    tool_call = next(m for m, _ in outbox.messages if isinstance(m, ToolCall))
    assert tool_call.function_calls[0].args == {"city": "Paris"}
    assert llm.requests[0].tools[0].parameters["properties"]["city"]["type"] == "string"
    assert not any(c.turn_complete for c in outbox.contents())
    await session.handle(
        ToolResponse(function_responses=[FunctionResponse(id="call-1", response={"output": "sunny"})])
    )
    await outbox.wait_turn()
    assert "It is sunny." in "".join(c.model_turn.text() for c in outbox.contents() if c.model_turn)
    roles = [m.role for m in llm.requests[1].messages]
    assert roles[-2:] == ["assistant", "tool"] and "sunny" in llm.requests[1].messages[-1].content


async def test_usage_counts_the_function_responses_as_tool_use_prompt_and_splits_the_cache() -> None:
    call = ToolCallRequest(id="call-1", name="get_weather", args={"city": "Paris"})
    llm = ScriptedLanguageModel(replies=[[call], ["It is sunny."]], cached_tokens=5)
    tools = [Tool(function_declarations=[FunctionDeclaration(name="get_weather")])]
    session, outbox = make_session(llm, tools=tools)
    await session.handle(user("weather in Paris?"))
    for _ in range(100):
        if any(isinstance(m, ToolCall) for m, _ in outbox.messages):
            break
        await asyncio.sleep(0.01)
    response = {"output": "sunny and warm, twenty two degrees"}
    await session.handle(ToolResponse(function_responses=[FunctionResponse(id="call-1", response=response)]))
    await outbox.wait_turn()
    usage = outbox.messages[-1][1]
    assert usage is not None
    read = llm.requests[1].messages[-1]
    assert read.role == "tool" and "twenty two" in read.content
    tool_tokens = llm.count_tokens(read.content)  # the function response, not the whole prompt again
    assert usage.tool_use_prompt_token_count == tool_tokens
    assert [(d.modality, d.token_count) for d in usage.tool_use_prompt_tokens_details] == [
        ("TEXT", tool_tokens)
    ]
    assert usage.total_token_count == usage.prompt_token_count + tool_tokens + usage.response_token_count
    assert usage.cached_content_token_count == 5
    assert [(d.modality, d.token_count) for d in usage.cache_tokens_details] == [("TEXT", 5)]


async def test_a_malformed_function_call_ends_the_turn_with_its_reason() -> None:
    llm = ScriptedLanguageModel(replies=[["Let me check.", MalformedCall()], ["Hi."]])
    session, outbox = make_session(llm, tools=[Tool(function_declarations=[FunctionDeclaration(name="f")])])
    await session.handle(user("call f"))
    await outbox.wait_turn()
    done = [c for c in outbox.contents() if c.turn_complete]
    assert [c.turn_complete_reason for c in done] == ["MALFORMED_FUNCTION_CALL"]
    await session.handle(user("hello"))  # the next, ordinary turn has no reason
    await outbox.wait_turn()
    done = [c for c in outbox.contents() if c.turn_complete]
    assert [c.turn_complete_reason for c in done] == ["MALFORMED_FUNCTION_CALL", None]


async def test_a_malformed_call_beside_a_good_one_does_not_end_the_turn() -> None:
    call = ToolCallRequest(id="call-1", name="f", args={})
    llm = ScriptedLanguageModel(replies=[[call, MalformedCall()], ["Done."]])
    session, outbox = make_session(llm, tools=[Tool(function_declarations=[FunctionDeclaration(name="f")])])
    await session.handle(user("call f"))
    for _ in range(100):
        if any(isinstance(m, ToolCall) for m, _ in outbox.messages):
            break
        await asyncio.sleep(0.01)
    await session.handle(ToolResponse(function_responses=[FunctionResponse(id="call-1", response={})]))
    await outbox.wait_turn()
    assert [c.turn_complete_reason for c in outbox.contents() if c.turn_complete] == [None]


async def test_the_answer_after_a_tool_call_is_spoken_in_an_audio_session() -> None:
    # The speaker of the words before the call used to be reused after it had finished: the answer to
    # the function's result was never synthesised, and the turn ended silent.
    call = ToolCallRequest(id="call-1", name="get_weather", args={"city": "Paris"})
    llm = ScriptedLanguageModel(replies=[[call], ["It is sunny in Paris."]])
    tts = ScriptedSynthesizer()
    tools = [Tool(function_declarations=[FunctionDeclaration(name="get_weather")])]
    session, outbox = make_session(llm, modality=Modality.AUDIO, tts=tts, tools=tools)
    await session.handle(user("weather in Paris?"))
    for _ in range(100):
        if any(isinstance(m, ToolCall) for m, _ in outbox.messages):
            break
        await asyncio.sleep(0.01)
    response = FunctionResponse(id="call-1", response={"output": "sunny"})
    await session.handle(ToolResponse(function_responses=[response]))
    await outbox.wait_turn()
    assert [text for text, _, _ in tts.calls] == ["It is sunny in Paris."]
    audio = [p for c in outbox.contents() if c.model_turn for p in c.model_turn.parts if p.inline_data]
    assert audio, "no audio after the tool response"
    assert session.history[-1].text() == "It is sunny in Paris."
    await session.aclose()


async def test_go_away_before_the_connection_limit() -> None:
    limits = SessionLimits(connection_time_limit_s=0.3, go_away_before_s=0.2, audio_lead_s=60)
    session, outbox = make_session(ScriptedLanguageModel(), limits=limits)
    await session.start()
    await asyncio.sleep(0.5)
    go_away = [m for m, _ in outbox.messages if isinstance(m, GoAway)]
    assert go_away and abs(go_away[0].time_left_s - 0.2) < 1e-6
    assert outbox.closed is not None and outbox.closed[0] == CloseCode.NORMAL
    await session.aclose()


async def test_aclose_cancels_a_running_generation() -> None:
    llm = ScriptedLanguageModel(replies=[[f"w{i} " for i in range(100)]], delay_s=0.05)
    session, outbox = make_session(llm)
    await session.handle(user("go"))
    await asyncio.sleep(0.1)
    await session.aclose()
    count = len(outbox.messages)
    await asyncio.sleep(0.2)
    assert len(outbox.messages) == count


async def test_tool_rounds_are_capped_and_the_model_must_then_answer() -> None:
    from openlive.engine.session import MAX_TOOL_ROUNDS

    calls = [[ToolCallRequest(id=f"c{i}", name="get_weather", args={})] for i in range(MAX_TOOL_ROUNDS)]
    llm = ScriptedLanguageModel(replies=[*calls, ["Done."]])  # type: ignore[list-item]
    tools = [Tool(function_declarations=[FunctionDeclaration(name="get_weather")])]
    session, outbox = make_session(llm, tools=tools)
    await session.handle(user("weather?"))
    for i in range(MAX_TOOL_ROUNDS):
        for _ in range(200):
            if sum(isinstance(m, ToolCall) for m, _ in outbox.messages) > i:
                break
            await asyncio.sleep(0.01)
        await session.handle(ToolResponse(function_responses=[FunctionResponse(id=f"c{i}", response={})]))
    await outbox.wait_turn()
    assert sum(isinstance(m, ToolCall) for m, _ in outbox.messages) == MAX_TOOL_ROUNDS
    assert [bool(r.tools) for r in llm.requests] == [True] * MAX_TOOL_ROUNDS + [False]


def listening_session(
    llm: ScriptedLanguageModel, **setup_kwargs: object
) -> tuple[LiveSession, RecordingOutbox, FakeRecognizer]:
    """A TEXT-reply session whose audio goes through the real listener over scripted speech stages."""
    session, outbox = make_session(
        llm,
        generation_config=GenerationConfig(
            response_modalities=[Modality.TEXT], speech_config=SpeechConfig(language_code="en-US")
        ),
        input_audio_transcription=AudioTranscriptionConfig(),
        **setup_kwargs,
    )
    asr = FakeRecognizer(words=("what", "is", "the", "capital", "of", "france"))
    session.profile = dataclasses.replace(
        session.profile, asr={"en": asr}, vad=FakeVad(), turn=FakeTurnDetector(0.9)
    )
    return session, outbox, asr


async def speak(session: LiveSession, audio: np.ndarray, *, pace_s: float = 0.0) -> None:
    """Send ``audio`` as realtime input in 20 ms chunks, letting the listener run between them (``pace_s``
    apart: 0.02 sends them as a microphone does, in the tests' virtual time)."""
    step = SR // 50
    for i in range(0, audio.size, step):
        blob = Blob(mime_type=f"audio/pcm;rate={SR}", data=pcm(audio[i : i + step]))
        await session.handle(RealtimeInput(audio=blob))
        await asyncio.sleep(pace_s)
    assert session._listener is not None
    await session._listener.drained()
    for _ in range(5):  # let queued listener events reach the session
        await asyncio.sleep(0)


def interim_texts(outbox: RecordingOutbox) -> list[str]:
    return [c.input_transcription.text for c in outbox.contents() if c.input_transcription]


async def test_custom_vocabulary_reaches_the_recogniser() -> None:
    session, outbox = make_session(
        ScriptedLanguageModel(replies=[["Paris."]]),
        input_audio_transcription=AudioTranscriptionConfig(custom_vocabulary=["Zorblax", "openlive"]),
    )
    asr = FakeRecognizer(words=("hello", "zorblax"))
    session.profile = dataclasses.replace(
        session.profile, asr={"en": asr}, vad=FakeVad(), turn=FakeTurnDetector(0.9)
    )
    await speak(session, np.concatenate([silence(0.3), tone(1.0), silence(1.0)]))
    await outbox.wait_turn()
    assert asr.streams and all(s.vocabulary == ("Zorblax", "openlive") for s in asr.streams)


async def test_the_instruction_s_names_are_spelled_in_the_transcript_and_the_prompt() -> None:
    llm = ScriptedLanguageModel(replies=[["It is bluefjord."]])
    session, outbox = make_session(
        llm,
        system_instruction=Content(parts=[Part(text="Wi-Fi network: Northwind-Guest.")]),
        input_audio_transcription=AudioTranscriptionConfig(),
    )
    asr = FakeRecognizer(words=("what", "is", "the", "wife", "I", "password"))
    session.profile = dataclasses.replace(
        session.profile,
        asr={"en": asr},
        vad=FakeVad(),
        turn=FakeTurnDetector(0.9),
        phonemizer=FakeTablePhonemizer(),
    )
    await speak(session, np.concatenate([silence(0.3), tone(1.6), silence(1.0)]))
    await outbox.wait_turn()
    assert llm.requests[-1].messages[-1].content == "what is the Wi-Fi password"
    heard = "".join(interim_texts(outbox))
    assert "Wi-Fi" in heard and "wife" not in heard, heard
    await session.aclose()


async def test_interim_transcript_prefills_the_request_the_turn_would_send() -> None:
    llm = FakePrefillingLanguageModel(replies=[["Earlier answer."], ["Paris."]])
    session, outbox, _ = listening_session(llm)
    await session.handle(user("Earlier question"))
    await outbox.wait_turn()
    history = list(session.history)
    await speak(session, np.concatenate([silence(0.3), tone(1.3)]))  # still speaking: interims only
    assert llm.prefills, "no prefill while the user spoke"
    assert session.history == history  # the tentative user turn was not recorded
    last = llm.prefills[-1].messages
    # One prefill per interim transcript, the latest with the utterance so far as the user's turn.
    assert [r.messages[-1].content for r in llm.prefills] == ["what", "what is the capital"]
    assert (last[-1].role, last[-1].content) == ("user", "what is the capital")
    assert [m.content for m in last[:-1]] == [
        "You are openlive.",
        "Earlier question",
        "Earlier answer.",
    ]
    await speak(session, silence(0.6))  # the pause ends the turn
    await outbox.wait_turn()
    real = llm.requests[-1].messages
    assert real[-1].content == "what is the capital of"
    # The prefilled request is the real one up to the user's words: its prompt prefix is reused.
    assert [(m.role, m.content) for m in last[:-1]] == [(m.role, m.content) for m in real[:-1]]
    assert llm.prefills[-1].sampling == llm.requests[-1].sampling
    await session.aclose()


async def test_no_prefill_while_a_reply_is_being_generated() -> None:
    llm = FakePrefillingLanguageModel(replies=[["A", " slow", " long", " reply", "."]], delay_s=0.4)
    session, outbox, _ = listening_session(
        llm, realtime_input_config=RealtimeInputConfig(activity_handling=ActivityHandling.NO_INTERRUPTION)
    )
    await session.handle(user("Tell me something."))
    await speak(session, np.concatenate([silence(0.3), tone(1.3)]))  # speaks over the reply
    assert session.last_reply is not None and session.last_reply.running
    assert interim_texts(outbox), "the listener sent no interim transcript"
    assert llm.prefills == []
    await outbox.wait_turn()
    await session.aclose()


async def test_models_without_prefill_are_unaffected_by_interim_transcripts() -> None:
    llm = ScriptedLanguageModel(replies=[["Paris."]])
    session, outbox, _ = listening_session(llm)
    await speak(session, np.concatenate([silence(0.3), tone(1.3), silence(0.6)]))
    await outbox.wait_turn()
    assert interim_texts(outbox)[0] == "what"
    assert llm.requests[-1].messages[-1].content == "what is the capital of"
    await session.aclose()


async def test_a_huge_max_output_tokens_is_clamped_and_keeps_the_history() -> None:
    llm = ScriptedLanguageModel(replies=[["One."], ["Two."]])
    gc = GenerationConfig(response_modalities=[Modality.TEXT], max_output_tokens=1_000_000)
    session, outbox = make_session(llm, generation_config=gc)
    await session.handle(user("first"))
    await outbox.wait_turn()
    await session.handle(user("second"))
    await outbox.wait_turn()
    request = llm.requests[-1]
    profile = session.profile
    assert request.sampling.max_tokens == min(profile.output_token_limit, profile.input_token_limit // 2)
    assert [m.content for m in request.messages[1:]] == ["first", "One.", "second"]
    await session.aclose()


def test_an_instruction_that_cannot_fit_the_context_is_refused_at_setup_with_the_numbers() -> None:
    llm = ScriptedLanguageModel()
    long = Content(parts=[Part(text="word " * 4000)])
    with pytest.raises(ProtocolError) as refused:
        make_session(llm, system_instruction=long)
    assert refused.value.code == CloseCode.INVALID_ARGUMENT
    assert refused.value.reason.endswith("need 4003 tokens; the model holds 3008"), refused.value
    make_session(llm, system_instruction=Content(parts=[Part(text="word " * 2000)]))  # fits


async def test_the_session_limit_is_shorter_once_video_was_sent_and_absent_with_compression() -> None:
    limits = SessionLimits(
        connection_time_limit_s=3600, session_time_limit_s=600, session_time_limit_with_video_s=120
    )
    session, outbox = make_session(ScriptedLanguageModel(), limits=limits)
    await session.start()
    await session.handle(RealtimeInput(video=Blob(mime_type="image/jpeg", data=b"\xff\xd8")))
    await asyncio.sleep(119)
    assert outbox.closed is None
    await asyncio.sleep(3)
    assert outbox.closed == (CloseCode.NORMAL, "Session time limit reached.")
    await session.aclose()
    compressed, outbox = make_session(
        ScriptedLanguageModel(), limits=limits, context_window_compression=ContextWindowCompression()
    )
    await compressed.start()
    await asyncio.sleep(1000)
    assert outbox.closed is None
    await compressed.aclose()


async def test_explicit_vad_signal_reports_the_start_and_end_of_speech() -> None:
    llm = ScriptedLanguageModel(replies=[["Paris."]])
    session, outbox, _ = listening_session(llm, explicit_vad_signal=True)
    await speak(session, np.concatenate([silence(0.3), tone(1.3), silence(0.6)]))
    await outbox.wait_turn()
    signals = [m.vad_signal_type for m, _ in outbox.messages if isinstance(m, VoiceActivityDetectionSignal)]
    activity = [m for m, _ in outbox.messages if isinstance(m, VoiceActivity)]
    assert signals == ["VAD_SIGNAL_TYPE_SOS", "VAD_SIGNAL_TYPE_EOS"]
    assert [a.type for a in activity] == ["ACTIVITY_START", "ACTIVITY_END"]
    assert activity[0].audio_offset_s is not None and 0.2 < activity[0].audio_offset_s < 0.5
    await session.aclose()
    quiet, outbox, _ = listening_session(ScriptedLanguageModel(replies=[["Paris."]]))
    await speak(quiet, np.concatenate([silence(0.3), tone(1.3), silence(0.6)]))
    await outbox.wait_turn()
    assert not any(isinstance(m, VoiceActivity | VoiceActivityDetectionSignal) for m, _ in outbox.messages)
    await quiet.aclose()


async def test_transparent_resumption_reports_the_last_consumed_message() -> None:
    from test_session_races import SlowStore

    llm = ScriptedLanguageModel(replies=[["One."]])
    session, outbox = make_session(
        llm, session_resumption=SessionResumptionConfig(transparent=True), resumption=SlowStore()
    )
    await session.start()
    await session.handle(ClientContent(turns=[Content(role="user", parts=[Part(text="a")])]))
    await session.handle(user("b"))
    await outbox.wait_turn()
    await asyncio.sleep(1)
    updates = [m for m, _ in outbox.messages if isinstance(m, SessionResumptionUpdate)]
    assert [u.last_consumed_client_message_index for u in updates] == [0, 2, 2]
    await session.aclose()


async def test_context_window_compression_slides_in_steps_from_trigger_to_target() -> None:
    words = [f"w{i}" for i in range(10)]
    llm = ScriptedLanguageModel(replies=[[" ".join(words)]] * 8)
    cwc = ContextWindowCompression(trigger_tokens=120, sliding_window_target_tokens=60)
    session, outbox = make_session(llm, context_window_compression=cwc)
    for i in range(8):
        await session.handle(user(f"question {i} " + " ".join(words)))
        await outbox.wait_turn()
    firsts = [r.messages[1].content.split()[1] for r in llm.requests]  # the oldest question kept
    # The window holds every turn until the trigger, then jumps forward (never by one turn per turn).
    assert firsts[0] == "0" and firsts[-1] != "0", firsts
    jumps = [b for a, b in itertools.pairwise(firsts) if a != b]
    assert len(jumps) < len(firsts) - 2, firsts
    history_words = sum(len(c.text().split()) for c in session.history)
    assert history_words == 8 * 22  # the history itself keeps everything (resumption)
    last = llm.requests[-1]
    assert sum(len(m.content.split()) + 8 for m in last.messages) <= 120 + 40  # under the trigger + a turn
    await session.aclose()


def test_transcription_language_codes_fix_the_recognised_language_when_there_is_one() -> None:
    llm = ScriptedLanguageModel()
    one, _ = make_session(llm, input_audio_transcription=AudioTranscriptionConfig(language_codes=["ja-JP"]))
    assert one._input_language() == "ja"
    two, _ = make_session(
        llm, input_audio_transcription=AudioTranscriptionConfig(language_codes=["ja-JP", "en-US"])
    )
    assert two._input_language() is None  # several: detection decides
    spoken = GenerationConfig(
        response_modalities=[Modality.TEXT], speech_config=SpeechConfig(language_code="en-US")
    )
    both, _ = make_session(
        llm,
        generation_config=spoken,
        input_audio_transcription=AudioTranscriptionConfig(language_codes=["ja-JP"]),
    )
    assert both._input_language() == "en"  # speechConfig.languageCode wins


async def test_translation_config_makes_every_reply_a_translation_spoken_in_the_target_language() -> None:
    from openlive.protocol.messages import TranslationConfig

    tts = ScriptedSynthesizer()
    gc = GenerationConfig(
        response_modalities=[Modality.AUDIO],
        translation_config=TranslationConfig(target_language_code="es-ES"),
    )
    llm = ScriptedLanguageModel(replies=[["¿Dónde está la estación?"]])
    session, outbox = make_session(llm, modality=Modality.AUDIO, tts=tts, generation_config=gc)
    await session.handle(user("Where is the station?"))
    await outbox.wait_turn()
    system = llm.requests[0].messages[0].content
    assert "interpreter" in system and "into Spanish" in system and "You are openlive." not in system
    assert tts.calls and all(language == "es" for _, _, language in tts.calls)
    await session.aclose()


async def test_a_language_code_other_than_english_is_the_replys_language_in_the_prompt() -> None:
    llm = ScriptedLanguageModel(replies=[["Hola."], ["Hello."]])
    spanish = GenerationConfig(
        response_modalities=[Modality.TEXT], speech_config=SpeechConfig(language_code="es-ES")
    )
    session, outbox = make_session(llm, generation_config=spanish)
    await session.handle(user("Hello"))
    await outbox.wait_turn()
    assert llm.requests[0].messages[0].content.endswith("Always reply in Spanish.")
    await session.aclose()
    english, outbox = make_session(llm)
    await english.handle(user("Hello"))
    await outbox.wait_turn()
    assert "Always reply in" not in llm.requests[1].messages[0].content
    await english.aclose()


def test_a_far_too_long_instruction_is_refused_without_tokenizing_it() -> None:
    llm = ScriptedLanguageModel()
    counted: list[int] = []
    count = llm.count_tokens
    llm.count_tokens = lambda text: counted.append(len(text)) or count(text)  # type: ignore[method-assign]
    huge = Content(parts=[Part(text="word " * 200_000)])
    with pytest.raises(ProtocolError) as refused:
        make_session(llm, system_instruction=huge)
    assert refused.value.code == CloseCode.INVALID_ARGUMENT and "the model holds 3008" in refused.value.reason
    assert counted == []
