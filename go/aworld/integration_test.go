package aworld_test

// Integration tests: the Go SDK against the real Python server, started as a subprocess
// (see internal/testserver). Every wait is on an event, a stream or a poll with a deadline.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/aworld-runtime/aworld-runtime/go/aworld"
	"github.com/aworld-runtime/aworld-runtime/go/internal/testserver"
)

// wait bounds every wait of these tests.
const wait = 30 * time.Second

type addInput struct {
	A int `json:"a" description:"first addend"`
	B int `json:"b"`
}

type sum struct {
	Sum int `json:"sum"`
}

func addTool(calls chan<- *aworld.Call) aworld.Handler {
	return aworld.TypedTool("go_add", "Add two integers.",
		func(ctx context.Context, call *aworld.Call, in addInput) (sum, error) {
			if calls != nil {
				calls <- call
			}
			return sum{Sum: in.A + in.B}, nil
		}, aworld.Idempotent())
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(cleanupContext(t), 2*wait)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, address string, opts ...aworld.DialOption) *aworld.Client {
	t.Helper()
	client, err := aworld.Dial(address, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// startWorker runs a worker serving handlers until the test ends, then stops it and checks
// that Run returned nil.
func startWorker(t *testing.T, address string, opts aworld.WorkerOptions, handlers ...aworld.Handler) *aworld.Worker {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opts.Reconnect.Initial == 0 {
		opts.Reconnect = aworld.Backoff{Initial: 20 * time.Millisecond, Max: 500 * time.Millisecond}
	}
	w := aworld.NewWorker(address, opts)
	if err := w.Register(handlers...); err != nil {
		t.Fatalf("Register: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := w.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForWorkers waits until count workers serve handler.
func waitForWorkers(t *testing.T, client *aworld.Client, handler string, count int) []*aworld.WorkerInfo {
	t.Helper()
	var workers []*aworld.WorkerInfo
	eventually(t, fmt.Sprintf("%d worker(s) serving %s", count, handler), func() bool {
		var err error
		workers, err = client.Workers(testContext(t), handler)
		if err != nil {
			t.Fatalf("Workers: %v", err)
		}
		return len(workers) == count
	})
	return workers
}

// receive waits for one value from ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// scriptedAgent is an agent whose scripted model plays steps.
func scriptedAgent(tools []string, steps ...map[string]any) *aworld.AgentSpec {
	options := aworld.MustJSON(map[string]any{"script": steps})
	return &aworld.AgentSpec{
		Name:      "solver",
		ToolNames: tools,
		Model:     &aworld.ModelConfig{Provider: "scripted", Options: options},
	}
}

// toolTask is a task whose agent calls tool once with arguments, then answers with
// "got <tool output>".
func toolTask(tool string, arguments any) *aworld.Task {
	agent := scriptedAgent([]string{tool},
		map[string]any{"tool_calls": []any{map[string]any{"name": tool, "arguments": arguments}}},
		map[string]any{"content": "got {last_tool_output}"},
	)
	return &aworld.Task{
		Input: aworld.Text("call " + tool),
		Swarm: &aworld.Swarm{Agents: []*aworld.AgentSpec{agent}},
		RetryPolicy: &aworld.RetryPolicy{
			InitialInterval: durationpb.New(10 * time.Millisecond),
			MaximumAttempts: 3,
		},
	}
}

func collect(t *testing.T, events func(func(*aworld.Event, error) bool)) []*aworld.Event {
	t.Helper()
	var out []*aworld.Event
	for event, err := range events {
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		out = append(out, event)
	}
	return out
}

func answerOf(t *testing.T, events []*aworld.Event) (aworld.TaskStatus, string) {
	t.Helper()
	if len(events) == 0 || !aworld.IsTerminal(events[len(events)-1]) {
		t.Fatalf("the stream did not end with a terminal event")
	}
	response := events[len(events)-1].GetStatusChanged().GetResponse()
	return response.GetStatus(), aworld.AsText(response.GetAnswer())
}

func toolCallsFinished(events []*aworld.Event) []*aworld.ToolCallFinished {
	var out []*aworld.ToolCallFinished
	for _, e := range events {
		if f := e.GetToolCallFinished(); f != nil {
			out = append(out, f)
		}
	}
	return out
}

func TestGoToolServesATaskRunByTheGoClient(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	server := testserver.Start(t)
	client := dial(t, server.Address)
	calls := make(chan *aworld.Call, 1)
	w := startWorker(t, server.Address, aworld.WorkerOptions{
		MaxConcurrency: 4, Labels: map[string]string{"lang": "go"},
	}, addTool(calls))

	workers := waitForWorkers(t, client, "go_add", 1)
	if got := workers[0]; got.GetSdk() != "go/"+aworld.Version || got.GetLabels()["lang"] != "go" ||
		got.GetMaxConcurrency() != 4 {
		t.Errorf("worker info = %v; want sdk go/%s, label lang=go, max 4", got, aworld.Version)
	}
	workerID := workers[0].GetWorkerId()
	eventually(t, "the worker to learn its id", func() bool { return w.WorkerID() == workerID })

	traceparent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	task := toolTask("go_add", map[string]int{"a": 2, "b": 3})
	task.Headers = map[string]string{"traceparent": traceparent}
	events := collect(t, client.Run(ctx, task))

	// The stream starts at the submit, has no gaps and ends with the terminal status.
	if events[0].GetTaskSubmitted() == nil {
		t.Errorf("first event = %v; want TaskSubmitted", events[0])
	}
	for i, e := range events {
		if e.GetSeq() != int64(i+1) {
			t.Fatalf("event %d has seq %d; want %d", i, e.GetSeq(), i+1)
		}
	}
	status, answer := answerOf(t, events)
	if status != aworld.StatusSucceeded {
		t.Fatalf("status = %v (answer %q); want SUCCEEDED", status, answer)
	}
	var got sum
	if err := json.Unmarshal([]byte(strings.TrimPrefix(answer, "got ")), &got); err != nil || got.Sum != 5 {
		t.Errorf("answer = %q; want got {\"sum\": 5}", answer)
	}

	call := receive(t, calls, "the tool call")
	taskID := events[0].GetTaskId()
	if call.TaskID != taskID || call.Attempt != 1 || call.Kind != aworld.KindTool ||
		call.Headers["traceparent"] != traceparent || call.Deadline.IsZero() || call.WorkerID != workerID {
		t.Errorf("call = %+v; want task %s, attempt 1, the task's traceparent, a deadline", call, taskID)
	}
}

func TestClientReadsTasksHandlersAndInvokes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	server := testserver.Start(t)
	client := dial(t, server.Address)
	startWorker(t, server.Address, aworld.WorkerOptions{}, addTool(nil))
	waitForWorkers(t, client, "go_add", 1)

	handlers, err := client.Handlers(ctx, aworld.KindTool)
	if err != nil {
		t.Fatal(err)
	}
	index := slices.IndexFunc(handlers, func(h *aworld.HandlerInfo) bool { return h.GetSpec().GetName() == "go_add" })
	if index < 0 || handlers[index].GetWorkerCount() != 1 || !handlers[index].GetSpec().GetIdempotent() ||
		!strings.Contains(handlers[index].GetSpec().GetInputSchema(), `"required":["a","b"]`) {
		t.Fatalf("handlers = %v; want go_add served by 1 worker with its schema", handlers)
	}

	result, err := client.Invoke(ctx, "go_add", addInput{A: 40, B: 2})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var out sum
	if err := result.Decode(&out); err != nil || out.Sum != 42 || result.Attempts != 1 {
		t.Errorf("Invoke = %+v (%v); want sum 42 in 1 attempt", result, err)
	}

	submitted, err := client.Submit(ctx, toolTask("go_add", addInput{A: 1, B: 1}), aworld.WithRequestID("go-client-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.Submit(ctx, toolTask("go_add", addInput{A: 1, B: 1}), aworld.WithRequestID("go-client-1"))
	if err != nil || again.TaskID != submitted.TaskID || again.Created || !submitted.Created {
		t.Errorf("resubmit = %+v, %v; want the same task %s, not created", again, err, submitted.TaskID)
	}
	response, err := client.Wait(ctx, submitted.TaskID)
	if err != nil || response.GetStatus() != aworld.StatusSucceeded {
		t.Fatalf("Wait = %v, %v; want SUCCEEDED", response, err)
	}

	info, err := client.Get(ctx, submitted.TaskID)
	if err != nil || info.Response.GetStatus() != aworld.StatusSucceeded || info.Task.GetSessionId() != submitted.SessionID {
		t.Errorf("Get = %+v, %v", info, err)
	}
	page, err := client.List(ctx, aworld.ListOptions{SessionID: submitted.SessionID})
	if err != nil || len(page.Tasks) != 1 || page.Tasks[0].GetId() != submitted.TaskID {
		t.Errorf("List = %+v, %v; want the one task of the session", page, err)
	}
	state, err := client.State(ctx, submitted.TaskID)
	if err != nil || state.Status != aworld.StatusSucceeded || len(state.Nodes) == 0 {
		t.Errorf("State = %+v, %v", state, err)
	}
	trajectory, err := client.Trajectory(ctx, submitted.TaskID)
	if err != nil || len(trajectory) == 0 {
		t.Errorf("Trajectory = %v, %v; want steps", trajectory, err)
	}
	session, err := client.Session(ctx, submitted.SessionID)
	if err != nil || !slices.Contains(session.GetTaskIds(), submitted.TaskID) {
		t.Errorf("Session = %v, %v", session, err)
	}
	if status, err := client.Cancel(ctx, submitted.TaskID); err != nil || status != aworld.StatusSucceeded {
		t.Errorf("Cancel of a finished task = %v, %v; want SUCCEEDED unchanged", status, err)
	}

	_, err = client.Get(ctx, "no-such-task")
	if status.Code(err) != codes.NotFound {
		t.Errorf("Get(unknown) error = %v; want NOT_FOUND", err)
	}
	_, err = client.Submit(ctx, &aworld.Task{})
	if status.Code(err) != codes.InvalidArgument || len(aworld.FieldViolations(err)) == 0 {
		t.Errorf("Submit(empty task) error = %v, violations %v; want INVALID_ARGUMENT with fields", err, aworld.FieldViolations(err))
	}
}

func TestCancellingTheTaskCancelsTheHandlersContext(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	server := testserver.Start(t)
	client := dial(t, server.Address)
	started := make(chan *aworld.Call, 1)
	causes := make(chan error, 1)
	block := aworld.Tool("go_block", "Block until cancelled.",
		func(ctx context.Context, call *aworld.Call, _ json.RawMessage) (any, error) {
			started <- call
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, ctx.Err()
		})
	startWorker(t, server.Address, aworld.WorkerOptions{}, block)
	waitForWorkers(t, client, "go_block", 1)

	submitted, err := client.Submit(ctx, toolTask("go_block", map[string]any{}))
	if err != nil {
		t.Fatal(err)
	}
	receive(t, started, "the handler to start")
	status, err := client.Cancel(ctx, submitted.TaskID, aworld.WithReason("user asked"))
	if err != nil || status != aworld.StatusCancelled {
		t.Fatalf("Cancel = %v, %v; want CANCELLED", status, err)
	}
	if cause := receive(t, causes, "the handler's context to end"); !errors.Is(cause, aworld.ErrCallCancelled) {
		t.Errorf("context.Cause = %v; want ErrCallCancelled", cause)
	}
	response, err := client.Wait(ctx, submitted.TaskID)
	if err != nil || response.GetStatus() != aworld.StatusCancelled {
		t.Errorf("Wait = %v, %v; want CANCELLED", response, err)
	}
	eventually(t, "the worker to have no call in flight", func() bool {
		workers, err := client.Workers(ctx, "go_block")
		return err == nil && len(workers) == 1 && workers[0].GetInFlight() == 0
	})
}

func TestHandlerErrorsAreObservationsTheAgentSees(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	server := testserver.Start(t)
	client := dial(t, server.Address)
	fail := aworld.Tool("go_fail", "Always fails.",
		func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			return nil, aworld.NonRetryable(aworld.Fail("QuotaExceeded", "no quota left"))
		})
	flaky := aworld.Tool("go_flaky", "Fails its first attempt.",
		func(_ context.Context, call *aworld.Call, _ json.RawMessage) (any, error) {
			if call.Attempt == 1 {
				return nil, errors.New("transient trouble")
			}
			return map[string]int{"attempt": call.Attempt}, nil
		}, aworld.Idempotent())
	startWorker(t, server.Address, aworld.WorkerOptions{}, fail, flaky)
	workerID := waitForWorkers(t, client, "go_fail", 1)[0].GetWorkerId()

	// A non-retryable failure is tried once and shown to the agent.
	events := collect(t, client.Run(ctx, toolTask("go_fail", map[string]any{})))
	status, answer := answerOf(t, events)
	if status != aworld.StatusSucceeded || !strings.Contains(answer, "QuotaExceeded") || !strings.Contains(answer, "no quota left") {
		t.Errorf("status %v, answer %q; want SUCCEEDED with the failure as the observation", status, answer)
	}
	finished := toolCallsFinished(events)
	if len(finished) != 1 {
		t.Fatalf("tool calls finished = %v; want exactly one attempt", finished)
	}
	if f := finished[0].GetFailure(); f.GetType() != "QuotaExceeded" || !f.GetNonRetryable() ||
		f.GetSource() != "worker:"+workerID || finished[0].GetWillRetry() {
		t.Errorf("failure = %v; want QuotaExceeded, non-retryable, from worker:%s, no retry", f, workerID)
	}

	// A plain error is retryable: the second attempt succeeds.
	events = collect(t, client.Run(ctx, toolTask("go_flaky", map[string]any{})))
	status, answer = answerOf(t, events)
	if status != aworld.StatusSucceeded || !strings.Contains(answer, `"attempt": 2`) {
		t.Errorf("status %v, answer %q; want SUCCEEDED with attempt 2's output", status, answer)
	}
	var attempts []string
	for _, f := range toolCallsFinished(events) {
		attempts = append(attempts, fmt.Sprintf("%d:%s:%v", f.GetAttempt(), f.GetFailure().GetType(), f.GetWillRetry()))
	}
	if want := []string{"1:Error:true", "2::false"}; !slices.Equal(attempts, want) {
		t.Errorf("attempts = %v; want %v", attempts, want)
	}
}

func TestEventsResumeAfterTheLastSeenSeq(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	server := testserver.Start(t)
	client := dial(t, server.Address)
	startWorker(t, server.Address, aworld.WorkerOptions{}, addTool(nil))
	waitForWorkers(t, client, "go_add", 1)

	submitted, err := client.Submit(ctx, toolTask("go_add", addInput{A: 1, B: 2}))
	if err != nil {
		t.Fatal(err)
	}
	// Read a few events, drop the stream, resume after the last one seen.
	var seen []int64
	for event, err := range client.Events(ctx, submitted.TaskID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, event.GetSeq())
		if len(seen) == 3 {
			break
		}
	}
	resumed := collect(t, client.Events(ctx, submitted.TaskID, seen[len(seen)-1]))
	for _, e := range resumed {
		seen = append(seen, e.GetSeq())
	}
	if !aworld.IsTerminal(resumed[len(resumed)-1]) {
		t.Errorf("the resumed stream did not end with the terminal event")
	}
	for i, seq := range seen {
		if seq != int64(i+1) {
			t.Fatalf("seqs = %v; want 1..n with no gap or duplicate", seen)
		}
	}

	// A replay of the stored events gives the same history and stops at its end.
	replayed := collect(t, client.Events(ctx, submitted.TaskID, 0, aworld.ReplayOnly()))
	if len(replayed) != len(seen) {
		t.Errorf("replay has %d events; want %d", len(replayed), len(seen))
	}
	tail := collect(t, client.Events(ctx, submitted.TaskID, int64(len(seen)-2), aworld.ReplayOnly()))
	if len(tail) != 2 || tail[0].GetSeq() != int64(len(seen)-1) {
		t.Errorf("replay after seq %d = %d events; want the last 2", len(seen)-2, len(tail))
	}
}

type hookInput struct {
	Point     string         `json:"point"`
	ToolName  string         `json:"tool_name"`
	Arguments map[string]any `json:"arguments"`
}

type hookAnswer struct {
	PermissionDecision string `json:"permission_decision,omitempty"`
	Reason             string `json:"permission_decision_reason,omitempty"`
}

func TestGoHookDeniesAToolCall(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	server := testserver.Start(t)
	client := dial(t, server.Address)
	seen := make(chan hookInput, 1)
	hookCalls := make(chan *aworld.Call, 1)
	guard := aworld.TypedHook("go_guard", []string{"before_tool_call"},
		func(_ context.Context, call *aworld.Call, in hookInput) (hookAnswer, error) {
			seen <- in
			hookCalls <- call
			return hookAnswer{PermissionDecision: "deny", Reason: "go_guard says no"}, nil
		})
	var secretCalls atomic.Int32
	secret := aworld.Tool("go_secret", "Must not run.",
		func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			secretCalls.Add(1)
			return "leaked", nil
		})
	startWorker(t, server.Address, aworld.WorkerOptions{}, guard, secret)
	waitForWorkers(t, client, "go_guard", 1)

	task := toolTask("go_secret", map[string]any{"what": "keys"})
	task.Hooks = map[string]*aworld.HookNames{"before_tool_call": {Names: []string{"go_guard"}}}
	events := collect(t, client.Run(ctx, task))

	var decided []*aworld.HookDecided
	for _, e := range events {
		if d := e.GetHookDecided(); d != nil {
			decided = append(decided, d)
		}
	}
	if len(decided) != 1 || decided[0].GetPoint() != "before_tool_call" || decided[0].GetHookName() != "go_guard" ||
		decided[0].GetDecision() != aworld.DecisionDeny || decided[0].GetReason() != "go_guard says no" {
		t.Fatalf("HookDecided events = %v; want one DENY by go_guard with its reason", decided)
	}
	status, answer := answerOf(t, events)
	if status != aworld.StatusSucceeded || !strings.Contains(answer, "PermissionDenied") {
		t.Errorf("status %v, answer %q; want SUCCEEDED with the denial as the observation", status, answer)
	}
	if n := secretCalls.Load(); n != 0 {
		t.Errorf("the denied tool ran %d times", n)
	}
	in := receive(t, seen, "the hook's input")
	if in.Point != "before_tool_call" || in.ToolName != "go_secret" || in.Arguments["what"] != "keys" {
		t.Errorf("hook input = %+v; want the guarded call", in)
	}
	if call := receive(t, hookCalls, "the hook call"); call.Kind != aworld.KindHook || call.HookPoint != "before_tool_call" {
		t.Errorf("hook call = %+v; want a HOOK call at before_tool_call", call)
	}
}

func TestPendingToolCompletesThroughCompleteCallback(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	server := testserver.Start(t)
	client := dial(t, server.Address)
	later := aworld.Tool("go_later", "Finishes later.",
		func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			return aworld.Pending{CallbackID: "go-callback-1"}, nil
		})
	startWorker(t, server.Address, aworld.WorkerOptions{}, later)
	waitForWorkers(t, client, "go_later", 1)

	submitted, err := client.Submit(ctx, toolTask("go_later", map[string]any{}))
	if err != nil {
		t.Fatal(err)
	}
	for event, err := range client.Events(ctx, submitted.TaskID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if requested := event.GetInputRequested(); requested != nil {
			if requested.GetCallbackId() != "go-callback-1" {
				t.Fatalf("InputRequested = %v; want callback go-callback-1", requested)
			}
			break
		}
	}
	if _, err := client.CompleteCallback(ctx, submitted.TaskID, "go-callback-1", map[string]string{"report": "ready"}); err != nil {
		t.Fatalf("CompleteCallback: %v", err)
	}
	response, err := client.Wait(ctx, submitted.TaskID)
	if err != nil || response.GetStatus() != aworld.StatusSucceeded || !strings.Contains(aworld.AsText(response.GetAnswer()), "ready") {
		t.Errorf("Wait = %v, %v; want SUCCEEDED with the callback's result", response, err)
	}
}

func TestAskingHookWaitsForProvideInput(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	server := testserver.Start(t)
	client := dial(t, server.Address)
	ask := aworld.Hook("go_ask", []string{"before_tool_call"},
		func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			return map[string]string{"permission_decision": "ask"}, nil
		})
	startWorker(t, server.Address, aworld.WorkerOptions{}, ask, addTool(nil))
	waitForWorkers(t, client, "go_ask", 1)

	task := toolTask("go_add", addInput{A: 20, B: 22})
	task.Hooks = map[string]*aworld.HookNames{"before_tool_call": {Names: []string{"go_ask"}}}
	submitted, err := client.Submit(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	var callbackID string
	for event, err := range client.Events(ctx, submitted.TaskID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if requested := event.GetInputRequested(); requested != nil && requested.GetKind() == "permission" {
			callbackID = requested.GetCallbackId()
			break
		}
	}
	if _, err := client.ProvideInput(ctx, submitted.TaskID, callbackID, "allow"); err != nil {
		t.Fatalf("ProvideInput: %v", err)
	}
	response, err := client.Wait(ctx, submitted.TaskID)
	if err != nil || response.GetStatus() != aworld.StatusSucceeded || !strings.Contains(aworld.AsText(response.GetAnswer()), "42") {
		t.Errorf("Wait = %v, %v; want SUCCEEDED with the tool's output", response, err)
	}
}

func TestWorkerReconnectsToARestartedServer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	first := testserver.Start(t)
	w := startWorker(t, first.Address, aworld.WorkerOptions{}, addTool(nil))
	id := waitForWorkers(t, dial(t, first.Address), "go_add", 1)[0].GetWorkerId()
	eventually(t, "the worker to learn its id", func() bool { return w.WorkerID() == id })

	first.Kill()
	second := testserver.Start(t, "--port", first.Port())
	client := dial(t, second.Address)
	workers := waitForWorkers(t, client, "go_add", 1)
	if workers[0].GetWorkerId() != id {
		t.Errorf("worker id after reconnect = %q; want %q kept", workers[0].GetWorkerId(), id)
	}
	response, err := client.Wait(ctx, mustSubmit(t, client, toolTask("go_add", addInput{A: 3, B: 4})))
	if err != nil || !strings.Contains(aworld.AsText(response.GetAnswer()), "7") {
		t.Errorf("task after reconnect = %v, %v; want the tool's sum 7", response, err)
	}
}

func TestBearerTokenIsRequiredAndSent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	server := testserver.Start(t, "--token", "go-secret")

	_, err := dial(t, server.Address).Handlers(ctx, 0)
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("Handlers without a token: %v; want UNAUTHENTICATED", err)
	}
	_, err = dial(t, server.Address, aworld.WithToken("wrong")).Handlers(ctx, 0)
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("Handlers with a wrong token: %v; want UNAUTHENTICATED", err)
	}

	// A worker the server refuses does not retry: Run returns the refusal.
	refused := aworld.NewWorker(server.Address, aworld.WorkerOptions{Logger: quietLogger()})
	if err := refused.Register(addTool(nil)); err != nil {
		t.Fatal(err)
	}
	if err := refused.Run(ctx); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Run without a token = %v; want UNAUTHENTICATED", err)
	}

	client := dial(t, server.Address, aworld.WithToken("go-secret"))
	startWorker(t, server.Address, aworld.WorkerOptions{Dial: []aworld.DialOption{aworld.WithToken("go-secret")}}, addTool(nil))
	waitForWorkers(t, client, "go_add", 1)
	response, err := client.Wait(ctx, mustSubmit(t, client, toolTask("go_add", addInput{A: 1, B: 1})))
	if err != nil || response.GetStatus() != aworld.StatusSucceeded {
		t.Errorf("task with a token = %v, %v; want SUCCEEDED", response, err)
	}
}

func mustSubmit(t *testing.T, client *aworld.Client, task *aworld.Task) string {
	t.Helper()
	submitted, err := client.Submit(testContext(t), task)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return submitted.TaskID
}
