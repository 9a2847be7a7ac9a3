"""Custom message handlers (``HandlerRegistry.add_message_handler``): each gets every message
of its category after the built-in handling, and may answer with follow-up messages. Both
runners run them on the same messages (agent, tool and output actions, and their follow-ups),
so registering one never makes the two execution modes disagree."""

from __future__ import annotations

from aworld_client import Message, MessageCategory

from aworld_server.handlers import HandlerRegistry

__all__ = ["BUILT_IN", "follow_ups"]

# Categories the runners act on themselves; the others are only recorded and observed.
BUILT_IN = frozenset({MessageCategory.AGENT, MessageCategory.TOOL, MessageCategory.OUTPUT})


async def follow_ups(registry: HandlerRegistry, message: Message) -> list[Message]:
    """Run the custom handlers of ``message``'s category; return their follow-ups in order."""
    produced: list[Message] = []
    for handler in registry.message_handlers.get(message.category, ()):
        produced.extend(await handler(message) or ())
    return produced
