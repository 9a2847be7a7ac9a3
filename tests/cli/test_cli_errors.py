"""User mistakes print one red line and exit non-zero — never a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from cli_harness import Server, assert_one_line_error, aworld, start_server


def free_port() -> int:
    """A port nothing listens on (bound and released: nobody else gets it meanwhile)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "command",
    [
        ["tasks", "get"],
        ["tasks", "cancel"],
        ["state"],
        ["trajectory"],
        ["events", "replay"],
        ["events", "tail"],
    ],
)
def test_an_unknown_task_id(server: Server, command: list[str]) -> None:
    result = aworld(*command, "no-such-task", target=server.address)
    assert_one_line_error(result, "no-such-task", "not found")


@pytest.mark.parametrize("command", [["tasks", "list"], ["workers"], ["state", "t1"]])
def test_no_server_running(command: list[str]) -> None:
    target = f"127.0.0.1:{free_port()}"
    result = aworld(*command, target=target)
    assert_one_line_error(result, f"no server at {target}; start one with `aworld serve`")


def test_no_server_running_for_run(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text('[{"content": "x"}]')
    target = f"127.0.0.1:{free_port()}"
    result = aworld("run", "-i", "hi", "--script", str(script), "--target", target)
    assert_one_line_error(result, f"no server at {target}")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"input": ', "is not valid JSON"),
        ('{"inputt": "hi"}', 'has no field named "inputt"'),
        ("[1, 2]", "must hold an object (a Task), not list"),
        ('{"swarm": {"topology": "STAR"}}', "is not a valid Task"),
    ],
)
def test_an_invalid_task_file(server: Server, tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "task.json"
    path.write_text(content)
    result = aworld("run", str(path), target=server.address)
    assert_one_line_error(result, str(path), expected)


def test_a_task_the_server_rejects(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"input": "hi"}))  # no agents
    result = aworld("run", str(path), target=server.address)
    assert_one_line_error(result, "invalid task", "task.swarm")


def test_a_missing_task_file(server: Server, tmp_path: Path) -> None:
    result = aworld("run", str(tmp_path / "nope.json"), target=server.address)
    assert_one_line_error(result, "nope.json does not exist")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "give a task file, or --input with --script or --model"),
        (["-i", "hi"], "--input needs a model"),
        (["-i", "hi", "--script", "s.json", "--model", "m"], "either --script"),
        (["t.json", "--tool", "add"], "with a task file, put them in the file"),
    ],
)
def test_bad_run_flags(server: Server, args: list[str], expected: str) -> None:
    assert_one_line_error(aworld("run", *args, target=server.address), expected)


def test_a_bad_script_file(server: Server, tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text('{"steps": 1}')
    result = aworld("run", "-i", "hi", "--script", str(script), target=server.address)
    assert_one_line_error(result, "must hold a non-empty list of steps")


def test_an_unknown_status_filter(server: Server) -> None:
    result = aworld("tasks", "list", "--status", "sleeping", target=server.address)
    assert_one_line_error(result, "unknown status 'sleeping'", "SUCCEEDED")


def test_serve_on_a_port_in_use(server: Server, tmp_path: Path) -> None:
    port = server.address.rsplit(":", 1)[1]
    result = aworld("serve", "--port", port, "--data-dir", str(tmp_path))
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}", "--port 0")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--store", "paper"], "store: Input should be 'sqlite', 'memory' or 'redis'"),
        (["--config", "missing.toml"], "config file missing.toml does not exist"),
        (["--log-level", "loud"], "unknown log level 'loud'"),
        (["--lease-ttl", "2"], "lease_ttl applies to store='redis' (replicas) only"),
        (
            ["--store", "redis", "--lease-ttl", "0.1"],
            "lease_ttl: Input should be greater than or equal to 300000 microseconds",
        ),
    ],
)
def test_serve_with_a_bad_setting(tmp_path: Path, args: list[str], expected: str) -> None:
    result = aworld("serve", "--port", "0", "--data-dir", str(tmp_path), *args, cwd=tmp_path)
    assert_one_line_error(result, expected)


def test_a_server_that_wants_a_token(tmp_path: Path) -> None:
    tokens = json.dumps({"s3cret": ["submit", "read", "register"]})
    process, address = start_server(tmp_path / "secured", AWORLD_AUTH_TOKENS=tokens)
    try:
        refused = aworld("tasks", "list", target=address)
        assert_one_line_error(refused, "pass --token or set AWORLD_TOKEN")
        allowed = aworld("tasks", "list", "--token", "s3cret", target=address)
        assert allowed.code == 0 and "no tasks yet" in allowed.stdout, allowed
        from_env = aworld("workers", target=address, AWORLD_TOKEN="s3cret")
        assert from_env.code == 0 and "no workers connected" in from_env.stdout, from_env
    finally:
        assert process.stop() == 0
