"""``aworld serve``: prints where it listens, hands the address to scripts through
``--ready-file``, and stops cleanly on SIGTERM."""

from __future__ import annotations

import subprocess
from pathlib import Path

from aworld_client import Client
from cli_harness import AWORLD, ROOT, Background, cli_env


def test_serve_prints_its_address_and_writes_the_ready_file(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.write_text("127.0.0.1:1\n")  # a stale file from an earlier run is replaced
    process = subprocess.Popen(
        [
            *AWORLD,
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            "--ready-file",
            str(ready),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=cli_env(),
        cwd=ROOT,
    )
    server = Background(process)
    try:
        address = server.readline(r"AWorld server listening on (127\.0\.0\.1:\d+)").group(1)
        assert address != "127.0.0.1:0"
        assert ready.read_text() == f"{address}\n"  # written before the line is printed
        with Client(address) as client:
            assert client.list_tasks().tasks == []
        assert (tmp_path / "data" / "runtime.db").is_file()
    finally:
        code = server.stop()
    assert code == 0
    assert not ready.exists()  # nobody reads a stopped server's address
