"""``openlive say``: one spoken turn from a WAV file (or a text prompt) to a reply WAV and its transcript.

openlive say question.wav answer.wav
openlive say --text "What is the capital of France?" answer.wav
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from openlive.client.audio import (
    OUTPUT_RATE,
    duration_s,
    rate_from_mime,
    read_wav,
    resample_pcm16,
    write_wav,
)
from openlive.client.commandline import (
    CommandError,
    add_connection_arguments,
    guarded,
    make_model,
    run_sync,
)
from openlive.client.config import LiveGenerationConfig
from openlive.client.session import LiveSession
from openlive.client.types import audio_of, text_of
from openlive.protocol.messages import Modality, ServerContent, SpeechConfig

CHUNK_MS = 40
# Silence after the question: servers end the user's turn when they hear them stop talking.
TRAILING_SILENCE_S = 1.0


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "say",
        help="one spoken turn: IN.wav (or --text) -> reply OUT.wav, and print the reply's transcript",
        description="Send one spoken question (a WAV file) or a text prompt, write the spoken reply "
        "to OUT.wav (24 kHz, 16-bit mono) and print its transcript.",
    )
    p.add_argument("files", nargs="+", metavar="WAV", help="IN.wav OUT.wav, or just OUT.wav with --text")
    p.add_argument("--text", help="ask this text instead of reading IN.wav")
    p.add_argument("--voice", help="prebuilt voice name (e.g. Puck, Kore)")
    p.add_argument("--language", help="speech language code (e.g. en-US, ja-JP)")
    p.add_argument("--system", help="system instruction")
    p.add_argument("--realtime", action="store_true", help="send IN.wav paced in real time")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    add_connection_arguments(p)


def _paths(args: argparse.Namespace) -> tuple[Path | None, Path]:
    files = [Path(f) for f in args.files]
    if args.text is not None:
        if len(files) != 1:
            raise CommandError("with --text give only the output file: openlive say --text '...' OUT.wav")
        return None, files[0]
    if len(files) != 2:
        raise CommandError("usage: openlive say IN.wav OUT.wav  (or: openlive say --text '...' OUT.wav)")
    return files[0], files[1]


def _read_question(path: Path) -> tuple[bytes, int]:
    try:
        pcm, rate = read_wav(path)
    except FileNotFoundError:
        raise CommandError(f"cannot read {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    if not pcm:
        raise CommandError(f"cannot read {path}: it holds no audio")
    return pcm, rate


async def _send_audio(session: LiveSession, pcm: bytes, rate: int, realtime: bool) -> None:
    pcm += bytes(2 * int(rate * TRAILING_SILENCE_S))
    step = int(rate * CHUNK_MS / 1000) * 2
    for offset in range(0, len(pcm), step):
        await session.send_audio_realtime(pcm[offset : offset + step], sample_rate=rate)
        await asyncio.sleep(CHUNK_MS / 1000 if realtime else 0)
    await session.send_audio_stream_end()


async def _one_turn(args: argparse.Namespace) -> int:
    in_path, out_path = _paths(args)
    if not out_path.parent.exists():
        raise CommandError(f"cannot write {out_path}: {out_path.parent} does not exist")
    question = _read_question(in_path) if in_path is not None else None

    speech = SpeechConfig(voice_name=args.voice, language_code=args.language)
    config = LiveGenerationConfig(
        response_modalities=[Modality.AUDIO],
        speech_config=speech if (args.voice or args.language) else None,
        input_audio_transcription=question is not None,
        output_audio_transcription=True,
    )
    model = make_model(args, config, system_instruction=args.system)
    reply = bytearray()
    transcript: list[str] = []
    heard: list[str] = []
    async with asyncio.timeout(args.timeout), model.connect() as session:
        sender: asyncio.Task[None] | None = None
        if question is not None:
            sender = asyncio.create_task(_send_audio(session, *question, realtime=args.realtime))
        else:
            await session.send(args.text)
        try:
            async for message in session.receive_turn():
                if not isinstance(message, ServerContent):
                    continue
                if message.interrupted:
                    reply.clear()  # the server cancelled this reply: what came so far is not the answer
                for pcm, mime in audio_of(message):
                    reply += resample_pcm16(pcm, rate_from_mime(mime, OUTPUT_RATE), OUTPUT_RATE)
                if message.input_transcription is not None:
                    heard.append(message.input_transcription.text)
                if message.output_transcription is not None:
                    transcript.append(message.output_transcription.text)
                elif text := text_of(message):
                    transcript.append(text)
        finally:
            if sender is not None:
                sender.cancel()
    if heard:
        print(f"you: {''.join(heard).strip()}", file=sys.stderr)
    if not reply:
        raise CommandError("the server's reply held no audio")
    try:
        write_wav(out_path, bytes(reply), OUTPUT_RATE)
    except OSError as exc:
        raise CommandError(f"cannot write {out_path}: {exc}") from None
    print("".join(transcript).strip())
    print(
        f"wrote {out_path} ({duration_s(bytes(reply), OUTPUT_RATE):.1f} s at {OUTPUT_RATE} Hz)",
        file=sys.stderr,
    )
    return 0


async def main_async(args: argparse.Namespace) -> int:
    async def body() -> int:
        try:
            return await _one_turn(args)
        except TimeoutError:
            raise CommandError(f"no complete reply within {args.timeout:g} s") from None

    return await guarded(body)


def run(args: argparse.Namespace) -> int:
    return run_sync(main_async(args))
