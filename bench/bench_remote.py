"""Remote-handler benchmarks (DESIGN.md §9 "Remote round trip"), each against the gRPC floor.

Every run starts fresh processes and measures, in this order:

* **Floor**: a raw ``grpc.aio`` bidirectional stream echoing a 64-byte payload between two
  processes, through a generic handler with identity serialisers (no codegen, no protobuf), so
  it measures gRPC itself; 1 in flight (p50/p99) and 64 in flight (msgs/s on the one stream,
  a window of 64 unanswered messages). Two directions: the canonical echo (the client sends,
  the server echoes back), which is the reference for the targets, and the *push* floor (the
  server writes first and the peer that dialled in echoes: the shape of
  ``WorkerService.Connect``), shown beside it because it is the direction the dispatcher
  uses.
* **Remote call from the server**: inside the server process, ``Runtime.handlers.invoke`` (the
  call the runner makes for one tool-call attempt) of a 64-byte ``echo`` tool served by a
  ``Worker`` in another process: 1 in flight (p50/p99) and 64 in flight (calls/s, the worker
  with ``max_concurrency`` 128). For context, a 50-step task whose agent calls the remote tool
  49 times, against the same task calling an in-process tool: the difference per call is what
  a remote call costs inside a task.
* **Two hops**: the same tool invoked by a client process through the server
  (``AsyncClient.invoke`` = ``RuntimeService.InvokeHandler``): client -> server -> worker -> back.
* **Submit-to-terminal**: a trivial task (scripted model, one local ``add`` call; DESIGN §9)
  submitted by a client process over gRPC (``RunTask``), timed until its terminal event.

The server is ``start_server`` with its durable SQLite event log in a fresh temporary
directory; ports are chosen by the OS. Every child process is started and stopped by pid, and
each child also exits when its stdin closes, so none outlives the benchmark. Figures are
medians over runs of each run's p50/p99/throughput.

Run: ``.venv/bin/python bench/bench_remote.py [--quick] [--runs N] [--json PATH]``;
``--floor-only`` runs just the floor (it needs only grpcio and rich, so it also runs in a
throwaway venv with another grpcio release).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from rich.console import Console
from rich.table import Table

PAYLOAD = b"x" * 64  # the floor's message; the tool's argument is a 64-character string
DATA = "x" * 64
IN_FLIGHT = 64
WORKER_CONCURRENCY = 128
TASK_STEPS = 50
ONE_HOP_TARGET = 2.0  # issue #16: p50 of a remote call from the server <= 2.0 x floor p50
TWO_HOP_TARGET = 4.5  # issue #16: p50 of a client's call through the server <= 4.5 x floor p50
FLOOR_SERVICE = "aworld.bench.Echo"
CHILD_TIMEOUT = 300.0


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    """p50/p99/mean in microseconds."""
    ordered = sorted(samples_ns)
    n = len(ordered)
    return {
        "n": n,
        "p50_us": statistics.median(ordered) / 1000,
        "p99_us": ordered[min(n - 1, round(0.99 * (n - 1)))] / 1000,
        "mean_us": statistics.fmean(ordered) / 1000,
    }


async def _latency(call: Callable[[], Awaitable[Any]], warmup: int, calls: int) -> dict[str, Any]:
    """One call at a time: ``warmup`` untimed, then ``calls`` timed."""
    for _ in range(warmup):
        await call()
    clock = time.perf_counter_ns
    samples = []
    cpu_started = time.process_time()
    for _ in range(calls):
        started = clock()
        await call()
        samples.append(clock() - started)
    cpu = time.process_time() - cpu_started
    # CPU of this (the timing) process per call, all its threads: what the call costs here.
    return _percentiles(samples) | {"cpu_us": cpu / calls * 1e6}


async def _throughput(call: Callable[[], Awaitable[Any]], total: int) -> dict[str, Any]:
    """``IN_FLIGHT`` callers share ``total`` calls; calls/s over the wall time, plus the
    latency each call saw under that load."""
    remaining = total
    samples: list[int] = []
    clock = time.perf_counter_ns

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = clock()
            await call()
            samples.append(clock() - started)

    # A short untimed burst first, so every caller's path is warm.
    warm = total // 10
    remaining = warm
    await asyncio.gather(*(caller() for _ in range(IN_FLIGHT)))
    samples.clear()
    remaining = total
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(IN_FLIGHT)))
    wall = time.perf_counter() - started
    loaded = _percentiles(samples)
    return {"per_s": total / wall, "wall_s": wall, "loaded_p50_us": loaded["p50_us"]}


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


async def _stdin_closed() -> None:
    """Return when the parent closes our stdin (or writes ``stop``): the no-orphan guard."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"stop":
            return


# --- floor: raw grpc.aio bidi echo ------------------------------------------------------------


async def _ping_pong(
    write: Callable[[bytes], Awaitable[None]],
    read: Callable[[], Awaitable[Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Time echoes over one open stream: 1 in flight, then a window of IN_FLIGHT."""

    async def one() -> None:
        await write(PAYLOAD)
        await read()

    result: dict[str, Any] = {"one": await _latency(one, args.warmup, args.calls)}
    # 64 in flight on the one stream: the writer keeps a window of IN_FLIGHT unanswered
    # messages, the reader frees a slot per echo (one read and one write may be pending at
    # once on a grpc.aio stream).
    for phase, total in (("warm", args.burst // 10), ("timed", args.burst)):
        window = asyncio.Semaphore(IN_FLIGHT)

        async def writer(total: int = total, window: asyncio.Semaphore = window) -> None:
            for _ in range(total):
                await window.acquire()
                await write(PAYLOAD)

        async def reader(total: int = total, window: asyncio.Semaphore = window) -> None:
            for _ in range(total):
                await read()
                window.release()

        started = time.perf_counter()
        await asyncio.gather(writer(), reader())
        wall = time.perf_counter() - started
        if phase == "timed":
            result["many"] = {"per_s": total / wall, "wall_s": wall}
    return result


async def _floor_host(args: argparse.Namespace) -> None:
    """Hosts the echo service. ``Echo``: echoes what the peer sends (client-initiated).
    ``Ping``: this process times pushes that the peer echoes (worker topology)."""
    import grpc

    done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def echo(_: Any, context: Any) -> None:
        while (message := await context.read()) is not grpc.aio.EOF:
            await context.write(message)

    async def ping(_: Any, context: Any) -> None:
        try:
            await context.read()  # the peer's opening message, sent to start the RPC
            done.set_result(await _ping_pong(context.write, context.read, args))
        except BaseException as error:
            done.set_exception(error)
            raise

    handler = grpc.method_handlers_generic_handler(
        FLOOR_SERVICE,
        {
            "Echo": grpc.stream_stream_rpc_method_handler(echo),
            "Ping": grpc.stream_stream_rpc_method_handler(ping),
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    _emit({"port": port})
    guard = asyncio.ensure_future(_stdin_closed())
    finished, _ = await asyncio.wait({done, guard}, return_when=asyncio.FIRST_COMPLETED)
    if done in finished:
        _emit({"floor_push": done.result()})
    guard.cancel()
    await server.stop(1)


async def _floor_peer(args: argparse.Namespace) -> None:
    """Dials the host: times client-initiated echoes, then echoes the host's pings."""
    import grpc

    async with grpc.aio.insecure_channel(args.target) as channel:
        await channel.channel_ready()
        stream = channel.stream_stream(f"/{FLOOR_SERVICE}/Echo")()
        result = await _ping_pong(stream.write, stream.read, args)
        await stream.done_writing()
        await stream.read()  # EOF
        _emit({"floor_echo": result})

        pings = channel.stream_stream(f"/{FLOOR_SERVICE}/Ping")()
        await pings.write(b"")  # starts the RPC on the host; it never reads this stream's data
        while (message := await pings.read()) is not grpc.aio.EOF:
            await pings.write(message)


# --- the AWorld server, its worker, its client ------------------------------------------------


def _tools() -> tuple[Any, Any, Any]:
    from aworld_client.handlers import tool

    @tool
    async def echo(data: str) -> str:
        """Return ``data`` unchanged (served by the worker)."""
        return data

    @tool
    async def echo_local(data: str) -> str:
        """Return ``data`` unchanged (in the server process)."""
        return data

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers (the trivial task's local tool)."""
        return a + b

    return echo, echo_local, add


def _task(script: list[dict[str, Any]], tools: list[str]) -> Any:
    from aworld_client import AgentSpec, ModelConfig, Payload, Swarm, Task

    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="solver", tool_names=tools, model=model)
    return Task(input=Payload.from_text("go"), swarm=Swarm(agents=[agent]))


def _trivial_task() -> Any:
    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
        {"content": "sum={last_tool_output}"},
    ]
    return _task(script, ["add"])


def _echo_chain_task(tool_name: str, steps: int) -> Any:
    call = {"tool_calls": [{"name": tool_name, "arguments": {"data": DATA}}]}
    script = [call] * (steps - 1) + [{"content": "done"}]
    return _task(script, [tool_name])


async def _server(args: argparse.Namespace) -> None:
    """The AWorld server. After the first stdin line (the worker is started) it measures the
    remote call from inside the server and reports; then it serves until stdin closes."""
    from aworld_client import HandlerKind, TaskStatus
    from aworld_server.config import ServerConfig
    from aworld_server.context import Context
    from aworld_server.dispatch import HandlerCall
    from aworld_server.server import start_server

    _, echo_local, add = _tools()

    def setup(runtime: Any) -> None:
        runtime.registry.add_tool(echo_local)
        runtime.registry.add_tool(add)

    with tempfile.TemporaryDirectory(prefix="aworld-bench-remote-") as data_dir:
        config = ServerConfig.load(port=0, data_dir=data_dir)
        running = await start_server(config, setup=setup)
        try:
            _emit({"address": f"127.0.0.1:{running.port}"})
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
            if (await reader.readline()).strip() != b"measure":
                return
            async with asyncio.timeout(60):
                await running.dispatcher.wait_for_handler("echo", HandlerKind.TOOL)
            runtime = running.runtime
            task = _echo_chain_task("echo", 2)
            task.id = uuid.uuid4().hex
            context = Context(task.id, "")
            arguments = {"data": DATA}

            async def remote_call() -> None:
                output = await runtime.handlers.invoke(
                    HandlerCall(
                        name="echo",
                        kind=HandlerKind.TOOL,
                        arguments=arguments,
                        call_id=uuid.uuid4().hex,
                        task=task,
                    ),
                    context,
                )
                assert output == DATA

            result: dict[str, Any] = {
                "one": await _latency(remote_call, args.warmup, args.calls),
                "many": await _throughput(remote_call, args.burst),
            }
            # A task whose agent calls the tool TASK_STEPS-1 times: remote vs in-process.
            for name, tool_name in (("task_remote", "echo"), ("task_local", "echo_local")):
                walls = []
                for i in range(args.tasks_steps + 1):
                    started = time.perf_counter()
                    response = await runtime.run(_echo_chain_task(tool_name, TASK_STEPS))
                    wall = time.perf_counter() - started
                    if response.status != TaskStatus.SUCCEEDED:
                        raise SystemExit(f"{name} task ended {response.status}: {response}")
                    if i:  # the first one warms up
                        walls.append(wall)
                result[name] = {"wall_ms": statistics.median(walls) * 1000}
            _emit({"server": result})
            while line := await reader.readline():
                if line.strip() == b"stop":
                    break
        finally:
            await running.stop(grace=1)


async def _worker(args: argparse.Namespace) -> None:
    from aworld_client import Worker

    echo, _, _ = _tools()
    worker = Worker(args.target, [echo], max_concurrency=WORKER_CONCURRENCY)
    serving = asyncio.ensure_future(worker.run())
    guard = asyncio.ensure_future(_stdin_closed())
    await asyncio.wait({serving, guard}, return_when=asyncio.FIRST_COMPLETED)
    await worker.stop()
    guard.cancel()
    if serving.done():
        serving.result()


async def _client(args: argparse.Namespace) -> None:
    """Two hops (InvokeHandler of the remote tool) and submit-to-terminal (RunTask)."""
    from aworld_client import TaskStatus
    from aworld_client.client import AsyncClient

    async with AsyncClient(args.target) as client:

        async def invoke() -> None:
            response = await client.invoke("echo", {"data": DATA})
            assert response.output is not None and response.output.value() == DATA

        result: dict[str, Any] = {
            "one": await _latency(invoke, args.warmup, args.calls),
            "many": await _throughput(invoke, args.burst),
        }

        async def trivial() -> None:
            response = await client.run_to_completion(_trivial_task())
            assert response.status == TaskStatus.SUCCEEDED, response

        result["submit"] = await _latency(trivial, args.task_warmup, args.tasks)
        _emit({"client": result})


# --- parent side: processes, runs and tables --------------------------------------------------


class _Child:
    """A child process of this script, spoken to over stdin/stdout JSON lines."""

    def __init__(self, role: str, args: argparse.Namespace, target: str = "") -> None:
        command = [sys.executable, __file__, "--role", role, "--target", target]
        for flag in ("calls", "warmup", "burst", "tasks", "task_warmup", "tasks_steps"):
            command += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
        self.role = role
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def read(self, key: str, timeout: float = CHILD_TIMEOUT) -> Any:
        """The next JSON line from the child carrying ``key``."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                raise TimeoutError(f"{self.role}: no {key!r} within {timeout:.0f} s")
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.role} exited ({self.process.wait()}) before {key!r}")
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                print(f"[{self.role}] {line.rstrip()}", file=sys.stderr)
                continue
            if key in record:
                return record[key]

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self, timeout: float = 15.0) -> None:
        """Close stdin (the child's cue to exit), wait, then kill by pid if it lingers."""
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, 9)
                self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def _one_run(args: argparse.Namespace) -> dict[str, Any]:
    children: list[_Child] = []
    try:
        host = _Child("floor-host", args)
        children.append(host)
        port = host.read("port")
        peer = _Child("floor-peer", args, f"127.0.0.1:{port}")
        children.append(peer)
        run: dict[str, Any] = {"floor_echo": peer.read("floor_echo")}
        run["floor_push"] = host.read("floor_push")
        for child in (peer, host):
            child.stop()
        if args.floor_only:
            return run

        server = _Child("server", args)
        children.append(server)
        address = server.read("address")
        worker = _Child("worker", args, address)
        children.append(worker)
        server.say("measure")
        run["server"] = server.read("server")
        client = _Child("client", args, address)
        children.append(client)
        run["client"] = client.read("client")
        for child in (client, worker):
            child.stop()
        server.say("stop")
        server.stop()
        return run
    finally:
        for child in reversed(children):
            child.stop(timeout=5)


def _machine() -> dict[str, Any]:
    versions = {}
    for dist in ("grpcio", "protobuf", "aworld-client", "aworld-server"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    try:
        import google.protobuf.internal.api_implementation as impl

        versions["protobuf"] += f" ({impl.Type()})"
    except ImportError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
        "load_average": os.getloadavg(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _median(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(value)
    return statistics.median(values)


_ROWS = (
    # key, label, has a 64-in-flight figure
    ("floor_echo", "floor: bidi echo, client sends (ref.)", True),
    ("floor_push", "floor: bidi echo, server pushes", True),
    ("remote", "remote call from the server", True),
    ("two_hop", "two hops (client InvokeHandler)", True),
    ("submit", "submit-to-terminal (RunTask)", False),
)
_SOURCES = {
    "floor_echo": ("floor_echo", "one", "many"),
    "floor_push": ("floor_push", "one", "many"),
    "remote": ("server", "one", "many"),
    "two_hop": ("client", "one", "many"),
    "submit": ("client", "submit", ""),
}


def _summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    s: dict[str, float] = {}
    for key, (section, one, many) in _SOURCES.items():
        if section not in runs[0]:
            continue
        for stat in ("p50_us", "p99_us", "cpu_us"):
            s[f"{key}_{stat}"] = _median(runs, section, one, stat)
        if many:
            s[f"{key}_per_s"] = _median(runs, section, many, "per_s")
            if key not in ("floor_echo", "floor_push"):
                s[f"{key}_loaded_p50_us"] = _median(runs, section, many, "loaded_p50_us")
    if "server" in runs[0]:
        s["task_remote_ms"] = _median(runs, "server", "task_remote", "wall_ms")
        s["task_local_ms"] = _median(runs, "server", "task_local", "wall_ms")
        s["task_remote_per_call_us"] = (
            (s["task_remote_ms"] - s["task_local_ms"]) * 1000 / (TASK_STEPS - 1)
        )
    return s


def _verdict(ratio: float, target: float) -> str:
    if ratio <= target:
        return f"[green]met[/green] ({ratio:.2f}x <= {target}x)"
    return f"[red]missed[/red] ({ratio:.2f}x > {target}x; {ratio / target:.1f}x too slow)"


def _report(console: Console, runs: list[dict[str, Any]], machine: dict[str, Any]) -> None:
    s = _summary(runs)
    floor, push = s["floor_echo_p50_us"], s["floor_push_p50_us"]
    floor_s = s["floor_echo_per_s"]
    table = Table(title=f"Remote handlers vs the gRPC floor (median of {len(runs)} run(s))")
    for column, justify in (
        ("workload (64-byte payload)", "left"),
        ("p50 (µs)", "right"),
        ("p99 (µs)", "right"),
        ("p50 / floor", "right"),
        ("p50 / push floor", "right"),
        ("CPU/call (µs)", "right"),
        (f"{IN_FLIGHT} in flight (/s)", "right"),
        ("/s vs floor", "right"),
        (f"p50 at {IN_FLIGHT} (µs)", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for key, label, many in _ROWS:
        if f"{key}_p50_us" not in s:
            continue
        p50 = s[f"{key}_p50_us"]
        per_s = s.get(f"{key}_per_s", 0.0)
        loaded = s.get(f"{key}_loaded_p50_us")
        table.add_row(
            label,
            f"{p50:,.0f}",
            f"{s[f'{key}_p99_us']:,.0f}",
            f"{p50 / floor:.2f}x",
            f"{p50 / push:.2f}x",
            f"{s[f'{key}_cpu_us']:,.0f}",
            f"{per_s:,.0f}" if many else "",
            f"{per_s / floor_s:.2f}x" if many else "",
            f"{loaded:,.0f}" if loaded else "",
        )
    console.print(table)
    console.print(
        "[dim]floor: raw grpc.aio bidi stream, client sends and the server echoes (the "
        "reference for the targets). push floor: the server writes first and the peer that "
        "dialled in echoes (the shape of WorkerService.Connect). Remote call from the server: "
        "Runtime.handlers.invoke in the server process, tool in a worker process. Two hops: "
        "client process -> server InvokeHandler -> worker -> back. Submit-to-terminal: a trivial "
        "task (one local tool call) by a client, until its terminal event. CPU/call: CPU time of "
        "the timing process (all threads) per call at 1 in flight.[/dim]"
    )
    if "remote_p50_us" not in s:
        return
    console.print(
        f"[dim]Inside a task ({TASK_STEPS} steps, {TASK_STEPS - 1} tool calls, durable log on): "
        f"remote tool {s['task_remote_ms']:.1f} ms, in-process tool {s['task_local_ms']:.1f} ms "
        f"per task -> a remote call adds {s['task_remote_per_call_us']:,.0f} µs per call.[/dim]"
    )

    targets = Table(title="Targets (p50 at 1 in flight)")
    for column in ("target", "measured", "vs push floor", "verdict (vs floor)"):
        targets.add_column(column)
    for key, name, target in (
        ("remote", "remote call from the server", ONE_HOP_TARGET),
        ("two_hop", "two hops through the server", TWO_HOP_TARGET),
    ):
        p50 = s[f"{key}_p50_us"]
        targets.add_row(
            f"{name}: p50 <= {target}x floor",
            f"{p50:,.0f} µs vs {floor:,.0f} µs",
            f"{p50 / push:.2f}x ({push:,.0f} µs)",
            _verdict(p50 / floor, target),
        )
    console.print(targets)


def _print_machine(console: Console, machine: dict[str, Any]) -> None:
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    load = ", ".join(f"{x:.2f}" for x in machine["load_average"])
    console.print(
        f"machine: {machine['cores']} cores ({machine['cpu']}), {machine['os']}, "
        f"Python {machine['python']}; {versions}; load average at start {load}; "
        f"{machine['date']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 run, fewer calls (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs (default 3; quick 1)")
    parser.add_argument("--json", metavar="PATH", help="write the raw numbers here")
    parser.add_argument(
        "--floor-only", action="store_true", help="only the gRPC floor (needs only grpcio, rich)"
    )
    parser.add_argument("--calls", type=int, default=None, help="timed calls at 1 in flight")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--target", default="", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--burst", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--task-warmup", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tasks-steps", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    defaults = (
        {
            "calls": 300,
            "warmup": 50,
            "burst": 1_000,
            "tasks": 50,
            "task_warmup": 5,
            "tasks_steps": 2,
        }
        if args.quick
        else {
            "calls": 3_000,
            "warmup": 300,
            "burst": 20_000,
            "tasks": 300,
            "task_warmup": 30,
            "tasks_steps": 5,
        }
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    roles = {
        "floor-host": _floor_host,
        "floor-peer": _floor_peer,
        "server": _server,
        "worker": _worker,
        "client": _client,
    }
    if args.role:
        profile_dir = os.environ.get("AWORLD_BENCH_PROFILE")
        if not profile_dir:
            asyncio.run(roles[args.role](args))
            return
        # AWORLD_BENCH_PROFILE=DIR: each child writes DIR/<role>.pstats (cProfile, the whole
        # child) to find where the time goes; the figures of such a run are not comparable.
        import cProfile

        with cProfile.Profile() as profile:
            asyncio.run(roles[args.role](args))
        profile.dump_stats(os.path.join(profile_dir, f"{args.role}.pstats"))
        return

    runs = args.runs or (1 if args.quick else 3)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    machine = _machine()
    raw = []
    for i in range(runs):
        console.print(f"[dim]run {i + 1} of {runs} ...[/dim]")
        raw.append(_one_run(args))
    _report(console, raw, machine)
    _print_machine(console, machine)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {"machine": machine, "runs": runs, "summary": _summary(raw), "raw": raw},
                out,
                indent=2,
            )
        console.print(f"raw numbers written to {args.json}")


if __name__ == "__main__":
    main()
