"""The Ray engine: AWorld tasks on a pool of warm Ray actors.

Installed with ``pip install 'aworld-server[ray]'`` and found through the ``aworld.engines``
entry point. Each actor hosts an :class:`aworld_server.engines.EngineHost` on its own event
loop; jobs are the task's bytes plus the control plane's address, so nothing but bytes crosses.
"""

from __future__ import annotations

from typing import Any

try:
    import ray  # noqa: F401  (fail here, with the extra to install, not on first use)
except ImportError as error:  # pragma: no cover - exercised by environments without ray
    raise ImportError(
        "the AWorld Ray engine needs ray: pip install 'aworld-server[ray]'", name="ray"
    ) from error

from aworld_engine_ray._engine import RayEngine

__all__ = ["RayEngine", "create"]


def create(options: dict[str, Any]) -> RayEngine:
    """Entry point of the ``aworld.engines`` group."""
    return RayEngine(options)
