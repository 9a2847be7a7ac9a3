"""Tool calls of one run: hooks and permission, attempts under the retry policy with their
events and run node, and — when resuming — calls rebuilt from the log or continued.

What the log promises about a call (see ``task_log``): its ``ToolCallStarted`` is on disk
before the tool runs, so after a crash an attempt without a finish "may have run", and only an
idempotent tool runs again (else the call fails with OutcomeUnknown).

A call's TOOL node rides on its call's events: ``ToolCallStarted`` records it RUNNING, and the
last ``ToolCallFinished`` records it ended — two events for a local call that succeeds at once,
where there were four. When after_tool_call / tool_call_failed hooks run, the outcome is
written before them (they may wait long) and the node's end after them, on its own. A
call that asks a human first records its node before the question, a remote one before it waits
for a worker; a denied one records it once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aworld_client import (
    Failure,
    HandlerKind,
    InputRequested,
    Payload,
    PermissionDecision,
    RetryPolicy,
    RunNode,
    RunNodeKind,
    RunNodeStatus,
    ToolCallFinished,
    ToolCallStarted,
    ToolErrorPolicy,
)
from aworld_client.handlers import Pending

from aworld_server.agents.model import ToolCallRequest
from aworld_server.agents.topology import RunTools, ToolResult
from aworld_server.dispatch import HandlerCall
from aworld_server.errors import TaskFailed
from aworld_server.hooks import HookOutcome
from aworld_server.observability import span, within
from aworld_server.retry import failure_of, retry_async
from aworld_server.runners.callback_wait import CallbackWaits
from aworld_server.runners.permission import ask_human
from aworld_server.runners.replay import RecordedCall
from aworld_server.runners.run_state import RunState

__all__ = ["ToolCalls"]

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class _Call:
    """One logical tool call being executed, and where its attempt numbers continue from.

    ``awaiting``: resumed while an attempt waited on a callback — the first attempt waits for
    that callback again (it *is* attempt ``after_attempt``) instead of invoking the tool.
    ``outcome_unknown``: resumed after an attempt was sent and never answered — the first
    attempt runs only if the tool is idempotent. ``failed_before``: attempts the log records as
    failed, which the retry budget has already paid for."""

    agent: str
    request: ToolCallRequest
    node_id: str
    after_attempt: int = 0
    awaiting: InputRequested | None = None
    outcome_unknown: bool = False
    failed_before: int = 0

    def number(self, n: int) -> int:
        """The attempt number recorded for the n-th try of this execution."""
        return self.after_attempt + n - (1 if self.awaiting is not None else 0)


@dataclass(slots=True, frozen=True)
class _Recorded:
    """A call's TOOL node id and what the log being replayed holds of it, if anything."""

    node_id: str
    finished: RunNode | None = None
    open: RecordedCall | None = None


class ToolCalls:
    """Tool calls of one run."""

    def __init__(self, run: RunState, waits: CallbackWaits) -> None:
        self._run = run
        self._waits = waits
        self._node_ids: set[str] = set()

    async def run(self, action: RunTools) -> list[ToolResult]:
        """Run the calls concurrently; results come back in call order."""
        run = self._run
        parent = run.current_agent_node or run.root
        assert parent is not None
        calls = action.calls
        # What the log knows of each call, looked up for all of them before any goes live:
        # the first call to go live ends the replay, and a later call of the same batch must
        # still find its recorded outcome (it may have finished).
        plans = [self._plan(call) for call in calls]
        # Tool spans are children of the step that asked for them (task -> step -> tool).
        with within(run.current_step_span):
            if len(calls) == 1:
                return [await self._one(action.agent, parent.id, calls[0], plans[0])]
            return list(
                await asyncio.gather(
                    *(
                        self._one(action.agent, parent.id, c, plan)
                        for c, plan in zip(calls, plans, strict=True)
                    )
                )
            )

    def _plan(self, call: ToolCallRequest) -> _Recorded:
        node_id = self._node_id(call)
        replay = self._run.replay
        if replay is None:
            return _Recorded(node_id)
        return _Recorded(node_id, replay.finished_call(node_id), replay.open_call(node_id))

    async def _one(
        self, agent: str, parent_id: str, call: ToolCallRequest, plan: _Recorded
    ) -> ToolResult:
        self._run.tools_in_flight += 1
        try:
            return await self._start(agent, parent_id, call, plan)
        finally:
            self._run.tools_in_flight -= 1

    def _node_id(self, call: ToolCallRequest) -> str:
        """The TOOL node of a call is named after the call id (unique within the task), which
        is how a replay finds a call's outcome."""
        node_id = call.id
        n = 1
        while node_id in self._node_ids:
            n += 1
            node_id = f"{call.id}~{n}"
        self._node_ids.add(node_id)
        return node_id

    async def _start(
        self, agent: str, parent_id: str, call: ToolCallRequest, plan: _Recorded
    ) -> ToolResult:
        run = self._run
        run.limits.before_tool_call(run.usage)
        run.usage.tool_calls += 1
        node_id = plan.node_id
        if plan.finished is not None:
            return self._replayed(call, plan.finished)
        if plan.open is not None:
            run.go_live()
            return await self._resume(agent, call, plan.open)
        run.go_live()
        node = run.ctx.state.start(
            run.task_id,
            RunNodeKind.TOOL,
            call.name,
            parent_id=parent_id,
            session_id=run.task.session_id,
            node_id=node_id,
            deferred=True,
        )
        outcome = await run.hooks.fire(
            "before_tool_call",
            agent=agent,
            tool_name=call.name,
            arguments=call.arguments,
            call_id=call.id,
        )
        if outcome.asks:
            outcome = await self._ask_permission(agent, call, node.id, outcome)
        if outcome.denied:
            return self._deny(call, node.id, outcome)
        if isinstance(outcome.updated_input, dict):
            call.arguments = outcome.updated_input
        return await self._execute(_Call(agent, call, node.id))

    async def _resume(
        self, agent: str, call: ToolCallRequest, recorded: RecordedCall
    ) -> ToolResult:
        """Continue a call the log shows started but unfinished: wait for its callback again,
        or (the process died mid-call) run it again as the next attempt."""
        node = self._run.ctx.state.adopt(recorded.node)
        if recorded.arguments is not None:  # as sent: after any hook's updated_input
            call.arguments = recorded.arguments
        callback = recorded.callback
        if callback is not None and callback.kind == "permission" and recorded.attempts > 0:
            callback = None  # allowed, then sent: what is open is the attempt, not the question
        if callback is not None and callback.kind == "permission":
            outcome = await self._ask_permission(
                agent,
                call,
                node.id,
                HookOutcome(decision=PermissionDecision.ASK),
                callback_id=callback.callback_id,
            )
            if outcome.denied:
                return self._deny(call, node.id, outcome)
            return await self._execute(
                _Call(agent, call, node.id, recorded.attempts, failed_before=recorded.failed)
            )
        if callback is not None:
            return await self._execute(
                _Call(
                    agent,
                    call,
                    recorded.node.id,
                    recorded.attempts,
                    awaiting=callback,
                    failed_before=recorded.failed,
                )
            )
        return await self._execute(
            _Call(
                agent,
                call,
                recorded.node.id,
                recorded.attempts,
                outcome_unknown=recorded.in_flight,
                failed_before=recorded.failed,
            )
        )

    async def _execute(self, call: _Call) -> ToolResult:
        """Attempts of one tool call under its retry policy, then its outcome and hooks."""
        run = self._run
        request = call.request
        last: list[ToolCallFinished] = []  # the record of the attempt that ends the call

        async def attempt(n: int) -> Any:
            with span(
                "tool_call", tool=request.name, call_id=request.id, attempt=n, task_id=run.task_id
            ):
                log.debug("tool call %s (%s) attempt %d", request.name, request.id, n)
                return await self._attempt(call, n, last)

        async def failed(n: int, error: BaseException, will_retry: bool) -> None:
            finished = ToolCallFinished(
                call_id=request.id,
                tool_name=request.name,
                attempt=call.number(n),
                will_retry=will_retry,
                failure=_failure(error, request.name),
            )
            if will_retry:
                run.log.emit_nowait(finished)
            else:  # ends the call: written with its node, after the tool_call_failed hooks
                last[:] = [finished]

        try:
            output = await retry_async(
                attempt,
                self._retry_policy(request.name),
                on_failure=failed,
                failed_before=call.failed_before,
            )
        except Exception as error:
            failure = _failure(error, request.name)
            self._outcome_before_hooks("tool_call_failed", last)
            try:
                await run.hooks.fire(
                    "tool_call_failed",
                    agent=call.agent,
                    tool_name=request.name,
                    error={"type": failure.type, "message": failure.message},
                )
            finally:
                self._end(call.node_id, last, RunNodeStatus.FAILED, failure=failure)
            if run.conf.tool_error_policy == ToolErrorPolicy.FAIL_TASK:
                raise TaskFailed(failure) from error
            return ToolResult(request.id, request.name, failure=failure)
        self._outcome_before_hooks("after_tool_call", last)
        try:
            outcome = await run.hooks.fire(
                "after_tool_call",
                agent=call.agent,
                tool_name=request.name,
                arguments=request.arguments,
                output=output,
            )
        except BaseException:
            # A hook that fails the task (or a cancel) still leaves the attempt's outcome in
            # the log; the node is closed with the task.
            if last:
                run.log.emit_nowait(last[0])
            raise
        if outcome.updated_output is not None:
            output = outcome.updated_output
        run.last_tool_output = output if isinstance(output, str) else json.dumps(output)
        self._end(call.node_id, last, RunNodeStatus.SUCCEEDED, result=Payload.of(output))
        return ToolResult(request.id, request.name, output=output)

    def _outcome_before_hooks(self, point: str, last: list[ToolCallFinished]) -> None:
        """The attempt's outcome goes to the log now when hooks run at ``point``: they may take
        long (a remote hook, a human's answer) and a crash meanwhile must find the tool done,
        not "maybe run". The node then ends with an event of its own; with no hooks there it
        rides on the outcome (two events per call, not three)."""
        if last and self._run.hooks.names(point):
            self._run.log.emit_nowait(last.pop())

    def _end(
        self,
        node_id: str,
        last: list[ToolCallFinished],
        status: RunNodeStatus,
        *,
        result: Payload | None = None,
        failure: Failure | None = None,
    ) -> None:
        """Finish the call's node, recorded by the last attempt's ToolCallFinished (or by a
        RunNodeChanged of its own when no attempt ended it, e.g. a hook's failure)."""
        nodes = self._run.ctx.state
        if not last:
            nodes.finish(node_id, status, result=result, failure=failure)
            return
        finished = last.pop()
        finished.node = nodes.finish(node_id, status, result=result, failure=failure, emit=False)
        self._run.log.emit_nowait(finished)

    async def _attempt(self, call: _Call, n: int, last: list[ToolCallFinished]) -> Any:
        """The n-th try: wait for the resumed callback, or invoke the tool (recording its
        start once a worker is chosen, on disk before it runs); then keep the record of its
        outcome in ``last`` (written with the call's end)."""
        run = self._run
        request = call.request
        number = call.number(n)
        started = time.perf_counter()
        if call.awaiting is not None and n == 1:
            awaiting = call.awaiting
            output: Any = await self._waits.wait(
                awaiting.kind, None, call.node_id, awaiting.callback_id, announce=False
            )
        else:

            async def record_start(worker_id: str) -> None:
                run.log.emit_nowait(
                    ToolCallStarted(
                        call_id=request.id,
                        tool_name=request.name,
                        arguments=Payload.of(request.arguments),
                        attempt=number,
                        caller=call.agent,
                        node_id=call.node_id,
                        worker_id=worker_id,
                        # The node's RUNNING change, unless already recorded.
                        node=run.ctx.state.take_start(call.node_id),
                    )
                )
                await run.log.barrier()  # a started attempt in the log may have had effects

            if run.ctx.registry.tools.get(request.name) is None:
                # A remote call may wait for a worker to connect (schedule-to-start) before it
                # starts: its node shows it running meanwhile. A local tool starts at once.
                run.ctx.state.record(call.node_id)
            attempt = HandlerCall(
                name=request.name,
                kind=HandlerKind.TOOL,
                arguments=request.arguments,
                call_id=request.id,
                attempt=number,
                task=run.task,
                on_start=record_start,
                # The resumed call's last attempt may have run: only idempotent tools again.
                require_idempotent=call.outcome_unknown and n == 1,
            )
            output = await run.ctx.handlers.invoke(attempt, run.context)
            if isinstance(output, Pending):
                output = await self._waits.wait(
                    "tool_callback", output.prompt, call.node_id, output.callback_id
                )
        run.snapshot(if_changed=True)  # persisted with the call's outcome
        # Written with the call's end (see _end), not awaited: the next side effect flushes
        # first (barrier), and the run's next message or end waits for it, so the outcome is
        # on disk before it matters.
        last[:] = [
            ToolCallFinished(
                call_id=request.id,
                tool_name=request.name,
                attempt=number,
                result=Payload.of(output),
                duration=timedelta(seconds=time.perf_counter() - started),
            )
        ]
        return output

    def _deny(self, call: ToolCallRequest, node_id: str, outcome: HookOutcome) -> ToolResult:
        failure = Failure(
            type="PermissionDenied",
            non_retryable=True,
            message=outcome.reason or f"{call.name} was denied by a hook",
        )
        self._run.ctx.state.finish(node_id, RunNodeStatus.BREAKED, failure=failure)
        return ToolResult(call.id, call.name, failure=failure)

    def _replayed(self, call: ToolCallRequest, node: RunNode) -> ToolResult:
        """A finished call rebuilt from its recorded TOOL node."""
        if node.failure is not None or node.status != RunNodeStatus.SUCCEEDED:
            failure = node.failure or Failure(type=node.status.name, message="tool call ended")
            return ToolResult(call.id, call.name, failure=failure)
        output = node.result.value() if node.result is not None else None
        self._run.last_tool_output = output if isinstance(output, str) else json.dumps(output)
        return ToolResult(call.id, call.name, output=output)

    async def _ask_permission(
        self,
        agent: str,
        call: ToolCallRequest,
        node_id: str,
        outcome: HookOutcome,
        *,
        callback_id: str = "",
    ) -> HookOutcome:
        """A hook answered "ask": a human decides through ProvideInput ("allow" / "deny")."""
        return await ask_human(
            self._waits,
            self._run.log,
            point="before_tool_call",
            what=call.name,
            prompt={"tool_name": call.name, "arguments": call.arguments, "agent": agent},
            node_id=node_id,
            outcome=outcome,
            callback_id=callback_id,
            announce=not callback_id,
        )

    def _retry_policy(self, name: str) -> RetryPolicy | None:
        run = self._run
        spec = run.ctx.handlers.tool_spec(name, run.task)
        return (spec.retry_policy if spec and spec.retry_policy else None) or run.task.retry_policy


def _failure(error: BaseException, source: str) -> Failure:
    failure = failure_of(error)
    failure.source = failure.source or source
    return failure
