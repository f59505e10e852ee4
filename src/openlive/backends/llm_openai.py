"""A LanguageModel served by any OpenAI-compatible chat endpoint: vLLM, SGLang, llama.cpp server, Ollama.

Streams ``POST {base}/v1/chat/completions`` (server-sent events) with httpx. Tools go out in OpenAI's
format and come back as incremental ``tool_calls`` deltas, assembled here. Token counts come from the
final usage chunk (``stream_options.include_usage``), which these servers send when asked (not all do:
llama-cpp-python's server sends none on a stream, and the counts are then estimated).

A server without a tool-call parser for its model (llama-cpp-python's server, which renders the model's
own chat template with the tools; vLLM or SGLang started without one) returns a call as text: Qwen's
``<tool_call>{...}</tool_call>``, or the bare JSON object small models write. With tools in the request
the text goes through the same parser as the embedded model's, so such calls become tool calls too.

Failures are the server's, not the client's: each is raised as :class:`RemoteModelError`, a 1011
``ProtocolError`` whose reason says what went wrong (unreachable, timed out, an HTTP error, the stream cut
off mid-reply), which the session turns into its close. Opening a stream is retried ``retries`` times,
after a short pause, when the server cannot be reached or answers 502/503/504 (a restarting engine, a
balancer with no healthy backend); a reply that already streamed is never retried, since its words may
have been spoken.

Prefix caching: every request of a session starts with the same messages (the system instruction, then
the conversation so far), so engines with prefix caching (vLLM, SGLang, llama.cpp) reuse the KV cache of
the previous turn. The session's id goes along as the ``X-Session-Id`` header (and as OpenAI's ``user``
field), so a router in front of several engines (vLLM's production-stack with session routing) sends all
of a session's turns to the engine that holds its cache. It is taken from :data:`SESSION_ID`, which the
server sets for the tasks of each connection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from openlive.backends.llm_prompt import ToolCallParser, new_call_id, parse_tool_call
from openlive.backends.prompt_policy import PromptPolicy, offered
from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.request_context import SESSION_ID
from openlive.stages import (
    CallStarted,
    ChatDone,
    ChatEvent,
    ChatMessage,
    ChatRequest,
    TextDelta,
    ToolCallRequest,
)
from openlive.stages.language_model import ToolChoice, ToolSpec

if TYPE_CHECKING:
    from openlive.settings import Settings

log = logging.getLogger(__name__)

# Without the server's tokenizer, English text averages about four characters per token.
_CHARS_PER_TOKEN = 4.0


SESSION_HEADER = "X-Session-Id"
# Answers that mean "not now" rather than "never": worth another try before the reply starts.
_RETRY_STATUSES = frozenset({502, 503, 504})
_RETRY_PAUSE_S = 0.25


class RemoteModelError(ProtocolError, RuntimeError):
    """The endpoint failed: unreachable, too slow, an error answer, or a stream that is not a chat
    completion or stops mid-reply. A 1011 close for the session, with ``reason`` saying which."""

    def __init__(self, reason: str) -> None:
        super().__init__(CloseCode.INTERNAL, "Language model server: " + reason)


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    announced: bool = False  # CallStarted was sent for it


class OpenAICompatibleLanguageModel:
    """``openlive.stages.LanguageModel`` over ``/v1/chat/completions``.

    ``base_url`` may end in ``/v1`` or not (``http://gpu-box:8000`` and ``http://gpu-box:8000/v1`` both
    work). Cancelling the consuming task closes the HTTP stream, which makes these servers abort the
    generation.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        retries: int = 2,
        tool_result_hint: str = "",
        policy: PromptPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.name = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # read: the longest wait for the next piece of a streamed reply (a stalled engine).
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._retries = max(0, retries)
        # The shared prompt policy (backends/prompt_policy.py); by default only the result hint, and the
        # engine's own sampling defaults for what the client leaves unset.
        self.policy = policy or PromptPolicy(tool_result_hint=tool_result_hint)
        self._transport = transport
        # A client's connection pool belongs to one event loop; one client per loop that uses this model.
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatibleLanguageModel:
        """The endpoint of ``settings.llm_url``, with its model, key, timeouts and retries."""
        return cls(
            settings.llm_url,
            settings.llm_model,
            settings.llm_api_key or None,
            connect_timeout_s=settings.llm_connect_timeout_s,
            read_timeout_s=settings.llm_read_timeout_s,
            retries=settings.llm_retries,
            tool_result_hint=settings.llm_tool_result_hint,
        )

    def count_tokens(self, text: str) -> int:
        # An estimate: the server's tokenizer is not available here.
        return math.ceil(len(text) / _CHARS_PER_TOKEN)

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        for other in [lp for lp in self._clients if lp.is_closed()]:
            del self._clients[other]
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(
                timeout=self._timeout, headers=self._headers, transport=self._transport
            )
            self._clients[loop] = client
        return client

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        request = offered(request)
        s = self.policy.sampling(request.sampling)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_message_json(m) for m in self.policy.messages(request)],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        optional = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "presence_penalty": s.presence_penalty,
            "frequency_penalty": s.frequency_penalty,
            # Not in OpenAI's API, but vLLM, SGLang, llama.cpp server and Ollama all read it.
            "top_k": s.top_k,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        session_id = SESSION_ID.get()
        if session_id:
            body["user"] = session_id
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
            if (choice := _tool_choice_json(request.tool_choice, request.tools)) is not None:
                body["tool_choice"] = choice
        return body

    def _request_headers(self) -> dict[str, str]:
        session_id = SESSION_ID.get()
        return {SESSION_HEADER: session_id} if session_id else {}

    async def _open(self, body: dict[str, Any]) -> httpx.Response:
        """The streamed response, once it has answered 200; retried while the server cannot be reached."""
        client = self._client()
        headers = self._request_headers()
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                request = client.build_request("POST", self.url, json=body, headers=headers)
                response = await client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                if last:
                    log.warning("%s: no answer in time after %d attempts: %r", self.url, attempt + 1, exc)
                    raise RemoteModelError("no answer in time.") from exc
            except httpx.TransportError as exc:
                if last:
                    log.warning("%s: unreachable after %d attempts: %r", self.url, attempt + 1, exc)
                    raise RemoteModelError("unreachable.") from exc
            else:
                if response.status_code == 200:
                    return response
                detail = (await response.aread()).decode("utf-8", "replace")[:500]
                await response.aclose()
                if last or response.status_code not in _RETRY_STATUSES:
                    log.warning("%s answered %d: %s", self.url, response.status_code, detail)
                    raise RemoteModelError(f"HTTP {response.status_code}: {detail}")
            await asyncio.sleep(_RETRY_PAUSE_S * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        request = offered(request)  # calls are parsed against the tools offered, nothing else
        body = self.request_body(request)
        calls: dict[int, _PartialCall] = {}
        usage: dict[str, Any] | None = None
        finish = "stop"
        finished = False  # a finish_reason or [DONE] came: the reply is whole
        completion_text: list[str] = []
        text_calls: list[ToolCallRequest] = []  # tool calls the server returned as text
        parser = ToolCallParser([t.name for t in request.tools]) if request.tools else None
        response = await self._open(body)
        try:
            async for data in _sse_data(response):
                if data == "[DONE]":
                    finished = True
                    break
                try:
                    chunk = json.loads(data)
                except json.JSONDecodeError as exc:
                    log.warning("%s sent an event that is not JSON: %r", self.url, data[:200])
                    raise RemoteModelError("an event that is not JSON.") from exc
                if "error" in chunk:
                    log.warning("%s: error in the stream: %s", self.url, chunk["error"])
                    raise RemoteModelError(f"{chunk['error']}")
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    text = delta.get("content")
                    if text:
                        completion_text.append(text)
                        if parser is not None:
                            text, found = parser.feed(text)
                            text_calls.extend(found)
                        if text:
                            yield TextDelta(text=text)
                    for tc in delta.get("tool_calls") or []:
                        partial = _merge_tool_call_delta(calls, tc)
                        if partial.name and not partial.announced:
                            partial.announced = True  # its name came: the arguments follow
                            yield CallStarted(name=partial.name)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                        finished = True
        except httpx.TimeoutException as exc:
            log.warning("%s: the reply stalled: %r", self.url, exc)
            raise RemoteModelError("the reply stalled (no data in time).") from exc
        except httpx.TransportError as exc:
            log.warning("%s: the reply was cut off: %r", self.url, exc)
            raise RemoteModelError("the connection broke mid-reply.") from exc
        finally:
            # Also on cancellation (a barge-in): closing the stream makes the engine stop generating.
            await response.aclose()
        if not finished:
            log.warning("%s: the stream ended without a finish reason or [DONE]", self.url)
            raise RemoteModelError("the reply ended before it was complete.")
        if parser is not None:
            rest, found = parser.finish()
            text_calls.extend(found)
            if rest:
                yield TextDelta(text=rest)
        finished_calls = [_finish_call(p) for _, p in sorted(calls.items())]
        tool_calls = [c for c in finished_calls if c is not None]
        # Calls that could not be read (no name; or tagged markup in the text that is not a call).
        malformed = len(finished_calls) - len(tool_calls) + (parser.malformed if parser is not None else 0)
        tool_calls += text_calls
        if request.tool_choice.allowed_names is not None:
            # toolConfig limited the functions (VALIDATED, or ANY with names): a call to any other is
            # not made, and counts as malformed, as Gemini reports an invalid call.
            names = {t.name for t in request.tools}
            allowed = [c for c in tool_calls if c.name in names]
            malformed += len(tool_calls) - len(allowed)
            tool_calls = allowed
        for call in tool_calls:
            yield call
        if tool_calls:
            finish = "tool_calls"
        elif finish not in ("stop", "length"):
            finish = "stop"
        if usage is not None:
            details = usage.get("prompt_tokens_details") or {}
            yield ChatDone(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                cached_prompt_tokens=int(details.get("cached_tokens") or 0),
                finish_reason=finish,
                malformed_tool_calls=malformed,
            )
        else:
            # Fallback for servers that ignore stream_options: the counts are estimates from the text
            # (about four characters per token), not the server's tokenizer.
            log.debug("%s sent no usage; estimating token counts", self.url)
            prompt_text = "".join(m.content for m in request.messages)
            yield ChatDone(
                prompt_tokens=self.count_tokens(prompt_text),
                completion_tokens=self.count_tokens("".join(completion_text)),
                finish_reason=finish,
                malformed_tool_calls=malformed,
            )


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The ``data:`` payloads of a server-sent event stream, one per event."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
    if lines:
        yield "\n".join(lines)


def _merge_tool_call_delta(calls: dict[int, _PartialCall], tc: dict[str, Any]) -> _PartialCall:
    partial = calls.setdefault(int(tc.get("index", len(calls))), _PartialCall())
    if tc.get("id"):
        partial.id = tc["id"]
    function = tc.get("function") or {}
    # OpenAI and vLLM send the name once; llama-cpp-python's server repeats it whole in every chunk of
    # a call it forces (a named tool_choice). Pieces of a name are joined; the same name again is not.
    if (name := function.get("name")) and name != partial.name:
        partial.name += name
    if function.get("arguments"):
        args = function["arguments"]
        # Some servers (Ollama) send the arguments as an object rather than a JSON string.
        partial.arguments.append(args if isinstance(args, str) else json.dumps(args))
    return partial


def _finish_call(partial: _PartialCall) -> ToolCallRequest | None:
    if not partial.name:
        log.warning("dropping a streamed tool call without a function name")
        return None
    call = parse_tool_call(json.dumps({"name": partial.name, "arguments": "".join(partial.arguments)}))
    if call is not None and partial.id:
        call.id = partial.id
    return call


def _tool_choice_json(choice: ToolChoice, tools: list[ToolSpec]) -> str | dict[str, Any] | None:
    """OpenAI's ``tool_choice`` for the offered ``tools``: "required", or the one function when only one
    is allowed; None (the engine's default, "auto" when tools are sent) otherwise. "none" is never
    needed: with NONE no tools are sent at all, which every engine understands."""
    if choice.mode != "required":
        return None
    if choice.allowed_names is not None and len(tools) == 1:
        return {"type": "function", "function": {"name": tools[0].name}}
    return "required"


def _message_json(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.images:
        # OpenAI's content parts: the words, then each image as a data URL (vLLM, SGLang and llama.cpp
        # server accept them for vision-language models).
        out["content"] = [{"type": "text", "text": message.content}] + [
            {
                "type": "image_url",
                "image_url": {"url": f"data:{i.mime_type};base64,{base64.b64encode(i.data).decode()}"},
            }
            for i in message.images
        ]
    if message.role == "assistant" and message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id or new_call_id(),
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.args, ensure_ascii=False)},
            }
            for c in message.tool_calls
        ]
        if not message.content:
            # OpenAI's API lets a message with tool calls leave its content out; some servers reject
            # null (llama-cpp-python's validates content as a string when present).
            del out["content"]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id or ""
        if message.name is not None:
            out["name"] = message.name
    return out
