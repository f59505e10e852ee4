"""Which URL paths are Live API WebSocket endpoints, and the path clean-up the JS SDK needs.

The official clients build these paths (protocol reference §1.1 and §9):

* Gemini Developer API: ``/ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent``
  and, with an ephemeral token, ``…BidiGenerateContentConstrained``;
* Vertex AI: ``/ws/google.cloud.aiplatform.{v}.LlmBidiService/BidiGenerateContent`` (optionally followed
  by ``/locations/{location}``);
* Firebase AI Logic: ``/ws/google.firebase.vertexai.{v}.GenerativeService/BidiGenerateContent`` and
  ``…LlmBidiService/BidiGenerateContent/locations/{location}``.

``@google/genai`` sends a leading ``//`` (``new URL(base).toString()`` adds a slash and ``/ws/…`` is
appended), so :class:`CollapseSlashesMiddleware` collapses repeated slashes before routing. Anything in
front of ``/ws/`` is allowed, so a server mounted under a prefix (``https://host/openlive``) still works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

API_VERSIONS: tuple[str, ...] = ("v1", "v1beta", "v1alpha", "v1beta1")
_V = "(?P<version>" + "|".join(API_VERSIONS) + ")"

_LIVE_PATHS: tuple[re.Pattern[str], ...] = (
    re.compile(
        rf"^(?:/.*)?/ws/google\.ai\.generativelanguage\.{_V}\.GenerativeService\."
        r"BidiGenerateContent(?P<constrained>Constrained)?$"
    ),
    re.compile(
        rf"^(?:/.*)?/ws/google\.cloud\.aiplatform\.{_V}\.LlmBidiService/BidiGenerateContent"
        r"(?:/locations/[^/]+)?$"
    ),
    re.compile(
        rf"^(?:/.*)?/ws/google\.firebase\.vertexai\.{_V}\.(?:GenerativeService|LlmBidiService)/"
        r"BidiGenerateContent(?:/locations/[^/]+)?$"
    ),
)

_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True, slots=True)
class LivePath:
    api_version: str
    # The ...Constrained method, which the SDKs use with ephemeral tokens.
    constrained: bool


def match_live_path(path: str) -> LivePath | None:
    """The Live endpoint ``path`` names (after slash collapsing), or None when it names none."""
    for pattern in _LIVE_PATHS:
        m = pattern.match(path)
        if m is not None:
            groups = m.groupdict()
            return LivePath(api_version=m["version"], constrained=bool(groups.get("constrained")))
    return None


def collapse_slashes(path: str) -> str:
    return _SLASHES.sub("/", path)


class CollapseSlashesMiddleware:
    """Rewrites ``scope["path"]`` (and ``raw_path``) with repeated slashes collapsed, for HTTP and WS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "//" in scope.get("path", ""):
            scope = dict(scope)
            scope["path"] = collapse_slashes(scope["path"])
            raw = scope.get("raw_path")
            if isinstance(raw, bytes):
                scope["raw_path"] = re.sub(rb"/{2,}", b"/", raw)
        await self.app(scope, receive, send)
