/**
 * The worker's span for each call: a child of the W3C `traceparent` the runtime puts in the
 * Call's headers, so a TypeScript tool joins the task's trace. Only `@opentelemetry/api` is
 * used: with no SDK registered by the application the span is a no-op. The header is parsed
 * here rather than through the global propagator, because the protocol fixes the format (W3C)
 * and an application may register another propagator for its own traffic.
 */
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Context, trace } from "@opentelemetry/api";
import type { Call } from "../gen/aworld/runtime/v1/worker_service_pb.js";

const tracer = trace.getTracer("@aworld-runtime/sdk");
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The context the call's `traceparent` header carries; the root context without one. */
export function callerContext(headers: Readonly<Record<string, string>>): Context {
  const match = TRACEPARENT.exec((headers.traceparent ?? "").trim().toLowerCase());
  if (match === null) return ROOT_CONTEXT;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    isRemote: true,
  });
}

/** Run one call attempt inside its span; `failed` tells whether the outcome is a failure. */
export async function withCallSpan<T>(
  call: Call,
  workerId: string,
  run: () => Promise<T>,
  failed: (outcome: T) => string | undefined,
): Promise<T> {
  return tracer.startActiveSpan(
    "worker_call",
    {
      kind: SpanKind.SERVER,
      attributes: {
        "aworld.handler": call.handler,
        "aworld.call_id": call.callId,
        "aworld.attempt": call.attempt,
        "aworld.task_id": call.taskId,
        "aworld.worker_id": workerId,
        "aworld.sdk": "typescript",
      },
    },
    callerContext(call.headers),
    async (span: Span) => {
      try {
        const outcome = await run();
        const failure = failed(outcome);
        if (failure !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
        return outcome;
      } finally {
        span.end();
      }
    },
  );
}
