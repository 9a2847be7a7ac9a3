"""A real OpenAI-compatible chat-completions server for tests: ``POST /v1/chat/completions``
over HTTP on 127.0.0.1, port 0, streaming (SSE) or not.

Its "model" is deterministic and driven by the conversation, like a calculator that must use
its tool: it adds up the integers of the last user message with the ``add`` tool, one call per
step (``add(n0, n1)``, then ``add(<last result>, n2)``, ...), and then answers
``"The sum is <result>."``. It checks what a real endpoint would check — the bearer token, and
that each tool result answers the tool call before it — records every request, and can be told
to fail the next requests with given HTTP statuses.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MODEL = "calc-1"
# Deterministic token counts, so tests can check that usage is added up.
PROMPT_TOKENS_PER_MESSAGE = 10
COMPLETION_TOKENS = 7


@dataclass
class ChatServer:
    api_key: str = "sk-test"
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Statuses for the next requests, in order (e.g. [500, 500]); then it answers normally.
    fail_with: list[int] = field(default_factory=list)
    # Send tool arguments that are not JSON, as a careless model would.
    broken_arguments: bool = False
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if self.fail_with:
            status = self.fail_with.pop(0)
            return _error(status, f"scripted failure {status}", "server_error")
        try:
            reply = self._reply(body["messages"])
        except ValueError as error:
            return _error(400, str(error), "invalid_request_error")
        usage = {
            "prompt_tokens": PROMPT_TOKENS_PER_MESSAGE * len(body["messages"]),
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS_PER_MESSAGE * len(body["messages"]) + COMPLETION_TOKENS,
        }
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await _stream(request, reply, usage if include_usage else None)
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", **reply},
                        "finish_reason": "tool_calls" if "tool_calls" in reply else "stop",
                    }
                ],
                "usage": usage,
            }
        )

    def _reply(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The assistant message for this conversation (OpenAI shape)."""
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        numbers = [int(n) for n in re.findall(r"-?\d+", messages[last_user]["content"])]
        if len(numbers) < 2:
            return {"content": "Give me at least two numbers."}
        since = messages[last_user + 1 :]
        for i, message in enumerate(since):
            asked = {c["id"] for c in (since[i - 1].get("tool_calls") or [])} if i else set()
            if message["role"] == "tool" and message.get("tool_call_id") not in asked:
                raise ValueError("a tool message must answer the tool call before it")
        results = [int(m["content"]) for m in since if m["role"] == "tool"]
        if len(results) == len(numbers) - 1:
            return {"content": f"The sum is {results[-1]}."}
        a = results[-1] if results else numbers[0]
        b = numbers[len(results) + 1]
        arguments = f"{{a: {a}, b: {b}" if self.broken_arguments else json.dumps({"a": a, "b": b})
        call_id = f"call_{len(results) + 1}"
        return {
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "add", "arguments": arguments},
                }
            ],
        }


async def _stream(
    request: web.Request, reply: dict[str, Any], usage: dict[str, Any] | None
) -> web.StreamResponse:
    """Send ``reply`` as OpenAI does: content word by word, a tool call as a header fragment
    (id, name) followed by its arguments in pieces, then finish_reason, usage and [DONE]."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)

    async def send(choices: list[dict[str, Any]], **extra: Any) -> None:
        chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL}
        await response.write(
            f"data: {json.dumps({**chunk, 'choices': choices, **extra})}\n\n".encode()
        )

    async def send_delta(**delta: Any) -> None:
        await send([{"index": 0, "delta": delta}])

    await send_delta(role="assistant")
    for word in re.findall(r"\S+\s*", reply.get("content") or ""):
        await send_delta(content=word)
    for index, call in enumerate(reply.get("tool_calls", [])):
        name = call["function"]["name"]
        head = {"index": index, "id": call["id"], "type": "function"}
        await send_delta(tool_calls=[{**head, "function": {"name": name, "arguments": ""}}])
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 5):
            piece = {"index": index, "function": {"arguments": arguments[start : start + 5]}}
            await send_delta(tool_calls=[piece])
    finish = "tool_calls" if reply.get("tool_calls") else "stop"
    await send([{"index": 0, "delta": {}, "finish_reason": finish}])
    if usage is not None:
        await send([], usage=usage)
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _error(status: int, message: str, code: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": code, "code": code}}, status=status
    )
