"""Harness for the A2A tests: task templates for exposed swarms, the local tools their servers
have, ``a2a-sdk`` clients, and the remote A2A agent subprocess (``a2a_remote_agent.py``).

Local tools of every test server: ``add``; ``approve`` (answers ``Pending``: the task waits for
input); ``gate`` (waits until the test opens its key, so a task stays running).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from a2a.client import Client, ClientConfig, create_client
from a2a.types import Message, Part, Role, SendMessageRequest, StreamResponse
from aworld_client import AgentSpec, ModelConfig, Payload, RetryPolicy, Swarm, Task
from aworld_client.handlers import Pending, tool
from aworld_server.runtime import Runtime
from aworld_server.server import RunningServer
from google.protobuf.json_format import MessageToDict
from process_harness import ROOT, WAIT, WorkerProcess

__all__ = [
    "FAST_RETRY",
    "REMOTE_AGENT",
    "StartRemote",
    "StartServer",
    "Gates",
    "a2a_client",
    "answer_template",
    "local_tools",
    "scripted",
    "start_remote_agent",
    "template_of",
    "text_message",
    "tool_template",
]

REMOTE_AGENT = ROOT / "tests" / "a2a" / "a2a_remote_agent.py"

# Fixture signatures (see conftest.py), for annotations in tests.
StartServer = Callable[..., Awaitable[RunningServer]]
StartRemote = Callable[..., Awaitable[str]]
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=3)


def scripted(script: list[dict[str, Any]]) -> ModelConfig:
    return ModelConfig(provider="scripted", options=Payload.of({"script": script}))


def template_of(task: Task) -> dict[str, Any]:
    """A task as the ``[a2a.agents.<name>].task`` template of a config (no input)."""
    data: dict[str, Any] = MessageToDict(task.to_proto(), preserving_proto_field_name=True)
    data.pop("input", None)
    return data


def tool_template(tool_name: str, arguments: dict[str, Any], answer: str) -> dict[str, Any]:
    """A one-agent swarm that calls ``tool_name`` once, then answers ``answer``."""
    script = [{"tool_calls": [{"name": tool_name, "arguments": arguments}]}, {"content": answer}]
    agent = AgentSpec(name="solver", tool_names=[tool_name], model=scripted(script))
    return template_of(Task(swarm=Swarm(agents=[agent])))


def answer_template(*answers: str) -> dict[str, Any]:
    """A WORKFLOW of scripted agents, each answering its text (the last one ends the task)."""
    agents = [
        AgentSpec(name=f"writer{i}", model=scripted([{"content": text}]))
        for i, text in enumerate(answers)
    ]
    return template_of(Task(swarm=Swarm(agents=agents)))


class Gates:
    """Keys the ``gate`` tool waits on; the test sees a call enter and may open it."""

    def __init__(self) -> None:
        self._open: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._entered: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def open(self, key: str) -> None:
        self._open[key].set()

    async def entered(self, key: str) -> None:
        async with asyncio.timeout(WAIT):
            await self._entered[key].wait()

    async def pass_through(self, key: str) -> None:
        self._entered[key].set()
        await self._open[key].wait()


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def approve(amount: int) -> Pending:
    """Ask someone to approve an amount; the answer comes as input."""
    return Pending(prompt={"question": f"approve {amount}?"})


def local_tools(gates: Gates) -> Callable[[Runtime], None]:
    @tool(name="gate")
    async def gate(key: str) -> str:
        """Wait until the test opens ``key``."""
        await gates.pass_through(key)
        return f"passed {key}"

    def setup(runtime: Runtime) -> None:
        runtime.registry.add_tool(add, approve, gate)

    return setup


def text_message(text: str, *, task_id: str = "", context_id: str = "") -> SendMessageRequest:
    return SendMessageRequest(
        message=Message(
            role=Role.ROLE_USER,
            message_id=uuid.uuid4().hex,
            parts=[Part(text=text)],
            task_id=task_id,
            context_id=context_id,
        )
    )


@asynccontextmanager
async def a2a_client(url: str, *, token: str = "", streaming: bool = True) -> AsyncIterator[Client]:
    """An ``a2a-sdk`` client of the agent at ``url`` (its card resolved from there)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(headers=headers, timeout=WAIT) as http:
        client = await create_client(url, ClientConfig(httpx_client=http, streaming=streaming))
        try:
            yield client
        finally:
            await client.close()


async def collect(stream: AsyncIterator[StreamResponse]) -> list[StreamResponse]:
    return [response async for response in stream]


async def start_remote_agent(*args: str) -> tuple[WorkerProcess, str]:
    """``a2a_remote_agent.py ARGS`` on a free port: the process and the agent's URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REMOTE_AGENT),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
    )
    agent = WorkerProcess(process)
    try:
        match = await agent.expect(r"^listening (\d+)$")
    except BaseException:
        await agent.kill()
        raise
    return agent, f"http://127.0.0.1:{match.group(1)}"
