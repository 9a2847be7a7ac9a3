package aworld

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

// HandlerFunc runs one call of a handler. input is the call's JSON input (already validated
// by the server against the handler's input schema; "{}" when the call has none). The result
// is sent back as JSON: any value encoding/json accepts, a [json.RawMessage], a *[Payload],
// or [Pending] for a call that completes later through [Client.CompleteCallback].
//
// ctx is cancelled when the server cancels the call (the task was cancelled, the attempt was
// given up), when the call's deadline passes, when the stream to the server is lost and when
// the worker is forced to stop; [context.Cause] tells which ([ErrCallCancelled],
// [context.DeadlineExceeded], [ErrConnectionLost], [ErrWorkerStopping]). A handler should
// return promptly then: after a cancellation its result is discarded.
//
// An error becomes the call's Failure: see [Fail] to choose its type and [NonRetryable] to
// stop the server from retrying it. A panic is recovered and reported as a "Panic" failure.
type HandlerFunc func(ctx context.Context, call *Call, input json.RawMessage) (any, error)

// TypedFunc is a handler whose input is decoded into In and whose output Out is encoded as
// JSON; see [TypedTool].
type TypedFunc[In, Out any] func(ctx context.Context, call *Call, input In) (Out, error)

// Handler declares one tool, agent or hook a [Worker] serves. Build one with [Tool],
// [TypedTool], [Agent], [Hook] or [TypedHook], or fill in the fields.
type Handler struct {
	// Name is how tasks refer to it, unique per kind on the server. Required;
	// [A-Za-z0-9_.-]+.
	Name string
	// Kind is what it is: KindTool, KindAgent, KindHook or KindCallback. Required.
	Kind HandlerKind
	// Description says what it does; models see it for tools and agents. May be empty.
	Description string
	// InputSchema is the JSON Schema (JSON text) of the input. Empty accepts any input.
	InputSchema string
	// OutputSchema is the JSON Schema of the output. Empty means unspecified.
	OutputSchema string
	// Version of the handler. Empty means unversioned.
	Version string
	// Idempotent says calling it twice has the effect of calling it once, so the server may
	// run it again after an ambiguous failure (a lost worker, a missed deadline).
	Idempotent bool
	// Timeout bounds one attempt. Zero means the server default (60 s).
	Timeout time.Duration
	// RetryPolicy for calls to it. Nil means the task's policy.
	RetryPolicy *RetryPolicy
	// HookPoints are the hook points a hook serves, e.g. "before_tool_call". Required for
	// hooks, empty otherwise.
	HookPoints []string
	// Func runs a call. Required.
	Func HandlerFunc
}

// HandlerOption adjusts a Handler built by [Tool], [Agent], [Hook] and their typed forms.
type HandlerOption func(*Handler)

// Idempotent marks the handler idempotent (see Handler.Idempotent).
func Idempotent() HandlerOption { return func(h *Handler) { h.Idempotent = true } }

// WithTimeout sets the time limit of one attempt.
func WithTimeout(d time.Duration) HandlerOption { return func(h *Handler) { h.Timeout = d } }

// WithRetryPolicy sets the retry policy of calls to the handler.
func WithRetryPolicy(p *RetryPolicy) HandlerOption {
	return func(h *Handler) { h.RetryPolicy = p }
}

// WithVersion sets the handler's version.
func WithVersion(v string) HandlerOption { return func(h *Handler) { h.Version = v } }

// WithInputSchema sets the JSON Schema of the input, replacing a derived one.
func WithInputSchema(schema string) HandlerOption {
	return func(h *Handler) { h.InputSchema = schema }
}

// WithOutputSchema sets the JSON Schema of the output, replacing a derived one.
func WithOutputSchema(schema string) HandlerOption {
	return func(h *Handler) { h.OutputSchema = schema }
}

// Tool declares a tool whose input is raw JSON. Give it an input schema with
// [WithInputSchema] so models know its arguments, or use [TypedTool].
func Tool(name, description string, fn HandlerFunc, opts ...HandlerOption) Handler {
	return build(Handler{Name: name, Kind: KindTool, Description: description, Func: fn}, opts)
}

// Agent declares a remote agent policy (for AgentSpec.RemoteHandler): each step it receives
// {"agent", "step", "observation", "messages", "tools"} and returns a decision, a string (the
// final answer) or {"content", "tool_calls": [{"name", "arguments"}], "usage"}. See
// [TypedAgent] for a typed input.
func Agent(name, description string, fn HandlerFunc, opts ...HandlerOption) Handler {
	return build(Handler{Name: name, Kind: KindAgent, Description: description, Func: fn}, opts)
}

// Hook declares a hook for one or more hook points ("before_tool_call", ...). It receives a
// JSON object describing the occurrence ("point", "task_id", "agent", "tool_name",
// "arguments", "output", ...) and may return nil or an object with "permission_decision"
// ("allow", "deny", "ask"), "permission_decision_reason", "updated_input",
// "updated_output" and "system_message".
func Hook(name string, points []string, fn HandlerFunc, opts ...HandlerOption) Handler {
	return build(Handler{Name: name, Kind: KindHook, HookPoints: points, Func: fn}, opts)
}

// TypedTool declares a tool taking In and returning Out. Its input schema is derived from In
// (see [SchemaFor]); unknown input fields are refused, as the schema says.
//
//	type AddInput struct {
//		A int `json:"a"`
//		B int `json:"b"`
//	}
//	add := aworld.TypedTool("add", "Add two integers.",
//		func(ctx context.Context, call *aworld.Call, in AddInput) (int, error) {
//			return in.A + in.B, nil
//		})
func TypedTool[In, Out any](name, description string, fn TypedFunc[In, Out], opts ...HandlerOption) Handler {
	return typed(Handler{Name: name, Kind: KindTool, Description: description}, exact, fn, opts)
}

// TypedAgent declares an agent policy taking In and returning Out, like [TypedTool], except
// that In reads only the keys it declares: a remote agent's step is
// {"agent", "step", "observation", "messages", "tools"}, and the other keys are ignored.
// It answers with a string (the final answer) or
// {"content", "tool_calls": [{"name", "arguments"}], "usage": {"prompt_tokens", "completion_tokens"}}.
//
//	type Step struct {
//		Step        int    `json:"step"`
//		Observation string `json:"observation"`
//	}
func TypedAgent[In, Out any](name, description string, fn TypedFunc[In, Out], opts ...HandlerOption) Handler {
	return typed(Handler{Name: name, Kind: KindAgent, Description: description}, open, fn, opts)
}

// TypedHook declares a hook taking In and returning Out, like [Hook]. In reads only the keys
// it declares; the others are ignored, and its fields are all optional in the schema.
//
//	type Decision struct {
//		PermissionDecision string `json:"permission_decision,omitempty"`
//		Reason             string `json:"permission_decision_reason,omitempty"`
//	}
func TypedHook[In, Out any](name string, points []string, fn TypedFunc[In, Out], opts ...HandlerOption) Handler {
	return typed(Handler{Name: name, Kind: KindHook, HookPoints: points}, lenient, fn, opts)
}

func build(h Handler, opts []HandlerOption) Handler {
	for _, opt := range opts {
		opt(&h)
	}
	return h
}

func typed[In, Out any](h Handler, rule inputRule, fn TypedFunc[In, Out], opts []HandlerOption) Handler {
	h.InputSchema = schemaText(typeOf[In](), rule)
	h.OutputSchema = schemaText(typeOf[Out](), lenient)
	h.Func = func(ctx context.Context, call *Call, input json.RawMessage) (any, error) {
		var in In
		decoder := json.NewDecoder(bytes.NewReader(input))
		if rule == exact {
			decoder.DisallowUnknownFields()
		}
		if err := decoder.Decode(&in); err != nil {
			return nil, &FailureError{Failure: &Failure{
				Type:         "InvalidHandlerInput",
				Message:      fmt.Sprintf("invalid input for %s: %v", call.Handler, err),
				NonRetryable: true,
			}}
		}
		return fn(ctx, call, in)
	}
	return build(h, opts)
}

var handlerName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// validate reports what makes h unfit to declare, or nil.
func (h *Handler) validate() error {
	var problems []error
	if !handlerName.MatchString(h.Name) {
		problems = append(problems, fmt.Errorf("name %q does not match [A-Za-z0-9_.-]+", h.Name))
	}
	switch h.Kind {
	case KindTool, KindAgent, KindCallback:
		if len(h.HookPoints) > 0 {
			problems = append(problems, errors.New("only hooks have hook points"))
		}
	case KindHook:
		if len(h.HookPoints) == 0 {
			problems = append(problems, errors.New("a hook needs at least one hook point"))
		}
	default:
		problems = append(problems, fmt.Errorf("kind %v is not a tool, agent, hook or callback", h.Kind))
	}
	if h.Func == nil {
		problems = append(problems, errors.New("Func is nil"))
	}
	for field, schema := range map[string]string{"input": h.InputSchema, "output": h.OutputSchema} {
		var object map[string]any
		if schema != "" && json.Unmarshal([]byte(schema), &object) != nil {
			problems = append(problems, fmt.Errorf("the %s schema is not a JSON object", field))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("handler %q: %w", h.Name, err)
	}
	return nil
}

// Spec returns the handler's declaration as sent in the worker's Hello.
func (h *Handler) Spec() *HandlerSpec {
	spec := &HandlerSpec{
		Name:         h.Name,
		Kind:         h.Kind,
		Description:  h.Description,
		InputSchema:  h.InputSchema,
		OutputSchema: h.OutputSchema,
		Version:      h.Version,
		Idempotent:   h.Idempotent,
		RetryPolicy:  h.RetryPolicy,
		HookPoints:   h.HookPoints,
	}
	if h.Timeout > 0 {
		spec.DefaultTimeout = durationpb.New(h.Timeout)
	}
	return spec
}

// Call describes the call a handler is running.
type Call struct {
	// ID is the call id, shared by all attempts of one call.
	ID string
	// Attempt is the attempt number, starting at 1.
	Attempt int
	// Handler is the handler's name and Kind its kind.
	Handler string
	Kind    HandlerKind
	// TaskID and SessionID are the task and session the call belongs to; empty for direct
	// Client.Invoke calls.
	TaskID, SessionID string
	// Deadline is when the attempt must be finished (also ctx's deadline). Zero means none.
	Deadline time.Time
	// Headers travel with the call, including the W3C "traceparent" of the calling span.
	Headers map[string]string
	// HookPoint is the hook point of a hook call; empty otherwise.
	HookPoint string
	// WorkerID is the id of the worker running the call.
	WorkerID string
}

// Pending is a handler result saying the call completes later: the task waits in
// INPUT_REQUIRED, holding nothing, until someone calls [Client.CompleteCallback] with the
// task id and CallbackID. An empty CallbackID is replaced by a random one; either way the
// task's InputRequested event carries it.
type Pending struct {
	CallbackID string
}
