"""Two replicas on one Redis, one worker, and a task that moves when its owner is killed.

::

    python examples/replicas_failover.py          # needs redis-server on PATH

1. a ``redis-server`` starts in a temporary directory on a free port (no persistence);
2. two replicas start: ``aworld serve --store redis --bus redis`` on that Redis;
3. a worker (this file, ``--worker``) connects to replica 2 and serves ``slow_step``;
4. a task of five ``slow_step`` calls is submitted to replica 1, which owns it: its calls go
   to replica 2's worker (routed between the replicas); its events are followed on replica 2;
5. after the second call, replica 1 is SIGKILLed: replica 2 takes the task over once the
   lease expires, resumes it from the log, and finishes it with the answer of a fault-free run;
6. everything started here is stopped by pid, also after an error or Ctrl-C.

Exit code 0 when the answer is right.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

STEPS = 5
SEED = 7
KILL_AFTER = 2  # finished calls before the owner is killed
WORKER_ID = "failover-worker"


def step_value(x: int) -> int:
    return (x * 7 + 3) % 1_000_003


# -- the worker (``--worker TARGET``) --------------------------------------------------------


def run_worker(target: str) -> None:
    from aworld_client import RetryPolicy, Worker, tool

    @tool(idempotent=True)
    async def slow_step(x: int) -> int:
        """One step of the chain: (x * 7 + 3) mod 1000003, after a while."""
        await asyncio.sleep(0.6)  # the tool's own work
        return step_value(int(x))

    backoff = RetryPolicy(
        initial_interval=timedelta(milliseconds=100), maximum_interval=timedelta(seconds=1)
    )
    worker = Worker(target, [slow_step], worker_id=WORKER_ID, reconnect_backoff=backoff)
    asyncio.run(worker.run())


# -- the processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Child:
    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C is ours: we stop the children by pid
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, grace: float = 5.0) -> str:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
        code = self.process.wait()
        how = f"exit {code}" if code >= 0 else signal.Signals(-code).name
        return f"{self.name} (pid {self.pid}, {how})"


def wait_until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)  # polls a child's start-up


def start_redis(root: Path, children: list[Child]) -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH (Debian: apt-get install redis-server)")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root)]
    argv += ["--save", "", "--appendonly", "no"]
    redis = Child("redis", argv, root / "redis.log")
    children.append(redis)

    def answers() -> bool:
        if redis.process.poll() is not None:
            raise RuntimeError(f"redis-server exited; see {redis.log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False

    wait_until(answers, "redis-server answering PING")
    return f"redis://127.0.0.1:{port}/0"


def start_replica(
    root: Path, n: int, redis_url: str, lease_ttl: float, children: list[Child]
) -> tuple[Child, str, str]:
    data = root / f"replica-{n}"
    data.mkdir()
    argv = [sys.executable, "-m", "aworld_server.cli", "serve", "--port", "0"]
    argv += ["--store", "redis", "--bus", "redis", "--redis-url", redis_url]
    argv += ["--data-dir", str(data), "--lease-ttl", str(lease_ttl), "--shutdown-grace", "1"]
    argv += ["--ready-file", str(data / "ready"), "--log-level", "warning"]
    replica = Child(f"replica {n}", argv, data / "serve.log")
    children.append(replica)

    def ready() -> bool:
        if replica.process.poll() is not None:
            raise RuntimeError(f"replica {n} exited; see {replica.log}")
        path = data / "ready"
        return path.exists() and path.read_text().endswith("\n")

    wait_until(ready, f"replica {n} listening")
    address = (data / "ready").read_text().strip()
    return replica, address, (data / "replica-id").read_text().strip()


# -- the scenario -----------------------------------------------------------------------------


def chain_task() -> Any:
    from aworld_client import AgentSpec, ModelConfig, Payload, Swarm, Task

    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "slow_step", "arguments": {"x": SEED}}]},
        *(
            {"tool_calls": [{"name": "slow_step", "arguments": {"x": "{last_tool_output}"}}]}
            for _ in range(STEPS - 1)
        ),
        {"content": "answer={last_tool_output}"},
    ]
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="chain", tool_names=["slow_step"], model=model)
    return Task(name="failover", input=Payload.from_text("chain"), swarm=Swarm(agents=[agent]))


def expected_answer() -> str:
    value = SEED
    for _ in range(STEPS):
        value = step_value(value)
    return f"answer={value}"


async def scenario(
    console: Any, redis_url: str, replicas: list[tuple[Child, str, str]], lease_ttl: float
) -> bool:
    import redis.asyncio as aioredis
    from aworld_client import AsyncClient, TaskStatusChanged, ToolCallFinished, ToolCallStarted

    (r1, address1, _), (_, address2, id2) = replicas
    keys = aioredis.from_url(redis_url)
    async with AsyncClient(address1) as on_1, AsyncClient(address2) as on_2, keys:
        # The worker is connected to replica 2; replica 1 lists it too (the whole cluster).
        async with asyncio.timeout(30):
            while not [w for w in await on_1.workers("slow_step") if w.worker_id == WORKER_ID]:
                await asyncio.sleep(0.05)  # polls ListWorkers until the worker is published
        (seen,) = [w for w in await on_1.workers("slow_step") if w.worker_id == WORKER_ID]
        console.print(
            f"  [bold]worker[/]     {WORKER_ID} on replica {seen.replica_id} (listed by replica 1)"
        )
        task_id = await on_1.submit(chain_task())
        owner = (await keys.get(f"aworld:lease:{task_id}") or b"").decode().rsplit(":", 1)[0]
        console.print(f"  [bold]task[/]       {task_id} submitted to replica 1, owner {owner}")
        console.print()
        finished = 0
        killed_at = 0.0
        response = None
        async for event in on_2.events(task_id):  # any replica streams any task
            body = event.body
            if isinstance(body, ToolCallStarted):
                console.print(
                    f"  {event.seq:>3}  call {body.tool_name}({body.arguments.value()}) "
                    f"attempt {body.attempt} on worker {body.worker_id}"
                )
            elif isinstance(body, ToolCallFinished):
                if body.failure is not None:
                    console.print(f"  {event.seq:>3}  [yellow]failed[/] {body.failure.message}")
                    continue
                console.print(f"  {event.seq:>3}  [green]→ {body.result.value()}[/]")
                finished += 1
                if finished == KILL_AFTER and not killed_at:
                    os.kill(r1.pid, signal.SIGKILL)
                    killed_at = time.monotonic()
                    console.print(
                        f"  [bold red]SIGKILL replica 1[/] (pid {r1.pid}) — it owns the task"
                    )
                    asyncio.get_running_loop().create_task(
                        takeover(console, keys, task_id, id2, killed_at)
                    )
            elif isinstance(body, TaskStatusChanged) and body.status.is_terminal:
                response = body.response
                break
        console.print()
        if response is None or response.answer is None:
            console.print("[red]the task did not finish[/]")
            return False
        answer = response.answer.value()
        right = answer == expected_answer()
        verdict = "[green]the answer of a fault-free run[/]" if right else "[red]WRONG[/]"
        console.print(f"  [bold]answer[/]     {answer}  ({verdict}; lease TTL {lease_ttl:g} s)")
        return right


async def takeover(console: Any, keys: Any, task_id: str, new_owner: str, killed_at: float) -> None:
    while True:
        value = await keys.get(f"aworld:lease:{task_id}")
        if value is not None and value.decode().startswith(f"{new_owner}:"):
            took = time.monotonic() - killed_at
            console.print(f"  [bold]taken over[/] by replica 2 ({new_owner}) after {took:.1f} s")
            return
        await asyncio.sleep(0.02)  # polls the task's lease


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--worker", metavar="TARGET", help=argparse.SUPPRESS)
    parser.add_argument("--lease-ttl", type=float, default=2.0)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker)
        return 0

    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    children: list[Child] = []
    ok = False
    with tempfile.TemporaryDirectory(prefix="aworld-failover-") as tmp:
        root = Path(tmp)
        try:
            with console.status("starting redis-server, two replicas and a worker…"):
                redis_url = start_redis(root, children)
                replicas = [
                    start_replica(root, n, redis_url, args.lease_ttl, children) for n in (1, 2)
                ]
                worker_argv = [sys.executable, __file__, "--worker", replicas[1][1]]
                children.append(Child("worker", worker_argv, root / "worker.log"))
            console.print(f"  [bold]redis[/]      {redis_url}  pid {children[0].pid}")
            for n, (child, address, replica_id) in enumerate(replicas, 1):
                console.print(
                    f"  [bold]replica {n}[/]  {address}  id {replica_id}  pid {child.pid}"
                )
            ok = asyncio.run(scenario(console, redis_url, replicas, args.lease_ttl))
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]")
        except Exception as error:
            console.print(f"[red]failed:[/] {error}")
        finally:
            stopped = [child.stop() for child in reversed(children)]
            console.print(f"  [bold]stopped[/]    {', '.join(stopped)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
