"""API keys and ephemeral tokens: where the clients put them, and whether they are valid.

Where each client puts its credential (protocol reference §1.1):

* API key: ``x-goog-api-key`` header (google-genai), ``?key=`` (@google/genai, Firebase, raw WebSocket
  docs), ``Authorization: Bearer …`` (Vertex-style clients and proxies).
* Ephemeral token (``auth_tokens/…``): ``?access_token=`` (@google/genai), ``Authorization: Token …``
  (google-genai, which also repeats it in ``x-goog-api-key``).

A value that starts with ``auth_tokens/`` is an ephemeral token wherever it appears. Tokens are accepted
on both the plain and the ``…Constrained`` method: the SDKs only ever pick the latter for tokens, and
being lenient here costs nothing.

When no API key is configured every key (or none) is accepted; ``openlive serve`` warns about it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TOKEN_PREFIX = "auth_tokens/"

# Gemini's own wording for a bad key (the REST API answers 400 API_KEY_INVALID with it).
INVALID_KEY_REASON = "API key not valid. Please pass a valid API key."
MISSING_KEY_REASON = "Method doesn't allow unregistered callers. Please use an API key."


@dataclass(frozen=True, slots=True)
class Credential:
    """What the request carried: an API key, an ephemeral token name, or nothing (both None)."""

    api_key: str | None = None
    token: str | None = None


def extract_credential(headers: Mapping[str, str], query: Mapping[str, str]) -> Credential:
    """The credential of a request; an ephemeral token wins over an API key when both are present."""
    candidates: list[str] = []
    auth = headers.get("authorization", "").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        candidates.append(value.strip())
    for v in (query.get("access_token"), headers.get("x-goog-api-key"), query.get("key")):
        if v:
            candidates.append(v.strip())
    for c in candidates:
        if c.startswith(TOKEN_PREFIX):
            return Credential(token=c)
    return Credential(api_key=candidates[0]) if candidates else Credential()


class KeyChecker:
    """Checks API keys against the configured ones, in constant time."""

    def __init__(self, api_keys: Sequence[str]) -> None:
        self._keys = [k.encode() for k in api_keys if k]

    @property
    def open(self) -> bool:
        """True when no key is configured, so that every caller is accepted."""
        return not self._keys

    def check(self, key: str | None) -> str | None:
        """None when ``key`` is acceptable, else the reason to give the client."""
        if self.open:
            return None
        if not key:
            return MISSING_KEY_REASON
        raw = key.encode()
        # Compare against every key so the time taken does not reveal which one nearly matched.
        ok = False
        for k in self._keys:
            ok |= hmac.compare_digest(raw, k)
        return None if ok else INVALID_KEY_REASON


def key_fingerprint(api_key: str) -> str:
    """What per-key quotas count a key under, and what a token records of the key that minted it: a
    digest, so that no key is kept in memory or in a shared store."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]
