"""Handler names and worker ids are owned cluster-wide: each replica's ``HandlerOwners`` over
the replicas' real Redis (``RedisOwners``), as two replicas of one cluster hold them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aworld_client import HandlerKind, HandlerSpec
from aworld_client.worker_service import Hello
from aworld_server.api.ownership import HandlerOwners
from aworld_server.api.principals import Caller, Principal
from aworld_server.errors import PermissionDenied
from aworld_server.replicas.owners import RedisOwners
from redis_harness import RedisServer, unique_prefix


def _caller(name: str) -> Caller:
    principal = Principal(name, frozenset({"team"}), frozenset({"register"}))
    return Caller(principal, namespace="team", authenticated=True)


def _hello(*names: str, worker_id: str = "") -> Hello:
    specs = [HandlerSpec(name=n, kind=HandlerKind.TOOL, input_schema="{}") for n in names]
    return Hello(worker_id=worker_id, handlers=specs)


@pytest.fixture
async def replicas(redis_server: RedisServer) -> AsyncIterator[tuple[HandlerOwners, ...]]:
    prefix = unique_prefix("owners")
    clients = [aioredis.from_url(redis_server.url) for _ in range(2)]
    try:
        yield tuple(HandlerOwners(shared=RedisOwners(c, prefix=prefix)) for c in clients)
    finally:
        for client in clients:
            await client.aclose()


async def test_a_name_claimed_on_one_replica_is_refused_to_another_principal_on_the_other(
    replicas: tuple[HandlerOwners, ...],
) -> None:
    a, b = replicas
    await a.admit(_caller("alice"), _hello("shout"))
    with pytest.raises(PermissionDenied, match="shout"):
        await b.admit(_caller("bob"), _hello("shout"))
    await b.admit(_caller("alice"), _hello("shout"))  # the owner may serve it anywhere


async def test_a_worker_id_belongs_to_its_principal_on_every_replica(
    replicas: tuple[HandlerOwners, ...],
) -> None:
    a, b = replicas
    await a.admit(_caller("alice"), _hello("ping", worker_id="w-1"))
    await a.bind_worker(_caller("alice"), "w-1")
    with pytest.raises(PermissionDenied, match="w-1"):
        await b.admit(_caller("carol"), _hello("pong", worker_id="w-1"))
    with pytest.raises(PermissionDenied, match="w-1"):
        await b.bind_worker(_caller("carol"), "w-1")


async def test_of_two_principals_claiming_a_new_name_at_once_exactly_one_gets_it(
    replicas: tuple[HandlerOwners, ...],
) -> None:
    a, b = replicas
    for round_ in range(20):
        name = f"fresh-{round_}"
        outcomes = await asyncio.gather(
            a.admit(_caller("alice"), _hello(name)),
            b.admit(_caller("bob"), _hello(name)),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, PermissionDenied)]
        assert len(refused) == 1, outcomes
        winner = "bob" if isinstance(outcomes[0], PermissionDenied) else "alice"
        loser_replica, loser = (a, "alice") if winner == "bob" else (b, "bob")
        with pytest.raises(PermissionDenied):  # and it stays refused
            await loser_replica.admit(_caller(loser), _hello(name))
