"""``aworld demo`` (what ``make demo`` runs): a real server, a remote worker process and a
team of three agents, watched live.

1. ``aworld serve --port 0`` starts as a child process on the embedded defaults, its SQLite
   store under ``.aworld/demo/``;
2. ``examples/demo_worker.py`` starts as a second process and serves the tools over
   ``WorkerService.Connect``;
3. ``examples/demo_task.json`` runs: a TEAM where ``planner`` asks ``forecaster`` and ``scout``,
   then computes the total with the worker's tools. Scripted models by default, so it runs
   anywhere in seconds; with ``OPENAI_API_KEY`` set, every agent uses an OpenAI-compatible
   model instead (``OPENAI_BASE_URL``, ``OPENAI_MODEL``);
4. the trajectory is exported to ``.aworld/demo/trajectory-<task>.jsonl``;
5. the worker, then the server, are stopped by pid — also after an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from aworld_client import AsyncClient, ModelConfig, Task, TaskResponse, TrajectoryItem, WorkerInfo
from rich.text import Text

from aworld_server.cli._common import console, fail, plural, reported_errors
from aworld_server.cli._processes import ChildProcess, ChildProcesses
from aworld_server.cli._render import EventPrinter, tool_locations, watch, worker_label
from aworld_server.cli._taskfile import load_task
from aworld_server.cli._views import answer_panel
from aworld_server.cli.inspect import export_trajectory

__all__ = ["demo"]

_REPO = Path(__file__).resolve().parents[4]
_WORKER_WAIT = 20.0
_DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo's server keeps its data.")] = Path(
        ".aworld/demo"
    ),
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds the task may take before it is cancelled.")
    ] = 50.0,
    scripted: Annotated[
        bool, typer.Option("--scripted", help="Scripted agents even when OPENAI_API_KEY is set.")
    ] = False,
) -> None:
    """Run the end-to-end demo: a server, a remote worker and a team of agents."""
    children = ChildProcesses()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with reported_errors():
            _demo(data_dir, timeout, scripted, children)
    finally:
        _stop(children)
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # run the same clean-up as Ctrl-C


def _demo(data_dir: Path, timeout: float, scripted: bool, children: ChildProcesses) -> None:
    examples = _examples_dir()
    task = load_task(examples / "demo_task.json")
    model_line = _choose_model(task, scripted)
    console.print(
        Text("AWorld Runtime demo", style="bold")
        + Text(" — a server, a remote worker and a team of three agents", style="dim")
    )

    with console.status("starting the server…"):
        server, address = children.start_server(
            data_dir,
            data_dir / "server.log",
            extra_args=["--shutdown-grace", "2", "--log-level", "warning"],
        )
    _row("server", f"{address}  pid {server.pid} · data {data_dir} · log {server.log}")

    worker_argv = [sys.executable, str(examples / "demo_worker.py"), "--target", address]
    worker_log = data_dir / "worker.log"
    worker = children.spawn("worker", [*worker_argv, "--log-level", "info"], worker_log)
    response, items = asyncio.run(_run(address, task, worker, timeout, model_line))

    console.print(answer_panel(response))
    path = data_dir / f"trajectory-{response.id}.jsonl"
    count = export_trajectory(items, path)
    _row("trajectory", f"{path}  ({plural(count, 'agent step')}, one JSON object per line)")
    _row("look again", f"aworld serve --data-dir {data_dir}  then  aworld state {response.id}")
    if not response.success:
        why = response.failure.message if response.failure else response.status_reason
        fail(f"the demo task ended {response.status.name}" + (f": {why}" if why else ""))


async def _run(
    address: str, task: Task, worker: ChildProcess, timeout: float, model_line: str
) -> tuple[TaskResponse, list[TrajectoryItem]]:
    async with AsyncClient(address) as client:
        with console.status("waiting for the worker to connect…"):
            info = await _wait_for_worker(client, worker)
        tools = ", ".join(sorted(info.handler_names))
        who = worker_label(info).removeprefix("worker ")
        _row("worker", f"{who} · serves {tools} · log {worker.log}")
        _row("model", model_line)
        agents = task.swarm.agents if task.swarm is not None else []
        _row("team", f"{agents[0].name} leads " + ", ".join(a.name for a in agents[1:]))
        _row("task", task.input.as_text() if task.input is not None else "")
        console.print()

        printer = EventPrinter(tool_workers=tool_locations([info]))
        printer.learn_task(task)
        events = client.run(task)
        try:
            async with asyncio.timeout(timeout):
                response = await watch(events, printer, console)
        except TimeoutError:
            if printer.task_id:
                await client.cancel(printer.task_id, reason="demo timeout")
            fail(f"the demo task did not finish within {timeout:.0f} s; cancelled it")
        if response is None:
            fail("the event stream ended before the task finished")
        return response, await client.trajectory(response.id)


async def _wait_for_worker(client: AsyncClient, worker: ChildProcess) -> WorkerInfo:
    """Poll ListWorkers until our worker (matched by its pid label) has said hello."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _WORKER_WAIT
    while loop.time() < deadline:
        for info in await client.workers():
            if info.labels.get("pid") == str(worker.pid):
                return info
        if not worker.running:
            fail(
                f"the worker exited (code {worker.process.returncode}) before connecting; "
                f"see {worker.log}",
                details=worker.log_tail(),
            )
        await asyncio.sleep(0.05)
    fail(
        f"the worker did not connect within {_WORKER_WAIT:.0f} s; see {worker.log}",
        details=worker.log_tail(),
    )


def _choose_model(task: Task, scripted: bool) -> str:
    """Switch every agent to an OpenAI-compatible model when a key is set; describe the choice."""
    if scripted or not os.environ.get("OPENAI_API_KEY"):
        return "scripted agents (set OPENAI_API_KEY to use a real model)"
    model = os.environ.get("OPENAI_MODEL") or _DEFAULT_OPENAI_MODEL
    for agent in task.swarm.agents if task.swarm is not None else []:
        agent.model = ModelConfig(provider="openai", model=model)
    base = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    return f"openai {model} at {base} (--scripted for the scripted agents)"


def _examples_dir() -> Path:
    for root in (Path.cwd(), _REPO):
        examples = root / "examples"
        if (examples / "demo_worker.py").is_file() and (examples / "demo_task.json").is_file():
            return examples
    fail(
        "cannot find examples/demo_worker.py and examples/demo_task.json; "
        "run the demo from the repository root"
    )


def _row(label: str, value: str) -> None:
    line = Text(f"  {label:<11}", style="bold") + Text(value)
    console.print(line, soft_wrap=not console.is_terminal)


def _stop(children: ChildProcesses) -> None:
    """Worker first (it finishes its calls), then the server; each by pid."""
    if not children.children:
        return
    with console.status("stopping the worker and the server…"):
        stopped = children.stop_all({"server": 10.0, "worker": 5.0})
    console.print(Text("  stopped    ", style="bold") + Text(", ".join(stopped), style="dim"))
