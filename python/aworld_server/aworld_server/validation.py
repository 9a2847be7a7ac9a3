"""Validation of submitted tasks: every problem at once, as field violations.

Linear in the size of the task (sets, not list scans), so a swarm of many agents costs
milliseconds; the server's ceilings on sizes are in ``api.limits``."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection

from aworld_client import SwarmTopology, Task

from aworld_server.agents.providers import ModelProviders
from aworld_server.agents.remote_a2a import a2a_agent_violations
from aworld_server.errors import FieldViolation, InvalidArgument
from aworld_server.hooks import HOOK_POINTS

__all__ = ["validate_task"]

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def validate_task(
    task: Task,
    *,
    runners: Collection[str],
    engines: Collection[str],
    agents: Collection[str],
    models: ModelProviders,
    mcp_servers: Collection[str] = (),
) -> None:
    """Raise InvalidArgument listing every invalid field of ``task``, given what the runtime
    has: runner and engine names, agents registered in-process, model providers and the MCP
    servers of the server's configuration."""
    problems: list[FieldViolation] = []

    def bad(path: str, description: str) -> None:
        problems.append(FieldViolation(path, description))

    if task.id and not _ID.match(task.id):
        bad("task.id", "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
    if task.session_id and not _ID.match(task.session_id):
        bad("task.session_id", "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
    if task.input is None or task.input.is_empty or task.input.as_text() == "":
        bad("task.input", "is required and must not be empty")
    conf = task.conf
    runner = conf.runner if conf else ""
    if runner and runner not in runners:
        bad("task.conf.runner", f"unknown runner {runner!r}")
    if conf and conf.budgets:
        b = conf.budgets
        for name in ("max_steps", "max_tool_calls", "max_tokens"):
            if getattr(b, name) < 0:
                bad(f"task.conf.budgets.{name}", "must not be negative")
        if b.max_wall_time is not None and b.max_wall_time.total_seconds() < 0:
            bad("task.conf.budgets.max_wall_time", "must not be negative")
    if task.retry_policy:
        policy = task.retry_policy
        if policy.maximum_attempts < 0:
            bad("task.retry_policy.maximum_attempts", "must not be negative")
        if policy.backoff_coefficient and policy.backoff_coefficient < 1:
            bad("task.retry_policy.backoff_coefficient", "must be at least 1")
    for point in task.hooks:
        if point not in HOOK_POINTS:
            bad(f"task.hooks[{point}]", f"unknown hook point; known: {sorted(HOOK_POINTS)}")
    if conf and conf.check_input:
        # The input is always checked (present, non-empty, within the server's limits); a
        # stricter check would need an input schema, which tasks do not carry.
        bad("task.conf.check_input", "is not supported: inputs are always checked; leave it unset")
    if task.priority:
        bad("task.priority", "is not supported: a task starts as soon as it is accepted")
    if task.engine and task.engine not in engines:
        bad("task.engine", f"unknown engine {task.engine!r}")

    swarm = task.swarm
    if swarm is None or not swarm.agents:
        if not runner:
            bad("task.swarm", "is required: at least one agent (or a custom conf.runner)")
    else:
        names = Counter(a.name for a in swarm.agents)
        for i, agent in enumerate(swarm.agents):
            path = f"task.swarm.agents[{i}]"
            if not _NAME.match(agent.name):
                bad(f"{path}.name", "must be 1-128 characters of letters, digits, '_', '.' or '-'")
            elif names[agent.name] > 1:
                bad(f"{path}.name", f"duplicate agent name {agent.name!r}")
            for j, target in enumerate(agent.handoffs):
                if target not in names:
                    bad(f"{path}.handoffs[{j}]", f"{target!r} is not an agent of this swarm")
            local = agent.name in agents
            for j, server in enumerate(agent.mcp_servers):
                if not local and server not in mcp_servers:
                    bad(f"{path}.mcp_servers[{j}]", f"no MCP server named {server!r} is configured")
            if agent.a2a_url:
                for problem in a2a_agent_violations(agent, models.a2a):
                    bad(f"{path}.{problem.field}", problem.description)
            elif not local and not agent.remote_handler:
                provider = agent.model.provider if agent.model else ""
                if agent.model is None:
                    bad(f"{path}.model", "is required for an agent not registered on the server")
                elif not models.known(provider):
                    bad(f"{path}.model.provider", f"unknown model provider {provider!r}")
                else:
                    for problem in models.violations(agent.model):
                        bad(f"{path}.model.{problem.field}", problem.description)
        if swarm.root_agent and swarm.root_agent not in names:
            bad("task.swarm.root_agent", f"{swarm.root_agent!r} is not an agent of this swarm")
        if swarm.topology == SwarmTopology.SINGLE and len(names) > 1:
            bad("task.swarm.topology", "SINGLE takes exactly one agent")
        if swarm.topology.name.startswith("UNKNOWN_"):  # sent by a newer client
            bad("task.swarm.topology", f"unknown topology {int(swarm.topology)}")
    if problems:
        raise InvalidArgument("invalid task", problems)
