"""Child processes the CLI starts (the demo's server and worker).

Each child runs in its own session, so a Ctrl-C reaches only us, and we stop the children in
order, by pid: SIGTERM, a grace period, then SIGKILL. A child is recorded before an interrupt
can land (interrupts are held back while it starts), so no Ctrl-C leaves an orphan behind.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from aworld_server.cli._common import fail

__all__ = ["ChildProcess", "ChildProcesses"]


class ChildProcess:
    """A running child and its log file."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float) -> int:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; reaps it and returns its exit
        code. Stopping a stopped process just returns its code."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                return self.process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        return self.kill()

    def kill(self) -> int:
        """SIGKILL (when still running) and reap."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        return self.process.wait()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])


class ChildProcesses:
    """The children of one command, stopped newest first."""

    def __init__(self) -> None:
        self.children: list[ChildProcess] = []

    def spawn(
        self, name: str, argv: Sequence[str], log: Path, *, pass_fds: Sequence[int] = ()
    ) -> ChildProcess:
        """Start ``argv`` with stdout and stderr going to ``log``, in a new session."""
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with _interrupts_held(), log.open("wb") as out:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                pass_fds=tuple(pass_fds),
                start_new_session=True,  # a Ctrl-C is ours to handle: we stop children in order
            )
            child = ChildProcess(name, process, log)
            self.children.append(child)
        return child

    def start_server(
        self, data_dir: Path, log: Path, *, timeout: float = 30.0, extra_args: Sequence[str] = ()
    ) -> tuple[ChildProcess, str]:
        """Start ``aworld serve --port 0`` and return it with the address it listens on.

        The server writes its address to ``--ready-file``, here the write end of a pipe, so we
        wake up when it is listening — or when it exits, which closes the pipe.
        """
        read_end, write_end = os.pipe()
        argv = [
            *(sys.executable, "-m", "aworld_server.cli", "serve", "--port", "0"),
            *("--data-dir", str(data_dir), "--ready-file", f"/dev/fd/{write_end}"),
            *extra_args,
        ]
        try:
            server = self.spawn("server", argv, log, pass_fds=[write_end])
        finally:
            os.close(write_end)
        try:
            address = _read_line(read_end, timeout)
        finally:
            os.close(read_end)
        if not address:
            code = server.stop(5)
            fail(
                f"the server exited (code {code}) before listening; see {log}",
                details=server.log_tail(),
            )
        return server, address

    def stop_all(self, grace: dict[str, float]) -> list[str]:
        """Stop every child, newest first (``grace`` seconds by name, default 5); a second
        interrupt kills what is left. Returns ``name (pid N, exit C)`` (or the signal that
        ended it) for each."""
        stopped: list[str] = []
        try:
            for child in reversed(self.children):
                code = child.stop(grace.get(child.name, 5.0))
                how = f"exit {code}" if code >= 0 else signal.Signals(-code).name
                stopped.append(f"{child.name} (pid {child.pid}, {how})")
        except KeyboardInterrupt:
            for child in self.children:
                child.kill()
            raise
        return stopped


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Delay SIGINT / SIGTERM until the block is done (so a started child is always recorded),
    then deliver them as KeyboardInterrupt."""
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt


def _read_line(fd: int, timeout: float) -> str:
    """One line from ``fd``; empty at EOF. Fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            fail(f"the server did not start listening within {timeout:.0f} s")
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            chunk = os.read(fd, 4096)
            if not chunk:
                return ""
            data += chunk
    return data.decode().strip()
