"""The OpenAI-compatible model provider against a real local HTTP server: multi-step tool
calling, streamed chunks, retries, non-retryable errors and token usage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from aworld_client import (
    AgentSpec,
    LlmCallFinished,
    MessageCategory,
    MessageEmitted,
    ModelConfig,
    Payload,
    RetryPolicy,
    StreamingMode,
    Swarm,
    Task,
    TaskResponse,
    TaskStatus,
)
from aworld_client.handlers import tool
from aworld_server import Agent, InvalidArgument, Runners, Runtime
from aworld_server.agents.openai import OpenAIModel
from aworld_server.errors import HandlerFailed
from openai_server import COMPLETION_TOKENS, MODEL, PROMPT_TOKENS_PER_MESSAGE, ChatServer

QUESTION = "What is 1 + 2 + 3?"
ANSWER = "The sum is 6."


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _model(server: ChatServer, **overrides: Any) -> OpenAIModel:
    settings: dict[str, Any] = {"base_url": server.base_url, "api_key": server.api_key}
    return OpenAIModel(MODEL, **{**settings, **overrides})


def _task(spec: AgentSpec, **fields: Any) -> Task:
    return Task(input=Payload.from_text(QUESTION), swarm=Swarm(agents=[spec]), **fields)


async def _chunks(runtime: Runtime, task_id: str) -> list[str]:
    return [
        e.body.message.payload.value()
        async for e in runtime.stream(task_id, follow=False)
        if isinstance(e.body, MessageEmitted)
        and e.body.message is not None
        and e.body.message.category == MessageCategory.CHUNK
    ]


async def _llm_calls(runtime: Runtime, task_id: str) -> list[LlmCallFinished]:
    # Failed attempts are events of their own; a step's model call rides on its node.
    return [e.llm_call async for e in runtime.stream(task_id, follow=False) if e.llm_call]


def _expected_usage(requests: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """(prompt, completion) tokens the server reported over all its answers."""
    prompt = sum(PROMPT_TOKENS_PER_MESSAGE * len(r["messages"]) for r in requests)
    return prompt, COMPLETION_TOKENS * len(requests)


def _assert_usage(response: TaskResponse, server: ChatServer) -> None:
    prompt, completion = _expected_usage(server.requests)
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (prompt, completion)
    assert response.usage.total_tokens == prompt + completion
    assert response.usage.llm_calls == len(server.requests) == 3


async def test_a_tool_calling_agent_streams_its_answer_and_records_every_call(
    runtime: Runtime, chat_server: ChatServer
) -> None:
    async with _model(chat_server) as model:
        agent = Agent("assistant", model=model, tools=[add])
        messages = [
            m
            async for m in Runners.streaming_run(
                QUESTION, agent=agent, runtime=runtime, streaming_mode=StreamingMode.CHUNK
            )
        ]

    *chunks, last = messages
    assert last.payload.value()["status"] == "TASK_STATUS_SUCCEEDED"
    assert last.payload.value()["answer"]["json"] == f'"{ANSWER}"'
    assert [m.category for m in chunks] == [MessageCategory.CHUNK] * len(chunks)
    assert len(chunks) > 1 and "".join(m.payload.value() for m in chunks) == ANSWER

    trajectory = await runtime.trajectory(last.task_id)
    steps = [
        (
            [(c.name, c.arguments.value()) for c in item.action.tool_calls],
            [o.value() for o in item.reward.tool_outputs],
        )
        for item in trajectory
    ]
    assert steps == [
        ([("add", {"a": 1, "b": 2})], [3]),
        ([("add", {"a": 3, "b": 3})], [6]),
        ([], []),
    ]
    assert trajectory[-1].action.content == ANSWER

    first, second, third = chat_server.requests
    assert first["stream"] is True and first["stream_options"] == {"include_usage": True}
    assert first["tools"][0]["type"] == "function"
    assert first["tools"][0]["function"]["name"] == "add"
    assert set(first["tools"][0]["function"]["parameters"]["properties"]) == {"a", "b"}
    # The follow-up request carries the call and its result, linked by the server's call id.
    asked, answered = second["messages"][-2:]
    assert asked["role"] == "assistant"
    assert asked["tool_calls"][0]["id"] == "call_1"
    assert asked["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 1, "b": 2}'}
    assert answered == {"role": "tool", "tool_call_id": "call_1", "content": "3"}
    assert third["messages"][-1] == {"role": "tool", "tool_call_id": "call_2", "content": "6"}


async def test_a_language_neutral_task_uses_the_openai_provider_with_the_key_from_the_env(
    runtime: Runtime, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", chat_server.api_key)
    runtime.registry.add_tool(add)
    config = ModelConfig(provider="openai", base_url=chat_server.base_url, model=MODEL)
    task = _task(AgentSpec(name="assistant", tool_names=["add"], model=config))

    response = await runtime.run(task)

    assert response.status == TaskStatus.SUCCEEDED, response.failure
    assert response.answer is not None and response.answer.value() == ANSWER
    assert "".join(await _chunks(runtime, response.id)) == ANSWER
    assert [c.model for c in await _llm_calls(runtime, response.id)] == [MODEL] * 3
    _assert_usage(response, chat_server)


async def test_environment_fills_in_the_endpoint_and_a_key_in_the_task_is_refused(
    runtime: Runtime, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", chat_server.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.base_url)
    monkeypatch.setenv("OPENAI_MODEL", MODEL)
    runtime.registry.add_tool(add)
    task = _task(AgentSpec(name="a", tool_names=["add"], model=ModelConfig(provider="openai")))

    response = await runtime.run(task)
    assert response.answer is not None and response.answer.value() == ANSWER

    leaky = ModelConfig(provider="openai", options=Payload.of({"api_key": "sk-secret"}))
    with pytest.raises(InvalidArgument, match="must not travel in a task"):
        runtime.models.create(leaky)


async def test_without_streaming_the_answer_and_usage_are_the_same(
    runtime: Runtime, chat_server: ChatServer
) -> None:
    async with _model(chat_server, stream=False) as model:
        response = await Runners.run(
            QUESTION, agent=Agent("assistant", model=model, tools=[add]), runtime=runtime
        )

    assert response.answer is not None and response.answer.value() == ANSWER
    assert [r["stream"] for r in chat_server.requests] == [False] * 3
    assert "stream_options" not in chat_server.requests[0]
    assert await _chunks(runtime, response.id) == []
    _assert_usage(response, chat_server)


@pytest.mark.parametrize("statuses", [[500, 500], [429, 503]])
async def test_transient_server_errors_are_retried_and_the_task_succeeds(
    runtime: Runtime, chat_server: ChatServer, statuses: list[int]
) -> None:
    chat_server.fail_with = list(statuses)
    async with _model(chat_server) as model:
        agent = Agent("assistant", model=model, tools=[add])
        runtime.registry.add_agent(agent)
        policy = RetryPolicy(initial_interval=timedelta(milliseconds=1), maximum_attempts=3)
        response = await runtime.run(_task(agent.spec(), retry_policy=policy))

    assert response.status == TaskStatus.SUCCEEDED, response.failure
    assert response.answer is not None and response.answer.value() == ANSWER
    calls = await _llm_calls(runtime, response.id)
    assert [(c.attempt, c.failure is not None) for c in calls] == [
        (1, True),
        (2, True),
        (3, False),
        (1, False),
        (1, False),
    ]
    for call, status in zip(calls, statuses, strict=False):
        assert call.failure is not None and f"HTTP {status}" in call.failure.message
    assert len(chat_server.requests) == 5


@pytest.mark.parametrize(
    ("wrong_key", "fail_with", "failure_type"),
    [(True, [], "ModelUnauthenticated"), (False, [404], "ModelNotFound")],
)
async def test_a_rejected_request_fails_the_task_after_one_attempt(
    runtime: Runtime,
    chat_server: ChatServer,
    wrong_key: bool,
    fail_with: list[int],
    failure_type: str,
) -> None:
    chat_server.fail_with = fail_with
    api_key = "sk-wrong" if wrong_key else chat_server.api_key
    async with _model(chat_server, api_key=api_key) as model:
        agent = Agent("assistant", model=model, tools=[add])
        runtime.registry.add_agent(agent)
        policy = RetryPolicy(initial_interval=timedelta(milliseconds=1), maximum_attempts=5)
        response = await runtime.run(_task(agent.spec(), retry_policy=policy))

    assert response.status == TaskStatus.FAILED
    assert response.failure is not None and response.failure.type == failure_type
    assert response.failure.non_retryable
    calls = await _llm_calls(runtime, response.id)
    assert [(c.attempt, c.failure is not None) for c in calls] == [(1, True)]
    assert len(chat_server.requests) == 1


@pytest.mark.parametrize("stream", [True, False])
async def test_tool_arguments_that_are_not_json_are_kept_raw(
    chat_server: ChatServer, stream: bool
) -> None:
    chat_server.broken_arguments = True
    declaration = {"name": "add", "description": "", "parameters": {"type": "object"}}
    async with _model(chat_server, stream=stream) as model:
        response = await model.complete([{"role": "user", "content": "1 + 2"}], [declaration])

    (call,) = response.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_1", "add", {"_raw": "{a: 1, b: 2"})
    assert response.usage.total_tokens == PROMPT_TOKENS_PER_MESSAGE + COMPLETION_TOKENS


async def test_an_unreachable_endpoint_is_a_retryable_failure() -> None:
    server = ChatServer()
    await server.start()
    await server.stop()  # the port is now closed: connections are refused
    async with _model(server) as model:
        with pytest.raises(HandlerFailed) as caught:
            await model.complete([{"role": "user", "content": "1 + 2"}], [])

    assert caught.value.failure.type == "ModelConnectionError"
    assert not caught.value.failure.non_retryable
