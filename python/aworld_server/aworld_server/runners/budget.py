"""A task's budgets (steps, tool calls, tokens, wall time) and the checks that enforce them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aworld_client import Budgets, Usage

from aworld_server.errors import BudgetExhausted

__all__ = ["DEFAULT_MAX_STEPS", "Limits"]

DEFAULT_MAX_STEPS = 100


@dataclass(slots=True, frozen=True)
class Limits:
    """What a task may spend; 0 (or None) means unlimited, except steps (a default cap)."""

    max_steps: int
    max_tool_calls: int
    max_tokens: int
    max_wall_time: timedelta | None

    @classmethod
    def of(cls, budgets: Budgets | None) -> Limits:
        b = budgets or Budgets()
        return cls(
            b.max_steps or DEFAULT_MAX_STEPS, b.max_tool_calls, b.max_tokens, b.max_wall_time
        )

    def before_step(self, usage: Usage) -> None:
        """Raise BudgetExhausted if another agent step would exceed a budget."""
        if usage.steps >= self.max_steps:
            raise BudgetExhausted("max_steps")
        if self.max_tokens and usage.total_tokens >= self.max_tokens:
            raise BudgetExhausted("max_tokens")

    def before_tool_call(self, usage: Usage) -> None:
        """Raise BudgetExhausted if another tool call would exceed its budget."""
        if self.max_tool_calls and usage.tool_calls >= self.max_tool_calls:
            raise BudgetExhausted("max_tool_calls")
