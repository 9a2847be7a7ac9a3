"""Conformance: every scenario in ``conformance/scenarios`` run by the Python, TypeScript and Go
runners (each serving the handlers with its own SDK's worker and submitting the task with its
own SDK's client, against a fresh real server) must yield the same scrubbed event log, equal
to ``conformance/expected/<scenario>.jsonl``. See ``conformance/README.md``.

After an intended change of the server's event log, regenerate the expected logs from the
Python run, review the diff and commit it (from the repository root)::

    AWORLD_CONFORMANCE_UPDATE=1 .venv/bin/python -m pytest \
        tests/crosslang/test_crosslang_conformance.py
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aworld_server.config import ServerConfig
from aworld_server.server import start_server
from crosslang_harness import ROOT, Programs, start_process

CONFORMANCE = ROOT / "conformance"
SCENARIOS = sorted((CONFORMANCE / "scenarios").glob("*.json"))
EXPECTED = CONFORMANCE / "expected"
SDKS = ("python", "typescript", "go")
UPDATE = os.environ.get("AWORLD_CONFORMANCE_UPDATE") == "1"
RUN_TIMEOUT = 120.0

Logs = dict[str, dict[str, list[dict[str, Any]]]]  # sdk -> scenario -> scrubbed events


def _commands(programs: Programs) -> dict[str, list[str]]:
    return {
        "python": [sys.executable, str(CONFORMANCE / "runners" / "python_runner.py")],
        "typescript": [programs.node, str(programs.ts_conformance)],
        "go": [str(programs.go_conformance)],
    }


@pytest.fixture(scope="module")
async def logs(programs: Programs, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Logs]:
    """Each SDK's runner, run once over every scenario against its own fresh server."""
    out: Logs = {}
    for sdk, command in _commands(programs).items():
        data_dir = tmp_path_factory.mktemp(f"conformance-{sdk}")
        server = await start_server(ServerConfig.load(port=0, data_dir=data_dir))
        runner = await start_process(
            f"{sdk} conformance runner",
            [*command, "--address", server.address, *map(str, SCENARIOS)],
        )
        try:
            code = await runner.wait(timeout=RUN_TIMEOUT)
            assert code == 0, runner.output()
        finally:
            await runner.kill()
            await server.stop(0)
        records = [json.loads(line) for line in runner.lines if line.startswith("{")]
        out[sdk] = {record["scenario"]: record["events"] for record in records}
    yield out


def _lines(events: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(event, sort_keys=True) for event in events]


def _diff(expected: list[dict[str, Any]], actual: list[dict[str, Any]], label: str) -> str:
    pretty = [json.dumps(e, sort_keys=True, indent=1).splitlines() for e in (expected, actual)]
    return "\n".join(
        difflib.unified_diff(*pretty, "expected", label, lineterm="", n=4)  # type: ignore[call-arg]
    )


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_sdk_yields_the_expected_event_log(logs: Logs, path: Path) -> None:
    name = json.loads(path.read_text())["name"]
    assert name == path.stem, f"{path}: the scenario's name must be its file name"
    expected_path = EXPECTED / f"{name}.jsonl"
    if UPDATE:
        expected_path.write_text("\n".join(_lines(logs["python"][name])) + "\n")
    expected = [json.loads(line) for line in expected_path.read_text().splitlines() if line]

    produced = {sdk: logs[sdk].get(name) for sdk in SDKS}
    missing = [sdk for sdk, events in produced.items() if events is None]
    assert not missing, f"{name}: no log from {missing}"
    wrong = [sdk for sdk, events in produced.items() if events != expected]
    if wrong:
        agree = len({json.dumps(produced[sdk], sort_keys=True) for sdk in SDKS}) == 1
        why = (
            "all three SDKs agree with each other: the server's log changed (regenerate the "
            "expected logs if that was intended)"
            if agree
            else "the SDKs disagree with each other"
        )
        diffs = "\n".join(_diff(expected, produced[sdk] or [], sdk) for sdk in wrong)
        pytest.fail(f"{name}: {', '.join(wrong)} differ from {expected_path.name}; {why}\n{diffs}")
