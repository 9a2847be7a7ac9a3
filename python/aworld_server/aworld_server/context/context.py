"""Context at three levels: the session (spans tasks), the task, and each agent in the task.

A sub-task's context is derived copy-on-write: reads fall through to the parent, writes stay
local, so deriving costs O(1) whatever the parent holds. When the sub-task ends its writes are
merged back by declared rules instead of overwriting the parent wholesale.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aworld_client import Usage

__all__ = ["AgentState", "Context", "MergeRule"]

MergeRule = Literal["replace", "keep", "append", "sum"] | Callable[[Any, Any], Any]


@dataclass(eq=False)
class AgentState:
    """What one agent remembers within a task: its conversation and its own key-values."""

    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    steps: int = 0


class Context:
    """Key-value state of one task, its usage, and the states of its agents.

    ``session`` is the session-level state shared by every task of the session (a plain dict
    loaded from and saved to the session store by the runner).
    """

    def __init__(
        self,
        task_id: str,
        session_id: str,
        *,
        session: dict[str, Any] | None = None,
        parent: Context | None = None,
    ) -> None:
        self.task_id = task_id
        self.session_id = session_id
        self.session: dict[str, Any] = session if session is not None else {}
        self.parent = parent
        self._local: dict[str, Any] = {}
        self._values: ChainMap[str, Any] = (
            parent._values.new_child(self._local) if parent is not None else ChainMap(self._local)
        )
        self.usage = Usage()
        self.agents: dict[str, AgentState] = {}
        self.dirty = False  # written since the last snapshot (see TaskExecution)

    # -- task-level key-values ------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._local[key] = value
        self.dirty = True

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def items(self) -> dict[str, Any]:
        """A snapshot of every visible key-value (own writes over inherited ones)."""
        return dict(self._values)

    @property
    def local_changes(self) -> Mapping[str, Any]:
        """Keys written in this context (not inherited)."""
        return self._local

    # -- agent level ----------------------------------------------------------------------
    def agent(self, name: str) -> AgentState:
        """The state of agent ``name`` in this task, created on first use."""
        state = self.agents.get(name)
        if state is None:
            state = self.agents[name] = AgentState(name)
        return state

    # -- sub-tasks ------------------------------------------------------------------------
    def derive(self, task_id: str) -> Context:
        """A child context for a sub-task: copy-on-write over this one, same session."""
        return Context(task_id, self.session_id, session=self.session, parent=self)

    def merge(self, child: Context, rules: Mapping[str, MergeRule] | None = None) -> None:
        """Fold a finished child's writes back in. Keys without a rule are replaced; usage adds.

        Rules: "replace" (child wins), "keep" (parent wins), "append" (lists concatenate),
        "sum" (numbers add), or a function ``(parent_value, child_value) -> merged``.
        """
        rules = rules or {}
        for key, value in child.local_changes.items():
            rule = rules.get(key, "replace")
            if key not in self._values or rule == "replace":
                self._local[key] = value
            elif rule == "keep":
                continue
            elif rule == "append":
                self._local[key] = list(self._values[key]) + list(value)
            elif rule == "sum":
                self._local[key] = self._values[key] + value
            elif callable(rule):
                self._local[key] = rule(self._values[key], value)
            else:
                raise ValueError(f"unknown merge rule {rule!r} for {key!r}")
        self.usage.add(child.usage)
