"""Finding engines by name: ``local`` is built in; others are plugins registered under the
``aworld.engines`` entry-point group (``engines/ray``, ``engines/spark`` in this repository)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from aworld_server.engines.base import Engine
from aworld_server.errors import FailedPrecondition

__all__ = ["ENTRY_POINT_GROUP", "available_engines", "load_engine"]

ENTRY_POINT_GROUP = "aworld.engines"
LOCAL = "local"

EngineFactory = Callable[[dict[str, Any]], Engine]


def available_engines() -> list[str]:
    """``local`` plus every installed plugin's name."""
    return [LOCAL, *sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))]


def load_engine(name: str, options: dict[str, Any] | None = None) -> Engine:
    """Instantiate a plugin engine. A missing plugin or dependency is a clear error that says
    what to install."""
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        raise FailedPrecondition(
            f"engine {name!r} is not installed; available: {available_engines()}. "
            f"Install its plugin: `pip install 'aworld-server[{name}]'`"
        )
    try:
        factory: EngineFactory = matches[0].load()
    except ImportError as error:
        raise FailedPrecondition(
            f"engine {name!r} needs a dependency that is missing ({error.name}): "
            f"`pip install 'aworld-server[{name}]'`"
        ) from error
    return factory(options or {})
