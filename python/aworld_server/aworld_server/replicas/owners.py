"""``RedisOwners``: who owns a handler name and a worker id, shared by every replica.

Two Redis hashes under the cluster's prefix: ``owners:handlers`` (field ``namespace/kind/name``,
value the owner as JSON) and ``owners:workers`` (field the worker id, value ``[namespace,
principal]``). A claim is one Lua call: it records the claim unless another principal holds the
field, and returns whoever holds it now — so of two principals claiming a name at the same
moment on two replicas, exactly one gets it. (The rules themselves are
``api.ownership.HandlerOwners``'.)
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import redis.asyncio as aioredis

from aworld_server.api.ownership import HandlerKey, Owner

__all__ = ["RedisOwners"]

# KEYS[1] hash; ARGV[1] field, ARGV[2] claimant principal, ARGV[3] value to record.
# The principal sits at a fixed place in both value shapes: "principal" of the JSON object.
_CLAIM = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and cjson.decode(held)['principal'] ~= ARGV[2] then
  return held
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return ARGV[3]
"""


def _field(key: HandlerKey) -> str:
    namespace, name, kind = key
    return f"{namespace}/{int(kind)}/{name}"


def _owner(raw: Any) -> Owner:
    return Owner(**json.loads(raw))


def _claimant(who: tuple[str, str]) -> str:
    # A worker id belongs to a principal in a namespace: both are the claimant.
    return f"{who[0]}\x1f{who[1]}"


def _who(raw: Any) -> tuple[str, str]:
    namespace, _, principal = json.loads(raw)["principal"].partition("\x1f")
    return (namespace, principal)


class RedisOwners:
    """Implements ``api.ownership.SharedOwners`` on the replicas' Redis."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._client = client
        self._handlers_key = f"{prefix}owners:handlers"
        self._workers_key = f"{prefix}owners:workers"
        self._claim = client.register_script(_CLAIM)

    async def handlers(self, keys: list[HandlerKey]) -> dict[HandlerKey, Owner]:
        if not keys:
            return {}
        values = await self._client.hmget(self._handlers_key, [_field(k) for k in keys])
        return {k: _owner(v) for k, v in zip(keys, values, strict=True) if v is not None}

    async def claim_handler(self, key: HandlerKey, owner: Owner) -> Owner:
        value = json.dumps(asdict(owner))
        held = await self._claim(
            keys=[self._handlers_key], args=[_field(key), owner.principal, value]
        )
        return _owner(held)

    async def worker(self, worker_id: str) -> tuple[str, str] | None:
        raw = await self._client.hget(self._workers_key, worker_id)
        return None if raw is None else _who(raw)

    async def claim_worker(self, worker_id: str, who: tuple[str, str]) -> tuple[str, str]:
        claimant = _claimant(who)
        value = json.dumps({"principal": claimant})
        return _who(await self._claim(keys=[self._workers_key], args=[worker_id, claimant, value]))
