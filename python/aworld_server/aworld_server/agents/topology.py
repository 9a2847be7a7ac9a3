"""Swarm topologies as one state machine shared by every runner.

The controller never runs anything: after each agent step or tool batch it says what happens
next (run an agent, run tools, finish). The call-driven runner executes those actions directly;
the event-driven runner carries them as messages on the bus. Both therefore follow exactly the
same termination rules:

* SINGLE — the agent's final answer ends the task;
* WORKFLOW — each agent's final answer becomes the next agent's input; the last one ends it;
* HANDOFF — calling another agent hands control to it; the final answer of whichever agent
  holds control ends the task;
* TEAM — the leader calls members like tools (each member runs until its own answer, which goes
  back to the leader as the call's result); the leader's final answer ends the task.

Agent-as-tool calls work in every topology except HANDOFF, where they transfer control.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aworld_client import Failure, SwarmTopology
from aworld_client import Swarm as SwarmSpec

from aworld_server.agents.model import ModelResponse, ToolCallRequest

__all__ = [
    "Action",
    "Finish",
    "RunAgent",
    "RunTools",
    "SwarmController",
    "ToolResult",
    "UserInput",
    "ToolResults",
]


@dataclass(slots=True)
class ToolResult:
    """The outcome of one tool (or agent-as-tool) call as the calling agent will see it."""

    call_id: str
    name: str
    output: Any = None
    failure: Failure | None = None

    def as_text(self) -> str:
        """What goes into the conversation: the output as JSON, or an error observation."""
        if self.failure is not None:
            return json.dumps(
                {"error": {"type": self.failure.type, "message": self.failure.message}}
            )
        return self.output if isinstance(self.output, str) else json.dumps(self.output)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"call_id": self.call_id, "name": self.name, "output": self.output}
        if self.failure is not None:
            data["error"] = {"type": self.failure.type, "message": self.failure.message}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolResult:
        """The inverse of :meth:`to_json`."""
        error = data.get("error")
        failure = Failure(type=error["type"], message=error["message"]) if error else None
        return cls(data["call_id"], data["name"], output=data.get("output"), failure=failure)


@dataclass(slots=True)
class UserInput:
    """New input for an agent: the task input, a previous agent's answer, or a hand-off."""

    content: str
    sender: str = "user"


@dataclass(slots=True)
class ToolResults:
    """Results of the calls an agent made in its previous step, in call order."""

    results: list[ToolResult]


@dataclass(slots=True)
class RunAgent:
    """Run one step of ``agent`` on ``observation``."""

    agent: str
    observation: UserInput | ToolResults
    handoff: ToolCallRequest | None = None  # set when this step was reached by a hand-off


@dataclass(slots=True)
class RunTools:
    """Run ``calls`` (tools, not agents) for ``agent``."""

    agent: str
    calls: list[ToolCallRequest]


@dataclass(slots=True)
class Finish:
    """The task is done; ``answer`` came from ``agent``."""

    answer: str
    agent: str


Action = RunAgent | RunTools | Finish


@dataclass(eq=False, slots=True)
class _Frame:
    """An agent waiting for the results of the calls it made in one step."""

    agent: str
    calls: list[ToolCallRequest]
    pending_agents: list[ToolCallRequest]  # agent calls still to run, in call order
    results: dict[str, ToolResult] = field(default_factory=dict)
    running: ToolCallRequest | None = None


class SwarmController:
    """Decides the next action of a task from the outcome of the previous one."""

    def __init__(self, swarm: SwarmSpec) -> None:
        if not swarm.agents:
            raise ValueError("the swarm has no agents")
        self.agents = {a.name: a for a in swarm.agents}
        self.order = [a.name for a in swarm.agents]
        self.root = swarm.root_agent or self.order[0]
        if self.root not in self.agents:
            raise ValueError(f"root agent {self.root!r} is not in the swarm")
        self.topology = swarm.topology or (
            SwarmTopology.SINGLE if len(self.order) == 1 else SwarmTopology.WORKFLOW
        )
        self._stack: list[_Frame] = []
        self.last_answer = ""

    def callable_agents(self, agent: str) -> list[str]:
        """Agents that ``agent`` may call or hand off to."""
        return [name for name in self.agents[agent].handoffs if name in self.agents]

    def start(self, task_input: str) -> Action:
        first = self.order[0] if self.topology == SwarmTopology.WORKFLOW else self.root
        return RunAgent(first, UserInput(task_input))

    def after_agent(self, agent: str, response: ModelResponse) -> Action:
        if not response.tool_calls:
            return self._answered(agent, response.content)
        members = set(self.callable_agents(agent))
        agent_calls = [c for c in response.tool_calls if c.name in members]
        tool_calls = [c for c in response.tool_calls if c.name not in members]
        if self.topology == SwarmTopology.HANDOFF and agent_calls:
            target = agent_calls[0]
            return RunAgent(target.name, UserInput(_call_input(target), agent), handoff=target)
        frame = _Frame(agent, list(response.tool_calls), agent_calls)
        self._stack.append(frame)
        if tool_calls:
            return RunTools(agent, tool_calls)
        return self._continue(frame)

    def after_tools(self, agent: str, results: list[ToolResult]) -> Action:
        frame = self._stack[-1]
        if frame.agent != agent:
            raise RuntimeError(f"tool results for {agent} while {frame.agent} is waiting")
        frame.results.update((r.call_id, r) for r in results)
        return self._continue(frame)

    def _answered(self, agent: str, content: str) -> Action:
        if content:
            self.last_answer = content
        if self._stack and self._stack[-1].running is not None:
            frame = self._stack[-1]
            call = frame.running
            if call is not None and call.name == agent:
                frame.results[call.id] = ToolResult(call.id, call.name, output=content)
                frame.running = None
                return self._continue(frame)
        if self.topology == SwarmTopology.WORKFLOW:
            index = self.order.index(agent)
            if index + 1 < len(self.order):
                return RunAgent(self.order[index + 1], UserInput(content, agent))
        # An empty final answer never hides one given earlier in the run.
        return Finish(content or self.last_answer, agent)

    def _continue(self, frame: _Frame) -> Action:
        if frame.pending_agents:
            call = frame.pending_agents.pop(0)
            frame.running = call
            return RunAgent(call.name, UserInput(_call_input(call), frame.agent))
        self._stack.pop()
        missing = [c for c in frame.calls if c.id not in frame.results]
        if missing:
            raise RuntimeError(f"no result for calls {[c.id for c in missing]}")
        return RunAgent(frame.agent, ToolResults([frame.results[c.id] for c in frame.calls]))


def _call_input(call: ToolCallRequest) -> str:
    """The input text of an agent call: its ``input`` argument, else all arguments as JSON."""
    value = call.arguments.get("input")
    if isinstance(value, str):
        return value
    return json.dumps(call.arguments)
