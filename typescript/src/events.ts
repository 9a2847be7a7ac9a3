/** Reading task events: which statuses and events are terminal, and the final response. */
import type { Event } from "./gen/aworld/runtime/v1/event_pb.js";
import { type TaskResponse, TaskStatus } from "./gen/aworld/runtime/v1/task_pb.js";

const TERMINAL: ReadonlySet<TaskStatus> = new Set([
  TaskStatus.SUCCEEDED,
  TaskStatus.FAILED,
  TaskStatus.CANCELLED,
  TaskStatus.TIMED_OUT,
  TaskStatus.INTERRUPTED,
]);

/** True for statuses that never change again (SUCCEEDED, FAILED, CANCELLED, ...). */
export function isTerminalStatus(status: TaskStatus): boolean {
  return TERMINAL.has(status);
}

/** True for the event that ends a task's stream: a TaskStatusChanged to a terminal status. */
export function isTerminalEvent(event: Event): boolean {
  return event.body.case === "statusChanged" && isTerminalStatus(event.body.value.status);
}

/** The task's response carried by a terminal event; undefined for any other event. */
export function terminalResponse(event: Event): TaskResponse | undefined {
  return isTerminalEvent(event) && event.body.case === "statusChanged"
    ? event.body.value.response
    : undefined;
}

/**
 * What an event records, by the message type of its body: "TaskSubmitted",
 * "TaskStatusChanged", "ToolCallStarted", ... (the names the Python and Go SDKs use too);
 * "" for an event without a body.
 */
export function eventKind(event: Event): string {
  return event.body.case === undefined ? "" : (event.body.value.$typeName.split(".").pop() ?? "");
}

/** The name of a task status: "SUCCEEDED", "INPUT_REQUIRED", ...; "UNKNOWN_<n>" for new values. */
export function statusName(status: TaskStatus): string {
  return TaskStatus[status] ?? `UNKNOWN_${status}`;
}
