"""One Live WebSocket connection: authenticate, read ``setup``, run the session, write in order.

Lifecycle and the close codes it uses (errors are reported by closing, after the WebSocket is accepted,
because the clients surface close codes and not HTTP statuses; reasons are at most 123 bytes):

* a replica that drains (SIGTERM) or already holds ``settings.max_sessions`` connections refuses the
  WebSocket handshake with HTTP 503 and a Google-shaped JSON error, so that a load balancer or a retrying
  client goes elsewhere (this is the one refusal before ``accept``: the request never becomes a session);
* bad or missing API key, unknown/expired/used-up ephemeral token → 1008;
* more than ``settings.max_sessions_per_key`` sessions of one API key on this replica → 1008
  "Resource has been exhausted: …";
* the engine still loading → 1011 "The service is currently unavailable.";
* no first frame within ``settings.setup_timeout_s`` → 1008 (nothing invalid was sent, the client broke
  the server's time policy, like a rate limit);
* first message not ``setup``, or a second ``setup`` → 1007; any malformed frame → the codec's code
  (1007 for invalid arguments, 1008 for an unknown model);
* a frame larger than ``settings.max_message_bytes`` → 1009 "Request payload size exceeds the limit…"
  (uvicorn's ``ws_max_size`` is twice that, so a frame far too big to buffer is cut off by the WebSocket
  layer, with 1009 "frame exceeds limit of N bytes");
* more messages than the per-connection token bucket allows → 1008 "rate limit exceeded";
* a client that does not read what it is sent for ``SLOW_CLIENT_TIMEOUT_S`` → 1011;
* an unexpected exception → 1011 "Internal error encountered." (logged with its traceback; other
  sessions carry on); server shutdown → 1001, after ``goAway`` (see :meth:`LiveConnection.drain`).

``{"setupComplete": {}}`` is queued before ``session.start()`` runs, so it is always the first server
message. Client frames that arrive before it stay in the WebSocket's receive queue and are read after.
All server messages go through one bounded queue and one writer task, as binary frames, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from openlive.engine import LiveSession
from openlive.protocol import decode_client_message, encode_server_message
from openlive.protocol.errors import CloseCode, ProtocolError, truncate_reason
from openlive.protocol.handshake import ServerHandshake
from openlive.protocol.messages import (
    GoAway,
    ServerContent,
    ServerMessage,
    SessionResumptionUpdate,
    Setup,
    SetupComplete,
    ToolCall,
    UsageMetadata,
)
from openlive.request_context import SESSION_ID
from openlive.server.auth import Credential, extract_credential, key_fingerprint
from openlive.server.paths import LivePath
from openlive.server.ratelimit import TokenBucket
from openlive.server.state import SHUTDOWN_REASON, ServerState
from openlive.server.tokens import EXPIRED_REASON, EphemeralToken, apply_lock_to_frame

log = logging.getLogger(__name__)

UNAVAILABLE_REASON = "The service is currently unavailable."
INTERNAL_REASON = "Internal error encountered."
RATE_LIMIT_REASON = "Resource has been exhausted: rate limit exceeded."
SETUP_TIMEOUT_REASON = "The setup message was not received in time."
SLOW_CLIENT_REASON = "The client is not reading the server's messages fast enough."
KEY_QUOTA_REASON = "Resource has been exhausted: too many concurrent sessions for this API key."
# The body of an HTTP 503 handshake refusal, by reason (ServerState.refusal).
REFUSED_MESSAGES = {
    "draining": "The server is shutting down; connect again to reach another replica.",
    "full": "The server is at its session limit; connect again to reach another replica.",
}

# Messages the writer may have queued for one client; beyond this the engine waits (backpressure).
OUTBOX_MAX_MESSAGES = 512
# How long the engine may be held up by a client that does not read before the connection is dropped.
SLOW_CLIENT_TIMEOUT_S = 10.0
# How long a closing connection may take to flush what was queued before it.
CLOSE_FLUSH_TIMEOUT_S = 5.0
# How long a client refused at authentication may take to send its setup before the close.
AUTH_FAILURE_GRACE_S = 2.0

_SEND_ERRORS = (OSError, RuntimeError, WebSocketDisconnect)


@dataclass(frozen=True, slots=True)
class _CloseRequest:
    code: int
    reason: str


class LiveConnection:
    """The server side of one connection; also the ``Outbox`` its ``LiveSession`` writes to."""

    def __init__(self, ws: WebSocket, state: ServerState, path: LivePath) -> None:
        self.ws = ws
        self.state = state
        self.path = path
        self.session_id = uuid.uuid4().hex
        self.finished = asyncio.Event()
        # The running session, while there is one (the metrics read its load at scrape time).
        self.session: LiveSession | None = None
        self._queue: asyncio.Queue[bytes | _CloseRequest] = asyncio.Queue(OUTBOX_MAX_MESSAGES)
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._client_gone = False
        settings = state.settings
        self._bucket = TokenBucket(settings.max_messages_per_second, settings.message_burst)
        self._handshake = ServerHandshake()
        self._max_bytes = settings.max_message_bytes
        self._key_id: str | None = None  # set while this connection counts against its key's quota
        # Drain: set while no turn is under way (from a turn's first message to its turnComplete, and
        # with sessionResumption on, to the handle that follows it; a tool call waits for its answer).
        self._idle = asyncio.Event()
        self._idle.set()
        self._resumable = False
        self._draining = False

    # ------------------------------------------------------------------------------------------
    # Outbox (what the session sees)

    async def send(self, message: ServerMessage, usage: UsageMetadata | None = None) -> None:
        if self._closing:
            return  # the connection is ending; the session is about to be closed too
        data = encode_server_message(message, usage)
        self._observe(message)
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that arrives
        # just as the inner put completes, and a barge-in cancels the task sending here.
        try:
            async with asyncio.timeout(SLOW_CLIENT_TIMEOUT_S):
                await self._queue.put(data)
        except TimeoutError:
            log.warning("session %s: client not reading; closing", self.session_id)
            await self._abort(CloseCode.INTERNAL, SLOW_CLIENT_REASON)
            return
        if self._draining and self._idle.is_set():
            await self.close(CloseCode.GOING_AWAY, SHUTDOWN_REASON)

    def _observe(self, message: ServerMessage) -> None:
        """Follow whether a turn is under way, from what the session sends (for the drain)."""
        if isinstance(message, ServerContent):
            if message.turn_complete:
                if self._resumable:
                    self._idle.clear()  # the turn's resumption handle is still to come
                else:
                    self._idle.set()
            else:
                self._idle.clear()
        elif isinstance(message, ToolCall):
            self._idle.clear()
        elif isinstance(message, SessionResumptionUpdate):
            self._idle.set()

    async def close(self, code: CloseCode, reason: str) -> None:
        """Close after everything queued so far has been sent."""
        if self._closing:
            return
        self._closing = True
        if self._writer is None:
            await self._close_now(code, reason)
            return
        try:
            async with asyncio.timeout(SLOW_CLIENT_TIMEOUT_S):
                await self._queue.put(_CloseRequest(int(code), reason))
        except TimeoutError:
            await self._abort(code, reason)

    async def go_away(self, reason: str) -> None:
        """Server shutdown: ``goAway`` with no time left (set-up sessions only), then close with 1001."""
        if self._writer is not None and not self._closing:
            await self.send(GoAway(time_left_s=0.0))
        await self.close(CloseCode.GOING_AWAY, reason)

    async def drain(self, time_left_s: float) -> None:
        """The replica drains: ``goAway`` with the time left, then close with 1001 as soon as no turn is
        under way (at once if none is). A connection not set up yet is closed when its setup arrives."""
        if self._writer is None or self._closing:
            return
        await self.send(GoAway(time_left_s=time_left_s))
        self._draining = True
        if self._idle.is_set():
            await self.close(CloseCode.GOING_AWAY, SHUTDOWN_REASON)

    # ------------------------------------------------------------------------------------------
    # The connection

    async def run(self) -> None:
        # Every task this connection's session creates inherits it (a remote LLM routes by it).
        SESSION_ID.set(self.session_id)
        state = self.state
        refusal = state.refusal()
        if refusal is not None:
            await self._refuse(refusal)
            self.finished.set()
            return
        state.connections.add(self)
        state.metrics.connections_active.inc()
        try:
            await self.ws.accept()
            await self._run()
        except Exception:
            log.exception("session %s: unexpected error", self.session_id)
            await self._close_now(CloseCode.INTERNAL, INTERNAL_REASON)
        finally:
            state.connections.discard(self)
            state.metrics.connections_active.dec()
            if self._key_id is not None:
                state.sessions_by_key[self._key_id] -= 1
                if state.sessions_by_key[self._key_id] <= 0:
                    del state.sessions_by_key[self._key_id]
            self.finished.set()

    async def _refuse(self, reason: str) -> None:
        """Refuse the handshake with HTTP 503 (a load balancer retries another replica)."""
        self.state.metrics.refused.labels(reason=reason).inc()
        body = {"error": {"code": 503, "message": REFUSED_MESSAGES[reason], "status": "UNAVAILABLE"}}
        try:
            await self.ws.send_denial_response(
                JSONResponse(body, status_code=503, headers={"retry-after": "1"})
            )
        except RuntimeError:
            # A server without the ASGI denial-response extension: a bare refusal (HTTP 403) instead.
            await self.ws.close()

    async def _run(self) -> None:
        state = self.state
        try:
            try:
                token = await self._authenticate(extract_credential(self.ws.headers, self.ws.query_params))
            except ProtocolError:
                # Let the client's setup arrive first (bounded): clients report a close that comes while
                # they wait for setupComplete as an API error with its code, but one that races their
                # send of setup as a bare connection error.
                with contextlib.suppress(TimeoutError, ProtocolError):
                    async with asyncio.timeout(AUTH_FAILURE_GRACE_S):
                        await self._receive()
                raise
            self._count_key(extract_credential(self.ws.headers, self.ws.query_params), token)
            frame = await self._first_frame()
            if frame is None:
                return
            if token is not None:
                frame = apply_lock_to_frame(frame, token)
            setup = self._handshake.receive(decode_client_message(frame))
            assert isinstance(setup, Setup)  # the handshake's first rule
            if token is not None:
                resuming = bool(setup.session_resumption and setup.session_resumption.handle)
                await state.tokens.spend(token, resuming=resuming)
            if state.draining:
                # Admitted before the drain began: this replica starts no new session. Checked with no
                # await before the session starts, so a drain either sees this session or refuses it.
                raise ProtocolError(CloseCode.GOING_AWAY, SHUTDOWN_REASON)
            self._resumable = setup.session_resumption is not None
            session = state.engine.open_session(
                setup, self, session_id=self.session_id, api_version=self.path.api_version
            )
        except ProtocolError as exc:
            # The client's doing (a bad key, a malformed setup...): one line, no traceback.
            log.info("connection %s refused: %d %s", self.session_id, exc.code, exc.reason)
            await self._close_now(exc.code, exc.reason)
            return
        await self._run_session(session, token)

    async def _authenticate(self, cred: Credential) -> EphemeralToken | None:
        if cred.token is not None:
            return await self.state.tokens.check_open(cred.token)
        reason = self.state.keys.check(cred.api_key)
        if reason is not None:
            raise ProtocolError(CloseCode.POLICY, reason)
        return None

    def _count_key(self, cred: Credential, token: EphemeralToken | None) -> None:
        """Count this connection against its API key's quota (``max_sessions_per_key``, on this replica;
        a token counts for the key that minted it). Raises a 1008 ``ProtocolError`` over the quota."""
        quota = self.state.settings.max_sessions_per_key
        if quota <= 0:
            return
        key_id = token.owner if token is not None else key_fingerprint(cred.api_key or "")
        counts = self.state.sessions_by_key
        if counts[key_id] >= quota:
            raise ProtocolError(CloseCode.POLICY, KEY_QUOTA_REASON)
        counts[key_id] += 1
        self._key_id = key_id

    async def _first_frame(self) -> str | bytes | None:
        try:
            async with asyncio.timeout(self.state.settings.setup_timeout_s):
                frame = await self._receive()
        except TimeoutError:
            raise ProtocolError(CloseCode.POLICY, SETUP_TIMEOUT_REASON) from None
        if frame is not None:
            self._check_frame(frame)
        return frame

    async def _run_session(self, session: LiveSession, token: EphemeralToken | None) -> None:
        metrics = self.state.metrics
        metrics.sessions_active.inc()
        self.session = session
        metrics.sessions.inc()
        log.info(
            "session %s opened (model %s, %s)", self.session_id, session.setup.model, self.path.api_version
        )
        self._writer = asyncio.create_task(self._write_loop())
        body = asyncio.create_task(self._session_body(session))
        expiry = asyncio.create_task(self._expire_at(token)) if token is not None else None
        try:
            await asyncio.wait({body, self._writer}, return_when=asyncio.FIRST_COMPLETED)
            if not body.done():
                # The writer has closed the connection (or lost the client): stop reading.
                body.cancel()
            elif not self._client_gone:
                # The body asked for a close; let the writer flush and send it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._writer), CLOSE_FLUSH_TIMEOUT_S)
            self._writer.cancel()
            await asyncio.gather(body, self._writer, return_exceptions=True)
        finally:
            if expiry is not None:
                expiry.cancel()
            self._closing = True
            try:
                await session.aclose()
            except Exception:
                log.exception("session %s: error while closing", self.session_id)
            metrics.sessions_active.dec()
            self.session = None
            log.info("session %s closed", self.session_id)

    async def _session_body(self, session: LiveSession) -> None:
        try:
            await self.send(SetupComplete(session_id=self.session_id))
            await session.start()
            while True:
                frame = await self._receive()
                if frame is None:
                    return
                self._check_frame(frame)
                # The connection rules (protocol.handshake): a second setup is refused with 1007.
                message = self._handshake.receive(decode_client_message(frame))
                await session.handle(message)
        except ProtocolError as exc:
            # A malformed or refused message is the client's error: one line, no traceback.
            log.info("session %s: closing with %d: %s", self.session_id, exc.code, exc.reason)
            await self.close(exc.code, exc.reason)
        except Exception:
            log.exception("session %s: unexpected error", self.session_id)
            await self.close(CloseCode.INTERNAL, INTERNAL_REASON)

    async def _expire_at(self, token: EphemeralToken) -> None:
        delay = (token.expire_time - self.state.tokens.now()).total_seconds()
        await asyncio.sleep(max(delay, 0.0))
        await self.close(CloseCode.POLICY, EXPIRED_REASON)

    # ------------------------------------------------------------------------------------------
    # Frames in

    async def _receive(self) -> str | bytes | None:
        """The next client frame, or None once the client has gone."""
        if self._client_gone:
            return None
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            self._client_gone = True
            if not self._closed:
                self.state.metrics.closed(int(message.get("code") or CloseCode.NORMAL))
                self._closed = True
            return None
        data: str | bytes | None = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        self.state.metrics.messages_in.inc()
        return data

    def _check_frame(self, frame: str | bytes) -> None:
        if not self._bucket.take():
            raise ProtocolError(CloseCode.POLICY, RATE_LIMIT_REASON)
        size = len(frame)
        if isinstance(frame, str) and size * 4 > self._max_bytes:
            size = len(frame.encode("utf-8"))
        self.state.metrics.bytes_in.inc(size)
        if size > self._max_bytes:
            raise ProtocolError(
                CloseCode.MESSAGE_TOO_BIG,
                f"Request payload size exceeds the limit: {self._max_bytes} bytes.",
            )

    # ------------------------------------------------------------------------------------------
    # Frames out

    async def _write_loop(self) -> None:
        metrics = self.state.metrics
        while True:
            item = await self._queue.get()
            if isinstance(item, _CloseRequest):
                await self._close_now(item.code, item.reason)
                return
            try:
                async with asyncio.timeout(SLOW_CLIENT_TIMEOUT_S):
                    await self.ws.send_bytes(item)
            except TimeoutError:
                log.warning("session %s: client not reading; closing", self.session_id)
                await self._close_now(CloseCode.INTERNAL, SLOW_CLIENT_REASON)
                return
            except _SEND_ERRORS:
                self._client_gone = True  # the disconnect itself is reported by the reader
                return
            metrics.messages_out.inc()
            metrics.bytes_out.inc(len(item))

    async def _abort(self, code: int, reason: str) -> None:
        """Close without flushing (the writer is stuck behind a client that does not read)."""
        self._closing = True
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
        await self._close_now(code, reason)

    async def _close_now(self, code: int, reason: str) -> None:
        self._closing = True
        if self._closed or self._client_gone:
            return
        self._closed = True
        self.state.metrics.closed(int(code))
        with contextlib.suppress(*_SEND_ERRORS, TimeoutError):
            async with asyncio.timeout(2.0):
                await self.ws.close(int(code), truncate_reason(reason))


INVALID_UTF8_REASON = "Request contains an invalid argument: text frame is not valid UTF-8"


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol (``uvicorn.Config(ws=...)``), with a client error for a
    text frame that is not UTF-8.

    uvicorn decodes text frames before the app sees them; on invalid UTF-8 it logs an ERROR with a
    traceback and closes with 1007 and no reason. Here the frame is checked first: one WARNING line and
    1007 with a reason, like every other malformed message. Valid frames go on to uvicorn unchanged.
    """

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.frames = []
                if self.conn.state is not State.OPEN:
                    # A close is already under way (uvicorn's own path raised InvalidState here and
                    # dropped the connection without its close frame): the frame is moot.
                    return
                peer = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
                log.warning(
                    "client %s: text frame is not valid UTF-8 (byte %d); closing with 1007", peer, exc.start
                )
                # A closing handshake, as when the app closes: the client may still be sending, and
                # closing the socket at once (uvicorn's parser-error path) resets the connection, so
                # the client can lose the close frame and see 1006.
                self.queue.put_nowait(
                    {"type": "websocket.disconnect", "code": 1007, "reason": INVALID_UTF8_REASON}
                )
                self.conn.send_close(CloseCode.INVALID_ARGUMENT, INVALID_UTF8_REASON)
                self.transport.write(b"".join(self.conn.data_to_send()))
                self.close_sent = True
                if self.read_paused:  # the client's close reply must be read
                    self.read_paused = False
                    self.transport.resume_reading()
                self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
                return
        super().send_receive_event_to_app()


async def live_endpoint(ws: WebSocket, state: ServerState, path: LivePath) -> None:
    await LiveConnection(ws, state, path).run()
