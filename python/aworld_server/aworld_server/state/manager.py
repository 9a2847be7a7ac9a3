"""Run-node state: the execution tree of a task (task -> agent steps -> tool calls, hooks,
sub-tasks), each node a small state machine INIT -> RUNNING -> terminal.

Every change is recorded in the log, so a task's tree can be rebuilt from it (:func:`fold_nodes`):
as a RunNodeChanged event, or carried by the event that records the same moment (a tool call's
``ToolCallStarted``/``ToolCallFinished``, the task's status change), so a step costs one event
where nothing reads its parts apart. A node may start *deferred*: its RUNNING change is
recorded only when something refers to it (:meth:`StateManager.record`) or an event carries it
(:meth:`StateManager.take_start`); a node that finishes first is recorded once, finished.
Waiting for a node to finish is by notification, never by polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from aworld_client import (
    Event,
    Failure,
    LlmCallFinished,
    NodeGroup,
    Payload,
    RunNode,
    RunNodeChanged,
    RunNodeKind,
    RunNodeStatus,
)

from aworld_server.errors import FailedPrecondition, NotFound
from aworld_server.events.manager import EventManager
from aworld_server.ids import new_id

__all__ = ["StateManager", "fold_groups", "fold_nodes", "group_status"]

_ALLOWED: dict[RunNodeStatus, frozenset[RunNodeStatus]] = {
    RunNodeStatus.INIT: frozenset(RunNodeStatus) - {RunNodeStatus.UNSPECIFIED, RunNodeStatus.INIT},
    RunNodeStatus.RUNNING: frozenset(RunNodeStatus)
    - {RunNodeStatus.UNSPECIFIED, RunNodeStatus.INIT, RunNodeStatus.RUNNING},
}


def group_status(nodes: Iterable[RunNode]) -> RunNodeStatus:
    """RUNNING while any member is live, FAILED if any failed, else SUCCEEDED."""
    statuses = [n.status for n in nodes]
    if any(not s.is_terminal for s in statuses):
        return RunNodeStatus.RUNNING
    if any(s != RunNodeStatus.SUCCEEDED for s in statuses):
        return RunNodeStatus.FAILED
    return RunNodeStatus.SUCCEEDED


def fold_nodes(events: Iterable[Event]) -> list[RunNode]:
    """The latest state of every run node in a task's events, in creation order."""
    nodes: dict[str, RunNode] = {}
    for event in events:
        node = event.run_node
        if node is not None:
            nodes[node.id] = node
    return list(nodes.values())


def fold_groups(nodes: Iterable[RunNode]) -> list[NodeGroup]:
    """Node groups implied by the nodes' ``group_id``, with their derived status."""
    members: dict[str, list[RunNode]] = {}
    for node in nodes:
        if node.group_id:
            members.setdefault(node.group_id, []).append(node)
    return [
        NodeGroup(
            id=group_id,
            task_id=group[0].task_id,
            parent_node_id=group[0].parent_id,
            node_ids=[n.id for n in group],
            status=group_status(group),
        )
        for group_id, group in members.items()
    ]


class StateManager:
    """Creates and advances the run nodes of the tasks running in this process."""

    def __init__(self, events: EventManager) -> None:
        self._events = events
        # Only live nodes are kept: finished ones are in the event log (see fold_nodes).
        self._nodes: dict[str, RunNode] = {}
        self._done: dict[str, asyncio.Future[RunNode]] = {}  # created by waiters only
        self._by_task: dict[str, set[str]] = {}
        self._groups: dict[str, NodeGroup] = {}
        self._finished: dict[str, RunNode] = {}  # only for nodes in a group, until joined
        self._finished_by_task: dict[str, list[str]] = {}  # so release() scans only its task
        self._unrecorded: set[str] = set()  # started deferred, RUNNING not in the log yet

    def start(
        self,
        task_id: str,
        kind: RunNodeKind,
        name: str = "",
        *,
        parent_id: str = "",
        group_id: str = "",
        attempt: int = 1,
        session_id: str = "",
        node_id: str = "",
        deferred: bool = False,
    ) -> RunNode:
        """Create a node that starts running now (one event: RUNNING). ``deferred``: record
        the RUNNING change only when needed (see the module docstring)."""
        now = datetime.now(UTC)
        node = RunNode(
            id=node_id or new_id(),
            task_id=task_id,
            session_id=session_id,
            parent_id=parent_id,
            kind=kind,
            name=name,
            status=RunNodeStatus.RUNNING,
            attempt=attempt,
            created_at=now,
            started_at=now,
            group_id=group_id,
        )
        self._nodes[node.id] = node
        self._by_task.setdefault(task_id, set()).add(node.id)
        if deferred:
            self._unrecorded.add(node.id)
        else:
            self._events.emit_nowait(task_id, RunNodeChanged(node=replace(node)))
        return node

    def record(self, node_id: str) -> None:
        """Record a deferred node's RUNNING change now (something is about to refer to it by
        id, e.g. a request for input). Nothing for a node already recorded or unknown."""
        node = self.take_start(node_id)
        if node is not None:
            self._events.emit_nowait(node.task_id, RunNodeChanged(node=node))

    def take_start(self, node_id: str) -> RunNode | None:
        """A deferred node's RUNNING state, for an event that records it (then it counts as
        recorded); None when it is recorded already."""
        if node_id not in self._unrecorded:
            return None
        self._unrecorded.discard(node_id)
        return replace(self._nodes[node_id])

    def adopt(self, node: RunNode) -> RunNode:
        """Take over a live node recorded by an earlier run of the task (a resumed run)."""
        self._nodes[node.id] = node
        self._by_task.setdefault(node.task_id, set()).add(node.id)
        return node

    def finish(
        self,
        node_id: str,
        status: RunNodeStatus,
        *,
        result: Payload | None = None,
        failure: Failure | None = None,
        llm_call: LlmCallFinished | None = None,
        emit: bool = True,
        ended_at: datetime | None = None,
    ) -> RunNode:
        """Move a running node to a terminal status (one event) and wake its waiters.

        ``llm_call``: the model call that decided an AGENT step, recorded with it. ``emit``
        False: the caller records the returned node in an event of its own (a tool call's
        finish, the task's terminal status). ``ended_at``: when it ended, if not now."""
        node = self._nodes.pop(node_id, None)
        if node is None:
            raise NotFound(f"run node {node_id} (unknown or already finished)")
        if status not in _ALLOWED.get(node.status, frozenset()) or not status.is_terminal:
            raise FailedPrecondition(f"run node {node_id}: {node.status.name} -> {status.name}")
        node.status = status
        node.result = result
        node.failure = failure
        node.ended_at = ended_at or datetime.now(UTC)
        self._unrecorded.discard(node_id)  # the terminal change records it whole
        if emit:
            change = RunNodeChanged(node=replace(node), llm_call=llm_call)
            self._events.emit_nowait(node.task_id, change)
        self._by_task.get(node.task_id, set()).discard(node_id)
        if node.group_id:  # kept only until its group is joined
            self._finished[node_id] = node
            self._finished_by_task.setdefault(node.task_id, []).append(node_id)
        waiter = self._done.pop(node_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(node)
        return node

    def group(
        self, task_id: str, parent_node_id: str, node_ids: list[str], *, group_id: str = ""
    ) -> NodeGroup:
        """Declare that the given live nodes fan out together from ``parent_node_id``."""
        group = NodeGroup(
            id=group_id or new_id(),
            task_id=task_id,
            parent_node_id=parent_node_id,
            node_ids=list(node_ids),
            status=RunNodeStatus.RUNNING,
        )
        self._groups[group.id] = group
        for node_id in node_ids:
            self._nodes[node_id].group_id = group.id
        return group

    async def wait(self, node_id: str) -> RunNode:
        """Wait until the node reaches a terminal status."""
        finished = self._finished.get(node_id)
        if finished is not None:
            return finished
        if node_id not in self._nodes:
            raise NotFound(f"run node {node_id}")
        waiter = self._done.get(node_id)
        if waiter is None:
            waiter = self._done[node_id] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(waiter)

    async def join(self, group_id: str) -> NodeGroup:
        """Wait until every node of the group is terminal; return it with its derived status."""
        group = self._groups[group_id]
        members = [await self.wait(node_id) for node_id in group.node_ids]
        group.status = group_status(members)
        return group

    def live_nodes(self, task_id: str) -> list[RunNode]:
        """The task's running nodes (finished ones: fold the task's events)."""
        return [self._nodes[n] for n in self._by_task.get(task_id, ())]

    def release(self, task_id: str) -> None:
        """Forget a finished task (its events keep its nodes)."""
        for node_id in self._by_task.pop(task_id, set()):
            self._nodes.pop(node_id, None)
            self._done.pop(node_id, None)
            self._unrecorded.discard(node_id)
        for node_id in self._finished_by_task.pop(task_id, ()):
            self._finished.pop(node_id, None)
        for group_id in [g.id for g in self._groups.values() if g.task_id == task_id]:
            del self._groups[group_id]
