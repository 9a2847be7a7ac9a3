"""Harness of the chaos suite (issue #10): real ``aworld serve`` processes killed with real
signals, the chaos worker (``chaos_worker.py``), followers that read event streams across
restarts, and the END-STATE CHECK every scenario ends with.

Everything waits on a condition under a deadline (a ready file appearing, a line in the
worker's record, a task turning terminal); the only deliberate pauses are the seeded random
delays that pick a kill point (that is the fault, not synchronisation). Processes are started
with asyncio, recorded by pid and killed by pid (the server with its process group, so its
children go too).

Shared by ``tests/chaos/test_*.py``, ``tests/chaos/soak.py`` (``make soak``) and
``bench/bench_recovery.py``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
for _path in (str(HERE), str(TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from aworld_client import (  # noqa: E402
    AgentSpec,
    AsyncClient,
    Event,
    ModelConfig,
    Payload,
    RetryPolicy,
    RuntimeServiceError,
    Swarm,
    Task,
    TaskResponse,
    TaskStatus,
)
from aworld_client.event import ToolCallFinished, ToolCallStarted  # noqa: E402
from chaos_worker import step_value  # noqa: E402
from process_harness import ROOT, WorkerProcess, assert_eventually  # noqa: E402

__all__ = [
    "ROOT",
    "Chaos",
    "WAIT",
    "WorkerControl",
    "ChaosParams",
    "EndState",
    "Execution",
    "Follower",
    "Recorder",
    "Reference",
    "ServerProcess",
    "assert_eventually",
    "chain_answer",
    "chain_task",
    "chaos_client",
    "scripted",
    "check_end_state",
    "free_port",
    "in_flight_at",
    "run_kill_scenario",
    "start_worker",
    "submit_retrying",
    "wait_terminal",
]

WAIT = 60.0  # upper bound for one wait (a restart, a task to finish); normally seconds
WORKER_APP = HERE / "chaos_worker.py"
_SCRIPT = Path(sys.executable).with_name("aworld")
AWORLD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "aworld_server.cli"]
# Retries start after 50 ms instead of the default second (attempts: the default 3).
FAST_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=50), maximum_interval=timedelta(milliseconds=500)
)
# A client that reconnects fast after a restart (gRPC's own backoff grows to 2 minutes).
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)


def free_port() -> int:
    """A port nobody listens on now (picked once per test; the server keeps it across
    restarts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(**extra: str) -> dict[str, str]:
    """The server's environment: no ambient AWORLD_/OPENAI_ settings, wide plain logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWORLD_", "OPENAI_"))}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


class ServerProcess:
    """``aworld serve`` on one data dir and one port, started, killed and restarted.

    Its stdout and stderr (all starts) go to ``data_dir/serve.log``.
    """

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.args = args
        self.env = server_env(**(env or {}))
        self.log = data_dir / "serve.log"
        self.ready_file = data_dir / "ready"
        self.process: asyncio.subprocess.Process | None = None
        self.pids: list[int] = []
        self.starts = 0
        self.ready_at = 0.0  # time.time() when the last start's ready file appeared

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> str:
        """Start (or restart) and wait until its ready file names the address."""
        assert not self.running, "already running"
        self.ready_file.unlink(missing_ok=True)
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"=== chaos: start {self.starts} at {time.time():.3f}\n".encode())
            out.flush()
            self.process = await asyncio.create_subprocess_exec(
                *AWORLD,
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--ready-file",
                str(self.ready_file),
                *self.args,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
                env=self.env,
                cwd=ROOT,
                start_new_session=True,  # its own process group: killed with its children
            )
        self.pids.append(self.process.pid)
        process = self.process

        def ready() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"aworld serve exited ({process.returncode}):\n{self.tail()}")
            return self.ready_file.exists()

        await assert_eventually(ready, timeout=WAIT, message=f"not ready:\n{self.tail()}")
        self.ready_at = self.ready_file.stat().st_mtime
        address = self.ready_file.read_text().strip()
        assert address.endswith(f":{self.port}"), (address, self.port)
        return address

    async def kill(self) -> None:
        """SIGKILL the server and its process group; wait until it is gone."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    async def terminate(self, timeout: float = WAIT) -> int:
        """SIGTERM (a graceful stop); wait for the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout):
            return await self.process.wait()

    async def close(self) -> None:
        """Teardown: whatever is left of any start, killed by pid / process group."""
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if self.process is not None:
            await self.process.wait()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def tracebacks(self) -> list[str]:
        """Each traceback in the log, with the lines around it."""
        lines = self.text().splitlines()
        return [
            "\n".join(lines[max(0, i - 3) : i + 25])
            for i, line in enumerate(lines)
            if "Traceback" in line
        ]


async def start_worker(target: str, record: Path, *args: str) -> WorkerProcess:
    """The chaos worker, connected (its first ``log connected`` line seen)."""
    worker = await WorkerProcess.start(WORKER_APP, target, "--record", str(record), *args)
    await worker.expect(r"log connected", timeout=WAIT)
    return worker


class WorkerControl:
    """One chaos worker (fixed worker id, one record file) that faults can hit: SIGKILL and
    start again, or SIGSTOP until the server drops it, then SIGCONT."""

    def __init__(self, target: str, record: Path, worker_id: str = "chaos-worker") -> None:
        self.target = target
        self.record = record
        self.worker_id = worker_id
        self.worker: WorkerProcess | None = None
        self.pids: list[int] = []

    async def start(self) -> None:
        self.worker = await start_worker(self.target, self.record, "--worker-id", self.worker_id)
        self.pids.append(self.worker.pid)

    async def kill(self) -> None:
        assert self.worker is not None
        await self.worker.kill()

    async def freeze_until_lost(self, client: AsyncClient) -> None:
        """SIGSTOP past the heartbeat timeout (until ListWorkers no longer shows it), then
        SIGCONT until it is listed again (the server takes the same stream back, or the
        worker reconnects)."""
        assert self.worker is not None

        async def listed() -> bool:
            try:
                return any(w.worker_id == self.worker_id for w in await client.workers())
            except RuntimeServiceError:
                return False

        self.worker.signal(signal.SIGSTOP)
        try:

            async def dropped() -> bool:
                return not await listed()

            await assert_eventually(dropped, timeout=WAIT, message="a frozen worker was kept")
        finally:
            self.worker.signal(signal.SIGCONT)
        await assert_eventually(listed, timeout=WAIT, message="the thawed worker never came back")

    async def close(self) -> None:
        if self.worker is not None:
            await self.worker.kill()


@contextlib.asynccontextmanager
async def chaos_client(target: str) -> AsyncIterator[AsyncClient]:
    """A client that reconnects fast; the Followers reading through it are stopped before its
    channel closes (so a failing test reports its own failure, not a closed channel)."""
    async with AsyncClient(target, options=CHANNEL_OPTIONS, reconnect_attempts=1000) as client:
        try:
            yield client
        finally:
            for follower in _FOLLOWERS.pop(id(client), []):
                await follower.stop()


_FOLLOWERS: dict[int, list[Follower]] = {}  # id(client) -> its followers


@dataclass
class Reference:
    """A server and a worker that see no fault: the answers a fault-free run gives."""

    server: ServerProcess
    worker: WorkerProcess

    async def answers(self, tasks: dict[str, Task]) -> dict[str, Any]:
        async with chaos_client(self.server.address) as client:
            ids = {rid: await client.submit(t, request_id=f"ref-{rid}") for rid, t in tasks.items()}
            responses = await wait_terminal(client, ids.values(), timeout=WAIT)
        for rid, task_id in ids.items():
            status = responses[task_id].status
            assert status == TaskStatus.SUCCEEDED, (rid, status, responses[task_id].failure)
        return {rid: answer_of(responses[task_id]) for rid, task_id in ids.items()}


@dataclass
class Chaos:
    """The test's chaos servers and workers, all killed by pid at teardown."""

    data: Path
    servers: list[ServerProcess] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def new_server(self, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
        """A server (not started yet) on its own data dir and free port."""
        server = ServerProcess(
            self.data / f"server-{len(self.servers)}", "--shutdown-grace", "1", *args, env=env
        )
        self.servers.append(server)
        return server

    async def add_worker(self, server: ServerProcess, name: str = "w", *args: str) -> WorkerProcess:
        worker = await start_worker(server.address, self.record(name), *args)
        self.workers.append(worker)
        return worker

    def record(self, name: str = "w") -> Path:
        return self.data / f"record-{name}"


# --- tasks -----------------------------------------------------------------------------------


def scripted(script: list[dict[str, Any]]) -> ModelConfig:
    return ModelConfig(provider="scripted", options=Payload.of({"script": script}))


def chain_task(
    name: str,
    seed: int,
    *,
    calls: int = 5,
    delay_ms: int = 50,
    tool: str = "step",
    **fields: Any,
) -> Task:
    """``calls`` sequential calls of ``tool`` (each on the previous output), then the answer
    ``answer=<value>``. The task's name is its request id (to count duplicates)."""
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": tool, "arguments": {"x": seed, "delay_ms": delay_ms}}]}
    ]
    chained = {"x": "{last_tool_output}", "delay_ms": delay_ms}
    script += [{"tool_calls": [{"name": tool, "arguments": chained}]}] * (calls - 1)
    script.append({"content": "answer={last_tool_output}"})
    agent = AgentSpec(name="chain", tool_names=[tool], model=scripted(script))
    fields.setdefault("retry_policy", FAST_RETRY)
    return Task(
        name=name, input=Payload.from_text(f"chain {seed}"), swarm=Swarm(agents=[agent]), **fields
    )


def chain_answer(seed: int, calls: int = 5) -> str:
    value = seed
    for _ in range(calls):
        value = step_value(value)
    return f"answer={value}"


def answer_of(response: TaskResponse | None) -> Any:
    if response is None or response.answer is None:
        return None
    return response.answer.value()


# --- the worker's record ---------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    kind: str  # start | done
    key: str  # the Call's idempotency_key ("-" when empty)
    call: str  # <task_id>/<call_id>
    attempt: int
    pid: int
    time: float


class Recorder:
    """Reads the chaos worker's record file incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.executions: list[Execution] = []
        self._offset = 0
        self._partial = b""

    def refresh(self) -> list[Execution]:
        if not self.path.exists():
            return self.executions
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for raw in lines:
            kind, key, call, attempt, pid, at = raw.decode().split()
            self.executions.append(Execution(kind, key, call, int(attempt), int(pid), float(at)))
        return self.executions

    def count(self, kind: str = "done") -> int:
        return sum(1 for e in self.refresh() if e.kind == kind)

    def in_flight(self) -> set[str]:
        """Calls started and not done (per this worker's record)."""
        open_calls: collections.Counter[str] = collections.Counter()
        for e in self.refresh():
            open_calls[e.call] += 1 if e.kind == "start" else -1
        return {c for c, n in open_calls.items() if n > 0}


# --- following streams -----------------------------------------------------------------------


class Follower:
    """Follows one task's events live, across server restarts (the SDK resumes after the last
    seq; this reconnects again if the SDK gives up), and notes gaps and duplicates."""

    def __init__(self, client: AsyncClient, task_id: str) -> None:
        self.client = client
        self.task_id = task_id
        self.events: list[Event] = []
        self.arrivals: list[float] = []  # time.time() of each event's arrival
        self.problems: list[str] = []
        self.reconnects = 0
        self.task = asyncio.create_task(self._run())
        _FOLLOWERS.setdefault(id(client), []).append(self)

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0

    @property
    def done(self) -> bool:
        return bool(self.events) and self.events[-1].is_terminal

    async def _run(self) -> None:
        while not self.done:
            try:
                async for event in self.client.events(self.task_id, after_seq=self.last_seq):
                    if event.seq != self.last_seq + 1:
                        kind = "duplicate" if event.seq <= self.last_seq else "gap"
                        self.problems.append(
                            f"{self.task_id}: {kind}: seq {event.seq} after {self.last_seq}"
                        )
                    self.events.append(event)
                    self.arrivals.append(time.time())
                    if event.is_terminal:
                        return
            except RuntimeServiceError as error:
                if error.code.name not in ("UNAVAILABLE", "INTERNAL", "UNKNOWN", "CANCELLED"):
                    raise
            self.reconnects += 1
            await asyncio.sleep(0.1)  # pace reconnects while the server is down

    def finished_calls_before(self, moment: float) -> set[str]:
        """``task_id/call_id`` of the tool calls whose final ToolCallFinished this client had
        received before ``moment`` (so they were durable then)."""
        return {
            f"{self.task_id}/{event.body.call_id}"
            for event, at in zip(self.events, self.arrivals, strict=True)
            if at < moment
            and isinstance(event.body, ToolCallFinished)
            and not event.body.will_retry
        }

    async def stop(self) -> None:
        """Stop reading (whatever state the stream is in)."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


async def read_log(client: AsyncClient, task_id: str) -> list[Event]:
    """The task's stored events (replay only)."""
    return [e async for e in client.events(task_id, follow=False)]


# --- submitting --------------------------------------------------------------------------------


async def submit_retrying(
    client: AsyncClient, task: Task, request_id: str, *, timeout: float = WAIT
) -> str:
    """SubmitTask until the server accepts it, always with the same request id (the server is
    down now and then): the id of the one task stored for ``request_id``."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await client.submit(task, request_id=request_id)
            except RuntimeServiceError as error:
                if error.code.name not in ("UNAVAILABLE", "INTERNAL", "UNKNOWN"):
                    raise
            await asyncio.sleep(0.05)  # pace retries while the server is down


async def wait_terminal(
    client: AsyncClient, task_ids: Iterable[str], *, timeout: float = WAIT
) -> dict[str, TaskResponse]:
    """Every task's terminal response; fails naming the tasks still not terminal."""
    pending = set(task_ids)
    done: dict[str, TaskResponse] = {}
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while pending:
        for task_id in list(pending):
            try:
                response = (await client.get(task_id)).response
            except RuntimeServiceError as error:
                last[task_id] = error.code.name
                continue
            last[task_id] = response.status.name if response else None
            if response is not None and response.status.is_terminal:
                done[task_id] = response
                pending.discard(task_id)
        if not pending:
            break
        if time.monotonic() > deadline:
            stuck = {t: last.get(t) for t in sorted(pending)}
            raise AssertionError(f"{len(pending)} task(s) never terminal: {stuck}")
        await asyncio.sleep(0.2)  # poll interval
    return done


async def list_all_tasks(client: AsyncClient) -> list[Any]:
    tasks: list[Any] = []
    token = ""
    while True:
        page = await client.list_tasks(page_size=500, page_token=token)
        tasks.extend(page.tasks)
        token = page.next_page_token
        if not token:
            return tasks


# --- the end-state check -----------------------------------------------------------------------


SLACK = 0.3  # s after a kill in which a call already sent may still reach the worker


def in_flight_at(
    moment: float,
    recorders: Iterable[Recorder],
    followers: Iterable[Follower],
    task_ids: Iterable[str] | None = None,
    *,
    started_until: float | None = None,
) -> set[str]:
    """The calls in flight at a fault that began at ``moment``, on the workers of
    ``recorders`` (the faulted ones), unless a client had read the call's final
    ToolCallFinished before ``moment`` (read events are durable):

    * per task (its calls are sequential: the next starts only once the last one's result is
      stored) the last call started before ``moment`` + SLACK (a call sent just before a kill
      may reach the worker just after it);
    * every call started from then until ``started_until`` (a frozen worker: calls sent to it
      while it was frozen, started once thawed).

    A call whose result was on its way, or stored but not yet read, counts as in flight.
    ``task_ids`` limits it to those tasks."""
    cutoff = moment + SLACK
    until = cutoff if started_until is None else max(started_until, cutoff)
    seen = set().union(*(f.finished_calls_before(moment) for f in followers))
    wanted = None if task_ids is None else set(task_ids)
    last: dict[str, tuple[float, str]] = {}
    later: set[str] = set()
    for recorder in recorders:
        for e in recorder.refresh():
            task_id = e.call.split("/", 1)[0]
            if e.kind != "start" or e.time > until:
                continue
            if wanted is not None and task_id not in wanted:
                continue
            if e.time > cutoff:
                later.add(e.call)
            elif task_id not in last or e.time >= last[task_id][0]:
                last[task_id] = (e.time, e.call)
    return ({call for _, call in last.values()} | later) - seen


@dataclass
class KillRecord:
    at: float  # time.time() of the SIGKILL
    in_flight: set[str]  # calls in flight then (started, result not known durable)


@dataclass
class EndState:
    """What the end-state check found (the soak and the bench report it)."""

    submitted: int = 0
    completed: int = 0
    lost: int = 0
    wrong_answers: int = 0
    duplicates: int = 0
    executions: int = 0
    re_executions: int = 0
    in_flight_at_kills: int = 0
    tracebacks: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: EndState) -> None:
        for name in (
            "submitted",
            "completed",
            "lost",
            "wrong_answers",
            "duplicates",
            "executions",
            "re_executions",
            "in_flight_at_kills",
            "tracebacks",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems += other.problems

    def summary(self) -> str:
        return (
            f"submitted={self.submitted} completed={self.completed} lost={self.lost} "
            f"wrong_answers={self.wrong_answers} duplicates={self.duplicates} "
            f"executions={self.executions} re_executions={self.re_executions} "
            f"in_flight_at_kills={self.in_flight_at_kills} tracebacks={self.tracebacks}"
        )


async def check_end_state(
    client: AsyncClient,
    server: ServerProcess,
    *,
    accepted: dict[str, str],
    expected: dict[str, Any],
    recorders: Iterable[Recorder] = (),
    kills: Iterable[KillRecord] = (),
    followers: Iterable[Follower] = (),
    idempotent_tools: Iterable[str] = ("step",),
    remote_tools: Iterable[str] = ("step", "step_once", "approve"),
    timeout: float = WAIT,
    assert_ok: bool = True,
    named_workers: bool = True,
) -> EndState:
    """The END-STATE CHECK of issue #10, against the fault-free answers ``expected``
    (request id -> answer); ``accepted`` maps request id -> task id (SubmitTask returned):

    * every accepted task is terminal and SUCCEEDED, its answer equal to the fault-free one;
    * 0 duplicate tasks per request id (ListTasks: task name = request id), none missing;
    * every task's log: seqs 1..n without gaps, one terminal event (the last); no tool failure
      of the infrastructure fed to the agent; per call one final ToolCallFinished, of the last
      attempt started (no stale result accepted); remote ToolCallStarted name their worker
      (``named_workers``; an engine worker records the start before the control plane picks
      the worker, so tasks on Ray or Spark leave it empty);
    * every execution carries idempotency key ``<task_id>/<call_id>``; an idempotent tool ran
      again at most as often as calls were in flight at the kills, never after the client saw
      it finish; a non-idempotent one ran at most once;
    * followers saw 0 gaps, 0 duplicates, and only events the stored log holds (what a client
      was sent was on disk); 0 tracebacks in the server's log.
    """
    state = EndState(submitted=len(accepted))
    problems = state.problems
    idempotent = set(idempotent_tools)
    remote = set(remote_tools)

    try:
        responses = await wait_terminal(client, accepted.values(), timeout=timeout)
    except AssertionError as error:
        problems.append(str(error))
        responses = {}
    for request_id, task_id in accepted.items():
        response = responses.get(task_id)
        if response is None:
            state.lost += 1
            continue
        if response.status != TaskStatus.SUCCEEDED:
            problems.append(
                f"{request_id} ({task_id}): {response.status.name}: "
                f"{response.failure.type if response.failure else ''} "
                f"{response.failure.message if response.failure else response.status_reason}"
            )
        else:
            state.completed += 1
        if answer_of(response) != expected[request_id]:
            state.wrong_answers += 1
            problems.append(
                f"{request_id} ({task_id}): answer {answer_of(response)!r} "
                f"!= fault-free {expected[request_id]!r}"
            )

    names = collections.Counter(t.name for t in await list_all_tasks(client))
    for request_id in accepted:
        if names[request_id] != 1:
            state.duplicates += max(0, names[request_id] - 1)
            problems.append(f"request {request_id}: {names[request_id]} task(s) stored")

    call_tools: dict[str, str] = {}  # task_id/call_id -> tool name
    logs: dict[str, list[Event]] = {}
    for request_id, task_id in accepted.items():
        events = logs[task_id] = await read_log(client, task_id)
        problems += _log_problems(
            request_id, task_id, events, remote if named_workers else set(), call_tools
        )

    executions: list[Execution] = []
    for recorder in recorders:
        executions += recorder.refresh()
    ours = set(accepted.values())
    starts = [e for e in executions if e.kind == "start" and e.call.split("/", 1)[0] in ours]
    state.executions = len(starts)
    for e in starts:
        if e.key != e.call:
            problems.append(f"execution of {e.call} attempt {e.attempt}: idempotency key {e.key!r}")
            break
    per_call = collections.Counter(e.call for e in starts)
    kills = list(kills)
    state.in_flight_at_kills = sum(len(k.in_flight) for k in kills)
    non_idempotent_calls = {c for c, t in call_tools.items() if t not in idempotent}
    for call, count in per_call.items():
        if count > 1:
            state.re_executions += count - 1
            if call in non_idempotent_calls:
                problems.append(f"non-idempotent call {call} executed {count} times")
    if state.re_executions > state.in_flight_at_kills:
        again = {c: n for c, n in per_call.items() if n > 1}
        problems.append(
            f"{state.re_executions} re-executions > {state.in_flight_at_kills} calls in flight "
            f"at the kills: {again}"
        )
    followers = list(followers)
    for kill in kills:
        seen = set().union(*(f.finished_calls_before(kill.at) for f in followers))
        rerun = sorted({e.call for e in starts if e.time > kill.at and e.call in seen})
        if rerun:
            problems.append(f"calls seen finished before the kill at {kill.at} ran again: {rerun}")
    for follower in followers:
        problems += follower.problems
        # What a client was sent is on disk: the stored log holds exactly those events.
        stored = logs.get(follower.task_id)
        if stored is None:
            continue
        seen = [e.to_proto() for e in follower.events]
        if seen != [e.to_proto() for e in stored[: len(seen)]]:
            first = next(
                (a.seq for a, b in zip(follower.events, stored, strict=False) if a != b),
                len(stored) + 1,
            )
            problems.append(
                f"{follower.task_id}: a client was sent events the stored log does not hold "
                f"(first difference at seq {first})"
            )

    tracebacks = server.tracebacks()
    state.tracebacks = len(tracebacks)
    if tracebacks:
        problems.append(f"{len(tracebacks)} traceback(s) in {server.log}:\n{tracebacks[0]}")
    if assert_ok:
        assert not problems, "END-STATE CHECK failed:\n" + "\n".join(problems[:40])
    return state


def _log_problems(
    request_id: str,
    task_id: str,
    events: list[Event],
    remote: set[str],
    call_tools: dict[str, str],
) -> list[str]:
    problems: list[str] = []
    where = f"{request_id} ({task_id})"
    seqs = [e.seq for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"{where}: stored seqs not 1..n: {seqs}")
    terminals = [i for i, e in enumerate(events) if e.is_terminal]
    if len(terminals) != 1 or terminals[0] != len(events) - 1:
        problems.append(f"{where}: terminal events at {terminals} of {len(events)}")
    started: dict[str, int] = {}
    finals: collections.Counter[str] = collections.Counter()
    unnamed: list[str] = []
    for event in events:
        body = event.body
        if isinstance(body, ToolCallStarted):
            call_tools[f"{task_id}/{body.call_id}"] = body.tool_name
            started[body.call_id] = max(started.get(body.call_id, 0), body.attempt)
            if body.tool_name in remote and not body.worker_id:
                unnamed.append(body.call_id)
        elif isinstance(body, ToolCallFinished):
            if body.failure is not None and not body.will_retry:
                problems.append(
                    f"{where}: tool failure fed to the agent: {body.tool_name} {body.call_id} "
                    f"attempt {body.attempt}: {body.failure.type}: {body.failure.message}"
                )
            if body.will_retry:
                continue
            finals[body.call_id] += 1
            if body.attempt < started.get(body.call_id, 0):
                problems.append(
                    f"{where}: stale result accepted: {body.call_id} finished by attempt "
                    f"{body.attempt}, attempt {started[body.call_id]} was started"
                )
    for call_id, count in finals.items():
        if count != 1:
            problems.append(f"{where}: call {call_id} finished {count} times")
    if unnamed:
        problems.append(
            f"{where}: {len(unnamed)} ToolCallStarted of remote tools name no worker "
            f"(calls {sorted(set(unnamed))})"
        )
    return problems


# --- scenario 1 (and 7): SIGKILL the server at random points ----------------------------------


@dataclass
class ChaosParams:
    tasks: int = 30
    calls: int = 5
    kills: int = 3
    seed: int = 10
    delay_ms: tuple[int, int] = (20, 120)  # per task, seeded
    engine: str = ""
    prefix: str = "s1"
    fault: str = "kill"  # kill: SIGKILL the process group; term: SIGTERM, graceful stop
    window: tuple[float, float] = (0.1, 0.9)  # kill points: fractions of the calls done
    worker_kills: int = 0  # SIGKILL the worker (then start it again), needs a WorkerControl
    worker_stops: int = 0  # SIGSTOP the worker until the server drops it, then SIGCONT

    def __post_init__(self) -> None:
        # CHAOS_SEED=N explores other tasks and kill points (printed with each summary).
        self.seed += int(os.environ.get("CHAOS_SEED", "0"))


@dataclass
class KillRun:
    """What :func:`run_kill_scenario` did: the end state and the measured recoveries."""

    end: EndState
    recoveries: list[float] = field(default_factory=list)  # ready -> first resumed event, s
    restarts: list[float] = field(default_factory=list)  # SIGKILL -> ready, s
    shutdowns: list[float] = field(default_factory=list)  # SIGTERM -> exit, s


def make_chain_tasks(params: ChaosParams) -> tuple[dict[str, Task], dict[str, str]]:
    """The scenario's tasks (request id -> task) and their analytic answers."""
    rng = random.Random(params.seed)
    tasks: dict[str, Task] = {}
    answers: dict[str, str] = {}
    for i in range(params.tasks):
        request_id = f"{params.prefix}-{params.seed}-{i}"
        seed = rng.randrange(1, 1_000_000)
        delay = rng.randint(*params.delay_ms)
        tasks[request_id] = chain_task(
            request_id, seed, calls=params.calls, delay_ms=delay, engine=params.engine
        )
        answers[request_id] = chain_answer(seed, params.calls)
    return tasks, answers


async def run_kill_scenario(
    server: ServerProcess,
    record: Path,
    params: ChaosParams,
    expected: dict[str, Any],
    tasks: dict[str, Task],
    *,
    worker: WorkerControl | None = None,
    assert_ok: bool = True,
) -> KillRun:
    """Scenario 1: the server (already started, with the chaos worker ``record`` connected)
    gets the tasks submitted while it is SIGKILLed ``params.kills`` times at seeded random
    points of the workload and restarted on the same port and data dir; the worker reconnects
    by itself. Ends with the END-STATE CHECK against ``expected``."""
    rng = random.Random(params.seed * 7919)
    recorder = Recorder(record)
    base = recorder.count("done")
    total = params.tasks * params.calls
    faults = (
        [params.fault] * params.kills
        + ["worker-kill"] * params.worker_kills
        + ["worker-stop"] * params.worker_stops
    )
    assert worker is not None or len(faults) == params.kills, "worker faults need a worker"
    rng.shuffle(faults)
    low, high = (max(1, int(total * f)) for f in params.window)
    points = sorted(rng.sample(range(low, max(low + len(faults), high)), len(faults)))
    accepted: dict[str, str] = {}
    followers: list[Follower] = []
    kills: list[KillRecord] = []
    run = KillRun(EndState())
    problems: list[str] = []
    end_wait = WAIT
    async with chaos_client(server.address) as client:

        async def submit_all() -> None:
            for request_id, task in tasks.items():
                task_id = await submit_retrying(client, task, request_id)
                accepted[request_id] = task_id
                followers.append(Follower(client, task_id))
                await asyncio.sleep(rng.uniform(0, 0.02))  # spread the submits (workload shape)

        def ours() -> list[str]:
            return [f.task_id for f in followers]

        submitter = asyncio.create_task(submit_all())
        try:
            for point, fault in zip(points, faults, strict=True):
                try:
                    await assert_eventually(
                        lambda p=point: recorder.count("done") - base >= p,  # type: ignore[misc]
                        timeout=WAIT,
                    )
                except AssertionError:
                    # Stalled: no more faults; the end-state check says which tasks hang.
                    problems.append(
                        f"the workload stalled after {len(kills)} fault(s): "
                        f"{recorder.count('done') - base} of {total} calls done, never {point}"
                    )
                    end_wait = 5.0
                    break
                await asyncio.sleep(rng.uniform(0, 0.05))  # the fault's random point
                if fault == "worker-kill":
                    assert worker is not None
                    await worker.kill()
                    at = time.time()
                    kills.append(KillRecord(at, in_flight_at(at, [recorder], followers, ours())))
                    await worker.start()
                    continue
                if fault == "worker-stop":
                    assert worker is not None
                    at = time.time()
                    await worker.freeze_until_lost(client)
                    # Calls sent to it while frozen count too: it may start them once thawed.
                    in_flight = in_flight_at(
                        at, [recorder], followers, ours(), started_until=time.time()
                    )
                    kills.append(KillRecord(at, in_flight))
                    continue
                if fault == "term":
                    began = time.monotonic()
                    code = await server.terminate()
                    run.shutdowns.append(time.monotonic() - began)
                    if code != 0:
                        problems.append(f"SIGTERM: aworld serve exited with {code}")
                else:
                    await server.kill()
                killed_at = time.time()  # after the exit: calls started during a grace count
                kills.append(
                    KillRecord(killed_at, in_flight_at(killed_at, [recorder], followers, ours()))
                )
                last_seq = {f.task_id: f.last_seq for f in followers if not f.done}
                await server.start()
                run.restarts.append(server.ready_at - killed_at)
                run.recoveries.append(await _first_resumed_event(client, server, last_seq))
            if not problems:
                await submitter
        finally:
            if not submitter.done():
                submitter.cancel()
        try:
            run.end = await check_end_state(
                client,
                server,
                accepted=accepted,
                expected=expected,
                recorders=[recorder],
                kills=kills,
                followers=followers,
                timeout=end_wait,
                assert_ok=False,
                named_workers=params.engine in ("", "local"),
            )
            run.end.problems[:0] = problems
            print(  # shown by pytest with -s or on failure
                f"{params.prefix} (seed {params.seed}): {run.end.summary()} "
                f"restarts={_rounded(run.restarts)} recoveries={_rounded(run.recoveries)} "
                f"shutdowns={_rounded(run.shutdowns)}"
            )
            if assert_ok:
                assert not run.end.problems, "END-STATE CHECK failed:\n" + "\n".join(
                    run.end.problems[:40]
                )
        finally:
            for follower in followers:
                await follower.stop()
    return run


async def _first_resumed_event(
    client: AsyncClient, server: ServerProcess, last_seq: dict[str, int]
) -> float:
    """Seconds from the restarted server's ready file to the first event appended after the
    restart (server clock, ``Event.time``) to any task unfinished at the kill; NaN if none."""
    if not last_seq:
        return float("nan")
    ready = server.ready_at
    mark = _start_mark(server)
    first: float | None = None

    async def watch(task_id: str, after: int) -> None:
        nonlocal first
        async for event in client.events(task_id, after_seq=after):
            if event.time is not None and event.time.timestamp() >= mark:
                stamp = event.time.timestamp()
                first = stamp if first is None else min(first, stamp)
                return
            if event.is_terminal:
                return

    watchers = [asyncio.create_task(watch(t, s)) for t, s in last_seq.items()]
    try:
        async with asyncio.timeout(WAIT):
            while first is None and not all(w.done() for w in watchers):
                await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in watchers:
            w.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    return float("nan") if first is None else first - ready


def _start_mark(server: ServerProcess) -> float:
    """time.time() at which the last start began (from the log's marker line)."""
    marks = re.findall(r"=== chaos: start \d+ at ([0-9.]+)", server.text())
    return float(marks[-1]) if marks else 0.0


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 3) for v in values]
