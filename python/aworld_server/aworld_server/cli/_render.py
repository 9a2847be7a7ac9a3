"""A task's events as readable lines — one per thing that happened — with a live footer while
it runs.

Lines are built from the event bodies alone (plus the swarm's agent names and, when known, which
worker serves which tool), so the same printer serves ``aworld run``, ``aworld events`` and the
demo, live or replayed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import grpc
from aworld_client import (
    AsyncClient,
    Event,
    HookDecided,
    InputProvided,
    InputRequested,
    LifecyclePhase,
    LlmCallFinished,
    MessageCategory,
    MessageEmitted,
    PermissionDecision,
    RunNode,
    RunNodeChanged,
    RunNodeKind,
    RunNodeStatus,
    RuntimeServiceError,
    Task,
    TaskResponse,
    TaskStatusChanged,
    TaskSubmitted,
    ToolCallFinished,
    ToolCallStarted,
    WorkerInfo,
)
from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from aworld_server.cli._common import (
    AGENT_STYLE,
    TOOL_STYLE,
    format_arguments,
    format_duration,
    format_time,
    plural,
    preview,
    status_text,
)

__all__ = ["EventPrinter", "served_tools", "tool_locations", "watch", "worker_label"]


async def served_tools(client: AsyncClient) -> dict[str, str]:
    """Which worker serves which tool, to show where calls run; empty when not allowed."""
    try:
        return tool_locations(await client.workers())
    except RuntimeServiceError as error:
        if error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED):
            raise
        return {}


def tool_locations(workers: Sequence[WorkerInfo]) -> dict[str, str]:
    """Tool name -> where it runs ("worker 7eafce22 (pid 4242)"), for the tools workers serve."""
    serving: dict[str, list[WorkerInfo]] = {}
    for worker in workers:
        for name in worker.handler_names:
            serving.setdefault(name, []).append(worker)
    return {
        name: worker_label(found[0]) if len(found) == 1 else f"one of {len(found)} workers"
        for name, found in serving.items()
    }


def worker_label(worker: WorkerInfo) -> str:
    pid = worker.labels.get("pid")
    return f"worker {worker.worker_id[:8]}" + (f" (pid {pid})" if pid else "")


class EventPrinter:
    """Turns events into lines of text and keeps the counters the live footer shows.

    ``verbose`` adds the bookkeeping events (messages, lifecycle phases, node changes);
    ``show_seq`` prefixes each line with the event's seq and time, as ``aworld events`` does.
    """

    def __init__(
        self,
        *,
        agents: Iterable[str] = (),
        tool_workers: Mapping[str, str] | None = None,
        show_seq: bool = False,
        verbose: bool = False,
    ) -> None:
        self.agents: list[str] = list(agents)
        self.tool_workers = dict(tool_workers or {})
        self.show_seq = show_seq
        self.verbose = verbose
        self.steps = 0
        self.tool_calls = 0
        self.tokens = 0
        self.activity = "starting"
        self.response: TaskResponse | None = None
        self.task_id = ""

    def learn_task(self, task: Task | None) -> None:
        """Take the agent names from the task (for alignment and to tell agents from tools)."""
        if task is not None and task.swarm is not None:
            self.agents = [a.name for a in task.swarm.agents]

    # -- one event -> lines --------------------------------------------------------------------

    def lines(self, event: Event) -> list[Text]:
        self.task_id = event.task_id or self.task_id
        body = event.body
        out: list[Text] = []
        if isinstance(body, TaskSubmitted):
            self.learn_task(body.task)
            out.append(self._submitted(event.task_id, body))
        elif isinstance(body, TaskStatusChanged):
            out += self._phases(event)
            out += self._status(body)
        elif isinstance(body, RunNodeChanged) and body.node is not None:
            if body.llm_call is not None and body.llm_call.usage is not None:
                self.tokens += body.llm_call.usage.total_tokens  # the step's model call
            out += self._node(body.node)
        elif isinstance(body, ToolCallStarted):
            out.append(self._tool_started(body))
            if body.node is not None:
                out += self._node(body.node)
        elif isinstance(body, ToolCallFinished):
            out.append(self._tool_finished(body))
            if body.node is not None:
                out += self._node(body.node)
        elif isinstance(body, LlmCallFinished):
            if body.usage is not None:
                self.tokens += body.usage.total_tokens
            if body.failure is not None:
                out.append(
                    self._line(body.agent, "✗", f"model call failed: {_failure(body)}", "red")
                )
        elif isinstance(body, HookDecided):
            out += self._hook(body)
        elif isinstance(body, InputRequested):
            self.activity = "waiting for input"
            prompt = preview(body.prompt) if body.prompt is not None else ""
            out.append(
                self._line(
                    "",
                    "⏸",
                    f"waiting for input ({body.kind or 'callback'} {body.callback_id}): {prompt}",
                    "yellow",
                )
            )
        elif isinstance(body, InputProvided):
            value = preview(body.value) if body.value is not None else _failure(body)
            out.append(self._line("", "▶", f"input for {body.callback_id}: {value}", "green"))
        elif isinstance(body, MessageEmitted) and body.message is not None:
            message = body.message
            if message.category == MessageCategory.CHUNK and message.payload is not None:
                self.activity = f"{message.sender}: …{preview(message.payload, 60)[-60:]}"
            elif message.category == MessageCategory.AGENT and message.receiver:
                # The step's node is recorded when it ends; its message says it began.
                self.activity = f"{message.receiver} is thinking"
            if self.verbose and message.category != MessageCategory.CHUNK:
                text = (
                    f"{message.category.name.lower()} {message.sender or '-'} → "
                    f"{message.receiver or '-'}: {preview(message.payload, 90)}"
                )
                out.append(self._line("", "✉", text, "dim"))
        elif isinstance(body, LifecyclePhase):
            out += self._phases(event)
        if self.show_seq:
            stamp = Text(f"{event.seq:>4} {format_time(event.time)} ", style="dim")
            out = [stamp + line for line in out]
        return out

    def _submitted(self, task_id: str, body: TaskSubmitted) -> Text:
        text = Text("● ", style="bold")
        text.append(f"task {task_id}")
        task = body.task
        if task is not None and task.name:
            text.append(f" ({task.name})")
        if task is not None and task.swarm is not None and task.swarm.agents:
            names = ", ".join(a.name for a in task.swarm.agents)
            topology = task.swarm.topology.name.lower()
            topology = "single agent" if topology == "unspecified" else topology
            text.append(f" · {topology}: {names}", style="dim")
        return text

    def _status(self, body: TaskStatusChanged) -> list[Text]:
        if not body.status.is_terminal:
            if body.status.name == "RUNNING":
                self.activity = "running"
            if self.verbose or self.show_seq or body.status.name == "INPUT_REQUIRED":
                return [Text("● status ", style="bold") + status_text(body.status)]
            return []
        self.response = body.response or TaskResponse(status=body.status)
        self.response.status = body.status
        text = Text("● ", style="bold") + status_text(body.status)
        response = self.response
        if response.time_cost is not None:
            text.append(f" in {format_duration(response.time_cost)}")
        usage = response.usage
        steps = usage.steps if usage is not None and usage.steps else self.steps
        calls = usage.tool_calls if usage is not None and usage.tool_calls else self.tool_calls
        text.append(f" · {plural(steps, 'agent step')} · {plural(calls, 'tool call')}", style="dim")
        reason = body.reason or response.status_reason
        if response.failure is not None:
            text.append(f" · {response.failure.type}: {response.failure.message}", style="red")
        elif reason:
            text.append(f" · {reason}", style="dim")
        return [text]

    def _phases(self, event: Event) -> list[Text]:
        """Lifecycle phase boundaries (verbose only), as events or carried by a status."""
        if not self.verbose:
            return []
        lines = []
        for phase in event.phases:
            edge = "ended" if phase.ended else "started"
            text = (
                f"{phase.phase.name.lower()} {edge} (runner {phase.runner}, engine {phase.engine})"
            )
            lines.append(self._line("", "·", text, "dim"))
        root = event.run_node if isinstance(event.body, TaskStatusChanged) else None
        return lines + (self._node(root) if root is not None else [])

    def _node(self, node: RunNode) -> list[Text]:
        if node.kind != RunNodeKind.AGENT:
            if self.verbose:
                text = Text(f"{node.kind.name.lower()} {node.name} ") + status_text(node.status)
                return [self._line("", "·", text, "dim")]
            return []
        if node.status == RunNodeStatus.RUNNING:
            self.activity = f"{node.name} is thinking"
            return []
        if not node.status.is_terminal:
            return []
        self.steps += 1
        if node.failure is not None or node.status != RunNodeStatus.SUCCEEDED:
            why = f"{node.failure.type}: {node.failure.message}" if node.failure else ""
            return [self._line(node.name, "✗", f"step {node.status.name.lower()} {why}", "red")]
        decision = node.result.value() if node.result is not None else {}
        if not isinstance(decision, dict):
            decision = {"content": str(decision)}
        content = str(decision.get("content") or "")
        calls = [c for c in decision.get("tool_calls") or [] if isinstance(c, dict)]
        lines: list[Text] = []
        if not calls:
            return [self._line(node.name, "✎", content or "(no answer)", "")]
        if content:
            lines.append(self._line(node.name, "💭", content, "dim italic"))
        for call in calls:
            target = str(call.get("name", ""))
            if target in self.agents:
                arguments = call.get("arguments") or {}
                ask = arguments.get("input") if isinstance(arguments, dict) else None
                text = Text("asks ") + Text(target, style=AGENT_STYLE)
                text.append(": " + (ask if isinstance(ask, str) else format_arguments(arguments)))
                lines.append(self._line(node.name, "→", text, ""))
        return lines

    def _tool_started(self, body: ToolCallStarted) -> Text:
        self.tool_calls += 1
        where = (
            f"worker {body.worker_id[:8]}"
            if body.worker_id
            else self.tool_workers.get(body.tool_name, "")
        )
        self.activity = f"{body.tool_name} running" + (f" on {where}" if where else "")
        text = Text(body.tool_name, style=TOOL_STYLE)
        text.append(f"({format_arguments(body.arguments)})")
        if body.attempt > 1:
            text.append(f" attempt {body.attempt}", style="yellow")
        if where:
            text.append(f"  on {where}", style="dim")
        return self._line(body.caller, "⚙", text, "")

    def _tool_finished(self, body: ToolCallFinished) -> Text:
        took = f"  {format_duration(body.duration)}" if body.duration is not None else ""
        if body.failure is not None:
            text = Text(f"{body.tool_name} failed: {_failure(body)}", style="red")
            if body.will_retry:
                text.append(" — will retry", style="yellow")
            return self._line("", "✗", text, "")
        text = Text(body.tool_name, style=TOOL_STYLE)
        text.append(" = ")
        text.append(preview(body.result) if body.result is not None else "null", style="green")
        text.append(took, style="dim")
        return self._line("", "✓", text, "")

    def _hook(self, body: HookDecided) -> list[Text]:
        notable = body.failure is not None or body.decision in (
            PermissionDecision.DENY,
            PermissionDecision.ASK,
        )
        if not (notable or self.verbose):
            return []
        text = f"hook {body.point} {body.hook_name}: {body.decision.name.lower()}"
        if body.reason:
            text += f" ({body.reason})"
        if body.failure is not None:
            text += f" failed: {body.failure.type}: {body.failure.message}"
        return [self._line("", "⛨", text, "yellow" if notable else "dim")]

    def _line(self, who: str, mark: str, text: str | Text, style: str) -> Text:
        width = max([10, *(len(a) for a in self.agents)])
        line = Text("  ")
        line.append(f"{who:<{width}}", style=AGENT_STYLE)
        line.append(f" {mark} ")
        line.append_text(text if isinstance(text, Text) else Text(text, style=style))
        return line

    # -- the live footer -----------------------------------------------------------------------

    def footer(self, started: float) -> RenderableType:
        elapsed = format_duration(time.monotonic() - started)
        parts = [self.activity, plural(self.steps, "step"), plural(self.tool_calls, "tool call")]
        if self.tokens:
            parts.append(plural(self.tokens, "token"))
        text = Text(" · ".join([*parts, elapsed]), style="dim")
        return Spinner("dots", text=text, style="cyan")


def _failure(body: Any) -> str:
    failure = getattr(body, "failure", None)
    if failure is None:
        return "failed"
    return f"{failure.type}: {failure.message}" if failure.type else failure.message


async def watch(
    events: AsyncIterator[Event], printer: EventPrinter, console: Console
) -> TaskResponse | None:
    """Print each event as it arrives, with a live footer on a terminal; return the terminal
    response (None when the stream ended without one)."""
    started = time.monotonic()
    if not console.is_terminal:
        # Piped or captured: one event per physical line, however long, for grep and logs.
        async for event in events:
            for line in printer.lines(event):
                console.print(line, soft_wrap=True)
        return printer.response

    class _Footer:
        def __rich__(self) -> RenderableType:
            return printer.footer(started)

    with Live(_Footer(), console=console, transient=True, refresh_per_second=12):
        async for event in events:
            for line in printer.lines(event):
                console.print(line)
    return printer.response
