"""Engines: local (in the server's event loop) and plugins (Ray, Spark) behind one seam."""

from aworld_server.engines.base import Engine, JobResult, TaskJob
from aworld_server.engines.registry import ENTRY_POINT_GROUP, available_engines, load_engine

__all__ = [
    "ENTRY_POINT_GROUP",
    "Engine",
    "JobResult",
    "TaskJob",
    "available_engines",
    "load_engine",
]
