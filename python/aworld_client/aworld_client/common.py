"""Shared value types: Payload, Failure, RetryPolicy, Usage."""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Self

from aworld_client._convert import ProtoModel, proto_model
from aworld_client._proto.aworld.runtime.v1 import common_pb2

__all__ = ["Failure", "Payload", "RetryPolicy", "Usage"]


@proto_model(common_pb2.Payload)
@dataclass(slots=True, frozen=True, kw_only=True)
class Payload(ProtoModel):
    """A language-neutral value: JSON text, plain text or bytes. At most one of the three is set.

    Build one with :meth:`of` (any JSON-serialisable value), :meth:`from_text` or
    :meth:`from_bytes_value`; read it back with :meth:`value`.
    """

    json: str | None = None
    text: str | None = None
    data: bytes | None = None
    media_type: str = ""

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.json, self.text, self.data)) > 1:
            raise ValueError("a Payload holds at most one of json, text and data")

    @classmethod
    def of(cls, value: Any) -> Self:
        """A JSON payload of ``value``; ``str`` stays JSON too, so types survive round trips."""
        return cls(json=_json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    @classmethod
    def from_value(cls, value: Any) -> Self:
        """A payload for a plain value, as task files and the CLI take them: a Payload as is,
        a ``str`` as text, ``bytes`` as data, any other JSON value as JSON. TypeError for
        values JSON cannot hold."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.from_text(value)
        if isinstance(value, bytes):
            return cls.from_bytes_value(value)
        try:
            return cls.of(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"expected a Payload or a JSON value (str, number, bool, None, list, dict), "
                f"not {type(value).__name__}"
            ) from None

    @classmethod
    def from_text(cls, text: str, media_type: str = "") -> Self:
        """A plain-text payload."""
        return cls(text=text, media_type=media_type)

    @classmethod
    def from_bytes_value(cls, data: bytes, media_type: str = "") -> Self:
        """An opaque-bytes payload."""
        return cls(data=data, media_type=media_type)

    @property
    def is_empty(self) -> bool:
        """True when no value is set."""
        return self.json is None and self.text is None and self.data is None

    def value(self) -> Any:
        """The decoded value: the parsed JSON, the text, the bytes, or None when empty."""
        if self.json is not None:
            return _json.loads(self.json)
        if self.text is not None:
            return self.text
        return self.data

    def as_text(self) -> str:
        """The value as display text: text as is, JSON strings unquoted, other JSON as JSON."""
        if self.text is not None:
            return self.text
        if self.json is not None:
            value = _json.loads(self.json)
            return value if isinstance(value, str) else self.json
        if self.data is not None:
            return self.data.decode("utf-8", errors="replace")
        return ""

    def _fill(self, message: Any) -> None:
        if self.json is not None:
            message.json = self.json
        elif self.text is not None:
            message.text = self.text
        elif self.data is not None:
            message.data = self.data
        if self.media_type:
            message.media_type = self.media_type

    @classmethod
    def from_proto(cls, message: Any) -> Self:
        kind = message.WhichOneof("kind")
        if kind is None:
            return cls(media_type=message.media_type)
        return cls(media_type=message.media_type, **{kind: getattr(message, kind)})


@proto_model(common_pb2.Failure)
@dataclass(slots=True, kw_only=True)
class Failure(ProtoModel):
    """A structured error with its cause chain."""

    type: str = ""
    message: str = ""
    non_retryable: bool = False
    cause: Failure | None = None
    stack_trace: str = ""
    source: str = ""
    details: Payload | None = None

    @classmethod
    def from_exception(
        cls, error: BaseException, *, source: str = "", non_retryable: bool = False
    ) -> Self:
        """Describe an exception, following ``__cause__`` / ``__context__`` for the chain."""
        import traceback

        cause = error.__cause__ or error.__context__
        return cls(
            type=type(error).__name__,
            message=str(error),
            non_retryable=non_retryable,
            cause=Failure.from_exception(cause) if cause is not None else None,
            stack_trace="".join(traceback.format_exception(error, chain=False)),
            source=source,
        )

    def chain(self) -> list[Failure]:
        """This failure followed by its causes, outermost first."""
        out: list[Failure] = []
        current: Failure | None = self
        while current is not None:
            out.append(current)
            current = current.cause
        return out


@proto_model(common_pb2.RetryPolicy)
@dataclass(slots=True, kw_only=True)
class RetryPolicy(ProtoModel):
    """How failed work is retried; zero values mean the defaults (see :meth:`resolved`)."""

    initial_interval: timedelta | None = None
    backoff_coefficient: float = 0.0
    maximum_interval: timedelta | None = None
    maximum_attempts: int = 0
    non_retryable_error_types: list[str] = field(default_factory=list)

    def resolved(self) -> RetryPolicy:
        """A copy with every default filled in (1 s, x2.0, 100 x initial, 3 attempts)."""
        initial = self.initial_interval or timedelta(seconds=1)
        return RetryPolicy(
            initial_interval=initial,
            backoff_coefficient=self.backoff_coefficient or 2.0,
            maximum_interval=self.maximum_interval or initial * 100,
            maximum_attempts=self.maximum_attempts or 3,
            non_retryable_error_types=list(self.non_retryable_error_types),
        )


@proto_model(common_pb2.Usage)
@dataclass(slots=True, kw_only=True)
class Usage(ProtoModel):
    """Resources consumed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    llm_calls: int = 0
    tool_calls: int = 0
    steps: int = 0

    def add(self, other: Usage) -> None:
        """Add ``other`` into this usage in place."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens
        self.llm_calls += other.llm_calls
        self.tool_calls += other.tool_calls
        self.steps += other.steps
