"""Languages and model names through the real google-genai client against a real ``openlive serve``.

A question spoken by espeak-ng in Spanish or German is answered in that language, in espeak-ng's voice
for it; the test hears the reply with the project's own Whisper backend and checks its language and
words. Also: the current Live model ids (``gemini-3.8-live`` and the rest) connect and are listed.
"""

from __future__ import annotations

import functools
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import types
from serve_process import ServeProcess
from voice_audio import (
    NOISE_WAV,
    REPLY_BYTES_PER_S,
    espeak_pcm16k,
    one_spoken_turn,
    transcription,
    turn_audio,
)

from openlive.backends.asr_whisper import WhisperRecognizer, whisper_base_dir
from openlive.backends.assets import cache_dir
from openlive.backends.audio import pcm16_to_float, resample
from openlive.backends.languages import WHISPER_LANGUAGES
from openlive.engine.language import guess_language
from openlive.stages.speech import INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE

pytestmark = pytest.mark.models

if shutil.which("espeak-ng") is None or not NOISE_WAV.is_file():
    pytest.skip("espeak-ng and the ALSA samples are needed (make setup-system)", allow_module_level=True)

API_KEY = "languages-genai-test-key"
MODEL = "gemini-3.8-live"  # today's generally available Live model id (issue 13)
# A whole sentence: a one-word answer ("Berlin.") shows no language.
SHORT_ANSWERS = "You are a voice assistant. Answer in one short, complete sentence."
# A reply that shows no language (one word) is asked for again in a new session, this many times.
ONE_WORD_RETRIES = 2
TURN_TIMEOUT_S = 90.0  # espeak speech and two Whisper passes on two shared cores
SPOKEN = [lang for lang, (_, voice) in WHISPER_LANGUAGES.items() if voice]  # what the server may detect


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path_factory.mktemp("languages-genai"), API_KEY, tls=True, log_lines=80) as srv:
        yield srv


@functools.cache
def whisper() -> WhisperRecognizer:
    """The project's multilingual Whisper, choosing among the languages the server speaks."""
    return WhisperRecognizer(whisper_base_dir(cache_dir(None)), cpu_threads=1, detect_among=SPOKEN)


def client(server: ServeProcess) -> genai.Client:
    ctx = ssl.create_default_context(cafile=str(server.cert))
    return genai.Client(
        api_key=API_KEY,
        http_options=types.HttpOptions(base_url=server.https_url, async_client_args={"ssl": ctx}),
    )


def connect(server: ServeProcess, model: str = MODEL, **config: Any) -> Any:
    return client(server).aio.live.connect(model=model, config=types.LiveConnectConfig(**config))


# (language, the question spoken by espeak-ng's voice for it, languageCode or None for detection, words
# one of which the reply must hold as Whisper hears it, whether Whisper must also identify the reply's
# language). Whisper base hears espeak-ng's speech badly, so these are questions it was measured to
# recognise through the server (others came out as Japanese, Thai, Welsh or nonsense that the model
# only echoes, and then the reply has none of the words). They have no comma or full stop inside:
# espeak-ng pauses there, the turn may end in the pause ("Guten Tag, kannst du" once did), and what
# follows is a new utterance whose language is identified anew ("Buenos días, | quisiera saber …":
# the second part was taken for Japanese). Whisper base identifies espeak-ng's Spanish replies
# (0.8-0.95), but not its short German ones: "Die Hauptstadt von Frankreich ist Paris." comes out as
# Latin or English at every rate from 130 to 165 words a minute, while decoding it as German gives the
# words. So German replies are checked by their German words, decoded as German (not by their facts:
# the 1.5B model sometimes answers "Berlin").
QUESTIONS = [
    pytest.param(
        "es",
        "Quiero saber cuál es la capital de Francia.",
        None,
        ("francia", "parís", "paris"),
        True,
        id="spanish-detected",
    ),
    pytest.param(
        "de",
        "Kannst du mir sagen wie die Hauptstadt von Frankreich heißt?",
        None,
        ("frankreich", "hauptstadt", "paris"),
        False,
        id="german-detected",
    ),
    pytest.param(
        "de",
        "Kannst du mir sagen wie die Hauptstadt von Frankreich heißt?",
        "de-DE",
        ("frankreich", "hauptstadt", "paris"),
        False,
        id="german-languageCode",
    ),
]


@pytest.mark.parametrize(("language", "question", "language_code", "words", "identify"), QUESTIONS)
async def test_a_spoken_question_is_answered_in_its_language(
    server: ServeProcess,
    tmp_path: Path,
    language: str,
    question: str,
    language_code: str | None,
    words: tuple[str, ...],
    identify: bool,
) -> None:
    speech = espeak_pcm16k(question, tmp_path, voice=language, words_per_minute=140)
    speech_config = {"language_code": language_code} if language_code else None
    for attempt in range(1, ONE_WORD_RETRIES + 2):
        connection = connect(
            server,
            response_modalities=["AUDIO"],
            input_audio_transcription={},
            output_audio_transcription={},
            speech_config=speech_config,
            system_instruction=SHORT_ANSWERS,
        )
        rec, finished = await one_spoken_turn(connection, speech, TURN_TIMEOUT_S)
        why = f"{rec.explain()}\n{server.log_tail()}"
        assert finished, why
        turn = rec.turns()[0]
        said = transcription(turn, "output_transcription")
        if guess_language(said) is not None:
            break
        # A reply that shows no language ("Berlin.", seen in a fresh-clone CI run despite the
        # instruction) is the 1.5B model's choice at its temperature: the question is asked again. A
        # reply in a wrong language is not retried: it fails below.
        print(f"\n{language}: attempt {attempt}'s reply shows no language: {said!r}")
    heard = transcription(rec.messages, "input_transcription")
    pcm = b"".join(blob.data or b"" for blob in turn_audio(turn))
    assert len(pcm) > REPLY_BYTES_PER_S // 2, why  # more than half a second of speech ("Paris.")

    # The reply, as Whisper hears it: its language among all the server speaks, and its words.
    audio = resample(pcm16_to_float(pcm), OUTPUT_SAMPLE_RATE, INPUT_SAMPLE_RATE)
    scores = whisper().identify(audio)
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    text = whisper().decode(audio, language).text.lower()
    report = f"heard {heard!r}; said {said!r}; Whisper: {ranked[:3]} {text!r}\n{why}"
    print(f"\n{language}: heard {heard!r} said {said!r}; reply identified as {ranked[:3]}: {text!r}")
    assert guess_language(said) == language, report  # the model wrote in the language
    assert ranked[0] == language or not identify, report  # and it was spoken in it
    assert any(word in text for word in words), report


async def test_gemini_3_8_live_connects_and_answers(server: ServeProcess) -> None:
    for model in (MODEL, "models/gemini-3.8-live-extended-thinking"):
        async with connect(server, model=model, response_modalities=["TEXT"]) as session:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text="Say hello in one word.")])
            )
            answer = [m async for m in session.receive()]
        assert answer[-1].server_content and answer[-1].server_content.turn_complete, (model, answer)
        assert "".join(m.text or "" for m in answer).strip(), (model, server.log_tail())


async def test_a_name_that_is_no_live_model_is_refused_with_1008(server: ServeProcess) -> None:
    with pytest.raises(genai.errors.APIError) as caught:
        async with connect(server, model="gemini-3.8-flash", response_modalities=["TEXT"]) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="Hi")]))
            [m async for m in session.receive()]
    assert caught.value.code == 1008 and "gemini-3.8-flash is not found" in str(caught.value)


def test_the_model_list_has_todays_live_ids(server: ServeProcess) -> None:
    response = httpx.get(f"{server.http_url}/v1beta/models", headers={"x-goog-api-key": API_KEY}, timeout=10)
    names = {m["name"] for m in response.json()["models"]}
    assert {"models/gemini-3.8-live", "models/gemini-3.8-live-extended-thinking"} <= names, names
    assert "models/gemini-live-2.5-flash-preview-native-audio-09-2025" in names, names
