"""Harness for the SDK packaging tests: build each SDK's artefact as a user receives it, start
``aworld serve`` and the programs of a scratch project, and read the README examples.

Artefacts: the Python wheel (``pip wheel``), the npm tarball (``npm pack``, which builds
``dist/`` in ``prepack``) and the Go module served from a file-based module proxy laid out as
``GOPROXY`` expects (``<module>/@v/{list,<v>.info,<v>.mod,<v>.zip}``), so ``go get`` fetches
it exactly as it would from proxy.golang.org once the ``go/vX.Y.Z`` tag is published.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from aworld_client import Client, WorkerInfo
from process_harness import launch_server

__all__ = [
    "GO_MODULE",
    "GO_VERSION",
    "ROOT",
    "Program",
    "build_go_proxy",
    "readme_blocks",
    "run",
    "start_server",
    "wait_for_worker",
]

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0  # upper bound for any single wait; normally far shorter
BUILD_TIMEOUT = 300.0
GO_MODULE = "github.com/aworld-runtime/aworld-runtime/go"
GO_VERSION = "v0.1.0"
_AWORLD = Path(sys.executable).with_name("aworld")


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a build step; its output, or AssertionError with the output when it fails."""
    result = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def readme_blocks(readme: Path, language: str) -> list[str]:
    """The fenced code blocks of ``language`` in ``readme``, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", readme.read_text(), re.S | re.M)


@dataclass
class Program:
    """A background process of the scratch project, stopped by pid."""

    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, *command: str | Path, cwd: Path, env: dict[str, str], log: Path) -> Program:
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(c) for c in command],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return cls(process, log)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL and wait: for programs whose graceful stop would wait on held work."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        """SIGTERM, then wait for the exit (SIGKILL after the deadline); the exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(WAIT)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def start_server(data_dir: Path) -> tuple[Program, str]:
    """``aworld serve --port 0``; the process and the address it announced on a pipe."""
    process, log, address = launch_server([str(_AWORLD)], data_dir, timeout=WAIT)
    server = Program(process, log)
    if not address:
        server.stop()
        raise AssertionError(f"aworld serve did not start:\n{server.output()}")
    return server, address


def wait_for_worker(address: str, handler: str, program: Program) -> WorkerInfo:
    """Poll ListWorkers under a deadline until a worker serves ``handler``; that worker."""
    deadline = time.monotonic() + WAIT
    with Client(address) as client:
        while time.monotonic() < deadline:
            if workers := client.workers(handler):
                return workers[0]
            if program.process.poll() is not None:
                raise AssertionError(f"the worker exited:\n{program.output()}")
            time.sleep(0.05)
    raise AssertionError(f"no worker served {handler} within {WAIT} s:\n{program.output()}")


def build_go_proxy(proxy: Path) -> None:
    """Serve the Go module in ``go/`` as ``GO_MODULE@GO_VERSION`` from the directory ``proxy``."""
    source = ROOT / "go"
    versions = proxy / GO_MODULE / "@v"
    versions.mkdir(parents=True)
    (versions / "list").write_text(f"{GO_VERSION}\n")
    (versions / f"{GO_VERSION}.info").write_text(
        json.dumps({"Version": GO_VERSION, "Time": "2026-01-01T00:00:00Z"})
    )
    (versions / f"{GO_VERSION}.mod").write_bytes((source / "go.mod").read_bytes())
    # Nested modules (go/tools) are not part of this one, as in a module zip made by `go mod`.
    nested = {p.parent for p in source.rglob("go.mod") if p.parent != source}
    with zipfile.ZipFile(versions / f"{GO_VERSION}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            if any(parent in nested for parent in path.parents):
                continue
            archive.write(path, f"{GO_MODULE}@{GO_VERSION}/{path.relative_to(source)}")
