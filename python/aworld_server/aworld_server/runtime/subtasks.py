"""Sub-tasks: an agent runs another agent of its swarm as a task of its own (AWorld's
task-as-tool), one at a time (``run_subtask``: the call returns the sub-task's answer) or as a
parallel group (``run_subtasks``: one sub-task per input, joined; the call returns every
outcome in order). Agents name these tools in ``tool_names`` like any other.

A sub-task is a real task: stored, streamed, resumable, with ``parent_task_id`` set. It gets
what is left of the parent's budgets (steps, tool calls, tokens) and its deadline, and its usage
counts against the parent. Cancelling the parent, or the parent ending, cancels its live
sub-tasks. Ids derive from the calling tool call, so a parent resumed from its log finds the
sub-tasks it started instead of starting them again. The parent's run-node tree shows one TASK
node per sub-task under the tool call that started it (a parallel group shares a ``group_id``;
GetTaskState lists the group), so ``aworld tasks state`` and the console show the nesting.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from aworld_client import (
    Budgets,
    Failure,
    Payload,
    RunNodeKind,
    RunNodeStatus,
    Swarm,
    Task,
    TaskConfig,
    TaskResponse,
    TaskStatus,
)
from aworld_client.handlers import HandlerFunction, tool

from aworld_server.context import Context
from aworld_server.errors import HandlerFailed, InvalidArgument
from aworld_server.runtime.executor import TaskExecutor
from aworld_server.runtime.gateway import CURRENT_CALL
from aworld_server.runtime.reader import TaskReader
from aworld_server.state import StateManager

__all__ = ["SubTasks"]

_NODE_STATUS = {
    TaskStatus.SUCCEEDED: RunNodeStatus.SUCCEEDED,
    TaskStatus.CANCELLED: RunNodeStatus.CANCELLED,
    TaskStatus.TIMED_OUT: RunNodeStatus.TIMED_OUT,
}


class SubTasks:
    """The two sub-task tools of one runtime."""

    def __init__(self, executor: TaskExecutor, reader: TaskReader, state: StateManager) -> None:
        self._executor = executor
        self._reader = reader
        self._state = state

    def tools(self) -> list[HandlerFunction[Any, Any]]:
        @tool(name="run_subtask", idempotent=True)
        async def run_subtask(agent: str, input: str, context: Context) -> str:
            """Run agent (of this swarm) on input as a sub-task and return its answer."""
            (response,) = await self._run(context, agent, [input], grouped=False)
            if response.status != TaskStatus.SUCCEEDED:
                raise HandlerFailed(_failure_of(response))
            return response.answer.as_text() if response.answer else ""

        @tool(name="run_subtasks", idempotent=True)
        async def run_subtasks(agent: str, inputs: list[str], context: Context) -> list[Any]:
            """Run agent (of this swarm) on each input as parallel sub-tasks; wait for all."""
            responses = await self._run(context, agent, inputs, grouped=True)
            return [_outcome(r) for r in responses]

        return [run_subtask, run_subtasks]

    async def _run(
        self, context: Context, agent: str, inputs: list[str], *, grouped: bool
    ) -> list[TaskResponse]:
        parent = await self._reader.submitted(context.task_id)
        call = CURRENT_CALL.get()
        if parent is None or call is None:
            raise InvalidArgument("sub-tasks can be started only by a task's tool call")
        spec = (
            next((a for a in parent.swarm.agents if a.name == agent), None)
            if parent.swarm
            else None
        )
        if spec is None:
            raise HandlerFailed(
                Failure(
                    type="UnknownAgent",
                    message=f"{agent!r} is not an agent of this task's swarm",
                    non_retryable=True,
                )
            )
        key = hashlib.sha256(call.key.encode()).hexdigest()[:24]
        group_id = f"group-{key}" if grouped else ""
        children = [
            self._child(parent, context, spec, text, f"{key}-{n}", group_id)
            for n, text in enumerate(inputs)
        ]
        nodes = [
            self._state.start(
                parent.id,
                RunNodeKind.TASK,
                child.id,
                parent_id=call.call_id,  # under the tool call that started it
                group_id=group_id,
                session_id=parent.session_id,
                node_id=f"task:{child.id}",
            )
            for child in children
        ]
        if grouped:
            self._state.group(parent.id, call.call_id, [n.id for n in nodes], group_id=group_id)
        runs = [
            self._one(parent.id, child, node.id, context)
            for child, node in zip(children, nodes, strict=True)
        ]
        responses = await asyncio.gather(*runs)
        if grouped:
            await self._state.join(group_id)
        return list(responses)

    def _child(
        self, parent: Task, context: Context, spec: Any, text: str, key: str, group_id: str
    ) -> Task:
        limits = (parent.conf.budgets if parent.conf else None) or Budgets()
        used = context.usage
        return Task(
            id=f"{parent.id}.{key}",
            name=f"{parent.name or 'task'} / {spec.name}",
            session_id=parent.session_id,
            user_id=parent.user_id,
            parent_task_id=parent.id,
            group_id=group_id,
            input=Payload.from_text(text),
            swarm=Swarm(agents=[spec]),
            conf=TaskConfig(
                execution_mode=(parent.conf or TaskConfig()).execution_mode,
                budgets=Budgets(
                    max_steps=max(limits.max_steps - used.steps, 1) if limits.max_steps else 0,
                    max_tool_calls=max(limits.max_tool_calls - used.tool_calls, 1)
                    if limits.max_tool_calls
                    else 0,
                    max_tokens=max(limits.max_tokens - used.total_tokens, 1)
                    if limits.max_tokens
                    else 0,
                    max_wall_time=limits.max_wall_time,
                ),
            ),
            retry_policy=parent.retry_policy,
            deadline=parent.deadline,
            headers=dict(parent.headers),  # the parent's identity and trace context
        )

    async def _one(
        self, parent_id: str, child: Task, node_id: str, context: Context
    ) -> TaskResponse:
        self._executor.adopt_child(parent_id, child.id)
        # Submitted with a request id from the call: a re-run of the parent finds it again.
        await self._executor.submit(child, request_id=f"subtask:{child.id}")
        response = await self._executor.wait(child.id)
        if response.usage is not None:
            context.usage.add(response.usage)
        status = _NODE_STATUS.get(response.status, RunNodeStatus.FAILED)
        self._state.finish(node_id, status, result=response.answer, failure=response.failure)
        return response


def _failure_of(response: TaskResponse) -> Failure:
    failure = response.failure or Failure(type=response.status.name, message="sub-task ended")
    return Failure(
        type=failure.type,
        message=f"sub-task {response.id}: {failure.message}",
        non_retryable=True,
        source="subtask",
    )


def _outcome(response: TaskResponse) -> dict[str, Any]:
    outcome: dict[str, Any] = {"task_id": response.id, "status": response.status.aworld_name}
    if response.status == TaskStatus.SUCCEEDED:
        outcome["answer"] = response.answer.as_text() if response.answer else ""
    else:
        failure = _failure_of(response)
        outcome["error"] = {"type": failure.type, "message": failure.message}
    return outcome
