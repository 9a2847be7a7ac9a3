"""The epoch of the Redis a store writes to, and what is said when it no longer matches.

The first time a server opens a Redis it writes a random epoch key there and remembers it, per
key prefix, in a small JSON file in its data dir. A Redis that later holds no epoch key, or
another one, lost the data this server wrote (restarted without persistence, flushed) or is
another Redis: it is refused (:class:`RedisDataLost`), never taken for an empty store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aworld_server.errors import FailedPrecondition

__all__ = ["EpochFile", "RedisDataLost"]


class RedisDataLost(FailedPrecondition):
    """The Redis does not hold the data this server wrote to it (its epoch key is missing or
    different): it lost its data, or it is another Redis. Nothing is read or written until
    an operator looks (and deletes the epoch file if the loss is accepted)."""


class EpochFile:
    """Remembered epochs by key prefix, in one JSON file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, prefix: str) -> str:
        """The epoch remembered for ``prefix``; empty when none is."""
        value = self._all().get(prefix, "")
        return value if isinstance(value, str) else ""

    def write(self, prefix: str, epoch: str) -> None:
        known = self._all()
        known[prefix] = epoch
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(known, indent=2) + "\n")
        os.replace(temporary, self.path)  # never a half-written file

    def lost(self, found: str | None, expected: str) -> RedisDataLost:
        """The error for a Redis whose epoch key holds ``found`` instead of ``expected``."""
        what = "has no epoch key" if found is None else f"has epoch {found}"
        return RedisDataLost(
            f"Redis {what}, but this server wrote to it with epoch {expected} (remembered in "
            f"{self.path}): it lost its data (restarted without persistence?) or is another "
            f"Redis. Refusing to treat it as empty. Restore its data, or delete {self.path} to "
            "start over with what it holds."
        )

    def _all(self) -> dict[str, object]:
        try:
            known = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return known if isinstance(known, dict) else {}
