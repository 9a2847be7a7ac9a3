/**
 * The worker's span per call against the real Python server: a child of the `traceparent` the
 * task carries, recorded by whatever tracer provider the application installed.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { Client, TaskStatus, Worker, terminalResponse, tool } from "../src/index.js";
import { type ServerProcess, killAll, startServer, within } from "./support/server.js";
import { answer, callTool, scriptedTask } from "./support/tasks.js";

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

describe("worker spans", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let server: ServerProcess;
  let client: Client;
  let worker: Worker;
  let serving: Promise<void>;

  before(async () => {
    trace.setGlobalTracerProvider(provider);
    server = await startServer();
    client = new Client(server.address);
    const echo = tool({
      name: "ts_traced",
      description: "Return the input.",
      inputSchema: { type: "object", properties: { x: { type: "integer" } } },
      handler: ({ x }: { x: number }) => x,
    });
    worker = new Worker(server.address, [echo], { logger: { info() {}, warn() {} } });
    serving = worker.run();
    await within(worker.whenConnected(), "the worker to connect");
  });

  after(async () => {
    try {
      await worker?.stop({ graceMs: 1000 });
      await serving;
    } finally {
      client?.close();
      trace.disable();
      await killAll();
    }
  });

  test("each call gets a worker_call span in the caller's trace", async () => {
    const task = scriptedTask(["ts_traced"], [callTool("ts_traced", { x: 7 }), answer("{last_tool_output}")]);
    task.headers = { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` };
    let response;
    for await (const event of client.run(task)) response = terminalResponse(event) ?? response;
    assert.equal(response?.status, TaskStatus.SUCCEEDED);

    const spans = exporter.getFinishedSpans().filter((s) => s.name === "worker_call");
    assert.equal(spans.length, 1);
    const span = spans[0]!;
    assert.equal(span.spanContext().traceId, CALLER_TRACE, "the task's trace continues");
    // The server records no spans here (no SDK), so the Call carries the task's own context.
    assert.equal(span.parentSpanContext?.spanId, CALLER_SPAN);
    assert.equal(span.attributes["aworld.handler"], "ts_traced");
    assert.equal(span.attributes["aworld.sdk"], "typescript");
    assert.equal(span.attributes["aworld.task_id"], response?.id);
  });
});
