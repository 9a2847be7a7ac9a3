/**
 * The TypeScript Worker and Client against the real Python server: tools served from
 * TypeScript, called by scripted agents, cancelled, failing, timing out, stopping gracefully.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CallCancelledError,
  type CallContext,
  Client,
  DeadlineExceededError,
  type Event,
  HandlerError,
  HandlerKind,
  TaskStatus,
  Worker,
  agent,
  isTerminalEvent,
  payloadText,
  payloadValue,
  terminalResponse,
  textPayload,
  tool,
} from "../src/index.js";
import { type ServerProcess, deferred, killAll, startServer, within } from "./support/server.js";
import { answer, callTool, scriptedTask } from "./support/tasks.js";

const addSchema = {
  type: "object",
  properties: { a: { type: "integer" }, b: { type: "integer" } },
  required: ["a", "b"],
  additionalProperties: false,
};

describe("TypeScript worker and client against the Python server", () => {
  let server: ServerProcess;
  let client: Client;
  let worker: Worker;
  let serving: Promise<void>;
  const seen: CallContext[] = [];
  const blockStarted = deferred<CallContext>();
  const blockAborted = deferred<unknown>();
  const sleepyAborted = deferred<unknown>();
  let flakyCalls = 0;
  const steps: Record<string, unknown>[] = [];

  const handlers = [
    tool({
      name: "ts_add",
      description: "Add two integers.",
      inputSchema: addSchema,
      idempotent: true,
      handler: ({ a, b }: { a: number; b: number }, context) => {
        seen.push(context);
        return a + b;
      },
    }),
    tool({
      name: "ts_block",
      description: "Run until cancelled.",
      inputSchema: { type: "object", properties: {} },
      handler: (_input: unknown, context) =>
        new Promise((_, reject) => {
          context.signal.addEventListener("abort", () => {
            blockAborted.resolve(context.signal.reason);
            reject(context.signal.reason);
          });
          blockStarted.resolve(context);
        }),
    }),
    tool({
      name: "ts_explode",
      description: "Always fails, and says retrying cannot help.",
      inputSchema: { type: "object", properties: {} },
      handler: () => {
        throw new HandlerError("kaboom", { type: "KaboomError", nonRetryable: true, details: { code: 7 } });
      },
    }),
    tool({
      name: "ts_flaky",
      description: "Fails on the first attempt, succeeds on the next.",
      inputSchema: { type: "object", properties: {} },
      handler: (_input: unknown, context) => {
        flakyCalls += 1;
        if (context.attempt === 1) throw new Error("transient trouble");
        return "recovered";
      },
    }),
    tool({
      name: "ts_sleepy",
      description: "Waits for its signal; declares a short timeout.",
      inputSchema: { type: "object", properties: {} },
      timeoutMs: 300,
      handler: (_input: unknown, context) =>
        new Promise((_, reject) => {
          context.signal.addEventListener("abort", () => {
            sleepyAborted.resolve(context.signal.reason);
            reject(context.signal.reason);
          });
        }),
    }),
    agent({
      name: "ts_reviewer",
      description: "A remote agent: answers its observation, upper-cased.",
      // Only the keys it reads; the server sends the whole step ({agent, step, messages, tools}).
      inputSchema: { type: "object", properties: { observation: { type: "string" } }, required: ["observation"] },
      handler: (input: { observation: string }) => {
        steps.push(input);
        return `reviewed: ${input.observation.toUpperCase()}`;
      },
    }),
  ];

  before(async () => {
    server = await startServer();
    client = new Client(server.address);
    // Quiet: the deadline test makes the server reject a late result, which the worker logs.
    const logger = { info() {}, warn() {} };
    worker = new Worker(server.address, handlers, { labels: { suite: "worker" }, maxConcurrency: 4, logger });
    serving = worker.run();
    await within(worker.whenConnected(), "the worker to connect");
  });

  after(async () => {
    try {
      await worker?.stop({ graceMs: 1000 });
      await serving;
    } finally {
      client?.close();
      await killAll();
    }
  });

  test("the server lists the worker and its handlers with their schemas", async () => {
    const workers = await client.workers("ts_add");
    assert.equal(workers.length, 1);
    assert.equal(workers[0]!.workerId, worker.workerId);
    assert.equal(workers[0]!.sdk, "typescript/0.1.0");
    assert.equal(workers[0]!.maxConcurrency, 4);
    assert.equal(workers[0]!.labels["suite"], "worker");
    const handlers = await client.handlers(HandlerKind.TOOL);
    const add = handlers.find((h) => h.spec?.name === "ts_add");
    assert.ok(add, "ts_add is registered");
    assert.equal(add.local, false);
    assert.equal(add.workerCount, 1);
    assert.deepEqual(JSON.parse(add.spec!.inputSchema), addSchema);
    assert.equal(add.spec!.idempotent, true);
  });

  test("a scripted agent calls the TypeScript tool and answers with its result", async () => {
    const task = scriptedTask(
      ["ts_add"],
      [callTool("ts_add", { a: 2, b: 3 }), answer("the sum is {last_tool_output}")],
    );
    const events: Event[] = [];
    for await (const event of client.run(task)) events.push(event);

    const last = events.at(-1)!;
    assert.ok(isTerminalEvent(last), "the stream ends with the terminal event");
    const response = terminalResponse(last)!;
    assert.equal(response.status, TaskStatus.SUCCEEDED);
    assert.equal(payloadText(response.answer), "the sum is 5");
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => BigInt(i + 1)),
      "seqs start at 1 with no gaps",
    );
    assert.equal(events[0]!.body.case, "taskSubmitted");
    const finished = events.find((e) => e.body.case === "toolCallFinished");
    assert.ok(finished?.body.case === "toolCallFinished");
    assert.equal(payloadValue(finished.body.value.result), 5, "the result travelled as JSON");
    const context = seen.find((c) => c.taskId === last.taskId);
    assert.ok(context, "the handler saw the task id");
    assert.equal(context.attempt, 1);
    assert.equal(context.kind, HandlerKind.TOOL);
    assert.ok(context.deadline instanceof Date);

    const stored = await client.get(last.taskId);
    assert.equal(stored.response?.status, TaskStatus.SUCCEEDED);
  });

  test("events replay after a given seq, without gaps or repeats", async () => {
    const taskId = await client.submit(
      scriptedTask(["ts_add"], [callTool("ts_add", { a: 1, b: 1 }), answer("{last_tool_output}")]),
    );
    const all: Event[] = [];
    for await (const event of client.events(taskId)) all.push(event);
    assert.ok(isTerminalEvent(all.at(-1)!));
    assert.ok(all.length > 4);

    const tail: Event[] = [];
    for await (const event of client.events(taskId, { afterSeq: 3 })) tail.push(event);
    assert.deepEqual(
      tail.map((e) => e.seq),
      all.slice(3).map((e) => e.seq),
    );

    const replay: Event[] = [];
    for await (const event of client.events(taskId, { afterSeq: 0n, follow: false })) replay.push(event);
    assert.equal(replay.length, all.length);
  });

  test("invoke calls the TypeScript tool directly", async () => {
    const result = await client.invoke("ts_add", { a: 20, b: 22 });
    assert.equal(result.failure, undefined);
    assert.equal(result.value, 42);
  });

  test("cancelling the task aborts the handler's AbortSignal", async () => {
    const taskId = await client.submit(
      scriptedTask(["ts_block"], [callTool("ts_block", {}), answer("unreachable")]),
    );
    const context = await within(blockStarted.promise, "ts_block to start");
    assert.equal(context.taskId, taskId);
    assert.equal(context.signal.aborted, false);

    const status = await client.cancel(taskId, { reason: "test cancels" });
    assert.equal(status, TaskStatus.CANCELLED);
    const reason = await within(blockAborted.promise, "the handler's signal to abort");
    assert.ok(reason instanceof CallCancelledError, `aborted with ${String(reason)}`);

    let last: Event | undefined;
    for await (const event of client.events(taskId)) last = event;
    assert.equal(terminalResponse(last!)?.status, TaskStatus.CANCELLED);
  });

  test("a handler that throws: the agent sees the error, marked non-retryable", async () => {
    const task = scriptedTask(
      ["ts_explode"],
      [callTool("ts_explode", {}), answer("tool said: {last_tool_output}")],
    );
    const events: Event[] = [];
    for await (const event of client.run(task)) events.push(event);

    const response = terminalResponse(events.at(-1)!)!;
    assert.equal(response.status, TaskStatus.SUCCEEDED, "a failed tool is an observation, not the end");
    const text = payloadText(response.answer);
    assert.match(text, /KaboomError/);
    assert.match(text, /kaboom/);
    const finished = events.flatMap((e) => (e.body.case === "toolCallFinished" ? [e.body.value] : []));
    assert.equal(finished.length, 1, "non-retryable: one attempt only");
    const failure = finished[0]!.failure!;
    assert.equal(failure.type, "KaboomError");
    assert.equal(failure.nonRetryable, true);
    assert.equal(finished[0]!.willRetry, false);
  });

  test("a plain error is retried under the task's retry policy", async () => {
    const task = scriptedTask(
      ["ts_flaky"],
      [callTool("ts_flaky", {}), answer("flaky said {last_tool_output}")],
      {
        retryPolicy: { maximumAttempts: 3, initialInterval: { nanos: 20_000_000 } },
      },
    );
    const before = flakyCalls;
    const response = await client.runToCompletion(task);
    assert.equal(response.status, TaskStatus.SUCCEEDED);
    assert.equal(payloadText(response.answer), "flaky said recovered");
    assert.equal(flakyCalls - before, 2);
  });

  test("the call deadline aborts the handler and the call fails", async () => {
    const result = await client.invoke("ts_sleepy", {});
    const reason = await within(sleepyAborted.promise, "the deadline to abort the handler");
    // The worker's deadline timer and the server's CancelCall("deadline") fire together;
    // either may win. protocol.test.ts checks the worker's own enforcement alone.
    assert.ok(
      reason instanceof DeadlineExceededError ||
        (reason instanceof CallCancelledError && reason.reason === "deadline"),
      `aborted with ${String(reason)}`,
    );
    assert.ok(result.failure, "the call failed");
    assert.match(result.failure.type, /DeadlineExceeded|AttemptTimedOut/);
    assert.equal(result.value, undefined);
  });

  test("payloads decode to the values the server sent", async () => {
    const result = await client.invoke("ts_add", { a: -1, b: 1 });
    assert.equal(payloadValue(result.output), 0);
  });

  test("an agent() takes the steps of a swarm member, reading the keys it declares", async () => {
    const response = await client.runToCompletion({
      input: textPayload("draft"),
      swarm: { agents: [{ name: "critic", remoteHandler: "ts_reviewer", toolNames: ["ts_add"] }] },
    });
    assert.equal(response.status, TaskStatus.SUCCEEDED);
    assert.equal(payloadText(response.answer), "reviewed: DRAFT");
    // It got the whole step, extra keys included, and its schema let them through.
    const step = steps.at(-1)!;
    assert.equal(step["agent"], "critic");
    assert.equal(step["step"], 1);
    assert.deepEqual(
      (step["tools"] as { name: string }[]).map((t) => t.name),
      ["ts_add"],
    );
    assert.ok(Array.isArray(step["messages"]));
  });
});
