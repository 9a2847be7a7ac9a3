"""What every runner does for one task, in named pieces: agent steps (``agent_step``), tool
calls (``tool_call``), callback waits and parking (``callback_wait``), budgets (``budget``),
the replay cursor (``replay``) and the durability barrier (``task_log``). Runners differ only
in how actions reach :meth:`TaskExecution.agent_step` and :meth:`TaskExecution.run_tools`.
"""

from __future__ import annotations

import json

from aworld_client import RunNode, Task, TaskConfig, Usage

from aworld_server.agents.model import ModelResponse
from aworld_server.agents.topology import Finish, RunAgent, RunTools, SwarmController, ToolResult
from aworld_server.context import Context
from aworld_server.hooks import HookOutcome, HookRunner
from aworld_server.runners.agent_step import AgentSteps
from aworld_server.runners.budget import Limits
from aworld_server.runners.callback_wait import CallbackWaits
from aworld_server.runners.context import RunContext
from aworld_server.runners.permission import ask_human
from aworld_server.runners.replay import Replay
from aworld_server.runners.run_state import RunState
from aworld_server.runners.task_log import TaskLog
from aworld_server.runners.tool_call import ToolCalls

__all__ = ["TaskExecution"]


class TaskExecution:
    """The shared machinery of one task run, as runners see it."""

    def __init__(self, ctx: RunContext, task: Task, context: Context) -> None:
        self.state = RunState(ctx, task, context)
        self.waits = CallbackWaits(self.state)
        self.agents = AgentSteps(self.state, self.waits)
        self.tools = ToolCalls(self.state, self.waits)
        self._asked: dict[str, int] = {}  # (point, node) -> asks so far (names the callbacks)
        self.state.hooks.asker = self._ask_at

    async def _ask_at(self, point: str, outcome: HookOutcome) -> HookOutcome:
        """A hook asked at a point that gates no step: hold the task in INPUT_REQUIRED until a
        human answers. Held in memory, not parked: a replay could not rebuild every point."""
        state = self.state
        node = state.current_agent_node or state.root
        node_id = node.id if node is not None else ""
        # Named after the step (a live step's node id is new), so an answer given in an earlier
        # run is reused only for the same occurrence, never for a later one after a resume.
        key = f"{point}:{node_id}"
        self._asked[key] = n = self._asked.get(key, 0) + 1
        callback_id = f"hook:{key}:{n}"
        return await ask_human(
            self.waits,
            state.log,
            point=point,
            what=f"the {point} occurrence",
            prompt={"point": point},
            node_id=node_id,
            outcome=outcome,
            callback_id=callback_id,
            announce=callback_id not in state.announced,
            parkable=False,
        )

    # What runners read and set on the run.
    @property
    def task(self) -> Task:
        return self.state.task

    @property
    def conf(self) -> TaskConfig:
        return self.state.conf

    @property
    def limits(self) -> Limits:
        return self.state.limits

    @property
    def log(self) -> TaskLog:
        return self.state.log

    @property
    def hooks(self) -> HookRunner:
        return self.state.hooks

    @property
    def controller(self) -> SwarmController | None:
        return self.state.controller

    @property
    def usage(self) -> Usage:
        return self.state.usage

    @property
    def root(self) -> RunNode | None:
        return self.state.root

    @root.setter
    def root(self, node: RunNode | None) -> None:
        self.state.root = node

    @property
    def replay(self) -> Replay | None:
        return self.state.replay

    def start_replay(self, replay: Replay) -> None:
        """Resume from the log: re-run silently up to the first step it has no record of."""
        self.state.replay = replay
        self.state.hooks.muted = True
        self.state.log.mute()

    def go_live(self) -> None:
        """Leave replay (if replaying): write events and fire hooks again."""
        self.state.go_live()

    def best_answer(self) -> str:
        """The final answer if any agent gave one, else the latest partial result."""
        controller, state = self.state.controller, self.state
        if controller is not None and controller.last_answer:
            return controller.last_answer
        return state.last_content or state.last_tool_output

    # The primitives.
    async def agent_step(self, action: RunAgent) -> ModelResponse:
        """One policy step of ``action.agent`` on its observation."""
        return await self.agents.step(action)

    async def run_tools(self, action: RunTools) -> list[ToolResult]:
        """Run the calls concurrently; results come back in call order."""
        return await self.tools.run(action)

    async def finish(self, action: Finish) -> Finish:
        """The final answer after ``output_process`` hooks had their say."""
        outcome = await self.state.hooks.fire(
            "output_process", agent=action.agent, output=action.answer
        )
        if outcome.updated_output is not None:
            value = outcome.updated_output
            action = Finish(value if isinstance(value, str) else json.dumps(value), action.agent)
        return action
