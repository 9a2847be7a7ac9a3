"""The engine contract: the same cases against the local engine, a real local Ray instance and
Spark ``local[2]``. A client sees a task on any engine the same way: its events stream live,
its state tree and trajectory come from the control plane, cancellation reaches the engine, one
task's failure leaves the others' results alone, and a killed worker process costs a retry (per
the task's retry policy) or a FAILED result, never a task that hangs.
"""

from __future__ import annotations

import asyncio
import os
import signal

import grpc
import pytest
from aworld_client import (
    AsyncClient,
    Event,
    Payload,
    RetryPolicy,
    RunNodeKind,
    RunNodeStatus,
    Task,
    TaskConfig,
    TaskStatus,
    ToolCallFinished,
    ToolCallStarted,
    ToolErrorPolicy,
)
from aworld_client.api import engine_service_pb2_grpc as engine_grpc
from aworld_client.engine_service import AppendEventsRequest, CallHandlerRequest
from aworld_server.facade import RunConfig, Runners
from aworld_server.server import RunningServer
from engine_harness import ENGINES, WAIT, WorkerProcess, chain_task, hold_task, make_task
from process_harness import assert_eventually

pytestmark = pytest.mark.timeout(240)


async def _until(client: AsyncClient, task_id: str, condition: type, **match: object) -> Event:
    """The first event of the task whose body is a ``condition`` with the ``match`` values."""
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            body = event.body
            if isinstance(body, condition) and all(getattr(body, k) == v for k, v in match.items()):
                return event
    raise AssertionError(f"task {task_id} ended without a {condition.__name__} {match}")


async def _response(client: AsyncClient, task_id: str) -> object:
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            if event.is_terminal:
                return event.body.response  # type: ignore[union-attr]
    raise AssertionError("no terminal event")


@pytest.mark.parametrize("engine", ENGINES)
async def test_submit_runs_to_the_answer_with_state_tree_and_trajectory(
    client: AsyncClient, engine: str
) -> None:
    task_id = await client.submit(chain_task(engine, steps=3))
    response = await _response(client, task_id)
    assert response.status == TaskStatus.SUCCEEDED  # type: ignore[attr-defined]
    assert response.answer.as_text() == "total=2"  # type: ignore[attr-defined]

    events = [e async for e in client.events(task_id)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # one gap-free log
    phases = {p.engine for e in events for p in e.phases}
    assert phases == {engine}  # the runner really ran on that engine
    state = await client.state(task_id)
    assert state.status == TaskStatus.SUCCEEDED
    kinds = [(n.kind, n.status) for n in state.nodes]
    assert (RunNodeKind.TASK, RunNodeStatus.SUCCEEDED) in kinds
    assert kinds.count((RunNodeKind.TOOL, RunNodeStatus.SUCCEEDED)) == 2
    assert kinds.count((RunNodeKind.AGENT, RunNodeStatus.SUCCEEDED)) == 3
    root = next(n for n in state.nodes if n.kind == RunNodeKind.TASK)
    assert all(n.parent_id for n in state.nodes if n is not root)
    assert len(await client.trajectory(task_id)) >= 3


@pytest.mark.parametrize("engine", ENGINES)
async def test_session_state_a_task_leaves_behind_reaches_the_next_task(
    client: AsyncClient, engine: str
) -> None:
    """The session state a task changes on an engine worker is saved at the control plane
    (EngineService SaveSessionState), so the session's next task starts from it."""
    script = [
        {"tool_calls": [{"name": "visit", "arguments": {}}]},
        {"content": "{last_tool_output}"},
    ]
    session_id = f"visits-on-{engine}"
    answers = []
    for _ in range(2):
        task_id = await client.submit(make_task(script, ["visit"], engine, session_id=session_id))
        response = await _response(client, task_id)
        assert response.status == TaskStatus.SUCCEEDED, response.failure  # type: ignore[attr-defined]
        answers.append(response.answer.as_text())  # type: ignore[attr-defined]

    assert answers == ["1", "2"]
    session = await client.session(session_id)
    assert session.state is not None and session.state.value() == {"visits": 2}


@pytest.mark.parametrize("engine", ENGINES)
async def test_events_stream_live_while_a_remote_tool_runs(
    client: AsyncClient, remote_worker: WorkerProcess, engine: str
) -> None:
    """The task calls ``block`` on the worker subprocess (through the control plane for Ray and
    Spark); the client sees the call start and the task RUNNING before it is released."""
    key = f"live-{engine}"
    script = [
        {"tool_calls": [{"name": "block", "arguments": {"key": key}}]},
        {"content": "released {last_tool_output}"},
    ]
    task_id = await client.submit(make_task(script, ["block"], engine))
    started = await _until(client, task_id, ToolCallStarted, tool_name="block")
    await remote_worker.expect(rf"started {key} ")
    assert (await client.get(task_id)).response.status == TaskStatus.RUNNING  # type: ignore[union-attr]
    running = await client.state(task_id)
    assert any(
        n.kind == RunNodeKind.TOOL and n.status == RunNodeStatus.RUNNING for n in running.nodes
    )

    live = asyncio.ensure_future(_response(client, task_id))  # follows from the start
    await remote_worker.release(key)
    response = await live
    assert response.status == TaskStatus.SUCCEEDED  # type: ignore[attr-defined]
    assert key in response.answer.as_text()  # type: ignore[attr-defined]
    assert started.seq > 1


@pytest.mark.parametrize("engine", ENGINES)
async def test_cancel_reaches_the_engine(client: AsyncClient, engine: str) -> None:
    task_id = await client.submit(hold_task(engine))
    await _until(client, task_id, ToolCallStarted, tool_name="hold_in")
    assert await client.cancel(task_id) == TaskStatus.CANCELLED
    response = await _response(client, task_id)
    assert response.status == TaskStatus.CANCELLED  # type: ignore[attr-defined]
    state = await client.state(task_id)
    assert state.status == TaskStatus.CANCELLED
    tool = next(n for n in state.nodes if n.kind == RunNodeKind.TOOL and n.name == "hold_in")
    assert tool.status == RunNodeStatus.CANCELLED  # the runner itself recorded the cancel


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_failing_task_leaves_the_others_results_intact(
    server: RunningServer, engine: str
) -> None:
    """Through ``Runners.run_task`` on the engine: one task fails, the others succeed."""
    failing = make_task(
        [
            {"tool_calls": [{"name": "explode", "arguments": {"message": "boom"}}]},
            {"content": "unreachable"},
        ],
        ["explode"],
        "local",
        conf=TaskConfig(tool_error_policy=ToolErrorPolicy.FAIL_TASK),
        retry_policy=RetryPolicy(maximum_attempts=1),
    )
    good = [chain_task("local", steps=2 + i) for i in range(4)]
    tasks = [good[0], good[1], failing, good[2], good[3]]
    results = await Runners.run_task(tasks, RunConfig(engine_name=engine), runtime=server.runtime)
    assert results[failing.id].status == TaskStatus.FAILED
    assert results[failing.id].failure is not None
    assert "boom" in results[failing.id].failure.message  # type: ignore[union-attr]
    for i, task in enumerate(good):
        assert results[task.id].status == TaskStatus.SUCCEEDED
        assert results[task.id].answer.as_text() == f"total={i + 1}"  # type: ignore[union-attr]


@pytest.mark.parametrize("engine", ["ray", "spark"])  # local: the worker is the server itself
async def test_a_killed_worker_is_retried_or_fails_per_policy(
    client: AsyncClient, engine: str
) -> None:
    """SIGKILL the process running the task (the Ray actor, the Spark Python worker) while
    its tool call is open: with attempts left the task resumes elsewhere from its log (the
    finished ``pid`` call is not run again); with none it ends FAILED (EngineWorkerLost)."""
    retried = await client.submit(hold_task(engine))
    pid_event = await _until(client, retried, ToolCallFinished, tool_name="pid")
    worker_pid = pid_event.body.result.value()  # type: ignore[union-attr]
    await _until(client, retried, ToolCallStarted, tool_name="hold_in")
    assert worker_pid != os.getpid()
    os.kill(worker_pid, signal.SIGKILL)
    response = await _response(client, retried)
    assert response.status == TaskStatus.SUCCEEDED, response  # type: ignore[attr-defined]
    assert response.answer.as_text().startswith("resumed in ")  # type: ignore[attr-defined]
    events = [e async for e in client.events(retried)]
    pid_calls = [
        e for e in events if isinstance(e.body, ToolCallStarted) and e.body.tool_name == "pid"
    ]
    assert len(pid_calls) == 1  # replayed from the log, not run again
    holds = [
        e.body
        for e in events
        if isinstance(e.body, ToolCallStarted) and e.body.tool_name == "hold_in"
    ]
    assert [h.attempt for h in holds] == [1, 2]  # the open call ran again as attempt 2

    once = await client.submit(hold_task(engine, retry_policy=RetryPolicy(maximum_attempts=1)))
    pid_event = await _until(client, once, ToolCallFinished, tool_name="pid")
    await _until(client, once, ToolCallStarted, tool_name="hold_in")
    os.kill(pid_event.body.result.value(), signal.SIGKILL)  # type: ignore[union-attr]
    response = await _response(client, once)
    assert response.status == TaskStatus.FAILED  # type: ignore[attr-defined]
    assert response.failure.type == "EngineWorkerLost"  # type: ignore[attr-defined]


@pytest.mark.parametrize("engine", ["ray", "spark"])
async def test_jobs_sent_together_survive_their_killed_worker(
    server: RunningServer, client: AsyncClient, engine: str
) -> None:
    """Ray hands jobs dispatched together to an actor in one call, Spark to a running session
    (one Spark task on one Python worker); both stream each job's result back as it ends: the
    quick ones are done (their jobs over, credentials revoked) while a batch-mate still holds.
    Killing that worker then: the held one resumes, the ones that ended are untouched (nothing
    is appended after their end, one terminal event each)."""
    quick_script = [
        {"tool_calls": [{"name": "pid", "arguments": {}}]},
        {"content": "{last_tool_output}"},
    ]
    quick = [make_task(quick_script, ["pid"], engine) for _ in range(6)]
    held = hold_task(engine)
    # Submitted at once (in the client's namespace): their TaskSubmitted share a commit, so
    # they are dispatched together.
    for task in [held, *quick]:
        task.headers["aworld-namespace"] = "team-engines"
    await asyncio.gather(*(server.runtime.submit(t) for t in [held, *quick]))
    pid_event = await _until(client, held.id, ToolCallFinished, tool_name="pid")
    worker_pid = pid_event.body.result.value()  # type: ignore[union-attr]
    await _until(client, held.id, ToolCallStarted, tool_name="hold_in")
    answers = {t.id: await _response(client, t.id) for t in quick}
    sharing = [i for i, r in answers.items() if r.answer.as_text() == str(worker_pid)]  # type: ignore[attr-defined]
    assert sharing, "no task ran on the held task's worker"
    logs_before = {i: [e.seq async for e in client.events(i)] for i in sharing}
    for task_id in sharing:  # their jobs ended without waiting for the held batch-mate
        await assert_eventually(
            lambda task_id=task_id: server.runtime.current_job(task_id) is None, timeout=WAIT
        )
    assert server.runtime.current_job(held.id) is not None

    os.kill(worker_pid, signal.SIGKILL)
    response = await _response(client, held.id)
    assert response.status == TaskStatus.SUCCEEDED, response  # type: ignore[attr-defined]
    assert response.answer.as_text().startswith("resumed in ")  # type: ignore[attr-defined]
    for task_id in sharing:
        # The job ran again only to report its end: its log is as it was, one terminal event.
        await assert_eventually(
            lambda task_id=task_id: server.runtime.current_job(task_id) is None, timeout=WAIT
        )
        events = [e async for e in client.events(task_id)]
        assert [e.seq for e in events] == logs_before[task_id]
        assert sum(e.is_terminal for e in events) == 1
        assert events[-1].body.response.status == TaskStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_a_superseded_job_can_no_longer_write_or_call(
    server: RunningServer, client: AsyncClient, remote_worker: WorkerProcess
) -> None:
    """Fencing: the control plane takes writes and handler calls of a task only from the job
    it runs the task as now. A job handed out before a restart (whose worker can outlive the
    server by seconds) or superseded by a retry is refused, and the current job goes on."""
    key = "fenced"
    script = [
        {"tool_calls": [{"name": "block", "arguments": {"key": key}}]},
        {"content": "released {last_tool_output}"},
    ]
    task_id = await client.submit(make_task(script, ["block"], "ray"))
    started = await _until(client, task_id, ToolCallStarted, tool_name="block")
    current = server.runtime.current_job(task_id)
    assert current
    # The suite runs with auth on: act with the namespace's engine credential (the same for
    # all its jobs; asking for it again with the current job changes nothing), as a stale job.
    assert server.runtime.job_credentials is not None
    token = server.runtime.job_credentials(
        Task(id=task_id, headers={"aworld-namespace": "team-engines"}), current
    )
    metadata = (("authorization", f"Bearer {token}"), ("aworld-job", "stale"))

    async with grpc.aio.insecure_channel(server.address) as channel:
        engine = engine_grpc.EngineServiceStub(channel)
        stale = Event(task_id=task_id, seq=started.seq + 1, body=started.body)
        with pytest.raises(grpc.aio.AioRpcError) as append:
            await engine.AppendEvents(
                AppendEventsRequest(task_id=task_id, events=[stale], job_id="stale").to_proto(),
                metadata=metadata,
            )
        # A stale job's id no longer reaches the task at all.
        assert append.value.code() == grpc.StatusCode.NOT_FOUND
        call = CallHandlerRequest(
            call_id="c",
            attempt=1,
            name="block",
            task_id=task_id,
            input=Payload.of({"key": "x"}),
            job_id="stale",
        )
        with pytest.raises(grpc.aio.AioRpcError) as called:
            await engine.CallHandler(call.to_proto(), metadata=metadata)
        assert called.value.code() == grpc.StatusCode.NOT_FOUND
        # With the current job named in metadata but a stale one in the request: fenced.
        current_job = (metadata[0], ("aworld-job", current))
        with pytest.raises(grpc.aio.AioRpcError) as fenced:
            await engine.AppendEvents(
                AppendEventsRequest(task_id=task_id, events=[stale], job_id="stale").to_proto(),
                metadata=current_job,
            )
        assert fenced.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "superseded" in (fenced.value.details() or "")

    await remote_worker.release(key)
    response = await _response(client, task_id)
    assert response.status == TaskStatus.SUCCEEDED  # type: ignore[attr-defined]
