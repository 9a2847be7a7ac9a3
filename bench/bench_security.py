"""The cheap-DoS cases of issue #11, measured (``.venv/bin/python bench/bench_security.py``).

1. A SubmitTask of 20,000 agents over gRPC: time from sending the (already serialised) request
   to the answer (the ``limits`` error naming ``task.swarm.agents``); and the same task through
   ``validate_task`` alone, no limit (the linear validation).
2. 10,000 distinct OpenAI model configurations built through one ``ModelProviders``: process
   RSS after the first 1,000 and after all 10,000 (flat = bounded LRU pools), and the cost of
   one new configuration.
3. GetTask on a task with a 20,000-event log: latency (reads the first event and the tail).

Each figure is the median of 3 runs. Runs in a temporary directory, port 0.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
from aworld_client import (
    AgentSpec,
    AsyncClient,
    Event,
    ModelConfig,
    Payload,
    Swarm,
    Task,
    TaskStatusChanged,
)
from aworld_client.api import runtime_service_pb2 as runtime_pb
from aworld_client.api import runtime_service_pb2_grpc as runtime_grpc
from aworld_server.agents.providers import ModelProviders
from aworld_server.config import ServerConfig
from aworld_server.runtime import Runtime
from aworld_server.server import start_server
from aworld_server.validation import validate_task

AGENTS = 20_000
CONFIGS = 10_000
LOG_EVENTS = 20_000
RUNS = 3


def _swarm_task(agents: int) -> Task:
    model = ModelConfig(provider="scripted", options=Payload.of({"script": [{"content": "x"}]}))
    return Task(
        input=Payload.from_text("hi"),
        swarm=Swarm(agents=[AgentSpec(name=f"a{i}", model=model) for i in range(agents)]),
    )


async def _submit_many_agents(address: str) -> float:
    """The RPC alone: the request is built and serialised before the clock starts."""
    request = runtime_pb.SubmitTaskRequest(task=_swarm_task(AGENTS).to_proto())
    async with grpc.aio.insecure_channel(address) as channel:
        stub = runtime_grpc.RuntimeServiceStub(channel)
        await stub.ListTasks(runtime_pb.ListTasksRequest())  # connect first
        started = time.perf_counter()
        try:
            await stub.SubmitTask(request)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
            assert "agents" in (error.details() or ""), error
        return time.perf_counter() - started


def _validate_many_agents() -> float:
    runtime = Runtime(data_dir=tempfile.mkdtemp())
    task = _swarm_task(AGENTS)
    started = time.perf_counter()
    validate_task(task, runtime)
    return time.perf_counter() - started


def _rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _model_memory() -> tuple[float, float, float]:
    """RSS after 1,000 and after 10,000 distinct configurations, and ms per configuration."""
    providers = ModelProviders()
    after_1k = 0.0
    started = time.perf_counter()
    for i in range(CONFIGS):
        providers.create(ModelConfig(provider="openai", model=f"m-{i}", temperature=i / CONFIGS))
        if i == 999:
            gc.collect()
            after_1k = _rss_mib()
    per_config = (time.perf_counter() - started) / CONFIGS * 1000
    gc.collect()
    return after_1k, _rss_mib(), per_config


async def _get_task_on_long_log(data_dir: Path) -> float:
    server = await start_server(ServerConfig.load(port=0, data_dir=data_dir))
    try:
        async with AsyncClient(server.address) as client:
            task_id = (await client.submit_task(_swarm_task(1))).task_id
            async with asyncio.timeout(30):
                async for event in client.events(task_id):
                    if event.is_terminal:
                        break
            store = server.runtime.store
            last = await store.last_seq(task_id)
            now = datetime.now(UTC)
            filler = [
                Event(task_id=task_id, seq=last + i + 1, time=now, body=TaskStatusChanged())
                for i in range(LOG_EVENTS)
            ]
            await store.append(filler)
            times = []
            for _ in range(20):
                started = time.perf_counter()
                await client.get(task_id)
                times.append(time.perf_counter() - started)
            return statistics.median(times)
    finally:
        await server.stop(0)


async def main() -> None:
    submit, validate, get = [], [], []
    memory: list[tuple[float, float, float]] = []
    for run in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            server = await start_server(ServerConfig.load(port=0, data_dir=Path(tmp) / "s"))
            try:
                submit.append(await _submit_many_agents(server.address))
            finally:
                await server.stop(0)
            get.append(await _get_task_on_long_log(Path(tmp) / f"g{run}"))
        validate.append(_validate_many_agents())
        memory.append(_model_memory())
    print(f"SubmitTask, {AGENTS:,} agents -> limit error: {statistics.median(submit):.3f} s")
    print(f"validate_task, {AGENTS:,} agents (no limit): {statistics.median(validate):.3f} s")
    first = statistics.median(m[0] for m in memory)
    last = statistics.median(m[1] for m in memory)
    cost = statistics.median(m[2] for m in memory)
    print(f"RSS after 1,000 / {CONFIGS:,} model configs: {first:.1f} / {last:.1f} MiB")
    print(f"one new model configuration: {cost:.2f} ms")
    print(f"GetTask on a {LOG_EVENTS:,}-event log: {statistics.median(get) * 1000:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
