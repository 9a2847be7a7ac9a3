"""Asking a human: a hook answered "ask" at a permission point, so the task waits (parked,
INPUT_REQUIRED) until ProvideInput allows or denies the step. The answer is recorded as a
HookDecided of the "human" hook, like any other decision."""

from __future__ import annotations

from typing import Any

from aworld_client import HookDecided, PermissionDecision

from aworld_server.hooks import HookOutcome
from aworld_server.runners.callback_wait import CallbackWaits
from aworld_server.runners.task_log import TaskLog

__all__ = ["ask_human", "is_allowed"]


def is_allowed(answer: Any) -> bool:
    """True for the answers that allow: true, "allow"/"yes"/"approve", {"decision": "allow"}."""
    return (
        answer is True
        or (isinstance(answer, str) and answer.lower() in ("allow", "yes", "approve"))
        or (isinstance(answer, dict) and str(answer.get("decision", "")).lower() == "allow")
    )


async def ask_human(
    waits: CallbackWaits,
    log: TaskLog,
    *,
    point: str,
    what: str,
    prompt: dict[str, Any],
    node_id: str,
    outcome: HookOutcome,
    callback_id: str = "",
    announce: bool = True,
    parkable: bool = True,
) -> HookOutcome:
    """Wait for a human's decision on ``what`` (the step a hook asked about)."""
    answer = await waits.wait(
        "permission",
        {**prompt, "reason": outcome.reason},
        node_id,
        callback_id,
        announce=announce,
        parkable=parkable,
    )
    allowed = is_allowed(answer)
    decision = PermissionDecision.ALLOW if allowed else PermissionDecision.DENY
    reason = "" if allowed else f"a human denied {what}"
    await log.emit(HookDecided(point=point, hook_name="human", decision=decision, reason=reason))
    return HookOutcome(
        decision=decision,
        reason=reason,
        updated_input=outcome.updated_input,
        updated_output=outcome.updated_output,
        system_messages=outcome.system_messages,
    )
