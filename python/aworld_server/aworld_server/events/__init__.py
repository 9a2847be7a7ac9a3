"""Event bus and event manager."""

from aworld_server.events.bus import EventBus, MemoryEventBus, Subscription
from aworld_server.events.manager import EventManager

__all__ = ["EventBus", "EventManager", "MemoryEventBus", "Subscription"]
