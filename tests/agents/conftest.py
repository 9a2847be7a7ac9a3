"""Fixtures for the model providers: a real OpenAI-compatible server on 127.0.0.1, port 0,
and a real Runtime on SQLite in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aworld_server import Runtime
from openai_server import ChatServer


@pytest.fixture
async def chat_server() -> AsyncIterator[ChatServer]:
    server = ChatServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with Runtime(data_dir=tmp_path) as rt:
        try:
            yield rt
        finally:
            await rt.models.aclose()  # models built from configs keep HTTP clients
