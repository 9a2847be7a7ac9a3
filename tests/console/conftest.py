"""Fixtures for the console tests: real servers with the HTTP side on port 0, a local ``gate``
tool the test opens when it wants the task to go on, and Debian's headless Chromium driven by
Playwright (never a downloaded browser)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aworld_client.handlers import tool
from aworld_server.config import ServerConfig
from aworld_server.runtime import Runtime
from aworld_server.server import RunningServer, start_server
from console_harness import Gates, StartServer
from playwright.async_api import Browser, async_playwright


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
async def start(tmp_path: Path, gates: Gates) -> AsyncIterator[StartServer]:
    """Start a server (HTTP side on a free port) with overrides; all stopped after the test."""
    running: list[RunningServer] = []

    @tool(name="gate")
    async def gate(key: str) -> str:
        """Wait until the test opens ``key``."""
        await gates.pass_through(key)
        return f"passed {key}"

    def setup(runtime: Runtime) -> None:
        runtime.registry.add_tool(gate)

    async def start_one(**overrides: Any) -> RunningServer:
        config = ServerConfig.load(
            port=0, http_port=0, data_dir=tmp_path / f"s{len(running)}", **overrides
        )
        server = await start_server(config, setup=setup)
        running.append(server)
        return server

    try:
        yield start_one
    finally:
        for server in running:
            await server.stop(0)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("the console tests need Debian's chromium (.ci/run installs it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
