"""Run-node state of tasks."""

from aworld_server.state.manager import StateManager, fold_groups, fold_nodes, group_status

__all__ = ["StateManager", "fold_groups", "fold_nodes", "group_status"]
