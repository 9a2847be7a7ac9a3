"""Call-driven execution: the swarm's actions are awaited as direct calls, without the bus.

The messages that would have carried each action are still recorded, so the event log and the
trajectory have the same shape as an event-driven run of the same task.
"""

from __future__ import annotations

from typing import ClassVar

from aworld_client import MessageEmitted

from aworld_server.agents.topology import Action, Finish, RunAgent
from aworld_server.runners.base import Runner
from aworld_server.runners.messages import action_message, finished_message

__all__ = ["CallRunner"]


class CallRunner(Runner):
    """Runs agents and tools as awaited calls (``ExecutionMode.CALL_DRIVEN``)."""

    name: ClassVar[str] = "call"

    def _record(self, action: Action) -> None:
        message = action_message(self.task.id, self.task.session_id, action)
        self.execution.log.emit_nowait(MessageEmitted(message=message))

    async def do_run(self) -> str:
        execution = self.execution
        controller = execution.controller
        if controller is None:
            raise ValueError("the task has no swarm")
        action = controller.start(self.task.input.as_text() if self.task.input else "")
        while True:
            self._record(action)
            if isinstance(action, RunAgent):
                response = await execution.agent_step(action)
                action = controller.after_agent(action.agent, response)
            elif isinstance(action, Finish):
                finish = await execution.finish(action)
                finished = finished_message(self.task.id, self.task.session_id, finish)
                await execution.log.emit(MessageEmitted(message=finished))
                return finish.answer
            else:
                results = await execution.run_tools(action)
                action = controller.after_tools(action.agent, results)
