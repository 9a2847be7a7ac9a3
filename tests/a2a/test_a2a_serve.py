"""``aworld serve --a2a-port 0`` with a TOML config: an ``a2a-sdk`` client talks to a swarm of
the real server process, and that swarm's second member is a remote A2A agent — A2A on both
sides of one task."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from a2a.types import TaskState
from a2a_harness import StartRemote, a2a_client, collect, scripted, template_of, text_message
from aworld_client import AgentSpec, Swarm, SwarmTopology, Task
from process_harness import WorkerProcess, assert_eventually, launch_server

_SCRIPT = Path(sys.executable).with_name("aworld")
AWORLD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "aworld_server.cli"]


def serve_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWORLD_", "OPENAI_"))}
    env.update(COLUMNS="300", NO_COLOR="1", TERM="dumb", PYTHONUNBUFFERED="1")
    return env


async def test_aworld_serve_exposes_a_swarm_that_calls_a_remote_agent(
    tmp_path: Path, remote_agents: tuple[StartRemote, list[WorkerProcess]]
) -> None:
    start_remote, _ = remote_agents
    remote_url = await start_remote("--name", "reviewer")
    chain = Task(
        swarm=Swarm(
            topology=SwarmTopology.WORKFLOW,
            agents=[
                AgentSpec(name="writer", model=scripted([{"content": "draft v1"}])),
                AgentSpec(name="reviewer", a2a_url=remote_url),
            ],
        )
    )
    (tmp_path / "chain.json").write_text(json.dumps(template_of(chain)))
    (tmp_path / "server.toml").write_text(
        f"""
[a2a]
remote_agents = ["{remote_url}"]

[a2a.agents.chain]
description = "Writes a draft and has it reviewed"
task_file = "{tmp_path / "chain.json"}"
"""
    )
    process, log, address = launch_server(
        AWORLD,
        tmp_path / "data",
        "--config",
        str(tmp_path / "server.toml"),
        "--a2a-port",
        "0",
        env=serve_env(),
    )
    try:
        assert address, log.read_text()
        pattern = re.compile(r"A2A agents: (http://\S+/a2a/chain)")
        found: list[str] = []

        def announced() -> bool:
            found[:] = pattern.findall(log.read_text())
            return bool(found)

        await assert_eventually(announced, message=f"no A2A line in {log}")
        async with a2a_client(found[0]) as client:
            responses = await collect(client.send_message(text_message("write it")))
        final = responses[-1].status_update.status
        assert final.state == TaskState.TASK_STATE_COMPLETED
        [artifact] = [
            r.artifact_update.artifact for r in responses if r.HasField("artifact_update")
        ]
        assert artifact.parts[0].text == "reviewer says: draft v1"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()
