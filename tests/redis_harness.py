"""A real ``redis-server`` for the tests: started on a free port in a temporary directory, waited
for with PING, and stopped by its pid — the way the suites run Ray and Spark.

A module of its own (tests/ is on sys.path through tests/conftest.py), so every suite can use
it; ``tests/conftest.py`` turns it into the session-scoped ``redis_server`` fixture. Tests that
share that server keep apart by key prefix (:func:`unique_prefix`); tests that restart or
SIGSTOP Redis start their own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import redis

__all__ = ["RedisServer", "unique_prefix"]

_START_TIMEOUT = 15.0


def unique_prefix(name: str = "t") -> str:
    """A key prefix no other test uses, so tests can share one Redis."""
    return f"aworld-test:{name}:{uuid.uuid4().hex[:10]}:"


class RedisServer:
    """One ``redis-server`` process. ``appendonly``: with an AOF (``appendfsync always``), so a
    restart keeps the data; without one (and ``--save ''``), a restart loses everything."""

    def __init__(self, directory: Path, *, appendonly: bool = False) -> None:
        self.directory = directory
        self.appendonly = appendonly
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> RedisServer:
        """Start on a free port and wait until it answers PING."""
        for _ in range(5):  # a free port can be taken between finding it and binding it
            self.port = _free_port()
            if self._launch():
                return self
        raise RuntimeError(f"redis-server did not start; log:\n{self.log()}")

    def restart(self) -> None:
        """SIGKILL by pid (no final save) and start again on the same port and directory."""
        self.kill()
        if not self._launch():
            raise RuntimeError(f"redis-server did not restart; log:\n{self.log()}")

    def _launch(self) -> bool:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: the Redis tests need it "
                "(as root: apt-get install redis-server; .ci/run does this)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)),
            *("--save", "", "--appendonly", "yes" if self.appendonly else "no"),
            *("--appendfsync", "always", "--daemonize", "no"),
            *("--logfile", str(self.directory / "redis.log")),
        ]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        if self._wait_ready():
            return True
        self.kill()
        return False

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        try:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    return False
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                    if client.ping():
                        return True
                time.sleep(0.02)  # polling for readiness, bounded by the deadline
            return False
        finally:
            client.close()

    def pause(self) -> None:
        """SIGSTOP: the server holds its connections but answers nothing."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL by pid (after SIGCONT, in case it was paused) and reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM by pid, SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
