"""A LanguageModel served by any OpenAI-compatible chat endpoint: vLLM, SGLang, llama.cpp server, Ollama.

Streams ``POST {base}/v1/chat/completions`` (server-sent events) with httpx. Tools go out in OpenAI's
format and come back as incremental ``tool_calls`` deltas, assembled here. Token counts come from the
final usage chunk (``stream_options.include_usage``), which these servers send when asked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from openlive.backends.llm_prompt import new_call_id, parse_tool_call
from openlive.stages import ChatDone, ChatEvent, ChatMessage, ChatRequest, TextDelta, ToolCallRequest

log = logging.getLogger(__name__)

# Without the server's tokenizer, English text averages about four characters per token.
_CHARS_PER_TOKEN = 4.0


class RemoteModelError(RuntimeError):
    """The endpoint answered with an error or with something that is not a chat completion stream."""


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


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
        timeout_s: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.name = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout_s, connect=10.0)
        self._transport = transport
        # A client's connection pool belongs to one event loop; one client per loop that uses this model.
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

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
        s = request.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_message_json(m) for m in request.messages],
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
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        body = self.request_body(request)
        calls: dict[int, _PartialCall] = {}
        usage: dict[str, Any] | None = None
        finish = "stop"
        completion_text: list[str] = []
        async with self._client().stream("POST", self.url, json=body) as response:
            if response.status_code != 200:
                detail = (await response.aread()).decode("utf-8", "replace")[:500]
                raise RemoteModelError(f"{self.url} answered {response.status_code}: {detail}")
            async for data in _sse_data(response):
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except json.JSONDecodeError as exc:
                    raise RemoteModelError(
                        f"{self.url} sent an event that is not JSON: {data[:200]!r}"
                    ) from exc
                if "error" in chunk:
                    raise RemoteModelError(f"{self.url}: {chunk['error']}")
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    text = delta.get("content")
                    if text:
                        completion_text.append(text)
                        yield TextDelta(text=text)
                    for tc in delta.get("tool_calls") or []:
                        _merge_tool_call_delta(calls, tc)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        tool_calls = [c for c in (_finish_call(p) for _, p in sorted(calls.items())) if c is not None]
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


def _merge_tool_call_delta(calls: dict[int, _PartialCall], tc: dict[str, Any]) -> None:
    partial = calls.setdefault(int(tc.get("index", len(calls))), _PartialCall())
    if tc.get("id"):
        partial.id = tc["id"]
    function = tc.get("function") or {}
    if function.get("name"):
        partial.name += function["name"]
    if function.get("arguments"):
        args = function["arguments"]
        # Some servers (Ollama) send the arguments as an object rather than a JSON string.
        partial.arguments.append(args if isinstance(args, str) else json.dumps(args))


def _finish_call(partial: _PartialCall) -> ToolCallRequest | None:
    if not partial.name:
        log.warning("dropping a streamed tool call without a function name")
        return None
    call = parse_tool_call(json.dumps({"name": partial.name, "arguments": "".join(partial.arguments)}))
    if call is not None and partial.id:
        call.id = partial.id
    return call


def _message_json(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
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
            out["content"] = None
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id or ""
        if message.name is not None:
            out["name"] = message.name
    return out
