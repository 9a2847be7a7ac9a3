"""Harness for the CLI tests: run ``aworld`` commands as subprocesses, start ``aworld serve``
and worker processes in the background (each stopped by pid), and wait on them without sleeps:
the server's address arrives through its ``--ready-file`` (a pipe), a worker's readiness is
polled from ``ListWorkers`` under a deadline.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aworld_client import Client, WorkerInfo
from process_harness import launch_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WAIT = 30.0  # upper bound for any single wait; normally far shorter

_SCRIPT = Path(sys.executable).with_name("aworld")
AWORLD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "aworld_server.cli"]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Server:
    """The session's ``aworld serve`` process and its address."""

    address: str
    process: Background


@dataclass
class DemoRun:
    """``aworld run examples/demo_task.json`` as the session ran it."""

    result: Result
    task_id: str


def cli_env(target: str = "", **extra: str) -> dict[str, str]:
    """The environment commands run in: wide, colourless output and no ambient settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWORLD_", "OPENAI_"))}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", PYTHONUNBUFFERED="1")
    if target:
        env["AWORLD_TARGET"] = target
    env.update(extra)
    return env


def aworld(
    *args: str, target: str = "", cwd: Path = ROOT, timeout: float = 90, **env: str
) -> Result:
    """Run one ``aworld`` command to completion."""
    done = subprocess.run(
        [*AWORLD, *args],
        capture_output=True,
        text=True,
        env=cli_env(target, **env),
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """A user mistake: non-zero exit, one line on stderr naming the problem, no traceback."""
    assert result.code != 0, result
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


class Background:
    """A process started by a test, stopped by its pid."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path | None = None) -> None:
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, grace: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after ``grace`` seconds; reaped either way."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                return self.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
        return self.process.wait()

    def read_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def readline(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """Read stdout (a pipe) until a line matches ``pattern``."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        buffer = b""
        while True:
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = raw.decode(errors="replace")
                seen.append(line)
                if match := regex.search(line):
                    return match
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([fd], [], [], max(remaining, 0))
            if not readable:
                raise AssertionError(f"no line matching {pattern!r} in time:\n" + "\n".join(seen))
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"process exited before {pattern!r}:\n" + "\n".join(seen))
            buffer += chunk


def start_server(data_dir: Path, *args: str, **env: str) -> tuple[Background, str]:
    """``aworld serve --port 0`` in the background; returns it and the address it listens on."""
    process, log, address = launch_server(AWORLD, data_dir, *args, env=cli_env(**env), timeout=WAIT)
    server = Background(process, log)
    if not address:
        server.stop()
        raise AssertionError(f"aworld serve did not start:\n{server.read_log()}")
    return server, address


def start_worker(script: Path, target: str, *args: str) -> Background:
    """A worker script in the background, stdout piped (for :meth:`Background.readline`)."""
    process = subprocess.Popen(
        [sys.executable, str(script), "--target", target, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=cli_env(),
        cwd=ROOT,
    )
    return Background(process)


def wait_for_worker(target: str, handler: str, timeout: float = WAIT, **kwargs: str) -> WorkerInfo:
    """Poll ListWorkers (under a deadline) until a worker serves ``handler``."""
    deadline = time.monotonic() + timeout
    with Client(target, **kwargs) as client:
        while time.monotonic() < deadline:
            found = client.workers(handler)
            if found:
                return found[0]
            time.sleep(0.05)
    raise AssertionError(f"no worker served {handler} within {timeout} s")


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text`` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids
