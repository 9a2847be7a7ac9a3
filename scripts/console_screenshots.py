"""Take the README's console screenshots with Debian's headless Chromium.

    .venv/bin/python scripts/console_screenshots.py [--out docs]

Starts a real server (HTTP side on a free port) with the demo worker's tools served by an
in-process worker, runs the demo task and a few more, and saves ``console-tasks.png``,
``console-task.png`` and ``console-workers.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aworld_client import AgentSpec, AsyncClient, ModelConfig, Payload, Swarm, Task, Worker
from aworld_server.cli._taskfile import load_task
from aworld_server.config import ServerConfig
from aworld_server.server import start_server
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]


def demo_tools() -> list[object]:
    spec = importlib.util.spec_from_file_location("demo_worker", ROOT / "examples/demo_worker.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.TOOLS)


def scripted(text: str, script: list[dict[str, Any]], tools: list[str]) -> Task:
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="solver", model=model, tool_names=tools)
    return Task(name=text, input=Payload.from_text(text), swarm=Swarm(agents=[agent]))


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        server = await start_server(ServerConfig.load(port=0, http_port=0, data_dir=Path(data)))
        assert server.http is not None
        worker = Worker(server.address, demo_tools(), labels={"app": "aworld-demo"})
        serving = asyncio.create_task(worker.run())
        try:
            async with AsyncClient(server.address) as client:
                multiply = {"tool_calls": [{"name": "multiply", "arguments": {"a": 6, "b": 7}}]}
                tasks = [
                    load_task(ROOT / "examples/demo_task.json"),
                    scripted(
                        "what is 6 * 7?",
                        [multiply, {"content": "{last_tool_output}"}],
                        ["multiply"],
                    ),
                    scripted("hello", [{"content": "hi there"}], []),
                ]
                ids = []
                for task in tasks:
                    ids.append(await client.submit(task))
                    _ = [event async for event in client.events(ids[-1])]
            chromium = shutil.which("chromium")
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=chromium)
                page = await browser.new_page(viewport={"width": 1280, "height": 820})
                await page.goto(server.http.url + "/")
                await page.screenshot(path=out / "console-tasks.png")
                await page.goto(f"{server.http.url}/tasks/{ids[0]}")
                await page.wait_for_selector("#live:text('ended')")
                await page.wait_for_selector("#trajectory tr td")
                await page.screenshot(path=out / "console-task.png", full_page=True)
                await page.goto(server.http.url + "/workers")
                await page.screenshot(path=out / "console-workers.png")
                await browser.close()
        finally:
            await worker.stop()
            await serving
            await server.stop(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    asyncio.run(main(parser.parse_args().out))
