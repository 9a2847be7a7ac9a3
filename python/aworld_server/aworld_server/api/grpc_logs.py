"""Quieting one of grpcio's own log records that reports no fault of ours.

When a client gives up (its deadline passes, it disconnects) just as the server sends the
response, grpcio cannot deliver it and logs ``ExecuteBatchError raised in core by servicer
method`` at ERROR with a traceback (it logs instead of raising since grpc/grpc#32551). The
request's work is done and kept (a retry with the same request id finds it), so the record is
turned into a DEBUG line without the traceback: an operator's ERROR log stays for real faults.
"""

from __future__ import annotations

import logging

__all__ = ["quiet_client_gone"]

_GRPC_LOGGER = "grpc._cython.cygrpc"


class _ClientGone(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and "ExecuteBatchError" in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.msg = f"a client left before its response was sent: {record.getMessage()}"
            record.args, record.exc_info, record.exc_text = (), None, None
            return logging.getLogger(_GRPC_LOGGER).isEnabledFor(logging.DEBUG)
        return True


_FILTER = _ClientGone()


def quiet_client_gone() -> None:
    """Install the filter on grpcio's logger (idempotent)."""
    logger = logging.getLogger(_GRPC_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
