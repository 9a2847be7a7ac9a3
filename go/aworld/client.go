package aworld

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

// Client calls RuntimeService on one server. It is safe for concurrent use; Close it when
// done.
type Client struct {
	address string
	conn    *grpc.ClientConn
	rpc     runtimev1.RuntimeServiceClient
	// resumeAttempts bounds the reconnects of one event stream in a row.
	resumeAttempts int
	// reached says whether the server ever answered this client: until it has, an
	// unreachable server is reported at once; after, it is waited for (a restart, a drop).
	reached atomic.Bool
}

// Dial returns a Client for the server at address ("host:port", "[ipv6]:port",
// "http://host:port" or "https://host:port"; any other form is an error here). The
// connection is made lazily, on the first call; a server this client has never reached
// fails that call at once with UNAVAILABLE and the address in the message.
func Dial(address string, opts ...DialOption) (*Client, error) {
	c := &Client{address: address, resumeAttempts: 10}
	notes := WithGRPCOptions(grpc.WithChainUnaryInterceptor(c.noteUnary), grpc.WithChainStreamInterceptor(c.noteStream))
	conn, err := newDialConfig(append([]DialOption{notes}, opts...)).newConn(address)
	if err != nil {
		return nil, err
	}
	c.conn, c.rpc = conn, runtimev1.NewRuntimeServiceClient(conn)
	return c, nil
}

// noteUnary notes that the server answered a call (anything but UNAVAILABLE is an answer).
func (c *Client) noteUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if status.Code(err) != codes.Unavailable {
		c.reached.Store(true)
	}
	return err
}

// noteStream notes that a stream opened: grpc-go opens one only on a connected transport.
func (c *Client) noteStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	stream, err := streamer(ctx, desc, cc, method, opts...)
	if err == nil {
		c.reached.Store(true)
	}
	return stream, err
}

// Close closes the connection. Streams still open end with a CANCELED error.
func (c *Client) Close() error { return c.conn.Close() }

// Service returns the generated RuntimeService stub on the client's connection, for calls
// this package does not wrap.
func (c *Client) Service() runtimev1.RuntimeServiceClient { return c.rpc }

// CallOption adjusts one Client call. Each option states the calls it applies to; the others
// ignore it.
type CallOption func(*callConfig)

type callConfig struct {
	requestID  string
	reason     string
	replayOnly bool
	kind       HandlerKind
	timeout    time.Duration
	headers    map[string]string
}

func newCallConfig(opts []CallOption) *callConfig {
	c := &callConfig{}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// requestIDOrNew returns the caller's request id, or a fresh random one so that this call
// is safe to retry.
func (c *callConfig) requestIDOrNew() string {
	if c.requestID != "" {
		return c.requestID
	}
	return randomID()
}

// randomID returns 128 random bits as hex.
func randomID() string {
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand does not fail on supported platforms
	return hex.EncodeToString(id[:])
}

// WithRequestID sets the idempotency key of a mutating call (Submit, Run, Cancel,
// ProvideInput, CompleteCallback, Invoke): repeating a call with the same id has the effect
// of one call. Without it each call gets a fresh random id.
func WithRequestID(id string) CallOption { return func(c *callConfig) { c.requestID = id } }

// WithReason says why a task is cancelled (Cancel); it is recorded in the task's events.
func WithReason(reason string) CallOption { return func(c *callConfig) { c.reason = reason } }

// ReplayOnly makes Events stop after the stored events instead of following live ones.
func ReplayOnly() CallOption { return func(c *callConfig) { c.replayOnly = true } }

// WithKind chooses the kind of handler Invoke calls. The default is a tool.
func WithKind(kind HandlerKind) CallOption { return func(c *callConfig) { c.kind = kind } }

// WithInvokeTimeout bounds the handler run by Invoke. Zero means the handler's default.
func WithInvokeTimeout(d time.Duration) CallOption {
	return func(c *callConfig) { c.timeout = d }
}

// WithHeaders passes headers (e.g. "traceparent") to the handler Invoke calls.
func WithHeaders(headers map[string]string) CallOption {
	return func(c *callConfig) { c.headers = headers }
}

// Submitted says which task the server accepted.
type Submitted struct {
	// TaskID is the id of the accepted task.
	TaskID string
	// SessionID is the task's session (assigned when the task had none).
	SessionID string
	// Created is false when the request id matched an earlier submit.
	Created bool
}

// Submit durably stores task on the server and starts it. It returns once the task is on
// disk; follow it with [Client.Events] or [Client.Wait]. Options: [WithRequestID].
func (c *Client) Submit(ctx context.Context, task *Task, opts ...CallOption) (Submitted, error) {
	cfg := newCallConfig(opts)
	resp, err := c.rpc.SubmitTask(ctx, &runtimev1.SubmitTaskRequest{
		RequestId: cfg.requestIDOrNew(),
		Task:      task,
	})
	if err != nil {
		return Submitted{}, errorf("submit task", c.opened(err))
	}
	return Submitted{TaskID: resp.GetTaskId(), SessionID: resp.GetSessionId(), Created: resp.GetCreated()}, nil
}

// TaskInfo is a task and where it stands.
type TaskInfo struct {
	// Task is the task as submitted, ids filled in.
	Task *Task
	// Response is the current response; complete once its status is terminal.
	Response *TaskResponse
	// CreatedAt is when it was submitted; UpdatedAt when it last changed status.
	CreatedAt, UpdatedAt time.Time
}

// Get returns a task and its current response. NOT_FOUND for unknown ids.
func (c *Client) Get(ctx context.Context, taskID string) (*TaskInfo, error) {
	resp, err := c.rpc.GetTask(ctx, &runtimev1.GetTaskRequest{TaskId: taskID})
	if err != nil {
		return nil, errorf("get task", c.opened(err))
	}
	return &TaskInfo{
		Task:      resp.GetTask(),
		Response:  resp.GetResponse(),
		CreatedAt: resp.GetCreatedAt().AsTime(),
		UpdatedAt: resp.GetUpdatedAt().AsTime(),
	}, nil
}

// ListOptions filters and pages [Client.List] and [Client.Sessions]. The zero value asks for
// the first page of everything.
type ListOptions struct {
	// SessionID keeps only tasks of this session (List only). Empty means any.
	SessionID string
	// UserID keeps only tasks or sessions of this user. Empty means any.
	UserID string
	// Statuses keeps only tasks in one of these statuses (List only). Empty means any.
	Statuses []TaskStatus
	// PageSize is the page length: 0 means 50; above 1000 means 1000.
	PageSize int
	// PageToken is a previous page's NextPageToken. Empty means the first page.
	PageToken string
}

// TaskPage is one page of tasks, newest first.
type TaskPage struct {
	Tasks []*TaskSummary
	// NextPageToken fetches the next page; empty on the last page.
	NextPageToken string
}

// List returns one page of tasks, newest first.
func (c *Client) List(ctx context.Context, opts ListOptions) (*TaskPage, error) {
	resp, err := c.rpc.ListTasks(ctx, &runtimev1.ListTasksRequest{
		PageSize:  int32(opts.PageSize),
		PageToken: opts.PageToken,
		SessionId: opts.SessionID,
		UserId:    opts.UserID,
		Statuses:  opts.Statuses,
	})
	if err != nil {
		return nil, errorf("list tasks", c.opened(err))
	}
	return &TaskPage{Tasks: resp.GetTasks(), NextPageToken: resp.GetNextPageToken()}, nil
}

// Cancel cancels a live task; the cancellation reaches remote handlers running for it. It
// returns the task's status afterwards: CANCELLED, or the terminal status it already had.
// Options: [WithReason], [WithRequestID].
func (c *Client) Cancel(ctx context.Context, taskID string, opts ...CallOption) (TaskStatus, error) {
	cfg := newCallConfig(opts)
	resp, err := c.rpc.CancelTask(ctx, &runtimev1.CancelTaskRequest{
		RequestId: cfg.requestIDOrNew(),
		TaskId:    taskID,
		Reason:    cfg.reason,
	})
	if err != nil {
		return 0, errorf("cancel task", c.opened(err))
	}
	return resp.GetStatus(), nil
}

// TaskState is a task's run-node tree.
type TaskState struct {
	Status TaskStatus
	// Nodes in creation order; the first is the root (kind TASK).
	Nodes []*RunNode
	// Groups in creation order.
	Groups []*NodeGroup
}

// State returns the task's run-node tree.
func (c *Client) State(ctx context.Context, taskID string) (*TaskState, error) {
	resp, err := c.rpc.GetTaskState(ctx, &runtimev1.GetTaskStateRequest{TaskId: taskID})
	if err != nil {
		return nil, errorf("get task state", c.opened(err))
	}
	return &TaskState{Status: resp.GetStatus(), Nodes: resp.GetNodes(), Groups: resp.GetGroups()}, nil
}

// Trajectory returns the task's trajectory (state, action, reward per step), derived from its
// events.
func (c *Client) Trajectory(ctx context.Context, taskID string) ([]*TrajectoryItem, error) {
	resp, err := c.rpc.GetTrajectory(ctx, &runtimev1.GetTrajectoryRequest{TaskId: taskID})
	if err != nil {
		return nil, errorf("get trajectory", c.opened(err))
	}
	return resp.GetItems(), nil
}

// ProvideInput answers a task waiting in INPUT_REQUIRED: callbackID comes from its
// InputRequested event, value is any JSON-encodable value (or a *Payload). It returns the
// task's status once the answer is durable. Options: [WithRequestID].
func (c *Client) ProvideInput(ctx context.Context, taskID, callbackID string, value any, opts ...CallOption) (TaskStatus, error) {
	payload, err := JSON(value)
	if err != nil {
		return 0, err
	}
	cfg := newCallConfig(opts)
	resp, err := c.rpc.ProvideInput(ctx, &runtimev1.ProvideInputRequest{
		RequestId:  cfg.requestIDOrNew(),
		TaskId:     taskID,
		CallbackId: callbackID,
		Value:      payload,
	})
	if err != nil {
		return 0, errorf("provide input", c.opened(err))
	}
	return resp.GetStatus(), nil
}

// CompleteCallback completes a pending asynchronous call (a handler that returned
// [Pending]). result is its output (any JSON-encodable value or a *Payload), or a *Failure
// to complete it with a failure. It returns the task's status once the completion is
// durable. Options: [WithRequestID].
func (c *Client) CompleteCallback(ctx context.Context, taskID, callbackID string, result any, opts ...CallOption) (TaskStatus, error) {
	cfg := newCallConfig(opts)
	req := &runtimev1.CompleteCallbackRequest{
		RequestId:  cfg.requestIDOrNew(),
		TaskId:     taskID,
		CallbackId: callbackID,
	}
	if failure, ok := result.(*Failure); ok {
		req.Failure = failure
	} else {
		payload, err := JSON(result)
		if err != nil {
			return 0, err
		}
		req.Result = payload
	}
	resp, err := c.rpc.CompleteCallback(ctx, req)
	if err != nil {
		return 0, errorf("complete callback", c.opened(err))
	}
	return resp.GetStatus(), nil
}

// InvokeResult is the outcome of [Client.Invoke].
type InvokeResult struct {
	// Output is the handler's output; nil when it failed.
	Output *Payload
	// Failure is the handler's failure; nil when it succeeded.
	Failure *Failure
	// Attempts is the number of attempts made, starting at 1.
	Attempts int
}

// Decode decodes the output into v (see [Decode]).
func (r *InvokeResult) Decode(v any) error { return Decode(r.Output, v) }

// Invoke calls one handler (local or remote) directly, outside any task. input is any
// JSON-encodable value or a *Payload; nil means an empty object. When the handler fails,
// Invoke returns the result (with its Failure and Attempts) and a [*FailureError]; transport
// and validation errors are gRPC status errors. Options: [WithKind], [WithInvokeTimeout],
// [WithHeaders], [WithRequestID].
func (c *Client) Invoke(ctx context.Context, name string, input any, opts ...CallOption) (*InvokeResult, error) {
	if input == nil {
		input = struct{}{}
	}
	payload, err := JSON(input)
	if err != nil {
		return nil, err
	}
	cfg := newCallConfig(opts)
	req := &runtimev1.InvokeHandlerRequest{
		RequestId: cfg.requestIDOrNew(),
		Name:      name,
		Kind:      cfg.kind,
		Input:     payload,
		Headers:   cfg.headers,
	}
	if cfg.timeout > 0 {
		req.Timeout = durationpb.New(cfg.timeout)
	}
	resp, err := c.rpc.InvokeHandler(ctx, req)
	if err != nil {
		return nil, errorf("invoke "+name, c.opened(err))
	}
	result := &InvokeResult{Output: resp.GetOutput(), Failure: resp.GetFailure(), Attempts: int(resp.GetAttempts())}
	if result.Failure != nil {
		return result, &FailureError{Failure: result.Failure}
	}
	return result, nil
}

// Handlers lists the registered handlers, local and remote, sorted by kind then name. A zero
// kind lists all kinds.
func (c *Client) Handlers(ctx context.Context, kind HandlerKind) ([]*HandlerInfo, error) {
	resp, err := c.rpc.ListHandlers(ctx, &runtimev1.ListHandlersRequest{Kind: kind})
	if err != nil {
		return nil, errorf("list handlers", c.opened(err))
	}
	return resp.GetHandlers(), nil
}

// Workers lists the connected workers, sorted by connection time; with a handler name only
// those serving it.
func (c *Client) Workers(ctx context.Context, handlerName string) ([]*WorkerInfo, error) {
	resp, err := c.rpc.ListWorkers(ctx, &runtimev1.ListWorkersRequest{HandlerName: handlerName})
	if err != nil {
		return nil, errorf("list workers", c.opened(err))
	}
	return resp.GetWorkers(), nil
}

// Session returns a session. NOT_FOUND for unknown ids.
func (c *Client) Session(ctx context.Context, sessionID string) (*Session, error) {
	resp, err := c.rpc.GetSession(ctx, &runtimev1.GetSessionRequest{SessionId: sessionID})
	if err != nil {
		return nil, errorf("get session", c.opened(err))
	}
	return resp.GetSession(), nil
}

// SessionPage is one page of sessions, newest first.
type SessionPage struct {
	Sessions []*Session
	// NextPageToken fetches the next page; empty on the last page.
	NextPageToken string
}

// Sessions returns one page of sessions, newest first (UserID, PageSize and PageToken of opts
// apply).
func (c *Client) Sessions(ctx context.Context, opts ListOptions) (*SessionPage, error) {
	resp, err := c.rpc.ListSessions(ctx, &runtimev1.ListSessionsRequest{
		PageSize:  int32(opts.PageSize),
		PageToken: opts.PageToken,
		UserId:    opts.UserID,
	})
	if err != nil {
		return nil, errorf("list sessions", c.opened(err))
	}
	return &SessionPage{Sessions: resp.GetSessions(), NextPageToken: resp.GetNextPageToken()}, nil
}
