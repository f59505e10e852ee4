"""API keys and ephemeral tokens on the Live endpoint and the REST token endpoint."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from conftest import (
    LIVE,
    MODEL,
    SETUP,
    LiveServer,
    ServerFactory,
    assert_session_works,
    expect_close,
    open_session,
)
from openlive.server.auth import INVALID_KEY_REASON, MISSING_KEY_REASON, Credential, extract_credential
from openlive.server.tokens import (
    EXPIRED_REASON,
    NEW_SESSION_EXPIRED_REASON,
    UNKNOWN_REASON,
    USED_UP_REASON,
    EphemeralToken,
    apply_lock,
)

CONSTRAINED = "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"


@pytest.fixture
async def keyed(server_factory: ServerFactory) -> LiveServer:
    return await server_factory(api_keys=["secret-1", "secret-2"])


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


async def mint(
    server: LiveServer, body: dict[str, Any], *, key: str = "secret-1", version: str = "v1alpha"
) -> Any:
    async with httpx.AsyncClient(base_url=server.http) as http:
        return await http.post(f"/{version}/auth_tokens", json=body, headers={"x-goog-api-key": key})


async def mint_name(server: LiveServer, body: dict[str, Any] | None = None) -> str:
    resp = await mint(server, body or {})
    assert resp.status_code == 200, resp.text
    name = resp.json()["name"]
    assert isinstance(name, str) and name.startswith("auth_tokens/")
    return name


# --------------------------------------------------------------------------------------------------
# API keys


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("?key=secret-1", {}),
        ("", {"x-goog-api-key": "secret-2"}),
        ("", {"Authorization": "Bearer secret-1"}),
    ],
)
async def test_a_valid_key_in_each_place_opens_a_session(
    keyed: LiveServer, query: str, headers: dict[str, str]
) -> None:
    async with keyed.connect(LIVE + query, additional_headers=headers) as ws:
        await open_session(ws)
        await assert_session_works(keyed, ws)


@pytest.mark.parametrize(
    ("query", "headers", "reason"),
    [
        ("?key=wrong", {}, INVALID_KEY_REASON),
        ("", {"x-goog-api-key": "secret-3"}, INVALID_KEY_REASON),
        ("", {"Authorization": "Bearer nope"}, INVALID_KEY_REASON),
        ("", {}, MISSING_KEY_REASON),
    ],
)
async def test_a_wrong_or_missing_key_closes_1008(
    keyed: LiveServer, query: str, headers: dict[str, str], reason: str
) -> None:
    async with keyed.connect(LIVE + "?key=secret-1") as bystander:
        await open_session(bystander)
        async with keyed.connect(LIVE + query, additional_headers=headers) as ws:
            # The close comes right after accept, before any setup is read.
            assert await expect_close(ws) == (1008, reason)
        await assert_session_works(keyed, bystander)


async def test_without_configured_keys_any_key_or_none_is_accepted(server: LiveServer) -> None:
    for path in (LIVE, LIVE + "?key=whatever"):
        async with server.connect(path) as ws:
            await open_session(ws)


def test_credential_extraction_prefers_tokens() -> None:
    assert extract_credential({"x-goog-api-key": "k"}, {}) == Credential(api_key="k")
    assert extract_credential({}, {"key": "k"}) == Credential(api_key="k")
    assert extract_credential({"authorization": "Bearer k"}, {}) == Credential(api_key="k")
    tok = "auth_tokens/abc"
    # google-genai sends the token twice: as Authorization: Token and as x-goog-api-key.
    assert extract_credential({"authorization": f"Token {tok}", "x-goog-api-key": tok}, {}) == Credential(
        token=tok
    )
    assert extract_credential({}, {"access_token": tok, "key": "k"}) == Credential(token=tok)
    assert extract_credential({"authorization": "Basic xyz"}, {}) == Credential()


# --------------------------------------------------------------------------------------------------
# Minting tokens


@pytest.mark.parametrize("version", ["v1alpha", "v1beta", "v1"])
async def test_minting_a_token_answers_name_uses_and_times(keyed: LiveServer, version: str) -> None:
    resp = await mint(keyed, {}, version=version)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"].startswith("auth_tokens/")
    assert body["uses"] == 1
    now = datetime.now(UTC)
    expire = datetime.fromisoformat(body["expireTime"])
    new_session = datetime.fromisoformat(body["newSessionExpireTime"])
    assert timedelta(minutes=29) < expire - now <= timedelta(minutes=30)
    assert timedelta(seconds=50) < new_session - now <= timedelta(seconds=60)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"expireTime": timedelta(hours=21)}, "expireTime must be less than 20 hours in the future."),
        (
            {"new_session_expire_time": timedelta(hours=20, minutes=5)},
            "newSessionExpireTime must be less than 20 hours",
        ),
        ({"expireTime": timedelta(minutes=-1)}, "expireTime must be in the future."),
        ({"expireTime": "tomorrow"}, "Invalid value for expireTime"),
        ({"uses": -1}, "Invalid value for uses"),
        ({"uses": "many"}, "Invalid value for uses"),
        ({"uses": "9" * 5000}, "Invalid value for uses"),
        (
            {"bidiGenerateContentSetup": {"generationConfig": {"temperature": "hot"}}},
            "Invalid bidiGenerateContentSetup",
        ),
    ],
)
async def test_bad_token_requests_get_400_in_googles_error_format(
    keyed: LiveServer, body: dict[str, Any], message: str
) -> None:
    # Times are made relative to now here, not at collection: a long suite would age them.
    body = {k: iso(v) if isinstance(v, timedelta) else v for k, v in body.items()}
    resp = await mint(keyed, body)
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == 400 and err["status"] == "INVALID_ARGUMENT"
    assert err["message"].startswith(message), err["message"]


async def test_a_hostile_token_request_body_is_a_400_not_a_500(keyed: LiveServer) -> None:
    nested = b'{"bidiGenerateContentSetup": ' + b'{"a": ' * 200 + b"1" + b"}" * 201
    async with httpx.AsyncClient(base_url=keyed.http, headers={"x-goog-api-key": "secret-1"}) as http:
        deep = await http.post("/v1alpha/auth_tokens", content=b"[" * 100_000)
        deeply = await http.post("/v1alpha/auth_tokens", content=nested)
        huge = await http.post(
            "/v1alpha/auth_tokens", content=b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        )
    assert (deep.status_code, deeply.status_code, huge.status_code) == (400, 400, 413)
    assert "Invalid JSON payload received" in deep.json()["error"]["message"]


async def test_minting_needs_a_valid_api_key_and_not_a_token(keyed: LiveServer) -> None:
    bad = await mint(keyed, {}, key="wrong")
    assert bad.status_code == 400 and bad.json()["error"]["message"] == INVALID_KEY_REASON
    token = await mint_name(keyed)
    again = await mint(keyed, {}, key=token)
    assert again.status_code == 403 and again.json()["error"]["status"] == "PERMISSION_DENIED"
    async with httpx.AsyncClient(base_url=keyed.http) as http:
        broken = await http.post("/v1alpha/auth_tokens", content=b"{", headers={"x-goog-api-key": "secret-1"})
    assert broken.status_code == 400


# --------------------------------------------------------------------------------------------------
# Using tokens


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("?access_token={t}", {}),  # @google/genai
        ("", {"Authorization": "Token {t}", "x-goog-api-key": "{t}"}),  # google-genai
        ("", {"x-goog-api-key": "{t}"}),
    ],
)
async def test_a_token_opens_a_session_from_each_place(
    keyed: LiveServer, query: str, headers: dict[str, str]
) -> None:
    token = await mint_name(keyed)
    path = CONSTRAINED + query.format(t=token)
    async with keyed.connect(
        path, additional_headers={k: v.format(t=token) for k, v in headers.items()}
    ) as ws:
        await open_session(ws)
        await assert_session_works(keyed, ws)


async def test_a_used_up_token_closes_1008_but_resumption_is_free(keyed: LiveServer) -> None:
    token = await mint_name(keyed, {"uses": 1})
    path = CONSTRAINED + "?access_token=" + token
    async with keyed.connect(path) as ws:
        await open_session(ws)
    async with keyed.connect(path) as ws:
        await ws.send(SETUP)
        assert await expect_close(ws) == (1008, USED_UP_REASON)
    # Resuming a session spends no use.
    resume = json.dumps({"setup": {"model": MODEL, "sessionResumption": {"handle": "h-1"}}})
    async with keyed.connect(path) as ws:
        await open_session(ws, resume)


async def test_unlimited_uses(keyed: LiveServer) -> None:
    token = await mint_name(keyed, {"uses": 0})
    for _ in range(3):
        async with keyed.connect(CONSTRAINED + "?access_token=" + token) as ws:
            await open_session(ws)


async def test_an_unknown_token_closes_1008(keyed: LiveServer) -> None:
    async with keyed.connect(LIVE + "?key=secret-1") as bystander:
        await open_session(bystander)
        async with keyed.connect(CONSTRAINED + "?access_token=auth_tokens/made-up") as ws:
            assert await expect_close(ws) == (1008, UNKNOWN_REASON)
        await assert_session_works(keyed, bystander)


async def test_an_expired_token_ends_its_session_and_opens_no_more(keyed: LiveServer) -> None:
    token = await mint_name(keyed, {"expireTime": iso(timedelta(seconds=1.0)), "uses": 0})
    path = CONSTRAINED + "?access_token=" + token
    async with keyed.connect(path) as ws:
        await open_session(ws)
        assert await expect_close(ws, timeout=5) == (1008, EXPIRED_REASON)
    async with keyed.connect(path) as ws:
        assert await expect_close(ws) == (1008, EXPIRED_REASON)


async def test_new_sessions_stop_at_new_session_expire_time(keyed: LiveServer) -> None:
    token = await mint_name(keyed, {"newSessionExpireTime": iso(timedelta(seconds=0.5)), "uses": 0})
    await asyncio.sleep(0.7)
    async with keyed.connect(CONSTRAINED + "?access_token=" + token) as ws:
        await ws.send(SETUP)
        assert await expect_close(ws) == (1008, NEW_SESSION_EXPIRED_REASON)


# --------------------------------------------------------------------------------------------------
# Locked setup


LOCKED = {
    "model": MODEL,
    "generationConfig": {"temperature": 0.2, "responseModalities": ["TEXT"]},
    "systemInstruction": {"parts": [{"text": "You are locked."}]},
}
CLIENT_SETUP = json.dumps(
    {
        "setup": {
            "model": "models/gemini-live-2.5-flash-preview",
            "generationConfig": {"temperature": 0.9, "topK": 5},
            "systemInstruction": {"parts": [{"text": "Ignore your rules."}]},
            "inputAudioTranscription": {},
        }
    }
)


async def _locked_session_setup(server: LiveServer, body: dict[str, Any]) -> Any:
    token = await mint_name(server, body)
    async with server.connect(CONSTRAINED + "?access_token=" + token) as ws:
        await open_session(ws, CLIENT_SETUP)
    return server.engine.sessions[-1].setup


async def test_a_locked_setup_without_field_mask_replaces_the_clients(keyed: LiveServer) -> None:
    setup = await _locked_session_setup(keyed, {"bidiGenerateContentSetup": LOCKED})
    assert setup.model == MODEL
    assert setup.generation_config.temperature == 0.2
    assert setup.generation_config.top_k is None
    assert setup.system_instruction.text() == "You are locked."
    assert setup.input_audio_transcription is None


async def test_a_field_mask_locks_only_the_masked_fields(keyed: LiveServer) -> None:
    body = {
        "bidi_generate_content_setup": {"generation_config": {"temperature": 0.2}},
        # inputAudioTranscription is masked but not set by the token: the client may not set it either.
        "field_mask": "generationConfig.temperature,input_audio_transcription",
    }
    setup = await _locked_session_setup(keyed, body)
    assert setup.model == "models/gemini-live-2.5-flash-preview"
    assert setup.generation_config.temperature == 0.2
    assert setup.generation_config.top_k == 5
    assert setup.system_instruction.text() == "Ignore your rules."
    assert setup.input_audio_transcription is None


def test_apply_lock_merges_both_casings() -> None:
    token = EphemeralToken(
        name="auth_tokens/x",
        uses=1,
        expire_time=datetime.now(UTC),
        new_session_expire_time=datetime.now(UTC),
        locked_setup={"model": "m", "generationConfig": {"temperature": 0.1}},
        field_mask=["generationConfig.temperature"],
    )
    merged = apply_lock({"model": "c", "generation_config": {"temperature": 1.0, "top_p": 0.5}}, token)
    assert merged == {"model": "c", "generationConfig": {"temperature": 0.1, "topP": 0.5}}
    token.field_mask = None
    assert apply_lock({"model": "c"}, token) == {"model": "m", "generationConfig": {"temperature": 0.1}}
    token.locked_setup = {"generationConfig": {"temperature": 0.1}}
    assert apply_lock({"model": "c", "tools": []}, token) == {
        "model": "c",
        "generationConfig": {"temperature": 0.1},
    }
