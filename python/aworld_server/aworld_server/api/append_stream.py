"""The serving side of ``EngineService.AppendEventStream``: batches of appends from one engine
worker, each answered once all of its appends are persisted or refused.

Batches are handled concurrently (one task's slow write does not hold up another's), but the
appends of one task apply in the order they arrived: each waits for the task's previous one.
A refused append is that append's result, not the stream's end; only a malformed request ends
the stream (with its status).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aworld_client.api import engine_service_pb2 as pb

from aworld_server.api.status import status_of
from aworld_server.errors import AWorldError, FieldViolation, InvalidArgument

__all__ = ["Append", "serve_appends"]

log = logging.getLogger(__name__)

Append = Callable[[pb.AppendEventsRequest], Awaitable[int]]
"""Checks and persists one append; returns the task's last seq, raises why it was refused."""

_END = None


async def serve_appends(
    requests: AsyncIterator[pb.AppendEventStreamRequest], append: Append
) -> AsyncIterator[pb.AppendEventStreamResponse]:
    """One response per request, in the order they complete; ends after the client's last
    request is answered."""
    answers: asyncio.Queue[pb.AppendEventStreamResponse | BaseException | None] = asyncio.Queue()
    last_of_task: dict[str, asyncio.Future[pb.AppendResult]] = {}
    parts: set[asyncio.Future[pb.AppendResult]] = set()  # appends being handled
    unanswered = 0  # requests not answered yet
    all_answered = asyncio.Event()

    async def one(
        request: pb.AppendEventsRequest, previous: asyncio.Future[pb.AppendResult] | None
    ) -> pb.AppendResult:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own; only the order matters
        try:
            return pb.AppendResult(task_id=request.task_id, last_seq=await append(request))
        except Exception as error:
            if not isinstance(error, AWorldError):
                log.exception("an append of task %s failed", request.task_id)
            status = status_of(error)
            return pb.AppendResult(
                task_id=request.task_id, code=status.code, message=status.message
            )

    def started(request: pb.AppendEventsRequest) -> asyncio.Future[pb.AppendResult]:
        task_id = request.task_id
        part = asyncio.ensure_future(one(request, last_of_task.get(task_id)))
        last_of_task[task_id] = part
        parts.add(part)

        def done(finished: asyncio.Future[pb.AppendResult]) -> None:
            parts.discard(finished)
            if last_of_task.get(task_id) is finished:
                del last_of_task[task_id]

        part.add_done_callback(done)
        return part

    def answer_when_done(batch_id: int, batch: list[asyncio.Future[pb.AppendResult]]) -> None:
        """Answer the request once all its appends are handled (callbacks: no task, no
        gather per request, on a path taken for every barrier of every engine task)."""
        nonlocal unanswered
        unanswered += 1
        remaining = len(batch)

        def done(_: asyncio.Future[pb.AppendResult]) -> None:
            nonlocal remaining, unanswered
            remaining -= 1
            if remaining:
                return
            unanswered -= 1
            if not unanswered:
                all_answered.set()
            if not any(part.cancelled() for part in batch):  # cancelled: the stream is over
                results = [part.result() for part in batch]
                answers.put_nowait(pb.AppendEventStreamResponse(batch_id=batch_id, results=results))

        all_answered.clear()
        for part in batch:
            part.add_done_callback(done)

    async def read() -> None:
        try:
            async for request in requests:
                if not request.appends:
                    raise InvalidArgument(
                        "appends is required", [FieldViolation("appends", "is empty")]
                    )
                answer_when_done(request.batch_id, [started(a) for a in request.appends])
            if unanswered:  # the client is done sending: answer what it sent, then end
                await all_answered.wait()
        except Exception as error:
            answers.put_nowait(error)
        else:
            answers.put_nowait(_END)

    reader = asyncio.create_task(read())
    try:
        while (item := await answers.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # The stream ended or broke: stop waiting. Writes already handed to the event manager
        # finish anyway (they are shielded there); the client sends what it misses again.
        reader.cancel()
        for part in list(parts):
            part.cancel()
