"""Search grounding through the real google-genai client against a real ``openlive serve`` with its
embedded models and a local knowledge index: ``tools=[{"google_search": {}}]`` answers from an
operator's document and from the starter corpus, with ``groundingMetadata`` that google-genai parses;
without it nothing is retrieved. The index is built with the ``openlive index`` command, as an operator
would."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.genai import types
from serve_process import ServeProcess
from test_voice_genai import API_KEY, MODEL, TURN_TIMEOUT_S, client
from voice_audio import NOISE_WAV, Recorder, espeak_pcm16k, send_pcm, silence, transcription

pytestmark = pytest.mark.models

SEARCH = [types.Tool(google_search=types.GoogleSearch())]
BRIEF = "You are a helpful assistant. Answer in one short sentence."


@dataclass
class Grounded:
    server: ServeProcess
    code: str
    document_uri: str


@pytest.fixture(scope="module")
def grounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grounded]:
    workdir = tmp_path_factory.mktemp("grounding")
    code = str(random.randrange(1000, 9999))
    doc = workdir / "bluebell.md"
    doc.write_text(
        "# Bluebell Festival\n\nThe Bluebell festival takes place in the harbour every spring.\n\n"
        f"The entry code of the Bluebell festival is {code}.\n"
    )
    index = workdir / "search-index.db"
    for args in (["build"], ["add", str(doc)]):
        command = [sys.executable, "-m", "openlive.cli.main", "index", "--index", str(index), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    env = {"OPENLIVE_SEARCH_INDEX": str(index)}
    with ServeProcess(workdir, API_KEY, tls=True, env=env, log_lines=80) as server:
        yield Grounded(server, code, doc.resolve().as_uri())


async def ask_text(server: ServeProcess, question: str, **config: Any) -> list[types.LiveServerMessage]:
    live = client(server).aio.live
    connect_config = types.LiveConnectConfig(response_modalities=["TEXT"], system_instruction=BRIEF, **config)
    async with live.connect(model=MODEL, config=connect_config) as session:
        await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text=question)]))
        return [m async for m in session.receive()]


def metadata(messages: list[types.LiveServerMessage]) -> list[types.GroundingMetadata]:
    return [
        m.server_content.grounding_metadata
        for m in messages
        if m.server_content and m.server_content.grounding_metadata
    ]


async def test_an_operator_document_grounds_a_typed_answer(grounded: Grounded) -> None:
    messages = await ask_text(
        grounded.server, "What is the entry code of the Bluebell festival?", tools=SEARCH
    )
    text = "".join(m.text or "" for m in messages)
    why = (text, grounded.server.log_tail())
    assert grounded.code in text, why
    found = metadata(messages)
    assert len(found) == 1, why
    chunks = found[0].grounding_chunks or []
    assert chunks and chunks[0].retrieved_context is not None
    assert chunks[0].retrieved_context.uri == grounded.document_uri
    assert found[0].web_search_queries == ["What is the entry code of the Bluebell festival?"]
    assert any(
        grounded.code in (s.segment.text or "") for s in found[0].grounding_supports or [] if s.segment
    )


async def test_the_starter_corpus_grounds_a_capital_and_without_search_nothing_is_retrieved(
    grounded: Grounded,
) -> None:
    grounded_answer = await ask_text(grounded.server, "What is the capital of Australia?", tools=SEARCH)
    assert "canberra" in "".join(m.text or "" for m in grounded_answer).lower(), grounded.server.log_tail()
    assert metadata(grounded_answer)
    plain = await ask_text(grounded.server, "What is the entry code of the Bluebell festival?")
    assert metadata(plain) == []
    assert grounded.code not in "".join(m.text or "" for m in plain)


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or not NOISE_WAV.is_file(), reason="espeak-ng is needed (make setup)"
)
async def test_a_spoken_question_is_answered_aloud_from_the_document(
    grounded: Grounded, tmp_path: Path
) -> None:
    question = espeak_pcm16k("What is the entry code of the Bluebell festival?", tmp_path, voice="en-gb")
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        system_instruction=BRIEF,
        tools=SEARCH,
        output_audio_transcription=types.AudioTranscriptionConfig(),
        input_audio_transcription=types.AudioTranscriptionConfig(),
    )
    async with (
        client(grounded.server).aio.live.connect(model=MODEL, config=config) as session,
        Recorder(session) as rec,
    ):
        await send_pcm(session, question + silence(1.2))
        assert await rec.wait_turns(1, TURN_TIMEOUT_S), rec.explain()
    said = transcription(rec.messages, "output_transcription")
    heard = transcription(rec.messages, "input_transcription")
    why = (heard, said, grounded.server.log_tail())
    assert grounded.code in said.replace(",", "").replace(" ", ""), why
    assert any(
        r.message.server_content and r.message.server_content.grounding_metadata for r in rec.messages
    ), why
