package aworld

import runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"

// The wire vocabulary, as aliases of the generated protobuf types: a value of one is a value
// of the other, so they can be built here and passed to the generated stubs unchanged. The
// field comments in proto/aworld/runtime/v1 state every default and edge value.
type (
	// Task is a unit of work: an input, the agents that work on it and how to run them.
	Task = runtimev1.Task
	// TaskConfig holds the run options of a task.
	TaskConfig = runtimev1.TaskConfig
	// TaskResponse is the outcome of a task, complete once its status is terminal.
	TaskResponse = runtimev1.TaskResponse
	// TaskStatus is where a task is in its life.
	TaskStatus = runtimev1.TaskStatus
	// TaskSummary is a task as listed by [Client.List].
	TaskSummary = runtimev1.TaskSummary
	// Swarm is the set of agents that work on a task and how they connect.
	Swarm = runtimev1.Swarm
	// AgentSpec declares one agent of a swarm.
	AgentSpec = runtimev1.AgentSpec
	// ModelConfig says which model an agent's policy calls.
	ModelConfig = runtimev1.ModelConfig
	// Budgets bound what one task may consume.
	Budgets = runtimev1.Budgets
	// HookNames lists hook handler names for one hook point (Task.Hooks).
	HookNames = runtimev1.HookNames
	// RetryPolicy says how often and how fast failed work is tried again.
	RetryPolicy = runtimev1.RetryPolicy
	// Payload is a language-neutral value: JSON text, plain text or bytes.
	Payload = runtimev1.Payload
	// Failure is a structured error.
	Failure = runtimev1.Failure
	// Usage counts the resources a task or a step consumed.
	Usage = runtimev1.Usage

	// Event is the persisted form of one thing that happened to a task.
	Event = runtimev1.Event
	// TaskStatusChanged is the body of an event recording a status transition.
	TaskStatusChanged = runtimev1.TaskStatusChanged
	// ToolCallStarted is the body of an event recording the start of a tool call attempt.
	ToolCallStarted = runtimev1.ToolCallStarted
	// ToolCallFinished is the body of an event recording the end of a tool call attempt.
	ToolCallFinished = runtimev1.ToolCallFinished
	// HookDecided is the body of an event recording one hook invocation and its effect.
	HookDecided = runtimev1.HookDecided
	// InputRequested is the body of an event recording that the task waits for input.
	InputRequested = runtimev1.InputRequested
	// PermissionDecision is what a permission hook decided.
	PermissionDecision = runtimev1.PermissionDecision

	// RunNode is one node of a task's run-node tree.
	RunNode = runtimev1.RunNode
	// NodeGroup groups run nodes that fan out and join.
	NodeGroup = runtimev1.NodeGroup
	// Session groups the tasks of one conversation.
	Session = runtimev1.Session
	// TrajectoryItem is one step of a task's trajectory.
	TrajectoryItem = runtimev1.TrajectoryItem

	// HandlerKind is what a handler does when called.
	HandlerKind = runtimev1.HandlerKind
	// HandlerSpec declares one handler on the wire.
	HandlerSpec = runtimev1.HandlerSpec
	// HandlerInfo is a registered handler and where it is served.
	HandlerInfo = runtimev1.HandlerInfo
	// WorkerInfo describes one connected worker.
	WorkerInfo = runtimev1.WorkerInfo
)

// Task statuses. Pending, Running and InputRequired are live; the others are terminal.
const (
	StatusPending       = runtimev1.TaskStatus_TASK_STATUS_PENDING
	StatusRunning       = runtimev1.TaskStatus_TASK_STATUS_RUNNING
	StatusInputRequired = runtimev1.TaskStatus_TASK_STATUS_INPUT_REQUIRED
	StatusSucceeded     = runtimev1.TaskStatus_TASK_STATUS_SUCCEEDED
	StatusFailed        = runtimev1.TaskStatus_TASK_STATUS_FAILED
	StatusCancelled     = runtimev1.TaskStatus_TASK_STATUS_CANCELLED
	StatusTimedOut      = runtimev1.TaskStatus_TASK_STATUS_TIMED_OUT
	StatusInterrupted   = runtimev1.TaskStatus_TASK_STATUS_INTERRUPTED
)

// Handler kinds.
const (
	KindTool     = runtimev1.HandlerKind_HANDLER_KIND_TOOL
	KindAgent    = runtimev1.HandlerKind_HANDLER_KIND_AGENT
	KindHook     = runtimev1.HandlerKind_HANDLER_KIND_HOOK
	KindCallback = runtimev1.HandlerKind_HANDLER_KIND_CALLBACK
)

// Permission decisions recorded in [HookDecided] events.
const (
	DecisionAllow = runtimev1.PermissionDecision_PERMISSION_DECISION_ALLOW
	DecisionDeny  = runtimev1.PermissionDecision_PERMISSION_DECISION_DENY
	DecisionAsk   = runtimev1.PermissionDecision_PERMISSION_DECISION_ASK
)

// IsTerminalStatus reports whether s is final: a task in it never changes again.
func IsTerminalStatus(s TaskStatus) bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCancelled, StatusTimedOut, StatusInterrupted:
		return true
	}
	return false
}

// IsTerminal reports whether e is the last event of its task: a TaskStatusChanged to a
// terminal status. Its response is e.GetStatusChanged().GetResponse().
func IsTerminal(e *Event) bool {
	return IsTerminalStatus(e.GetStatusChanged().GetStatus())
}
