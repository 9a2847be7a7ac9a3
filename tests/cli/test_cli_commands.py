"""The client commands against a real server and a real worker process: ``run`` streams the
task and prints the answer; ``tasks``, ``events``, ``state``, ``trajectory`` and ``workers``
show what the server recorded."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from aworld_client import WorkerInfo
from cli_harness import (
    AWORLD,
    EXAMPLES,
    ROOT,
    WAIT,
    Background,
    DemoRun,
    Server,
    aworld,
    cli_env,
    start_worker,
    wait_for_worker,
)

ANSWER = "3 hotel nights in Hangzhou plus the museum pass come to 1410 CNY (about 194.44 USD)."
# The demo team's agent steps, in order: planner delegates, each member calls its tool and
# answers, then planner computes with three tools and answers.
AGENT_STEPS = ["planner", "forecaster", "forecaster", "scout", "scout"] + ["planner"] * 4


def test_run_streams_the_steps_and_prints_the_answer(
    demo_run: DemoRun, demo_worker: WorkerInfo
) -> None:
    out = demo_run.result.stdout
    assert "Answer" in out and ANSWER in out
    assert "planner    → asks forecaster: What is the weekend weather in Hangzhou?" in out
    # Tool calls show their arguments, the worker that serves them and their results.
    worker = f"on worker {demo_worker.worker_id[:8]}"
    assert re.search(rf"scout +⚙ hotel_rate\(city=\"Hangzhou\"\) +{worker}", out), out
    assert re.search(r"✓ multiply = 1260\b", out), out
    assert "● SUCCEEDED" in out and "9 agent steps · 5 tool calls" in out


def test_run_from_flags_with_a_script(server: Server, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"content": "hello from a script"}]))
    result = aworld("run", "--input", "hi", "--script", str(script), target=server.address)
    assert result.code == 0, result
    assert "assistant  ✎ hello from a script" in result.stdout
    assert "hello from a script" in result.stdout.split("Answer", 1)[1]

    quiet = aworld("run", "-i", "hi", "--script", str(script), "-q", target=server.address)
    assert (quiet.code, quiet.stdout.strip()) == (0, "hello from a script")


def test_run_exits_non_zero_when_the_task_does_not_succeed(server: Server, tmp_path: Path) -> None:
    script = [{"tool_calls": [{"name": "looper_tool", "arguments": {}}]}]
    looper = {
        "name": "looper",
        "toolNames": ["looper_tool"],
        "model": {"provider": "scripted", "options": {"script": script}},
    }
    # Nothing serves looper_tool: each call waits 50 ms for a worker (schedule-to-start), then
    # fails, and the agent loops until its step budget ends the task.
    conf = {"budgets": {"maxSteps": 2}, "scheduleToStartTimeout": "0.05s"}
    task = {"input": "count forever", "swarm": {"agents": [looper]}, "conf": conf}
    path = tmp_path / "task.json"
    path.write_text(json.dumps(task))
    result = aworld("run", str(path), target=server.address)
    assert result.code == 1, result
    assert "INTERRUPTED" in result.stdout
    assert "ScheduleToStartTimeout" in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("error: task ")
    assert "warning: nothing serves looper_tool" in result.stderr
    assert "Traceback" not in result.output


def test_tasks_list_and_get_show_the_task(server: Server, demo_run: DemoRun) -> None:
    listed = aworld("tasks", "list", target=server.address)
    assert listed.code == 0, listed
    row = next(line for line in listed.stdout.splitlines() if demo_run.task_id in line)
    assert "weekend-in-hangzhou" in row and "SUCCEEDED" in row

    failed_only = aworld("tasks", "list", "--status", "failed", target=server.address)
    assert failed_only.code == 0 and demo_run.task_id not in failed_only.stdout

    got = aworld("tasks", "get", demo_run.task_id, target=server.address)
    assert got.code == 0, got
    assert re.search(r"status +SUCCEEDED", got.stdout)
    assert re.search(r"agents +planner, forecaster, scout \(team\)", got.stdout)
    assert "9 agent steps · 5 tool calls" in got.stdout
    assert ANSWER in got.stdout


def test_run_detach_returns_the_id_at_once(server: Server, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"content": "detached"}]))
    result = aworld("run", "-i", "hi", "--script", str(script), "--detach", target=server.address)
    assert result.code == 0, result
    task_id = result.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", task_id)
    # tail follows the task to its end, so it returns once the task has finished.
    tail = aworld("events", "tail", task_id, target=server.address)
    assert tail.code == 0 and "● SUCCEEDED" in tail.stdout, tail


def test_events_replay_shows_the_stored_events(server: Server, demo_run: DemoRun) -> None:
    result = aworld("events", "replay", demo_run.task_id, target=server.address)
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert re.match(rf"\s+1 [\d:]+ ● task {demo_run.task_id} \(weekend-in-hangzhou\)", lines[0])
    assert any(re.search(r"scout +⚙ hotel_rate\(city=\"Hangzhou\"\)", line) for line in lines)
    assert any("✓ to_usd = 1410 CNY (about 194.44 USD)" in line for line in lines)
    assert "● SUCCEEDED" in lines[-1]

    as_json = aworld("events", "replay", demo_run.task_id, "--json", target=server.address)
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    seqs = [int(e["seq"]) for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert events[-1]["status_changed"]["status"] == "TASK_STATUS_SUCCEEDED"
    started = [e["tool_call_started"]["tool_name"] for e in events if "tool_call_started" in e]
    assert started == ["weather", "hotel_rate", "multiply", "add", "to_usd"]

    later = aworld(
        "events",
        "replay",
        demo_run.task_id,
        "--json",
        "--after-seq",
        str(seqs[-3]),
        target=server.address,
    )
    assert [int(json.loads(line)["seq"]) for line in later.stdout.splitlines()] == seqs[-2:]


def test_state_shows_the_run_node_tree(server: Server, demo_run: DemoRun) -> None:
    result = aworld("state", demo_run.task_id, target=server.address)
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"task {demo_run.task_id} SUCCEEDED")
    agents = [m.group(1) for line in lines if (m := re.search(r"── agent (\w+) SUCCEEDED", line))]
    assert agents == AGENT_STEPS
    tools = [m.group(1) for line in lines if (m := re.search(r"── tool (\w+) SUCCEEDED", line))]
    assert tools == ["weather", "hotel_rate", "multiply", "add", "to_usd"]
    # Tool nodes hang under the agent step that called them.
    assert re.search(
        r"agent scout SUCCEEDED .*→ hotel_rate\n│   └── tool hotel_rate SUCCEEDED "
        r".* = 420",
        result.stdout,
    )


def test_trajectory_exports_one_jsonl_line_per_agent_step(
    server: Server, demo_run: DemoRun, tmp_path: Path
) -> None:
    path = tmp_path / "out" / "trajectory.jsonl"
    result = aworld("trajectory", demo_run.task_id, "-o", str(path), target=server.address)
    assert result.code == 0, result
    assert f"wrote 9 agent steps to {path}" in result.stderr
    items = [json.loads(line) for line in path.read_text().splitlines()]
    assert [i["meta"]["agent_id"] for i in items] == AGENT_STEPS
    assert [i["meta"]["step"] for i in items] == list(range(1, 10))
    assert all(i["meta"]["task_id"] == demo_run.task_id for i in items)
    assert items[-1]["action"]["content"] == ANSWER

    to_stdout = aworld("trajectory", demo_run.task_id, target=server.address)
    assert to_stdout.code == 0 and to_stdout.stdout == path.read_text()


def test_workers_lists_the_connected_worker(server: Server, demo_worker: WorkerInfo) -> None:
    result = aworld("workers", target=server.address)
    assert result.code == 0, result
    row = next(line for line in result.stdout.splitlines() if demo_worker.worker_id in line)
    assert "add, hotel_rate, multiply, to_usd, weather" in row
    assert "python/" in row and "app=aworld-demo" in row

    nobody = aworld("workers", "--handler", "no_such_tool", target=server.address)
    assert nobody.code == 0 and "no connected worker serves no_such_tool" in nobody.stdout


def test_tasks_cancel_stops_a_running_task(server: Server, tmp_path: Path) -> None:
    worker = start_worker(ROOT / "tests" / "cli" / "blocking_worker.py", server.address)
    try:
        wait_for_worker(server.address, "hold")
        script = tmp_path / "script.json"
        script.write_text(
            json.dumps([{"tool_calls": [{"name": "hold", "arguments": {"key": "k1"}}]}])
        )
        submitted = aworld(
            "run",
            "-i",
            "hold on",
            "--script",
            str(script),
            "--tool",
            "hold",
            "--detach",
            target=server.address,
        )
        task_id = submitted.stdout.strip()
        worker.readline(r"^started k1$")  # the task is running its tool on the worker
        tail = Background(
            subprocess.Popen(
                [*AWORLD, "events", "tail", task_id],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=cli_env(server.address),
            )
        )
        try:
            tail.readline(r"⚙ hold\(key=\"k1\"\)")  # caught up with the live task

            cancelled = aworld(
                "tasks", "cancel", task_id, "--reason", "test", target=server.address
            )
            assert cancelled.code == 0, cancelled
            assert cancelled.stdout.strip() == f"task {task_id} CANCELLED"
            worker.readline(r"^cancelled k1$")  # the cancellation reached the worker
            tail.readline(r"● CANCELLED")  # the follower saw the end live...
            assert tail.process.wait(WAIT) == 0  # ...and stopped there
        finally:
            tail.stop()
        got = aworld("tasks", "get", task_id, target=server.address)
        assert re.search(r"status +CANCELLED", got.stdout), got
    finally:
        worker.stop()


def test_run_accepts_a_yaml_task_file(
    server: Server, demo_worker: WorkerInfo, tmp_path: Path
) -> None:
    pytest.importorskip("yaml")  # YAML task files need PyYAML
    path = tmp_path / "task.yaml"
    path.write_text(
        "input: add two numbers\n"
        "swarm:\n"
        "  agents:\n"
        "    - name: adder\n"
        "      toolNames: [add]\n"
        "      model:\n"
        "        provider: scripted\n"
        "        options:\n"
        "          script:\n"
        "            - tool_calls: [{name: add, arguments: {a: 40, b: 2}}]\n"
        "            - content: 'the sum is {last_tool_output}'\n"
    )
    result = aworld("run", str(path), "-q", target=server.address)
    assert (result.code, result.stdout.strip()) == (0, "the sum is 42"), result


def test_the_demo_task_file_is_what_the_readme_runs() -> None:
    # README's CLI section runs this file by hand; keep it a valid Task.
    from aworld_server.cli._taskfile import load_task

    task = load_task(EXAMPLES / "demo_task.json")
    assert task.swarm is not None
    assert [a.name for a in task.swarm.agents] == ["planner", "forecaster", "scout"]
