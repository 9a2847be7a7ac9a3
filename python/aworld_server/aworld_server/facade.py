"""``Runners``: AWorld's entry points (``run``, ``run_task``, ``streaming_run``,
``streaming_run_task``, their sync variants and ``step``) over an embedded :class:`Runtime`.

Every method takes an optional ``runtime``; without one, a process-wide default runtime is
started on first use (SQLite event log under ``./.aworld``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aworld_client import (
    Failure,
    Message,
    MessageCategory,
    MessageEmitted,
    Payload,
    RunMode,
    StreamingMode,
    Task,
    TaskConfig,
    TaskResponse,
    TaskStatus,
    TaskStatusChanged,
)
from google.protobuf.json_format import MessageToDict

from aworld_server.agents.agent import Agent, Swarm
from aworld_server.errors import AWorldError
from aworld_server.runtime import Runtime

__all__ = ["RunConfig", "Runners", "TASK_RESPONSE_TOPIC"]

T = TypeVar("T")

TASK_RESPONSE_TOPIC = "__task_response"

_MODE_CATEGORIES: dict[StreamingMode, frozenset[MessageCategory]] = {
    StreamingMode.CORE: frozenset(
        {MessageCategory.AGENT, MessageCategory.TOOL, MessageCategory.OUTPUT, MessageCategory.TASK}
    ),
    StreamingMode.CHUNK: frozenset({MessageCategory.CHUNK}),
    StreamingMode.OUTPUT: frozenset({MessageCategory.OUTPUT}),
    StreamingMode.CHUNK_OUTPUT: frozenset({MessageCategory.CHUNK, MessageCategory.OUTPUT}),
    StreamingMode.ALL: frozenset(MessageCategory),
}


@dataclass(slots=True, kw_only=True)
class RunConfig:
    """AWorld's RunConfig: which engine runs the tasks and how.

    ``engine_name``: local, ray or spark (a served runtime's plugin engines). ``worker_num``:
    how many of the tasks given to ``run_task`` run at once (at least 1). ``in_local=False``
    asks for tasks to run outside this process: it needs a plugin engine. ``reuse_process``:
    engine workers are always reused across tasks, so False is refused. ``event_bus``: the
    bus of the runtime that runs the tasks; a ``Runtime`` built with that bus must be passed
    (``runtime=``), so naming one the runtime does not use is refused."""

    engine_name: str = "local"
    worker_num: int = 1
    in_local: bool = True
    reuse_process: bool = True
    sequence_dependent: bool = False
    event_bus: str = "memory"

    def __post_init__(self) -> None:
        if self.worker_num < 1:
            raise ValueError(f"RunConfig.worker_num must be at least 1, got {self.worker_num}")
        if not self.in_local and self.engine_name in ("", "local"):
            raise ValueError(
                "RunConfig.in_local=False runs tasks outside this process: "
                "set engine_name to a plugin engine (ray, spark)"
            )
        if not self.reuse_process:
            raise ValueError(
                "RunConfig.reuse_process=False is not supported: engine workers are reused "
                "across tasks (their state is per task, never per process)"
            )

    def check_bus(self, runtime: Runtime) -> None:
        """Refuse an ``event_bus`` the runtime does not use."""
        used = runtime.bus.kind
        if self.event_bus != used:
            raise ValueError(
                f"RunConfig.event_bus={self.event_bus!r}, but the runtime uses the {used!r} bus: "
                "pass runtime= a Runtime built with that bus"
            )


# One default runtime per event loop: its store and queues belong to the loop that made them.
_default_runtimes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runtime] = (
    weakref.WeakKeyDictionary()
)


async def _runtime(runtime: Runtime | None) -> Runtime:
    if runtime is not None:
        return await runtime.start()
    loop = asyncio.get_running_loop()
    default = _default_runtimes.get(loop)
    if default is None:
        default = _default_runtimes[loop] = Runtime()
    return await default.start()


def _run_sync(work: Callable[[Runtime], Awaitable[T]], runtime: Runtime | None) -> T:
    """Run on a fresh loop with a runtime that is closed afterwards (unless one was given)."""

    async def go() -> T:
        if runtime is not None:
            return await work(runtime)
        async with Runtime() as owned:
            return await work(owned)

    return asyncio.run(go())


def _task_for(
    runtime: Runtime,
    input: Any,
    agent: Agent | None,
    swarm: Swarm | None,
    tool_names: Sequence[str],
    session_id: str | None,
    conf: TaskConfig | None,
) -> Task:
    if agent is not None and swarm is not None:
        raise ValueError("pass either agent or swarm, not both")
    if agent is None and swarm is None:
        raise ValueError("pass an agent or a swarm")
    if input is None or input == "":
        raise ValueError("input must not be empty")
    team = swarm if swarm is not None else Swarm(agent) if agent is not None else None
    assert team is not None
    for member in team.agents:
        runtime.registry.add_agent(member)
    payload = (
        input
        if isinstance(input, Payload)
        else (Payload.from_text(input) if isinstance(input, str) else Payload.of(input))
    )
    return Task(
        input=payload,
        swarm=team.spec(),
        tool_names=list(tool_names),
        session_id=session_id or "",
        conf=conf,
    )


def _failed_response(task_id: str, error: BaseException) -> TaskResponse:
    return TaskResponse(
        id=task_id,
        status=TaskStatus.FAILED,
        failure=Failure.from_exception(error, non_retryable=True),
        status_reason=type(error).__name__,
    )


class Runners:
    """AWorld-compatible entry points. All methods are static; ``runtime`` is optional."""

    @staticmethod
    async def run(
        input: Any,
        agent: Agent | None = None,
        swarm: Swarm | None = None,
        tool_names: Sequence[str] = (),
        session_id: str | None = None,
        run_conf: RunConfig | None = None,
        *,
        conf: TaskConfig | None = None,
        runtime: Runtime | None = None,
    ) -> TaskResponse:
        """Run one input with an agent or a swarm and return its response."""
        rt = await _runtime(runtime)
        task = _task_for(rt, input, agent, swarm, tool_names, session_id, conf)
        responses = await Runners.run_task(task, run_conf, runtime=rt)
        return responses[task.id]

    @staticmethod
    async def run_task(
        task: Task | Sequence[Task],
        run_conf: RunConfig | None = None,
        *,
        runtime: Runtime | None = None,
    ) -> dict[str, TaskResponse]:
        """Run tasks concurrently (or in order, feeding each answer on, with
        ``run_conf.sequence_dependent``); results keyed by task id. A task that fails to start
        gets a FAILED response; it never loses the others' results."""
        rt = await _runtime(runtime)
        tasks = [task] if isinstance(task, Task) else list(task)
        if run_conf is not None:
            run_conf.check_bus(rt)
        if run_conf is not None and run_conf.engine_name:
            for item in tasks:
                item.engine = item.engine or (
                    run_conf.engine_name if run_conf.engine_name != "local" else ""
                )
        if run_conf is not None and run_conf.sequence_dependent:
            results: dict[str, TaskResponse] = {}
            previous: TaskResponse | None = None
            for item in tasks:
                if previous is not None and previous.answer is not None:
                    item.input = previous.answer
                previous = await Runners._run_one(rt, item)
                results[previous.id] = previous
            return results
        slots = asyncio.Semaphore(run_conf.worker_num if run_conf is not None else len(tasks) or 1)

        async def run_one(item: Task) -> TaskResponse:
            async with slots:  # at most worker_num tasks at once
                return await Runners._run_one(rt, item)

        responses = await asyncio.gather(*(run_one(item) for item in tasks))
        return {r.id: r for r in responses}

    @staticmethod
    async def _run_one(rt: Runtime, task: Task) -> TaskResponse:
        try:
            return await rt.run(task)
        except AWorldError as error:
            return _failed_response(task.id or "", error)

    @staticmethod
    async def streaming_run(
        input: Any,
        agent: Agent | None = None,
        swarm: Swarm | None = None,
        streaming_mode: StreamingMode = StreamingMode.UNSPECIFIED,
        tool_names: Sequence[str] = (),
        session_id: str | None = None,
        run_conf: RunConfig | None = None,
        *,
        conf: TaskConfig | None = None,
        runtime: Runtime | None = None,
    ) -> AsyncIterator[Message]:
        """Run and stream messages; the last one is a TASK message with topic
        ``__task_response`` carrying the response (or the start-up error)."""
        rt = await _runtime(runtime)
        task = _task_for(rt, input, agent, swarm, tool_names, session_id, conf)
        async for message in Runners.streaming_run_task(task, streaming_mode, run_conf, runtime=rt):
            yield message

    @staticmethod
    async def streaming_run_task(
        task: Task,
        streaming_mode: StreamingMode = StreamingMode.UNSPECIFIED,
        run_conf: RunConfig | None = None,
        *,
        runtime: Runtime | None = None,
    ) -> AsyncIterator[Message]:
        """Stream a task's messages of ``streaming_mode`` (default: the task's
        ``conf.streaming_mode``, else CORE); always ends with the response."""
        rt = await _runtime(runtime)
        if run_conf is not None:
            run_conf.check_bus(rt)
        mode = streaming_mode or (task.conf.streaming_mode if task.conf else None)
        categories = _MODE_CATEGORIES.get(
            mode or StreamingMode.CORE, _MODE_CATEGORIES[StreamingMode.CORE]
        )
        try:
            submitted = await rt.submit(task)
        except AWorldError as error:
            yield _response_message(task, _failed_response(task.id, error))
            return
        response: TaskResponse | None = None
        async for event in rt.stream(submitted.task_id):
            body = event.body
            if isinstance(body, MessageEmitted) and body.message is not None:
                if body.message.category in categories:
                    yield body.message
            elif isinstance(body, TaskStatusChanged) and body.status.is_terminal:
                response = body.response
        yield _response_message(task, response or await rt.wait(submitted.task_id))

    @staticmethod
    def sync_run(
        input: Any, agent: Agent | None = None, swarm: Swarm | None = None, **kwargs: Any
    ) -> TaskResponse:
        """``run`` for code without an event loop."""
        runtime = kwargs.pop("runtime", None)
        return _run_sync(lambda rt: Runners.run(input, agent, swarm, runtime=rt, **kwargs), runtime)

    @staticmethod
    def sync_run_task(
        task: Task | Sequence[Task], run_conf: RunConfig | None = None, **kwargs: Any
    ) -> dict[str, TaskResponse]:
        """``run_task`` for code without an event loop."""
        runtime = kwargs.pop("runtime", None)
        return _run_sync(lambda rt: Runners.run_task(task, run_conf, runtime=rt), runtime)

    @staticmethod
    async def step(
        task: Task, *, runtime: Runtime | None = None
    ) -> tuple[bool, str, TaskResponse | None]:
        """Advance an interactive task by one agent step.

        Returns ``(is_finished, observation, response)``: the observation is the agent's output
        of that step; the response is set once the task finished.
        """
        rt = await _runtime(runtime)
        conf = task.conf or TaskConfig()
        conf.run_mode = RunMode.INTERACTIVE
        task.conf = conf
        if not task.id or not rt.executor.interactive(task.id):
            await rt.submit(task)
        return await rt.step(task.id)


def _response_message(task: Task, response: TaskResponse) -> Message:
    return Message(
        id=f"{response.id or task.id}:response",
        task_id=response.id or task.id,
        session_id=task.session_id,
        category=MessageCategory.TASK,
        topic=TASK_RESPONSE_TOPIC,
        sender="runtime",
        payload=Payload.of(MessageToDict(response.to_proto(), preserving_proto_field_name=True)),
        created_at=datetime.now(UTC),
    )
