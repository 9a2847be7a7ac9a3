"""Fixtures of the MCP suite: the files the test MCP server reports through, and an embedded
runtime whose close must leave none of the MCP server processes it started running."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aworld_server import Runtime
from mcp_harness import McpFiles, alive, wait_gone


@pytest.fixture
def files(tmp_path: Path) -> McpFiles:
    root = tmp_path / "mcp"
    root.mkdir()
    return McpFiles(root)


@pytest.fixture
async def runtime(tmp_path: Path, files: McpFiles) -> AsyncIterator[Runtime]:
    """A runtime on a real SQLite file. After the test it is closed, and every MCP server
    process that was started must be gone (checked by pid; a survivor is killed, then the test
    fails)."""
    rt = Runtime(data_dir=tmp_path / "data")
    try:
        async with rt:
            yield rt
    finally:
        survivors = [pid for pid in files.pids() if alive(pid)]
        try:
            for pid in survivors:
                await wait_gone(pid)
        finally:
            for pid in survivors:
                if alive(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
