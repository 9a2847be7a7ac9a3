"""Results people would rather see than read: the answer box and the run-node tree."""

from __future__ import annotations

from aworld_client import RunNode, RunNodeKind, TaskResponse
from aworld_client.runtime_service import GetTaskStateResponse
from rich.console import RenderableType
from rich.panel import Panel
from rich.text import Text
from rich.tree import Tree

from aworld_server.cli._common import AGENT_STYLE, TOOL_STYLE, format_duration, preview, status_text

__all__ = ["answer_panel", "state_tree"]


def answer_panel(response: TaskResponse) -> RenderableType:
    """The answer (or the failure) in a box."""
    if response.answer is not None and not response.answer.is_empty:
        body: RenderableType = Text(response.answer.as_text())
        style = "green" if response.success else "yellow"
        title = "Answer" if response.success else f"Partial answer ({response.status.name})"
        return Panel(body, title=title, title_align="left", border_style=style, expand=False)
    if response.failure is not None:
        text = Text(f"{response.failure.type}: {response.failure.message}", style="red")
        return Panel(
            text, title=response.status.name, title_align="left", border_style="red", expand=False
        )
    return Text(f"no answer ({response.status.name})", style="yellow")


def state_tree(task_id: str, state: GetTaskStateResponse) -> Tree:
    """The run-node tree: task → agent steps → their tool calls."""
    root_label = Text(f"task {task_id} ", style="bold") + status_text(state.status)
    tree = Tree(root_label)
    children: dict[str, list[RunNode]] = {}
    ids = {node.id for node in state.nodes}
    for node in state.nodes:
        parent = node.parent_id if node.parent_id in ids else ""
        children.setdefault(parent, []).append(node)

    def add(branch: Tree, parent: str) -> None:
        for node in sorted(children.get(parent, []), key=_started):
            add(branch.add(_node_label(node)), node.id)

    top = children.get("", [])
    if len(top) == 1 and top[0].kind == RunNodeKind.TASK:
        # The task node is the tree's root; show its timing there instead of nesting it.
        tree.label = root_label + Text(" ") + _node_details(top[0])
        add(tree, top[0].id)
    else:
        add(tree, "")
    return tree


def _started(node: RunNode) -> float:
    moment = node.started_at or node.created_at
    return moment.timestamp() if moment is not None else 0.0


def _node_label(node: RunNode) -> Text:
    style = {RunNodeKind.AGENT: AGENT_STYLE, RunNodeKind.TOOL: TOOL_STYLE}.get(node.kind, "bold")
    label = Text(f"{node.kind.name.lower()} ", style="dim")
    label.append(node.name, style=style)
    label.append(" ")
    label.append_text(status_text(node.status))
    if node.attempt > 1:
        label.append(f" attempt {node.attempt}", style="yellow")
    return label + Text(" ") + _node_details(node)


def _node_details(node: RunNode) -> Text:
    details = Text(style="dim")
    if node.started_at is not None and node.ended_at is not None:
        details.append(format_duration(node.ended_at - node.started_at))
    if node.failure is not None:
        details.append(f"  {node.failure.type}: {node.failure.message}", style="red")
    elif node.result is not None:
        details.append(f"  {_result_summary(node)}")
    return details


def _result_summary(node: RunNode) -> str:
    assert node.result is not None
    value = node.result.value()
    if node.kind == RunNodeKind.AGENT and isinstance(value, dict):
        calls = [str(c.get("name", "")) for c in value.get("tool_calls") or []]
        if calls:
            return "→ " + ", ".join(calls)
        return "✎ " + preview(str(value.get("content", "")), 80)
    return "= " + preview(node.result, 80)
