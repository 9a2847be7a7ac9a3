"""grpcio's ERROR record for a response a departed client never got is quieted (the work is
kept; nothing failed), while every other grpcio error still reaches the log."""

from __future__ import annotations

import logging

import pytest
from aworld_server.api.grpc_logs import quiet_client_gone


def _raise_and_log(logger: logging.Logger, message: str) -> None:
    try:
        raise RuntimeError(message)
    except RuntimeError:
        logger.exception(message)


def test_a_departed_client_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    quiet_client_gone()
    quiet_client_gone()  # idempotent
    logger = logging.getLogger("grpc._cython.cygrpc")
    assert len(logger.filters) == len(set(map(id, logger.filters)))
    with caplog.at_level(logging.INFO, logger="grpc._cython.cygrpc"):
        _raise_and_log(logger, "ExecuteBatchError raised in core by servicer method [/x/Y]")
        _raise_and_log(logger, "something else broke")
    assert [(r.levelname, r.exc_info is not None) for r in caplog.records] == [("ERROR", True)]
    assert caplog.records[0].getMessage() == "something else broke"
