"""Fallback server for the Go SDK tests, used only when tests/crosslang/serve_for_tests.py is
missing. Same protocol: prints ``ADDRESS host:port`` once serving, stops on SIGTERM.

Usage: ``.venv/bin/python go/internal/testserver/serve.py --data-dir DIR [--port 0]
[--token TOKEN]``
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from aworld_server.config import ServerConfig
from aworld_server.server import start_server


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    overrides: dict[str, object] = {"port": args.port, "data_dir": args.data_dir}
    if args.token:
        overrides["auth_tokens"] = {args.token: ["submit", "read", "register"]}
        overrides["host"] = "127.0.0.1"
    config = ServerConfig.load(**overrides)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    running = await start_server(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"ADDRESS {running.address}", flush=True)
    await stop.wait()
    await running.stop(grace=1.0)


if __name__ == "__main__":
    asyncio.run(main())
