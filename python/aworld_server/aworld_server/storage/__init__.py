"""Durable event history: the store protocols (EventLog, TaskIndex, SessionStore and their union
EventStore) and the SQLite, Redis and in-memory stores."""

from aworld_server.storage._redis_epoch import RedisDataLost
from aworld_server.storage._store import (
    EventLog,
    EventQuery,
    EventStore,
    Page,
    PartialWrite,
    SessionStore,
    TaskIndex,
    TaskQuery,
    TaskRecord,
)
from aworld_server.storage.memory import MemoryEventStore
from aworld_server.storage.redis_store import RedisEventStore, RedisStoreStats
from aworld_server.storage.sqlite import SqliteEventStore, StoreStats

__all__ = [
    "EventLog",
    "EventQuery",
    "EventStore",
    "MemoryEventStore",
    "Page",
    "PartialWrite",
    "RedisDataLost",
    "RedisEventStore",
    "RedisStoreStats",
    "SessionStore",
    "SqliteEventStore",
    "StoreStats",
    "TaskIndex",
    "TaskQuery",
    "TaskRecord",
]
