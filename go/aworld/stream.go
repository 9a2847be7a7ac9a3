package aworld

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

// defaultHeartbeat is used when the Welcome names no heartbeat interval.
const defaultHeartbeat = 5 * time.Second

type callKey struct {
	id      string
	attempt int32
}

// workerStream is one WorkerService.Connect stream after the Welcome: the calls running for
// it and the one place that writes to it.
type workerStream struct {
	w         *Worker
	rs        *runState
	stream    grpc.BidiStreamingClient[runtimev1.ConnectRequest, runtimev1.ConnectResponse]
	cancel    context.CancelFunc // ends the stream
	heartbeat time.Duration
	workerID  string

	// sendMu serialises writes (a gRPC stream allows one writer at a time); closed is set
	// once the worker half-closed the stream.
	sendMu sync.Mutex
	closed bool

	mu        sync.Mutex
	calls     map[callKey]context.CancelCauseFunc
	accepting bool
	// callsCtx is the parent of every call's context; ending it cancels all of them.
	callsCtx    context.Context
	cancelCalls context.CancelCauseFunc
	running     sync.WaitGroup
}

func newWorkerStream(w *Worker, rs *runState, stream grpc.BidiStreamingClient[runtimev1.ConnectRequest, runtimev1.ConnectResponse], cancel context.CancelFunc, welcome *runtimev1.Welcome) *workerStream {
	heartbeat := welcome.GetHeartbeatInterval().AsDuration()
	if heartbeat <= 0 {
		heartbeat = defaultHeartbeat
	}
	return &workerStream{
		w:         w,
		rs:        rs,
		stream:    stream,
		cancel:    cancel,
		heartbeat: heartbeat,
		workerID:  welcome.GetWorkerId(),
		calls:     map[callKey]context.CancelCauseFunc{},
		accepting: true,
	}
}

// serve runs until the stream ends. It returns the stream's error (nil when it ended
// cleanly); the calls still running are then cancelled.
func (s *workerStream) serve(base context.Context) error {
	s.callsCtx, s.cancelCalls = context.WithCancelCause(base)
	defer s.cancelCalls(ErrConnectionLost)
	readDone := make(chan error, 1)
	go func() { readDone <- s.read() }()
	quit := make(chan struct{})
	defer close(quit)
	go s.beat(quit)

	select {
	case err := <-readDone:
		s.cancelCalls(ErrConnectionLost)
		return endOfStream(err)
	case <-s.rs.stopCtx.Done():
		return s.drain(readDone)
	}
}

// drain stops gracefully: no new calls, running ones finish (within the grace period) and
// report, then the worker half-closes and waits for the server to end the stream.
func (s *workerStream) drain(readDone <-chan error) error {
	s.mu.Lock()
	s.accepting = false
	s.mu.Unlock()
	force := s.rs.forceCtx.Done()
	idle := make(chan struct{})
	go func() {
		s.running.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case err := <-readDone:
		s.cancelCalls(ErrConnectionLost)
		return endOfStream(err)
	case <-force:
		s.rs.forced.Store(true)
		s.cancelCalls(ErrWorkerStopping)
		s.cancel()
		return endOfStream(<-readDone)
	}
	s.closeSend()
	select {
	case err := <-readDone:
		return endOfStream(err)
	case <-force:
		s.rs.forced.Store(true)
		s.cancel()
		return endOfStream(<-readDone)
	}
}

// endOfStream maps a clean end of the stream (io.EOF) to nil.
func endOfStream(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (s *workerStream) read() error {
	for {
		msg, err := s.stream.Recv()
		if err != nil {
			return err
		}
		switch kind := msg.GetKind().(type) {
		case *runtimev1.ConnectResponse_Call:
			s.start(kind.Call)
		case *runtimev1.ConnectResponse_CancelCall:
			s.cancelCall(kind.CancelCall)
		case *runtimev1.ConnectResponse_CallRejected:
			r := kind.CallRejected
			s.w.log.Warn("the server rejected a call's outcome",
				"call_id", r.GetCallId(), "attempt", r.GetAttempt(), "reason", r.GetReason())
		case *runtimev1.ConnectResponse_Welcome:
			s.w.log.Warn("the server sent a second Welcome; ignored")
		}
	}
}

// beat sends a Heartbeat listing the running calls every interval until quit closes.
func (s *workerStream) beat(quit <-chan struct{}) {
	ticker := time.NewTicker(s.heartbeat)
	defer ticker.Stop()
	for {
		select {
		case <-quit:
			return
		case <-ticker.C:
			s.send(&runtimev1.ConnectRequest{Kind: &runtimev1.ConnectRequest_Heartbeat{
				Heartbeat: &runtimev1.Heartbeat{InFlightCallIds: s.inFlight()},
			}})
		}
	}
}

func (s *workerStream) inFlight() []string {
	s.mu.Lock()
	ids := make([]string, 0, len(s.calls))
	for key := range s.calls {
		ids = append(ids, key.id)
	}
	s.mu.Unlock()
	slices.Sort(ids)
	return slices.Compact(ids)
}

// send writes one message; it does nothing once the worker has half-closed the stream, and a
// failed write is left to the reader, which sees the stream's end.
func (s *workerStream) send(msg *runtimev1.ConnectRequest) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.closed {
		return
	}
	if err := s.stream.Send(msg); err != nil {
		s.w.log.Debug("send failed", "error", err)
	}
}

func (s *workerStream) closeSend() {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if !s.closed {
		s.closed = true
		_ = s.stream.CloseSend()
	}
}

func (s *workerStream) complete(call *runtimev1.Call, outcome *runtimev1.CallCompleted) {
	outcome.CallId, outcome.Attempt = call.GetCallId(), call.GetAttempt()
	s.send(&runtimev1.ConnectRequest{Kind: &runtimev1.ConnectRequest_CallCompleted{CallCompleted: outcome}})
}

func (s *workerStream) start(call *runtimev1.Call) {
	key := callKey{call.GetCallId(), call.GetAttempt()}
	s.mu.Lock()
	if !s.accepting {
		s.mu.Unlock()
		// The handler never ran, so the server may safely run the call elsewhere.
		s.complete(call, failed(&Failure{
			Type:    "WorkerStopping",
			Message: "the worker is shutting down",
			Source:  "worker:" + s.workerID,
		}))
		return
	}
	if _, dup := s.calls[key]; dup {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancelCause(s.callsCtx)
	s.calls[key] = cancel
	s.running.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.running.Done()
		defer func() {
			s.mu.Lock()
			delete(s.calls, key)
			s.mu.Unlock()
			cancel(nil)
		}()
		s.run(ctx, call)
	}()
}

func (s *workerStream) cancelCall(msg *runtimev1.CancelCall) {
	s.mu.Lock()
	cancel, ok := s.calls[callKey{msg.GetCallId(), msg.GetAttempt()}]
	s.mu.Unlock()
	if !ok {
		return
	}
	s.w.log.Info("cancelling call", "call_id", msg.GetCallId(), "attempt", msg.GetAttempt(), "reason", msg.GetReason())
	cause := ErrCallCancelled
	if msg.GetReason() != "" {
		cause = fmt.Errorf("%w: %s", ErrCallCancelled, msg.GetReason())
	}
	cancel(cause)
}

// run runs one call attempt and reports its outcome, unless the attempt was cancelled: the
// server has given up on it then, so there is nothing to report.
func (s *workerStream) run(ctx context.Context, call *runtimev1.Call) {
	if deadline := call.GetDeadline(); deadline != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.AsTime())
		defer cancel()
	}
	source := "worker:" + s.workerID
	var outcome *runtimev1.CallCompleted
	select {
	case s.rs.slots <- struct{}{}:
		spanCtx, span := startCallSpan(ctx, call, s.workerID)
		outcome = s.invoke(spanCtx, call, source)
		endCallSpan(span, outcome)
		<-s.rs.slots
	case <-ctx.Done():
		// The handler never ran, so running the call again is safe.
		outcome = failed(&Failure{
			Type:    "DeadlineExceeded",
			Message: call.GetHandler() + " waited for a free slot past its deadline",
			Source:  source,
		})
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrCallCancelled) ||
		errors.Is(cause, ErrConnectionLost) || errors.Is(cause, ErrWorkerStopping) {
		s.w.log.Debug("call ended after cancellation; outcome discarded",
			"call_id", call.GetCallId(), "attempt", call.GetAttempt(), "cause", cause)
		return
	}
	s.complete(call, outcome)
}

// invoke runs the handler of call and describes its outcome.
func (s *workerStream) invoke(ctx context.Context, call *runtimev1.Call, source string) *runtimev1.CallCompleted {
	handler, ok := s.rs.handlers[handlerKey{call.GetHandler(), call.GetKind()}]
	if !ok {
		return failed(&Failure{
			Type:    "NotFound",
			Message: "this worker does not serve " + call.GetHandler(),
			Source:  source,
		})
	}
	input, err := payloadJSON(call.GetInput())
	if err != nil {
		return failed(&Failure{
			Type:         "InvalidHandlerInput",
			Message:      fmt.Sprintf("invalid input for %s: %v", call.GetHandler(), err),
			NonRetryable: true,
			Source:       source,
		})
	}
	info := &Call{
		ID:        call.GetCallId(),
		Attempt:   int(call.GetAttempt()),
		Handler:   call.GetHandler(),
		Kind:      call.GetKind(),
		TaskID:    call.GetTaskId(),
		SessionID: call.GetSessionId(),
		Headers:   call.GetHeaders(),
		HookPoint: call.GetHookPoint(),
		WorkerID:  s.workerID,
	}
	if call.GetDeadline() != nil {
		info.Deadline = call.GetDeadline().AsTime()
	}
	value, err := protect(ctx, handler.Func, info, input)
	if err != nil {
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			// Like the server's own timeout: the handler may have had effects, so only an
			// idempotent handler may be run again.
			return failed(&Failure{
				Type:         "DeadlineExceeded",
				Message:      call.GetHandler() + " did not finish before its deadline",
				NonRetryable: !handler.Idempotent,
				Source:       source,
				Cause:        failureChain(err, maxCauseDepth),
			})
		}
		return failed(failureOf(err, source))
	}
	outcome, err := resultOf(value)
	if err != nil {
		return failed(&Failure{
			Type:         "InvalidHandlerOutput",
			Message:      fmt.Sprintf("%s returned a result that cannot be sent: %v", call.GetHandler(), err),
			NonRetryable: true,
			Source:       source,
		})
	}
	return outcome
}

// panicError is a recovered panic of a handler.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprint("panic: ", e.value) }

// protect calls fn, turning a panic into an error so that one bad call cannot take the
// worker down.
func protect(ctx context.Context, fn HandlerFunc, call *Call, input json.RawMessage) (value any, err error) {
	defer func() {
		if r := recover(); r != nil {
			value, err = nil, &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return fn(ctx, call, input)
}

// resultOf turns a handler's result into a CallCompleted outcome.
func resultOf(value any) (*runtimev1.CallCompleted, error) {
	switch v := value.(type) {
	case Pending:
		return pending(v), nil
	case *Pending:
		if v != nil {
			return pending(*v), nil
		}
	}
	payload, err := JSON(value)
	if err != nil {
		return nil, err
	}
	return &runtimev1.CallCompleted{Outcome: &runtimev1.CallCompleted_Output{Output: payload}}, nil
}

func pending(p Pending) *runtimev1.CallCompleted {
	id := p.CallbackID
	if id == "" {
		id = randomID()
	}
	return &runtimev1.CallCompleted{Outcome: &runtimev1.CallCompleted_PendingCallbackId{PendingCallbackId: id}}
}

func failed(f *Failure) *runtimev1.CallCompleted {
	return &runtimev1.CallCompleted{Outcome: &runtimev1.CallCompleted_Failure{Failure: f}}
}
