"""Starting and stopping the gRPC server: RuntimeService, WorkerService, health, reflection.

``start_server(config)`` returns a :class:`RunningServer` that knows its bound port (use port 0
in tests); ``serve(config)`` runs until SIGINT/SIGTERM and shuts down gracefully: health turns
NOT_SERVING, no new calls are accepted, in-flight work gets ``shutdown_grace`` to finish, and
what is still running stays in the event log.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from aworld_client import Task
from aworld_client.api import (
    engine_service_pb2,
    runtime_service_pb2,
    worker_service_pb2,
)
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from aworld_server.a2a import A2AServer, start_a2a
from aworld_server.agents.endpoints import ModelEndpoints
from aworld_server.api.auth import AuthInterceptor
from aworld_server.api.engine_service import add_engine_service
from aworld_server.api.grpc_logs import quiet_client_gone
from aworld_server.api.ownership import HandlerOwners
from aworld_server.api.principals import PrincipalResolver
from aworld_server.api.runtime_service import RuntimeServiceServicer, add_runtime_service
from aworld_server.api.worker_service import add_worker_service
from aworld_server.backends import Backends, RedisWatch, build_backends, redacted_url
from aworld_server.config import ServerConfig
from aworld_server.dispatch import WorkerDispatcher
from aworld_server.dispatch.remote_handlers import RemoteHandlers
from aworld_server.engines import load_engine
from aworld_server.namespaces import namespace_of
from aworld_server.observability.telemetry import (
    configure_tracing,
    server_interceptors,
    tracing_enabled,
)
from aworld_server.replicas import Replicas, replica_id_for
from aworld_server.runtime import Runtime
from aworld_server.runtime.engine_jobs import JobCredentials
from aworld_server.web import HttpAccess, HttpServer, RuntimeMetrics, Sources, start_http

__all__ = ["RunningServer", "serve", "start_server", "tune_gc"]

log = logging.getLogger("aworld_server")

SERVICE_NAMES = (
    runtime_service_pb2.DESCRIPTOR.services_by_name["RuntimeService"].full_name,
    worker_service_pb2.DESCRIPTOR.services_by_name["WorkerService"].full_name,
    engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name,
)


@dataclass
class RunningServer:
    """A started server and the parts tests and embedders need."""

    server: grpc.aio.Server
    port: int
    address: str
    runtime: Runtime
    dispatcher: WorkerDispatcher
    health: health.aio.HealthServicer
    config: ServerConfig
    runtime_service: RuntimeServiceServicer
    metrics: RuntimeMetrics | None = None  # with the HTTP side on
    http: HttpServer | None = None  # config.http_port: /metrics, /api/v1, the console
    a2a: A2AServer | None = None  # config.a2a.port: the swarms served over A2A
    backends: Backends | None = None  # the store and bus it runs on (and Redis clients)
    redis_watch: RedisWatch | None = None  # health follows Redis (store or bus on Redis)
    replicas: Replicas | None = None  # the store on Redis: task leases, requests to owners
    stopped: bool = False

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop within ``grace`` seconds (default ``config.shutdown_grace``):
        health turns NOT_SERVING and new tasks are refused (UNAVAILABLE) while running tasks
        get the grace period to finish. Runs still going are then stopped where they are — in
        the event log as they were, to resume on the next start — *before* worker streams
        end, so no call in flight is recorded as failed because the server stops. Streams
        deliver what is left. Stopping a stopped server does nothing."""
        if self.stopped:
            return
        self.stopped = True
        grace = self.config.shutdown_grace.total_seconds() if grace is None else grace
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        self.runtime_service.accepting = False
        if self.redis_watch is not None:
            await self.redis_watch.stop()  # it must not turn health back to SERVING
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.runtime.drain(grace)
        if self.http is not None:
            await self.http.stop()  # ends open event streams, which would hold the stop
        if self.a2a is not None:
            await self.a2a.stop()  # likewise its message streams
        await self.runtime.stop_runs()
        if self.replicas is not None:  # stopped runs' leases go: other replicas take over
            await self.replicas.stop()
        stopping = asyncio.create_task(self.server.stop(max(deadline - loop.time(), 0.0)))
        # One loop turn lets the server stop taking new calls before the workers are told to
        # go: a worker reconnecting at once is refused instead of holding the stop for its
        # whole grace, as any open worker stream would.
        await asyncio.sleep(0)
        self.dispatcher.close()
        await stopping
        await self.runtime.close()
        if self.backends is not None:
            await self.backends.aclose()


def _job_credentials(resolver: PrincipalResolver) -> JobCredentials:
    """Each engine job gets a credential for its own task (and namespace) only."""

    def mint(task: Task, job_id: str) -> str:
        return resolver.mint_job_token(task.id, namespace_of(task.headers), job_id)

    return mint


def _credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    ca = config.tls_client_ca_file.read_bytes() if config.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(config.tls_key_file.read_bytes(), config.tls_cert_file.read_bytes())],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )


async def start_server(
    config: ServerConfig | None = None,
    *,
    setup: Callable[[Runtime], None] | None = None,
) -> RunningServer:
    """Build the runtime from ``config``, register services and start listening."""
    config = config or ServerConfig()
    quiet_client_gone()
    backends = build_backends(config)
    if backends.uses_redis:
        log.info("Redis at %s (keys %s*)", redacted_url(config.redis_url), config.redis_prefix)
    store, bus = backends.store, backends.bus
    # Metrics are kept only when something serves them (the HTTP side).
    metrics = (
        RuntimeMetrics(bus, lambda: dispatcher.handlers()) if config.http_port is not None else None
    )
    dispatcher = WorkerDispatcher(
        heartbeat_interval=config.heartbeat_interval,
        heartbeat_timeout=config.heartbeat_timeout,
        schedule_to_start_timeout=config.schedule_to_start_timeout,
        observer=metrics.on_dispatch if metrics is not None else None,
    )
    resolver = PrincipalResolver(config.principals, config.auth_tokens)
    server = grpc.aio.server(
        # The OpenTelemetry interceptor first, so refused calls are traced too.
        interceptors=[*server_interceptors(), AuthInterceptor(resolver, config.limits)],
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    # The port is bound before the runtime is built: engine workers call back to it.
    address = f"{config.bind_host}:{config.port}"
    credentials = _credentials(config)
    port = (
        server.add_secure_port(address, credentials)
        if credentials
        else server.add_insecure_port(address)
    )
    if port == 0:
        await backends.aclose()
        raise OSError(f"could not bind {address}")
    # Engine workers call back on loopback when the server listens on every interface.
    host = "127.0.0.1" if config.bind_host in ("0.0.0.0", "::", "") else config.bind_host
    replicas = None
    sweep_interval = 30.0
    if backends.redis_store is not None:
        # Any number of servers may share this Redis: tasks run under leases, and each
        # server's sweeper takes over those whose lease expired, soon after it did.
        lease_ttl = config.lease_ttl.total_seconds()
        replicas = Replicas(
            config.redis_url,
            prefix=config.redis_prefix,
            replica_id=config.replica_id or replica_id_for(config.data_dir),
            lease_ttl=lease_ttl,
            store=backends.redis_store,
        )
        sweep_interval = lease_ttl / 4
    runtime = Runtime(
        store=store,
        bus=bus,
        engine=config.engine,
        # With replicas, a call no worker here serves goes to another replica's worker.
        remote=(
            replicas.route(dispatcher, schedule_to_start=config.schedule_to_start_timeout)
            if replicas is not None
            else RemoteHandlers(dispatcher)
        ),
        control_plane=f"{host}:{port}",
        job_credentials=_job_credentials(resolver) if resolver.enabled else None,
        job_finished=resolver.revoke_job if resolver.enabled else None,
        trajectory_dir=config.trajectory_dir,
        # When this process exports spans (``serve`` configured the SDK), engine workers export
        # theirs to the same collector, so a task on Ray or Spark stays one trace.
        trace_endpoint=config.trace_endpoint if tracing_enabled() else "",
    )
    if metrics is not None:
        runtime.events.observe(metrics.on_commit)
    owners = HandlerOwners(
        None if config.store == "memory" else config.data_dir / "owners.json",
        shared=replicas.owners if replicas is not None else None,
    )
    # Served tasks pick among the server's model endpoints; they never carry keys or URLs.
    ModelEndpoints(config.model_endpoints).install(runtime.models)
    # Likewise remote A2A agents: only those the configuration lists.
    runtime.models.a2a.restrict(config.a2a.remote_agents, timeout=config.a2a.remote_timeout)
    if setup is not None:
        setup(runtime)
    if replicas is not None:
        replicas.attach(runtime.executor, runtime.events)
        log.info("replica %s (lease TTL %gs)", replicas.replica_id, replicas.lease_ttl)
    try:
        # Configured MCP servers start with the server (their tools listed like any handler's);
        # one that cannot start stops this start with McpStartupError naming it.
        await runtime.mcp.start(config.mcp_servers)
    except BaseException:
        await server.stop(0)
        await backends.aclose()
        raise
    # Unfinished tasks resume once the server listens (below): their calls to remote handlers
    # then find workers reconnecting instead of an empty registry.
    try:
        await runtime.start(resume=False, sweep_interval=sweep_interval)
    except BaseException:
        await backends.aclose()
        raise
    runtime_service = add_runtime_service(
        server,
        runtime,
        dispatcher,
        max_live_tasks=config.max_live_tasks,
        limits=config.limits,
        max_message_bytes=config.max_message_bytes,
        cluster=replicas.directory if replicas is not None else None,
    )
    add_worker_service(server, dispatcher, owners)
    add_engine_service(server, runtime)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    try:
        # Engines start before the port answers: a task submitted at once may name them.
        for name, options in config.engine_plugins().items():
            await runtime.add_engine(load_engine(name, options))
    except BaseException:
        await server.stop(0)
        await runtime.close()
        await backends.aclose()
        raise
    await server.start()
    http = None
    if metrics is not None and config.http_port is not None:
        sources = Sources(
            runtime=runtime,
            dispatcher=dispatcher,
            metrics=metrics,
            accepting=lambda: runtime_service.accepting,
            submit=runtime_service.submit,
            cluster=replicas.directory if replicas is not None else None,
        )
        try:
            http = await start_http(
                sources, HttpAccess(resolver), config.bind_host, config.http_port
            )
        except BaseException:
            await server.stop(0)
            await runtime.close()
            await backends.aclose()
            raise
        log.info("HTTP (console, /metrics, /api/v1) on %s", http.url)
    a2a = None
    if config.a2a.port is not None:
        try:
            a2a = await start_a2a(
                config.a2a,
                runtime,
                resolver,
                host=config.bind_host,
                limits=config.limits,
                max_live_tasks=config.max_live_tasks,
                max_body=config.max_message_bytes,
                accepting=lambda: runtime_service.accepting,
            )
        except BaseException:
            if http is not None:
                await http.stop()
            await server.stop(0)
            await runtime.close()
            await backends.aclose()
            raise
        log.info("A2A agents on %s/a2a/<name>: %s", a2a.base_url, ", ".join(a2a.swarms))
    if replicas is not None:  # renewing leases and answering other replicas from now on
        replicas.start()
    resumed = await runtime.resume()
    if resumed:
        log.info("resumed %d unfinished task(s)", resumed)
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    watch = None
    if backends.probes:

        async def healthy(serving: bool) -> None:
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if serving
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            for name in ("", *SERVICE_NAMES):
                await health_servicer.set(name, status)

        watch = RedisWatch(backends.probes, healthy, config.redis_health_interval.total_seconds())
        watch.start()
    log.info("serving on %s:%d", config.bind_host, port)
    return RunningServer(
        server,
        port,
        f"{config.bind_host}:{port}",
        runtime,
        dispatcher,
        health_servicer,
        config,
        runtime_service,
        metrics,
        http,
        a2a,
        backends,
        watch,
        replicas,
    )


def tune_gc() -> None:
    """Garbage-collector settings for a process that hosts the runtime (``aworld serve``).

    A runtime allocates many short-lived objects per event; with CPython's default thresholds the
    cyclic collector takes about a quarter of the time at 1,000 concurrent tasks. Collecting
    generation 0 every 50,000 allocations instead of 700 keeps memory flat in our benchmarks and
    gives that time back. A library must not do this behind an application's back, so only
    process entry points call it.
    """
    gc.freeze()  # what is alive after start-up (modules, registries) is never garbage
    gc.set_threshold(50_000, 20, 20)


async def serve(
    config: ServerConfig,
    *,
    ready: Callable[[RunningServer], None] | None = None,
    setup: Callable[[Runtime], None] | None = None,
) -> None:
    """Run until SIGINT or SIGTERM, then stop gracefully. As a process entry point it
    installs the OpenTelemetry SDK when ``config.trace_endpoint`` names a collector."""
    endpoint = config.trace_endpoint
    tracing = configure_tracing(endpoint, config.service_name) if endpoint else None
    try:
        await _serve(config, ready, setup)
    finally:
        if tracing is not None:
            tracing.shutdown()  # what is still batched goes out before the process ends


async def _serve(
    config: ServerConfig,
    ready: Callable[[RunningServer], None] | None,
    setup: Callable[[Runtime], None] | None,
) -> None:
    running = await start_server(config, setup=setup)
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready(running)
    await stop.wait()
    log.info("shutting down")
    await running.stop()
