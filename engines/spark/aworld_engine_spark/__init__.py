"""The Spark engine: AWorld tasks as Spark jobs, batched, on warm Python workers.

Installed with ``pip install 'aworld-server[spark]'`` and found through the ``aworld.engines``
entry point. A job's record is bytes (the task plus the control plane's address); executors run
it with an :class:`aworld_server.engines.EngineHost` kept warm in each Python worker.
"""

from __future__ import annotations

from typing import Any

try:
    import pyspark  # noqa: F401  (fail here, with the extra to install, not on first use)
except ImportError as error:  # pragma: no cover - exercised by environments without pyspark
    raise ImportError(
        "the AWorld Spark engine needs pyspark: pip install 'aworld-server[spark]'",
        name="pyspark",
    ) from error

from aworld_engine_spark._engine import SparkEngine

__all__ = ["SparkEngine", "create"]


def create(options: dict[str, Any]) -> SparkEngine:
    """Entry point of the ``aworld.engines`` group."""
    return SparkEngine(options)
