"""Engines: local (in the server's event loop) and plugins (Ray, Spark) behind one seam.

This is the control-plane side: :class:`Engine` (submit jobs, results, cancel, close),
:func:`load_engine`, the job wire format and recovery rules. The worker side, shared by every
plugin, is ``aworld_server.engine_worker.EngineHost``, which runs jobs on a Runtime whose log
and remote handlers live at the control plane.
"""

from aworld_server.engines.base import Engine, JobResult, TaskJob
from aworld_server.engines.recovery import WORKER_LOST, cancelled, next_attempt, worker_lost
from aworld_server.engines.registry import ENTRY_POINT_GROUP, available_engines, load_engine
from aworld_server.engines.wire import decode_job, decode_result, encode_job, encode_result

__all__ = [
    "ENTRY_POINT_GROUP",
    "WORKER_LOST",
    "Engine",
    "JobResult",
    "TaskJob",
    "available_engines",
    "cancelled",
    "decode_job",
    "decode_result",
    "encode_job",
    "encode_result",
    "load_engine",
    "next_attempt",
    "worker_lost",
]
