"""``aworld demo`` — what ``make demo`` runs — on a fresh data directory: it exits 0, prints
the answer computed by the remote worker, exports the trajectory, and leaves no process
behind, also when interrupted."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cli_harness import AWORLD, ROOT, WAIT, Background, aworld, cli_env, processes_mentioning

sys.path.insert(0, str(ROOT / "tests" / "agents"))
from openai_server import ChatServer

ANSWER = "3 hotel nights in Hangzhou plus the museum pass come to 1410 CNY (about 194.44 USD)."


def stopped_pids(stdout: str) -> dict[str, int]:
    line = next(line for line in stdout.splitlines() if line.lstrip().startswith("stopped"))
    return {name: int(pid) for name, pid in re.findall(r"(\w+) \(pid (\d+), exit 0\)", line)}


def test_demo_runs_the_team_and_cleans_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    started = time.monotonic()
    result = aworld("demo", "--data-dir", str(data_dir), timeout=60)
    assert time.monotonic() - started < 60
    assert result.code == 0, result
    out = result.stdout
    assert ANSWER in out.split("Answer", 1)[1]
    assert "model      scripted agents" in out
    assert re.search(
        r"worker     [0-9a-f]{8} \(pid \d+\) · serves add, hotel_rate, "
        r"multiply, to_usd, weather",
        out,
    )
    task_id = re.search(r"● task ([0-9a-f]{32})", out).group(1)  # type: ignore[union-attr]

    trajectory = data_dir / f"trajectory-{task_id}.jsonl"
    assert f"trajectory {trajectory}  (9 agent steps" in out
    steps = [json.loads(line) for line in trajectory.read_text().splitlines()]
    assert len(steps) == 9 and steps[-1]["action"]["content"] == ANSWER

    pids = stopped_pids(out)
    assert set(pids) == {"worker", "server"}
    assert processes_mentioning(str(data_dir)) == []
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_interrupted_demo_stops_its_server_and_worker(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    process = subprocess.Popen(
        [*AWORLD, "demo", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=cli_env(),
        cwd=ROOT,
    )
    demo = Background(process)
    try:
        address = demo.readline(r"^  server +(\S+)  pid \d+").group(1)
        os.kill(demo.pid, signal.SIGINT)  # Ctrl-C while it starts the worker or runs the task
        code = demo.process.wait(WAIT)
    finally:
        demo.stop()
    # Usually interrupted (130); on a very fast machine the demo may have finished first.
    assert code in (130, 0)
    assert processes_mentioning(str(data_dir)) == []
    assert processes_mentioning(address) == []  # the worker dials the server's address


@pytest.fixture
async def chat_server() -> AsyncIterator[ChatServer]:
    server = ChatServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_demo_uses_an_openai_compatible_model_when_a_key_is_set(
    tmp_path: Path, chat_server: ChatServer
) -> None:
    # The fake endpoint's model adds up the numbers of its input with the `add` tool, which the
    # demo's worker serves: planner sees "3 hotel nights plus a 150 CNY museum pass".
    env = cli_env(
        OPENAI_API_KEY=chat_server.api_key,
        OPENAI_BASE_URL=chat_server.base_url,
        OPENAI_MODEL="calc-1",
    )
    process = await asyncio.create_subprocess_exec(
        *AWORLD,
        "demo",
        "--data-dir",
        str(tmp_path / "demo"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    try:
        async with asyncio.timeout(60):
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    out = stdout.decode()
    assert process.returncode == 0, out + stderr.decode()
    assert f"model      openai calc-1 at {chat_server.base_url}" in out
    assert re.search(r"planner +⚙ add\(a=3, b=150\) +on worker", out), out
    assert "The sum is 153." in out.split("Answer", 1)[1]
    assert chat_server.requests and all(r["model"] == "calc-1" for r in chat_server.requests)
