"""Where to connect: the WebSocket URL and headers google-genai builds, for any server base URL."""

from __future__ import annotations

import ssl as ssl_module
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_BASE_URL = "http://127.0.0.1:8765"
DEFAULT_API_VERSION = "v1beta"

_WS_SCHEME = {"http": "ws", "ws": "ws", "https": "wss", "wss": "wss"}
_HTTP_SCHEME = {"http": "http", "ws": "http", "https": "https", "wss": "https"}

SslOption = ssl_module.SSLContext | str | Path | None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One server: its WebSocket URL, REST base, auth headers and TLS context."""

    ws_url: str
    rest_base: str
    headers: dict[str, str] = field(default_factory=dict)
    ssl: ssl_module.SSLContext | None = None


def _split(base_url: str) -> tuple[str, str, str]:
    parts = urlsplit(base_url.strip() if "://" in base_url else "http://" + base_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _WS_SCHEME:
        raise ValueError(f"base_url must start with http://, https://, ws:// or wss://, got {base_url!r}")
    if not parts.netloc:
        raise ValueError(f"base_url has no host: {base_url!r}")
    return scheme, parts.netloc, parts.path.rstrip("/")


def ssl_context(option: SslOption) -> ssl_module.SSLContext | None:
    """An SSLContext from a context, a CA file path (self-signed development certificates), or None."""
    if option is None or isinstance(option, ssl_module.SSLContext):
        return option
    path = Path(option).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"CA file not found: {path}")
    return ssl_module.create_default_context(cafile=str(path))


def resolve_endpoint(
    base_url: str = DEFAULT_BASE_URL,
    *,
    api_key: str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    ssl: SslOption = None,
) -> Endpoint:
    scheme, netloc, prefix = _split(base_url)
    ws_scheme = _WS_SCHEME[scheme]
    headers: dict[str, str] = {}
    method = "BidiGenerateContent"
    if api_key:
        headers["x-goog-api-key"] = api_key
        if api_key.startswith("auth_tokens/"):
            # Ephemeral tokens go to the constrained endpoint, with the header pair google-genai sends.
            method = "BidiGenerateContentConstrained"
            headers["Authorization"] = f"Token {api_key}"
    path = f"{prefix}/ws/google.ai.generativelanguage.{api_version}.GenerativeService.{method}"
    context = ssl_context(ssl) if ws_scheme == "wss" else None
    return Endpoint(
        ws_url=urlunsplit((ws_scheme, netloc, path, "", "")),
        rest_base=urlunsplit((_HTTP_SCHEME[scheme], netloc, prefix, "", "")),
        headers=headers,
        ssl=context,
    )
