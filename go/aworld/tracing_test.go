package aworld

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

// A call's span continues the trace of the Call's traceparent (with Level 2 flags, as the
// Python runtime sends them), is current in the handler's context, and records a failure.
func TestCallSpanJoinsTheCallersTrace(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	previous := otel.GetTracerProvider()
	otel.SetTracerProvider(provider)
	t.Cleanup(func() { otel.SetTracerProvider(previous) })

	call := &runtimev1.Call{
		CallId: "c1", Attempt: 2, Handler: "go_tool", TaskId: "t1",
		Headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"},
	}
	ctx, span := startCallSpan(context.Background(), call, "w1")
	if got := trace.SpanFromContext(ctx).SpanContext().SpanID(); got != span.SpanContext().SpanID() {
		t.Errorf("the handler's context carries span %s, want the call's", got)
	}
	endCallSpan(span, failed(&Failure{Type: "Boom"}))

	spans := recorder.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	got := spans[0]
	if got.Name() != "worker_call" || got.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		got.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("span %s in trace %s with parent %s; want worker_call, the caller's trace and span",
			got.Name(), got.SpanContext().TraceID(), got.Parent().SpanID())
	}
	if got.Status().Description != "Boom" {
		t.Errorf("status %+v; want the failure type", got.Status())
	}
}
