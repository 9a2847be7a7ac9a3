"""EngineService.AppendEventStream, the one stream an engine worker appends all its tasks'
events on: a stream cut by the network mid-run (real TCP resets through a proxy) loses and
duplicates nothing, an append sent again after it landed is stored once, and a superseded
job's appends are refused on the stream while the current job's go through.

The engine here is a plugin whose jobs the test runs itself, with the engine worker's real
client (``ControlPlaneStore`` over ``AppendStream``) and the job's real engine credential: the
server, the stream, the auth and the durable log are the real ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from aworld_client import (
    AsyncClient,
    Event,
    Message,
    MessageEmitted,
    Payload,
    Task,
    TaskResponse,
    TaskStatus,
    TaskStatusChanged,
)
from aworld_client.api import engine_service_pb2 as pb
from aworld_client.api import engine_service_pb2_grpc as pb_grpc
from aworld_server.engine_worker.control_plane import ControlPlane
from aworld_server.engine_worker.control_plane_store import ControlPlaneStore
from aworld_server.engines import JobResult, TaskJob
from aworld_server.server import RunningServer
from aworld_server.storage import PartialWrite
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from server_harness import WAIT, StartServer, TcpProxy, answer_task, assert_eventually

TOKEN = "append-stream-token"
NAMESPACE = "team-appends"
PRINCIPALS = {
    "tester": {"tokens": [TOKEN], "namespaces": [NAMESPACE], "scopes": ["submit", "read"]}
}


class HeldJobs:
    """An engine whose jobs the test runs itself: it keeps each task's latest job."""

    name = "held"

    def __init__(self) -> None:
        self.jobs: dict[str, TaskJob] = {}
        self._results: asyncio.Queue[JobResult] = asyncio.Queue()

    async def start(self) -> None:
        pass

    async def submit(self, job: TaskJob) -> None:
        self.jobs[job.task_id] = job

    async def results(self) -> AsyncIterator[JobResult]:
        while True:
            yield await self._results.get()

    def report(self, job: TaskJob, response: TaskResponse) -> None:
        """The job's result, as a worker sends it back once the task's end is on record."""
        self._results.put_nowait(JobResult(job.task_id, response=response, job_id=job.job_id))

    async def cancel(self, task_id: str) -> None:
        pass

    async def close(self) -> None:
        pass


@pytest.fixture
async def served(start: StartServer) -> tuple[RunningServer, HeldJobs]:
    server = await start(principals=PRINCIPALS)
    engine = HeldJobs()
    await server.runtime.add_engine(engine)
    return server, engine


async def _submit(server: RunningServer, engine: HeldJobs, count: int) -> list[TaskJob]:
    async with AsyncClient(server.address, token=TOKEN) as client:
        ids = [await client.submit(answer_task(engine="held")) for _ in range(count)]
    return [engine.jobs[task_id] for task_id in ids]


def _events(job: TaskJob, count: int) -> list[Event]:
    """``count`` events after TaskSubmitted, the last one the task's end."""
    task = Task.from_bytes(job.task)
    now = datetime.now(UTC)
    events = [
        Event(
            task_id=job.task_id,
            seq=seq,
            time=now,
            session_id=task.session_id,
            body=MessageEmitted(
                message=Message(id=f"m{seq}", task_id=job.task_id, payload=Payload.of({"n": seq}))
            ),
        )
        for seq in range(2, count + 1)
    ]
    done = TaskResponse(id=job.task_id, status=TaskStatus.SUCCEEDED, answer=Payload.of("ok"))
    events.append(
        Event(
            task_id=job.task_id,
            seq=count + 1,
            time=now,
            session_id=task.session_id,
            body=TaskStatusChanged(status=TaskStatus.SUCCEEDED, response=done),
        )
    )
    return events


def _worker(target: str, jobs: list[TaskJob]) -> ControlPlaneStore:
    """The engine worker's store, running ``jobs`` (first runs: their log is TaskSubmitted)."""
    store = ControlPlaneStore(ControlPlane(target, jobs[0].token))
    for job in jobs:
        store.jobs[job.task_id] = job.job_id
        store.seed(job.task_id, 1)
    return store


async def test_a_cut_append_stream_loses_and_duplicates_nothing(
    served: tuple[RunningServer, HeldJobs],
) -> None:
    server, engine = served
    jobs = await _submit(server, engine, 8)
    host, port = server.address.rsplit(":", 1)
    proxy = await TcpProxy(host, int(port)).start()
    store = _worker(proxy.target, jobs)
    sent = {job.task_id: _events(job, 30) for job in jobs}
    acked = 0

    async def run(task_id: str) -> None:
        nonlocal acked
        for event in sent[task_id]:  # one durability barrier per event: many round trips
            await store.append([event])
            acked += 1

    async def cut_twice() -> None:
        for share in (0.25, 0.6):
            # Cut while appends are unanswered: they must be sent again on a new stream.
            await assert_eventually(
                lambda share=share: acked >= share * 8 * 30 and store.appends.unanswered > 0
            )
            assert proxy.cut() == 1  # one connection: every task shares the worker's stream

    try:
        async with asyncio.timeout(WAIT):
            await asyncio.gather(cut_twice(), *(run(job.task_id) for job in jobs))
    finally:
        await store.close()
        await store.control_plane.close()
        await proxy.close()

    assert store.appends.streams_opened >= 3 and proxy.connections >= 3
    for job in jobs:
        stored = await server.runtime.store.read(job.task_id)
        # Every event once, in order, as sent: nothing lost, nothing stored twice.
        assert [e.seq for e in stored] == list(range(1, 32))
        assert [(e.seq, e.body) for e in stored[1:]] == [(e.seq, e.body) for e in sent[job.task_id]]
        response = await server.runtime.wait(job.task_id)
        assert response.status == TaskStatus.SUCCEEDED
        engine.report(job, response)


def _request(batch_id: int, job: TaskJob, events: list[Event], job_id: str) -> Any:
    return pb.AppendEventStreamRequest(
        batch_id=batch_id,
        appends=[
            pb.AppendEventsRequest(
                task_id=job.task_id, events=[e.to_proto() for e in events], job_id=job_id
            )
        ],
    )


async def test_an_append_sent_again_is_acknowledged_and_stored_once(
    served: tuple[RunningServer, HeldJobs],
) -> None:
    server, engine = served
    [job] = await _submit(server, engine, 1)
    events = _events(job, 3)
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = pb_grpc.EngineServiceStub(channel)
        credential = (("authorization", f"Bearer {job.token}"),)
        call = stub.AppendEventStream(metadata=credential)
        await call.write(_request(1, job, events[:2], job.job_id))
        first = await call.read()
        # The same append again (its answer was lost, say), then the next one.
        await call.write(_request(2, job, events[:2], job.job_id))
        await call.write(_request(3, job, events[2:], job.job_id))
        answers = {first.batch_id: first}
        for _ in range(2):
            answer = await call.read()
            answers[answer.batch_id] = answer
        await call.done_writing()

    assert [(r.code, r.last_seq) for r in answers[1].results] == [(0, 3)]
    assert [(r.code, r.last_seq) for r in answers[2].results] == [(0, 3)]
    assert [(r.code, r.last_seq) for r in answers[3].results] == [(0, 4)]
    stored = await server.runtime.store.read(job.task_id)
    assert [e.seq for e in stored] == [1, 2, 3, 4]
    engine.report(job, await server.runtime.wait(job.task_id))


async def test_a_superseded_jobs_stream_appends_are_refused_and_the_current_job_goes_on(
    served: tuple[RunningServer, HeldJobs],
) -> None:
    server, engine = served
    [old] = await _submit(server, engine, 1)
    events = _events(old, 4)
    old_worker = _worker(server.address, [old])
    await old_worker.append(events[:1])  # the first job writes while it is current

    # The task is handed out again (a lost worker's retry): the first job is superseded.
    await server.runtime.engines.submit(engine, Task.from_bytes(old.task), fresh=False)
    new = engine.jobs[old.task_id]
    assert new.job_id != old.job_id and server.runtime.current_job(old.task_id) == new.job_id

    try:
        with pytest.raises(PartialWrite) as refused:
            await old_worker.append(events[1:2])
        # The engine credential reaches a task only with its current job: a stale one finds
        # nothing there, as on unary AppendEvents.
        error = refused.value.failed[old.task_id]
        assert isinstance(error, grpc.aio.AioRpcError)
        assert error.code() == grpc.StatusCode.NOT_FOUND

        new_worker = _worker(server.address, [new])
        new_worker.seed(new.task_id, 2)
        try:
            await new_worker.append(events[1:])  # the same stream goes on for the current job
        finally:
            await new_worker.close()
            await new_worker.control_plane.close()
        # The refusal was one append's result, not the stream's end.
        assert old_worker.appends.streams_opened == 1
    finally:
        await old_worker.close()
        await old_worker.control_plane.close()

    stored = await server.runtime.store.read(old.task_id)
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    response = await server.runtime.wait(old.task_id)
    assert response.status == TaskStatus.SUCCEEDED
    engine.report(new, response)


async def test_a_superseded_job_is_refused_as_superseded_without_engine_credentials(
    start: StartServer,
) -> None:
    """Authentication off (every caller may touch every task): the job fence alone refuses
    the stale job, FAILED_PRECONDITION naming it superseded."""
    server = await start()
    engine = HeldJobs()
    await server.runtime.add_engine(engine)
    [old] = await _submit(server, engine, 1)
    await server.runtime.engines.submit(engine, Task.from_bytes(old.task), fresh=False)
    async with grpc.aio.insecure_channel(server.address) as channel:
        call = pb_grpc.EngineServiceStub(channel).AppendEventStream()
        await call.write(_request(1, old, _events(old, 1)[:1], old.job_id))
        answer = await call.read()
        await call.done_writing()
    [result] = answer.results
    assert result.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert "superseded" in result.message
    assert [e.seq for e in await server.runtime.store.read(old.task_id)] == [1]


async def test_a_caller_without_the_engine_scope_cannot_append(
    served: tuple[RunningServer, HeldJobs],
) -> None:
    server, _ = served
    async with grpc.aio.insecure_channel(server.address) as channel:
        call = pb_grpc.EngineServiceStub(channel).AppendEventStream(
            metadata=(("authorization", f"Bearer {TOKEN}"),)
        )
        await call.write(pb.AppendEventStreamRequest(batch_id=1))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call.read()
    # The tester's token may submit and read, not write tasks' logs.
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_empty_request_ends_the_stream_as_invalid_argument(start: StartServer) -> None:
    server = await start()
    async with grpc.aio.insecure_channel(server.address) as channel:
        call = pb_grpc.EngineServiceStub(channel).AppendEventStream()
        await call.write(pb.AppendEventStreamRequest(batch_id=1))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call.read()
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(refused.value)
    assert status is not None
    fields = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    assert fields == ["appends"]


async def test_an_append_too_big_for_the_control_plane_fails_alone(
    start: StartServer,
) -> None:
    """A task's append past the server's message limit (a huge tool output) fails that task's
    append, as its own unary call would; the other tasks' appends on the same stream are
    stored."""
    server = await start(principals=PRINCIPALS, max_message_bytes=2 << 20)
    engine = HeldJobs()
    await server.runtime.add_engine(engine)
    big_job, *small_jobs = await _submit(server, engine, 4)
    store = _worker(server.address, [big_job, *small_jobs])
    huge = _events(big_job, 2)[0]
    huge.body.message.payload = Payload.of({"output": "x" * (3 << 20)})
    small = {job.task_id: _events(job, 20) for job in small_jobs}

    async def run(task_id: str) -> None:
        for event in small[task_id]:
            await store.append([event])

    try:
        async with asyncio.timeout(WAIT):
            outcomes = await asyncio.gather(
                store.append([huge]), *(run(j.task_id) for j in small_jobs), return_exceptions=True
            )
    finally:
        await store.close()
        await store.control_plane.close()
    refused, *others = outcomes
    # The worker's store reports the task's write as failed (PartialWrite), with the reason.
    assert isinstance(refused, PartialWrite) and "RESOURCE_EXHAUSTED" in str(refused), outcomes
    assert others == [None] * len(small_jobs)
    assert [e.seq for e in await server.runtime.store.read(big_job.task_id)] == [1]
    for job in small_jobs:
        stored = await server.runtime.store.read(job.task_id)
        assert [e.seq for e in stored] == list(range(1, 22))
        engine.report(job, await server.runtime.wait(job.task_id))
