"""Call-driven execution: the swarm's actions are awaited as direct calls, without the bus.

The messages that would have carried each action are still recorded, so the event log and the
trajectory have the same shape as an event-driven run of the same task.
"""

from __future__ import annotations

from typing import ClassVar

from aworld_client import Failure, Message, MessageCategory, MessageEmitted

from aworld_server.agents.topology import Action, Finish, RunAgent
from aworld_server.errors import TaskFailed
from aworld_server.runners.base import Runner
from aworld_server.runners.message_handlers import BUILT_IN, follow_ups
from aworld_server.runners.messages import action_message, finished_message

__all__ = ["CallRunner"]


class CallRunner(Runner):
    """Runs agents and tools as awaited calls (``ExecutionMode.CALL_DRIVEN``)."""

    name: ClassVar[str] = "call"

    def _record(self, action: Action) -> Message:
        message = action_message(self.task.id, self.task.session_id, action)
        self.execution.log.emit_nowait(MessageEmitted(message=message))
        return message

    async def _observe(self, message: Message) -> None:
        """Run custom message handlers on an action's message and, in order, on their
        follow-ups (recorded, as the event-driven runner publishes them). A follow-up that
        asks for an agent, tool or output action needs the bus: the task fails, clearly."""
        pending = [message]
        while pending:
            for follow_up in await follow_ups(self.ctx.registry, pending.pop(0)):
                if follow_up.category in BUILT_IN or follow_up.category == MessageCategory.TASK:
                    raise TaskFailed(
                        Failure(
                            type="UnsupportedFollowUp",
                            non_retryable=True,
                            message=f"a custom handler answered a {follow_up.category.name} "
                            "message, which only the event-driven runner acts on",
                        )
                    )
                await self.execution.log.emit_message(follow_up, publish=False)
                pending.append(follow_up)

    async def do_run(self) -> str:
        execution = self.execution
        controller = execution.controller
        if controller is None:
            raise ValueError("the task has no swarm")
        action = controller.start(self.task.input.as_text() if self.task.input else "")
        while True:
            message = self._record(action)
            if isinstance(action, RunAgent):
                response = await execution.agent_step(action)
                following = controller.after_agent(action.agent, response)
            elif isinstance(action, Finish):
                finish = await execution.finish(action)
                await self._observe(message)
                finished = finished_message(self.task.id, self.task.session_id, finish)
                await execution.log.emit(MessageEmitted(message=finished))
                return finish.answer
            else:
                results = await execution.run_tools(action)
                following = controller.after_tools(action.agent, results)
            await self._observe(message)
            action = following
