"""The profiles openlive ships: the embedded CPU stack, and the same speech stack over a remote LLM.

Loading is blocking and slow (seconds; assembling the weights on first use takes longer), so the engine
calls these in a worker thread at start-up. Backend modules are imported here, not at the top, so that
importing this module stays cheap and a missing optional runtime fails only the profile that needs it.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openlive.backends.assets import cache_dir, llm_gguf_path
from openlive.backends.core_share import CoreShare
from openlive.settings import Settings
from openlive.stages import (
    FrameDescriber,
    LanguageModel,
    SpeechRecognizer,
    SpeechSynthesizer,
    TurnDetector,
    VoiceActivityDetector,
)
from openlive.stages.profile import Profile
from openlive.stages.search import PassageIndex, SearchProvider
from openlive.stages.speech import Phonemizer

log = logging.getLogger(__name__)

EMBEDDED_PROFILE_NAME = "openlive-embedded"
REMOTE_PROFILE_NAME = "openlive-remote"
# OPENLIVE_INSTRUCTION_RETRIEVAL's values (engine/instruction_retrieval.py says what each does).
INSTRUCTION_RETRIEVAL_MODES = ("auto", "always", "never")

# Appended by the engine to the system prompt of sessions that answer with audio. Everything the model
# writes is read aloud by the TTS, so it asks for what sounds natural and rules out what cannot be said.
# It is kept short and fixed so its tokens stay in the LLM's KV cache (see ``warm_system_prompt``).
# "Code" is deliberately not in the list of things to avoid: the small model then takes tool calls for code
# and describes them in words instead of making them.
SPOKEN_STYLE_PROMPT = (
    "You are talking with a person by voice, and everything you say is read aloud. "
    "Keep answers brief: one to three short, plain spoken sentences, the answer first. "
    "Do not format your words: no markdown, lists, headings, tables, emoji or URLs; write numbers and "
    "symbols the way you would say them. If you did not understand, ask one short question. "
    "Reply in the language the person speaks."
)

EMBEDDED_LLM_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
EMBEDDED_DESCRIPTION = "openlive's embedded CPU stack (speech recognition, language model, speech synthesis)"
# Where the embedded LLM keeps the KV states of long prompt prefixes, under the cache directory.
PREFIX_CACHE_DIRNAME = "llm-prefix"
# The embedded model's replies are capped so a runaway answer cannot hold the single LLM worker for long.
EMBEDDED_OUTPUT_TOKEN_LIMIT = 512


def load_embedded_profile(settings: Settings) -> Profile:
    """Everything local: Silero VAD, Smart Turn, Whisper, Qwen2.5 1.5B on llama.cpp, Piper and Kokoro."""
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

    cache = cache_dir(settings)
    started = time.perf_counter()
    # The model's prefills step aside while the profile's recognisers decode (see core_share.py).
    share = CoreShare()
    llm = LlamaCppLanguageModel(
        llm_gguf_path(cache),
        n_ctx=settings.llm_context_tokens,
        n_threads=settings.llm_threads,
        name=EMBEDDED_LLM_NAME,
        default_max_tokens=EMBEDDED_OUTPUT_TOKEN_LIMIT,
        kv_cache_type=settings.llm_kv_cache_type,
        # llama.cpp cannot keep a quantized V cache without it; with f16 it only slows prompt reading.
        flash_attn=settings.llm_kv_cache_type != "f16",
        prefix_memory_bytes=settings.llm_prefix_memory_bytes,
        prefix_cache_dir=settings.llm_prefix_cache_dir or cache / PREFIX_CACHE_DIRNAME,
        prefix_disk_bytes=settings.llm_prefix_cache_bytes,
        core_share=share,
    )
    # Puts the prompt prefix that audio sessions without their own instruction start with in the KV cache.
    warm = llm.warm_system_prompt(SPOKEN_STYLE_PROMPT)
    log.info("LLM loaded (%d prompt tokens cached) in %.1f s", warm, time.perf_counter() - started)
    return _with_speech_stages(
        name=EMBEDDED_PROFILE_NAME,
        description=EMBEDDED_DESCRIPTION,
        llm=llm,
        settings=settings,
        cache=cache,
        output_token_limit=EMBEDDED_OUTPUT_TOKEN_LIMIT,
        core_share=share,
    )


def load_remote_profile(settings: Settings) -> Profile:
    """The embedded speech stages with the LLM at ``settings.llm_url`` (any OpenAI-compatible endpoint)."""
    from openlive.backends.llm_openai import OpenAICompatibleLanguageModel

    if not settings.llm_url:
        raise ValueError("load_remote_profile needs settings.llm_url (OPENLIVE_LLM_URL)")
    llm = OpenAICompatibleLanguageModel.from_settings(settings)
    profile = _with_speech_stages(
        name=REMOTE_PROFILE_NAME,
        description=remote_description(settings),
        llm=llm,
        settings=settings,
        cache=cache_dir(settings),
        output_token_limit=1024,
    )
    if settings.llm_accepts_images:
        profile.llm_sees_images = True
    return profile


@dataclass(frozen=True, slots=True)
class ProfileChoice:
    """The profile the settings select: its name, a description (``GET …/models``) and its loader."""

    name: str
    description: str
    load: Callable[[], Profile]


def configured_profile(settings: Settings) -> ProfileChoice:
    """The one place that picks the profile: the remote-LLM one when ``llm_url`` is set (the speech
    stages stay embedded), otherwise the embedded one. The models load only when ``load`` is called."""
    if settings.llm_url:
        return ProfileChoice(
            REMOTE_PROFILE_NAME, remote_description(settings), lambda: load_remote_profile(settings)
        )
    return ProfileChoice(EMBEDDED_PROFILE_NAME, EMBEDDED_DESCRIPTION, lambda: load_embedded_profile(settings))


def load_configured_profile(settings: Settings) -> Profile:
    """The profile ``configured_profile`` selects, loaded."""
    return configured_profile(settings).load()


def remote_description(settings: Settings) -> str:
    return f"embedded speech stages with {settings.llm_model or 'the language model'} at {settings.llm_url}"


def _with_speech_stages(
    *,
    name: str,
    description: str,
    llm: LanguageModel,
    settings: Settings,
    cache: Path,
    output_token_limit: int,
    core_share: CoreShare | None = None,
) -> Profile:
    tts, asr, vad, turn = _load_speech_stages(cache, core_share)
    retrieval = instruction_retrieval_mode(settings)  # a wrong value stops the start, not a session
    return Profile(
        search=load_search_provider(settings, cache),
        frames=load_frame_describer(),
        name=name,
        description=description,
        llm=llm,
        tts=tts,
        asr=asr,
        vad=vad,
        turn=turn,
        input_token_limit=settings.llm_context_tokens,
        output_token_limit=output_token_limit,
        spoken_style_prompt=SPOKEN_STYLE_PROMPT,
        instruction_retrieval=retrieval,
        call_acknowledgement=settings.call_acknowledgement,
        passage_index=load_passage_indexes(),
        phonemizer=load_phonemizer() if settings.asr_term_spelling else None,
    )


def load_phonemizer() -> Phonemizer | None:
    """espeak-ng's pronunciations for spelling terms in transcripts; None (with a warning) without it."""
    from openlive.backends.phonemes_espeak import EspeakPhonemizer

    try:
        return EspeakPhonemizer()
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("transcripts keep the recogniser's spelling of the app's terms: %s", exc)
        return None


def load_passage_indexes() -> Callable[[], PassageIndex]:
    """In-memory hybrid indexes for sessions' instruction sections (instruction retrieval)."""
    from openlive.backends.search_local import in_memory_indexes

    return in_memory_indexes()


def instruction_retrieval_mode(settings: Settings) -> str:
    mode = settings.instruction_retrieval.strip().lower()
    if mode not in INSTRUCTION_RETRIEVAL_MODES:
        raise ValueError(f"instruction_retrieval must be one of {', '.join(INSTRUCTION_RETRIEVAL_MODES)}")
    return mode


def load_search_provider(settings: Settings, cache: Path) -> SearchProvider:
    """SearXNG when ``searxng_url`` is set, otherwise the local knowledge index (with its starter corpus)."""
    if settings.searxng_url:
        from openlive.backends.search_searxng import SearxngSearch

        return SearxngSearch(settings.searxng_url)
    from openlive.backends.search_local import LocalIndex

    return LocalIndex(search_index_path(settings, cache))


def load_frame_describer() -> FrameDescriber | None:
    """OCR and a scene summary for camera and screen frames. Loaded at start (about 0.6–1.6 s and 180 MiB,
    docs/benchmarks.md) rather than on the first frame, which would otherwise wait that long. Without
    rapidocr (an install without the server extra's full stack) frames are dropped, as before."""
    from openlive.backends.vision_ocr import OcrFrameDescriber

    started = time.perf_counter()
    try:
        describer = OcrFrameDescriber()
    except ImportError:
        log.warning("rapidocr is not installed: camera and screen frames will not be described")
        return None
    log.info("frame describer (OCR) loaded in %.1f s", time.perf_counter() - started)
    return describer


def search_index_path(settings: Settings, cache: Path) -> Path:
    return settings.search_index or cache / "search-index.db"


def _load_speech_stages(
    cache: Path, core_share: CoreShare | None = None
) -> tuple[SpeechSynthesizer, dict[str, SpeechRecognizer], VoiceActivityDetector, TurnDetector]:
    from openlive.backends.asr_whisper import load_recognizers
    from openlive.backends.tts_router import load_default_synthesizer
    from openlive.backends.turn_smart import SmartTurnDetector
    from openlive.backends.vad_silero import SileroVad

    started = time.perf_counter()
    tts = load_default_synthesizer(cache)
    # Language detection picks only among the languages the profile can answer in.
    asr: dict[str, SpeechRecognizer] = dict(
        load_recognizers(cache, languages=tuple(tts.languages()), core_share=core_share)
    )
    vad = SileroVad()
    turn = SmartTurnDetector()
    log.info("speech stages loaded in %.1f s", time.perf_counter() - started)
    return tts, asr, vad, turn
