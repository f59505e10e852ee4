"""Ephemeral tokens (``POST /v1alpha/auth_tokens``), kept in a token store, and the setup they lock.

Request body (camelCase or snake_case), all optional (protocol reference §6)::

    {"uses": 1, "expireTime": "...Z", "newSessionExpireTime": "...Z",
     "bidiGenerateContentSetup": {...a setup object...}, "fieldMask": "model,generationConfig.temperature"}

* ``uses`` defaults to 1; 0 means unlimited. A use is spent when a *new* session is set up with the
  token; resuming a session (``setup.sessionResumption.handle`` set) spends none.
* ``expireTime`` (default now + 30 min): after it the token opens nothing and sessions using it are
  closed with 1008. ``newSessionExpireTime`` (default now + 60 s): after it no new session may start.
  Both must lie in the future and less than 20 h ahead, else HTTP 400 in Google's error format.

Locking (what google-genai's ``live_constrained_parameters``/``lock_additional_fields`` produce):

* no ``bidiGenerateContentSetup``: nothing is locked, the client's setup is used as sent;
* a setup and no (or an empty) ``fieldMask``: the whole setup is locked: the token's setup is used and
  the client's is ignored, except for ``model`` when the token names none;
* a setup and a ``fieldMask``: the client's setup is used, but each masked path (``generationConfig``,
  ``generationConfig.temperature``, ...) takes the token's value, or is removed when the token's setup
  does not set it (a locked field the client may not set).

Tokens and their use counts live in a token store (``openlive.store.tokens``): ``openlive serve`` keeps
them in its SQLite file, or in Redis with ``resumption_url``, so a token minted through one replica opens
sessions on any other, the number of times it allows in all, also after a restart.

Paths and the first two key levels of both setups are compared in camelCase, so either casing works.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.server.auth import TOKEN_PREFIX
from openlive.store.tokens import MemoryTokenStore, StoredToken, TokenStore

DEFAULT_EXPIRE = timedelta(minutes=30)
DEFAULT_NEW_SESSION_EXPIRE = timedelta(seconds=60)
MAX_AHEAD = timedelta(hours=20)

EXPIRED_REASON = "The auth token has expired."
USED_UP_REASON = "The auth token has no uses left."
UNKNOWN_REASON = "The auth token is not valid."
NEW_SESSION_EXPIRED_REASON = "The auth token can no longer start new sessions."


class TokenRequestError(ValueError):
    """A bad ``auth_tokens`` request: HTTP 400 INVALID_ARGUMENT with this message."""


_FRACTION = re.compile(r"(\.\d+)")
_CAMEL = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def camel_two_levels(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its keys, and the keys of its object values, in camelCase (deeper levels untouched)."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            v = {camel(kk): vv for kk, vv in v.items()}
        out[camel(k)] = v
    return out


@dataclass(slots=True)
class EphemeralToken:
    name: str
    uses: int  # 0 = unlimited
    expire_time: datetime
    new_session_expire_time: datetime
    locked_setup: dict[str, Any] | None = None  # camelCase at the first two levels
    field_mask: list[str] | None = None  # camelCase paths; None = lock the whole setup
    sessions_started: int = 0
    owner: str = ""  # key_fingerprint of the API key that minted it (per-key quotas)

    def response_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uses": self.uses,
            "expireTime": format_time(self.expire_time),
            "newSessionExpireTime": format_time(self.new_session_expire_time),
        }


def format_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise TokenRequestError(f"Invalid value for {what}: expected an RFC 3339 timestamp string.")
    # Python 3.11 parses at most 6 fraction digits; Google's timestamps may carry 9.
    text = _FRACTION.sub(lambda m: m.group(1)[:7], value.strip())
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise TokenRequestError(
            f"Invalid value for {what}: {value!r} is not an RFC 3339 timestamp."
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t


def _field_mask(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        paths = [p.strip() for p in value.split(",")]
    elif isinstance(value, list) and all(isinstance(p, str) for p in value):
        paths = [p.strip() for p in value]
    elif isinstance(value, dict) and isinstance(value.get("paths"), list):
        paths = [str(p).strip() for p in value["paths"]]
    else:
        raise TokenRequestError("Invalid value for fieldMask: expected a comma-separated string of paths.")
    paths = [".".join(camel(seg) for seg in p.split(".")) for p in paths if p]
    return paths or None


class TokenIssuer:
    """Mints ephemeral tokens and decides whether one may open a connection or start a session. What a
    token allows and how many uses it has spent live in a token store (``openlive.store.tokens``:
    memory, an SQLite file, or Redis shared by replicas), so that a token minted through one server works
    on any server that shares the store, as many times as it allows in all, and after a restart. Store
    calls block (a file or a socket), so they run off the event loop."""

    def __init__(self, store: TokenStore | None = None, *, clock: Any = None) -> None:
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        # A wall clock returning an aware datetime; tests replace it.
        self._now = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        t: datetime = self._now()
        return t

    def prepare(self, body: dict[str, Any], *, owner: str = "") -> EphemeralToken:
        """A new token from a request body, not yet stored; raises :class:`TokenRequestError`.
        ``owner``: the fingerprint of the API key that asks for it."""
        body = {camel(k): v for k, v in body.items()}
        now = self.now()
        uses = body.get("uses", 1)
        if isinstance(uses, str) and uses.isdigit() and len(uses) <= 18:  # int64, and no 4,300-digit int()
            uses = int(uses)
        if not isinstance(uses, int) or isinstance(uses, bool) or uses < 0:
            raise TokenRequestError("Invalid value for uses: expected a non-negative integer.")
        expire = (
            parse_time(body["expireTime"], "expireTime") if body.get("expireTime") else now + DEFAULT_EXPIRE
        )
        new_session = (
            parse_time(body["newSessionExpireTime"], "newSessionExpireTime")
            if body.get("newSessionExpireTime")
            else now + DEFAULT_NEW_SESSION_EXPIRE
        )
        for what, t in (("expireTime", expire), ("newSessionExpireTime", new_session)):
            if t <= now:
                raise TokenRequestError(f"{what} must be in the future.")
            if t - now >= MAX_AHEAD:
                raise TokenRequestError(f"{what} must be less than 20 hours in the future.")
        # A new session can never outlive the token itself.
        new_session = min(new_session, expire)
        setup = body.get("bidiGenerateContentSetup")
        if setup is not None and not isinstance(setup, dict):
            raise TokenRequestError("Invalid value for bidiGenerateContentSetup: expected an object.")
        if isinstance(setup, dict) and isinstance(setup.get("setup"), dict) and len(setup) == 1:
            setup = setup["setup"]  # the shape of a BidiGenerateContent client message
        locked = camel_two_levels(setup) if setup else None
        mask = _field_mask(body.get("fieldMask")) if locked is not None else None
        return EphemeralToken(
            name=TOKEN_PREFIX + secrets.token_urlsafe(24),
            uses=uses,
            expire_time=expire,
            new_session_expire_time=new_session,
            locked_setup=locked,
            field_mask=mask,
            owner=owner,
        )

    async def add(self, token: EphemeralToken) -> None:
        """Store a prepared token: from now on it opens connections on every server sharing the store."""
        data = json.dumps(
            {
                "newSessionExpireTime": format_time(token.new_session_expire_time),
                "lockedSetup": token.locked_setup,
                "fieldMask": token.field_mask,
                "owner": token.owner,
            }
        )
        await asyncio.to_thread(
            self.store.add, token.name, data, uses=token.uses, expires=token.expire_time.timestamp()
        )

    async def create(self, body: dict[str, Any], *, owner: str = "") -> EphemeralToken:
        """Mint and store a token from a request body; raises :class:`TokenRequestError`."""
        token = self.prepare(body, owner=owner)
        await self.add(token)
        return token

    async def check_open(self, name: str) -> EphemeralToken:
        """The token for a new connection; raises a 1008 ``ProtocolError`` if it cannot open one."""
        stored = await asyncio.to_thread(self.store.get, name)
        if stored is None:
            raise ProtocolError(CloseCode.POLICY, UNKNOWN_REASON)
        token = _from_stored(name, stored)
        if self.now() >= token.expire_time:
            raise ProtocolError(CloseCode.POLICY, EXPIRED_REASON)
        return token

    async def spend(self, token: EphemeralToken, *, resuming: bool) -> None:
        """Count a session started with ``token``; resumption is free. Raises a 1008 ``ProtocolError``."""
        now = self.now()
        if now >= token.expire_time:
            raise ProtocolError(CloseCode.POLICY, EXPIRED_REASON)
        if resuming:
            return
        if now >= token.new_session_expire_time:
            raise ProtocolError(CloseCode.POLICY, NEW_SESSION_EXPIRED_REASON)
        if not await asyncio.to_thread(self.store.spend, token.name):
            raise ProtocolError(CloseCode.POLICY, USED_UP_REASON)
        token.sessions_started += 1


def _from_stored(name: str, stored: StoredToken) -> EphemeralToken:
    extra = json.loads(stored.data)
    return EphemeralToken(
        name=name,
        uses=stored.uses,
        expire_time=datetime.fromtimestamp(stored.expires, UTC),
        new_session_expire_time=parse_time(extra["newSessionExpireTime"], "newSessionExpireTime"),
        locked_setup=extra.get("lockedSetup"),
        field_mask=extra.get("fieldMask"),
        sessions_started=stored.spent,
        owner=extra.get("owner", ""),
    )


# --------------------------------------------------------------------------------------------------
# Applying a token's lock to the client's setup


_MISSING = object()


def _get(obj: Any, path: list[str]) -> Any:
    for seg in path:
        if not isinstance(obj, dict) or seg not in obj:
            return _MISSING
        obj = obj[seg]
    return obj


def _set(obj: dict[str, Any], path: list[str], value: Any) -> None:
    for seg in path[:-1]:
        nxt = obj.get(seg)
        if not isinstance(nxt, dict):
            nxt = {}
            obj[seg] = nxt
        obj = nxt
    obj[path[-1]] = value


def _delete(obj: dict[str, Any], path: list[str]) -> None:
    parent = _get(obj, path[:-1]) if len(path) > 1 else obj
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def apply_lock(client_setup: dict[str, Any], token: EphemeralToken) -> dict[str, Any]:
    """The setup a session actually gets: ``client_setup`` with the token's locked fields enforced."""
    if token.locked_setup is None:
        return client_setup
    client = camel_two_levels(client_setup)
    if token.field_mask is None:
        result = copy.deepcopy(token.locked_setup)
        if "model" not in result and "model" in client:
            result["model"] = client["model"]
        return result
    result = copy.deepcopy(client)
    for path in token.field_mask:
        segs = path.split(".")
        value = _get(token.locked_setup, segs)
        if value is _MISSING:
            _delete(result, segs)
        else:
            _set(result, segs, copy.deepcopy(value))
    return result


def apply_lock_to_frame(frame: str | bytes, token: EphemeralToken) -> str | bytes:
    """Rewrite a first frame's ``setup`` under the token's lock; other frames pass through untouched,
    so the protocol decoder still reports malformed input in its own words."""
    if token.locked_setup is None:
        return frame
    try:
        obj = json.loads(frame)
    except ValueError:
        return frame
    if not isinstance(obj, dict) or not isinstance(obj.get("setup"), dict):
        return frame
    obj["setup"] = apply_lock(obj["setup"], token)
    return json.dumps(obj)
