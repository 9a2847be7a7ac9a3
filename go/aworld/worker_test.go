package aworld_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/aworld-runtime/aworld-runtime/go/aworld"
	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testLog writes log lines to the test's log (t.Output() needs Go 1.25).
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runWorker runs w until the test ends and returns the channel Run's result arrives on.
func runWorker(t *testing.T, w *aworld.Worker) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = w.Stop(ctx)
	})
	return done
}

func newWorker(t *testing.T, address string, opts aworld.WorkerOptions, handlers ...aworld.Handler) *aworld.Worker {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	if opts.Reconnect.Initial == 0 {
		opts.Reconnect = aworld.Backoff{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}
	}
	w := aworld.NewWorker(address, opts)
	if err := w.Register(handlers...); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return w
}

func jsonInput(v any) *runtimev1.Payload { return aworld.MustJSON(v) }

func echoTool() aworld.Handler {
	return aworld.Tool("echo", "Echo the input.",
		func(_ context.Context, _ *aworld.Call, input json.RawMessage) (any, error) {
			return input, nil
		})
}

func TestWorkerDeclaresItselfAndSendsHeartbeats(t *testing.T) {
	fake := &fakeWorkerService{heartbeat: 10 * time.Millisecond}
	address := startFakeServer(t, fake, nil)
	release := make(chan struct{})
	block := aworld.Tool("block", "Block until released.",
		func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			<-release
			return "released", nil
		}, aworld.WithTimeout(5*time.Second), aworld.WithVersion("1.2"), aworld.WithInputSchema(`{"type":"object"}`))
	hook := aworld.Hook("guard", []string{"before_tool_call"},
		func(context.Context, *aworld.Call, json.RawMessage) (any, error) { return nil, nil })
	w := newWorker(t, address, aworld.WorkerOptions{
		MaxConcurrency: 3,
		Labels:         map[string]string{"zone": "a"},
		Dial:           []aworld.DialOption{aworld.WithToken("tok")},
	}, block, hook)
	runWorker(t, w)

	session := nextSession(t, fake)
	hello := session.hello
	if hello.GetSdk() != "go/"+aworld.Version || hello.GetMaxConcurrency() != 3 || hello.GetLabels()["zone"] != "a" || hello.GetWorkerId() != "" {
		t.Errorf("hello = %v", hello)
	}
	if got := session.metadata.Get("authorization"); !slices.Equal(got, []string{"Bearer tok"}) {
		t.Errorf("authorization metadata = %v; want the bearer token", got)
	}
	specs := hello.GetHandlers()
	if len(specs) != 2 || specs[0].GetName() != "block" || specs[0].GetKind() != aworld.KindTool ||
		specs[0].GetDefaultTimeout().AsDuration() != 5*time.Second || specs[0].GetVersion() != "1.2" ||
		specs[0].GetInputSchema() != `{"type":"object"}` || specs[1].GetKind() != aworld.KindHook ||
		!slices.Equal(specs[1].GetHookPoints(), []string{"before_tool_call"}) {
		t.Errorf("handlers = %v", specs)
	}
	eventually(t, "the worker id from the Welcome", func() bool { return w.WorkerID() == "fake-worker-1" })

	session.push(t, "call-1", "block", aworld.KindTool, jsonInput(map[string]any{}), time.Time{})
	for {
		if beat := session.heartbeat(t); slices.Equal(beat.GetInFlightCallIds(), []string{"call-1"}) {
			break
		}
	}
	close(release)
	if done := session.completed(t); done.GetOutput().GetJson() != `"released"` {
		t.Errorf("completed = %v", done)
	}
	for {
		if beat := session.heartbeat(t); len(beat.GetInFlightCallIds()) == 0 {
			break
		}
	}
}

func TestWorkerRunsAtMostMaxConcurrencyCalls(t *testing.T) {
	fake := &fakeWorkerService{}
	address := startFakeServer(t, fake, nil)
	var running, peak atomic.Int32
	started := make(chan string, 10)
	release := make(chan struct{}, 10)
	tool := aworld.Tool("slot", "Hold a slot until released.",
		func(_ context.Context, call *aworld.Call, _ json.RawMessage) (any, error) {
			now := running.Add(1)
			for old := peak.Load(); now > old && !peak.CompareAndSwap(old, now); old = peak.Load() {
			}
			started <- call.ID
			<-release
			running.Add(-1)
			return call.ID, nil
		})
	runWorker(t, newWorker(t, address, aworld.WorkerOptions{MaxConcurrency: 2}, tool))
	session := nextSession(t, fake)

	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		session.push(t, id, "slot", aworld.KindTool, jsonInput(map[string]any{}), time.Time{})
	}
	receive(t, started, "a first call")
	receive(t, started, "a second call")
	var finished []string
	for range 4 {
		release <- struct{}{}
		finished = append(finished, session.completed(t).GetCallId())
	}
	slices.Sort(finished)
	if !slices.Equal(finished, []string{"c1", "c2", "c3", "c4"}) {
		t.Errorf("finished = %v; want every call", finished)
	}
	if got := peak.Load(); got != 2 {
		t.Errorf("at most %d calls ran at once; want 2", got)
	}
}

func TestCancelCallCancelsTheContextAndReportsNothing(t *testing.T) {
	fake := &fakeWorkerService{}
	address := startFakeServer(t, fake, nil)
	started := make(chan struct{}, 1)
	causes := make(chan error, 1)
	block := aworld.Tool("block", "Block until cancelled.",
		func(ctx context.Context, _ *aworld.Call, _ json.RawMessage) (any, error) {
			started <- struct{}{}
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return "too late", nil
		})
	runWorker(t, newWorker(t, address, aworld.WorkerOptions{}, block, echoTool()))
	session := nextSession(t, fake)

	session.push(t, "doomed", "block", aworld.KindTool, jsonInput(map[string]any{}), time.Time{})
	receive(t, started, "the call to start")
	session.cancel(t, "doomed", "task_cancelled")
	cause := receive(t, causes, "the context to end")
	if !errors.Is(cause, aworld.ErrCallCancelled) || !strings.Contains(cause.Error(), "task_cancelled") {
		t.Errorf("cause = %v; want ErrCallCancelled with the reason", cause)
	}
	// Messages on the stream are ordered: the next completion is the echo's, so nothing was
	// reported for the cancelled call.
	session.push(t, "after", "echo", aworld.KindTool, jsonInput(map[string]int{"n": 1}), time.Time{})
	if done := session.completed(t); done.GetCallId() != "after" {
		t.Errorf("completed %v; want only the echo call's outcome", done)
	}
}

func TestCallDeadlineBecomesTheContextDeadline(t *testing.T) {
	fake := &fakeWorkerService{}
	address := startFakeServer(t, fake, nil)
	wait := func(ctx context.Context, _ *aworld.Call, _ json.RawMessage) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	runWorker(t, newWorker(t, address, aworld.WorkerOptions{},
		aworld.Tool("slow", "", wait),
		aworld.Tool("slow_idempotent", "", wait, aworld.Idempotent())))
	session := nextSession(t, fake)

	for _, tc := range []struct {
		handler      string
		nonRetryable bool
	}{{"slow", true}, {"slow_idempotent", false}} {
		deadline := time.Now().Add(50 * time.Millisecond)
		session.push(t, tc.handler, tc.handler, aworld.KindTool, jsonInput(map[string]any{}), deadline)
		failure := session.completed(t).GetFailure()
		if failure.GetType() != "DeadlineExceeded" || failure.GetNonRetryable() != tc.nonRetryable {
			t.Errorf("%s: failure = %v; want DeadlineExceeded, non_retryable %v", tc.handler, failure, tc.nonRetryable)
		}
	}
}

type typedIn struct {
	Name string `json:"name"`
}

func TestHandlerOutcomesOnTheWire(t *testing.T) {
	fake := &fakeWorkerService{}
	address := startFakeServer(t, fake, nil)
	handlers := []aworld.Handler{
		echoTool(),
		aworld.Tool("plain_error", "", func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			return nil, errors.New("plain trouble")
		}),
		aworld.Tool("typed_error", "", func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			return nil, aworld.NonRetryable(aworld.Fail("QuotaExceeded", "no quota"))
		}),
		aworld.Tool("path_error", "", func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			_, err := os.Open("/definitely/not/here")
			return nil, err
		}),
		aworld.Tool("panics", "", func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			panic("boom")
		}),
		aworld.Tool("later", "", func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			return aworld.Pending{CallbackID: "cb-7"}, nil
		}),
		aworld.Tool("unencodable", "", func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
			return func() {}, nil
		}),
		aworld.TypedTool("greet", "", func(_ context.Context, _ *aworld.Call, in typedIn) (string, error) {
			return "hello " + in.Name, nil
		}),
	}
	runWorker(t, newWorker(t, address, aworld.WorkerOptions{}, handlers...))
	session := nextSession(t, fake)

	for _, tc := range []struct {
		handler string
		input   *runtimev1.Payload
		check   func(*runtimev1.CallCompleted) bool
	}{
		{"echo", jsonInput(map[string]int{"n": 1}), func(c *runtimev1.CallCompleted) bool {
			return c.GetOutput().GetJson() == `{"n":1}`
		}},
		{"echo", aworld.Text("hi"), func(c *runtimev1.CallCompleted) bool { return c.GetOutput().GetJson() == `"hi"` }},
		{"echo", nil, func(c *runtimev1.CallCompleted) bool { return c.GetOutput().GetJson() == `{}` }},
		{"plain_error", nil, func(c *runtimev1.CallCompleted) bool {
			f := c.GetFailure()
			return f.GetType() == "Error" && f.GetMessage() == "plain trouble" && !f.GetNonRetryable() &&
				f.GetSource() == "worker:fake-worker-1"
		}},
		{"typed_error", nil, func(c *runtimev1.CallCompleted) bool {
			f := c.GetFailure()
			return f.GetType() == "QuotaExceeded" && f.GetMessage() == "no quota" && f.GetNonRetryable()
		}},
		{"path_error", nil, func(c *runtimev1.CallCompleted) bool {
			f := c.GetFailure()
			return f.GetType() == "PathError" && f.GetCause().GetType() == "Errno" && !f.GetNonRetryable()
		}},
		{"panics", nil, func(c *runtimev1.CallCompleted) bool {
			f := c.GetFailure()
			return f.GetType() == "Panic" && f.GetMessage() == "panic: boom" && strings.Contains(f.GetStackTrace(), "goroutine")
		}},
		{"later", nil, func(c *runtimev1.CallCompleted) bool { return c.GetPendingCallbackId() == "cb-7" }},
		{"unencodable", nil, func(c *runtimev1.CallCompleted) bool {
			return c.GetFailure().GetType() == "InvalidHandlerOutput" && c.GetFailure().GetNonRetryable()
		}},
		{"greet", jsonInput(map[string]string{"name": "go"}), func(c *runtimev1.CallCompleted) bool {
			return c.GetOutput().GetJson() == `"hello go"`
		}},
		{"greet", jsonInput(map[string]any{"name": "go", "extra": 1}), func(c *runtimev1.CallCompleted) bool {
			return c.GetFailure().GetType() == "InvalidHandlerInput" && c.GetFailure().GetNonRetryable()
		}},
		{"not_served", nil, func(c *runtimev1.CallCompleted) bool {
			return c.GetFailure().GetType() == "NotFound" && !c.GetFailure().GetNonRetryable()
		}},
	} {
		session.push(t, "call-"+tc.handler, tc.handler, aworld.KindTool, tc.input, time.Time{})
		if done := session.completed(t); done.GetCallId() != "call-"+tc.handler || !tc.check(done) {
			t.Errorf("%s(%v) completed %v", tc.handler, tc.input, done)
		}
	}
}

// A remote agent's step carries more keys than the agent reads (messages, tools...): a
// TypedAgent decodes the ones it declares and ignores the rest, like Python's @agent.
func TestTypedAgentReadsOnlyTheKeysItDeclares(t *testing.T) {
	type step struct {
		Step        int    `json:"step"`
		Observation string `json:"observation"`
	}
	fake := &fakeWorkerService{}
	address := startFakeServer(t, fake, nil)
	review := aworld.TypedAgent("review", "", func(_ context.Context, _ *aworld.Call, in step) (string, error) {
		return fmt.Sprintf("step %d: %s", in.Step, strings.ToUpper(in.Observation)), nil
	})
	runWorker(t, newWorker(t, address, aworld.WorkerOptions{}, review))
	session := nextSession(t, fake)

	input := jsonInput(map[string]any{
		"agent": "reviewer", "step": 2, "observation": "draft",
		"messages": []map[string]string{{"role": "user", "content": "draft"}},
		"tools":    []map[string]any{{"name": "t", "parameters": map[string]any{"type": "object"}}},
	})
	session.push(t, "call-review", "review", aworld.KindAgent, input, time.Time{})
	if done := session.completed(t); done.GetOutput().GetJson() != `"step 2: DRAFT"` {
		t.Errorf("review completed %v; want the step answered, the extra keys ignored", done)
	}
}

func TestStopFinishesRunningCallsThenCloses(t *testing.T) {
	fake := &fakeWorkerService{}
	address := startFakeServer(t, fake, nil)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	block := aworld.Tool("block", "", func(context.Context, *aworld.Call, json.RawMessage) (any, error) {
		started <- struct{}{}
		<-release
		return "finished", nil
	})
	w := newWorker(t, address, aworld.WorkerOptions{}, block, echoTool())
	done := runWorker(t, w)
	session := nextSession(t, fake)

	session.push(t, "running", "block", aworld.KindTool, jsonInput(map[string]any{}), time.Time{})
	receive(t, started, "the call to start")
	stopped := make(chan error, 1)
	go func() { stopped <- w.Stop(context.Background()) }()

	// While stopping, a new call is turned away at once so the server can run it elsewhere.
	attempt := 0
	eventually(t, "the worker to refuse new calls", func() bool {
		attempt++
		id := "late-" + strconv.Itoa(attempt)
		session.push(t, id, "echo", aworld.KindTool, jsonInput(map[string]any{}), time.Time{})
		completed := session.completed(t) // the echo's result until the stop takes effect
		return completed.GetCallId() == id && completed.GetFailure().GetType() == "WorkerStopping"
	})
	close(release)
	if completed := session.completed(t); completed.GetCallId() != "running" || completed.GetOutput().GetJson() != `"finished"` {
		t.Errorf("completed = %v; want the running call's result", completed)
	}
	session.halfClosed(t)
	if err := receive(t, stopped, "Stop to return"); err != nil {
		t.Errorf("Stop = %v", err)
	}
	if err := receive(t, done, "Run to return"); err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestStopCancelsCallsWhenTheGracePeriodEnds(t *testing.T) {
	fake := &fakeWorkerService{}
	address := startFakeServer(t, fake, nil)
	started := make(chan struct{}, 1)
	causes := make(chan error, 1)
	block := aworld.Tool("block", "", func(ctx context.Context, _ *aworld.Call, _ json.RawMessage) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	w := newWorker(t, address, aworld.WorkerOptions{}, block)
	done := runWorker(t, w)
	session := nextSession(t, fake)
	session.push(t, "stuck", "block", aworld.KindTool, jsonInput(map[string]any{}), time.Time{})
	receive(t, started, "the call to start")

	// A patient stop waits for the call; a later impatient one cuts the wait short for both.
	patient := make(chan error, 1)
	go func() { patient <- w.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v; want the grace period's DeadlineExceeded", err)
	}
	if cause := receive(t, causes, "the call to be cancelled"); !errors.Is(cause, aworld.ErrWorkerStopping) {
		t.Errorf("cause = %v; want ErrWorkerStopping", cause)
	}
	if err := receive(t, done, "Run to return"); err != nil {
		t.Errorf("Run = %v", err)
	}
	receive(t, patient, "the patient Stop to return")
}

func TestRunContextEndStopsGracefully(t *testing.T) {
	fake := &fakeWorkerService{}
	address := startFakeServer(t, fake, nil)
	w := newWorker(t, address, aworld.WorkerOptions{}, echoTool())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	session := nextSession(t, fake)
	cancel()
	session.halfClosed(t)
	if err := receive(t, done, "Run to return"); err != nil {
		t.Errorf("Run = %v; want nil after a graceful stop", err)
	}
}

func TestWorkerReconnectsWithItsIDWhenTheStreamDrops(t *testing.T) {
	fake := &fakeWorkerService{}
	address := startFakeServer(t, fake, nil)
	started := make(chan struct{}, 1)
	causes := make(chan error, 1)
	block := aworld.Tool("block", "", func(ctx context.Context, _ *aworld.Call, _ json.RawMessage) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	runWorker(t, newWorker(t, address, aworld.WorkerOptions{}, block, echoTool()))
	first := nextSession(t, fake)
	first.push(t, "orphan", "block", aworld.KindTool, jsonInput(map[string]any{}), time.Time{})
	receive(t, started, "the call to start")

	first.end <- status.Error(codes.Unavailable, "server restarting")
	if cause := receive(t, causes, "the orphaned call to be cancelled"); !errors.Is(cause, aworld.ErrConnectionLost) {
		t.Errorf("cause = %v; want ErrConnectionLost", cause)
	}
	second := nextSession(t, fake)
	if second.hello.GetWorkerId() != "fake-worker-1" {
		t.Errorf("second Hello worker_id = %q; want the id from the first Welcome", second.hello.GetWorkerId())
	}
	second.push(t, "again", "echo", aworld.KindTool, jsonInput(map[string]int{"n": 2}), time.Time{})
	if done := second.completed(t); done.GetOutput().GetJson() != `{"n":2}` {
		t.Errorf("completed after reconnect = %v", done)
	}
}

func TestRefusedWorkerDoesNotReconnect(t *testing.T) {
	for _, code := range []codes.Code{codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument} {
		t.Run(code.String(), func(t *testing.T) {
			fake := &fakeWorkerService{refuse: code}
			address := startFakeServer(t, fake, nil)
			err := newWorker(t, address, aworld.WorkerOptions{}, echoTool()).Run(cleanupContext(t))
			if status.Code(err) != code {
				t.Errorf("Run = %v; want %v", err, code)
			}
		})
	}
}

func TestRunGivesUpAfterMaxAttempts(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	_ = listener.Close() // nothing listens there now
	w := newWorker(t, address, aworld.WorkerOptions{
		Reconnect: aworld.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 3},
	}, echoTool())
	if err := w.Run(cleanupContext(t)); err == nil || !strings.Contains(err.Error(), "3 times") {
		t.Errorf("Run = %v; want a give-up error after 3 attempts", err)
	}
}

func TestRegisterValidatesHandlers(t *testing.T) {
	noop := func(context.Context, *aworld.Call, json.RawMessage) (any, error) { return nil, nil }
	for name, h := range map[string]aworld.Handler{
		"bad name":         aworld.Tool("no spaces", "", noop),
		"hook w/o points":  aworld.Hook("h", nil, noop),
		"tool with points": {Name: "t", Kind: aworld.KindTool, HookPoints: []string{"x"}, Func: noop},
		"no kind":          {Name: "t", Func: noop},
		"nil func":         aworld.Tool("t", "", nil),
		"bad schema":       aworld.Tool("t", "", noop, aworld.WithInputSchema("[1")),
	} {
		if err := aworld.NewWorker("127.0.0.1:1", aworld.WorkerOptions{}).Register(h); err == nil {
			t.Errorf("%s: Register accepted %+v", name, h)
		}
	}
	w := aworld.NewWorker("127.0.0.1:1", aworld.WorkerOptions{})
	if err := w.Run(cleanupContext(t)); err == nil {
		t.Error("Run without handlers succeeded")
	}
	if err := w.Register(aworld.Tool("t", "", noop), aworld.Tool("t", "", noop)); err == nil {
		t.Error("Register accepted a name twice")
	}
	// The same name may serve two kinds.
	if err := aworld.NewWorker("127.0.0.1:1", aworld.WorkerOptions{}).Register(
		aworld.Tool("same", "", noop), aworld.Agent("same", "", noop)); err != nil {
		t.Errorf("Register(tool and agent of one name) = %v", err)
	}
}
