"""Event bus (in-memory and Redis Streams) and event manager."""

from aworld_server.events.bus import EventBus, MemoryEventBus, Subscription
from aworld_server.events.manager import EventManager
from aworld_server.events.redis_bus import DeadLetter, RedisEventBus

__all__ = [
    "DeadLetter",
    "EventBus",
    "EventManager",
    "MemoryEventBus",
    "RedisEventBus",
    "Subscription",
]
