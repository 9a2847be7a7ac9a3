"""Engines: local (in the server's event loop) and plugins (Ray, Spark) behind one seam.

The control-plane side is :class:`Engine` (submit jobs, results, cancel, close) and
:func:`load_engine`; the worker side, shared by every plugin, is :class:`EngineHost`, which runs
jobs on a Runtime whose log and remote handlers live at the control plane.
"""

from aworld_server.engines.base import Engine, JobResult, TaskJob
from aworld_server.engines.host import EngineHost, load_setup
from aworld_server.engines.recovery import WORKER_LOST, cancelled, next_attempt, worker_lost
from aworld_server.engines.registry import ENTRY_POINT_GROUP, available_engines, load_engine
from aworld_server.engines.wire import decode_job, decode_result, encode_job, encode_result

__all__ = [
    "ENTRY_POINT_GROUP",
    "WORKER_LOST",
    "Engine",
    "EngineHost",
    "JobResult",
    "TaskJob",
    "available_engines",
    "cancelled",
    "decode_job",
    "decode_result",
    "encode_job",
    "encode_result",
    "load_engine",
    "load_setup",
    "next_attempt",
    "worker_lost",
]
