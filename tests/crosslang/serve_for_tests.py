"""A real AWorld server for the cross-language SDK tests (TypeScript, Go).

Usage::

    .venv/bin/python tests/crosslang/serve_for_tests.py --data-dir DIR [--port 0]
        [--tools demo] [--token TOKEN] [--tls-cert CERT --tls-key KEY]
        [--heartbeat-interval-ms 5000]

Once the server is listening it prints ``ADDRESS host:port`` on stdout (one line, flushed), so a
test waits for that line instead of sleeping. It serves until SIGTERM or SIGINT, then shuts down
gracefully. ``--port`` lets a test start a second server on the port of one it killed (to test
reconnects); 0, the default, picks a free port. ``--tools demo`` registers two in-process tools:
``add(a, b)`` and ``slow(seconds)``. ``--token`` turns bearer authentication on, granting the
token every scope; ``--tls-cert`` and ``--tls-key`` (PEM files) serve TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import timedelta
from pathlib import Path

from aworld_client.handlers import tool
from aworld_server.config import ServerConfig
from aworld_server.runtime import Runtime
from aworld_server.server import start_server


@tool(idempotent=True)
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def slow(seconds: float) -> str:
    """Sleep for ``seconds``, then say so."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}s"


def _demo_tools(runtime: Runtime) -> None:
    runtime.registry.add_tool(add, slow)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tools", choices=["none", "demo"], default="none")
    parser.add_argument("--token", default="", help="require this bearer token (all scopes)")
    parser.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate (TLS)")
    parser.add_argument("--tls-key", type=Path, default=None, help="PEM private key (TLS)")
    parser.add_argument("--heartbeat-interval-ms", type=int, default=0, help="0: server default")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

    overrides: dict[str, object] = {"port": args.port, "data_dir": args.data_dir}
    if args.token:
        overrides["auth_tokens"] = {args.token: ["submit", "read", "register"]}
        overrides["host"] = "127.0.0.1"  # tokens alone would bind 0.0.0.0
    if args.tls_cert or args.tls_key:
        overrides["tls_cert_file"] = args.tls_cert
        overrides["tls_key_file"] = args.tls_key
    if args.heartbeat_interval_ms > 0:
        interval = timedelta(milliseconds=args.heartbeat_interval_ms)
        overrides["heartbeat_interval"] = interval
        overrides["heartbeat_timeout"] = interval * 3
    config = ServerConfig.load(**overrides)
    config.data_dir.mkdir(parents=True, exist_ok=True)

    running = await start_server(config, setup=_demo_tools if args.tools == "demo" else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"ADDRESS {running.address}", flush=True)
    await stop.wait()
    await running.stop(grace=1.0)


if __name__ == "__main__":
    asyncio.run(main())
