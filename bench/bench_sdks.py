"""SDK worker benchmark (DESIGN.md §9 "Remote round trip"): the same echo tool served by a
Python, a TypeScript and a Go worker process, measured in one run.

Each run starts fresh worker processes — ``aworld_client.Worker`` (this script,
``--role python-worker``), ``typescript/examples/worker.ts`` (node) and
``go/cmd/aworld-example-worker`` — each serving a tool ``echo_<sdk>`` that returns its 64-character
``data`` argument, and measures for each SDK, one call in flight:

* **from the server** (the reference path): inside the server process,
  ``Runtime.handlers.invoke``, the call the runner makes for one tool-call attempt of a
  task: server -> worker -> server;
* **through a client**: a client process calling ``AsyncClient.invoke`` (RuntimeService
  InvokeHandler): client -> server -> worker -> back;
* the **floor**: a raw ``grpc.aio`` bidirectional stream echoing 64 bytes to a peer process that
  dialled in (the shape of WorkerService.Connect, without AWorld or protobuf).

Each SDK gets ``--warmup`` untimed calls first (default 3,000: the TypeScript worker's tail
latency only settles once V8 has optimised its hot paths, after ~2,000 calls). The SDKs take
turns within a run (the order rotates from run to run), so drift on a shared
machine affects all three alike. Worker CPU per call is the worker process's user+system time
(``/proc/<pid>/stat``) over the timed calls. Figures are medians over runs of each run's
p50/p99. The server is ``start_server`` in this process with its durable SQLite log in a fresh
temporary directory; ports are chosen by the OS; every child is stopped and reaped by pid.

Run: ``.venv/bin/python bench/bench_sdks.py [--quick] [--runs N] [--calls N] [--json PATH]``.
Needs ``node``, ``npm`` and ``go`` (``make setup``); it builds the TypeScript SDK and example
worker and the Go example worker first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("python", "typescript", "go")
DATA = "x" * 64
PAYLOAD = DATA.encode()
TARGET = 1.5  # TypeScript and Go p50/p99 within 1.5x of the Python worker's
FLOOR_SERVICE = "aworld.bench.SdkFloor"
START_TIMEOUT = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    n = len(ordered)
    return {
        "n": n,
        "p50_us": statistics.median(ordered) / 1000,
        "p99_us": ordered[min(n - 1, round(0.99 * (n - 1)))] / 1000,
    }


async def _latency(call: Callable[[], Awaitable[Any]], warmup: int, calls: int) -> dict[str, Any]:
    """One call at a time: ``warmup`` untimed, then ``calls`` timed."""
    for _ in range(warmup):
        await call()
    clock = time.perf_counter_ns
    samples = []
    for _ in range(calls):
        started = clock()
        await call()
        samples.append(clock() - started)
    return _percentiles(samples)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


# --- child roles --------------------------------------------------------------------------------


async def _python_worker(args: argparse.Namespace) -> None:
    from aworld_client import Worker
    from aworld_client.handlers import tool

    @tool(name=args.tool, idempotent=True)
    async def echo(data: str) -> str:
        """Return ``data`` unchanged."""
        return data

    worker = Worker(args.target, [echo])
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(worker.stop()))
    await worker.run()


async def _client(args: argparse.Namespace) -> None:
    from aworld_client import AsyncClient

    async with AsyncClient(args.target) as client:

        async def invoke() -> None:
            response = await client.invoke(args.tool, {"data": DATA})
            assert response.output is not None and response.output.value() == DATA, response

        _emit({"client": await _latency(invoke, args.warmup, args.calls)})


async def _floor_peer(args: argparse.Namespace) -> None:
    """Dials the host's floor service and echoes what it pushes until the stream ends."""
    import grpc

    async with grpc.aio.insecure_channel(args.target) as channel:
        stream = channel.stream_stream(f"/{FLOOR_SERVICE}/Ping")()
        await stream.write(b"")  # starts the RPC on the host
        while (message := await stream.read()) is not grpc.aio.EOF:
            await stream.write(message)


# --- the measuring process -------------------------------------------------------------------


class _Child:
    """A child process, stopped with SIGTERM (then SIGKILL) and reaped by pid. Stopping is
    awaited: a worker stops gracefully by telling the server, which runs on this loop."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process

    @classmethod
    async def start(cls, name: str, command: list[str]) -> _Child:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
        )
        return cls(name, process)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self, timeout: float = 10.0) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(timeout):
                    await self.process.wait()
            except TimeoutError:
                print(f"{self.name} ignored SIGTERM for {timeout} s; killing it", file=sys.stderr)
                self.process.kill()
        await self.process.wait()


def _build(bin_dir: Path) -> dict[str, list[str]]:
    """Build the TypeScript and Go workers; the command that starts each SDK's worker."""
    node, npm, go = (shutil.which(tool) for tool in ("node", "npm", "go"))
    if not (node and npm and go):
        raise SystemExit("bench_sdks needs node, npm and go on PATH (make setup)")
    tsc = str(ROOT / "node_modules" / ".bin" / "tsc")
    for command, cwd in (
        ([npm, "--silent", "-w", "typescript", "run", "build"], ROOT),
        ([tsc, "-p", "typescript/examples"], ROOT),
        ([go, "build", "-o", str(bin_dir / "worker"), "./cmd/aworld-example-worker"], ROOT / "go"),
    ):
        subprocess.run(command, cwd=cwd, check=True)
    return {
        "python": [sys.executable, __file__, "--role", "python-worker"],
        "typescript": [node, str(ROOT / "typescript/examples/.build/worker.js"), "--quiet"],
        "go": [str(bin_dir / "worker"), "--quiet"],
    }


def _worker_command(sdk: str, base: list[str], address: str) -> list[str]:
    if sdk == "python":
        return [*base, "--target", address, "--tool", f"echo_{sdk}"]
    return [*base, "--address", address, "--tool", f"echo_{sdk}=echo"]


async def _floor(args: argparse.Namespace) -> dict[str, Any]:
    """Raw grpc.aio bidi echo, 1 in flight: this process hosts and pushes, a peer echoes."""
    import grpc

    done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def ping(_: Any, context: Any) -> None:
        try:
            await context.read()  # the peer's opening message

            async def one() -> None:
                await context.write(PAYLOAD)
                await context.read()

            done.set_result(await _latency(one, args.warmup, args.calls))
        except BaseException as error:
            if not done.done():
                done.set_exception(error)
            raise

    handler = grpc.method_handlers_generic_handler(
        FLOOR_SERVICE, {"Ping": grpc.stream_stream_rpc_method_handler(ping)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    peer = await _Child.start(
        "floor peer",
        [sys.executable, __file__, "--role", "floor-peer", "--target", f"127.0.0.1:{port}"],
    )
    try:
        async with asyncio.timeout(START_TIMEOUT + args.calls):
            return await done
    finally:
        await server.stop(0)
        await peer.stop()


async def _from_server(
    running: Any, tool: str, pid: int, args: argparse.Namespace
) -> dict[str, Any]:
    """``Runtime.handlers.invoke`` of the remote tool, as a task's runner calls it."""
    from aworld_client import AgentSpec, HandlerKind, Swarm, Task
    from aworld_server.context import Context
    from aworld_server.dispatch import HandlerCall

    task = Task(
        id=uuid.uuid4().hex, swarm=Swarm(agents=[AgentSpec(name="bench", tool_names=[tool])])
    )
    context = Context(task.id, "")
    arguments = {"data": DATA}

    async def call() -> None:
        call = HandlerCall(
            name=tool,
            kind=HandlerKind.TOOL,
            arguments=arguments,
            call_id=uuid.uuid4().hex,
            task=task,
        )
        output = await running.runtime.handlers.invoke(call, context)
        assert output == DATA, output

    for _ in range(args.warmup):
        await call()
    cpu = _cpu_seconds(pid)
    result = await _latency(call, 0, args.calls)
    result["worker_cpu_us"] = (_cpu_seconds(pid) - cpu) / args.calls * 1e6
    return result


async def _through_client(address: str, tool: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--role",
        "client",
        "--target",
        address,
        "--tool",
        tool,
        "--calls",
        str(args.calls),
        "--warmup",
        str(args.warmup),
    ]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(START_TIMEOUT + args.calls / 100):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"the client process failed ({process.returncode})")
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])["client"]
    return result


async def _one_run(
    run: int, commands: dict[str, list[str]], args: argparse.Namespace
) -> dict[str, Any]:
    from aworld_client import HandlerKind
    from aworld_server.config import ServerConfig
    from aworld_server.server import start_server

    result: dict[str, Any] = {"floor": await _floor(args)}
    with tempfile.TemporaryDirectory(prefix="aworld-bench-sdks-") as data_dir:
        running = await start_server(ServerConfig.load(port=0, data_dir=data_dir))
        workers: dict[str, _Child] = {}
        try:
            for sdk in SDKS:
                workers[sdk] = await _Child.start(
                    f"{sdk} worker", _worker_command(sdk, commands[sdk], running.address)
                )
            async with asyncio.timeout(START_TIMEOUT):
                for sdk in SDKS:
                    await running.dispatcher.wait_for_handler(f"echo_{sdk}", HandlerKind.TOOL)
            order = SDKS[run % len(SDKS) :] + SDKS[: run % len(SDKS)]
            for sdk in order:
                tool = f"echo_{sdk}"
                result[sdk] = {
                    "server": await _from_server(running, tool, workers[sdk].pid, args),
                    "client": await _through_client(running.address, tool, args),
                }
        finally:
            await asyncio.gather(*(child.stop() for child in workers.values()))
            await running.stop(grace=1)
    return result


def _machine() -> dict[str, Any]:
    versions: dict[str, str] = {}
    for dist in ("grpcio", "protobuf", "aworld-client", "aworld-server"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    node_modules = ROOT / "node_modules"
    for package in ("@connectrpc/connect-node", "@bufbuild/protobuf"):
        try:
            manifest = json.loads((node_modules / package / "package.json").read_text())
            versions[package] = manifest["version"]
        except OSError:
            versions[package] = "not installed"
    for module in ("google.golang.org/grpc", "google.golang.org/protobuf"):
        for line in (ROOT / "go" / "go.mod").read_text().splitlines():
            if line.strip().startswith(module + " "):
                versions[module] = line.split()[1]
    tools = {}
    for tool, flag in (("node", "--version"), ("go", "version")):
        found = shutil.which(tool)
        if found:
            tools[tool] = subprocess.run(
                [found, flag], capture_output=True, text=True
            ).stdout.strip()
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "tools": tools,
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


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "floor": {k: _median(runs, "floor", k) for k in ("p50_us", "p99_us")}
    }
    for sdk in SDKS:
        summary[sdk] = {
            path: {
                k: _median(runs, sdk, path, k)
                for k in ("p50_us", "p99_us", *(["worker_cpu_us"] if path == "server" else []))
            }
            for path in ("server", "client")
        }
    return summary


def _report(summary: dict[str, Any], runs: int, machine: dict[str, Any]) -> bool:
    """Print the tables; True when both targets are met on the reference path."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    floor = summary["floor"]
    table = Table(
        title=f"Remote tool round trip by worker SDK, 1 in flight (median of {runs} runs)"
    )
    for column, justify in (
        ("path", "left"),
        ("worker", "left"),
        ("p50 (µs)", "right"),
        ("p99 (µs)", "right"),
        ("p50 vs Python", "right"),
        ("p99 vs Python", "right"),
        ("worker CPU/call (µs)", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_row(
        "floor: raw grpc.aio bidi echo (64 B)",
        "—",
        f"{floor['p50_us']:,.0f}",
        f"{floor['p99_us']:,.0f}",
        "",
        "",
        "",
    )
    labels = {
        "server": "from the server (Runtime.invoke_tool)",
        "client": "through a client (AsyncClient.invoke)",
    }
    met = True
    for path in ("server", "client"):
        base = summary["python"][path]
        for sdk in SDKS:
            row = summary[sdk][path]
            r50, r99 = row["p50_us"] / base["p50_us"], row["p99_us"] / base["p99_us"]
            if path == "server" and sdk != "python":
                met = met and r50 <= TARGET and r99 <= TARGET

            def ratio(value: float, python: bool = sdk == "python") -> str:
                if python:
                    return "1.00x"
                colour = "green" if value <= TARGET else "red"
                return f"[{colour}]{value:.2f}x[/{colour}]"

            cpu = row.get("worker_cpu_us")
            table.add_row(
                labels[path] if sdk == "python" else "",
                sdk,
                f"{row['p50_us']:,.0f}",
                f"{row['p99_us']:,.0f}",
                ratio(r50),
                ratio(r99),
                f"{cpu:,.0f}" if cpu is not None else "",
            )
    console.print(table)
    verdict = "[green]met[/green]" if met else "[red]missed[/red]"
    console.print(
        f"Target: TypeScript and Go p50 and p99 within {TARGET}x of the Python worker "
        f"(from the server): {verdict}"
    )
    console.print(
        f"[dim]{machine['cores']} cores ({machine['cpu']}), {machine['os']}, "
        f"Python {machine['python']}, {machine['tools']}, {machine['versions']}, "
        f"load average {tuple(round(x, 2) for x in machine['load_average'])}, "
        f"{machine['date']}[/dim]"
    )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--role", default="main", choices=["main", "python-worker", "client", "floor-peer"]
    )
    parser.add_argument("--target", default="")
    parser.add_argument("--tool", default="")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    # V8 keeps optimising the TypeScript worker's hot paths for the first ~2,000 calls (its p99
    # is ~3x higher then); a long warm-up measures every SDK in its steady state.
    parser.add_argument("--warmup", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="1 run of 300 calls (a smoke test)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.role == "python-worker":
        asyncio.run(_python_worker(args))
        return
    if args.role == "client":
        asyncio.run(_client(args))
        return
    if args.role == "floor-peer":
        asyncio.run(_floor_peer(args))
        return
    if args.quick:
        args.runs, args.calls, args.warmup = 1, 300, 50

    with tempfile.TemporaryDirectory(prefix="aworld-bench-sdks-bin-") as bin_dir:
        commands = _build(Path(bin_dir))
        runs = []
        for run in range(args.runs):
            runs.append(asyncio.run(_one_run(run, commands, args)))
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr, flush=True)
    machine = _machine()
    summary = _summary(runs)
    met = _report(summary, args.runs, machine)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": machine, "summary": summary, "runs": runs, "target_met": met}, indent=2
            )
        )


if __name__ == "__main__":
    main()
