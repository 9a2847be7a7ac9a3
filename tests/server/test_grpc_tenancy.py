"""Principals, scopes and namespaces against a real server: every RPC under every kind of
credential, and the cross-tenant attacks of issue #11 (reads, streams, cancels, session joins,
handler hijacks, worker-id takeovers, engine calls)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from aworld_client import AsyncClient, RetryPolicy, RuntimeServiceError, Task, Worker
from aworld_client.api import engine_service_pb2 as engine_pb
from aworld_client.api import engine_service_pb2_grpc as engine_grpc
from aworld_client.api import event_pb2 as event_pb
from aworld_client.api import runtime_service_pb2 as rt_pb
from aworld_client.api import runtime_service_pb2_grpc as rt_grpc
from aworld_client.handlers import tool
from aworld_server.api.authz import required_scope
from aworld_server.config import ServerConfig
from aworld_server.server import RunningServer
from reflection_harness import call, discover
from server_harness import WAIT, StartServer, answer_task, make_pki

ALL = ["submit", "read", "cancel", "register", "engine"]
PRINCIPALS: dict[str, dict[str, Any]] = {
    "alice": {"tokens": ["alice-token"], "namespaces": ["team-a"], "scopes": ALL},
    "bob": {"tokens": ["bob-token"], "namespaces": ["team-b"], "scopes": ALL},
    "carol": {"tokens": ["carol-token"], "namespaces": ["team-a"], "scopes": ALL},
    **{
        f"lacks-{scope}": {
            "tokens": [f"lacks-{scope}-token"],
            "namespaces": ["team-a"],
            "scopes": [s for s in ALL if s != scope],
        }
        for scope in ALL
    },
}
REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
BROKEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}


def _bearer(token: str) -> tuple[str, str]:
    return ("authorization", f"Bearer {token}")


@tool
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


@tool
def whisper(text: str) -> str:
    """Lower-case the text."""
    return text.lower()


@tool(name="shout")
def steal(text: str) -> str:
    """Declares another principal's tool name."""
    return "stolen: " + text


def _worker(
    server: RunningServer,
    token: str,
    handler: Any = shout,
    worker_id: str = "",
    namespace: str = "",
) -> Worker:
    metadata = [_bearer(token)] + ([("aworld-namespace", namespace)] if namespace else [])
    return Worker(
        server.address,
        [handler],
        metadata=metadata,
        worker_id=worker_id,
        reconnect_backoff=RetryPolicy(
            initial_interval=timedelta(milliseconds=50), maximum_attempts=1
        ),
    )


@contextlib.asynccontextmanager
async def _serving(worker: Worker) -> AsyncIterator[asyncio.Task[None]]:
    run = asyncio.create_task(worker.run())
    try:
        yield run
    finally:
        await worker.stop(timedelta(0))
        with contextlib.suppress(grpc.aio.AioRpcError):
            await run


async def _refusal(worker: Worker) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with asyncio.timeout(WAIT):
            await worker.run()
    code: grpc.StatusCode = caught.value.code()
    return code


async def _served_by(
    server: RunningServer, name: str, count: int, namespace: str = "team-a"
) -> None:
    async with asyncio.timeout(WAIT):
        while not any(
            h.spec and h.spec.name == name and h.worker_count == count
            for h in server.dispatcher.handlers(namespace)
        ):
            await asyncio.sleep(0.01)  # polls the dispatcher with a deadline


@pytest.fixture
async def secured(start: StartServer) -> RunningServer:
    return await start(principals=PRINCIPALS)


async def test_every_rpc_under_every_credential(secured: RunningServer, caplog: Any) -> None:
    rpcs = await discover(secured.address)
    assert {r.name for r in rpcs} >= {"SubmitTask", "Connect", "OpenTask", "AppendEvents"}
    unexpected: list[tuple[str, str, grpc.StatusCode]] = []
    caplog.set_level(logging.WARNING)

    async with grpc.aio.insecure_channel(secured.address) as channel:
        for rpc in rpcs:
            scope = required_scope(rpc.path)
            assert scope in ALL, rpc.path
            cases: list[tuple[str, Sequence[tuple[str, str]], set[grpc.StatusCode]]] = [
                ("none", [], {grpc.StatusCode.UNAUTHENTICATED}),
                (
                    "malformed",
                    [("authorization", "Basic YWxpY2U6eA==")],
                    {grpc.StatusCode.UNAUTHENTICATED},
                ),
                ("empty bearer", [("authorization", "Bearer ")], {grpc.StatusCode.UNAUTHENTICATED}),
                ("wrong", [_bearer("not-a-token")], {grpc.StatusCode.UNAUTHENTICATED}),
                (
                    "two headers",
                    [_bearer("alice-token"), _bearer("not-a-token")],
                    {grpc.StatusCode.UNAUTHENTICATED},
                ),
                (
                    "wrong scope",
                    [_bearer(f"lacks-{scope}-token")],
                    {grpc.StatusCode.PERMISSION_DENIED},
                ),
                (
                    "wrong namespace",
                    [_bearer("alice-token"), ("aworld-namespace", "team-b")],
                    {grpc.StatusCode.PERMISSION_DENIED},
                ),
            ]
            for case, metadata, expected in cases:
                code = await call(channel, rpc, rpc.request().SerializeToString(), metadata)
                if code not in expected:
                    unexpected.append((rpc.name, case, code))
            code = await call(channel, rpc, b"", [_bearer("alice-token")])
            if code in REFUSED | BROKEN:
                unexpected.append((rpc.name, "right", code))

    assert unexpected == []
    # Refusals are logged once each, at WARNING, with no traceback and no token.
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused ")]
    assert refusals and all(r.levelno == logging.WARNING and not r.exc_info for r in refusals)
    assert not any("alice-token" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_other_namespaces_tasks_and_sessions_do_not_exist(secured: RunningServer) -> None:
    async with (
        AsyncClient(secured.address, token="alice-token") as alice,
        AsyncClient(secured.address, token="bob-token") as bob,
    ):
        submitted = await alice.submit_task(answer_task())
        task_id = submitted.task_id
        async with asyncio.timeout(WAIT):
            async for event in alice.events(task_id):
                if event.is_terminal:
                    break
        own = await alice.get(task_id)
        assert own.task is not None and own.task.user_id == "alice"

        attempts = {
            "get": bob.get(task_id),
            "cancel": bob.cancel(task_id),
            "state": bob.state(task_id),
            "trajectory": bob.trajectory(task_id),
            "session": bob.session(submitted.session_id),
            "input": bob.provide_input(task_id, "cb", "x"),
            "join session": bob.submit_task(answer_task(session_id=submitted.session_id)),
        }
        for what, attempt in attempts.items():
            with pytest.raises(RuntimeServiceError) as caught:
                await attempt
            assert caught.value.code == grpc.StatusCode.NOT_FOUND, what
        with pytest.raises(RuntimeServiceError) as streamed:
            async for _ in bob.events(task_id):
                pass
        assert streamed.value.code == grpc.StatusCode.NOT_FOUND

        assert [t.id for t in (await bob.list_tasks()).tasks] == []
        assert [t.id for t in (await alice.list_tasks()).tasks] == [task_id]
        assert [s.id for s in (await bob.sessions()).sessions] == []


async def test_user_id_comes_from_the_credential(secured: RunningServer) -> None:
    async with AsyncClient(secured.address, token="alice-token") as alice:
        with pytest.raises(RuntimeServiceError) as caught:
            await alice.submit_task(answer_task(user_id="bob"))
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in caught.value.violations] == ["task.user_id"]
        forged = answer_task()
        forged.headers["aworld-namespace"] = "team-b"
        task_id = (await alice.submit_task(forged)).task_id
        view = await alice.get(task_id)
        assert view.task is not None
        assert view.task.headers["aworld-namespace"] == "team-a"
        assert view.task.headers["aworld-principal"] == "alice"


async def test_handler_names_and_worker_ids_belong_to_their_principal(
    secured: RunningServer,
) -> None:
    async with _serving(_worker(secured, "alice-token", worker_id="alice-1")):
        await _served_by(secured, "shout", 1)
        # Carol, in Alice's namespace, cannot declare Alice's tool; Bob cannot take over her
        # worker id.
        assert await _refusal(_worker(secured, "carol-token", steal)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )
        other = _worker(secured, "bob-token", whisper, worker_id="alice-1")
        assert await _refusal(other) == grpc.StatusCode.PERMISSION_DENIED
        await _served_by(secured, "shout", 1)

        async with (
            AsyncClient(secured.address, token="alice-token") as alice,
            AsyncClient(secured.address, token="bob-token") as bob,
        ):
            answer = await alice.invoke("shout", {"text": "hi"})
            assert answer.output is not None and answer.output.value() == "HI"
            with pytest.raises(RuntimeServiceError) as caught:
                await bob.invoke("shout", {"text": "hi"})
            assert caught.value.code == grpc.StatusCode.NOT_FOUND
            assert "shout" not in {h.spec.name for h in await bob.handlers() if h.spec}
            assert [w.worker_id for w in await bob.workers()] == []
            assert [w.worker_id for w in await alice.workers()] == ["alice-1"]

            # Bob's namespace may have a "shout" of its own: each namespace's calls go to its
            # own workers, and neither sees the other's.
            async with _serving(_worker(secured, "bob-token", steal, worker_id="bob-1")):
                await _served_by(secured, "shout", 1, namespace="team-b")
                mine = await bob.invoke("shout", {"text": "hi"})
                assert mine.output is not None and mine.output.value() == "stolen: hi"
                theirs = await alice.invoke("shout", {"text": "hi"})
                assert theirs.output is not None and theirs.output.value() == "HI"
                assert [w.worker_id for w in await bob.workers()] == ["bob-1"]
                assert [w.worker_id for w in await alice.workers()] == ["alice-1"]


async def test_handler_ownership_survives_a_restart(start: StartServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "kept"
    first = await start(principals=PRINCIPALS, data_dir=data_dir)
    async with _serving(_worker(first, "alice-token", worker_id="alice-1")):
        await _served_by(first, "shout", 1)
    await first.stop(0)

    again = await start(principals=PRINCIPALS, data_dir=data_dir)
    # Alice's worker is not back yet: the name is still hers, and so is her worker id.
    assert await _refusal(_worker(again, "carol-token", steal)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert await _refusal(_worker(again, "carol-token", whisper, worker_id="alice-1")) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert (data_dir / "owners.json").stat().st_mode & 0o777 == 0o600
    async with _serving(_worker(again, "alice-token", worker_id="alice-1")):
        await _served_by(again, "shout", 1)


async def test_the_owner_cannot_change_a_schema_without_a_new_version(
    secured: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    @tool(name="shout")
    def shout_twice(text: str, times: int) -> str:
        """Another input schema under the same name and version."""
        return text.upper() * times

    async with _serving(_worker(secured, "alice-token")):
        await _served_by(secured, "shout", 1)
        # FAILED_PRECONDITION: the worker reports it and gives up after its attempts.
        with pytest.raises(ConnectionError):
            async with asyncio.timeout(WAIT):
                await _worker(secured, "alice-token", shout_twice).run()
        assert "declare the same schema or a new version" in caplog.text
        await _served_by(secured, "shout", 1)


async def test_engine_job_credentials_reach_only_their_task(secured: RunningServer) -> None:
    async with AsyncClient(secured.address, token="alice-token") as alice:
        mine = (await alice.submit_task(answer_task())).task_id
        other = (await alice.submit_task(answer_task())).task_id
    assert secured.runtime.job_credentials is not None
    job = "job-of-mine"  # the job's id is handed to that job only: its capability for the task
    token = secured.runtime.job_credentials(
        Task(id=mine, headers={"aworld-namespace": "team-a"}), job
    )
    async with grpc.aio.insecure_channel(secured.address) as channel:
        engine = engine_grpc.EngineServiceStub(channel)
        metadata = (_bearer(token), ("aworld-job", job))
        opened = await engine.OpenTask(engine_pb.OpenTaskRequest(task_id=mine), metadata=metadata)
        assert opened.task.id == mine
        # The shared engine credential reaches a task only with the id of its current job.
        for wrong in ((_bearer(token),), (_bearer(token), ("aworld-job", "guessed"))):
            with pytest.raises(grpc.aio.AioRpcError) as unjobbed:
                await engine.OpenTask(engine_pb.OpenTaskRequest(task_id=mine), metadata=wrong)
            assert unjobbed.value.code() == grpc.StatusCode.NOT_FOUND
        opened_event = event_pb.Event(task_id=mine, seq=opened.last_seq + 1)
        for request in (
            engine.OpenTask(engine_pb.OpenTaskRequest(task_id=other), metadata=metadata),
            engine.CallHandler(
                engine_pb.CallHandlerRequest(task_id=other, call_id="c", name="add"),
                metadata=metadata,
            ),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await request
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        # Listing shows the job's own task, and only with its id.
        listed = await rt_grpc.RuntimeServiceStub(channel).ListTasks(
            rt_pb.ListTasksRequest(), metadata=metadata
        )
        assert [t.id for t in listed.tasks] == [mine]
        unjobbed_list = await rt_grpc.RuntimeServiceStub(channel).ListTasks(
            rt_pb.ListTasksRequest(), metadata=(_bearer(token),)
        )
        assert list(unjobbed_list.tasks) == []
        # Writes need the job's id, which only that job was handed.
        with pytest.raises(grpc.aio.AioRpcError) as unnamed:
            await engine.AppendEvents(
                engine_pb.AppendEventsRequest(task_id=mine, events=[opened_event]),
                metadata=metadata,
            )
        assert unnamed.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # Once the job ends, its task is out of the credential's reach too.
        assert secured.runtime.job_finished is not None
        secured.runtime.job_finished(mine)
        with pytest.raises(grpc.aio.AioRpcError) as revoked:
            await engine.OpenTask(engine_pb.OpenTaskRequest(task_id=mine), metadata=metadata)
        assert revoked.value.code() == grpc.StatusCode.NOT_FOUND
        # A worker token (register) is not an engine credential.
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await engine.OpenTask(
                engine_pb.OpenTaskRequest(task_id=mine), metadata=(_bearer("lacks-engine-token"),)
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_certificate_subjects_map_to_principals(start: StartServer, tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    server = await start(
        tls_cert_file=pki.server_cert,
        tls_key_file=pki.server_key,
        tls_client_ca_file=pki.ca,
        principals={"ci": {"certificate_subjects": ["CN=aworld test client"], "scopes": ["read"]}},
    )
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.client_key.read_bytes(),
        certificate_chain=pki.client_cert.read_bytes(),
    )
    async with AsyncClient(f"localhost:{server.port}", credentials=credentials) as ci:
        assert (await ci.list_tasks()).tasks == []
        with pytest.raises(RuntimeServiceError) as caught:
            await ci.submit_task(answer_task())
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_the_readme_security_config_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Security: principals, namespaces and scopes", 1)[1]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "server.toml").write_text(toml)

    config = ServerConfig.load(tmp_path / "server.toml")

    assert config.principals["ci"].namespaces == ["team-a"]
    assert config.principals["search-worker"].certificate_subjects == ["CN=search-worker"]
    assert config.model_endpoints["azure"].models == ["gpt-4o-mini"]
    assert config.limits.max_agents == 1000
    assert config.secured and config.bind_host == "0.0.0.0"


async def test_a_principal_of_several_namespaces_names_one_per_request(
    start: StartServer,
) -> None:
    both = {"tokens": ["ops-token"], "namespaces": ["team-a", "team-b"], "scopes": ALL}
    server = await start(principals={"ops": both})
    async with (
        AsyncClient(server.address, token="ops-token", namespace="team-a") as in_a,
        AsyncClient(server.address, token="ops-token", namespace="team-b") as in_b,
        AsyncClient(server.address, token="ops-token", namespace="team-c") as outside,
    ):
        task_id = await in_b.submit(answer_task())
        assert [t.id for t in (await in_b.list_tasks()).tasks] == [task_id]
        assert (await in_a.list_tasks()).tasks == []
        with pytest.raises(RuntimeServiceError) as caught:
            await in_a.get(task_id)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(RuntimeServiceError) as denied:
            await outside.list_tasks()
        assert denied.value.code == grpc.StatusCode.PERMISSION_DENIED


async def test_an_assigned_worker_id_is_kept_in_memory_not_written(
    start: StartServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "kept"
    server = await start(principals=PRINCIPALS, data_dir=data_dir)
    anonymous = _worker(server, "alice-token")
    async with _serving(anonymous):
        await _served_by(server, "shout", 1)
        assigned = anonymous.worker_id
        assert assigned
        # Nobody else may take the id while this server runs ...
        assert await _refusal(_worker(server, "carol-token", whisper, worker_id=assigned)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )
    # ... and a connection with no id of its own writes nothing about it to disk.
    saved = json.loads((data_dir / "owners.json").read_text())
    assert assigned not in saved["workers"]
    assert saved["handlers"], "the handler name is still owned"
