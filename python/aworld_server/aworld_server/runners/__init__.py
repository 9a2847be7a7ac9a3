"""Runners: the task lifecycle (``base``) and the execution modes (event- and call-driven),
built on the pieces of one run (``execution``) and the ``RunContext`` they may use."""

from aworld_server.runners.base import Runner
from aworld_server.runners.call_runner import CallRunner
from aworld_server.runners.context import HandlerGateway, RunContext, SessionAccess
from aworld_server.runners.event_runner import EventRunner
from aworld_server.runners.execution import TaskExecution

__all__ = [
    "CallRunner",
    "EventRunner",
    "HandlerGateway",
    "RunContext",
    "Runner",
    "SessionAccess",
    "TaskExecution",
]
