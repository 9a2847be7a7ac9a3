"""Runners: the task lifecycle and the execution modes."""

from aworld_server.runners.base import Runner
from aworld_server.runners.call_runner import CallRunner
from aworld_server.runners.event_runner import EventRunner
from aworld_server.runners.execution import BudgetExhausted, TaskExecution, TaskFailed

__all__ = ["BudgetExhausted", "CallRunner", "EventRunner", "Runner", "TaskExecution", "TaskFailed"]
