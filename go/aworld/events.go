package aworld

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

// errNoTerminal is returned when a stream ends before the task's terminal event.
var errNoTerminal = errors.New("the event stream ended without a terminal event")

// resumable reports whether a stream that failed with err is worth reopening: the
// connection dropped or the server restarted.
func resumable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// Run submits task and yields its events until the terminal one (a TaskStatusChanged with
// a terminal status, always the last). When the stream drops it reconnects and resumes after
// the last event yielded, so every event is yielded exactly once. An error is yielded at most
// once, last. Breaking out of the loop closes the stream; the task keeps running.
// Options: [WithRequestID] (without one a fresh id is used for all reconnects of this run).
//
//	for event, err := range client.Run(ctx, task) {
//		if err != nil {
//			return err
//		}
//		if aworld.IsTerminal(event) {
//			fmt.Println(aworld.AsText(event.GetStatusChanged().GetResponse().GetAnswer()))
//		}
//	}
func (c *Client) Run(ctx context.Context, task *Task, opts ...CallOption) iter.Seq2[*Event, error] {
	req := &runtimev1.RunTaskRequest{RequestId: newCallConfig(opts).requestIDOrNew(), Task: task}
	return func(yield func(*Event, error) bool) {
		var taskID string
		var last int64
		for failures := 0; ; {
			err := c.runOnce(ctx, req, &taskID, &last, yield)
			if err == nil || errors.Is(err, errStop) {
				return
			}
			if !resumable(err) || c.neverReached(err) {
				yield(nil, errorf("run task", err))
				return
			}
			if taskID != "" {
				break // the task exists: follow it with StreamEvents from the last seq
			}
			// No event yet: RunTask is idempotent on the request id, so it re-attaches.
			failures++
			if failures > c.resumeAttempts || !sleep(ctx, streamBackoff(failures)) {
				yield(nil, errorf("run task", err))
				return
			}
		}
		for event, err := range c.Events(ctx, taskID, last) {
			if !yield(event, err) {
				return
			}
		}
	}
}

// unreachableError is a call (or the opening of a stream) that could not reach the server.
// When the server never answered this client, it is reported at once: nobody listens there.
type unreachableError struct {
	address string
	err     error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the server at %s: %v", e.address, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// opened names the server in an UNAVAILABLE error of a call or of opening a stream.
func (c *Client) opened(err error) error {
	if err != nil && status.Code(err) == codes.Unavailable {
		return &unreachableError{address: c.address, err: err}
	}
	return err
}

// neverReached says whether err means a server that never answered this client cannot be
// reached, so retrying would only delay the report.
func (c *Client) neverReached(err error) bool {
	var unreachable *unreachableError
	return !c.reached.Load() && errors.As(err, &unreachable)
}

// errStop says the consumer stopped iterating or the terminal event was yielded.
var errStop = errors.New("stop")

// runOnce runs one RunTask stream, yielding events after *last. It returns nil after the
// terminal event, errStop when the consumer stopped, and the stream's error otherwise.
func (c *Client) runOnce(ctx context.Context, req *runtimev1.RunTaskRequest, taskID *string, last *int64, yield func(*Event, error) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.RunTask(ctx, req)
	if err != nil {
		return c.opened(err)
	}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return status.Error(codes.Unavailable, errNoTerminal.Error())
		}
		if err != nil {
			return err
		}
		event := resp.GetEvent()
		*taskID = event.GetTaskId()
		if event.GetSeq() <= *last {
			continue // replayed after a re-attach
		}
		*last = event.GetSeq()
		if !yield(event, nil) {
			return errStop
		}
		if IsTerminal(event) {
			return nil
		}
	}
}

// Events yields the task's events with seq greater than afterSeq (0: from the first), then
// follows live events until the terminal one. Pass the last seq you saw to resume after a
// disconnect; Events itself reconnects after transient errors (UNAVAILABLE, INTERNAL,
// UNKNOWN) and resumes after the last event it yielded, so nothing is skipped or repeated.
// An error is yielded at most once, last. Options: [ReplayOnly].
func (c *Client) Events(ctx context.Context, taskID string, afterSeq int64, opts ...CallOption) iter.Seq2[*Event, error] {
	replayOnly := newCallConfig(opts).replayOnly
	return func(yield func(*Event, error) bool) {
		last := afterSeq
		for failures := 0; ; {
			delivered, err := c.streamOnce(ctx, taskID, replayOnly, &last, yield)
			if err == nil || errors.Is(err, errStop) {
				return
			}
			if delivered {
				failures = 0
			}
			failures++
			if !resumable(err) || c.neverReached(err) || failures > c.resumeAttempts || !sleep(ctx, streamBackoff(failures)) {
				yield(nil, errorf("stream events of task "+taskID, err))
				return
			}
		}
	}
}

// streamOnce runs one StreamEvents stream from *last. It returns nil when the stream ended
// as it should (terminal event, or the end of a replay), errStop when the consumer stopped,
// and the stream's error otherwise; delivered says whether it yielded anything.
func (c *Client) streamOnce(ctx context.Context, taskID string, replayOnly bool, last *int64, yield func(*Event, error) bool) (delivered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.StreamEvents(ctx, &runtimev1.StreamEventsRequest{
		TaskId:     taskID,
		AfterSeq:   *last,
		ReplayOnly: replayOnly,
	})
	if err != nil {
		return false, c.opened(err)
	}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			if replayOnly {
				return delivered, nil
			}
			return delivered, status.Error(codes.Unavailable, errNoTerminal.Error())
		}
		if err != nil {
			return delivered, err
		}
		event := resp.GetEvent()
		if event.GetSeq() <= *last {
			continue
		}
		*last = event.GetSeq()
		delivered = true
		if !yield(event, nil) {
			return delivered, errStop
		}
		if IsTerminal(event) {
			return delivered, nil
		}
	}
}

// Wait follows the task's events until the terminal one and returns its response.
func (c *Client) Wait(ctx context.Context, taskID string) (*TaskResponse, error) {
	for event, err := range c.Events(ctx, taskID, 0) {
		if err != nil {
			return nil, err
		}
		if IsTerminal(event) {
			return event.GetStatusChanged().GetResponse(), nil
		}
	}
	return nil, errorf("wait for task "+taskID, errNoTerminal)
}

// streamBackoff is the delay before the n-th reconnect of an event stream: 50 ms doubling
// to 2 s, with jitter so that many clients do not reconnect in step.
func streamBackoff(n int) time.Duration {
	base := min(50*time.Millisecond<<min(n, 10), 2*time.Second)
	return time.Duration(float64(base) * (0.5 + rand.Float64()))
}

// sleep waits for d or until ctx is done; false means ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
