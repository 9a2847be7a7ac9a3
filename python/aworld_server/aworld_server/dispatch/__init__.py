"""Remote handlers: the registry of connected workers and the dispatch of calls to them.

``WorkerDispatcher`` is the one entry point; the WorkerService servicer
(``aworld_server.api.worker_service``) feeds it worker streams, the runtime calls
``call_attempt`` / ``cancel_task`` on it (retries are the runtime's). Its errors are in
``aworld_server.errors``.
"""

from aworld_server.dispatch._dispatcher import WorkerDispatcher
from aworld_server.dispatch._session import WorkerSession
from aworld_server.dispatch._types import (
    AttemptFinished,
    AttemptStarted,
    ChunkReceived,
    CompletionRejected,
    DispatchEvent,
    DispatchObserver,
    OnStart,
    Pending,
)
from aworld_server.dispatch._validation import check_hello
from aworld_server.dispatch.handler_call import HandlerCall
from aworld_server.errors import (
    AttemptTimedOut,
    CallCancelled,
    InvalidInput,
    OutcomeUnknown,
    ScheduleToStartTimeout,
    WorkerLost,
)

__all__ = [
    "AttemptFinished",
    "AttemptStarted",
    "AttemptTimedOut",
    "CallCancelled",
    "ChunkReceived",
    "CompletionRejected",
    "DispatchEvent",
    "DispatchObserver",
    "HandlerCall",
    "InvalidInput",
    "OnStart",
    "OutcomeUnknown",
    "Pending",
    "ScheduleToStartTimeout",
    "WorkerDispatcher",
    "WorkerLost",
    "WorkerSession",
    "check_hello",
]
