"""The runner lifecycle every execution mode shares: ``pre_run`` -> ``do_run`` -> ``post_run``.

``run()`` drives the three phases and turns whatever ends the run — an answer, a budget, the
wall clock, a cancellation, an error — into exactly one terminal status with a response.
Subclasses implement only ``do_run``.

A run writes two events of its own: the RUNNING status (once the root run node exists, before
any hook fires) and the terminal status. Each carries what changed with it — the root run node
(created, finished) and the lifecycle phase boundaries crossed since the last status change,
each with its time (``TaskLog.phase``) — instead of a RunNodeChanged and six LifecyclePhase
events of their own: fewer events per task, the same information (``Event.run_node``,
``Event.phases``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import ClassVar, TypeVar

from aworld_client import (
    Failure,
    MessageEmitted,
    Payload,
    Phase,
    RunNodeKind,
    RunNodeStatus,
    Task,
    TaskResponse,
    TaskStatus,
)
from google.protobuf.json_format import MessageToDict

from aworld_server.context import Context
from aworld_server.errors import BudgetExhausted, HandlerFailed, TaskFailed, TaskParked
from aworld_server.observability import span, trace_id_of
from aworld_server.observability.logs import current_task_id
from aworld_server.runners.context import RunContext, Trajectories
from aworld_server.runners.execution import TaskExecution
from aworld_server.runners.replay import Replay
from aworld_server.trajectory import reward_message

log = logging.getLogger(__name__)

__all__ = ["Runner"]

T = TypeVar("T")

_NODE_STATUS = {
    TaskStatus.SUCCEEDED: RunNodeStatus.SUCCEEDED,
    TaskStatus.FAILED: RunNodeStatus.FAILED,
    TaskStatus.CANCELLED: RunNodeStatus.CANCELLED,
    TaskStatus.TIMED_OUT: RunNodeStatus.TIMED_OUT,
    TaskStatus.INTERRUPTED: RunNodeStatus.BREAKED,
}


class Runner:
    """Runs one task. Subclass and implement :meth:`do_run` to make a custom runner; register
    the class with ``Runtime.add_runner`` and name it in ``TaskConfig.runner``.

    A runner sees the run through ``self.ctx`` (:class:`RunContext`), ``self.task``,
    ``self.context`` (task, session and agent state) and ``self.execution`` (agent steps, tool
    calls and hooks with their events, retries and budgets)."""

    name: ClassVar[str] = "custom"

    def __init__(self, ctx: RunContext, task: Task, replay: Replay | None = None) -> None:
        self.ctx = ctx
        self.task = task
        self.context = Context(task.id, task.session_id)
        self.execution = TaskExecution(ctx, task, self.context)
        if replay is not None and replay.root is not None:
            self.execution.start_replay(replay)
        self.status = TaskStatus.RUNNING
        self.reason = ""
        self.failure: Failure | None = None
        self.answer = ""
        self._started = time.monotonic()
        self._work: asyncio.Future[str] | None = None
        self._cancel_requested = False
        self.trace_id = ""
        self._do_run_ended: datetime | None = None

    async def pre_run(self) -> None:
        """Build the context from the session, create the root run node, fire start hooks."""
        session = await self.ctx.sessions.load(self.task.session_id)
        if session is not None and session.state is not None:
            state = session.state.value()
            if isinstance(state, dict):
                self.context.session.update(state)
        replay = self.execution.replay
        if replay is not None and replay.root is not None:
            self.execution.root = self.ctx.state.adopt(replay.root)
            if replay.root.started_at is not None:  # wall-clock budgets count from the start
                elapsed = (datetime.now(UTC) - replay.root.started_at).total_seconds()
                self._started = time.monotonic() - max(0.0, elapsed)
        else:
            # Recorded by the RUNNING status below, not by an event of its own.
            self.execution.root = self.ctx.state.start(
                self.task.id,
                RunNodeKind.TASK,
                self.task.name,
                session_id=self.task.session_id,
                deferred=True,
            )
        # On disk before the hooks (they may run on workers): a replay finds the root.
        root = self.execution.root
        await self.execution.log.set_status(
            TaskStatus.RUNNING, root_node=self.ctx.state.take_start(root.id)
        )
        await self.execution.hooks.fire("session_started")
        await self.execution.hooks.fire("task_created")
        try:
            # MCP servers the agents declare start now (once per runtime), before any step.
            await self.ctx.mcp.prepare(self.task)
        except HandlerFailed as error:  # e.g. McpServerUnavailable: the task cannot run
            raise TaskFailed(error.failure) from error

    async def do_run(self) -> str:
        """Execute the task; return its answer. Raise to end it otherwise."""
        raise NotImplementedError

    async def post_run(self) -> TaskResponse:
        """Finish the root node, save the session, fire end hooks, then persist the terminal
        status with the response — always the task's last event."""
        execution = self.execution
        if not self.answer:
            self.answer = execution.best_answer()
        status = self.status.aworld_name
        await execution.hooks.fire("task_completed", status=status, answer=self.answer)
        # The task call is over: a post_task_call hook sees its outcome and may rewrite the
        # answer (updated_output) before it is recorded.
        outcome = await execution.hooks.fire(
            "post_task_call",
            status=status,
            answer=self.answer,
            failure={"type": self.failure.type, "message": self.failure.message}
            if self.failure
            else None,
        )
        if outcome.updated_output is not None:
            value = outcome.updated_output
            self.answer = value if isinstance(value, str) else json.dumps(value)
        trajectories = self.ctx.trajectories
        trajectory_uri = ""
        if trajectories is not None:
            await self._score_steps(trajectories)
            trajectory_uri = await trajectories.export(self.task.id)
        response = TaskResponse(
            id=self.task.id,
            trajectory_uri=trajectory_uri,
            status=self.status,
            answer=Payload.of(self.answer),
            failure=self.failure,
            usage=execution.usage,
            time_cost=timedelta(seconds=time.monotonic() - self._started),
            status_reason=self.reason,
            trace_id=self.trace_id,
        )
        point = "session_finished" if self.status == TaskStatus.SUCCEEDED else "session_failed"
        await execution.hooks.fire(point, status=status)
        nodes = self.ctx.state
        for node in nodes.live_nodes(self.task.id):
            if execution.root is None or node.id != execution.root.id:
                # Steps cut short by the end of the task (timeout, cancel, budget).
                nodes.finish(node.id, RunNodeStatus.CANCELLED)
        root = None
        if execution.root is not None:
            # The root ended with do_run (its outcome); post_run's own span is in the phases.
            root = nodes.finish(
                execution.root.id,
                _NODE_STATUS[self.status],
                result=response.answer,
                failure=self.failure,
                emit=False,
                ended_at=self._do_run_ended,
            )
        await self.ctx.sessions.save(self.task, self.context)
        self._boundary(Phase.POST_RUN, ended=True)
        log = execution.log
        await log.emit(log.status_change(self.status, self.reason, response, root_node=root))
        return response

    async def _score_steps(self, trajectories: Trajectories) -> None:
        """Ask the reward hooks (if any) to score each step; the scores are recorded, so the
        trajectory read later carries them."""
        hooks = self.execution.hooks
        if hooks.muted or not hooks.names("reward"):
            return
        await self.execution.log.barrier()
        for item in await trajectories.read(self.task.id):
            data = MessageToDict(item.to_proto(), preserving_proto_field_name=True)
            step = item.meta.step if item.meta else 0
            outcome = await hooks.fire("reward", step=step, item=data)
            if outcome.score is not None:
                self.execution.log.emit_nowait(
                    MessageEmitted(message=reward_message(self.task, step, outcome.score))
                )

    def cancel(self) -> None:
        """Stop the run; it ends CANCELLED (hooks and post_run still run)."""
        self._cancel_requested = True
        if self._work is not None:
            self._work.cancel()

    async def run(self) -> TaskResponse | None:
        with span(
            "task",
            headers=self.task.headers,
            task_id=self.task.id,
            session_id=self.task.session_id,
            runner=self.name,
        ) as current:
            self.trace_id = trace_id_of(current)
            current_task_id.set(self.task.id)  # for log lines (this run's asyncio task only)
            log.info("task started (runner %s)", self.name)
            response = await self._run()
            # What happened, never with what: inputs and answers stay out of INFO logs.
            if response is None:
                log.info("task parked until a callback answers")
            else:
                log.info("task ended %s", response.status.name.lower())
            return response

    async def _run(self) -> TaskResponse | None:
        """Run the whole lifecycle; always ends with one terminal status event.

        Cancelling the task running this coroutine (a shutdown) is different from
        :meth:`cancel`: it propagates and records nothing, so the task stays resumable. A run
        parked on a callback returns None: it ends here and resumes from the log later.
        """
        try:
            await self._phase(Phase.PRE_RUN, self.pre_run)
            self._work = asyncio.ensure_future(self._phase(Phase.DO_RUN, self._bounded_do_run))
            if self._cancel_requested:
                self._work.cancel()
            self.answer = await self._work
            self.status = TaskStatus.SUCCEEDED
        except BudgetExhausted as error:
            self._end(TaskStatus.INTERRUPTED, error.reason)
        except TimeoutError:
            self._end(TaskStatus.TIMED_OUT, self._timeout_reason())
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not self._cancel_requested or (current is not None and current.cancelling()):
                raise
            self._end(TaskStatus.CANCELLED, "cancelled")
        except TaskParked:
            return None
        except TaskFailed as error:
            self._end(TaskStatus.FAILED, error.failure.type, error.failure)
        except Exception as error:
            self._end(
                TaskStatus.FAILED,
                type(error).__name__,
                Failure.from_exception(error, source=f"runner:{self.name}"),
            )
        self.execution.go_live()  # whatever ended the run, its end is recorded
        self._do_run_ended = datetime.now(UTC)
        self._boundary(Phase.POST_RUN, ended=False)
        return await self.post_run()

    def _end(self, status: TaskStatus, reason: str, failure: Failure | None = None) -> None:
        self.status, self.reason = status, reason
        if failure is None and status in (TaskStatus.INTERRUPTED, TaskStatus.TIMED_OUT):
            failure = Failure(type=reason, message=f"task stopped: {reason}", non_retryable=True)
        self.failure = failure

    async def _bounded_do_run(self) -> str:
        limit = self._time_limit()
        if limit is None:
            return await self.do_run()
        async with asyncio.timeout(limit):
            return await self.do_run()

    def _time_limit(self) -> float | None:
        limits = [
            self.execution.limits.max_wall_time.total_seconds() - (time.monotonic() - self._started)
            if self.execution.limits.max_wall_time
            else None,
            (self.task.deadline - datetime.now(UTC)).total_seconds()
            if self.task.deadline
            else None,
        ]
        present = [limit for limit in limits if limit is not None]
        return max(0.0, min(present)) if present else None

    def _timeout_reason(self) -> str:
        wall = self.execution.limits.max_wall_time
        if self.task.deadline and (not wall or datetime.now(UTC) >= self.task.deadline):
            return "deadline"
        return "max_wall_time"

    async def _phase(self, phase: Phase, body: Callable[[], Awaitable[T]]) -> T:
        self._boundary(phase, ended=False)
        result = await body()
        self._boundary(phase, ended=True)
        return result

    def _boundary(self, phase: Phase, *, ended: bool) -> None:
        """Note a phase boundary; the next status change of the run records it."""
        self.execution.log.phase(phase, ended=ended, runner=self.name, engine=self.ctx.engine)
