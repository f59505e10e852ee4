"""``openlive serve``: listen at once (``/healthz`` answers 503 while the models load), then serve."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openlive.engine import Engine
    from openlive.server.run import ServerHandle
    from openlive.settings import Settings
    from openlive.store import RedisTokenStore, SqliteTokenStore

log = logging.getLogger("openlive.serve")

EXAMPLE_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the Live API server",
        description="Serve the Gemini Live API (BidiGenerateContent) with local models.",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="plain ws:// and http:// port (default 8765; 0 disables)")
    p.add_argument("--tls-port", type=int, help="wss:// and https:// port (default 8766)")
    p.add_argument("--tls-cert", type=Path, help="TLS certificate (PEM); see `openlive cert`")
    p.add_argument("--tls-key", type=Path, help="TLS private key (PEM)")
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept this API key (repeatable; default: accept any key)",
    )
    p.add_argument(
        "--llm-url",
        help="an OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp server, Ollama) to use instead "
        "of the embedded language model, e.g. http://gpu-host:8000/v1",
    )
    p.add_argument("--llm-model", help="the model name to ask that endpoint for")
    p.add_argument(
        "--max-sessions",
        type=int,
        help="connections this replica holds at once; more are refused at the handshake with HTTP 503 "
        "(default 64)",
    )
    p.add_argument(
        "--max-sessions-per-key",
        type=int,
        help="sessions one API key may hold at once on this replica; more close with 1008 "
        "(default: no quota)",
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        dest="drain_timeout_s",
        metavar="SECONDS",
        help="on SIGTERM, how long open sessions may take to finish their replies (default 30)",
    )
    p.add_argument("--config", type=Path, help="TOML settings file")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def load_settings(args: argparse.Namespace) -> Settings:
    from openlive.cli import UserError
    from openlive.settings import Settings

    if args.config is not None and not args.config.is_file():
        raise UserError(f"no such settings file: {args.config}")
    overrides = {
        "host": args.host,
        "port": args.port,
        "tls_port": args.tls_port,
        "tls_cert": args.tls_cert,
        "tls_key": args.tls_key,
        "api_keys": args.api_keys,
        "llm_url": args.llm_url,
        "llm_model": args.llm_model,
        "max_sessions": args.max_sessions,
        "max_sessions_per_key": args.max_sessions_per_key,
        "drain_timeout_s": args.drain_timeout_s,
    }
    try:
        settings = Settings.load(toml_file=args.config, overrides=overrides)
    except (ValueError, TypeError) as exc:
        raise UserError(f"bad settings: {exc}") from None
    for what, path in (("certificate", settings.tls_cert), ("key", settings.tls_key)):
        if path is not None and not path.is_file():
            raise UserError(f"TLS {what} not found: {path} (make one with `openlive cert DIR`)")
    return settings


def build_token_store(settings: Settings) -> SqliteTokenStore | RedisTokenStore:
    """Where ephemeral tokens and their use counts live: the Redis that resumable sessions use, when one is
    configured (shared by replicas), else the same SQLite file (survives a restart)."""
    from openlive.store import RedisTokenStore, SqliteTokenStore

    if settings.resumption_url:
        return RedisTokenStore(settings.resumption_url)
    return SqliteTokenStore(settings.resumption_db or settings.cache_dir / "resumption.db")


def build_engine(settings: Settings) -> Engine:
    """The engine over the configured profile; the models load later, in :meth:`Engine.load`.

    With ``llm_url`` set (``OPENLIVE_LLM_URL``) the LLM is that OpenAI-compatible server and the speech
    stages stay embedded (profile ``openlive-remote``); otherwise everything is embedded.
    """
    from openlive.backends.embedded import configured_profile
    from openlive.engine import Engine, SessionLimits
    from openlive.store import RedisResumptionStore, SqliteResumptionStore

    choice = configured_profile(settings)
    limits = SessionLimits(
        session_time_limit_s=settings.session_time_limit_s,
        session_time_limit_with_video_s=settings.session_time_limit_with_video_s,
        connection_time_limit_s=settings.connection_time_limit_s,
        go_away_before_s=settings.go_away_before_s,
    )
    resumption: RedisResumptionStore | SqliteResumptionStore
    if settings.resumption_url:  # shared by every server that points at it
        resumption = RedisResumptionStore(settings.resumption_url)
    else:
        resumption = SqliteResumptionStore(settings.resumption_db or settings.cache_dir / "resumption.db")
    return Engine(
        {choice.name: (choice.description, choice.load)},
        default_profile=choice.name,
        limits=limits,
        resumption=resumption,
    )


def banner(handle: ServerHandle, settings: Settings) -> str:
    plain, tls = handle.listener(tls=False), handle.listener(tls=True)
    lines = ["", "openlive is ready.", ""]
    if plain is not None:
        lines += [
            f"  Live WebSocket (JS, browsers)   {plain.ws_url}{LIVE_PATH}",
            f"  HTTP (REST, playground)         {plain.http_url}/",
        ]
    if tls is not None:
        lines += [
            f"  Live WebSocket over TLS         {tls.ws_url}{LIVE_PATH}",
            f"  HTTPS (REST, playground)        {tls.http_url}/",
            f"  Certificate to trust            {tls.spec.tls_cert.resolve() if tls.spec.tls_cert else ''}",
        ]
    key = settings.api_keys[0] if settings.api_keys else "anything"
    if tls is not None and tls.spec.tls_cert is not None:
        lines += [
            "",
            "  google-genai (Python; it only speaks wss://), unchanged code plus two variables:",
            f"    export GOOGLE_GEMINI_BASE_URL={tls.http_url}",
            f"    export SSL_CERT_FILE={tls.spec.tls_cert.resolve()}",
            "",
            *(("    " + line).rstrip() for line in _python_snippet(key).splitlines()),
        ]
    else:
        lines += ["", "  google-genai (Python) needs wss://: add --tls-cert/--tls-key (see `openlive cert`)."]
    if plain is not None:
        lines += [
            "",
            "  @google/genai (JS):",
            f"    new GoogleGenAI({{apiKey: '{key}', httpOptions: {{baseUrl: '{plain.http_url}'}}}})",
        ]
    return "\n".join(lines) + "\n"


def _python_snippet(key: str) -> str:
    return f"""import asyncio
from google import genai

async def main() -> None:
    client = genai.Client(api_key="{key}")
    config = {{"response_modalities": ["AUDIO"], "output_audio_transcription": {{}}}}
    async with client.aio.live.connect(model="{EXAMPLE_MODEL}", config=config) as session:
        await session.send_realtime_input(text="Hello! Who are you?")
        async for msg in session.receive():
            sc = msg.server_content
            if sc and sc.output_transcription and sc.output_transcription.text:
                print(sc.output_transcription.text, end="", flush=True)
            if sc and sc.turn_complete:
                break

asyncio.run(main())"""


OPEN_KEYS_WARNING = """
  ************************************************************************************
  *  WARNING: no API key is configured, so this server accepts ANY key (or none).    *
  *  Anyone who can reach it can use it. Set --api-key KEY or OPENLIVE_API_KEYS.     *
  ************************************************************************************
"""


async def serve(settings: Settings) -> int:
    from openlive.server import create_app, listen_specs, serve_until_signalled, start_servers

    engine = build_engine(settings)
    app = create_app(engine, settings, tokens=build_token_store(settings))
    try:
        specs = listen_specs(settings)
    except ValueError as exc:
        from openlive.cli import UserError

        raise UserError(str(exc)) from None
    try:
        handle = await start_servers(app, settings, specs)
    except OSError as exc:
        from openlive.cli import UserError

        raise UserError(f"cannot listen on {settings.host}: {exc.strerror or exc}") from None
    if not settings.api_keys:
        print(OPEN_KEYS_WARNING, file=sys.stderr, flush=True)
    urls = ", ".join(lst.http_url for lst in handle.listeners)
    print(f"openlive: listening on {urls}; loading models (/healthz answers 503 until ready)...", flush=True)

    async def load() -> None:
        try:
            await engine.load()
        except Exception as exc:
            log.exception("loading the models failed")
            print(f"openlive: loading the models failed: {exc}", file=sys.stderr, flush=True)
            await handle.stop()
            return
        print(banner(handle, settings), flush=True)

    loader = asyncio.create_task(load())
    try:
        await serve_until_signalled(handle, drain_s=settings.drain_timeout_s)
    finally:
        loader.cancel()
        await asyncio.wait([loader])
        ready = engine.is_ready()
        # The sessions are gone: the stages' models, threads and connections go too.
        await engine.aclose()
    return 0 if ready else 1


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = load_settings(args)
    return asyncio.run(serve(settings))
