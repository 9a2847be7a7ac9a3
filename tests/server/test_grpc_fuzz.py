"""A seeded, reflection-driven fuzzer: every RPC the server lists gets empty, hostile-but-valid,
garbage and oversized requests. None may end in UNKNOWN or INTERNAL, and the server must still
serve a normal task afterwards."""

from __future__ import annotations

import asyncio
import random
import string
from collections import Counter
from typing import Any

import grpc
from aworld_client import AsyncClient
from aworld_server.server import RunningServer
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from reflection_harness import Rpc, call, discover
from server_harness import WAIT, answer_task

SEED = 11
HOSTILE_PER_RPC = 130
GARBAGE_PER_RPC = 20
_INTS = [0, 1, -1, 2**31 - 1, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63)]
_UINTS = [0, 1, 2**32 - 1, 2**64 - 1]
_FLOATS = [0.0, -1.0, 1e308, float("nan"), float("inf"), float("-inf")]
_STRINGS = [
    "",
    "x",
    "default",
    "\u0000",
    "../../etc/passwd",
    "'; DROP TABLE tasks; --",
    "é" * 300,
    "\U0001f600" * 50,
    "a" * 5000,
    "{",
    "null",
    '{"a":' * 70 + "1" + "}" * 70,
    "[" * 1200 + "]" * 1200,
    '"unterminated',
    "1e999999",
    '{"script": [{"content": "hi"}]}',
]


def _scalar(field: FieldDescriptor, rng: random.Random) -> Any:
    t = field.type
    if t in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
    ):
        return rng.choice([0, 1, -1, 2**31 - 1, -(2**31)])
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return rng.choice([0, 1, 2**32 - 1])
    if t in (
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
    ):
        return rng.choice(_INTS)
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return rng.choice(_UINTS)
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return rng.choice(_FLOATS) if t == FieldDescriptor.TYPE_DOUBLE else rng.choice([0.0, 1.5])
    if t == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if t == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        numbers = [v.number for v in field.enum_type.values]
        return rng.choice([*numbers, 99, -5])
    if t == FieldDescriptor.TYPE_BYTES:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    if rng.random() < 0.7:
        return rng.choice(_STRINGS)
    return "".join(rng.choice(string.printable) for _ in range(rng.randrange(30)))


def _fill(message: Message, rng: random.Random, depth: int = 0) -> None:
    descriptor: Descriptor = message.DESCRIPTOR
    if descriptor.full_name == "google.protobuf.Timestamp":
        message.seconds = rng.choice([0, 1_700_000_000, -(2**40), 2**40, 253_402_300_800])  # type: ignore[attr-defined]
        message.nanos = rng.choice([0, 999_999_999, 1_000_000_000, -1])  # type: ignore[attr-defined]
        return
    if descriptor.full_name == "google.protobuf.Duration":
        message.seconds = rng.choice([0, 1, -1, 2**40, 315_576_000_001, -(2**40)])  # type: ignore[attr-defined]
        message.nanos = rng.choice([0, 500, -500, 1_000_000_000])  # type: ignore[attr-defined]
        return
    for field in descriptor.fields:
        if rng.random() < 0.4 or (field.containing_oneof and rng.random() < 0.5):
            continue
        if field.message_type is not None:
            if depth > 6:
                continue
            if field.is_repeated:
                target = getattr(message, field.name)
                if field.message_type.GetOptions().map_entry:
                    value_field = field.message_type.fields_by_name["value"]
                    for _ in range(rng.randrange(3)):
                        key = rng.choice(_STRINGS[:6])
                        if value_field.message_type is not None:
                            _fill(target[key], rng, depth + 1)
                        else:
                            target[key] = _scalar(value_field, rng)
                    continue
                for _ in range(rng.choice([0, 1, 2, 3])):
                    _fill(target.add(), rng, depth + 1)
            else:
                _fill(getattr(message, field.name), rng, depth + 1)
            continue
        if field.is_repeated:
            getattr(message, field.name).extend(_scalar(field, rng) for _ in range(3))
        else:
            setattr(message, field.name, _scalar(field, rng))


def _invalid_utf8(rpc: Rpc) -> bytes:
    """The first string field of the request, carrying bytes that are not UTF-8."""
    for field in rpc.request.DESCRIPTOR.fields:
        if field.type == FieldDescriptor.TYPE_STRING:
            bad = b"\xff\xfe\xc3\x28"
            return bytes([(field.number << 3) | 2, len(bad)]) + bad
    return b"\x0a\x02\xff\xfe"


def _inputs(rpc: Rpc, rng: random.Random) -> list[tuple[str, bytes]]:
    inputs = [("empty", b""), ("invalid utf-8", _invalid_utf8(rpc))]
    for _ in range(HOSTILE_PER_RPC):
        message = rpc.request()
        _fill(message, rng)
        inputs.append(("hostile", message.SerializeToString()))
    for _ in range(GARBAGE_PER_RPC):
        inputs.append(("garbage", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))))
    # Truncated varint, a length prefix past the end, a group tag: decoder corner cases.
    inputs += [("garbage", b"\x08\xff"), ("garbage", b"\x0a\xff\x01"), ("garbage", b"\x0b")]
    return inputs


async def test_fuzzed_requests_never_end_in_unknown_or_internal(server: RunningServer) -> None:
    rng = random.Random(SEED)
    rpcs = await discover(server.address)
    outcomes: Counter[str] = Counter()
    broken: list[tuple[str, str, grpc.StatusCode]] = []
    sent = 0
    async with grpc.aio.insecure_channel(server.address) as channel:
        for rpc in rpcs:
            inputs = _inputs(rpc, rng)
            if rpc.name in ("SubmitTask", "GetTask", "Connect"):
                inputs.append(("oversized", b"\x0a" + b"\xff" * 5 * 1024 * 1024))
            # Several in flight at once, as a real scanner sends them.
            for start in range(0, len(inputs), 16):
                batch = inputs[start : start + 16]
                codes = await asyncio.gather(*(call(channel, rpc, b, timeout=30) for _, b in batch))
                for (kind, _), code in zip(batch, codes, strict=True):
                    outcomes[code.name] += 1
                    if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
                        broken.append((rpc.name, kind, code))
                sent += len(batch)

        assert len(rpcs) >= 19 and sent > 2500
        assert broken == [], (broken[:20], outcomes)
        assert outcomes["INVALID_ARGUMENT"] > 1000

        health = health_pb2_grpc.HealthStub(channel)
        checked = await health.Check(health_pb2.HealthCheckRequest())
        assert checked.status == health_pb2.HealthCheckResponse.SERVING
    async with AsyncClient(server.address) as client, asyncio.timeout(WAIT):
        answer = await client.run_to_completion(answer_task("still here"))
    assert answer.answer is not None and answer.answer.value() == "still here"
