"""Our tasks and events as A2A objects, and A2A messages as our payloads.

One direction each, no state of its own beyond a fold over a task's event log:

===============================  =========================================================
ours                             A2A
===============================  =========================================================
task id / session id             task ``id`` / ``contextId``
PENDING, RUNNING                 ``submitted``, ``working``
INPUT_REQUIRED + InputRequested  ``input-required``, the prompt as the status message
SUCCEEDED                        ``completed``, the answer as artifact ``answer``
FAILED, TIMED_OUT, INTERRUPTED   ``failed`` (our status and reason in ``metadata.aworld``;
                                 a partial answer still comes as the ``answer`` artifact)
CANCELLED                        ``canceled``
task input, provided inputs      ``user`` messages of ``history``
input prompts, the answer        ``agent`` messages of ``history``
an agent step's text             a ``working`` status update while streaming
===============================  =========================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from a2a.types import (
    Artifact,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)
from aworld_client import (
    Event,
    InputProvided,
    InputRequested,
    Payload,
    RunNodeChanged,
    RunNodeKind,
    RunNodeStatus,
    TaskResponse,
    TaskStatusChanged,
    TaskSubmitted,
)
from aworld_client import TaskStatus as OurStatus
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.struct_pb2 import Struct, Value

from aworld_server.errors import FieldViolation, InvalidArgument

__all__ = [
    "ANSWER_ARTIFACT",
    "TaskFold",
    "a2a_state",
    "parts_of",
    "payload_of",
]

ANSWER_ARTIFACT = "answer"

_STATES = {
    OurStatus.PENDING: TaskState.TASK_STATE_SUBMITTED,
    OurStatus.RUNNING: TaskState.TASK_STATE_WORKING,
    OurStatus.INPUT_REQUIRED: TaskState.TASK_STATE_INPUT_REQUIRED,
    OurStatus.SUCCEEDED: TaskState.TASK_STATE_COMPLETED,
    OurStatus.FAILED: TaskState.TASK_STATE_FAILED,
    OurStatus.CANCELLED: TaskState.TASK_STATE_CANCELED,
    OurStatus.TIMED_OUT: TaskState.TASK_STATE_FAILED,
    OurStatus.INTERRUPTED: TaskState.TASK_STATE_FAILED,
}


def a2a_state(status: OurStatus) -> TaskState:
    return _STATES.get(status, TaskState.TASK_STATE_SUBMITTED)


def payload_of(message: Message, path: str = "message.parts") -> Payload:
    """The payload an A2A message stands for: its text, or the value of its one data part.

    Files are refused (nothing here could read them); so is a message with nothing in it."""
    texts: list[str] = []
    data: list[Any] = []
    for i, part in enumerate(message.parts):
        kind = part.WhichOneof("content")
        if kind == "text":
            texts.append(part.text)
        elif kind == "data":
            data.append(MessageToDict(part.data))
        else:
            raise InvalidArgument(
                "unsupported message part",
                [FieldViolation(f"{path}[{i}]", "only text and data parts are accepted")],
            )
    if data and (texts or len(data) > 1):
        raise InvalidArgument(
            "ambiguous message",
            [FieldViolation(path, "send text parts, or exactly one data part")],
        )
    if data:
        return Payload.of(data[0])
    text = "\n".join(texts)
    if not text:
        raise InvalidArgument("empty message", [FieldViolation(path, "must carry some text")])
    return Payload.from_text(text)


def parts_of(payload: Payload | None) -> list[Part]:
    """A payload as A2A parts: text as text, JSON as data, bytes as raw with its media type."""
    if payload is None or payload.is_empty:
        return []
    if payload.text is not None:
        return [Part(text=payload.text)]
    if payload.data is not None:
        return [Part(raw=payload.data, media_type=payload.media_type)]
    value = payload.value()
    if isinstance(value, str):  # a JSON string is text to a client
        return [Part(text=value)]
    return [Part(data=ParseDict(value, Value()))]


def _message(
    role: Role, payload: Payload | None, *, task_id: str, context_id: str, seq: int
) -> Message:
    # Ids derived from the event, so every read of the log names a message the same way.
    return Message(
        message_id=f"{task_id}:{seq}",
        role=role,
        parts=parts_of(payload),
        task_id=task_id,
        context_id=context_id,
    )


def _text_message(text: str, *, task_id: str, context_id: str, seq: int) -> Message:
    return _message(
        Role.ROLE_AGENT,
        Payload.from_text(text),
        task_id=task_id,
        context_id=context_id,
        seq=seq,
    )


def _aworld_metadata(response: TaskResponse | None, status: OurStatus, reason: str) -> Struct:
    data: dict[str, Any] = {"status": status.name}
    if reason:
        data["statusReason"] = reason
    if response is not None and response.failure is not None:
        data["failureType"] = response.failure.type
    metadata = Struct()
    metadata.update({"aworld": data})
    return metadata


@dataclass
class TaskFold:
    """A task's log folded into what A2A shows of it; feed events in order with :meth:`add`.

    :meth:`add` also returns the stream responses an event stands for, so one fold serves a
    snapshot (``tasks/get``) and a live stream (``message/stream``) alike."""

    task_id: str
    context_id: str = ""
    status: OurStatus = OurStatus.PENDING
    reason: str = ""
    response: TaskResponse | None = None
    time: datetime | None = None
    last_seq: int = 0
    input: Payload | None = None
    history: list[Message] = field(default_factory=list)
    # callback id -> (seq, prompt) of inputs asked for and not given yet, oldest first
    pending: dict[str, tuple[int, Payload | None]] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        """True when a stream should end: terminal, or waiting for input that was asked for."""
        return self.status.is_terminal or (
            self.status == OurStatus.INPUT_REQUIRED and bool(self.pending)
        )

    def add(self, event: Event) -> list[StreamResponse]:
        self.last_seq = event.seq
        self.context_id = self.context_id or event.session_id
        ids = {"task_id": self.task_id, "context_id": self.context_id}
        body = event.body
        if isinstance(body, TaskSubmitted):
            if body.task is not None:
                self.input = body.task.input
                self.context_id = body.task.session_id or self.context_id
                ids["context_id"] = self.context_id
                self.history.append(_message(Role.ROLE_USER, body.task.input, **ids, seq=event.seq))
            return []
        if isinstance(body, InputRequested):
            self.pending[body.callback_id] = (event.seq, body.prompt)
            self.history.append(_message(Role.ROLE_AGENT, body.prompt, **ids, seq=event.seq))
            # The status changed just before; clients see it now, with what is asked.
            return [self._status_update(event.time)] if self.interrupted else []
        if isinstance(body, InputProvided):
            self.pending.pop(body.callback_id, None)
            if body.value is not None:
                self.history.append(_message(Role.ROLE_USER, body.value, **ids, seq=event.seq))
            # Another request is still open: clients see that one next.
            return [self._status_update(event.time)] if self.interrupted else []
        if isinstance(body, RunNodeChanged):
            return self._progress(body, event)
        if isinstance(body, TaskStatusChanged):
            self.status, self.reason, self.time = body.status, body.reason, event.time
            if body.response is not None:
                self.response = body.response
            if body.status == OurStatus.INPUT_REQUIRED:
                return []  # announced with its prompt, by the InputRequested that follows
            updates = []
            if body.status.is_terminal:
                answer = self.response.answer if self.response is not None else None
                if answer is not None and not answer.is_empty:
                    self.history.append(_message(Role.ROLE_AGENT, answer, **ids, seq=event.seq))
                    updates.append(
                        StreamResponse(
                            artifact_update=TaskArtifactUpdateEvent(
                                task_id=self.task_id,
                                context_id=self.context_id,
                                artifact=self._answer_artifact(),
                                last_chunk=True,
                            )
                        )
                    )
            return [*updates, self._status_update(event.time)]
        return []

    def _progress(self, body: RunNodeChanged, event: Event) -> list[StreamResponse]:
        """An agent step's text, as a ``working`` update: progress a client can show."""
        node = body.node
        if (
            node is None
            or node.kind != RunNodeKind.AGENT
            or node.status != RunNodeStatus.SUCCEEDED
            or node.result is None
        ):
            return []
        decision = node.result.value()
        content = decision.get("content") if isinstance(decision, dict) else None
        if not content or not isinstance(content, str):
            return []
        message = _text_message(
            content, task_id=self.task_id, context_id=self.context_id, seq=event.seq
        )
        message.metadata.update({"agent": node.name})
        update = TaskStatusUpdateEvent(
            task_id=self.task_id,
            context_id=self.context_id,
            status=TaskStatus(state=TaskState.TASK_STATE_WORKING, message=message),
        )
        if event.time is not None:
            update.status.timestamp.FromDatetime(event.time)
        return [StreamResponse(status_update=update)]

    def _answer_artifact(self) -> Artifact:
        answer = self.response.answer if self.response is not None else None
        return Artifact(
            artifact_id=f"{self.task_id}:{ANSWER_ARTIFACT}",
            name=ANSWER_ARTIFACT,
            parts=parts_of(answer),
        )

    def _status(self, time: datetime | None) -> TaskStatus:
        status = TaskStatus(state=a2a_state(self.status))
        if time is not None:
            status.timestamp.FromDatetime(time)
        ids = {"task_id": self.task_id, "context_id": self.context_id}
        if self.status == OurStatus.INPUT_REQUIRED and self.pending:
            seq, prompt = next(iter(self.pending.values()))
            status.message.CopyFrom(_message(Role.ROLE_AGENT, prompt, **ids, seq=seq))
        elif self.status.is_terminal and self.status != OurStatus.SUCCEEDED:
            failure = self.response.failure if self.response is not None else None
            text = failure.message if failure is not None and failure.message else ""
            text = text or self.reason or self.status.name.lower()
            status.message.CopyFrom(_text_message(text, **ids, seq=self.last_seq))
        return status

    def _status_update(self, time: datetime | None) -> StreamResponse:
        return StreamResponse(
            status_update=TaskStatusUpdateEvent(
                task_id=self.task_id,
                context_id=self.context_id,
                status=self._status(time),
                metadata=_aworld_metadata(self.response, self.status, self.reason),
            )
        )

    def task(self, history_length: int | None = None) -> Task:
        """The task as A2A shows it now. ``history_length``: the latest N messages; None: all."""
        history = self.history
        if history_length is not None:
            history = history[-history_length:] if history_length > 0 else []
        answer = self.response.answer if self.response is not None else None
        artifacts = (
            [self._answer_artifact()]
            if self.status.is_terminal and answer is not None and not answer.is_empty
            else []
        )
        return Task(
            id=self.task_id,
            context_id=self.context_id,
            status=self._status(self.time),
            history=history,
            artifacts=artifacts,
            metadata=_aworld_metadata(self.response, self.status, self.reason),
        )

    def add_all(self, events: Iterable[Event]) -> TaskFold:
        for event in events:
            self.add(event)
        return self
