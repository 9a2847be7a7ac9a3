"""Model endpoints as server configuration, and secrets that never leave the server.

A served task picks a provider the server defines; it cannot point the server's key at its own
URL, name an environment variable to send, or carry a key. Afterwards, the tokens, the API key
and the environment value appear in no log, stored byte, event, state, trajectory, error or
response."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from aworld_client import (
    AgentSpec,
    AsyncClient,
    ModelConfig,
    Payload,
    RuntimeServiceError,
    Swarm,
    Task,
    TaskStatus,
)
from aworld_server.agents.openai import _http_failure
from aworld_server.config import ServerConfig
from aworld_server.server import RunningServer, start_server
from openai_server import ChatServer

API_KEY = "sk-test"  # what ChatServer accepts; the server reads it from KEY_ENV
KEY_ENV = "AWORLD_TEST_CALC_KEY"
DB_PASSWORD = "hunter2-database-password"
TOKENS = {"alice": "alice-secret-token-123", "bob": "bob-secret-token-456"}
SECRETS = [API_KEY, DB_PASSWORD, *TOKENS.values()]
WAIT = 30.0


def _task(model: ModelConfig, text: str = "hello") -> Task:
    agent = AgentSpec(name="solver", model=model)
    return Task(input=Payload.from_text(text), swarm=Swarm(agents=[agent]))


@pytest.fixture
async def served(
    tmp_path: Path, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningServer]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv("DATABASE_PASSWORD", DB_PASSWORD)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    config = ServerConfig.load(
        port=0,
        data_dir=tmp_path / "data",
        principals={
            name: {
                "tokens": [token],
                "namespaces": [f"team-{name}"],
                "scopes": ["submit", "read", "cancel", "register"],
            }
            for name, token in TOKENS.items()
        },
        model_endpoints={
            "calc": {
                "base_url": chat_server.base_url,
                "api_key_env": KEY_ENV,
                "models": ["calc-1"],
            },
        },
    )
    server = await start_server(config)
    try:
        yield server
    finally:
        await server.stop(0)


async def _finished(client: AsyncClient, task_id: str) -> Any:
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            if event.is_terminal:
                return event.body.response  # type: ignore[union-attr]
    raise AssertionError("no terminal event")


async def test_a_configured_endpoint_answers_with_the_servers_key(
    served: RunningServer, chat_server: ChatServer
) -> None:
    async with AsyncClient(served.address, token=TOKENS["alice"]) as alice:
        task_id = await alice.submit(_task(ModelConfig(provider="calc", model="calc-1")))
        response = await _finished(alice, task_id)
    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.value() == "Give me at least two numbers."
    assert len(chat_server.requests) == 1


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (
            ModelConfig(provider="openai", model="m", base_url="http://attacker.example/v1"),
            "task.swarm.agents[0].model.base_url",
        ),
        (
            ModelConfig(
                provider="openai",
                model="m",
                options=Payload.of({"api_key_env": "DATABASE_PASSWORD"}),
            ),
            "task.swarm.agents[0].model.options.api_key_env",
        ),
        (
            ModelConfig(provider="openai", model="m", options=Payload.of({"api_key": "sk-mine"})),
            "task.swarm.agents[0].model.options.api_key",
        ),
        (ModelConfig(provider="calc", model="gpt-4o"), "task.swarm.agents[0].model.model"),
    ],
)
async def test_a_task_cannot_choose_urls_keys_or_unoffered_models(
    served: RunningServer, model: ModelConfig, field: str
) -> None:
    async with AsyncClient(served.address, token=TOKENS["alice"]) as alice:
        with pytest.raises(RuntimeServiceError) as caught:
            await alice.submit(_task(model))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [f for f, _ in caught.value.violations]


def test_upstream_error_bodies_are_summarised_not_echoed() -> None:
    page = "<html><body>internal admin panel: root password is hunter2</body></html>"
    assert "hunter2" not in _http_failure(502, page).failure.message
    long = '{"error": {"message": "' + "x" * 5000 + '"}}'
    assert len(_http_failure(400, long).failure.message) < 300


async def test_secrets_appear_nowhere_a_caller_or_operator_can_read(
    served: RunningServer, chat_server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with (
        AsyncClient(served.address, token=TOKENS["alice"]) as alice,
        AsyncClient(served.address, token=TOKENS["bob"]) as bob,
        AsyncClient(served.address, token="wrong-" + TOKENS["alice"]) as impostor,
    ):
        ok = await alice.submit(_task(ModelConfig(provider="calc", model="calc-1")))
        chat_server.fail_with = [401]
        failed = await alice.submit(_task(ModelConfig(provider="calc", model="calc-1")))
        for task_id in (ok, failed):
            seen.append(repr(await _finished(alice, task_id)))
            seen.append(repr(await alice.get(task_id)))
            seen.append(repr([e async for e in alice.events(task_id, follow=False)]))
            seen.append(repr(await alice.state(task_id)))
            seen.append(repr(await alice.trajectory(task_id)))
        seen.append(repr(await alice.list_tasks()))
        send_env = Payload.of({"api_key_env": "DATABASE_PASSWORD"})
        attacks = [
            alice.submit(_task(ModelConfig(provider="openai", model="m", options=send_env))),
            alice.submit(
                _task(
                    ModelConfig(
                        provider="openai", model="m", options=Payload.of({"api_key": API_KEY})
                    )
                )
            ),
            bob.get(ok),
            impostor.list_tasks(),
        ]
        for attack in attacks:
            with pytest.raises(RuntimeServiceError) as caught:
                await attack
            seen.append(f"{caught.value.code} {caught.value.message} {caught.value.violations}")

    await served.stop(0)
    stored = b"".join(p.read_bytes() for p in (served.config.data_dir).rglob("*") if p.is_file())
    logs = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for secret in SECRETS:
        assert secret not in "".join(seen), secret
        assert secret not in logs, secret
        assert secret.encode() not in stored, secret
    # The data directory is the owner's alone.
    assert (served.config.data_dir.stat().st_mode & 0o777) == 0o700
    for path in served.config.data_dir.iterdir():
        assert (path.stat().st_mode & 0o777) == 0o600, path
