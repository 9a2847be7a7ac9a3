/**
 * The worker's side of WorkerService.Connect, message by message, against a scripted server:
 * Hello, Welcome, heartbeats, deadlines, results, failures, pending callbacks, chunks and
 * rejections.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  DeadlineExceededError,
  HandlerKind,
  type Logger,
  Worker,
  hook,
  jsonPayload,
  payloadValue,
  pending,
  tool,
} from "../src/index.js";
import { FakeSession, FakeWorkerService } from "./support/fake_worker_service.js";
import { deferred, eventually, within } from "./support/server.js";

describe("WorkerService protocol", () => {
  let fake: FakeWorkerService;
  let worker: Worker;
  let serving: Promise<void>;
  let session: FakeSession;
  const warnings: string[] = [];
  const logger: Logger = { info() {}, warn: (message) => warnings.push(message) };
  // Why each call's signal aborted, by call id.
  const abortReasons = new Map<string, ReturnType<typeof deferred<unknown>>>();
  const abortReason = (callId: string) => {
    if (!abortReasons.has(callId)) abortReasons.set(callId, deferred<unknown>());
    return abortReasons.get(callId)!;
  };

  const handlers = [
    tool({
      name: "wait",
      description: "Waits for its signal.",
      inputSchema: { type: "object" },
      handler: (_input: unknown, context) =>
        new Promise((_, reject) =>
          context.signal.addEventListener("abort", () => {
            abortReason(context.callId).resolve(context.signal.reason);
            reject(context.signal.reason);
          }),
        ),
    }),
    tool({ name: "later", handler: () => pending("cb-1") }),
    tool({
      name: "chatty",
      handler: (input: { parts: string[] }, context) => {
        for (const part of input.parts) context.sendChunk(part);
        return input.parts.join("");
      },
    }),
    tool({ name: "unserialisable", handler: () => 10n }),
    hook({
      name: "audit",
      hookPoints: ["before_tool_call"],
      handler: () => ({ permission_decision: "allow" }),
    }),
  ];

  before(async () => {
    fake = await FakeWorkerService.start();
  });

  after(async () => {
    await fake.close();
  });

  beforeEach(async () => {
    worker = new Worker(fake.address, handlers, { logger, labels: { zone: "test" }, maxConcurrency: 3 });
    serving = worker.run();
    session = await fake.accept();
    const hello = await session.nextOf("hello");
    assert.equal(hello.sdk, "typescript/0.1.0");
    session.send({
      kind: { case: "welcome", value: { workerId: "w-fake", heartbeatInterval: durationFromMs(40) } },
    });
    assert.equal(await within(worker.whenConnected(), "the Welcome"), "w-fake");
  });

  afterEach(async () => {
    session.end();
    await worker.stop({ graceMs: 100 });
    await serving;
  });

  function call(
    callId: string,
    handler: string,
    input: unknown,
    extra: { deadlineMs?: number; kind?: HandlerKind } = {},
  ) {
    session.send({
      kind: {
        case: "call",
        value: {
          callId,
          attempt: 1,
          handler,
          kind: extra.kind ?? HandlerKind.TOOL,
          input: jsonPayload(input),
          ...(extra.deadlineMs !== undefined && { deadline: timestampFromMs(Date.now() + extra.deadlineMs) }),
        },
      },
    });
  }

  test("the Hello declares every handler with its kind, schema and hook points", async () => {
    // The Hello of this test's worker was read in beforeEach; a reconnecting worker sends its id.
    session.end();
    const again = await fake.accept();
    const hello = await again.nextOf("hello");
    assert.equal(hello.workerId, "w-fake");
    assert.equal(hello.maxConcurrency, 3);
    assert.deepEqual(hello.labels, { zone: "test" });
    assert.deepEqual(
      hello.handlers.map((h) => [h.name, h.kind]),
      [
        ["wait", HandlerKind.TOOL],
        ["later", HandlerKind.TOOL],
        ["chatty", HandlerKind.TOOL],
        ["unserialisable", HandlerKind.TOOL],
        ["audit", HandlerKind.HOOK],
      ],
    );
    assert.equal(hello.handlers[0]!.inputSchema, '{"type":"object"}');
    assert.deepEqual(hello.handlers[4]!.hookPoints, ["before_tool_call"]);
    session = again;
    again.send({ kind: { case: "welcome", value: { workerId: "w-fake" } } });
    await within(worker.whenConnected(), "the second Welcome");
  });

  test("heartbeats arrive at the Welcome's interval and list the calls in flight", async () => {
    call("c-wait", "wait", {}, { deadlineMs: 2000 });
    for (;;) {
      const beat = await session.nextOf("heartbeat");
      if (beat.inFlightCallIds.includes("c-wait")) break;
    }
  });

  test("a call past its deadline is aborted and reported as DeadlineExceeded", async () => {
    call("c-late", "wait", {}, { deadlineMs: 100 });
    const completed = await session.nextOf("callCompleted");
    assert.equal(completed.callId, "c-late");
    assert.equal(completed.outcome.case, "failure");
    const failure = completed.outcome.value as { type: string; nonRetryable: boolean; source: string };
    assert.equal(failure.type, "DeadlineExceeded");
    assert.equal(failure.nonRetryable, true, "not idempotent: must not run again");
    assert.equal(failure.source, "worker:w-fake");
    assert.ok((await abortReason("c-late").promise) instanceof DeadlineExceededError);
  });

  test("results, pending callbacks, chunks, hooks and unknown handlers", async () => {
    call("c-chat", "chatty", { parts: ["a", "b"] });
    const chunks: unknown[] = [];
    for (;;) {
      const message = await session.next();
      if (message?.kind.case === "callChunk") chunks.push(payloadValue(message.kind.value.chunk));
      if (message?.kind.case === "callCompleted") {
        assert.equal(message.kind.value.outcome.case, "output");
        assert.equal(payloadValue(message.kind.value.outcome.value as never), "ab");
        break;
      }
    }
    assert.deepEqual(chunks, ["a", "b"]);

    call("c-later", "later", {});
    const later = await session.nextOf("callCompleted");
    assert.deepEqual([later.outcome.case, later.outcome.value], ["pendingCallbackId", "cb-1"]);

    call("c-hook", "audit", { point: "before_tool_call" }, { kind: HandlerKind.HOOK });
    const decided = await session.nextOf("callCompleted");
    assert.deepEqual(payloadValue(decided.outcome.value as never), { permission_decision: "allow" });

    call("c-none", "nope", {});
    const missing = await session.nextOf("callCompleted");
    assert.equal((missing.outcome.value as { type: string }).type, "NotFound");

    call("c-bigint", "unserialisable", {});
    const bad = await session.nextOf("callCompleted");
    assert.equal((bad.outcome.value as { type: string; nonRetryable: boolean }).nonRetryable, true);
  });

  test("a CallRejected is logged", async () => {
    session.send({
      kind: { case: "callRejected", value: { callId: "c-old", attempt: 2, reason: "superseded" } },
    });
    await eventually(
      () => warnings.some((w) => w.includes("c-old") && w.includes("superseded")),
      "the warning",
    );
  });
});
