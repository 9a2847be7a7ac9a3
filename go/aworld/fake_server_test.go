package aworld_test

// An in-process fake of the server's WorkerService and RuntimeService, so that the tests can
// drive the protocol exactly: push a Call, a CancelCall, drop a stream, refuse a worker.

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

type fakeWorkerService struct {
	runtimev1.UnimplementedWorkerServiceServer
	// refuse, when set, is the status every Connect ends with right after the Hello.
	refuse codes.Code
	// heartbeat is the interval sent in the Welcome.
	heartbeat time.Duration
	sessions  chan *fakeSession
}

// fakeSession is one accepted worker stream.
type fakeSession struct {
	hello    *runtimev1.Hello
	metadata metadata.MD
	stream   grpc.BidiStreamingServer[runtimev1.ConnectRequest, runtimev1.ConnectResponse]
	// received gets every message after the Hello; it is closed when the worker half-closes.
	received chan *runtimev1.ConnectRequest
	// end makes Connect return with the error sent (nil: a clean end).
	end chan error
}

func (f *fakeWorkerService) Connect(stream grpc.BidiStreamingServer[runtimev1.ConnectRequest, runtimev1.ConnectResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if f.refuse != codes.OK {
		return status.Error(f.refuse, "refused by the fake server")
	}
	md, _ := metadata.FromIncomingContext(stream.Context())
	id := first.GetHello().GetWorkerId()
	if id == "" {
		id = "fake-worker-1"
	}
	if err := stream.Send(&runtimev1.ConnectResponse{Kind: &runtimev1.ConnectResponse_Welcome{Welcome: &runtimev1.Welcome{
		WorkerId:          id,
		HeartbeatInterval: durationpb.New(f.heartbeat),
		HeartbeatTimeout:  durationpb.New(3 * f.heartbeat),
	}}}); err != nil {
		return err
	}
	session := &fakeSession{
		hello:    first.GetHello(),
		metadata: md,
		stream:   stream,
		received: make(chan *runtimev1.ConnectRequest, 100),
		end:      make(chan error, 1),
	}
	halfClosed := make(chan struct{})
	go func() {
		defer close(halfClosed)
		defer close(session.received)
		for {
			msg, err := stream.Recv()
			if err != nil {
				return
			}
			session.received <- msg
		}
	}()
	f.sessions <- session
	select {
	case err := <-session.end:
		return err
	case <-halfClosed:
		return nil // the worker stopped: end the stream like the real server
	case <-stream.Context().Done():
		return stream.Context().Err()
	}
}

// startFakeServer serves the fakes on a free loopback port until the test ends.
func startFakeServer(t *testing.T, workers *fakeWorkerService, runtime runtimev1.RuntimeServiceServer) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	if workers != nil {
		if workers.heartbeat == 0 {
			workers.heartbeat = time.Minute
		}
		if workers.sessions == nil {
			workers.sessions = make(chan *fakeSession, 10)
		}
		runtimev1.RegisterWorkerServiceServer(server, workers)
	}
	if runtime != nil {
		runtimev1.RegisterRuntimeServiceServer(server, runtime)
	}
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	return listener.Addr().String()
}

// push sends a Call for handler with JSON input.
func (s *fakeSession) push(t *testing.T, id string, handler string, kind runtimev1.HandlerKind, input *runtimev1.Payload, deadline time.Time) {
	t.Helper()
	call := &runtimev1.Call{CallId: id, Attempt: 1, Handler: handler, Kind: kind, Input: input, TaskId: "task-1"}
	if !deadline.IsZero() {
		call.Deadline = timestamppb.New(deadline)
	}
	if err := s.stream.Send(&runtimev1.ConnectResponse{Kind: &runtimev1.ConnectResponse_Call{Call: call}}); err != nil {
		t.Fatalf("push call: %v", err)
	}
}

func (s *fakeSession) cancel(t *testing.T, id, reason string) {
	t.Helper()
	msg := &runtimev1.CancelCall{CallId: id, Attempt: 1, Reason: reason}
	if err := s.stream.Send(&runtimev1.ConnectResponse{Kind: &runtimev1.ConnectResponse_CancelCall{CancelCall: msg}}); err != nil {
		t.Fatalf("push cancel: %v", err)
	}
}

// completed waits for the next CallCompleted, skipping heartbeats.
func (s *fakeSession) completed(t *testing.T) *runtimev1.CallCompleted {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case msg, ok := <-s.received:
			if !ok {
				t.Fatal("the worker closed the stream; want a CallCompleted")
			}
			if done := msg.GetCallCompleted(); done != nil {
				return done
			}
		case <-timeout:
			t.Fatal("timed out waiting for a CallCompleted")
		}
	}
}

// heartbeat waits for the next Heartbeat.
func (s *fakeSession) heartbeat(t *testing.T) *runtimev1.Heartbeat {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case msg, ok := <-s.received:
			if !ok {
				t.Fatal("the worker closed the stream; want a Heartbeat")
			}
			if beat := msg.GetHeartbeat(); beat != nil {
				return beat
			}
		case <-timeout:
			t.Fatal("timed out waiting for a Heartbeat")
		}
	}
}

// halfClosed waits until the worker closes its side, failing on a CallCompleted first.
func (s *fakeSession) halfClosed(t *testing.T) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case msg, ok := <-s.received:
			if !ok {
				return
			}
			if done := msg.GetCallCompleted(); done != nil {
				t.Errorf("unexpected CallCompleted %v before the close", done)
			}
		case <-timeout:
			t.Fatal("timed out waiting for the worker to close the stream")
		}
	}
}

func nextSession(t *testing.T, f *fakeWorkerService) *fakeSession {
	t.Helper()
	return receive(t, f.sessions, "a worker to connect")
}

// cleanupContext is t.Context() for Go 1.23, the oldest Go this module supports: a context
// cancelled when the test ends.
func cleanupContext(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
