"""The HTTP side of a server: Prometheus ``/metrics``, a JSON API mirroring RuntimeService
(``/api/v1``) and the web console (``/``), on ``ServerConfig.http_port``."""

from aworld_server.web._access import HttpAccess
from aworld_server.web._metrics import RuntimeMetrics
from aworld_server.web._server import HttpServer, start_http
from aworld_server.web._sources import Sources

__all__ = ["HttpAccess", "HttpServer", "RuntimeMetrics", "Sources", "start_http"]
