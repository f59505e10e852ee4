"""What the client commands (``openlive talk | say | models``) share: connection flags and error lines.

Errors a user can cause (no server, wrong key, bad file, no microphone) become one line on stderr and a
non-zero exit status; a traceback would only hide the cause.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from openlive.client.config import LiveGenerationConfig
from openlive.client.endpoint import DEFAULT_API_VERSION, DEFAULT_BASE_URL
from openlive.client.errors import AudioDeviceError, LiveConnectionError, LiveError
from openlive.client.model import DEFAULT_MODEL, LiveModel

PROG = "openlive"


class CommandError(Exception):
    """A user-facing failure: the message is printed as ``openlive: <message>``."""


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server")
    group.add_argument(
        "--url",
        default=os.environ.get("OPENLIVE_URL", DEFAULT_BASE_URL),
        help="server base URL: http(s):// or ws(s):// (default: $OPENLIVE_URL or %(default)s)",
    )
    group.add_argument(
        "--api-key", default=os.environ.get("OPENLIVE_API_KEY"), help="API key (default: $OPENLIVE_API_KEY)"
    )
    group.add_argument("--cafile", help="CA certificate (PEM) to trust, for a server with a self-signed cert")
    group.add_argument("--model", default=DEFAULT_MODEL, help="model name (default: %(default)s)")
    group.add_argument("--api-version", default=DEFAULT_API_VERSION, help="API version in the URL path")


def make_model(
    args: argparse.Namespace, config: LiveGenerationConfig, *, system_instruction: str | None = None
) -> LiveModel:
    try:
        return LiveModel(
            args.model,
            config,
            system_instruction=system_instruction,
            base_url=args.url,
            api_key=args.api_key,
            ssl=args.cafile,
            api_version=args.api_version,
        )
    except (ValueError, FileNotFoundError) as exc:
        raise CommandError(str(exc)) from None


def _mentions_key(reason: str) -> bool:
    lowered = reason.lower()
    return any(word in lowered for word in ("key", "token", "auth", "credential", "permission"))


def describe_error(exc: BaseException) -> str:
    """One line, in the user's terms, for the errors a user can cause."""
    if isinstance(exc, CommandError | AudioDeviceError):
        return str(exc)
    if isinstance(exc, LiveConnectionError):
        if exc.code in (401, 403) or (exc.code == 400 and _mentions_key(exc.reason)):
            return f"the server refused the key ({exc.reason})"
        hint = ""
        if "certificate" in exc.reason.lower():
            hint = " (for a self-signed certificate pass --cafile cert.pem)"
        elif exc.code == 1006 and "setup" not in exc.reason:
            hint = " (is `openlive serve` running there?)"
        return exc.reason + hint
    if isinstance(exc, LiveError):
        reason = exc.reason or "no reason given"
        if exc.code == 1008 and _mentions_key(reason):
            return f"the server refused the key ({exc.code}): {reason}"
        if exc.code == 1008:
            return f"the server refused the session ({exc.code}): {reason}"
        if exc.code == 1007:
            return f"the server rejected the request as invalid ({exc.code}): {reason}"
        if exc.code == 1011:
            return f"the server failed ({exc.code}): {reason}"
        return f"the session ended ({exc.code}): {reason}"
    return f"{type(exc).__name__}: {exc}"


USER_ERRORS = (CommandError, LiveError, AudioDeviceError)


async def guarded(main: Callable[[], Awaitable[int]]) -> int:
    """Run a command body; user-caused errors become one ``openlive: ...`` line and exit status 1."""
    try:
        return await main()
    except USER_ERRORS as exc:
        print(f"{PROG}: {describe_error(exc)}", file=sys.stderr)
        return 1


def run_sync(coro: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run`` with Ctrl-C as a normal way to stop (exit 130, no traceback)."""
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
