"""Callbacks and human-in-the-loop: waiting tasks hold no thread and resume correctly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from aworld_client import (
    Failure,
    HookDecided,
    InputRequested,
    Payload,
    PermissionDecision,
    Task,
    TaskStatus,
)
from aworld_client.handlers import Pending, hook, tool
from aworld_server import Runtime
from aworld_server.errors import FailedPrecondition, NotFound

ASK_THEN_ANSWER = [
    {"tool_calls": [{"name": "approve", "arguments": {"amount": 5}}]},
    {"content": "approved: {last_tool_output}"},
]


@tool
def approve(amount: int) -> Pending:
    """Ask a human to approve an amount."""
    return Pending(prompt={"question": f"approve {amount}?"})


async def _requested(runtime: Runtime, task_id: str) -> InputRequested:
    async for event in runtime.stream(task_id):
        if isinstance(event.body, InputRequested):
            return event.body
    raise AssertionError("the task ended without asking")


def _approval_task(make_task: Callable[..., Task], n: int = 0) -> Task:
    task = make_task(ASK_THEN_ANSWER, input=f"request {n}")
    task.swarm.agents[0].tool_names = ["approve"]
    return task


async def test_task_waits_in_input_required_and_resumes_with_the_value(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    runtime.registry.add_tool(approve)
    submitted = await runtime.submit(_approval_task(make_task))
    requested = await _requested(runtime, submitted.task_id)

    assert requested.kind == "tool_callback"
    assert requested.prompt.value() == {"question": "approve 5?"}
    assert (await runtime.get_task(submitted.task_id)).response.status == TaskStatus.INPUT_REQUIRED

    await runtime.complete_callback(submitted.task_id, requested.callback_id, Payload.of("yes"))
    response = await runtime.wait(submitted.task_id)
    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.value() == "approved: yes"

    with pytest.raises(NotFound):
        await runtime.complete_callback(submitted.task_id, requested.callback_id, Payload.of(1))


async def test_100_waiting_tasks_hold_no_thread_and_each_resumes_with_its_own_value(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    runtime.registry.add_tool(approve)
    # `approve` is sync, so it ran in a worker thread; waiting must not keep any thread busy.
    threads_before = threading.active_count()
    submitted = [await runtime.submit(_approval_task(make_task, n)) for n in range(100)]
    requests = await asyncio.gather(*(_requested(runtime, s.task_id) for s in submitted))

    busy = [t for t in threading.enumerate() if t.name.startswith("asyncio_")]
    assert threading.active_count() <= threads_before + 8  # at most the default thread pool
    assert len(busy) <= 8
    statuses = {(await runtime.get_task(s.task_id)).response.status for s in submitted}
    assert statuses == {TaskStatus.INPUT_REQUIRED}

    # Complete them in reverse order with distinct values.
    for n in reversed(range(100)):
        await runtime.complete_callback(
            submitted[n].task_id, requests[n].callback_id, Payload.of(f"ok-{n}")
        )
    responses = await asyncio.gather(*(runtime.wait(s.task_id) for s in submitted))
    assert [r.answer.value() for r in responses] == [f"approved: ok-{n}" for n in range(100)]


async def test_a_failed_callback_is_an_error_observation(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    runtime.registry.add_tool(approve)
    submitted = await runtime.submit(_approval_task(make_task))
    requested = await _requested(runtime, submitted.task_id)
    await runtime.complete_callback(
        submitted.task_id,
        requested.callback_id,
        failure=Failure(type="Rejected", message="manager said no"),
    )
    response = await runtime.wait(submitted.task_id)
    assert response.status == TaskStatus.SUCCEEDED
    assert "manager said no" in response.answer.value()


async def test_completing_twice_at_once_delivers_once(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    runtime.registry.add_tool(approve)
    submitted = await runtime.submit(_approval_task(make_task))
    requested = await _requested(runtime, submitted.task_id)
    results = await asyncio.gather(
        runtime.complete_callback(submitted.task_id, requested.callback_id, Payload.of("a")),
        runtime.complete_callback(submitted.task_id, requested.callback_id, Payload.of("b")),
        return_exceptions=True,
    )
    assert sum(isinstance(r, FailedPrecondition) for r in results) == 1
    assert (await runtime.wait(submitted.task_id)).answer.value() == "approved: a"


@pytest.mark.parametrize(("answer", "allowed"), [("allow", True), ("deny", False)])
async def test_ask_permission_goes_through_a_human(
    runtime: Runtime, make_task: Callable[..., Task], answer: str, allowed: bool
) -> None:
    @hook("before_tool_call")
    def ask_for_big_sums(arguments: dict[str, int]) -> dict[str, str]:
        return {"permission_decision": "ask", "permission_decision_reason": "big sum"}

    runtime.registry.add_hook(ask_for_big_sums)
    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1000, "b": 1}}]},
        {"content": "got {last_tool_output}"},
    ]
    task = make_task(script, hooks={"before_tool_call": ["ask_for_big_sums"]})
    submitted = await runtime.submit(task)
    requested = await _requested(runtime, submitted.task_id)
    assert requested.kind == "permission"
    assert requested.prompt.value()["tool_name"] == "add"

    await runtime.provide_input(submitted.task_id, requested.callback_id, Payload.of(answer))
    response = await runtime.wait(submitted.task_id)

    assert (response.answer.value() == "got 1001") is allowed
    decisions = [
        e.body
        async for e in runtime.stream(submitted.task_id, follow=False)
        if isinstance(e.body, HookDecided)
    ]
    assert [d.decision for d in decisions] == [
        PermissionDecision.ASK,
        PermissionDecision.ALLOW if allowed else PermissionDecision.DENY,
    ]
