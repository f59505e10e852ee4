"""TLS with the development certificate, and the real google-genai client against the server."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import stat
from pathlib import Path

import pytest
from google import genai
from google.genai import types

from conftest import LiveServer, ServerFactory, echo, open_session
from openlive.server.devcert import ensure_dev_cert

GENAI_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"


def test_dev_cert_is_idempotent_and_its_key_private(tmp_path: Path) -> None:
    first = ensure_dev_cert(tmp_path)
    assert first.created
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    before = first.cert.read_bytes()
    second = ensure_dev_cert(tmp_path)
    assert not second.created and second.cert.read_bytes() == before
    # A broken pair is replaced.
    first.key.write_text("garbage")
    assert ensure_dev_cert(tmp_path).created


@pytest.mark.parametrize("server_hostname", [None, "localhost"])
async def test_wss_verifies_with_only_the_dev_cert_trusted(
    server: LiveServer, server_hostname: str | None
) -> None:
    ctx = ssl.create_default_context(cafile=str(server.cert))  # the system CAs are not involved
    kwargs = {"server_hostname": server_hostname} if server_hostname else {}
    async with server.connect(tls=True, ssl=ctx, **kwargs) as ws:
        await open_session(ws)
        assert await echo(ws, "over tls") == "echo: over tls"


async def test_wss_is_refused_without_trusting_the_cert(server: LiveServer) -> None:
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cadata=ensure_dev_cert(server.cert.parent.parent / "other").cert.read_text())
    with pytest.raises(ssl.SSLCertVerificationError):
        async with server.connect(tls=True, ssl=ctx):
            pass


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_node_trusts_the_cert_with_node_extra_ca_certs(server: LiveServer) -> None:
    script = (
        "require('https').get(process.argv[1], r => { let b=''; r.on('data', d => b += d);"
        " r.on('end', () => { console.log(r.statusCode, b); }); })"
        ".on('error', e => { console.log('ERR', e.code); process.exit(1); });"
    )
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(server.cert)}
    for host in ("127.0.0.1", "localhost"):
        url = server.https.replace("127.0.0.1", host) + "/healthz"
        proc = await asyncio.create_subprocess_exec(
            "node", "-e", script, url, env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, out
        assert out.decode().strip() == '200 {"status":"ok"}'


def _client(server: LiveServer, api_key: str, **http: object) -> genai.Client:
    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(
            base_url=server.https,
            async_client_args={"ssl": server.ctx, "verify": server.ctx},
            **http,  # type: ignore[arg-type]
        ),
    )


async def _talk(client: genai.Client, text: str) -> str:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with client.aio.live.connect(model=GENAI_MODEL, config=config) as session:
        await session.send_realtime_input(text=text)
        reply = ""
        async for msg in session.receive():
            reply += msg.text or ""
            if msg.server_content and msg.server_content.turn_complete:
                break
    return reply


async def test_google_genai_live_connect_over_tls(server_factory: ServerFactory) -> None:
    server = await server_factory(api_keys=["real-key"])
    assert await _talk(_client(server, "real-key"), "hello genai") == "echo: hello genai"
    setup = server.engine.sessions[-1].setup
    assert setup.model == "models/" + GENAI_MODEL


async def test_google_genai_wrong_key_is_an_api_error_1008(server_factory: ServerFactory) -> None:
    server = await server_factory(api_keys=["real-key"])
    with pytest.raises(genai.errors.APIError) as info:
        await _talk(_client(server, "bad-key"), "hi")
    assert info.value.code == 1008
    assert "API key not valid" in str(info.value)


async def test_google_genai_zero_code_change_with_environment(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.https)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    client = genai.Client(api_key="anything")
    assert await _talk(client, "env") == "echo: env"


async def test_google_genai_auth_token_create_and_use(server_factory: ServerFactory) -> None:
    server = await server_factory(api_keys=["real-key"])
    client = _client(server, "real-key", api_version="v1alpha")
    token = await client.aio.auth_tokens.create(
        config=types.CreateAuthTokenConfig(
            uses=1,
            live_connect_constraints=types.LiveConnectConstraints(
                model=GENAI_MODEL,
                config=types.LiveConnectConfig(
                    temperature=0.3, system_instruction="You are locked.", response_modalities=["TEXT"]
                ),
            ),
            lock_additional_fields=[],
        )
    )
    assert token.name and token.name.startswith("auth_tokens/")
    assert token.uses == 1 and token.expire_time and token.new_session_expire_time
    # The token is the API key of a second client (as a browser would receive it).
    user = _client(server, token.name, api_version="v1alpha")
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"], temperature=1.5, system_instruction="Be free."
    )
    async with user.aio.live.connect(model=GENAI_MODEL, config=config) as session:
        await session.send_realtime_input(text="locked?")
        async for msg in session.receive():
            if msg.server_content and msg.server_content.turn_complete:
                break
    setup = server.engine.sessions[-1].setup
    assert setup.generation_config.temperature == 0.3
    assert setup.system_instruction is not None and setup.system_instruction.text() == "You are locked."
    # The single use is spent.
    with pytest.raises(genai.errors.APIError) as info:
        await _talk(user, "again")
    assert info.value.code == 1008
