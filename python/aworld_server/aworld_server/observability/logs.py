"""Structured logs: one JSON object per line, with the task, trace and span it belongs to.

``aworld serve --log-format json`` installs :class:`JsonFormatter`. The task id comes from
:data:`current_task_id`, which a runner sets for everything it runs (asyncio copies it into
the tasks it starts); trace and span ids come from the current OpenTelemetry span, so a log
line can be joined with its trace. Every line, JSON or text, goes through :func:`redact`:
bearer tokens, API keys and ``password=``-style values never reach the output. Payloads
(inputs, outputs, arguments) are logged at DEBUG only; INFO says what happened, not with what.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

from opentelemetry import trace

__all__ = ["JsonFormatter", "RedactingFilter", "TextFormatter", "current_task_id", "redact"]

current_task_id: ContextVar[str] = ContextVar("aworld_task_id", default="")
"""The task whose code is running (empty outside any task)."""

_SECRETS = [
    # "Authorization: Bearer abc", "bearer abc"
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [REDACTED]"),
    # OpenAI-style keys anywhere in a message
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "[REDACTED]"),
    # key=value / key: value / "key": "value" for secret-looking keys
    (
        re.compile(
            r"""(?ix)(["']?\b[\w-]*(?:token|secret|password|passwd|api[_-]?key|authorization)
            ["']?\s*[:=]\s*)(["']?)(?!bearer\s)(?!\[REDACTED\])[^\s"',}]+"""
        ),
        r"\1\2[REDACTED]",
    ),
]


def redact(text: str) -> str:
    """``text`` with secrets replaced by ``[REDACTED]``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Redacts each record's message (arguments merged in) before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class TextFormatter(logging.Formatter):
    """``<time> <level> <logger>: [task <id>] <message>`` per line: the plain text a log file
    or collector reads (and cheap: a busy server logs a few lines per task). ``timestamps``
    off leaves the time to a handler that prints its own (the terminal's rich handler)."""

    def __init__(self, *, timestamps: bool = True) -> None:
        super().__init__()
        self._timestamps = timestamps

    def format(self, record: logging.LogRecord) -> str:
        task_id = getattr(record, "task_id", "") or current_task_id.get()
        message = f"[task {task_id}] {record.getMessage()}" if task_id else record.getMessage()
        if self._timestamps:
            when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            message = f"{when} {record.levelname:<7} {record.name}: {message}"
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        return message


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "task_id", "trace_id", "span_id"}`` per line,
    plus ``exception`` when there is one. Ids are empty strings outside a task or span."""

    def format(self, record: logging.LogRecord) -> str:
        context = trace.get_current_span().get_span_context()
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "task_id": getattr(record, "task_id", "") or current_task_id.get(),
            "trace_id": format(context.trace_id, "032x") if context.is_valid else "",
            "span_id": format(context.span_id, "016x") if context.is_valid else "",
        }
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)
