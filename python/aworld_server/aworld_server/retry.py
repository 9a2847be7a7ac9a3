"""Retrying work by a RetryPolicy (Temporal's shape: initial interval, backoff coefficient,
maximum interval, maximum attempts, non-retryable error types).

Used for model calls, local tools and remote handler calls alike, so they all retry the same
way. Attempts are numbered from 1 and passed to the work, which lets remote calls fence
results of superseded attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from aworld_client import Failure, RetryPolicy

from aworld_server.errors import HandlerFailed

__all__ = ["backoff_delay", "failure_of", "is_retryable", "retry_async"]

T = TypeVar("T")


def failure_of(error: BaseException) -> Failure:
    """The structured failure of an error. Exceptions may declare ``non_retryable = True``."""
    if isinstance(error, HandlerFailed):
        return error.failure
    return Failure.from_exception(error, non_retryable=bool(getattr(error, "non_retryable", False)))


def is_retryable(error: BaseException, policy: RetryPolicy) -> bool:
    """False for cancellation, non-retryable failures and types the policy lists."""
    if isinstance(error, asyncio.CancelledError):
        return False
    failure = failure_of(error)
    if failure.non_retryable:
        return False
    listed = set(policy.non_retryable_error_types)
    return not any(f.type in listed for f in failure.chain())


def backoff_delay(policy: RetryPolicy, attempt: int) -> timedelta:
    """Delay before attempt ``attempt + 1`` after attempt ``attempt`` failed (policy resolved)."""
    resolved = policy.resolved()
    assert resolved.initial_interval is not None and resolved.maximum_interval is not None
    delay = resolved.initial_interval * (resolved.backoff_coefficient ** (attempt - 1))
    return min(delay, resolved.maximum_interval)


async def retry_async(
    work: Callable[[int], Awaitable[T]],
    policy: RetryPolicy | None,
    *,
    on_failure: Callable[[int, BaseException, bool], Awaitable[None]] | None = None,
    failed_before: int = 0,
) -> T:
    """Run ``work(attempt)`` until it succeeds, a failure is not retryable, or attempts run out.

    ``on_failure(attempt, error, will_retry)`` is awaited after every failed attempt (to record
    an event). The last error is re-raised. Cancellation is never retried. ``failed_before``:
    attempts that already failed before a restart, out of the same budget (``work`` still
    counts from 1, and always runs at least once: what a restart interrupted is ours to
    finish, never the caller's failure).
    """
    resolved = (policy or RetryPolicy()).resolved()
    attempt = 1
    while True:
        try:
            return await work(attempt)
        except Exception as error:
            used = failed_before + attempt
            will_retry = (
                used < resolved.maximum_attempts
                and is_retryable(error, resolved)
                and not _being_cancelled()
            )
            if on_failure is not None:
                await on_failure(attempt, error, will_retry)
            if not will_retry:
                raise
            await asyncio.sleep(backoff_delay(resolved, used).total_seconds())
            attempt += 1


def _being_cancelled() -> bool:
    """True when the running task has a cancellation pending that the failed attempt swallowed
    (some clients turn a cancellation inside a call into another error): stop, do not retry."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0
