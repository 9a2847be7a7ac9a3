"""Identifiers for tasks, sessions, run nodes, messages and calls.

uuid4 reads the kernel's random source on every call, which costs ~20 µs on some VMs and was a
tenth of a trivial task's CPU. Ids here only need to be unique, not unguessable (access control
is the bearer token's job), so they come from a process-local generator seeded from the kernel
once: the same 32-hex-digit shape, about 20x cheaper.
"""

from __future__ import annotations

import random
import uuid

__all__ = ["new_id"]

_random = random.Random(uuid.uuid4().int)  # seeded once per process from the kernel


def new_id() -> str:
    """A new 128-bit random id as 32 lowercase hex digits (a version-4 UUID's shape)."""
    return uuid.UUID(int=_random.getrandbits(128), version=4).hex
