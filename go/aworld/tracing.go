package aworld

import (
	"context"
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

// The protocol fixes the Call header format to W3C trace context, so it is read with that
// propagator rather than the global one an application may have set for its own traffic.
var callPropagator = propagation.TraceContext{}

// startCallSpan starts the worker's span for one call attempt: a child of the "traceparent"
// header the runtime sent, so a Go tool's span joins the task's trace. It uses the global
// tracer provider (a no-op until the application installs an SDK). The handler's context
// carries the span, so spans the handler starts are its children.
func startCallSpan(ctx context.Context, call *runtimev1.Call, workerID string) (context.Context, trace.Span) {
	ctx = callPropagator.Extract(ctx, w3cCarrier(call.GetHeaders()))
	return otel.Tracer("github.com/aworld-runtime/aworld-runtime/go/aworld").Start(ctx, "worker_call",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("aworld.handler", call.GetHandler()),
			attribute.String("aworld.call_id", call.GetCallId()),
			attribute.Int64("aworld.attempt", int64(call.GetAttempt())),
			attribute.String("aworld.task_id", call.GetTaskId()),
			attribute.String("aworld.worker_id", workerID),
			attribute.String("aworld.sdk", "go"),
		))
}

// w3cCarrier holds the call's trace context with its flags reduced to "sampled": W3C Trace
// Context Level 2 adds flag bits (0x02, a random trace id, set by the Python SDK) that this
// propagator version rejects as invalid, which would start a new trace instead.
func w3cCarrier(headers map[string]string) propagation.MapCarrier {
	carrier := propagation.MapCarrier{}
	if state, ok := headers["tracestate"]; ok {
		carrier["tracestate"] = state
	}
	parts := strings.Split(strings.TrimSpace(headers["traceparent"]), "-")
	if len(parts) == 4 {
		if flags, err := hex.DecodeString(parts[3]); err == nil && len(flags) == 1 {
			parts[3] = hex.EncodeToString([]byte{flags[0] & byte(trace.FlagsSampled)})
		}
	}
	carrier["traceparent"] = strings.Join(parts, "-")
	return carrier
}

// endCallSpan records a failed outcome on the span and ends it.
func endCallSpan(span trace.Span, outcome *runtimev1.CallCompleted) {
	if failure := outcome.GetFailure(); failure != nil {
		span.SetStatus(codes.Error, failure.GetType())
	}
	span.End()
}
