"""REST endpoints: model list, health, metrics, CORS, the playground."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from conftest import MODEL, LiveServer, ServerFactory, open_session
from openlive.engine.load import SessionLoad
from openlive.server import create_app
from openlive.settings import Settings


@pytest.mark.parametrize("version", ["v1beta", "v1", "v1alpha"])
async def test_list_models_in_googles_shape(server: LiveServer, version: str) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        resp = await http.get(f"/{version}/models")
    assert resp.status_code == 200
    models = resp.json()["models"]
    names = [m["name"] for m in models]
    assert "models/fake" in names
    assert MODEL in names  # Gemini model ids are aliases of the default profile
    fake = models[names.index("models/fake")]
    assert fake["supportedGenerationMethods"] == ["bidiGenerateContent"]
    assert fake["displayName"] == "fake"
    assert isinstance(fake["inputTokenLimit"], int) and isinstance(fake["outputTokenLimit"], int)


async def test_get_one_model_and_a_missing_one(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        ok = await http.get("/v1beta/" + MODEL)
        missing = await http.get("/v1beta/models/nope")
        bad_version = await http.get("/v9/models")
    assert ok.status_code == 200 and ok.json()["name"] == MODEL
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": 404,
        "message": "models/nope is not found for API version v1beta, or is not supported for "
        "bidiGenerateContent. Call ListModels to see the list of available models.",
        "status": "NOT_FOUND",
    }
    assert bad_version.status_code == 404


async def test_models_need_a_key_when_keys_are_configured(server_factory: ServerFactory) -> None:
    server = await server_factory(api_keys=["k"])
    async with httpx.AsyncClient(base_url=server.http) as http:
        assert (await http.get("/v1beta/models")).status_code == 403
        assert (await http.get("/v1beta/models?key=bad")).status_code == 400
        assert (await http.get("/v1beta/models?key=k")).status_code == 200
        assert (await http.get("/v1beta/models", headers={"x-goog-api-key": "k"})).status_code == 200


async def test_healthz_is_503_while_loading_then_200(server_factory: ServerFactory) -> None:
    server = await server_factory(ready=False)
    loading = asyncio.create_task(server.engine.load())
    async with httpx.AsyncClient(base_url=server.http) as http:
        before = await http.get("/healthz")
        assert before.status_code == 503
        server.engine.finish_loading()
        await loading
        after = await http.get("/healthz")
    assert after.status_code == 200 and after.json() == {"status": "ok"}


async def test_metrics_are_prometheus_text(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        resp = await http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert "# TYPE openlive_sessions_active gauge" in resp.text
    assert "openlive_sessions_active 0" in resp.text


async def test_cors_preflight_for_the_rest_endpoints(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        resp = await http.options(
            "/v1alpha/auth_tokens",
            headers={
                "Origin": "http://example.test",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-goog-api-key,content-type",
            },
        )
        listed = await http.get("/v1beta/models", headers={"Origin": "http://example.test"})
    assert resp.status_code == 200
    assert "x-goog-api-key" in resp.headers["access-control-allow-headers"].lower()
    assert listed.headers["access-control-allow-origin"] == "*"


async def test_playground_is_served_at_root(tmp_path: Path) -> None:
    from conftest import FakeEngine

    (tmp_path / "index.html").write_text("<title>playground</title>")
    (tmp_path / "app.js").write_text("console.log(1)")
    settings = Settings()
    with_page = create_app(FakeEngine(), settings, web_dir=tmp_path)
    without = create_app(FakeEngine(), settings, web_dir=tmp_path / "empty")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=with_page), base_url="http://t") as http:
        assert "playground" in (await http.get("/")).text
        assert (await http.get("/app.js")).text == "console.log(1)"
        assert (await http.get("/healthz")).status_code == 200  # routes still win over the static files
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=without), base_url="http://t") as http:
        placeholder = await http.get("/")
    assert placeholder.status_code == 200 and "openlive" in placeholder.text


async def test_double_slash_paths_route_for_http_too(server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.get(server.http + "//v1beta//models")
    assert resp.status_code == 200


async def test_models_accept_a_live_token_but_not_a_made_up_one(server_factory: ServerFactory) -> None:
    server = await server_factory(api_keys=["k"])
    async with httpx.AsyncClient(base_url=server.http) as http:
        minted = await http.post("/v1alpha/auth_tokens", json={}, headers={"x-goog-api-key": "k"})
        token = minted.json()["name"]
        ok = await http.get("/v1alpha/models", params={"access_token": token})
        bogus = await http.get("/v1alpha/models", params={"access_token": "auth_tokens/nope"})
    assert ok.status_code == 200
    assert bogus.status_code == 401 and bogus.json()["error"]["status"] == "UNAUTHENTICATED"


def sample(text: str, name: str) -> float:
    """One unlabelled sample's value in a Prometheus text page."""
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


async def test_metrics_report_queue_depths_and_lags_of_the_open_sessions(server: LiveServer) -> None:
    async def scrape() -> str:
        async with httpx.AsyncClient(base_url=server.http) as http:
            resp = await http.get("/metrics")
        assert resp.status_code == 200
        return resp.text

    names = [
        "openlive_llm_waiting_sessions",
        "openlive_llm_wait_max_seconds",
        "openlive_audio_queued_seconds",
        "openlive_audio_queued_max_seconds",
        "openlive_session_inbox_depth",
        "openlive_session_inbox_depth_max",
    ]
    idle = await scrape()
    assert [sample(idle, n) for n in names] == [0, 0, 0, 0, 0, 0]
    async with server.connect() as first, server.connect() as second:
        await open_session(first)
        await open_session(second)
        a, b = server.engine.sessions
        a.load_now = SessionLoad(inbox_depth=3, audio_queued_s=0.5, llm_wait_s=1.25)
        b.load_now = SessionLoad(inbox_depth=1, audio_queued_s=2.0, llm_wait_s=None)
        busy = await scrape()
        assert [sample(busy, n) for n in names] == [1, 1.25, 2.5, 2.0, 4, 3]
    # Closed sessions count no more.
    async with asyncio.timeout(5):
        while server.handle.state.connections:
            await asyncio.sleep(0.01)
    assert [sample(await scrape(), n) for n in names] == [0, 0, 0, 0, 0, 0]
