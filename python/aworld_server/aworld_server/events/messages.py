"""Building the messages the runtime itself records (actions, chunks, snapshots, rewards)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aworld_client import Message, MessageCategory, Payload

from aworld_server.ids import new_id

__all__ = ["task_message"]


def task_message(
    task_id: str,
    session_id: str,
    category: MessageCategory,
    payload: Any,
    *,
    sender: str,
    receiver: str = "",
    topic: str = "",
) -> Message:
    """A new message of the task, stamped now; ``payload`` is text or any JSON value."""
    return Message(
        id=new_id(),
        task_id=task_id,
        session_id=session_id,
        category=category,
        topic=topic,
        sender=sender,
        receiver=receiver,
        payload=payload if isinstance(payload, Payload) else Payload.of(payload),
        created_at=datetime.now(UTC),
    )
