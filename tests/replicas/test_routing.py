"""Calls routed between replicas (issue #13): a worker connected to one replica serves the
calls of tasks another replica owns. Real replica processes and real worker processes on one
real Redis; every process stopped by pid.

The worker (route_worker.py) records each execution of its tools in Redis with its own id:
an execution by a worker connected only to replica A is a call that went through A."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import msgpack
import pytest
from aworld_client import (
    AgentSpec,
    AsyncClient,
    Failure,
    HandlerKind,
    ModelConfig,
    Payload,
    RuntimeServiceError,
    Swarm,
    Task,
    TaskStatus,
    ToolCallFinished,
    ToolCallStarted,
)
from process_harness import WorkerProcess, assert_eventually
from replica_harness import (
    FAST_RETRY,
    WAIT,
    Cluster,
    Replica,
    chain_answer,
    final,
    free_port,
    log_problems,
    read_log,
)
from replica_server import step_value

ROUTE_WORKER = Path(__file__).resolve().parent / "route_worker.py"


class Workers:
    """The worker processes of one test, killed by pid at the end."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.started: list[WorkerProcess] = []

    async def start(self, replica: Replica, worker_id: str) -> WorkerProcess:
        worker = await WorkerProcess.start(
            ROUTE_WORKER,
            replica.address,
            *("--redis-url", self.cluster.redis_url, "--keys", f"{self.cluster.prefix}w:"),
            *("--gate", str(self.cluster.record.gate), "--worker-id", worker_id),
        )
        self.started.append(worker)
        await worker.expect(f"connected to .* as worker {worker_id}", timeout=WAIT)
        return worker

    async def close(self) -> None:
        for worker in self.started:
            await worker.kill()


@pytest.fixture
async def workers(cluster: Cluster) -> AsyncIterator[Workers]:
    started = Workers(cluster)
    try:
        yield started
    finally:
        await started.close()


def runs(cluster: Cluster, name: str, n: int, kind: str) -> list[tuple[str, int]]:
    """(worker id, attempt) of each ``kind`` record of step ``n`` of chain ``name``."""
    out = []
    for raw in cluster.client.lrange(f"{cluster.prefix}w:{name}:{n}:{kind}", 0, -1):
        worker_id, _pid, attempt, _at = raw.decode().split()
        out.append((worker_id, int(attempt)))
    return out


def worker_chain(name: str, seed: int, tool: str = "wstep", steps: int = 3) -> Task:
    """``steps`` calls of the worker's ``tool``, each on the previous output, then
    ``answer=<value>`` — the same answer as replica_harness.chain_task's."""
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": tool, "arguments": {"x": seed, "n": 1, "name": name}}]}
    ]
    for n in range(2, steps + 1):
        arguments = {"x": "{last_tool_output}", "n": n, "name": name}
        script.append({"tool_calls": [{"name": tool, "arguments": arguments}]})
    script.append({"content": "answer={last_tool_output}"})
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="chain", tool_names=[tool], model=model)
    return Task(
        name=name,
        input=Payload.from_text(f"chain {seed}"),
        swarm=Swarm(agents=[agent]),
        retry_policy=FAST_RETRY,
    )


async def listed(client: AsyncClient, handler: str = "") -> list[tuple[str, str]]:
    return sorted((w.worker_id, w.replica_id) for w in await client.workers(handler))


async def test_a_worker_on_one_replica_serves_the_calls_of_a_task_another_replica_owns(
    cluster: Cluster, workers: Workers
) -> None:
    a, b, c = await cluster.start(3)
    clients = [AsyncClient(r.address) for r in (a, b, c)]
    on_b = clients[1]
    try:
        await workers.start(a, "w-a")
        # Every replica lists the worker, on A, and its handlers with their worker count.
        on_a = [("w-a", cluster.replica_id(a))]
        for client in clients:
            await assert_eventually(lambda client=client: _listed_is(client, on_a), timeout=WAIT)
            handlers = {h.spec.name: h for h in await client.handlers(HandlerKind.TOOL) if h.spec}
            assert handlers["wstep"].worker_count == 1 and not handlers["wstep"].local
            assert handlers["wstep"].replica_ids == [cluster.replica_id(a)]
            assert "step" in handlers and handlers["step"].local  # the replicas' own tool

        task_id = await on_b.submit(worker_chain("routed", seed=11))
        await assert_eventually(lambda: bool(runs(cluster, "routed", 2, "start")), timeout=WAIT)
        assert cluster.owner_of(task_id) == cluster.replica_id(b)  # B runs it, A's worker serves
        cluster.record.open_gate()
        response = await final(clients[2], task_id)
        assert response.status == TaskStatus.SUCCEEDED, response
        assert response.answer is not None and response.answer.value() == chain_answer(11)
        for n in (1, 2, 3):
            assert runs(cluster, "routed", n, "start") == [("w-a", 1)]
            assert runs(cluster, "routed", n, "done") == [("w-a", 1)]
        events = await read_log(on_b, task_id)
        assert log_problems(events) == []
        started = [e.body for e in events if isinstance(e.body, ToolCallStarted)]
        assert [s.worker_id for s in started] == ["w-a"] * 3
        # A direct call (InvokeHandler) on C goes to A's worker too.
        direct = await clients[2].invoke("wstep", {"x": 5, "n": 1, "name": "direct"})
        assert direct.failure is None and direct.output is not None
        assert direct.output.value() == step_value(5)
        assert runs(cluster, "direct", 1, "done") == [("w-a", 1)]
        # Input its worker's schema refuses: INVALID_ARGUMENT with the field, as on A itself.
        with pytest.raises(RuntimeServiceError) as refused:
            await clients[2].invoke("wstep", {"x": "seven", "n": 1, "name": "bad"})
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in refused.value.violations] == ["input.x"], refused.value
        assert runs(cluster, "bad", 1, "start") == []
    finally:
        for client in clients:
            await client.close()


async def _listed_is(client: AsyncClient, expected: list[tuple[str, str]]) -> bool:
    return await listed(client) == expected


def _http_get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=WAIT) as response:
        return json.loads(response.read())


async def _http_listed_is(
    url: str, expected: list[tuple[str, str]], id_key: str, replica_key: str
) -> bool:
    body = await asyncio.to_thread(_http_get, url)
    return sorted((w[id_key], w[replica_key]) for w in body.get("workers", [])) == expected


async def test_list_workers_from_any_replica_lists_the_workers_of_all(
    cluster: Cluster, workers: Workers
) -> None:
    a, b, c = await cluster.start(3)
    clients = [AsyncClient(r.address) for r in (a, b, c)]
    try:
        await workers.start(a, "w-a")
        await workers.start(c, "w-c")
        every = sorted([("w-a", cluster.replica_id(a)), ("w-c", cluster.replica_id(c))])
        for client in clients:
            await assert_eventually(lambda client=client: _listed_is(client, every), timeout=WAIT)
            assert await listed(client, "wstep_once") == every
            assert await listed(client, "no-such-tool") == []
            handlers = {h.spec.name: h for h in await client.handlers(HandlerKind.TOOL) if h.spec}
            assert handlers["wstep"].worker_count == 2
            assert handlers["wstep"].replica_ids == sorted(r for _, r in every)
        # The HTTP API of a replica lists them too.
        (d,) = await cluster.start(1, "--http-port", str(http_port := free_port()))
        url = f"http://127.0.0.1:{http_port}/api/v1"
        await assert_eventually(
            lambda: _http_listed_is(f"{url}/workers", every, "workerId", "replicaId"), timeout=WAIT
        )
        await assert_eventually(
            lambda: _http_listed_is(f"{url}/workers?handler=wstep", every, "workerId", "replicaId"),
            timeout=WAIT,
        )
        wstep = [
            h for h in _http_get(f"{url}/handlers")["handlers"] if h["spec"]["name"] == "wstep"
        ]
        assert wstep[0]["workerCount"] == 2
        assert wstep[0]["replicaIds"] == sorted(r for _, r in every)
        await d.kill()
        # A replica that dies takes its workers off the list within a lease TTL or so.
        await c.kill()
        on_a = [("w-a", cluster.replica_id(a))]
        for client in clients[:2]:
            await assert_eventually(lambda client=client: _listed_is(client, on_a), timeout=WAIT)
    finally:
        for client in clients:
            await client.close()


async def test_calls_are_spread_over_the_replicas_whose_workers_serve_them(
    cluster: Cluster, workers: Workers
) -> None:
    a, b, c = await cluster.start(3)
    async with AsyncClient(b.address) as on_b:
        await workers.start(a, "w-a")
        await workers.start(c, "w-c")
        both = sorted([("w-a", cluster.replica_id(a)), ("w-c", cluster.replica_id(c))])
        await assert_eventually(lambda: _listed_is(on_b, both), timeout=WAIT)
        names = [f"spread-{i}" for i in range(6)]
        ids = [await on_b.submit(worker_chain(n, seed=50 + i)) for i, n in enumerate(names)]
        # Every second step waits at the gate, so each one sent adds to its replica's load.
        await assert_eventually(
            lambda: all(runs(cluster, n, 2, "start") for n in names), timeout=WAIT
        )
        served = [runs(cluster, n, 2, "start")[0][0] for n in names]
        assert served.count("w-a") >= 2 and served.count("w-c") >= 2, served
        cluster.record.open_gate()
        for i, task_id in enumerate(ids):
            response = await final(on_b, task_id)
            assert response.answer is not None and response.answer.value() == chain_answer(50 + i)


@pytest.mark.parametrize(
    ("tool", "how"), [("wstep", "sigkill"), ("wstep_once", "sigkill"), ("wstep", "sigterm")]
)
async def test_the_death_of_the_replica_serving_a_routed_call(
    cluster: Cluster, workers: Workers, tool: str, how: str
) -> None:
    """SIGKILL: the owner notices within about a lease TTL. SIGTERM: the stopping replica
    tells it at once. Either way the attempt is lost: retried elsewhere if idempotent."""
    a, b, c = await cluster.start(3)
    on_b = AsyncClient(b.address)
    try:
        await workers.start(a, "w-a")
        task_id = await on_b.submit(worker_chain("lost", seed=21, tool=tool))
        await assert_eventually(lambda: bool(runs(cluster, "lost", 2, "start")), timeout=WAIT)
        assert runs(cluster, "lost", 2, "start") == [("w-a", 1)]
        await workers.start(c, "w-c")  # the replica that may serve the retry
        if how == "sigkill":
            await a.kill()
        else:
            a.signal(signal.SIGTERM)
            assert a.process is not None
            assert await asyncio.wait_for(a.process.wait(), WAIT) == 0, a.text()
            await assert_eventually(  # its worker was told to stop the call
                lambda: runs(cluster, "lost", 2, "cancelled") == [("w-a", 1)], timeout=WAIT
            )
        if tool == "wstep":
            # Idempotent: attempt 2 runs on C's worker once B sees A gone.
            await assert_eventually(
                lambda: ("w-c", 2) in runs(cluster, "lost", 2, "start"), timeout=WAIT
            )
            cluster.record.open_gate()
            response = await final(on_b, task_id)
            assert response.status == TaskStatus.SUCCEEDED, response
            assert response.answer is not None and response.answer.value() == chain_answer(21)
            assert runs(cluster, "lost", 2, "done") == [("w-c", 2)]
            assert runs(cluster, "lost", 3, "done") == [("w-c", 1)]
        else:
            # Not idempotent: the attempt may have run, so it is not run again.
            response = await final(on_b, task_id)
            cluster.record.open_gate()
            events = await read_log(on_b, task_id)
            finished = [
                e.body
                for e in events
                if isinstance(e.body, ToolCallFinished) and e.body.failure is not None
            ]
            # The lost attempt's failure goes to the model (the tool error policy), which
            # goes on with it as its next step's input.
            assert finished[0].failure is not None, finished
            assert finished[0].failure.type == "WorkerLost", finished
            assert finished[0].tool_name == "wstep_once" and not finished[0].will_retry
            assert runs(cluster, "lost", 2, "start") == [("w-a", 1)]  # never again
            assert runs(cluster, "lost", 2, "done") == []
            assert response.status.is_terminal
        assert log_problems(await read_log(on_b, task_id)) == []
    finally:
        await on_b.close()


async def test_cancelling_a_task_cancels_its_call_on_the_worker_of_another_replica(
    cluster: Cluster, workers: Workers
) -> None:
    a, b, c = await cluster.start(3)
    on_b, on_c = AsyncClient(b.address), AsyncClient(c.address)
    try:
        await workers.start(a, "w-a")
        task_id = await on_b.submit(worker_chain("cancel", seed=31))
        await assert_eventually(lambda: bool(runs(cluster, "cancel", 2, "start")), timeout=WAIT)
        assert await on_c.cancel(task_id, reason="stop") == TaskStatus.CANCELLED
        # The worker on A was told to stop (its stream stays up: it is still listed).
        await assert_eventually(
            lambda: runs(cluster, "cancel", 2, "cancelled") == [("w-a", 1)], timeout=WAIT
        )
        assert await listed(on_c) == [("w-a", cluster.replica_id(a))]
        assert runs(cluster, "cancel", 2, "done") == []
        assert (await on_b.get(task_id)).response.status == TaskStatus.CANCELLED
    finally:
        await on_b.close()
        await on_c.close()


class Ghost:
    """Another replica, played by the test: it speaks the routing protocol to replica A
    through Redis (replicas/routing.py) and reads the answers on its own stream."""

    def __init__(self, cluster: Cluster, to: Replica) -> None:
        self.redis = cluster.client
        self.prefix = cluster.prefix
        self.target = f"{cluster.prefix}replica:{cluster.replica_id(to)}:route"
        self.stream = f"{cluster.prefix}replica:ghost:route"
        self.last = "0-0"
        self.replies: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.redis.xadd(self.target, {"m": msgpack.packb(message, use_bin_type=True)})

    def call(
        self, route_id: str, *, task_id: str, call_id: str, attempt: int, token: str, **args: Any
    ) -> None:
        self.send(
            {
                "k": "call",
                "id": route_id,
                "from": "ghost",
                "name": "wstep",
                "kind": int(HandlerKind.TOOL),
                "input": Payload.of(args).to_bytes(),
                "call_id": call_id,
                "attempt": attempt,
                "task_id": task_id,
                "session_id": "",
                "headers": {},
                "hook_point": "",
                "timeout": None,
                "key": f"{task_id}/{call_id}",
                "schedule_to_start": None,
                "require_idempotent": False,
                "namespace": "default",
                "token": token,
            }
        )

    async def reply(self) -> dict[str, Any]:
        def arrived() -> bool:
            for _, entries in self.redis.xread({self.stream: self.last}) or []:
                for entry_id, fields in entries:
                    self.last = entry_id
                    self.replies.append(msgpack.unpackb(fields[b"m"], raw=False))
            return bool(self.replies)

        await assert_eventually(arrived, timeout=WAIT)
        return self.replies.pop(0)


async def ghost_for(cluster: Cluster, replica: Replica) -> Ghost:
    # A reads its stream from where it was when it started: wait until it serves (publishes).
    key = f"{cluster.prefix}replica:{cluster.replica_id(replica)}:workers"
    await assert_eventually(lambda: cluster.client.exists(key) == 1, timeout=WAIT)
    return Ghost(cluster, replica)


async def test_a_stale_owner_does_not_get_its_call_served(
    cluster: Cluster, workers: Workers
) -> None:
    """A call carrying a lease token older than the task's fence is refused before it reaches
    the worker; with the current token it runs, once the owner says go; sent again after its
    owner gave up on it, the new one replaces the old."""
    (a,) = await cluster.start(1)
    await workers.start(a, "w-a")
    ghost = await ghost_for(cluster, a)
    task_id = "task-fenced"
    cluster.client.set(f"{cluster.prefix}fence:{task_id}", 5)  # the ghost took it: token 5

    ghost.call("r1", task_id=task_id, call_id="c1", attempt=1, token="4", x=3, n=1, name="stale")
    refused = await ghost.reply()
    assert refused["k"] == "error" and refused["id"] == "r1"
    failure = Failure.from_bytes(refused["failure"])
    assert failure.type == "Cancelled" and "lost the lease" in failure.message
    assert runs(cluster, "stale", 1, "start") == []

    ghost.call("r2", task_id=task_id, call_id="c2", attempt=1, token="5", x=3, n=1, name="now")
    start = await ghost.reply()
    assert start["k"] == "start" and start["worker"] == "w-a" and start["idempotent"]
    assert runs(cluster, "now", 1, "start") == []  # not before the owner says go
    ghost.send({"k": "go", "id": "r2"})
    done = await ghost.reply()
    assert done["k"] == "done" and done["id"] == "r2"
    assert Payload.from_bytes(done["output"]).value() == step_value(3)
    assert runs(cluster, "now", 1, "done") == [("w-a", 1)]

    # Sent, never told to go (its owner gave up on it), sent again: the second one runs.
    ghost.call("r3", task_id=task_id, call_id="c3", attempt=1, token="5", x=4, n=1, name="again")
    assert (await ghost.reply())["k"] == "start"
    ghost.call("r4", task_id=task_id, call_id="c3", attempt=1, token="5", x=4, n=1, name="again")
    start = await ghost.reply()
    assert start["k"] == "start" and start["id"] == "r4"
    ghost.send({"k": "go", "id": "r4"})
    done = await ghost.reply()
    assert done["k"] == "done" and done["id"] == "r4"
    assert runs(cluster, "again", 1, "done") == [("w-a", 1)]

    # The lease moves on between start and go (another replica took the task): the call that
    # was let start is still refused before the worker gets it.
    ghost.call("r5", task_id=task_id, call_id="c5", attempt=1, token="5", x=5, n=1, name="moved")
    assert (await ghost.reply())["k"] == "start"
    cluster.client.set(f"{cluster.prefix}fence:{task_id}", 6)
    ghost.send({"k": "go", "id": "r5"})
    refused = await ghost.reply()
    assert refused["k"] == "error" and refused["id"] == "r5", refused
    assert "lost the lease" in Failure.from_bytes(refused["failure"]).message
    assert runs(cluster, "moved", 1, "start") == []


async def test_a_replica_that_lost_a_task_gives_its_own_attempt_up_to_the_new_owners_call(
    cluster: Cluster, workers: Workers
) -> None:
    """A runs a task with its own worker; another replica takes the task over (here: the
    ghost, with a newer lease token) and routes the interrupted call back to A's worker. A
    stops its own run and attempt, then serves the new owner's."""
    (a,) = await cluster.start(1)
    await workers.start(a, "w-a")
    ghost = await ghost_for(cluster, a)
    async with AsyncClient(a.address) as on_a:
        task_id = await on_a.submit(worker_chain("taken", seed=61))
        await assert_eventually(lambda: bool(runs(cluster, "taken", 2, "start")), timeout=WAIT)
        (second,) = [
            e.body
            for e in await read_log(on_a, task_id)
            if isinstance(e.body, ToolCallStarted) and e.body.arguments.value()["n"] == 2
        ]
        fence = int(cluster.client.get(f"{cluster.prefix}fence:{task_id}") or 0)
        token = str(fence + 1)
        cluster.client.set(f"{cluster.prefix}fence:{task_id}", token)
        cluster.client.set(f"{cluster.prefix}lease:{task_id}", f"ghost:{token}")  # no expiry
        first = step_value(61)
        ghost.call(
            "r1",
            task_id=task_id,
            call_id=second.call_id,
            attempt=2,
            token=token,
            x=first,
            n=2,
            name="taken",
        )
        start = await ghost.reply()
        assert start["k"] == "start", start
        # A's own attempt is stopped on its worker (the worker records the cancellation when
        # it reaches the handler) before the new one is let in.
        await assert_eventually(lambda: runs(cluster, "taken", 2, "cancelled") == [("w-a", 1)])
        assert runs(cluster, "taken", 2, "done") == []
        ghost.send({"k": "go", "id": "r1"})
        cluster.record.open_gate()
        done = await ghost.reply()
        assert done["k"] == "done", done
        assert Payload.from_bytes(done["output"]).value() == step_value(first)
        assert runs(cluster, "taken", 2, "done") == [("w-a", 2)]
        await assert_eventually(
            lambda: f"lost the lease of task {task_id}" in a.text(), timeout=WAIT
        )


async def test_sigkill_of_the_owner_while_its_call_runs_on_another_replica(
    cluster: Cluster, workers: Workers
) -> None:
    """The new owner's attempt of the call supersedes the dead owner's, still running on the
    worker: the worker is told to stop the old one, the new one runs, the answer is right."""
    a, b, c = await cluster.start(3)
    on_c = AsyncClient(c.address)
    try:
        await workers.start(a, "w-a")
        task_id = await on_c.submit(worker_chain("orphan", seed=41))
        await assert_eventually(lambda: bool(runs(cluster, "orphan", 2, "start")), timeout=WAIT)
        owner = next(r for r in (a, b, c) if cluster.replica_id(r) == cluster.owner_of(task_id))
        assert owner is c
        await c.kill()
        await assert_eventually(
            lambda: runs(cluster, "orphan", 2, "cancelled") == [("w-a", 1)], timeout=WAIT
        )
        await assert_eventually(
            lambda: ("w-a", 2) in runs(cluster, "orphan", 2, "start"), timeout=WAIT
        )
        cluster.record.open_gate()
        async with AsyncClient(b.address) as on_b:
            response = await final(on_b, task_id)
            assert response.answer is not None and response.answer.value() == chain_answer(41)
            assert runs(cluster, "orphan", 2, "done") == [("w-a", 2)]
            assert log_problems(await read_log(on_b, task_id)) == []
    finally:
        await on_c.close()
