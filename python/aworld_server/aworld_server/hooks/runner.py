"""Firing hooks at hook points (AWorld's names) and folding their answers into one outcome.

Hooks come from three places, run in this order: global (registered on the runtime), session
(registered for a session id) and task (``Task.hooks``). A hook receives a JSON object describing
the occurrence (``point``, ``task_id``, ``agent``, ``tool_name``, ``arguments``, ``output`` ...)
and may answer ``None`` or an object with ``updated_input``, ``updated_output``,
``permission_decision`` ("allow" | "deny" | "ask"), ``permission_decision_reason`` and
``system_message``.

What the answers do: at ``before_tool_call`` and ``before_llm_call`` a deny stops the step and
an ask parks the task in INPUT_REQUIRED until a human allows or denies it (ProvideInput); at
any other point an ask also holds the task in INPUT_REQUIRED until a human answers (recorded;
only a permission point's step can be denied);
``updated_input`` replaces the tool's arguments / that model call's messages;
``updated_output`` replaces the tool's output (``after_tool_call``), the model's text
(``after_llm_call``) or the final answer (``output_process``, ``post_task_call``); a
``system_message`` joins the conversation before the agent's next model call. A ``reward``
hook is asked once per trajectory step when the task ends and answers ``{"score": float}``,
the step's ``TrajectoryReward.score``. Permission
decisions at other points are recorded, not enforced.

Permission hooks (at ``before_*`` points) fail closed: a hook that raises denies the step.
Observer hooks fail open: the error is recorded as an event and the run goes on. Every
invocation is recorded as a HookDecided event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aworld_client import HookDecided, PermissionDecision, Task

from aworld_server.context import Context
from aworld_server.events import EventManager
from aworld_server.observability import span
from aworld_server.retry import failure_of

__all__ = [
    "HOOK_POINTS",
    "PERMISSION_POINTS",
    "Asker",
    "HookInvoker",
    "HookOutcome",
    "HookRunner",
]

HOOK_POINTS = frozenset(
    {
        "session_started",
        "session_finished",
        "session_failed",
        "task_created",
        "task_completed",
        "agent_started",
        "agent_stopped",
        "before_llm_call",
        "after_llm_call",
        "before_tool_call",
        "after_tool_call",
        "tool_call_failed",
        "output_process",
        "post_task_call",
        "reward",
    }
)
PERMISSION_POINTS = frozenset({"before_tool_call", "before_llm_call"})

_DECISIONS = {
    "allow": PermissionDecision.ALLOW,
    "deny": PermissionDecision.DENY,
    "ask": PermissionDecision.ASK,
}


@dataclass(slots=True)
class HookOutcome:
    """The combined answer of every hook at one occurrence. Later hooks see earlier updates."""

    decision: PermissionDecision = PermissionDecision.UNSPECIFIED
    reason: str = ""
    updated_input: Any = None
    updated_output: Any = None
    system_messages: tuple[str, ...] = ()
    score: float | None = None  # a "reward" hook's score of one trajectory step

    @property
    def denied(self) -> bool:
        return self.decision == PermissionDecision.DENY

    @property
    def asks(self) -> bool:
        return self.decision == PermissionDecision.ASK


_NOTHING = HookOutcome()

# A later hook may make a decision stricter, never looser: an allow after an ask stays an ask.
_STRICTNESS = {
    PermissionDecision.UNSPECIFIED: 0,
    PermissionDecision.ALLOW: 1,
    PermissionDecision.ASK: 2,
    PermissionDecision.DENY: 3,
}
# The key of the request that ``updated_input`` replaces, where it is not "arguments".
_INPUT_KEYS = {"before_llm_call": "messages"}


class HookInvoker(Protocol):
    """Runs one hook by name, wherever it is served."""

    async def invoke_hook(
        self, name: str, point: str, request: dict[str, Any], context: Context, task: Task | None
    ) -> Any: ...


class Asker(Protocol):
    """Asks a human about an occurrence a hook answered "ask" at; returns the decision."""

    async def __call__(self, point: str, outcome: HookOutcome) -> HookOutcome: ...


class HookRunner:
    """Fires the hooks that apply to one task: global, then session, then the task's own."""

    def __init__(
        self,
        task: Task,
        context: Context,
        *,
        invoker: HookInvoker,
        events: EventManager,
        global_hooks: Mapping[str, list[str]],
        session_hooks: Mapping[str, list[str]],
    ) -> None:
        self._task = task
        self._context = context
        self._invoker = invoker
        self._events = events
        self._global = global_hooks
        self._session = session_hooks
        # Muted while a resumed run replays its log: those occurrences already fired.
        self.muted = False
        self._system_messages: list[str] = []
        # Asks a human when a hook answers "ask" at a point that is not a permission point
        # (those gate a step and ask where the step is known); set by the run.
        self.asker: Asker | None = None

    def names(self, point: str) -> list[str]:
        return [
            *self._global.get(point, ()),
            *self._session.get(point, ()),
            *self._task.hooks.get(point, ()),
        ]

    async def fire(self, point: str, **data: Any) -> HookOutcome:
        """Run every hook registered for ``point``; return what they decided together.

        Each hook sees the updates of the hooks before it. Decisions combine strictest first
        (deny > ask > allow): a deny ends the occurrence at once; after an ask, later hooks
        still run, so an ask followed by a deny is a deny. System messages of every hook are
        also queued for the next model call (:meth:`take_system_messages`)."""
        names = self.names(point) if not self.muted else ()
        if not names:
            return _NOTHING
        outcome = HookOutcome()
        input_key = _INPUT_KEYS.get(point, "arguments")
        for name in names:
            request = {
                "point": point,
                "task_id": self._task.id,
                "session_id": self._task.session_id,
                **data,
            }
            if outcome.updated_input is not None:
                request[input_key] = outcome.updated_input
            if outcome.updated_output is not None:
                request["output"] = outcome.updated_output
            record = HookDecided(point=point, hook_name=name)
            try:
                with span("hook", point=point, hook=name, task_id=self._task.id):
                    answer = await self._invoker.invoke_hook(
                        name, point, request, self._context, self._task
                    )
            except Exception as error:
                record.failure = failure = failure_of(error)
                failure.source = failure.source or name
                if point in PERMISSION_POINTS:  # fail closed
                    record.decision = PermissionDecision.DENY
                    record.reason = f"hook {name} failed: {failure.message}"
                    outcome.decision, outcome.reason = record.decision, record.reason
                await self._events.emit(self._task.id, record)
                if outcome.denied:
                    return outcome
                continue
            self._apply(answer, record, outcome)
            await self._events.emit(self._task.id, record)
            if outcome.denied:
                return outcome
        self._system_messages.extend(outcome.system_messages)
        if outcome.asks and point not in PERMISSION_POINTS and self.asker is not None:
            return await self.asker(point, outcome)
        return outcome

    def take_system_messages(self) -> list[str]:
        """System messages hooks gave since the last call, for the next model call."""
        taken, self._system_messages = self._system_messages, []
        return taken

    @staticmethod
    def _apply(answer: Any, record: HookDecided, outcome: HookOutcome) -> None:
        if not isinstance(answer, dict):
            return
        decision = _DECISIONS.get(str(answer.get("permission_decision", "")).lower())
        if decision is not None:
            record.decision = decision
            record.reason = str(answer.get("permission_decision_reason", "") or "")
            if _STRICTNESS[decision] >= _STRICTNESS[outcome.decision]:
                outcome.decision, outcome.reason = decision, record.reason
        if "updated_input" in answer and answer["updated_input"] is not None:
            outcome.updated_input = answer["updated_input"]
            record.updated_input = True
        if "updated_output" in answer and answer["updated_output"] is not None:
            outcome.updated_output = answer["updated_output"]
            record.updated_output = True
        if answer.get("system_message"):
            record.system_message = str(answer["system_message"])
            outcome.system_messages += (record.system_message,)
        if isinstance(answer.get("score"), int | float):
            outcome.score = float(answer["score"])
