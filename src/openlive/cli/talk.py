"""``openlive talk``: a spoken conversation from the terminal, with live transcripts.

openlive talk                 # microphone in, speaker out (use headphones: there is no echo canceller)
openlive talk --text          # type lines, read the replies
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

from openlive.client.commandline import add_connection_arguments, guarded, make_model, run_sync
from openlive.client.config import LiveGenerationConfig
from openlive.client.session import LiveSession
from openlive.client.sinks import SpeakerSink
from openlive.client.sources import MicrophoneSource
from openlive.client.types import text_of
from openlive.protocol.messages import Modality, ServerContent, SpeechConfig


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "talk",
        help="talk with the model from the terminal (microphone and speaker, or --text)",
        description="A live conversation: speak into the microphone and hear the reply, with live "
        "transcripts of both sides; or, with --text, type lines and read the replies.",
    )
    p.add_argument("--text", action="store_true", help="text mode: read lines from stdin, print replies")
    p.add_argument("--voice", help="prebuilt voice name (e.g. Puck, Kore)")
    p.add_argument("--language", help="speech language code (e.g. en-US, ja-JP)")
    p.add_argument("--system", help="system instruction")
    p.add_argument(
        "--half-duplex",
        action="store_true",
        help="mute the microphone while the reply plays (no headphones; you cannot interrupt then)",
    )
    p.add_argument("--input-device", help="microphone (sounddevice name or index)")
    p.add_argument("--output-device", help="speaker (sounddevice name or index)")
    add_connection_arguments(p)


def _device(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


class TranscriptPrinter:
    """Streams both sides' transcript pieces, starting a new labelled line when the speaker changes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.speaker: str | None = None

    def write(self, speaker: str, text: str) -> None:
        if speaker != self.speaker:
            self.end_line()
            self.out.write(f"{speaker}: ")
            self.speaker = speaker
            text = text.lstrip()
        self.out.write(text)
        self.out.flush()

    def user(self, text: str) -> None:
        self.write("you", text)

    def model(self, text: str) -> None:
        self.write("model", text)

    def note(self, text: str) -> None:
        self.end_line()
        self.out.write(f"[{text}]\n")
        self.out.flush()

    def end_line(self) -> None:
        if self.speaker is not None:
            self.out.write("\n")
            self.out.flush()
        self.speaker = None


def _is_stream(file: TextIO) -> bool:
    """True for pipes, terminals and sockets, which asyncio can read without blocking; False for files."""
    try:
        mode = os.fstat(file.fileno()).st_mode
    except (OSError, ValueError):  # no file descriptor (e.g. replaced by a StringIO)
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


async def _stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin without blocking the event loop; a regular file is simply read."""
    if not _is_stream(sys.stdin):
        for line in sys.stdin:
            yield line
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line_bytes := await reader.readline():
            yield line_bytes.decode("utf-8", errors="replace")
    finally:
        transport.close()


async def _text_mode(session: LiveSession, printer: TranscriptPrinter) -> None:
    if sys.stdin.isatty():
        print("Type a message and press Enter (Ctrl-D to quit).", file=sys.stderr)
    async for line in _stdin_lines():
        text = line.strip()
        if not text:
            continue
        await session.send(text)
        async for message in session.receive_turn():
            if not isinstance(message, ServerContent):
                continue
            if message.output_transcription is not None and message.output_transcription.text:
                printer.model(message.output_transcription.text)
            elif piece := text_of(message):
                printer.model(piece)
            if message.interrupted:
                printer.note("interrupted")
        printer.end_line()


async def _mute_while_playing(source: MicrophoneSource, sink: SpeakerSink) -> None:
    """Half duplex: without an echo canceller the model would hear itself and stop mid-sentence."""
    while True:
        source.muted = sink.playing
        await asyncio.sleep(0.02)


async def _voice_mode(
    session: LiveSession,
    source: MicrophoneSource,
    sink: SpeakerSink,
    printer: TranscriptPrinter,
    *,
    half_duplex: bool,
) -> None:
    controller = await session.start_audio_conversation(
        source=source,
        sink=sink,
        on_input_transcription=printer.user,
        on_output_transcription=printer.model,
        on_turn_complete=printer.end_line,
        on_interrupted=lambda: printer.note("interrupted"),
    )
    hint = "" if half_duplex else " Use headphones (or --half-duplex), or the reply will interrupt itself."
    print(f"Listening: speak now (Ctrl-C to stop).{hint}", file=sys.stderr)
    muter = asyncio.create_task(_mute_while_playing(source, sink)) if half_duplex else None
    try:
        await controller.wait()
    finally:
        if muter is not None:
            muter.cancel()
        await controller.stop()
        printer.end_line()


async def main_async(args: argparse.Namespace) -> int:
    async def body() -> int:
        speech = SpeechConfig(voice_name=args.voice, language_code=args.language)
        config = LiveGenerationConfig(
            response_modalities=[Modality.TEXT if args.text else Modality.AUDIO],
            speech_config=speech if (args.voice or args.language) else None,
            input_audio_transcription=not args.text,
            output_audio_transcription=not args.text,
        )
        model = make_model(args, config, system_instruction=args.system)
        printer = TranscriptPrinter(sys.stdout)
        if args.text:
            async with model.connect() as session:
                await _text_mode(session, printer)
            return 0
        # Devices first: no point opening a session that cannot hear or speak.
        source = MicrophoneSource(device=_device(args.input_device))
        source.check()
        sink = SpeakerSink(device=_device(args.output_device))
        try:
            async with model.connect() as session:
                await _voice_mode(session, source, sink, printer, half_duplex=args.half_duplex)
        finally:
            sink.close()
        return 0

    return await guarded(body)


def run(args: argparse.Namespace) -> int:
    return run_sync(main_async(args))
