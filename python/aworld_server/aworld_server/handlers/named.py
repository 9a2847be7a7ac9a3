"""The handlers a task names, which the runtime treats as known even while no worker serves
them (a call to one waits for a worker; a call to a name nobody knows fails at once)."""

from __future__ import annotations

from aworld_client import HandlerKind, Task

__all__ = ["handler_names"]


def handler_names(task: Task) -> set[tuple[str, HandlerKind]]:
    """Every handler a task names: its tools, per-task hooks and remote agent policies."""
    names = {(name, HandlerKind.TOOL) for name in task.tool_names}
    for agent in task.swarm.agents if task.swarm else []:
        names.update((name, HandlerKind.TOOL) for name in agent.tool_names)
        if agent.remote_handler:
            names.add((agent.remote_handler, HandlerKind.AGENT))
    for hooks in task.hooks.values():
        names.update((name, HandlerKind.HOOK) for name in hooks)
    return names
