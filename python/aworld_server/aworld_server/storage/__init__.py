"""Durable event history: the EventStore protocol and its SQLite and in-memory stores."""

from aworld_server.storage._store import (
    EventQuery,
    EventStore,
    Page,
    PartialWrite,
    TaskQuery,
    TaskRecord,
)
from aworld_server.storage.memory import MemoryEventStore
from aworld_server.storage.sqlite import SqliteEventStore, StoreStats

__all__ = [
    "EventQuery",
    "EventStore",
    "MemoryEventStore",
    "Page",
    "PartialWrite",
    "SqliteEventStore",
    "StoreStats",
    "TaskQuery",
    "TaskRecord",
]
