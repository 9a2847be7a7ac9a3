"""Events that arrived in wire form and keep it (serialise once).

An engine worker sends a task's events as protobuf; the control plane needs them as domain
values (the event manager's checks, live streams, the store's index columns), but the store
only needs their bytes, which it already got from the wire. A :class:`WireEvent` is the domain
event plus those bytes: ``to_bytes`` returns them instead of converting the event back to
protobuf and serialising it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aworld_client import Event

__all__ = ["WireEvent", "decode_events"]


class WireEvent(Event):
    """An :class:`Event` with the bytes it was received as. Never changed after decoding (the
    bytes would no longer match): the event manager and the stores only read events."""

    __slots__ = ("wire",)

    wire: bytes

    def to_bytes(self) -> bytes:
        return self.wire


def decode_events(messages: Iterable[Any]) -> list[Event]:
    """Domain events of ``aworld.runtime.v1.Event`` messages, each keeping its wire bytes."""
    events: list[Event] = []
    for message in messages:
        event = WireEvent.from_proto(message)
        event.wire = message.SerializeToString()
        events.append(event)
    return events
