"""The OpenAI-compatible LanguageModel against a scripted chat-completions server on 127.0.0.1 (a fake:
unit tests; tests/server/test_server_remote_llm.py runs a real engine)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from openlive.backends.llm_openai import OpenAICompatibleLanguageModel, RemoteModelError
from openlive.request_context import SESSION_ID
from openlive.stages import (
    CallStarted,
    ChatDone,
    ChatEvent,
    ChatMessage,
    ChatRequest,
    SamplingParams,
    TextDelta,
    ToolCallRequest,
)
from openlive.stages.language_model import ToolChoice, ToolSpec


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAIServer:
    """Answers every POST with the scripted SSE ``events`` (or ``status``/``error_body``), then closes.
    ``statuses``: the first requests are answered with these statuses instead, one each."""

    events: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    status: int = 200
    statuses: list[int] = field(default_factory=list)
    error_body: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> FakeOpenAIServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if h)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(RecordedRequest(method, path, headers, json.loads(body or b"{}")))
            status = self.statuses.pop(0) if self.statuses else self.status
            if status != 200:
                payload = self.error_body.encode()
                writer.write(
                    f"HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
            watcher = asyncio.create_task(self._watch_disconnect(reader))
            for event in self.events:
                if self.disconnected.is_set():
                    break
                writer.write(f"data: {event}\n\n".encode())
                await writer.drain()
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
            watcher.cancel()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.disconnected.set()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _watch_disconnect(self, reader: asyncio.StreamReader) -> None:
        if not await reader.read(1):  # the client closed its side: it stopped listening
            self.disconnected.set()


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> str:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return json.dumps({"id": "x", "object": "chat.completion.chunk", "choices": choices, **extra})


async def collect(stream: AsyncIterator[ChatEvent]) -> list[ChatEvent]:
    return [event async for event in stream]


def request(**kwargs: Any) -> ChatRequest:
    return ChatRequest(
        messages=[ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi")],
        **kwargs,
    )


async def test_text_is_streamed_and_usage_becomes_chat_done() -> None:
    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hello"}),
        chunk({"content": " there."}, finish="stop"),
        chunk(
            None,
            usage={
                "prompt_tokens": 21,
                "completion_tokens": 3,
                "prompt_tokens_details": {"cached_tokens": 16},
            },
        ),
        "[DONE]",
    ]
    async with FakeOpenAIServer(events=events) as server:
        model = OpenAICompatibleLanguageModel(server.url + "/v1", "qwen", api_key="sk-test")
        sampling = SamplingParams(temperature=0.2, top_k=5, max_tokens=50, seed=7)
        out = await collect(model.stream(request(sampling=sampling)))
        await model.aclose()
    assert out == [
        TextDelta(text="Hello"),
        TextDelta(text=" there."),
        ChatDone(prompt_tokens=21, completion_tokens=3, cached_prompt_tokens=16, finish_reason="stop"),
    ]
    sent = server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "qwen"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert {k: sent.body[k] for k in ("temperature", "top_k", "max_tokens", "seed")} == {
        "temperature": 0.2,
        "top_k": 5,
        "max_tokens": 50,
        "seed": 7,
    }
    assert "top_p" not in sent.body  # unset values are left to the server's defaults


async def test_streamed_tool_call_fragments_are_assembled() -> None:
    events = [
        chunk({"tool_calls": [{"index": 0, "id": "call_abc", "function": {"name": "get_weather"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]}),
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "call_def", "function": {"name": "get_time", "arguments": ""}}
                ]
            }
        ),
        chunk({}, finish="tool_calls"),
        chunk(None, usage={"prompt_tokens": 80, "completion_tokens": 20}),
        "[DONE]",
    ]
    tool = ToolSpec(
        name="get_weather", description="Weather", parameters={"type": "object", "properties": {}}
    )
    async with FakeOpenAIServer(events=events) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        out = await collect(model.stream(request(tools=[tool])))
        await model.aclose()
    assert out == [
        CallStarted(name="get_weather"),  # as soon as its name streams in (the session may speak)
        CallStarted(name="get_time"),
        ToolCallRequest(id="call_abc", name="get_weather", args={"city": "Paris"}),
        ToolCallRequest(id="call_def", name="get_time", args={}),
        ChatDone(prompt_tokens=80, completion_tokens=20, finish_reason="tool_calls"),
    ]
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"  # "/v1" was added to a bare base URL
    assert sent.body["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": tool.parameters},
        }
    ]
    assert "authorization" not in sent.headers


async def test_history_with_tool_calls_is_sent_in_openai_form() -> None:
    call = ToolCallRequest(id="call_1", name="lookup", args={"q": "ü"})
    req = ChatRequest(
        messages=[
            ChatMessage(role="user", content="Find it"),
            ChatMessage(role="assistant", tool_calls=[call]),
            ChatMessage(role="tool", content='{"ok": true}', tool_call_id="call_1", name="lookup"),
        ]
    )
    async with FakeOpenAIServer(events=[chunk({"content": "Done."}, finish="stop"), "[DONE]"]) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        await collect(model.stream(req))
        await model.aclose()
    messages = server.requests[0].body["messages"]
    assert messages[1] == {
        "role": "assistant",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "ü"}'}}
        ],
    }
    assert messages[2] == {
        "role": "tool",
        "content": '{"ok": true}',
        "tool_call_id": "call_1",
        "name": "lookup",
    }


async def test_missing_usage_falls_back_to_an_estimate() -> None:
    events = [chunk({"content": "x" * 40}, finish="length"), "[DONE]"]
    async with FakeOpenAIServer(events=events) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        out = await collect(model.stream(request()))
        await model.aclose()
    done = out[-1]
    assert isinstance(done, ChatDone)
    assert done.completion_tokens == 10  # 40 characters at ~4 per token
    assert done.prompt_tokens > 0
    assert done.finish_reason == "length"


async def test_http_error_is_raised_with_the_server_message() -> None:
    async with FakeOpenAIServer(status=401, error_body='{"error": "bad key"}') as server:
        model = OpenAICompatibleLanguageModel(server.url, "m", api_key="wrong")
        with pytest.raises(RemoteModelError, match=r"401.*bad key"):
            await collect(model.stream(request()))
        await model.aclose()


async def test_cancelling_the_consumer_closes_the_stream() -> None:
    events = [chunk({"content": f"word{i} "}) for i in range(200)]
    async with FakeOpenAIServer(events=events, delay_s=0.02) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        received: list[ChatEvent] = []

        async def consume() -> None:
            async for event in model.stream(request()):
                received.append(event)

        task = asyncio.create_task(consume())
        while len(received) < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.disconnected.wait(), timeout=2.0)
        await model.aclose()
    assert len(received) < 50


async def test_the_session_id_goes_along_for_session_affine_routing() -> None:
    events = [chunk({"content": "Hi."}, finish="stop"), "[DONE]"]
    async with FakeOpenAIServer(events=events) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        token = SESSION_ID.set("session-42")
        try:
            await collect(model.stream(request()))
        finally:
            SESSION_ID.reset(token)
        await collect(model.stream(request()))  # outside a session: neither
        await model.aclose()
    first, second = server.requests
    assert first.headers["x-session-id"] == "session-42" and first.body["user"] == "session-42"
    assert "x-session-id" not in second.headers and "user" not in second.body


async def test_an_unreachable_server_is_a_1011_with_a_clear_reason_after_the_retries() -> None:
    async with FakeOpenAIServer() as server:
        url = server.url  # closed when the block ends: nothing listens there any more
    model = OpenAICompatibleLanguageModel(url, "m", retries=1, connect_timeout_s=1.0)
    started = asyncio.get_running_loop().time()
    with pytest.raises(RemoteModelError) as info:
        await collect(model.stream(request()))
    await model.aclose()
    assert info.value.code == 1011
    assert info.value.reason == "Language model server: unreachable."
    assert asyncio.get_running_loop().time() - started >= 0.25  # it paused before its one retry


async def test_a_busy_or_restarting_server_is_tried_again_before_the_reply_starts() -> None:
    events = [chunk({"content": "Back."}, finish="stop"), "[DONE]"]
    async with FakeOpenAIServer(events=events, statuses=[503, 502]) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m", retries=2)
        out = await collect(model.stream(request()))
        await model.aclose()
    assert len(server.requests) == 3
    assert out[0] == TextDelta(text="Back.")


async def test_a_client_error_is_not_retried() -> None:
    async with FakeOpenAIServer(status=400, error_body='{"error": "bad request"}') as server:
        model = OpenAICompatibleLanguageModel(server.url, "m", retries=3)
        with pytest.raises(RemoteModelError, match="HTTP 400"):
            await collect(model.stream(request()))
        await model.aclose()
    assert len(server.requests) == 1


async def test_a_reply_cut_off_mid_stream_is_an_error_not_a_short_answer() -> None:
    events = [chunk({"content": "The answer is"})]  # the engine died: no finish_reason, no [DONE]
    async with FakeOpenAIServer(events=events) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        received: list[ChatEvent] = []
        with pytest.raises(RemoteModelError) as info:
            async for event in model.stream(request()):
                received.append(event)
        await model.aclose()
    assert received == [TextDelta(text="The answer is")]
    assert info.value.code == 1011 and "before it was complete" in info.value.reason


async def test_a_stalled_reply_times_out() -> None:
    events = [chunk({"content": "slow"}), chunk({"content": "er"}, finish="stop"), "[DONE]"]
    async with FakeOpenAIServer(events=events, delay_s=1.0) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m", read_timeout_s=0.3)
        with pytest.raises(RemoteModelError, match="stalled"):
            await collect(model.stream(request()))
        await model.aclose()


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
    ],
)
async def test_a_tool_call_returned_as_text_becomes_a_tool_call(text: str) -> None:
    """Servers without a tool parser (llama-cpp-python's) stream the model's own call syntax as text."""
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
    events = [*(chunk({"content": p}) for p in pieces), chunk({}, finish="stop"), "[DONE]"]
    tool = ToolSpec(name="get_weather", description="Weather", parameters={"type": "object"})
    async with FakeOpenAIServer(events=events) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        out = await collect(model.stream(request(tools=[tool])))
        await model.aclose()
    calls = [e for e in out if isinstance(e, ToolCallRequest)]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert not [e for e in out if isinstance(e, TextDelta)]
    done = out[-1]
    assert isinstance(done, ChatDone) and done.finish_reason == "tool_calls"


async def test_tool_calls_that_cannot_be_read_are_counted_as_malformed() -> None:
    """A streamed call without a name and tagged markup that is not JSON: both dropped, both counted
    (the session then ends the turn with ``turnCompleteReason: MALFORMED_FUNCTION_CALL``)."""
    nameless = {"tool_calls": [{"index": 0, "id": "c1", "function": {"arguments": "{}"}}]}
    events = [
        chunk(nameless),
        chunk({"content": "<tool_call>{not json</tool_call>"}),
        chunk({}, finish="stop"),
        "[DONE]",
    ]
    tool = ToolSpec(name="get_weather", description="Weather", parameters={"type": "object"})
    async with FakeOpenAIServer(events=events) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        out = await collect(model.stream(request(tools=[tool])))
        await model.aclose()
    assert not [e for e in out if isinstance(e, ToolCallRequest)]
    done = out[-1]
    assert isinstance(done, ChatDone) and done.malformed_tool_calls == 2 and done.finish_reason == "stop"


async def test_a_tool_result_hint_is_appended_to_function_results_only() -> None:
    call = ToolCallRequest(id="call_1", name="lookup", args={})
    req = ChatRequest(
        messages=[
            ChatMessage(role="user", content="Find it"),
            ChatMessage(role="assistant", tool_calls=[call]),
            ChatMessage(role="tool", content='{"ok": true}', tool_call_id="call_1", name="lookup"),
        ]
    )
    async with FakeOpenAIServer(events=[chunk({"content": "Done."}, finish="stop"), "[DONE]"]) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m", tool_result_hint="Say it.")
        await collect(model.stream(req))
        await model.aclose()
    messages = server.requests[0].body["messages"]
    assert messages[0]["content"] == "Find it"
    assert messages[2]["content"] == '{"ok": true}\n\nSay it.'


def test_images_go_as_image_url_content_parts() -> None:
    from openlive.stages.language_model import ChatImage

    model = OpenAICompatibleLanguageModel("http://engine.local/v1", "vlm")
    shown = ChatImage(mime_type="image/jpeg", data=b"\xff\xd8jpeg")
    body = model.request_body(
        ChatRequest(messages=[ChatMessage(role="user", content="What is this?", images=[shown])])
    )
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9hqcGVn"}},
            ],
        }
    ]


TOOL_CHOICE_TOOLS = [
    ToolSpec(name="get_weather", description="Weather", parameters={"type": "object"}),
    ToolSpec(name="book_table", description="Book", parameters={"type": "object"}),
]


@pytest.mark.parametrize(
    ("choice", "sent_tools", "sent_choice"),
    [
        (ToolChoice(), ["get_weather", "book_table"], None),  # AUTO: the engine's default
        (ToolChoice(mode="required"), ["get_weather", "book_table"], "required"),  # ANY
        (
            ToolChoice(mode="required", allowed_names=("book_table",)),
            ["book_table"],
            {"type": "function", "function": {"name": "book_table"}},
        ),
        (ToolChoice(mode="auto", allowed_names=("get_weather",)), ["get_weather"], None),  # VALIDATED
        (ToolChoice(mode="none"), None, None),  # NONE: as if no functions were declared
    ],
)
async def test_tool_choice_is_sent_as_openai_tool_choice_with_the_allowed_tools(
    choice: ToolChoice, sent_tools: list[str] | None, sent_choice: object
) -> None:
    async with FakeOpenAIServer(events=[chunk({"content": "Hi"}, finish="stop"), "[DONE]"]) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        await collect(model.stream(request(tools=TOOL_CHOICE_TOOLS, tool_choice=choice)))
    body = server.requests[0].body
    assert ([t["function"]["name"] for t in body["tools"]] if "tools" in body else None) == sent_tools
    assert body.get("tool_choice") == sent_choice


async def test_a_call_to_a_function_that_is_not_allowed_is_not_made_and_counts_as_malformed() -> None:
    """VALIDATED (or ANY with names): only a call to an allowed function is made."""
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    events = [chunk({"content": text}, finish="stop"), "[DONE]"]
    async with FakeOpenAIServer(events=events) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        allowed = ToolChoice(allowed_names=("book_table",))
        out = await collect(model.stream(request(tools=TOOL_CHOICE_TOOLS, tool_choice=allowed)))
    assert not any(isinstance(e, ToolCallRequest) for e in out)
    done = out[-1]
    assert isinstance(done, ChatDone) and done.malformed_tool_calls == 1 and done.finish_reason == "stop"


async def test_a_call_whose_name_is_repeated_in_every_chunk_is_one_call() -> None:
    """llama-cpp-python's server, forcing a call (named tool_choice), repeats the name and id each time."""

    def piece(arguments: str) -> str:
        call = {"index": 0, "id": "call_1", "type": "function"}
        return chunk({"tool_calls": [{**call, "function": {"name": "set_timer", "arguments": arguments}}]})

    events = [piece('{"min'), piece('utes": 10}'), chunk({}, finish="tool_calls"), "[DONE]"]
    async with FakeOpenAIServer(events=events) as server:
        model = OpenAICompatibleLanguageModel(server.url, "m")
        out = await collect(model.stream(request(tools=[*TOOL_CHOICE_TOOLS, ToolSpec(name="set_timer")])))
    assert [e for e in out if isinstance(e, ToolCallRequest)] == [
        ToolCallRequest(id="call_1", name="set_timer", args={"minutes": 10})
    ]
    assert [e for e in out if isinstance(e, CallStarted)] == [CallStarted(name="set_timer")]
