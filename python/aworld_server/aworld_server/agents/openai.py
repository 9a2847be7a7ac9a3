"""A model behind any OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, vLLM, Ollama,
LiteLLM, ...), with tool calling and streamed chunks.

Failures raise :class:`~aworld_server.retry.HandlerFailed` whose ``non_retryable`` flag tells
the runtime's retry loop what to do:

- HTTP 408, 409, 429 and 5xx, timeouts, connection errors, an error inside a stream: retryable
  (types ``ModelRateLimited``, ``ModelServerError``, ``ModelTimeout``, ``ModelConnectionError``);
- any other HTTP error (400, 401, 403, 404, ...) and a response that is not a chat completion:
  non-retryable (``ModelBadRequest``, ``ModelUnauthenticated``, ``ModelPermissionDenied``,
  ``ModelNotFound``, ``ModelRequestFailed``, ``ModelBadResponse``).

The API key comes from the constructor or the environment (``OPENAI_API_KEY``), never from a
task: tasks are stored and streamed to clients.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import ssl
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from aworld_client import Failure, ModelConfig, Usage

from aworld_server.agents.model import ChunkSink, ModelResponse, ToolCallRequest
from aworld_server.errors import HandlerFailed, InvalidArgument

__all__ = ["DEFAULT_BASE_URL", "OpenAIModel", "OpenAIProvider", "model_settings"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 300.0

# Keys each role may carry on the wire; the runtime's conversation holds a few more (``name`` on
# tool results) that strict servers reject.
_MESSAGE_KEYS = {
    "system": ("content", "name"),
    "user": ("content", "name"),
    "assistant": ("content", "name", "tool_calls"),
    "tool": ("content", "tool_call_id"),
}

_NON_RETRYABLE_TYPES = {
    400: "ModelBadRequest",
    401: "ModelUnauthenticated",
    403: "ModelPermissionDenied",
    404: "ModelNotFound",
}


class OpenAIModel:
    """A :class:`~aworld_server.agents.model.Model` over an OpenAI-compatible HTTP endpoint.

    ``base_url`` is the API root (``.../v1``). One HTTP client per instance keeps connections
    alive across calls; close it with :meth:`aclose` (or ``async with``). With ``stream=True``
    each content fragment is passed to ``on_chunk`` as it arrives; the returned response is
    the same as without streaming. ``timeout`` (seconds) bounds each network wait, not the
    whole generation.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stream: bool = True,
    ) -> None:
        if not model:
            raise ValueError("an OpenAI model needs a model name")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.stream = stream
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            verify=_tls_context(),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )

    @classmethod
    def from_config(cls, config: ModelConfig) -> OpenAIModel:
        """Build from a ModelConfig; see :func:`model_settings`."""
        return cls(**model_settings(config))

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await self._client.aclose()

    async def __aenter__(self) -> OpenAIModel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:  # the key stays out of logs
        return f"OpenAIModel({self.model!r}, base_url={self.base_url!r}, stream={self.stream})"

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        on_chunk: ChunkSink | None = None,
    ) -> ModelResponse:
        body = self._request_body(messages, tools)
        try:
            if self.stream:
                return await self._complete_streaming(body, on_chunk)
            response = await self._client.post("/chat/completions", json=body)
            if response.is_error:
                raise _http_failure(response.status_code, response.text)
            return self._parse_completion(response)
        except httpx.TimeoutException as error:
            raise _failure("ModelTimeout", f"no answer from {self.base_url}: {error!r}") from error
        except httpx.TransportError as error:
            raise _failure(
                "ModelConnectionError", f"talking to {self.base_url} failed: {error!r}"
            ) from error

    def _request_body(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_wire_message(m) for m in messages],
            "stream": self.stream,
        }
        if tools:  # some servers reject an empty list
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t["name"],
                        "description": t.get("description", ""),
                        "parameters": t.get("parameters") or {"type": "object"},
                    },
                }
                for t in tools
            ]
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def _parse_completion(self, response: httpx.Response) -> ModelResponse:
        try:
            data = response.json()
            message = data["choices"][0]["message"]
            calls = [
                ToolCallRequest(
                    name=call["function"]["name"],
                    arguments=_arguments(call["function"].get("arguments")),
                    **({"id": call["id"]} if call.get("id") else {}),
                )
                for call in message.get("tool_calls") or []
            ]
        except (ValueError, LookupError, TypeError) as error:
            raise _bad_response(response.text, error) from error
        return ModelResponse(
            content=message.get("content") or "",
            tool_calls=calls,
            usage=_usage(data.get("usage")),
            model=data.get("model") or self.model,
        )

    async def _complete_streaming(
        self, body: dict[str, Any], on_chunk: ChunkSink | None
    ) -> ModelResponse:
        content: list[str] = []
        calls: dict[int, _PartialCall] = {}
        usage: dict[str, Any] | None = None
        model = self.model
        async with self._client.stream("POST", "/chat/completions", json=body) as response:
            if response.is_error:
                await response.aread()
                raise _http_failure(response.status_code, response.text)
            async for line in response.aiter_lines():
                # SSE: only ``data:`` lines matter; blank lines, comments and ``event:`` don't.
                if not line.startswith("data:"):
                    continue
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError as error:
                    raise _bad_response(data, error) from error
                if not isinstance(chunk, dict):
                    raise _bad_response(data, TypeError("a chunk must be an object"))
                if "error" in chunk:  # a server that fails mid-stream says so in a chunk
                    detail = _summary(str(chunk["error"]))
                    raise _failure("ModelServerError", f"error in stream: {detail}")
                model = chunk.get("model") or model
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    text = delta.get("content")
                    if text:
                        content.append(text)
                        if on_chunk is not None:
                            await on_chunk(text)
                    for position, fragment in enumerate(delta.get("tool_calls") or []):
                        index = fragment.get("index", position)
                        calls.setdefault(index, _PartialCall()).add(fragment)
        return ModelResponse(
            content="".join(content),
            tool_calls=[calls[i].request() for i in sorted(calls)],
            usage=_usage(usage),
            model=model,
        )


@dataclass(slots=True)
class _PartialCall:
    """A tool call assembled from stream fragments: the id and name arrive once, the
    arguments JSON in pieces."""

    id: str = ""
    name: str = ""
    arguments: str = ""

    def add(self, fragment: dict[str, Any]) -> None:
        function = fragment.get("function") or {}
        # Assigned, not appended: some servers repeat the id and name in every fragment.
        self.id = fragment.get("id") or self.id
        self.name = function.get("name") or self.name
        self.arguments += function.get("arguments") or ""

    def request(self) -> ToolCallRequest:
        arguments = _arguments(self.arguments)
        if self.id:
            return ToolCallRequest(self.name, arguments, self.id)
        return ToolCallRequest(self.name, arguments)


class OpenAIProvider:
    """The ``openai`` model factory: one model (so one connection pool) per distinct
    configuration, shared by every task that uses it. The ``cache_size`` most recently used
    are kept; older ones are dropped (their connections close when their last task is done), so
    many distinct configurations cannot grow memory without bound."""

    def __init__(self, cache_size: int = 64) -> None:
        self._models: OrderedDict[tuple[tuple[str, Any], ...], OpenAIModel] = OrderedDict()
        self._cache_size = cache_size

    def __call__(self, config: ModelConfig) -> OpenAIModel:
        return self.model(model_settings(config))

    def model(self, settings: dict[str, Any]) -> OpenAIModel:
        key = tuple(sorted(settings.items()))
        model = self._models.get(key)
        if model is None:
            self._models[key] = model = OpenAIModel(**settings)
            while len(self._models) > self._cache_size:
                self._models.popitem(last=False)
        self._models.move_to_end(key)
        return model

    async def aclose(self) -> None:
        """Close every pooled model."""
        models, self._models = list(self._models.values()), OrderedDict()
        for model in models:
            await model.aclose()


def model_settings(config: ModelConfig) -> dict[str, Any]:
    """OpenAIModel arguments for a ModelConfig. Unset fields fall back to ``OPENAI_BASE_URL`` /
    ``OPENAI_MODEL``; the key is read from ``OPENAI_API_KEY`` (or the variable named by
    ``options.api_key_env``). Options: ``stream`` (default true), ``timeout`` (seconds).
    InvalidArgument when the config cannot make a model."""
    options = config.options.value() if config.options is not None else {}
    if not isinstance(options, dict):
        raise InvalidArgument("openai model options must be an object")
    if "api_key" in options:
        raise InvalidArgument(
            "an API key must not travel in a task; set OPENAI_API_KEY on the server"
        )
    model = config.model or os.environ.get("OPENAI_MODEL", "")
    if not model:
        raise InvalidArgument("the openai model needs a model name (or OPENAI_MODEL)")
    try:
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
    except (TypeError, ValueError):
        raise InvalidArgument("openai model option 'timeout' must be a number") from None
    return {
        "model": model,
        "base_url": config.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
        "api_key": os.environ.get(str(options.get("api_key_env", "OPENAI_API_KEY")), ""),
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
        "timeout": timeout,
        "stream": bool(options.get("stream", True)),
    }


def _wire_message(message: dict[str, Any]) -> dict[str, Any]:
    role = str(message.get("role", "user"))
    out: dict[str, Any] = {"role": role}
    for key in _MESSAGE_KEYS.get(role, ("content",)):
        if key in message:
            out[key] = message[key]
    if role == "assistant" and out.get("tool_calls") and not out.get("content"):
        out["content"] = None  # the API's way to say "tool calls only"
    if role == "tool" and not isinstance(out.get("content"), str):
        out["content"] = json.dumps(out.get("content"))
    return out


def _arguments(raw: Any) -> dict[str, Any]:
    """Tool arguments from the model's JSON string; invalid JSON is kept, not fatal, so the
    tool's input validation can answer the model instead of the task crashing."""
    if isinstance(raw, dict):  # a few servers send an object, not a string
        return raw
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


def _usage(data: Any) -> Usage:
    data = data if isinstance(data, dict) else {}
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(data.get("total_tokens") or prompt + completion),
        llm_calls=1,
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~100 ms; one context serves every client (contexts are safe
    # to share), so a new model configuration costs microseconds, not a bundle load.
    return httpx.create_ssl_context()


def _summary(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _failure(type_: str, message: str, *, non_retryable: bool = False) -> HandlerFailed:
    return HandlerFailed(Failure(type=type_, message=message, non_retryable=non_retryable))


def _http_failure(status: int, text: str) -> HandlerFailed:
    # Only the message of an OpenAI-shaped error, shortened; never the body itself, which could
    # be anything the endpoint (or a proxy in front of it) answers, secrets included.
    detail = "the endpoint's answer was not an API error"
    with contextlib.suppress(ValueError, LookupError, TypeError):  # OpenAI's error shape
        detail = _summary(str(json.loads(text)["error"]["message"]))
    message = f"HTTP {status}: {detail}"
    if status == 429:
        return _failure("ModelRateLimited", message)
    if status in (408, 409) or status >= 500:
        return _failure("ModelServerError", message)
    return _failure(
        _NON_RETRYABLE_TYPES.get(status, "ModelRequestFailed"), message, non_retryable=True
    )


def _bad_response(text: str, error: Exception) -> HandlerFailed:
    return _failure(
        "ModelBadResponse",
        f"not a chat completion ({type(error).__name__} after {len(text)} characters)",
        non_retryable=True,
    )
