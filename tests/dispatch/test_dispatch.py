"""Calls dispatched to real worker processes (``worker_app.py``) over a real gRPC server:
results, validation, reassignment when a worker dies or hangs, fencing of late results,
cancellation, flow control, load balancing and reconnection."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from aworld_client import HandlerKind, Payload, RetryPolicy
from aworld_server.dispatch import (
    AttemptFinished,
    AttemptStarted,
    AttemptTimedOut,
    CallCancelled,
    CompletionRejected,
    DispatchEvent,
    InvalidInput,
    Pending,
    ScheduleToStartTimeout,
    WorkerDispatcher,
    WorkerLost,
)
from aworld_server.errors import HandlerFailed, InvalidArgument, NotFound
from aworld_server.retry import is_retryable
from dispatch_harness import WAIT, Server, WorkerProcess, assert_eventually, run_call

TOOL = HandlerKind.TOOL
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=3)


def value(result: Payload | Pending) -> Any:
    assert isinstance(result, Payload), result
    return result.value()


async def ready(dispatcher: WorkerDispatcher, workers: int = 1) -> None:
    async with asyncio.timeout(WAIT):
        await dispatcher.wait_for_handler("block", TOOL, workers=workers)


def call_block(
    dispatcher: WorkerDispatcher, key: str, **options: Any
) -> asyncio.Task[Payload | Pending]:
    return asyncio.create_task(
        run_call(
            dispatcher, "block", TOOL, Payload.of({"key": key}), retry_policy=FAST_RETRY, **options
        )
    )


async def test_call_reaches_worker_tool_and_returns_its_result(
    server: Server, spawn_worker: Any, events: list[DispatchEvent]
) -> None:
    worker = await spawn_worker()
    await ready(server.dispatcher)
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    result = await run_call(
        server.dispatcher,
        "echo",
        TOOL,
        Payload.of({"text": "hi"}),
        call_id="call-1",
        task_id="task-1",
        headers={"traceparent": traceparent},
    )

    assert value(result) == {
        "text": "hi",
        "pid": worker.pid,
        "attempt": 1,
        "traceparent": traceparent,
        "task_id": "task-1",
        "idempotency_key": "call-1",  # no key given: the call id, the same on every attempt
    }
    (info,) = server.dispatcher.workers()
    assert info.labels == {"pid": str(worker.pid)} and info.sdk.startswith("python/")
    assert {(h.spec.name, h.spec.kind) for h in server.dispatcher.handlers() if h.spec} == {
        ("echo", TOOL),
        ("block", TOOL),
        ("block_once", TOOL),
        ("fail", TOOL),
        ("freeze", TOOL),
        ("reviewer", HandlerKind.AGENT),
        ("planner", HandlerKind.AGENT),
        ("broken_agent", HandlerKind.AGENT),
    }
    started, finished = (e for e in events if isinstance(e, AttemptStarted | AttemptFinished))
    assert isinstance(started, AttemptStarted) and started.worker_id == info.worker_id
    assert isinstance(finished, AttemptFinished) and finished.outcome == result


async def test_schema_invalid_input_never_reaches_a_worker(
    server: Server, spawn_worker: Any, events: list[DispatchEvent]
) -> None:
    await spawn_worker()
    await ready(server.dispatcher)

    with pytest.raises(InvalidInput) as caught:
        await run_call(
            server.dispatcher,
            "echo",
            TOOL,
            Payload.of({"text": 5, "extra": True}),
            retry_policy=FAST_RETRY,
        )

    error = caught.value
    assert isinstance(error, InvalidArgument)  # the gRPC layer answers INVALID_ARGUMENT
    assert error.failure.non_retryable and not is_retryable(error, FAST_RETRY)
    assert {v.field for v in error.violations} == {"input.text", "input"}
    assert events == []  # no attempt was ever pushed

    with pytest.raises(NotFound):
        await run_call(server.dispatcher, "no_such_tool", TOOL, Payload.of({}))


async def test_handler_exception_comes_back_as_failure(server: Server, spawn_worker: Any) -> None:
    await spawn_worker()
    await ready(server.dispatcher)

    with pytest.raises(HandlerFailed) as caught:
        await server.dispatcher.call_attempt(
            "fail-1", 1, "fail", TOOL, Payload.of({"message": "boom"})
        )

    failure = caught.value.failure
    assert (failure.type, failure.message, failure.non_retryable) == ("ValueError", "boom", False)
    assert "raise ValueError(message)" in failure.stack_trace
    assert failure.source.startswith("worker:")


async def test_call_is_reassigned_when_its_worker_is_killed(
    server: Server, spawn_worker: Any
) -> None:
    workers = {w.pid: w for w in [await spawn_worker(), await spawn_worker()]}
    await ready(server.dispatcher, workers=2)

    call = call_block(server.dispatcher, "k1")
    first = await _first_to_start(workers.values(), "k1", attempt=1)
    await first.kill()
    (other,) = [w for w in workers.values() if w is not first]
    await other.expect(r"^started k1 2 ")
    other.command("release k1")

    assert value(await call) == {"key": "k1", "pid": other.pid, "attempt": 2}


async def test_lost_call_of_non_idempotent_tool_is_not_rerun(
    server: Server, spawn_worker: Any, events: list[DispatchEvent]
) -> None:
    workers = [await spawn_worker(), await spawn_worker()]
    await ready(server.dispatcher, workers=2)

    call = asyncio.create_task(
        run_call(
            server.dispatcher,
            "block_once",
            TOOL,
            Payload.of({"key": "n1"}),
            retry_policy=FAST_RETRY,
        )
    )
    await (await _first_to_start(workers, "n1")).kill()

    with pytest.raises(WorkerLost) as caught:
        await call
    assert caught.value.failure.non_retryable  # it may have had effects: never run it twice
    assert [e.attempt for e in events if isinstance(e, AttemptStarted)] == [1]


async def test_hung_worker_is_replaced_and_its_late_result_rejected(
    server: Server, spawn_worker: Any, events: list[DispatchEvent]
) -> None:
    workers = [await spawn_worker(), await spawn_worker()]
    await ready(server.dispatcher, workers=2)

    call = asyncio.create_task(
        run_call(
            server.dispatcher, "freeze", TOOL, Payload.of({"key": "f1"}), retry_policy=FAST_RETRY
        )
    )
    frozen = await _first_to_start(workers, "f1", pattern=r"^freezing f1 ")
    (healthy,) = [w for w in workers if w is not frozen]

    # Attempt 1 is lost after the heartbeat timeout; attempt 2 runs on the healthy worker.
    assert value(await call) == {"key": "f1", "pid": healthy.pid, "attempt": 2}

    frozen.signal(signal.SIGCONT)  # it finishes attempt 1 and reports it: too late
    await frozen.expect(r"rejected by the server: superseded")
    assert any(
        isinstance(e, CompletionRejected) and e.attempt == 1 and e.reason == "superseded"
        for e in events
    )
    # A worker that speaks again is taken back.
    await assert_eventually(lambda: len(server.dispatcher.workers("freeze")) == 2)


@pytest.mark.parametrize("how", ["cancel_task", "cancel_caller"])
async def test_cancellation_reaches_the_handler(
    server: Server, spawn_worker: Any, how: str
) -> None:
    worker = await spawn_worker()
    await ready(server.dispatcher)
    key = f"c-{how}"

    call = call_block(server.dispatcher, key, task_id=f"task-{how}")
    await worker.expect(rf"^started {key} 1 ")
    if how == "cancel_task":
        assert await server.dispatcher.cancel_task(f"task-{how}", "user asked") == 1
        with pytest.raises(CallCancelled):
            await call
    else:
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    await worker.expect(rf"^cancelled {key} 1$")
    await assert_eventually(lambda: server.dispatcher.workers()[0].in_flight == 0)


async def test_attempt_deadline_cancels_on_the_worker(server: Server, spawn_worker: Any) -> None:
    worker = await spawn_worker()
    await ready(server.dispatcher)

    with pytest.raises(AttemptTimedOut) as caught:
        await server.dispatcher.call_attempt(
            "deadline-call",
            1,
            "block",
            TOOL,
            Payload.of({"key": "d1"}),
            timeout=timedelta(milliseconds=300),
        )

    assert is_retryable(caught.value, FAST_RETRY)  # block() is declared idempotent
    await worker.expect(r"^cancelled d1 1$")


async def test_max_concurrency_is_respected(
    server: Server, spawn_worker: Any, events: list[DispatchEvent]
) -> None:
    worker = await spawn_worker("--max-concurrency", "2")
    await ready(server.dispatcher)
    keys = [f"m{i}" for i in range(6)]
    calls = [call_block(server.dispatcher, key) for key in keys]

    finished = []
    for _ in keys:
        # Wait until two run, then release one; the next queued call takes its slot.
        await assert_eventually(
            lambda: len(worker.matches(r"^started ")) == min(len(finished) + 2, len(keys))
        )
        running = {m[1] for m in worker.matches(r"^started (\S+)")} - set(finished)
        assert server.dispatcher.workers()[0].in_flight == len(running) <= 2
        key = sorted(running)[0]
        worker.command(f"release {key}")
        finished.append(key)
        await calls[keys.index(key)]

    assert sorted([value(await c)["key"] for c in calls]) == keys
    assert max(int(m[1]) for m in worker.matches(r"^started \S+ \d+ \d+ (\d+)")) == 2
    assert _max_in_flight(events) == 2


async def test_load_is_balanced_across_workers(server: Server, spawn_worker: Any) -> None:
    workers = [await spawn_worker(), await spawn_worker()]
    await ready(server.dispatcher, workers=2)
    keys = [f"b{i}" for i in range(8)]

    calls = [call_block(server.dispatcher, key) for key in keys]
    await assert_eventually(lambda: sum(len(w.matches(r"^started ")) for w in workers) == 8)
    for worker in workers:
        for key in keys:
            worker.command(f"release {key}")

    pids = Counter([value(await c)["pid"] for c in calls])
    assert pids == {workers[0].pid: 4, workers[1].pid: 4}


async def test_worker_reconnects_after_server_restart(server: Server, spawn_worker: Any) -> None:
    worker = await spawn_worker()
    await ready(server.dispatcher)
    port = server.port

    await server.stop()
    await assert_eventually(lambda: server.dispatcher.workers() == [])
    await server.start()
    assert server.port == port
    await ready(server.dispatcher)

    result = await run_call(server.dispatcher, "echo", TOOL, Payload.of({"text": "again"}))
    assert value(result)["pid"] == worker.pid


async def test_graceful_stop_finishes_in_flight_calls(server: Server, spawn_worker: Any) -> None:
    worker = await spawn_worker()
    await ready(server.dispatcher)
    call = call_block(server.dispatcher, "g1")
    await worker.expect(r"^started g1 1 ")

    worker.command("stop")
    worker.command("release g1")

    assert value(await call)["key"] == "g1"
    await worker.expect(r"^exited$")
    assert await worker.process.wait() == 0
    await assert_eventually(lambda: server.dispatcher.workers() == [])


async def _first_to_start(
    workers: Any, key: str, *, attempt: int = 1, pattern: str = ""
) -> WorkerProcess:
    """The worker that started attempt ``attempt`` of ``key`` (whichever the dispatcher chose)."""
    pattern = pattern or rf"^started {key} {attempt} "
    waits = {asyncio.create_task(w.expect(pattern)): w for w in workers}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return waits[done.pop()]


def _max_in_flight(events: list[DispatchEvent]) -> int:
    """Most attempts running at once, by the dispatcher's own account."""
    running = peak = 0
    for event in events:
        if isinstance(event, AttemptStarted):
            running += 1
        elif isinstance(event, AttemptFinished):
            running -= 1
        peak = max(peak, running)
    return peak


async def test_a_call_waits_for_a_worker_of_a_declared_handler_then_runs(
    server: Server, spawn_worker: Any
) -> None:
    """No worker serves ``echo`` now, but one declared it before (it may be reconnecting):
    the call waits for a worker instead of failing, and runs once one connects."""
    first = await spawn_worker()
    await ready(server.dispatcher)
    await first.kill()
    await assert_eventually(lambda: not server.dispatcher.has_handler("echo", TOOL))

    waiting = asyncio.create_task(
        server.dispatcher.call_attempt(
            "c-wait",
            1,
            "echo",
            TOOL,
            Payload.of({"text": "later"}),
            idempotency_key="task-9/c-wait",
        )
    )
    second = await spawn_worker()  # started after the call: only it can answer
    result = value(await asyncio.wait_for(waiting, WAIT))
    assert (result["text"], result["pid"]) == ("later", second.pid)
    assert result["idempotency_key"] == "task-9/c-wait"


async def test_schedule_to_start_timeout_when_no_worker_comes(
    server: Server, spawn_worker: Any, events: list[DispatchEvent]
) -> None:
    worker = await spawn_worker()
    await ready(server.dispatcher)
    await worker.kill()
    await assert_eventually(lambda: not server.dispatcher.has_handler("echo", TOOL))

    with pytest.raises(ScheduleToStartTimeout) as caught:
        await server.dispatcher.call_attempt(
            "c-late",
            1,
            "echo",
            TOOL,
            Payload.of({"text": "x"}),
            schedule_to_start=timedelta(milliseconds=50),
        )
    failure = caught.value.failure
    assert failure.type == "ScheduleToStartTimeout" and failure.non_retryable
    assert not [e for e in events if isinstance(e, AttemptStarted) and e.call_id == "c-late"]
    # A name no worker ever declared is not waited for.
    with pytest.raises(NotFound):
        await run_call(server.dispatcher, "never_declared", TOOL, Payload.of({}))
