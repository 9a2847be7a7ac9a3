package aworld

import (
	"context"

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
	ctx = callPropagator.Extract(ctx, propagation.MapCarrier(call.GetHeaders()))
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

// endCallSpan records a failed outcome on the span and ends it.
func endCallSpan(span trace.Span, outcome *runtimev1.CallCompleted) {
	if failure := outcome.GetFailure(); failure != nil {
		span.SetStatus(codes.Error, failure.GetType())
	}
	span.End()
}
