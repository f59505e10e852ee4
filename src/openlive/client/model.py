"""``LiveModel``: a model on a Live API server, and ``connect()`` to open a ``LiveSession`` with it."""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from types import TracebackType
from typing import Any

from openlive.client.config import LiveGenerationConfig, build_setup
from openlive.client.endpoint import DEFAULT_API_VERSION, DEFAULT_BASE_URL, SslOption, resolve_endpoint
from openlive.client.session import LiveSession
from openlive.client.transport import open_connection
from openlive.protocol.messages import (
    Content,
    RealtimeInputConfig,
    SessionResumptionConfig,
    Setup,
    Tool,
)

DEFAULT_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
DEFAULT_SETUP_TIMEOUT_S = 10.0


class LiveModel:
    """Configuration for sessions with one model on one server; ``connect()`` opens them.

    ``base_url`` takes http/https/ws/wss (https and wss mean TLS). ``ssl`` is an ``SSLContext`` or the
    path of a CA file, for servers with a self-signed certificate. ``api_key`` defaults to
    ``$OPENLIVE_API_KEY``. Any server that speaks the Live API wire protocol works, Google's included
    (``base_url="https://generativelanguage.googleapis.com"``).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        generation_config: LiveGenerationConfig | None = None,
        *,
        system_instruction: str | Content | None = None,
        tools: Sequence[Tool] = (),
        tool_config: dict[str, Any] | None = None,
        realtime_input_config: RealtimeInputConfig | None = None,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        ssl: SslOption = None,
        api_version: str = DEFAULT_API_VERSION,
        setup_timeout_s: float = DEFAULT_SETUP_TIMEOUT_S,
    ) -> None:
        self.model = model
        self.generation_config = generation_config or LiveGenerationConfig()
        self.system_instruction = system_instruction
        self.tools = list(tools)
        self.tool_config = tool_config
        self.realtime_input_config = realtime_input_config
        self.api_key = api_key if api_key is not None else os.environ.get("OPENLIVE_API_KEY")
        self.endpoint = resolve_endpoint(base_url, api_key=self.api_key, api_version=api_version, ssl=ssl)
        self.setup_timeout_s = setup_timeout_s

    def build_setup(self, session_resumption: SessionResumptionConfig | None = None) -> Setup:
        return build_setup(
            model=self.model,
            generation_config=self.generation_config,
            system_instruction=self.system_instruction,
            tools=self.tools,
            tool_config=self.tool_config,
            realtime_input_config=self.realtime_input_config,
            session_resumption=session_resumption,
        )

    def connect(self, session_resumption: SessionResumptionConfig | bool | None = None) -> LiveConnect:
        """Open a session: ``async with model.connect() as session`` or ``session = await model.connect()``.

        ``session_resumption=True`` asks the server for resumption handles (then ``session.resume()``
        works); a ``SessionResumptionConfig(handle=...)`` continues an earlier session.
        """
        if session_resumption is True:
            resumption: SessionResumptionConfig | None = SessionResumptionConfig()
        elif session_resumption is False:
            resumption = None
        else:
            resumption = session_resumption
        return LiveConnect(self, self.build_setup(resumption))


class LiveConnect:
    """What ``connect()`` returns: awaitable (you close the session) or an async context manager."""

    def __init__(self, model: LiveModel, setup: Setup) -> None:
        self._model = model
        self._setup = setup
        self._session: LiveSession | None = None

    async def _open(self) -> LiveSession:
        endpoint = self._model.endpoint
        timeout = self._model.setup_timeout_s
        ws, complete, pending = await open_connection(endpoint, self._setup, timeout_s=timeout)
        return LiveSession(
            ws,
            endpoint=endpoint,
            setup=self._setup,
            setup_timeout_s=timeout,
            session_id=complete.session_id,
            pending=pending,
        )

    def __await__(self) -> Generator[Any, None, LiveSession]:
        return self._open().__await__()

    async def __aenter__(self) -> LiveSession:
        self._session = await self._open()
        return self._session

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
