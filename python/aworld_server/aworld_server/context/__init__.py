"""Session, task and agent level state."""

from aworld_server.context.context import AgentState, Context, MergeRule

__all__ = ["AgentState", "Context", "MergeRule"]
