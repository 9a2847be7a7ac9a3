"""Append one event at a time to an SQLite event store, printing each acknowledged seq.

Usage: ``python append_until_killed.py DB_PATH TASK_ID``. ``test_event_store.py`` runs it and
SIGKILLs it mid-stream: every seq printed must be in the database afterwards.
"""

from __future__ import annotations

import asyncio
import sys

from aworld_client import Event, Message, MessageEmitted, Payload
from aworld_server.storage import SqliteEventStore


def step(task_id: str, seq: int) -> Event:
    """The event appended as ``seq``: a message whose payload text is the seq."""
    message = Message(id=f"m{seq}", task_id=task_id, topic="step", payload=Payload(text=str(seq)))
    return Event(task_id=task_id, seq=seq, body=MessageEmitted(message=message))


async def main(path: str, task_id: str) -> None:
    store = SqliteEventStore(path)
    await store.open()
    seq = 0
    while True:  # until killed
        seq += 1
        await store.append([step(task_id, seq)])
        print(seq, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
