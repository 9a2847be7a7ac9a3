/**
 * Sends this process's spans (the SDK's `worker_call` spans) to an OTLP collector when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, as an application using the SDK would: the SDK itself
 * only uses `@opentelemetry/api`, and the application picks the exporter. Returns a function
 * that flushes what is still batched. `OTEL_BSP_SCHEDULE_DELAY` (ms) is read here because this
 * SDK version no longer reads it itself.
 */
import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";

export function startTracing(serviceName: string): () => Promise<void> {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return async () => {};
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: endpoint }),
        scheduledDelayMillis: Number(process.env.OTEL_BSP_SCHEDULE_DELAY ?? "5000"),
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  return () => provider.shutdown();
}
