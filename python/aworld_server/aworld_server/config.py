"""Server configuration: embedded defaults, overridden by a TOML file, then ``AWORLD_*``
environment variables, then command-line flags (highest).

The defaults run everything in one process with no external service: the local engine, the
in-memory bus and a SQLite event store under ``./.aworld/``. ``store``/``bus`` = "redis" put
the event store and the bus in the Redis at ``redis_url`` instead.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "A2AConfig",
    "A2ASkill",
    "ExposedAgent",
    "Limits",
    "McpServer",
    "ModelEndpoint",
    "PrincipalConfig",
    "ServerConfig",
]


class PrincipalConfig(BaseModel):
    """One caller identity (``[principals.<name>]`` in TOML): how it authenticates and what it
    may do. Tokens are compared in constant time; a certificate subject is the client
    certificate's subject as gRPC reports it (e.g. ``CN=ci,O=acme``)."""

    model_config = ConfigDict(extra="forbid")

    tokens: list[str] = Field(
        default_factory=list,
        description="Bearer tokens of this principal. Empty: it authenticates by certificate only.",
    )
    certificate_subjects: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(
        default_factory=lambda: ["default"], description="Namespaces it may use; '*' means all."
    )
    scopes: list[str] = Field(
        default_factory=list,
        description="submit, read, cancel, register, engine, admin (admin implies all).",
    )


class ModelEndpoint(BaseModel):
    """A model provider the server offers to tasks (``[model_endpoints.<name>]``): tasks name
    it in ``ModelConfig.provider`` and can pick only its ``models``; its URL and key stay here."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="OpenAI-compatible API root, e.g. https://host/v1.")
    api_key_env: str = Field(
        "", description="Server environment variable holding the key. Empty: no key is sent."
    )
    models: list[str] = Field(
        default_factory=list,
        description="Models tasks may pick; the first is the default. Empty: any model name.",
    )
    timeout: float = Field(120.0, gt=0, description="Seconds per model call.")


class A2ASkill(BaseModel):
    """One skill on an exposed agent's A2A card (``[[a2a.agents.<name>.skills]]``)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Unique within the card.")
    name: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


class ExposedAgent(BaseModel):
    """A swarm served as an A2A agent (``[a2a.agents.<name>]``): each A2A message starts a task
    built from ``task`` (or ``task_file``) with the message as its input.

    The template is the task-file format (``Task.from_dict``: swarm, tool_names, conf, hooks,
    retry_policy, ...) without ``id``, ``input`` or ``session_id``, which each request supplies.
    It is validated when the server starts."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field("", description="What the agent does; on its card.")
    version: str = Field("1.0.0", description="The card's version.")
    task: dict[str, Any] = Field(
        default_factory=dict, description="The task template, inline. Exclusive with task_file."
    )
    task_file: Path | None = Field(
        None, description="A JSON or YAML task file holding the template. Exclusive with task."
    )
    skills: list[A2ASkill] = Field(
        default_factory=list, description="Skills on the card. Empty: one skill, the agent itself."
    )

    @model_validator(mode="after")
    def _one_template(self) -> ExposedAgent:
        if bool(self.task) == (self.task_file is not None):
            raise ValueError("give exactly one of task (inline) and task_file")
        return self


class A2AConfig(BaseModel):
    """The A2A side (``[a2a]``): swarms exposed as A2A agents, and the remote A2A agents that
    served tasks may use as swarm members."""

    model_config = ConfigDict(extra="forbid")

    port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Port of the A2A endpoint. None: off; 0 picks a free one. It binds like the "
        "gRPC port and takes the same tokens.",
    )
    public_url: str = Field(
        "",
        description="Base URL the agent cards advertise (behind a proxy). Empty: "
        "http://<bound host>:<port>.",
    )
    agents: dict[str, ExposedAgent] = Field(
        default_factory=dict, description="Exposed swarms by name; each has its card and route."
    )
    remote_agents: list[str] = Field(
        default_factory=list,
        description="Agent-card URLs served tasks may name in AgentSpec.a2a_url. Empty: none.",
    )
    remote_timeout: float = Field(
        300.0, gt=0, description="Seconds any one network wait on a remote A2A agent may take."
    )

    @model_validator(mode="after")
    def _names(self) -> A2AConfig:
        for name in self.agents:
            if not _AGENT_NAME.match(name):
                raise ValueError(
                    f"a2a.agents.{name}: names are 1-64 letters, digits, '_', '.' or '-'"
                )
        if self.agents and self.port is None:
            raise ValueError("a2a.agents needs a2a.port (or --a2a-port) to be served")
        if self.port is not None and not self.agents:
            raise ValueError("a2a.port (--a2a-port) serves [a2a.agents.<name>]; none is configured")
        return self


_AGENT_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class Limits(BaseModel):
    """Ceilings on what one request may ask for; beyond them: INVALID_ARGUMENT naming the limit.
    They keep validation and storage linear and bounded for hostile input."""

    model_config = ConfigDict(extra="forbid")

    max_agents: int = Field(1000, gt=0, description="Agents per swarm.")
    max_steps: int = Field(
        10_000,
        gt=0,
        description="Ceiling on conf.max_steps and the step "
        "budget; 0 (unset) in a task means this ceiling.",
    )
    max_json_depth: int = Field(128, gt=0, description="Nesting depth of JSON payloads.")
    max_repeated: int = Field(10_000, gt=0, description="Items in any repeated field or map.")
    max_page_items: int = Field(
        1000,
        gt=0,
        description="Run nodes or trajectory items per page of GetTaskState / GetTrajectory.",
    )


# Server names become the default tool-name prefix, and OpenAI-compatible function names allow
# only these characters.
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class McpServer(BaseModel):
    """One MCP server: a command run as a stdio subprocess, or a streamable HTTP endpoint.
    Declared in the configuration (``[mcp_servers.<name>]``) or on a Python ``Agent``
    (``mcp_servers=[McpServer(name=..., command=...)]``); ``aworld_server.mcp`` runs it.

    Its tools become tools of the runtime named ``<tool_prefix><tool>`` — by default
    ``<name>__<tool>`` — with the input and output schemas the server lists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        "",
        description="The server's name (tasks name it in AgentSpec.mcp_servers). In TOML it is "
        "the table's key and may be left out.",
    )
    # -- stdio --
    command: str = Field("", description="Executable to run (stdio transport).")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment of the process, over the MCP SDK's safe default (HOME, PATH, "
        "USER, SHELL, TERM, LOGNAME); nothing else of the server's environment is passed.",
    )
    env_from: list[str] = Field(
        default_factory=list,
        description="Names of the server's environment variables passed on to the process "
        "(keys stay out of the config file). A name that is not set is a startup error.",
    )
    cwd: str = Field("", description="Working directory of the process. Empty: the server's.")
    # -- streamable HTTP --
    url: str = Field("", description="Streamable HTTP endpoint, e.g. http://127.0.0.1:8000/mcp.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="HTTP headers sent with every request."
    )
    # -- both --
    startup_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds to start (or restart) the server and list its tools; past it the "
        "server counts as unavailable.",
    )
    tool_timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds one call may take; past it the attempt fails with AttemptTimedOut "
        "(retried only for idempotent tools) and the server is told to cancel. None: no limit "
        "of its own (the task's budgets and deadline still apply).",
    )
    tool_prefix: str | None = Field(
        None,
        description="Prefix of its tools' names in the runtime. None: '<name>__'; '' keeps the "
        "server's own names (they must not clash with other tools).",
    )
    idempotent: bool | None = Field(
        None,
        description="Whether its tools may be re-run after an attempt whose outcome is unknown "
        "(the server died or the runtime restarted mid-call). None: per tool, from the MCP "
        "annotations idempotentHint or readOnlyHint.",
    )
    retry_tool_errors: bool = Field(
        False,
        description="Whether a result with isError set may be retried by the task's retry "
        "policy. False: it is a non-retryable McpToolError the agent sees.",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if name and not SERVER_NAME.match(name):
            raise ValueError("must be 1-64 characters of letters, digits, '_' or '-'")
        return name

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if bool(self.command) == bool(self.url):
            raise ValueError("set exactly one of command (stdio) and url (streamable HTTP)")
        if self.url and (self.args or self.env or self.env_from or self.cwd):
            raise ValueError("args, env, env_from and cwd are for a command, not a url")
        if self.command and self.headers:
            raise ValueError("headers are for a url, not a command")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "streamable-http"

    @property
    def prefix(self) -> str:
        return f"{self.name}__" if self.tool_prefix is None else self.tool_prefix

    @property
    def target(self) -> str:
        """What to show in messages: the command line or the URL (never headers or env)."""
        return " ".join([self.command, *self.args]) if self.command else self.url


def _named_servers(servers: dict[str, Any]) -> dict[str, McpServer]:
    """``[mcp_servers.<name>]`` tables as servers named after their key."""
    named: dict[str, McpServer] = {}
    for key, value in servers.items():
        if not SERVER_NAME.match(key):
            raise ValueError(
                f"mcp_servers.{key}: a server name must be 1-64 characters of letters, digits, "
                "'_' or '-'"
            )
        server = value if isinstance(value, McpServer) else McpServer.model_validate(value)
        if server.name and server.name != key:
            raise ValueError(f"mcp_servers.{key}: name {server.name!r} differs from the key")
        named[key] = server.model_copy(update={"name": key})
    return named


class ServerConfig(BaseSettings):
    """Everything a server needs to start. Field docs state defaults and edge values."""

    model_config = SettingsConfigDict(
        env_prefix="AWORLD_", env_nested_delimiter="__", extra="forbid"
    )
    toml_file: ClassVar[Path | None] = None  # set on the subclass that reads a config file

    host: str = Field(
        "",
        description="Address to bind. Empty: 127.0.0.1 without "
        "credentials configured, else 0.0.0.0.",
    )
    port: int = Field(50051, ge=0, le=65535, description="Port; 0 picks a free one.")
    data_dir: Path = Field(
        Path(".aworld"),
        description="Where the SQLite store lives (and, with the Redis store, the file that "
        "remembers the Redis's epoch).",
    )
    trajectory_dir: Path | None = Field(
        None,
        description="Write each finished task's trajectory here as <task id>.jsonl; its "
        "file URI is TaskResponse.trajectory_uri. Unset: no files (GetTrajectory reads it).",
    )
    store: Literal["sqlite", "memory", "redis"] = Field(
        "sqlite",
        description="sqlite: one file in data_dir. memory: nothing survives the process. "
        "redis: the Redis at redis_url (run it with appendonly yes; see README Guarantees).",
    )
    bus: Literal["memory", "redis"] = Field(
        "memory", description="Task message queues: in this process, or Redis Streams."
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="The Redis of store='redis' and bus='redis' (redis:// or rediss://, "
        "user and password allowed). Set only with one of them.",
    )
    redis_prefix: str = Field(
        "aworld:", min_length=1, description="Prefix of every key this server writes in Redis."
    )
    redis_health_interval: timedelta = Field(
        timedelta(seconds=1),
        gt=timedelta(0),
        description="How often the server probes Redis; health is NOT_SERVING while it does "
        "not answer.",
    )
    lease_ttl: timedelta = Field(
        timedelta(seconds=3),
        ge=timedelta(milliseconds=300),
        description="store='redis': how long a replica's lease on a task outlives the replica "
        "(renewed every third of it); a task whose owner died is taken over after at most "
        "about this long.",
    )
    replica_id: str = Field(
        "",
        pattern=r"^[A-Za-z0-9_.-]*$",
        description="store='redis': this replica's id in the cluster. Empty: one kept in "
        "data_dir, so a replica restarted there takes its own leases back at once.",
    )
    bus_capacity: int = Field(
        10_000, gt=0, description="Messages queued per task before publishers wait."
    )
    bus_claim_idle: timedelta = Field(
        timedelta(seconds=30),
        gt=timedelta(0),
        description="bus='redis': how long messages held by a consumer that stopped refreshing "
        "them (a dead process) wait before another consumer takes them over.",
    )
    bus_max_deliveries: int = Field(
        5,
        gt=0,
        description="bus='redis': deliveries after which a message whose consumers keep dying "
        "goes to the dead-letter stream instead.",
    )
    engine: str = Field("local", description="Default engine for tasks that name none.")
    engines: list[str] = Field(
        default_factory=list,
        description="Plugin engines to start besides `engine` (e.g. ['ray', 'spark']), so "
        "tasks can pick one with Task.engine. Empty: only `engine` (and local).",
    )
    ray_address: str = Field(
        "",
        description="Ray cluster to join ('auto', "
        "'ray://host:10001'). Empty: start a local Ray instance.",
    )
    spark_master: str = Field(
        "local[2]", description="Spark master URL, e.g. 'spark://host:7077'. Default: local[2]."
    )
    engine_setup: str = Field(
        "",
        description="'module:function' that engine workers (other processes) call with their "
        "Runtime to register tools, agents and model providers. Empty: built-in handlers and "
        "handlers served by connected workers only.",
    )
    engine_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Options per engine name, passed to its plugin, e.g. "
        "{'ray': {'worker_num': 4}}; they override the fields above.",
    )
    auth_tokens: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Legacy: bearer token -> scopes, each a principal named after its token's "
        "position in namespace 'default'. 'submit' also grants 'cancel'. Prefer `principals`.",
    )
    principals: dict[str, PrincipalConfig] = Field(
        default_factory=dict,
        description="Callers by name, with tokens or certificate subjects, namespaces and "
        "scopes. Empty (and no auth_tokens): authentication is off, everything is in 'default'.",
    )
    model_endpoints: dict[str, ModelEndpoint] = Field(
        default_factory=dict,
        description="Model providers served tasks may pick by name. A served task can never "
        "set a key, a key variable or a base URL; 'openai' uses OPENAI_* of the server.",
    )
    limits: Limits = Field(default_factory=Limits)
    mcp_servers: dict[str, McpServer] = Field(
        default_factory=dict,
        description="MCP servers whose tools the server offers, by name ([mcp_servers.<name>] "
        "with command/args/env/env_from/cwd for stdio, or url/headers for streamable HTTP; "
        "startup_timeout, tool_timeout, tool_prefix, idempotent, retry_tool_errors). They "
        "start with the server, which refuses to start if one does not; their tools are named "
        "'<name>__<tool>' unless tool_prefix says otherwise. Empty: none.",
    )
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = Field(
        None, description="Set to require client certificates signed by this CA (mutual TLS)."
    )
    max_message_bytes: int = Field(
        4 * 1024 * 1024,
        gt=0,
        description="Largest request accepted; larger ones get RESOURCE_EXHAUSTED.",
    )
    max_live_tasks: int = Field(
        10_000, gt=0, description="Submits beyond this many live tasks get RESOURCE_EXHAUSTED."
    )
    heartbeat_interval: timedelta = timedelta(seconds=5)
    heartbeat_timeout: timedelta = timedelta(seconds=15)
    shutdown_grace: timedelta = Field(
        timedelta(seconds=30),
        description="How long in-flight work may finish on shutdown before it is left to resume.",
    )
    schedule_to_start_timeout: timedelta = Field(
        timedelta(seconds=60),
        gt=timedelta(0),
        description="How long a call to a known remote handler waits for a worker serving it "
        "(none connected yet, e.g. just after a restart) before it fails with "
        "ScheduleToStartTimeout. Handlers and tasks may set their own.",
    )
    # -- observability (DESIGN.md section 7) --
    otlp_endpoint: str = Field(
        "",
        description="OTLP/gRPC collector that receives the spans, e.g. 'http://127.0.0.1:4317' "
        "(https: for TLS). Empty: OTEL_EXPORTER_OTLP_ENDPOINT if set, else spans are not "
        "exported.",
    )
    service_name: str = Field("aworld-server", description="service.name of exported spans.")
    http_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Port of the HTTP side: /metrics, the JSON API (/api/v1) and the web "
        "console. None: off; 0 picks a free one. It binds like the gRPC port (loopback unless "
        "credentials are configured) and takes the same tokens.",
    )
    a2a: A2AConfig = Field(
        default_factory=A2AConfig,
        description="Swarms served over A2A and the remote A2A agents tasks may call.",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="json: one JSON object per line with task, trace and span ids."
    )
    config_file: Path | None = Field(None, exclude=True)

    @field_validator(
        "heartbeat_interval",
        "heartbeat_timeout",
        "shutdown_grace",
        "schedule_to_start_timeout",
        "redis_health_interval",
        "bus_claim_idle",
        "lease_ttl",
        mode="before",
    )
    @classmethod
    def _plain_seconds(cls, value: Any) -> Any:
        """Durations may be plain seconds everywhere ("1.5" in the environment, 1.5 in TOML),
        besides ISO 8601 ("PT1.5S")."""
        if isinstance(value, str):
            try:
                return timedelta(seconds=float(value))
            except ValueError:
                return value  # ISO 8601 and the like, parsed by pydantic
        return value

    @field_validator("mcp_servers", mode="before")
    @classmethod
    def _named_mcp_servers(cls, value: Any) -> Any:
        """Each server is named after its table's key."""
        return _named_servers(value) if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _redis_settings_need_redis(self) -> ServerConfig:
        """A Redis setting without a Redis part would do nothing: refuse it."""
        uses_redis = "redis" in (self.store, self.bus)
        for name in ("redis_url", "redis_prefix", "redis_health_interval"):
            if name in self.model_fields_set and not uses_redis:
                raise ValueError(f"{name} is set but neither store nor bus is 'redis'")
        for name in ("lease_ttl", "replica_id"):
            if name in self.model_fields_set and self.store != "redis":
                raise ValueError(f"{name} applies to store='redis' (replicas) only")
        for name in ("bus_claim_idle", "bus_max_deliveries"):
            if name in self.model_fields_set and self.bus != "redis":
                raise ValueError(f"{name} applies to bus='redis' only")
        return self

    @model_validator(mode="after")
    def _tls_pairs(self) -> ServerConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("mutual TLS (tls_client_ca_file) needs tls_cert_file and key")
        return self

    def engine_plugins(self) -> dict[str, dict[str, Any]]:
        """The plugin engines to start, each with its options (``local`` is built in)."""
        names = dict.fromkeys([self.engine, *self.engines])
        names.pop("local", None)
        cluster = {"ray": {"address": self.ray_address}, "spark": {"master": self.spark_master}}
        return {
            name: {
                "setup": self.engine_setup,
                **cluster.get(name, {}),
                **self.engine_options.get(name, {}),
            }
            for name in names
        }

    @property
    def secured(self) -> bool:
        """True when callers must present credentials (tokens or client certificates)."""
        return (
            bool(self.auth_tokens) or bool(self.principals) or self.tls_client_ca_file is not None
        )

    @property
    def trace_endpoint(self) -> str:
        """Where spans go: ``otlp_endpoint``, else the standard OpenTelemetry variable."""
        return self.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")

    @property
    def bind_host(self) -> str:
        return self.host or ("0.0.0.0" if self.secured else "127.0.0.1")

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> ServerConfig:
        """Defaults < TOML file < environment < ``overrides`` (flags)."""
        flags = {k: v for k, v in overrides.items() if v is not None}
        if config_file is None:
            return cls(**flags)
        if not config_file.is_file():
            raise ValueError(f"config file {config_file} does not exist")
        return _with_file(config_file)(**flags)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags (init) win over the environment, which wins over the TOML file, if any.
        if cls.toml_file is None:
            return init_settings, env_settings
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, cls.toml_file)


def _with_file(path: Path) -> type[ServerConfig]:
    """ServerConfig reading ``path`` below the environment and the flags."""
    return type("FileConfig", (ServerConfig,), {"toml_file": path})
