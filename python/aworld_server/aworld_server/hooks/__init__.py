"""Hook points, hook invocation and permission decisions."""

from aworld_server.hooks.runner import HOOK_POINTS, PERMISSION_POINTS, HookOutcome, HookRunner

__all__ = ["HOOK_POINTS", "PERMISSION_POINTS", "HookOutcome", "HookRunner"]
