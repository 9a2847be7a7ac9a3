"""Process helpers shared by the test suites that start real subprocesses (worker apps,
servers): wait on what a process prints instead of sleeping, and stop it by pid.

A module of its own (tests/ is on sys.path through tests/conftest.py), so suites do not import
each other's conftest — several suites have one.
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

__all__ = ["ROOT", "WAIT", "WorkerProcess", "assert_eventually", "launch_server"]

ROOT = Path(__file__).resolve().parent.parent
WAIT = 15.0  # upper bound for any single wait; tests normally finish far sooner


async def assert_eventually(
    condition: Callable[[], bool | Awaitable[bool]], *, timeout: float = WAIT, message: str = ""
) -> None:
    """Poll ``condition`` (sync or async) until it holds, failing after ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = condition()
                if not isinstance(result, bool):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(message or "condition never held") from None


class WorkerProcess:
    """A running ``worker_app.py``: its stdout lines, and a way to send it commands."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, app: Path, target: str, *args: str) -> WorkerProcess:
        """Run ``app --target TARGET ARGS...`` with its stdout captured line by line."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(app),
            "--target",
            target,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=ROOT,
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode().rstrip("\n"))
            self._new_line.set()
            self._new_line = asyncio.Event()

    async def expect(self, pattern: str, *, timeout: float = WAIT) -> re.Match[str]:
        """Wait for a stdout line matching ``pattern`` (searched from the first line)."""
        regex = re.compile(pattern)
        try:
            async with asyncio.timeout(timeout):
                seen = 0
                while True:
                    for line in self.lines[seen:]:
                        if match := regex.search(line):
                            return match
                    seen = len(self.lines)
                    if self._reader.done():
                        raise AssertionError(f"worker {self.pid} exited:\n{self.output()}")
                    waiter = asyncio.ensure_future(self._new_line.wait())
                    try:
                        await asyncio.wait(
                            [waiter, self._reader], return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        waiter.cancel()
        except TimeoutError:
            raise AssertionError(
                f"worker {self.pid} printed no line matching {pattern!r}:\n{self.output()}"
            ) from None

    def matches(self, pattern: str) -> list[re.Match[str]]:
        regex = re.compile(pattern)
        return [m for line in self.lines if (m := regex.search(line))]

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def output(self) -> str:
        return "\n".join(self.lines)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()  # SIGKILL also ends a SIGSTOPped process
        await self.process.wait()
        await self._reader


def launch_server(
    aworld: Sequence[str],
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = WAIT,
) -> tuple[subprocess.Popen[bytes], Path, str]:
    """``aworld serve --port 0`` (``aworld``: the command) with its output in
    ``data_dir/serve.log``: the process, the log, and the address it announced on a pipe once
    listening — empty if it never did, in which case the caller stops the process."""
    read_end, write_end = os.pipe()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *aworld,
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
                "--ready-file",
                f"/dev/fd/{write_end}",
                "--shutdown-grace",
                "1",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            pass_fds=(write_end,),
            env=env,
        )
    os.close(write_end)
    try:
        readable, _, _ = select.select([read_end], [], [], timeout)
        address = os.read(read_end, 256).decode().strip() if readable else ""
    finally:
        os.close(read_end)
    return process, log, address
