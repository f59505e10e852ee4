"""The ASGI server: Live WebSocket routes, REST, auth (API keys, ephemeral tokens), TLS, metrics."""

from openlive.server.app import create_app
from openlive.server.run import ListenSpec, ServerHandle, listen_specs, serve_until_signalled, start_servers

__all__ = [
    "ListenSpec",
    "ServerHandle",
    "create_app",
    "listen_specs",
    "serve_until_signalled",
    "start_servers",
]
