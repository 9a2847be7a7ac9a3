"""One policy step of an agent: budgets, the model call with its hooks and retries, the run
node and events — or, when resuming, the step rebuilt from the log without a model call."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aworld_client import (
    AgentSpec,
    Failure,
    HandlerKind,
    LlmCallFinished,
    Message,
    MessageCategory,
    Payload,
    RunNodeKind,
    RunNodeStatus,
    Task,
    Usage,
)
from opentelemetry import trace

from aworld_server.agents.agent import Agent
from aworld_server.agents.model import ModelResponse, ToolCallRequest
from aworld_server.agents.remote_policy import RemotePolicy
from aworld_server.agents.topology import RunAgent, ToolResults
from aworld_server.context import AgentState
from aworld_server.dispatch import HandlerCall
from aworld_server.errors import HandlerFailed, TaskFailed
from aworld_server.events.messages import task_message
from aworld_server.ids import new_id
from aworld_server.observability import span
from aworld_server.retry import failure_of, retry_async
from aworld_server.runners.callback_wait import CallbackWaits
from aworld_server.runners.permission import ask_human
from aworld_server.runners.run_state import RunState
from aworld_server.runners.stepping import StepGate

__all__ = ["AgentSteps", "assistant_message", "chunk_message"]


class AgentSteps:
    """Agent steps of one run."""

    def __init__(self, run: RunState, waits: CallbackWaits) -> None:
        self._run = run
        self._waits = waits
        self._agents: dict[str, Agent] = {}

    def agent(self, name: str) -> Agent:
        """The agent object for a swarm member: registered locally, or built from its spec."""
        agent = self._agents.get(name)
        if agent is not None:
            return agent
        ctx = self._run.ctx
        agent = ctx.registry.agents.get(name)
        if agent is None:
            controller = self._run.controller
            assert controller is not None
            spec = controller.agents[name]
            agent = Agent(
                spec.name,
                model_config=spec.model,
                system_prompt=spec.system_prompt,
                description=spec.description,
                tools=list(spec.tool_names),
                handoffs=list(spec.handoffs),
                mcp_servers=list(spec.mcp_servers),
            )
            if spec.remote_handler:
                agent.model = RemotePolicy(spec.name, spec.remote_handler, self._remote(spec))
            elif spec.a2a_url:  # a remote A2A agent's policy
                agent.model = ctx.models.a2a.model(spec.a2a_url)
            else:
                agent.model = ctx.models.create(spec.model)
        self._agents[name] = agent
        return agent

    def _remote(self, spec: AgentSpec) -> Callable[[dict[str, Any]], Awaitable[Any]]:
        """How a remote agent's step reaches its AGENT handler: one attempt per model attempt
        (the step's retries are the model call's), as an attempt of this task."""
        run = self._run

        async def invoke(request: dict[str, Any]) -> Any:
            call = HandlerCall(
                name=spec.remote_handler,
                kind=HandlerKind.AGENT,
                arguments=request,
                call_id=new_id(),
                task=run.task,
            )
            return await run.ctx.handlers.invoke(call, run.context)

        return invoke

    def tool_declarations(self, agent: Agent) -> list[dict[str, Any]]:
        """Function declarations the agent's model sees: its tools and callable agents."""
        run = self._run
        declarations: list[dict[str, Any]] = []
        mcp = run.ctx.mcp.tool_names(agent)  # every tool of the MCP servers it declares
        for name in [*agent.tool_names, *mcp, *run.task.tool_names]:
            spec = run.ctx.handlers.tool_spec(name, run.task)
            schema = json.loads(spec.input_schema) if spec and spec.input_schema else {}
            declarations.append(
                {
                    "name": name,
                    "description": spec.description if spec else "",
                    "parameters": schema or {"type": "object"},
                }
            )
        assert run.controller is not None
        for member in run.controller.callable_agents(agent.name):
            declarations.append(
                {
                    "name": member,
                    "description": run.controller.agents[member].description,
                    "parameters": {
                        "type": "object",
                        "properties": {"input": {"type": "string"}},
                        "required": ["input"],
                    },
                }
            )
        return declarations

    async def step(self, action: RunAgent) -> ModelResponse:
        """One policy step of ``action.agent`` on its observation."""
        run = self._run
        run.limits.before_step(run.usage)
        gate = run.ctx.stepping
        if gate is not None:
            await gate.acquire()
        agent = self.agent(action.agent)
        state = run.context.agent(agent.name)
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
        run.usage.steps += 1
        state.steps += 1
        recorded = run.replay.next_step(agent.name) if run.replay is not None else None
        if recorded is not None:
            run.current_step_span = trace.INVALID_SPAN  # replayed: its span was exported before
            return self._replayed(state, *recorded)
        run.go_live()
        # The step's span covers its decision (model call, hooks); the tool calls it asks for
        # run later and are made its children there.
        with span("agent_step", agent=agent.name, step=state.steps, task_id=run.task_id) as now:
            response = await self._live(agent, state, gate)
            run.current_step_span = now
            return response

    async def _live(self, agent: Agent, state: AgentState, gate: StepGate | None) -> ModelResponse:
        run = self._run
        assert run.root is not None
        nodes = run.ctx.state
        # One event per step: the node is recorded when it ends, with the model call that
        # decided it (a request for input during the step records it earlier). While it runs,
        # the AGENT message addressed to the agent says it is on.
        node = nodes.start(
            run.task_id,
            RunNodeKind.AGENT,
            agent.name,
            parent_id=run.root.id,
            session_id=run.task.session_id,
            deferred=True,
        )
        if state.steps == 1:
            await run.hooks.fire("agent_started", agent=agent.name)
        model_call: list[LlmCallFinished] = []  # the successful attempt's record
        try:
            response = await self._call_model(agent, state, node.id, model_call)
        except Exception as error:
            # Cancellation leaves the node open: a shutdown resumes it, and a task that ends
            # any other way closes its open nodes in post_run.
            nodes.finish(
                node.id,
                RunNodeStatus.FAILED,
                failure=failure_of(error),
                llm_call=model_call[0] if model_call else None,
            )
            raise
        state.messages.append(assistant_message(response))
        if response.content:
            run.last_content = response.content
        decision = {
            "content": response.content,
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls
            ],
        }
        nodes.finish(
            node.id,
            RunNodeStatus.SUCCEEDED,
            result=Payload.of(decision),
            llm_call=model_call[0] if model_call else None,
        )
        if not response.tool_calls:
            await run.hooks.fire("agent_stopped", agent=agent.name, output=response.content)
        run.current_agent_node = node
        if gate is not None:
            gate.stepped(response.content or json.dumps(decision["tool_calls"]))
        return response

    def _replayed(self, state: AgentState, decision: dict[str, Any], usage: Usage) -> ModelResponse:
        """An agent step rebuilt from the log: same conversation, no model call, no events."""
        response = ModelResponse(
            content=str(decision.get("content", "")),
            tool_calls=[
                ToolCallRequest(name=c["name"], arguments=c.get("arguments", {}), id=c["id"])
                for c in decision.get("tool_calls", [])
            ],
            usage=usage,
        )
        self._run.usage.add(usage)
        state.messages.append(assistant_message(response))
        if response.content:
            self._run.last_content = response.content
        return response

    async def _call_model(
        self,
        agent: Agent,
        state: AgentState,
        node_id: str,
        recorded: list[LlmCallFinished],
    ) -> ModelResponse:
        """The model call with its hooks and retries. The successful attempt's record goes in
        ``recorded`` (its step's node carries it); a failed attempt is an event of its own."""
        run = self._run
        tools = self.tool_declarations(agent)
        outcome = await run.hooks.fire("before_llm_call", agent=agent.name, messages=state.messages)
        if outcome.asks:
            # Named after the step, so a resumed run finds the answer given to an earlier one.
            callback_id = f"llm:{agent.name}:{state.steps}"
            outcome = await ask_human(
                self._waits,
                run.log,
                point="before_llm_call",
                what=f"a model call of {agent.name}",
                prompt={"agent": agent.name, "step": state.steps},
                node_id=node_id,
                outcome=outcome,
                callback_id=callback_id,
                announce=callback_id not in run.announced,
            )
        if outcome.denied:
            raise TaskFailed(
                Failure(type="PermissionDenied", message=outcome.reason, non_retryable=True)
            )
        system = [{"role": "system", "content": t} for t in run.hooks.take_system_messages()]
        state.messages.extend(system)  # hooks' system messages join the conversation
        # A hook's updated_input is the conversation this call sees (the agent's stays as is).
        messages = None
        if isinstance(outcome.updated_input, list):
            messages = [*outcome.updated_input, *system]

        async def chunk(text: str) -> None:
            await run.log.emit_message(chunk_message(run.task, agent.name, text), publish=False)

        async def attempt(n: int) -> ModelResponse:
            started = time.perf_counter()
            with span("llm_call", agent=agent.name, attempt=n, task_id=run.task_id):
                response = await agent.decide(state, tools, on_chunk=chunk, messages=messages)
            recorded[:] = [
                LlmCallFinished(
                    agent=agent.name,
                    model=response.model,
                    usage=response.usage,
                    attempt=n,
                    duration=timedelta(seconds=time.perf_counter() - started),
                )
            ]
            return response

        async def failed(n: int, error: BaseException, will_retry: bool) -> None:
            run.log.emit_nowait(
                LlmCallFinished(agent=agent.name, failure=failure_of(error), attempt=n)
            )

        try:
            response = await retry_async(attempt, run.task.retry_policy, on_failure=failed)
        except HandlerFailed as error:
            raise TaskFailed(error.failure) from error
        run.usage.add(response.usage)
        outcome = await run.hooks.fire("after_llm_call", agent=agent.name, output=response.content)
        if outcome.updated_output is not None:
            response.content = str(outcome.updated_output)
        return response


def chunk_message(task: Task, agent: str, text: str) -> Message:
    """A CHUNK message: a fragment of streamed model output (recorded, not dispatched)."""
    return task_message(
        task.id, task.session_id, MessageCategory.CHUNK, Payload.from_text(text), sender=agent
    )


def assistant_message(response: ModelResponse) -> dict[str, Any]:
    """The OpenAI-style message of a model's answer, as the conversation keeps it."""
    message: dict[str, Any] = {"role": "assistant", "content": response.content}
    if response.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in response.tool_calls
        ]
    return message
