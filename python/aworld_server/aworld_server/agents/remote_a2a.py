"""Remote A2A agents as swarm members: an agent whose policy is another A2A server (``a2a-sdk``).

A swarm member with ``AgentSpec.a2a_url`` takes a step like a local agent, but its "model" is
:class:`A2AAgentModel`: it sends the agent's latest observation (the last user or tool message
of its conversation) to the remote agent as one A2A message and returns the remote answer as a
:class:`~aworld_server.agents.model.ModelResponse` with no tool calls. The runtime records the
step, its usage and its failures exactly as for a model call, and retries it by the task's retry
policy.

Failures, as :class:`~aworld_server.errors.HandlerFailed` (never an answer the next agent sees):

- retryable, type ``A2AAgentUnavailable``: the card or the agent cannot be reached, a timeout,
  HTTP 408/429/5xx, a JSON-RPC internal error, a stream that ends before the remote task does;
- non-retryable: ``A2AAgentRejected`` (any other HTTP or JSON-RPC error: the request itself is
  wrong), ``A2AAgentFailed`` (the remote task ended failed, rejected or cancelled),
  ``A2AAgentNeedsInput`` (it asked for input or authentication, which a swarm step cannot give).

Each step is a new A2A task in a new context on the remote side: the remote agent sees the
observation, not our conversation so far. A step cancelled on our side (the task was cancelled
or ran out of time) asks the remote agent to cancel its task too, best effort.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from a2a.client import (
    A2ACardResolver,
    A2AClientError,
    AgentCardResolutionError,
    Client,
    ClientCallContext,
    ClientConfig,
    ClientFactory,
)
from a2a.types import (
    CancelTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    TaskState,
)
from a2a.utils.errors import A2AError, InternalError
from aworld_client import AgentSpec, Failure, Usage
from google.protobuf.json_format import MessageToDict

from aworld_server.agents.model import ChunkSink, ModelResponse
from aworld_server.errors import FieldViolation, HandlerFailed

__all__ = ["A2AAgentModel", "RemoteA2AAgents", "a2a_agent_violations", "normalized_url"]

DEFAULT_TIMEOUT = 300.0
_CANCEL_TIMEOUT = 5.0  # seconds a best-effort cancel of a remote task may take

log = logging.getLogger(__name__)
_RETRYABLE_HTTP = {408, 425, 429}


def normalized_url(url: str) -> str:
    """The form URLs are compared in: no surrounding blanks, no trailing slash."""
    return url.strip().rstrip("/")


class RemoteA2AAgents:
    """The remote A2A agents of one runtime: a model per card URL over one HTTP pool.

    Embedded (library) use may name any http(s) URL. A served runtime calls :meth:`restrict`
    with its configured ``a2a.remote_agents``: a task then names only those, so a submitter
    cannot make the server call arbitrary hosts for it."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._allowed: frozenset[str] | None = None  # None: any URL
        self._models: dict[str, A2AAgentModel] = {}
        self._http: httpx.AsyncClient | None = None
        self._cancels: set[asyncio.Future[None]] = set()

    def restrict(self, urls: Iterable[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Serve only these card URLs (a served runtime), each network wait ``timeout`` s."""
        self._allowed = frozenset(normalized_url(u) for u in urls)
        self.timeout = timeout

    def violations(self, url: str) -> list[FieldViolation]:
        """Why a task may not name ``url`` (paths relative to the AgentSpec); [] if it may."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return [FieldViolation("a2a_url", "must be an http:// or https:// URL")]
        if self._allowed is not None and normalized_url(url) not in self._allowed:
            return [
                FieldViolation(
                    "a2a_url",
                    "is not one of this server's remote A2A agents (a2a.remote_agents)",
                )
            ]
        return []

    def model(self, url: str) -> A2AAgentModel:
        """The policy of the remote agent at ``url`` (shared by every task that names it)."""
        key = normalized_url(url)
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = A2AAgentModel(key, self)
        return model

    def http(self) -> httpx.AsyncClient:
        """The pooled HTTP client every remote agent call goes through."""
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout))
        return self._http

    def cancel_remote(self, client: Client, task_id: str) -> None:
        """Ask the remote agent to cancel ``task_id``, without waiting: best effort, bounded."""

        async def cancel() -> None:
            try:
                async with asyncio.timeout(_CANCEL_TIMEOUT):
                    await client.cancel_task(CancelTaskRequest(id=task_id))
            except Exception as error:  # it may have finished, or be gone: nothing to undo
                log.debug("cancelling remote A2A task %s failed: %s", task_id, error)

        pending = asyncio.ensure_future(cancel())
        self._cancels.add(pending)
        pending.add_done_callback(self._cancels.discard)

    async def aclose(self) -> None:
        if self._cancels:  # let the cancellations sent just before closing go out
            await asyncio.wait(set(self._cancels), timeout=_CANCEL_TIMEOUT)
        self._models.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


# What a remote A2A agent brings itself, so a spec that also sets it would be ignored.
_OWN = {
    "model": "a remote A2A agent has its own model; remove model",
    "system_prompt": "a remote A2A agent has its own prompt; remove system_prompt",
    "tool_names": "a remote A2A agent calls its own tools, not ours; remove tool_names",
    "mcp_servers": "a remote A2A agent calls its own tools, not ours; remove mcp_servers",
    "handoffs": "a remote A2A agent answers and cannot call or hand off to agents; remove handoffs",
    "remote_handler": "an agent is either a remote A2A agent or a remote handler, not both",
}


def a2a_agent_violations(spec: AgentSpec, agents: RemoteA2AAgents) -> list[FieldViolation]:
    """Why ``spec`` (with ``a2a_url`` set) cannot run, as paths relative to the AgentSpec."""
    problems = agents.violations(spec.a2a_url)
    for name, why in _OWN.items():
        if getattr(spec, name):
            problems.append(FieldViolation(name, why))
    return problems


@dataclass(slots=True)
class _Outcome:
    """What the remote side said, folded from its stream of responses."""

    state: int = 0  # a2a TaskState; 0: a direct Message, no task
    texts: list[str] = field(default_factory=list)  # artifact text, in order
    message: str = ""  # the latest status or direct message text
    task_id: str = ""  # the remote task, once the remote side named it


class A2AAgentModel:
    """A :class:`~aworld_server.agents.model.Model` backed by a remote A2A agent."""

    def __init__(self, url: str, agents: RemoteA2AAgents) -> None:
        self.url = url
        self._agents = agents
        self._client: Client | None = None
        self._card_name = ""

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        on_chunk: ChunkSink | None = None,
    ) -> ModelResponse:
        observation = _last_observation(messages)
        request = SendMessageRequest(
            message=Message(
                role=Role.ROLE_USER,
                message_id=uuid.uuid4().hex,
                parts=[Part(text=observation)],
            )
        )
        outcome = _Outcome()
        client: Client | None = None
        try:
            client = await self._connect()
            context = ClientCallContext(timeout=self._agents.timeout)
            async for response in client.send_message(request, context=context):
                text = _fold(outcome, response)
                if text and on_chunk is not None:
                    await on_chunk(text)
        except asyncio.CancelledError:
            # Our task was cancelled (or timed out) mid-step: the remote work is not wanted.
            if client is not None and outcome.task_id:
                self._agents.cancel_remote(client, outcome.task_id)
            raise
        except HandlerFailed:
            raise
        except Exception as error:
            failure = _infrastructure_failure(error, self.url)
            if not failure.non_retryable:
                self._client = None  # the next attempt resolves the card again
            raise HandlerFailed(failure) from error
        return ModelResponse(
            content=_answer(outcome, self.url),
            usage=Usage(),  # A2A reports no token counts
            model=f"a2a:{self._card_name or self.url}",
        )

    async def _connect(self) -> Client:
        if self._client is not None:
            return self._client
        http = self._agents.http()
        if self.url.endswith(".json"):  # the card's own URL
            resolver = A2ACardResolver(http, self.url, agent_card_path="")
        else:
            resolver = A2ACardResolver(http, self.url)
        card = await resolver.get_agent_card()
        self._card_name = card.name
        self._client = ClientFactory(ClientConfig(httpx_client=http, streaming=True)).create(card)
        return self._client


def _last_observation(messages: Sequence[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") in ("user", "tool"):
            return str(message.get("content", ""))
    return ""


def _text(parts: Iterable[Any]) -> str:
    """The text of A2A parts: text as is, data as JSON, files by their URL or name."""
    pieces: list[str] = []
    for part in parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            pieces.append(part.text)
        elif kind == "data":
            pieces.append(json.dumps(MessageToDict(part.data), ensure_ascii=False))
        elif kind == "url":
            pieces.append(part.url)
        elif kind == "raw":
            pieces.append(f"[{part.media_type or 'bytes'} {part.filename}]".strip())
    return "\n".join(pieces)


def _fold(outcome: _Outcome, response: StreamResponse) -> str:
    """Fold one response into ``outcome``; return new answer text, for chunks."""
    kind = response.WhichOneof("payload")
    if kind == "message":
        outcome.message = _text(response.message.parts)
        return outcome.message
    if kind == "task":
        task = response.task
        outcome.task_id = task.id
        outcome.state = task.status.state
        if task.status.HasField("message"):
            outcome.message = _text(task.status.message.parts)
        outcome.texts = [_text(a.parts) for a in task.artifacts]
        return ""
    if kind == "status_update":
        status = response.status_update.status
        outcome.task_id = response.status_update.task_id or outcome.task_id
        outcome.state = status.state
        if status.HasField("message"):
            outcome.message = _text(status.message.parts)
        return ""
    if kind == "artifact_update":
        update = response.artifact_update
        text = _text(update.artifact.parts)
        if update.append and outcome.texts:
            outcome.texts[-1] += text
        else:
            outcome.texts.append(text)
        return text
    return ""


def _answer(outcome: _Outcome, url: str) -> str:
    """The remote answer, or the non-retryable failure a finished remote task stands for."""
    state = outcome.state
    if state in (0, TaskState.TASK_STATE_COMPLETED):
        return "\n".join(t for t in outcome.texts if t) or outcome.message
    failures: dict[int, tuple[str, str]] = {
        TaskState.TASK_STATE_FAILED: ("A2AAgentFailed", "failed"),
        TaskState.TASK_STATE_REJECTED: ("A2AAgentFailed", "rejected the task"),
        TaskState.TASK_STATE_CANCELED: ("A2AAgentFailed", "cancelled the task"),
        TaskState.TASK_STATE_INPUT_REQUIRED: ("A2AAgentNeedsInput", "asked for input"),
        TaskState.TASK_STATE_AUTH_REQUIRED: ("A2AAgentNeedsInput", "asked for authentication"),
    }
    if state in failures:
        kind, what = failures[state]
        detail = f": {outcome.message}" if outcome.message else ""
        raise HandlerFailed(
            Failure(
                type=kind,
                message=f"remote A2A agent {url} {what}{detail}",
                non_retryable=True,
                source=url,
            )
        )
    # submitted / working: the stream ended before the task did (the connection dropped).
    raise HandlerFailed(
        Failure(
            type="A2AAgentUnavailable",
            message=f"remote A2A agent {url}: the response ended before the task finished",
            source=url,
        )
    )


def _infrastructure_failure(error: Exception, url: str) -> Failure:
    """Classify a client-side error: can another attempt succeed?"""
    retryable = False
    cause: BaseException | None = error
    while cause is not None:  # the SDK wraps httpx errors; look at what happened underneath
        if isinstance(cause, httpx.HTTPStatusError):
            code = cause.response.status_code
            retryable = code >= 500 or code in _RETRYABLE_HTTP
            break
        if isinstance(cause, httpx.TransportError | TimeoutError | ConnectionError):
            retryable = True
            break
        cause = cause.__cause__
    else:
        if isinstance(error, AgentCardResolutionError):
            status = error.status_code
            retryable = status is None or status >= 500 or status in _RETRYABLE_HTTP
        elif isinstance(error, InternalError):
            retryable = True  # the remote server broke while handling it: a 5xx in JSON-RPC
        elif isinstance(error, A2AClientError):
            retryable = True  # a transport-level problem the SDK reports without a cause
        elif not isinstance(error, A2AError):
            retryable = True  # an unexpected client error: another attempt may do better
    return Failure(
        type="A2AAgentUnavailable" if retryable else "A2AAgentRejected",
        message=f"remote A2A agent {url}: {error}",
        non_retryable=not retryable,
        source=url,
    )
