package aworld_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/aworld-runtime/aworld-runtime/go/aworld"
	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

// fakeRuntime serves a fixed history of five events for task "t1" and drops streams on cue.
type fakeRuntime struct {
	runtimev1.UnimplementedRuntimeServiceServer
	mu sync.Mutex
	// runPlan[i] is how many events the i-th RunTask sends before failing UNAVAILABLE
	// (-1: all of them, then end normally). Calls past the plan send everything.
	runPlan []int
	// streamPlan is the same for StreamEvents, counted from after_seq.
	streamPlan []int
	// fail, when set, is the status every call ends with.
	fail       codes.Code
	requestIDs []string
	afterSeqs  []int64
}

func history() []*aworld.Event {
	var events []*aworld.Event
	for seq := int64(1); seq <= 4; seq++ {
		events = append(events, &aworld.Event{TaskId: "t1", Seq: seq})
	}
	return append(events, &aworld.Event{TaskId: "t1", Seq: 5, Body: &runtimev1.Event_StatusChanged{
		StatusChanged: &aworld.TaskStatusChanged{Status: aworld.StatusSucceeded, Response: &aworld.TaskResponse{Id: "t1", Status: aworld.StatusSucceeded}},
	}})
}

func (f *fakeRuntime) next(plan *[]int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(*plan) == 0 {
		return -1
	}
	n := (*plan)[0]
	*plan = (*plan)[1:]
	return n
}

func send[T any](stream grpc.ServerStreamingServer[T], wrap func(*aworld.Event) *T, events []*aworld.Event, limit int) error {
	for i, event := range events {
		if limit >= 0 && i == limit {
			return status.Error(codes.Unavailable, "dropped")
		}
		if err := stream.Send(wrap(event)); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeRuntime) RunTask(req *runtimev1.RunTaskRequest, stream grpc.ServerStreamingServer[runtimev1.RunTaskResponse]) error {
	f.mu.Lock()
	f.requestIDs = append(f.requestIDs, req.GetRequestId())
	f.mu.Unlock()
	if f.fail != codes.OK {
		return status.Error(f.fail, "refused")
	}
	return send(stream, func(e *aworld.Event) *runtimev1.RunTaskResponse { return &runtimev1.RunTaskResponse{Event: e} },
		history(), f.next(&f.runPlan))
}

func (f *fakeRuntime) StreamEvents(req *runtimev1.StreamEventsRequest, stream grpc.ServerStreamingServer[runtimev1.StreamEventsResponse]) error {
	f.mu.Lock()
	f.afterSeqs = append(f.afterSeqs, req.GetAfterSeq())
	f.mu.Unlock()
	if f.fail != codes.OK {
		return status.Error(f.fail, "refused")
	}
	events := history()[req.GetAfterSeq():]
	if req.GetReplayOnly() {
		events = events[:len(events)-1] // as if the task were still running
	}
	return send(stream, func(e *aworld.Event) *runtimev1.StreamEventsResponse {
		return &runtimev1.StreamEventsResponse{Event: e}
	},
		events, f.next(&f.streamPlan))
}

func seqs(t *testing.T, events func(func(*aworld.Event, error) bool)) ([]int64, error) {
	t.Helper()
	var out []int64
	for event, err := range events {
		if err != nil {
			return out, err
		}
		out = append(out, event.GetSeq())
	}
	return out, nil
}

func TestRunResumesFromTheLastSeqAfterDrops(t *testing.T) {
	fake := &fakeRuntime{runPlan: []int{2}, streamPlan: []int{1}}
	client := dial(t, startFakeServer(t, nil, fake))
	got, err := seqs(t, client.Run(cleanupContext(t), &aworld.Task{}))
	if err != nil || !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("Run yielded %v, %v; want 1..5 once each", got, err)
	}
	if !slices.Equal(fake.afterSeqs, []int64{2, 3}) {
		t.Errorf("StreamEvents after_seq = %v; want [2 3]", fake.afterSeqs)
	}
}

func TestRunRetriesWithTheSameRequestIDBeforeTheFirstEvent(t *testing.T) {
	fake := &fakeRuntime{runPlan: []int{0, 0}}
	client := dial(t, startFakeServer(t, nil, fake))
	got, err := seqs(t, client.Run(cleanupContext(t), &aworld.Task{}))
	if err != nil || len(got) != 5 {
		t.Errorf("Run yielded %v, %v", got, err)
	}
	if len(fake.requestIDs) != 3 || fake.requestIDs[0] == "" || fake.requestIDs[1] != fake.requestIDs[0] || fake.requestIDs[2] != fake.requestIDs[0] {
		t.Errorf("request ids = %v; want one id, three times", fake.requestIDs)
	}
}

func TestStreamErrorsKeepTheirStatus(t *testing.T) {
	fake := &fakeRuntime{fail: codes.PermissionDenied}
	client := dial(t, startFakeServer(t, nil, fake))
	_, err := seqs(t, client.Run(cleanupContext(t), &aworld.Task{}))
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("Run error = %v; want PERMISSION_DENIED", err)
	}
	_, err = seqs(t, client.Events(cleanupContext(t), "t1", 0))
	if status.Code(err) != codes.PermissionDenied || len(fake.afterSeqs) != 1 {
		t.Errorf("Events error = %v after %d tries; want PERMISSION_DENIED at once", err, len(fake.afterSeqs))
	}
}

func TestEventsReplayOnlyAndEarlyBreak(t *testing.T) {
	fake := &fakeRuntime{}
	client := dial(t, startFakeServer(t, nil, fake))
	got, err := seqs(t, client.Events(cleanupContext(t), "t1", 1, aworld.ReplayOnly()))
	if err != nil || !slices.Equal(got, []int64{2, 3, 4}) {
		t.Errorf("replay = %v, %v; want 2..4 and a clean end", got, err)
	}
	for event, err := range client.Events(cleanupContext(t), "t1", 0) {
		if err != nil || event.GetSeq() != 1 {
			t.Fatalf("first event = %v, %v", event, err)
		}
		break
	}
	ctx, cancel := context.WithCancel(cleanupContext(t))
	cancel()
	if _, err := seqs(t, client.Events(ctx, "t1", 0)); !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
		t.Errorf("Events on a cancelled context = %v; want CANCELED", err)
	}
}
