"""The worker side of plugin engines: what a Ray actor or a Spark Python worker runs.

:class:`EngineHost` keeps a Runtime per control plane whose event log
(:class:`ControlPlaneStore`) and remote handlers (:class:`ControlPlaneHandlers`) live at the
server, reached over ``EngineService``. It sits outside the server's layers: it builds a
Runtime, as the server does.
"""

from aworld_server.engine_worker.host import EngineHost, load_setup

__all__ = ["EngineHost", "load_setup"]
