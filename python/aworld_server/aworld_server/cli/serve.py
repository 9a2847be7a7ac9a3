"""``aworld serve``: the gRPC server on the embedded defaults (SQLite, in-memory bus, local
engine) or on Redis (``--store redis --bus redis --redis-url URL``), configured by flags >
``AWORLD_*`` environment > ``--config`` TOML > defaults."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer
from rich.logging import RichHandler
from rich.text import Text

from aworld_server.backends import redacted_url
from aworld_server.cli._common import console, err_console, fail, reported_errors
from aworld_server.config import ServerConfig
from aworld_server.errors import AWorldError
from aworld_server.mcp import McpStartupError
from aworld_server.observability.logs import JsonFormatter, RedactingFilter, TextFormatter
from aworld_server.server import RunningServer
from aworld_server.server import serve as serve_forever

__all__ = ["serve", "write_ready_file"]


def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="TOML file with ServerConfig fields.", show_default=False
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to bind [default: 127.0.0.1, 0.0.0.0 with auth].", show_default=False
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port; 0 picks a free one [default: 50051].", show_default=False),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where the SQLite store lives [default: .aworld].", show_default=False),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(help="sqlite, memory or redis [default: sqlite].", show_default=False),
    ] = None,
    bus: Annotated[
        str | None,
        typer.Option(help="memory or redis (Redis Streams) [default: memory].", show_default=False),
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            help="Redis of --store redis / --bus redis [default: redis://127.0.0.1:6379/0].",
            show_default=False,
        ),
    ] = None,
    lease_ttl: Annotated[
        float | None,
        typer.Option(
            help="With --store redis: seconds a replica's lease on a task outlives it; a task "
            "whose replica died moves to another within about that [default: 3].",
            show_default=False,
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="Default engine for tasks that name none [default: local].", show_default=False
        ),
    ] = None,
    shutdown_grace: Annotated[
        float | None,
        typer.Option(
            help="Seconds in-flight work may finish on shutdown [default: 30].", show_default=False
        ),
    ] = None,
    schedule_to_start_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds a call to a known remote handler waits for a worker serving it "
            "[default: 60].",
            show_default=False,
        ),
    ] = None,
    ready_file: Annotated[
        Path | None,
        typer.Option(
            help="Write the bound address (host:port) here once listening.", show_default=False
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error.", envvar="AWORLD_LOG_LEVEL")
    ] = "info",
    log_format: Annotated[
        str | None,
        typer.Option(
            help="text or json (one object per line with task, trace and span ids) "
            "[default: text].",
            show_default=False,
        ),
    ] = None,
    otlp_endpoint: Annotated[
        str | None,
        typer.Option(
            help="OTLP/gRPC collector for traces, e.g. http://127.0.0.1:4317 "
            "[default: $OTEL_EXPORTER_OTLP_ENDPOINT, else none].",
            show_default=False,
        ),
    ] = None,
    http_port: Annotated[
        int | None,
        typer.Option(
            help="Serve the web console, /metrics and the JSON API on this port (0 picks "
            "one) [default: off].",
            show_default=False,
        ),
    ] = None,
    trajectory_dir: Annotated[
        Path | None,
        typer.Option(
            help="Write each finished task's trajectory there as <task id>.jsonl [default: off].",
            show_default=False,
        ),
    ] = None,
    a2a_port: Annotated[
        int | None,
        typer.Option(
            help="Serve the swarms of [a2a.agents.*] over A2A on this port (0 picks one) "
            "[default: off].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the server until Ctrl-C (or SIGTERM), then stop gracefully."""
    with reported_errors():
        settings = _load_config(
            config,
            host=host,
            port=port,
            data_dir=data_dir,
            trajectory_dir=trajectory_dir,
            store=store,
            bus=bus,
            redis_url=redis_url,
            lease_ttl=None if lease_ttl is None else timedelta(seconds=lease_ttl),
            engine=engine,
            shutdown_grace=None if shutdown_grace is None else timedelta(seconds=shutdown_grace),
            schedule_to_start_timeout=None
            if schedule_to_start_timeout is None
            else timedelta(seconds=schedule_to_start_timeout),
            log_format=log_format,
            otlp_endpoint=otlp_endpoint,
            http_port=http_port,
            a2a=None if a2a_port is None else {"port": a2a_port},
        )
        _configure_logging(log_level, settings.log_format)
        if settings.store != "memory":  # SQLite's file, or the Redis store's epoch file
            _prepare_data_dir(settings.data_dir)
        _check_port_free(settings.bind_host, settings.port)
        if ready_file is not None:
            _clear_ready_file(ready_file)

        def ready(running: RunningServer) -> None:
            if ready_file is not None:
                # What a client on this machine can dial, even when bound to every interface.
                address = f"{_local_host(settings.bind_host)}:{running.port}"
                try:
                    write_ready_file(ready_file, address)
                except OSError as error:
                    logging.getLogger("aworld_server").error(
                        "cannot write --ready-file %s: %s", ready_file, error
                    )
            line = Text("AWorld server listening on ", style="bold")
            line.append(f"{settings.bind_host}:{running.port}", style="bold green")
            console.print(line)
            redis = f"redis {redacted_url(settings.redis_url)}"
            store_text = {
                "sqlite": f"sqlite {settings.data_dir / 'runtime.db'}",
                "redis": redis,
            }.get(settings.store, settings.store)
            bus_text = redis if settings.bus == "redis" else settings.bus
            principals = len(settings.principals) + len(settings.auth_tokens)
            auth = f"{principals} principal(s)" if principals else "off"
            tls = "on" if settings.tls_cert_file else "off"
            details = (
                f"store {store_text} · bus {bus_text} · engine {settings.engine} · "
                f"auth {auth} · tls {tls} · pid {os.getpid()} · Ctrl-C stops"
            )
            console.print(Text(details, style="dim"))
            if running.http is not None:
                console.print(Text(f"console and /metrics on {running.http.url}", style="dim"))
            if running.a2a is not None:
                agents = ", ".join(running.a2a.agent_url(n) for n in running.a2a.swarms)
                console.print(Text(f"A2A agents: {agents or 'none'}", style="dim"))
            if settings.trace_endpoint:
                console.print(Text(f"traces to {settings.trace_endpoint}", style="dim"))

        try:
            asyncio.run(serve_forever(settings, ready=ready))
        except McpStartupError as error:
            fail(str(error).splitlines()[0], details="\n".join(str(error).splitlines()[1:]))
        except AWorldError as error:  # e.g. Redis unreachable, or it lost the store's data
            fail(f"cannot start: {error}")
        except (OSError, RuntimeError) as error:
            if "bind" not in str(error).lower():
                raise
            fail(f"cannot listen on {settings.bind_host}:{settings.port}")
        finally:
            if ready_file is not None:
                _clear_ready_file(ready_file)
    console.print("[dim]server stopped[/dim]")


def write_ready_file(path: Path, address: str) -> None:
    """Write ``address`` so a reader never sees half of it: a regular file is replaced
    atomically; a pipe or FIFO (``/dev/fd/N``) is written in one go."""
    data = address + "\n"
    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8") as out:
            out.write(data)
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(data, encoding="utf-8")
    os.replace(partial, path)


def _clear_ready_file(path: Path) -> None:
    """Remove a ready file left by an earlier run (so nobody reads a stale address) and the
    one we wrote, once stopped. Pipes and FIFOs are left alone."""
    if not path.parent.is_dir():
        fail(f"--ready-file {path}: the directory {path.parent} does not exist")
    if path.is_file():
        path.unlink(missing_ok=True)


def _load_config(config_file: Path | None, **flags: Any) -> ServerConfig:
    try:
        return ServerConfig.load(config_file, **flags)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in error.errors()
        )
        fail(f"invalid server configuration: {problems}")
    except ValueError as error:
        fail(str(error))


def _prepare_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"cannot create the data directory {path}: {error.strerror or error}")


def _check_port_free(host: str, port: int) -> None:
    """Fail with a clear line when the port is taken (gRPC would log a C-level error first)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
        try:
            probe.bind(address)
        except OSError as error:
            fail(
                f"cannot listen on {host}:{port}: {error.strerror or error} "
                "(another server? --port 0 picks a free port)"
            )


def _local_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def _configure_logging(level: str, log_format: str) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        fail(f"unknown log level {level!r}; one of debug, info, warning, error")
    handler: logging.Handler
    if log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    elif err_console.is_terminal:
        # Someone is watching: columns and colour. Rich costs ~0.5 ms a line, so a log file
        # or a collector (not a terminal) gets plain lines instead.
        handler = RichHandler(console=err_console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(TextFormatter(timestamps=False))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(TextFormatter())
    handler.addFilter(RedactingFilter())  # on the handler: it sees every logger's records
    logging.basicConfig(
        level=numeric, format="%(message)s", datefmt="[%X]", handlers=[handler], force=True
    )
    # The a2a-sdk logs whole agent cards at INFO: payloads stay out of the info log.
    logging.getLogger("a2a").setLevel(max(numeric, logging.WARNING))
