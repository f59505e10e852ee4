"""Plain and TLS listeners for one app in one event loop: two ``uvicorn.Server`` instances.

The Python SDK only speaks ``wss://`` while browsers and the JS SDK are happy with ``ws://``, so both
are served at once, sharing one app, one engine and one set of sessions. Sockets are bound here (port 0
picks a free port, which the tests use) and handed to uvicorn. uvicorn's own signal handling is turned
off: with two servers in one loop the caller installs the handlers once and calls
:meth:`ServerHandle.stop`, which closes the open sessions with 1001 before the listeners stop.

SIGTERM (or SIGINT) drains first (:meth:`ServerState.drain`): the listeners stay open, so that new
connections hear HTTP 503 rather than a refused TCP connection while the load balancer notices the
replica is no longer ready, and the open sessions get ``settings.drain_timeout_s`` to finish their
replies. A second signal ends the drain at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from openlive.server.connection import LiveWebSocketProtocol
from openlive.server.state import ServerState
from openlive.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ListenSpec:
    host: str
    port: int  # 0: any free port
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


@dataclass(frozen=True, slots=True)
class Listener:
    spec: ListenSpec
    host: str
    port: int

    @property
    def http_url(self) -> str:
        return f"{'https' if self.spec.tls else 'http'}://{_url_host(self.host)}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.spec.tls else 'ws'}://{_url_host(self.host)}:{self.port}"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def listen_specs(settings: Settings) -> list[ListenSpec]:
    """The listeners ``settings`` ask for: plain on ``port`` (0 disables it), TLS on ``tls_port`` when a
    certificate and key are given."""
    specs: list[ListenSpec] = []
    if settings.port:
        specs.append(ListenSpec(settings.host, settings.port))
    if settings.tls_cert is not None or settings.tls_key is not None:
        if settings.tls_cert is None or settings.tls_key is None:
            raise ValueError("--tls-cert and --tls-key must be given together")
        specs.append(ListenSpec(settings.host, settings.tls_port, settings.tls_cert, settings.tls_key))
    if not specs:
        raise ValueError("nothing to listen on: the plain port is 0 and no TLS certificate is given")
    return specs


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are handled once for all listeners by the caller (see the module docstring).
        yield


def _bind(host: str, port: int) -> socket.socket:
    family, type_, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, type_, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@dataclass(slots=True)
class ServerHandle:
    app: Starlette
    listeners: list[Listener]
    _servers: list[uvicorn.Server] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def state(self) -> ServerState:
        state: ServerState = self.app.state.openlive
        return state

    def listener(self, *, tls: bool) -> Listener | None:
        return next((lst for lst in self.listeners if lst.spec.tls == tls), None)

    async def wait(self) -> None:
        """Returns when a listener stops (normally only after :meth:`stop`)."""
        await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)

    async def stop(self, *, drain_s: float = 0.0) -> None:
        """Drain for up to ``drain_s`` (see the module docstring), close every session left with 1001, then
        stop the listeners."""
        if drain_s > 0:
            await self.state.drain(drain_s)
        await self.state.close_all()
        for server in self._servers:
            server.should_exit = True
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.state.unwatch_stage_marks()


async def start_servers(app: Starlette, settings: Settings, specs: Sequence[ListenSpec]) -> ServerHandle:
    """Bind every listener and start serving ``app``; returns once all are accepting connections."""
    socks = [_bind(spec.host, spec.port) for spec in specs]
    handle = ServerHandle(app=app, listeners=[])
    try:
        for spec, sock in zip(specs, socks, strict=True):
            config = uvicorn.Config(
                app,
                lifespan="off",
                log_config=None,
                access_log=False,
                # uvicorn's sans-I/O protocol, with invalid UTF-8 in a text frame as a client error (1007).
                ws=LiveWebSocketProtocol,
                # Twice the limit: the connection enforces the limit itself with a clear close reason;
                # the WebSocket layer only cuts off frames far too big to buffer (also with 1009).
                ws_max_size=2 * settings.max_message_bytes,
                ws_ping_interval=settings.ping_interval_s,
                ws_ping_timeout=settings.ping_timeout_s,
                ssl_certfile=str(spec.tls_cert) if spec.tls_cert else None,
                ssl_keyfile=str(spec.tls_key) if spec.tls_key else None,
                timeout_graceful_shutdown=5,
            )
            server = _Server(config)
            handle._servers.append(server)
            handle._tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
            handle.listeners.append(Listener(spec, spec.host, sock.getsockname()[1]))
        while not all(s.started for s in handle._servers):
            failed = [t for t in handle._tasks if t.done()]
            if failed:
                await handle.stop()
                exc = failed[0].exception()
                raise RuntimeError(f"a listener failed to start: {exc}") from exc
            await asyncio.sleep(0.01)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    handle.state.watch_stage_marks()
    return handle


async def serve_until_signalled(handle: ServerHandle, *, drain_s: float = 0.0) -> None:
    """Serve until SIGINT or SIGTERM (or a listener dies), then drain for up to ``drain_s`` and shut down;
    a second signal cuts the drain short."""
    loop = asyncio.get_running_loop()
    signals: asyncio.Queue[int] = asyncio.Queue()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, signals.put_nowait, sig)
    try:
        first = asyncio.create_task(signals.get())
        waiter = asyncio.create_task(handle.wait())
        try:
            await asyncio.wait({first, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if waiter.done():
                drain_s = 0.0  # a listener died: nobody can finish a reply through it
        finally:
            await _cancel(first, waiter)
        log.info("shutting down%s", f", draining for up to {drain_s:g} s" if drain_s > 0 else "")
        stopping = asyncio.create_task(handle.stop(drain_s=drain_s))
        second = asyncio.create_task(signals.get())
        try:
            await asyncio.wait({stopping, second}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel(second)
        if stopping.done():
            await stopping
        else:
            log.info("second signal: closing every session now")
            await _cancel(stopping)
            await handle.stop()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _cancel(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
