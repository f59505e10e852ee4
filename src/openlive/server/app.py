"""The ASGI application: Live WebSocket routes, REST, health, metrics, and the static playground."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from openlive.engine import Engine
from openlive.protocol.errors import CloseCode
from openlive.server import rest
from openlive.server.connection import live_endpoint
from openlive.server.paths import CollapseSlashesMiddleware, match_live_path
from openlive.server.state import ServerState
from openlive.server.tokens import TokenIssuer
from openlive.settings import Settings
from openlive.store.tokens import TokenStore

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

NOT_FOUND_REASON = "Requested entity was not found."

_PLACEHOLDER = """<!doctype html>
<html><head><meta charset="utf-8"><title>openlive</title></head>
<body><h1>openlive</h1>
<p>A Gemini Live API compatible server. The playground is not installed in this build.</p>
<p>Endpoints: <code>/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent</code>,
<a href="/v1beta/models">/v1beta/models</a>, <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>,
<a href="/metrics">/metrics</a>.</p>
</body></html>
"""


async def _websocket(ws: WebSocket) -> None:
    state: ServerState = ws.app.state.openlive
    live = match_live_path(ws.scope["path"])
    if live is None:
        # Accept, then close: the clients show close codes and reasons, not handshake statuses.
        await ws.accept()
        await ws.close(int(CloseCode.POLICY), NOT_FOUND_REASON)
        return
    await live_endpoint(ws, state, live)


async def _placeholder(request: Request) -> Response:
    return HTMLResponse(_PLACEHOLDER)


def _routes(web_dir: Path) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/healthz", rest.healthz, methods=["GET"]),
        Route("/readyz", rest.readyz, methods=["GET"]),
        Route("/metrics", rest.metrics, methods=["GET"]),
        Route("/{version}/models", rest.list_models, methods=["GET"]),
        Route("/{version}/models/{model_id}", rest.get_model, methods=["GET"]),
        Route("/{version}/auth_tokens", rest.create_auth_token, methods=["POST"]),
        WebSocketRoute("/{path:path}", _websocket),
    ]
    if (web_dir / "index.html").is_file():
        routes.append(Mount("/", StaticFiles(directory=web_dir, html=True), name="web"))
    else:
        routes.append(Route("/", _placeholder, methods=["GET"]))
    return routes


def create_app(
    engine: Engine, settings: Settings, *, web_dir: Path | None = None, tokens: TokenStore | None = None
) -> Starlette:
    """The server's ASGI app; ``app.state.openlive`` is its :class:`ServerState`. ``tokens``: where
    ephemeral tokens live (default: this process's memory; ``openlive serve`` passes a shared store)."""
    middleware = [
        # Before routing: ``//ws/...`` (the JS SDK) must reach the same routes as ``/ws/...``.
        Middleware(CollapseSlashesMiddleware),
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            max_age=600,
        ),
    ]
    app = Starlette(routes=_routes(web_dir or WEB_DIR), middleware=middleware)
    app.state.openlive = ServerState.create(engine, settings, TokenIssuer(tokens))
    return app
