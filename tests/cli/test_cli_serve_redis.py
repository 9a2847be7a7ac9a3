"""``aworld serve --store redis --bus redis --redis-url URL`` as a real process on a real
redis-server: it says what it runs on, runs the demo task to the answer the SQLite server
gives, its health follows Redis (paused, killed, back), and a Redis that comes back empty is
refused — health stays NOT_SERVING and a restarted server will not start on it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cli_harness import (
    EXAMPLES,
    WAIT,
    Background,
    assert_one_line_error,
    aworld,
    start_server,
    start_worker,
    wait_for_worker,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis_harness import RedisServer, unique_prefix

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Probe Redis every 200 ms, so health flips within a second or two.
FAST_PROBES = {"AWORLD_REDIS_HEALTH_INTERVAL": "0.2"}


@pytest.fixture
def redis_aof(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of its own (the tests pause and kill it), with an AOF: a restart keeps data."""
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    try:
        yield server
    finally:
        server.stop()


def _serve_on_redis(data_dir: Path, redis: RedisServer) -> tuple[Background, str]:
    return start_server(
        data_dir, "--store", "redis", "--bus", "redis", "--redis-url", redis.url, **FAST_PROBES
    )


def _answer(address: str) -> str:
    """The demo task's answer, run through ``aworld run`` with the demo worker connected."""
    worker = start_worker(EXAMPLES / "demo_worker.py", address)
    try:
        wait_for_worker(address, "hotel_rate")
        result = aworld("run", str(EXAMPLES / "demo_task.json"), "-q", target=address)
        assert result.code == 0, result
        return result.stdout.strip()
    finally:
        worker.stop()


def _wait_log(server: Background, pattern: str) -> None:
    """The banner follows the ready file by a moment: poll the log under a deadline."""
    deadline = time.monotonic() + WAIT
    while not re.search(pattern, server.read_log()):
        assert time.monotonic() < deadline, server.read_log()
        time.sleep(0.05)


def _health(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=2
            )
        except grpc.RpcError:
            return -1
        return int(response.status)


def _wait_health(address: str, status: int, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while (seen := _health(address)) != status:
        assert time.monotonic() < deadline, f"health stayed {seen}, expected {status}"
        time.sleep(0.05)  # polling under a deadline


def test_a_task_on_redis_ends_with_the_answer_of_the_sqlite_server(
    tmp_path: Path, redis_aof: RedisServer
) -> None:
    server, address = _serve_on_redis(tmp_path / "redis-data", redis_aof)
    try:
        # It says what it really runs on.
        _wait_log(server, rf"store redis {re.escape(redis_aof.url)} · bus redis ")
        on_redis = _answer(address)
    finally:
        assert server.stop() == 0
    sqlite, sqlite_address = start_server(tmp_path / "sqlite-data")
    try:
        _wait_log(sqlite, r"store sqlite .* · bus memory ")
        on_sqlite = _answer(sqlite_address)
    finally:
        sqlite.stop()

    assert on_redis == on_sqlite
    assert "3 hotel nights in Hangzhou plus the museum pass come to" in on_redis


def test_health_follows_redis_paused_killed_and_back(
    tmp_path: Path, redis_aof: RedisServer
) -> None:
    server, address = _serve_on_redis(tmp_path / "data", redis_aof)
    try:
        _wait_health(address, SERVING)
        redis_aof.pause()  # SIGSTOP: connections stay open, nothing answers
        _wait_health(address, NOT_SERVING)
        redis_aof.resume()
        _wait_health(address, SERVING)
        redis_aof.restart()  # SIGKILL and start again: the AOF brings the data back
        _wait_health(address, SERVING)
        redis_aof.kill()
        _wait_health(address, NOT_SERVING)
        redis_aof.restart()
        _wait_health(address, SERVING)
        # ...and it serves: a task runs to its end.
        assert "come to" in _answer(address)
    finally:
        assert server.stop() == 0


def test_a_redis_that_came_back_empty_is_refused(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis", appendonly=False).start()
    data_dir = tmp_path / "data"
    try:
        server, address = _serve_on_redis(data_dir, redis)
        try:
            _wait_health(address, SERVING)
            redis.restart()  # no persistence: it comes back empty
            _wait_health(address, NOT_SERVING)
            result = aworld("tasks", "list", target=address)
            assert result.code != 0 and "lost its data" in result.output, result
        finally:
            server.stop()
        assert "lost its data" in server.read_log()

        # A new server on the same data dir refuses to start on it, in one line.
        again = aworld(
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--store",
            "redis",
            "--redis-url",
            redis.url,
        )
        # (Its log lines come first on stderr; the last line is the error.)
        assert again.code != 0 and "Traceback" not in again.output, again
        last = again.stderr.strip().splitlines()[-1]
        assert last.startswith("error: cannot start: Redis has no epoch key"), last
        assert "lost its data" in last and str(data_dir / "redis-epoch.json") in last, last
    finally:
        redis.stop()


def test_redis_settings_without_a_redis_part_are_refused(tmp_path: Path) -> None:
    result = aworld("serve", "--port", "0", "--data-dir", str(tmp_path), "--redis-url", "redis://x")
    assert_one_line_error(result, "redis_url is set but neither store nor bus is 'redis'")
    memory_bus = aworld(
        "serve", "--port", "0", "--store", "redis", **{"AWORLD_BUS_CLAIM_IDLE": "5"}
    )
    assert_one_line_error(memory_bus, "bus_claim_idle applies to bus='redis' only")


def test_two_replicas_share_the_tasks_of_one_redis(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Two ``aworld serve --store redis --bus redis --lease-ttl 1`` on one Redis: a task run
    through one is listed, with its answer, by the other."""
    prefix = {"AWORLD_REDIS_PREFIX": unique_prefix("cli-replicas")}
    servers = []
    try:
        for name in ("a", "b"):
            servers.append(
                start_server(
                    tmp_path / name,
                    *("--store", "redis", "--bus", "redis", "--redis-url", redis_server.url),
                    *("--lease-ttl", "1"),
                    **prefix,
                )
            )
        (_, on_a), (b, on_b) = servers
        _wait_log(b, r"replica \S+ \(lease TTL 1s\)")
        script = tmp_path / "script.json"
        script.write_text('[{"content": "hello from replica a"}]')
        ran = aworld("run", "-i", "hi", "--script", str(script), "-q", target=on_a)
        assert (ran.code, ran.stdout.strip()) == (0, "hello from replica a"), ran
        listed = aworld("tasks", "list", target=on_b)
        assert listed.code == 0 and "succeeded" in listed.stdout.lower(), listed
    finally:
        for server, _ in servers:
            assert server.stop() == 0
