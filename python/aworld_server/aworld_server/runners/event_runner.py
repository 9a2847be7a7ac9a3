"""Event-driven execution: every action travels as a message on the task's bus queue and is
handled by the handler of its category (agent, tool, output, task), plus any custom handlers
registered for that category.
"""

from __future__ import annotations

from typing import ClassVar

from aworld_client import Failure, Message, MessageCategory

from aworld_server.agents.topology import Finish, RunAgent, RunTools
from aworld_server.errors import TaskFailed
from aworld_server.runners.base import Runner
from aworld_server.runners.message_handlers import BUILT_IN, follow_ups
from aworld_server.runners.messages import (
    FINISHED,
    action_from_message,
    action_message,
    finished_message,
)

__all__ = ["EventRunner"]


class EventRunner(Runner):
    """Runs a task by consuming its messages in (priority, arrival) order."""

    name: ClassVar[str] = "event"

    async def _publish(self, message: Message) -> None:
        # Not awaited to disk: tool calls flush before running and the run's end is awaited,
        # so no side effect acts on an unwritten message (see EventManager.emit_message).
        await self.execution.log.emit_message(message, durable=False)

    async def do_run(self) -> str:
        controller = self.execution.controller
        if controller is None:
            raise ValueError("the task has no swarm")
        bus = self.ctx.bus
        start = controller.start(self.task.input.as_text() if self.task.input else "")
        await self._publish(action_message(self.task.id, self.task.session_id, start))
        try:
            while True:
                if bus.pending(self.task.id) == 0:
                    # Handlers run one at a time, so an empty queue here means nothing can
                    # ever arrive: fail loudly instead of hanging.
                    raise TaskFailed(
                        Failure(
                            type="Stalled", non_retryable=True, message="no message left to process"
                        )
                    )
                message = await bus.consume(self.task.id)
                answer = await self._handle(message)
                if answer is not None:
                    return answer
        finally:
            await bus.close_task(self.task.id)

    async def _handle(self, message: Message) -> str | None:
        """Dispatch one message; return the answer when it ends the task."""
        if message.category == MessageCategory.TASK and message.topic == FINISHED:
            finish = action_from_message(message)
            assert isinstance(finish, Finish)
            return finish.answer
        following: list[Message] = []
        if message.category in BUILT_IN:
            following.append(await self._builtin(message))
        following.extend(await follow_ups(self.ctx.registry, message))
        for follow_up in following:
            await self._publish(follow_up)
        return None

    async def _builtin(self, message: Message) -> Message:
        execution = self.execution
        controller = execution.controller
        assert controller is not None
        action = action_from_message(message)
        if isinstance(action, RunAgent):
            response = await execution.agent_step(action)
            following = controller.after_agent(action.agent, response)
        elif isinstance(action, RunTools):
            results = await execution.run_tools(action)
            following = controller.after_tools(action.agent, results)
        else:
            finish = await execution.finish(action)
            return finished_message(self.task.id, self.task.session_id, finish)
        return action_message(self.task.id, self.task.session_id, following)
