"""What every runner does for one task: agent steps and tool calls with their events, run
nodes, hooks, retries and budgets. Runners differ only in how actions reach these primitives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aworld_client import (
    Budgets,
    Failure,
    HookDecided,
    InputRequested,
    LlmCallFinished,
    Message,
    MessageCategory,
    MessageEmitted,
    Payload,
    PermissionDecision,
    RunNode,
    RunNodeKind,
    RunNodeStatus,
    Task,
    TaskConfig,
    TaskStatus,
    ToolCallFinished,
    ToolCallStarted,
    ToolErrorPolicy,
    Usage,
)
from aworld_client.handlers import Pending
from opentelemetry import trace

from aworld_server.agents.agent import Agent
from aworld_server.agents.model import ModelResponse, ToolCallRequest
from aworld_server.agents.topology import (
    Finish,
    RunAgent,
    RunTools,
    SwarmController,
    ToolResult,
    ToolResults,
)
from aworld_server.context import AgentState, Context
from aworld_server.hooks import HookOutcome, HookRunner
from aworld_server.ids import new_id
from aworld_server.observability import span, within
from aworld_server.retry import HandlerFailed, failure_of, retry_async
from aworld_server.runners.replay import CONTEXT_TOPIC, RecordedCall, Replay
from aworld_server.runners.stepping import StepGate

if TYPE_CHECKING:
    from aworld_server.runtime import Runtime

__all__ = ["DEFAULT_MAX_STEPS", "BudgetExhausted", "TaskExecution", "TaskFailed", "TaskParked"]

DEFAULT_MAX_STEPS = 100

log = logging.getLogger(__name__)


class BudgetExhausted(Exception):
    """A budget ran out; the task ends INTERRUPTED with its best partial answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TaskParked(BaseException):
    """The run waits on callbacks and was dropped from memory; the log holds all of it.

    A BaseException, like CancelledError, so no ``except Exception`` (retries, error
    observations) mistakes leaving memory for a failure."""

    def __init__(self, callback_ids: list[str]) -> None:
        super().__init__(f"parked on {callback_ids}")
        self.callback_ids = callback_ids


class TaskFailed(Exception):
    """The task cannot go on (a tool failed under FAIL_TASK, a model kept failing, ...)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(slots=True)
class _Limits:
    max_steps: int
    max_tool_calls: int
    max_tokens: int
    max_wall_time: timedelta | None

    @classmethod
    def of(cls, budgets: Budgets | None) -> _Limits:
        b = budgets or Budgets()
        return cls(
            b.max_steps or DEFAULT_MAX_STEPS, b.max_tool_calls, b.max_tokens, b.max_wall_time
        )


class TaskExecution:
    """The shared machinery of one task run."""

    def __init__(self, runtime: Runtime, task: Task, context: Context) -> None:
        self.runtime = runtime
        self.task = task
        self.context = context
        self.conf = task.conf or TaskConfig()
        self.limits = _Limits.of(self.conf.budgets)
        self.hooks = HookRunner(runtime, task, context)
        self.controller = SwarmController(task.swarm) if task.swarm is not None else None
        self.root: RunNode | None = None
        self.current_agent_node: RunNode | None = None
        self.current_step_span: trace.Span = trace.INVALID_SPAN
        self.replay: Replay | None = None
        # A run may be parked (dropped from memory while it waits on a callback) only if it can
        # be rebuilt by replay: the built-in runners, not interactive ones.
        self.parkable = False
        self._waiting = 0
        self._tools_in_flight = 0
        self._tool_node_ids: set[str] = set()
        self._recorded_answers: dict[str, tuple[Any, Failure | None]] = {}
        self._snapshot_session: dict[str, Any] = {}
        self.last_content = ""
        self.last_tool_output = ""
        self._agents: dict[str, Agent] = {}

    @property
    def task_id(self) -> str:
        return self.task.id

    @property
    def usage(self) -> Usage:
        return self.context.usage

    def best_answer(self) -> str:
        """The final answer if any agent gave one, else the latest partial result."""
        if self.controller is not None and self.controller.last_answer:
            return self.controller.last_answer
        return self.last_content or self.last_tool_output

    # -- agents ---------------------------------------------------------------------------
    def agent(self, name: str) -> Agent:
        """The agent object for a swarm member: registered locally, or built from its spec."""
        agent = self._agents.get(name)
        if agent is not None:
            return agent
        agent = self.runtime.registry.agents.get(name)
        if agent is None:
            assert self.controller is not None
            spec = self.controller.agents[name]
            agent = Agent(
                spec.name,
                model_config=spec.model,
                system_prompt=spec.system_prompt,
                description=spec.description,
                tools=list(spec.tool_names),
                handoffs=list(spec.handoffs),
            )
            agent.model = (
                self.runtime.models.a2a.model(spec.a2a_url)  # a remote A2A agent's policy
                if spec.a2a_url
                else self.runtime.models.create(spec.model)
            )
        self._agents[name] = agent
        return agent

    def tool_declarations(self, agent: Agent) -> list[dict[str, Any]]:
        """Function declarations the agent's model sees: its tools and callable agents."""
        import json

        declarations: list[dict[str, Any]] = []
        for name in [*agent.tool_names, *self.task.tool_names]:
            spec = self.runtime.tool_spec(name, self.task)
            schema = json.loads(spec.input_schema) if spec and spec.input_schema else {}
            declarations.append(
                {
                    "name": name,
                    "description": spec.description if spec else "",
                    "parameters": schema or {"type": "object"},
                }
            )
        assert self.controller is not None
        for member in self.controller.callable_agents(agent.name):
            declarations.append(
                {
                    "name": member,
                    "description": self.controller.agents[member].description,
                    "parameters": {
                        "type": "object",
                        "properties": {"input": {"type": "string"}},
                        "required": ["input"],
                    },
                }
            )
        return declarations

    async def agent_step(self, action: RunAgent) -> ModelResponse:
        """One policy step of ``action.agent`` on its observation."""
        if self.usage.steps >= self.limits.max_steps:
            raise BudgetExhausted("max_steps")
        if self.limits.max_tokens and self.usage.total_tokens >= self.limits.max_tokens:
            raise BudgetExhausted("max_tokens")
        gate = self.runtime.stepping.get(self.task_id)
        if gate is not None:
            await gate.acquire()
        agent = self.agent(action.agent)
        state = self.context.agent(agent.name)
        observation = action.observation
        if isinstance(observation, ToolResults):
            for result in observation.results:
                state.messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": result.call_id,
                        "name": result.name,
                        "content": result.as_text(),
                    }
                )
        else:
            state.messages.append({"role": "user", "content": observation.content})
        self.usage.steps += 1
        state.steps += 1
        recorded = self.replay.next_step(agent.name) if self.replay is not None else None
        if recorded is not None:
            self.current_step_span = trace.INVALID_SPAN  # replayed: its span was exported before
            return self._replayed_step(state, *recorded)
        self.go_live()
        assert self.root is not None
        # The step's span covers its decision (model call, hooks); the tool calls it asks for
        # run later, from run_tools, and are made its children there.
        with span(
            "agent_step", agent=agent.name, step=state.steps, task_id=self.task_id
        ) as step_span:
            response = await self._live_step(agent, state, gate)
            self.current_step_span = step_span
            return response

    async def _live_step(
        self, agent: Agent, state: AgentState, gate: StepGate | None
    ) -> ModelResponse:
        assert self.root is not None
        node = self.runtime.state.start(
            self.task_id,
            RunNodeKind.AGENT,
            agent.name,
            parent_id=self.root.id,
            session_id=self.task.session_id,
        )
        if state.steps == 1:
            await self.hooks.fire("agent_started", agent=agent.name)
        try:
            response = await self._call_model(agent, state.messages)
        except Exception as error:
            # Cancellation leaves the node open: a shutdown resumes it, and a task that ends
            # any other way closes its open nodes in post_run.
            self.runtime.state.finish(node.id, RunNodeStatus.FAILED, failure=failure_of(error))
            raise
        state.messages.append(_assistant_message(response))
        if response.content:
            self.last_content = response.content
        decision = {
            "content": response.content,
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls
            ],
        }
        self.runtime.state.finish(node.id, RunNodeStatus.SUCCEEDED, result=Payload.of(decision))
        if not response.tool_calls:
            await self.hooks.fire("agent_stopped", agent=agent.name, output=response.content)
        self.current_agent_node = node
        if gate is not None:
            gate.stepped(response.content or _json(decision["tool_calls"]))
        return response

    def _replayed_step(
        self, state: AgentState, decision: dict[str, Any], usage: Usage
    ) -> ModelResponse:
        """An agent step rebuilt from the log: same conversation, no model call, no events."""
        response = ModelResponse(
            content=str(decision.get("content", "")),
            tool_calls=[
                ToolCallRequest(name=c["name"], arguments=c.get("arguments", {}), id=c["id"])
                for c in decision.get("tool_calls", [])
            ],
            usage=usage,
        )
        self.usage.add(usage)
        state.messages.append(_assistant_message(response))
        if response.content:
            self.last_content = response.content
        return response

    def go_live(self) -> None:
        """Leave replay: restore the last context snapshot and write events again."""
        replay = self.replay
        if replay is None:
            return
        self.replay = None
        self._recorded_answers = dict(replay.answers)
        if replay.snapshot is not None:
            for key, value in replay.snapshot.values.items():
                self.context[key] = value
            self.context.session.update(replay.snapshot.session)
        self.hooks.muted = False
        self.runtime.events.unmute(self.task_id)

    def tool_node_id(self, call: ToolCallRequest) -> str:
        """The TOOL node of a call is named after the call id (unique within the task), which
        is how a replay finds a call's outcome."""
        node_id = call.id
        n = 1
        while node_id in self._tool_node_ids:
            n += 1
            node_id = f"{call.id}~{n}"
        self._tool_node_ids.add(node_id)
        return node_id

    async def _call_model(self, agent: Agent, messages: list[dict[str, Any]]) -> ModelResponse:
        tools = self.tool_declarations(agent)
        outcome = await self.hooks.fire("before_llm_call", agent=agent.name, messages=messages)
        if outcome.denied:
            raise TaskFailed(
                Failure(type="PermissionDenied", message=outcome.reason, non_retryable=True)
            )

        async def chunk(text: str) -> None:
            await self.runtime.events.emit_message(
                chunk_message(self.task, agent.name, text), publish=False
            )

        async def attempt(n: int) -> ModelResponse:
            started = time.perf_counter()
            with span("llm_call", agent=agent.name, attempt=n, task_id=self.task_id):
                response = await agent.decide(self.context.agent(agent.name), tools, on_chunk=chunk)
            self.runtime.events.emit_nowait(
                self.task_id,
                LlmCallFinished(
                    agent=agent.name,
                    model=response.model,
                    usage=response.usage,
                    attempt=n,
                    duration=timedelta(seconds=time.perf_counter() - started),
                ),
            )
            return response

        async def failed(n: int, error: BaseException, will_retry: bool) -> None:
            self.runtime.events.emit_nowait(
                self.task_id,
                LlmCallFinished(
                    agent=agent.name,
                    failure=failure_of(error),
                    attempt=n,
                ),
            )

        try:
            response = await retry_async(attempt, self.task.retry_policy, on_failure=failed)
        except HandlerFailed as error:
            raise TaskFailed(error.failure) from error
        self.usage.add(response.usage)
        outcome = await self.hooks.fire("after_llm_call", agent=agent.name, output=response.content)
        if outcome.updated_output is not None:
            response.content = str(outcome.updated_output)
        return response

    async def await_callback(
        self,
        kind: str,
        prompt: Any,
        node_id: str,
        callback_id: str = "",
        *,
        announce: bool = True,
    ) -> Any:
        """Wait — holding no thread — until the callback is completed; return its value.

        The task is INPUT_REQUIRED while any of its callbacks is pending. A completion that
        carries a failure raises it (non-retryable: the answer was given, not lost).
        """
        callback_id = callback_id or new_id()
        answered = self._recorded_answers.pop(callback_id, None)
        if answered is not None:  # resumed after the answer arrived: it is in the log already
            await self.runtime.set_status(self.task_id, TaskStatus.RUNNING, "input_provided")
            return self._answer(*answered)
        waiting = self.runtime.callbacks.expect(self.task_id, callback_id)
        self._waiting += 1
        if announce:
            if self._waiting == 1:  # the status is recorded before the request clients see
                await self.runtime.set_status(self.task_id, TaskStatus.INPUT_REQUIRED, kind)
            await self.runtime.events.emit(
                self.task_id,
                InputRequested(
                    callback_id=callback_id,
                    prompt=Payload.of(prompt) if prompt is not None else None,
                    kind=kind,
                    node_id=node_id,
                ),
            )
        if (
            self.parkable
            and self._waiting == 1
            and self._tools_in_flight <= 1
            and self.runtime.callbacks.try_park(callback_id)
        ):
            # Nothing else runs and the answer has not arrived: drop the whole run from
            # memory until it does. No await from here on, so no answer can slip in between.
            self._snapshot_context()
            raise TaskParked([callback_id])
        try:
            value, failure = await waiting
        finally:
            self.runtime.callbacks.forget(callback_id)
            self._waiting -= 1
        if self._waiting == 0:
            await self.runtime.set_status(self.task_id, TaskStatus.RUNNING, "input_provided")
        return self._answer(value, failure)

    @staticmethod
    def _answer(value: Any, failure: Failure | None) -> Any:
        if failure is not None:
            failure.non_retryable = True  # the answer was given, not lost: never ask again
            raise HandlerFailed(failure)
        return value

    def _snapshot_context(self, *, if_changed: bool = False) -> None:
        """Record task and session key-values, which a replay cannot rebuild (tools are not
        re-run), so a resumed run starts from them."""
        values, session = self.context.local_changes, self.context.session
        if not values and not session:
            return
        if if_changed and not self.context.dirty and session == self._snapshot_session:
            return
        self.context.dirty = False
        self._snapshot_session = dict(session)
        message = Message(
            id=new_id(),
            task_id=self.task_id,
            session_id=self.task.session_id,
            category=MessageCategory.CONTEXT,
            topic=CONTEXT_TOPIC,
            sender="runtime",
            payload=Payload.of({"values": dict(values), "session": session}),
            created_at=datetime.now(UTC),
        )
        self.runtime.events.emit_nowait(self.task_id, MessageEmitted(message=message))

    async def finish(self, action: Finish) -> Finish:
        """The final answer after ``output_process`` hooks had their say."""
        outcome = await self.hooks.fire("output_process", agent=action.agent, output=action.answer)
        if outcome.updated_output is not None:
            value = outcome.updated_output
            action = Finish(value if isinstance(value, str) else _json(value), action.agent)
        return action

    # -- tools ----------------------------------------------------------------------------
    async def run_tools(self, action: RunTools) -> list[ToolResult]:
        """Run the calls concurrently; results come back in call order."""
        parent = self.current_agent_node or self.root
        assert parent is not None
        calls = action.calls
        # Tool spans are children of the step that asked for them (task -> step -> tool).
        with within(self.current_step_span):
            if len(calls) == 1:
                return [await self._run_tool(action.agent, parent.id, calls[0])]
            return list(
                await asyncio.gather(*(self._run_tool(action.agent, parent.id, c) for c in calls))
            )

    async def _run_tool(self, agent: str, parent_id: str, call: ToolCallRequest) -> ToolResult:
        self._tools_in_flight += 1
        try:
            return await self._run_tool_counted(agent, parent_id, call)
        finally:
            self._tools_in_flight -= 1

    async def _run_tool_counted(
        self, agent: str, parent_id: str, call: ToolCallRequest
    ) -> ToolResult:
        if self.limits.max_tool_calls and self.usage.tool_calls >= self.limits.max_tool_calls:
            raise BudgetExhausted("max_tool_calls")
        self.usage.tool_calls += 1
        node_id = self.tool_node_id(call)
        if self.replay is not None:
            finished = self.replay.finished_call(node_id)
            if finished is not None:
                return self._replayed_call(call, finished)
            resumed = self.replay.open_call(node_id)
            if resumed is not None:
                self.go_live()
                return await self._resume_call(agent, call, resumed)
        self.go_live()
        node = self.runtime.state.start(
            self.task_id,
            RunNodeKind.TOOL,
            call.name,
            parent_id=parent_id,
            session_id=self.task.session_id,
            node_id=node_id,
        )
        outcome = await self.hooks.fire(
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

        return await self._execute_call(agent, call, node.id)

    async def _execute_call(
        self,
        agent: str,
        call: ToolCallRequest,
        node_id: str,
        *,
        after_attempt: int = 0,
        awaiting: InputRequested | None = None,
        outcome_unknown: bool = False,
    ) -> ToolResult:
        """Attempts of one tool call (numbered after ``after_attempt``), then its outcome.

        ``awaiting`` resumes a call whose attempt was parked on a callback: its first attempt
        waits for that callback instead of invoking the tool again. ``outcome_unknown``
        resumes a call whose last attempt was sent and never answered (the process died): it
        runs again only if its handler is idempotent, else it fails with OutcomeUnknown.
        """

        async def record_start(worker_id: str, number: int) -> None:
            # Recorded once the tool is about to run (a worker chosen), and on disk before it
            # does: a started attempt in the log is one that may have had effects.
            self.runtime.events.emit_nowait(
                self.task_id,
                ToolCallStarted(
                    call_id=call.id,
                    tool_name=call.name,
                    arguments=Payload.of(call.arguments),
                    attempt=number,
                    caller=agent,
                    node_id=node_id,
                    worker_id=worker_id,
                ),
            )
            await self.runtime.events.flush(self.task_id)

        async def attempt(n: int) -> Any:
            with span(
                "tool_call", tool=call.name, call_id=call.id, attempt=n, task_id=self.task_id
            ):
                log.debug("tool call %s (%s) attempt %d", call.name, call.id, n)
                return await run_attempt(n)

        async def run_attempt(n: int) -> Any:
            number = after_attempt + n
            started = time.perf_counter()
            if awaiting is not None and n == 1:
                number = after_attempt
                output: Any = await self.await_callback(
                    awaiting.kind, None, node_id, awaiting.callback_id, announce=False
                )
            else:
                output = await self.runtime.invoke_tool(
                    call.name,
                    call.arguments,
                    call_id=call.id,
                    attempt=number,
                    task=self.task,
                    context=self.context,
                    on_start=lambda worker_id: record_start(worker_id, number),
                    # The resumed call's last attempt may have run: only idempotent tools again.
                    require_idempotent=outcome_unknown and n == 1,
                )
                if isinstance(output, Pending):
                    output = await self.await_callback(
                        "tool_callback", output.prompt, node_id, output.callback_id
                    )
            self._snapshot_context(if_changed=True)  # persisted with the call's outcome
            # Not awaited: the next side effect (a tool call) flushes first, and the run's
            # next message or end waits for it, so the outcome is on disk before it matters.
            self.runtime.events.emit_nowait(
                self.task_id,
                ToolCallFinished(
                    call_id=call.id,
                    tool_name=call.name,
                    attempt=number,
                    result=Payload.of(output),
                    duration=timedelta(seconds=time.perf_counter() - started),
                ),
            )
            return output

        async def failed(n: int, error: BaseException, will_retry: bool) -> None:
            self.runtime.events.emit_nowait(
                self.task_id,
                ToolCallFinished(
                    call_id=call.id,
                    tool_name=call.name,
                    attempt=after_attempt + n - (1 if awaiting is not None else 0),
                    will_retry=will_retry,
                    failure=_failure(error, call.name),
                ),
            )

        try:
            output = await retry_async(
                attempt, self._tool_retry_policy(call.name), on_failure=failed
            )
        except Exception as error:
            failure = _failure(error, call.name)
            self.runtime.state.finish(node_id, RunNodeStatus.FAILED, failure=failure)
            await self.hooks.fire(
                "tool_call_failed",
                agent=agent,
                tool_name=call.name,
                error={"type": failure.type, "message": failure.message},
            )
            if self.conf.tool_error_policy == ToolErrorPolicy.FAIL_TASK:
                raise TaskFailed(failure) from error
            return ToolResult(call.id, call.name, failure=failure)
        outcome = await self.hooks.fire(
            "after_tool_call",
            agent=agent,
            tool_name=call.name,
            arguments=call.arguments,
            output=output,
        )
        if outcome.updated_output is not None:
            output = outcome.updated_output
        self.last_tool_output = output if isinstance(output, str) else _json(output)
        self.runtime.state.finish(node_id, RunNodeStatus.SUCCEEDED, result=Payload.of(output))
        return ToolResult(call.id, call.name, output=output)

    def _deny(self, call: ToolCallRequest, node_id: str, outcome: HookOutcome) -> ToolResult:
        failure = Failure(
            type="PermissionDenied",
            non_retryable=True,
            message=outcome.reason or f"{call.name} was denied by a hook",
        )
        self.runtime.state.finish(node_id, RunNodeStatus.BREAKED, failure=failure)
        return ToolResult(call.id, call.name, failure=failure)

    def _replayed_call(self, call: ToolCallRequest, node: RunNode) -> ToolResult:
        """A finished call rebuilt from its recorded TOOL node."""
        if node.failure is not None or node.status != RunNodeStatus.SUCCEEDED:
            failure = node.failure or Failure(type=node.status.name, message="tool call ended")
            return ToolResult(call.id, call.name, failure=failure)
        output = node.result.value() if node.result is not None else None
        self.last_tool_output = output if isinstance(output, str) else _json(output)
        return ToolResult(call.id, call.name, output=output)

    async def _resume_call(
        self, agent: str, call: ToolCallRequest, recorded: RecordedCall
    ) -> ToolResult:
        """Continue a call the log shows started but unfinished: wait for its callback again,
        or (the process died mid-call) run it again as the next attempt."""
        node = self.runtime.state.adopt(recorded.node)
        if recorded.callback is not None and recorded.callback.kind == "permission":
            outcome = await self._ask_permission(
                agent,
                call,
                node.id,
                HookOutcome(decision=PermissionDecision.ASK),
                callback_id=recorded.callback.callback_id,
            )
            if outcome.denied:
                return self._deny(call, node.id, outcome)
            return await self._execute_call(agent, call, node.id, after_attempt=recorded.attempts)
        if recorded.callback is not None:
            return await self._execute_call(
                agent,
                call,
                recorded.node.id,
                after_attempt=recorded.attempts,
                awaiting=recorded.callback,
            )
        return await self._execute_call(
            agent,
            call,
            recorded.node.id,
            after_attempt=recorded.attempts,
            outcome_unknown=recorded.in_flight,
        )

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
        prompt = {
            "tool_name": call.name,
            "arguments": call.arguments,
            "agent": agent,
            "reason": outcome.reason,
        }
        answer = await self.await_callback(
            "permission", prompt, node_id, callback_id, announce=not callback_id
        )
        allowed = (
            answer is True
            or (isinstance(answer, str) and answer.lower() in ("allow", "yes", "approve"))
            or (isinstance(answer, dict) and str(answer.get("decision", "")).lower() == "allow")
        )
        decision = PermissionDecision.ALLOW if allowed else PermissionDecision.DENY
        reason = "" if allowed else f"a human denied {call.name}"
        await self.runtime.events.emit(
            self.task_id,
            HookDecided(
                point="before_tool_call", hook_name="human", decision=decision, reason=reason
            ),
        )
        return HookOutcome(decision=decision, reason=reason, updated_input=outcome.updated_input)

    def _tool_retry_policy(self, name: str) -> Any:
        spec = self.runtime.tool_spec(name, self.task)
        return (spec.retry_policy if spec and spec.retry_policy else None) or self.task.retry_policy


def chunk_message(task: Task, agent: str, text: str) -> Message:
    """A CHUNK message: a fragment of streamed model output (recorded, not dispatched)."""
    return Message(
        id=new_id(),
        task_id=task.id,
        session_id=task.session_id,
        category=MessageCategory.CHUNK,
        sender=agent,
        payload=Payload.from_text(text),
        created_at=datetime.now(UTC),
    )


def _failure(error: BaseException, source: str) -> Failure:
    failure = failure_of(error)
    failure.source = failure.source or source
    return failure


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _assistant_message(response: ModelResponse) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": response.content}
    if response.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": _json(c.arguments)},
            }
            for c in response.tool_calls
        ]
    return message
