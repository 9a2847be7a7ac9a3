/** The SDK's own surface, without a server: exports, declarations, failures, payloads. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import * as sdk from "../src/index.js";
import {
  Code,
  HandlerError,
  HandlerKind,
  VERSION,
  codeName,
  failureOf,
  handlerSpec,
  hook,
  jsonPayload,
  payloadText,
  payloadValue,
  textPayload,
  tool,
} from "../src/index.js";

test("the hand-written exports are pinned", () => {
  // Generated contracts are exported too; they are named *Schema, enums, or service names.
  const handWritten = Object.keys(sdk)
    .filter((name) => !name.endsWith("Schema") && !name.startsWith("file_"))
    .filter((name) => !["RuntimeService", "WorkerService", "EngineService"].includes(name))
    .filter((name) => typeof (sdk as Record<string, unknown>)[name] !== "object" || name === "Code")
    .sort();
  assert.deepEqual(handWritten, [
    "CallCancelledError",
    "Client",
    "Code",
    "DeadlineExceededError",
    "HandlerError",
    "Pending",
    "RuntimeServiceError",
    "VERSION",
    "Worker",
    "agent",
    "bytesPayload",
    "codeName",
    "eventKind",
    "failureOf",
    "handlerSpec",
    "hook",
    "isTerminalEvent",
    "isTerminalStatus",
    "jsonPayload",
    "payloadText",
    "payloadValue",
    "pending",
    "statusName",
    "taskFromJson",
    "taskFromObject",
    "taskFromYaml",
    "terminalResponse",
    "textPayload",
    "tool",
  ]);
});

test("VERSION matches package.json", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  assert.equal(VERSION, pkg.version);
});

test("a tool declaration becomes a HandlerSpec", () => {
  const schema = { type: "object", properties: { q: { type: "string" } }, required: ["q"] };
  const spec = handlerSpec(
    tool({
      name: "search.web",
      description: "Search.",
      inputSchema: schema,
      idempotent: true,
      timeoutMs: 1500,
      retryPolicy: { maximumAttempts: 5 },
      handler: ({ q }: { q: string }) => q,
    }),
  );
  assert.equal(spec.kind, HandlerKind.TOOL);
  assert.equal(spec.name, "search.web");
  assert.deepEqual(JSON.parse(spec.inputSchema), schema);
  assert.equal(spec.idempotent, true);
  assert.equal(spec.defaultTimeout?.seconds, 1n);
  assert.equal(spec.defaultTimeout?.nanos, 500_000_000);
  assert.equal(spec.retryPolicy?.maximumAttempts, 5);
  assert.equal(spec.outputSchema, "");
});

test("declarations are checked", () => {
  assert.throws(() => tool({ name: "bad name", handler: () => 1 }), TypeError);
  assert.throws(() => hook({ name: "h", hookPoints: [], handler: () => undefined }), TypeError);
  assert.throws(() => new sdk.Worker("127.0.0.1:1", []), TypeError);
  const t = tool({ name: "t", handler: () => 1 });
  assert.throws(() => new sdk.Worker("127.0.0.1:1", [t, t]), TypeError);
  assert.throws(() => new sdk.Worker("127.0.0.1:1", [t], { maxConcurrency: 0 }), TypeError);
  assert.equal(
    handlerSpec(hook({ name: "h", hookPoints: ["before_tool_call"], handler: () => undefined })).kind,
    HandlerKind.HOOK,
  );
});

test("failures carry the error's type, message, stack, cause and retryability", () => {
  class QuotaError extends Error {}
  const root = new QuotaError("quota");
  const failure = failureOf(
    new HandlerError("gave up", { type: "GaveUp", nonRetryable: true, details: { n: 1 }, cause: root }),
    "worker:w1",
  );
  assert.equal(failure.type, "GaveUp");
  assert.equal(failure.message, "gave up");
  assert.equal(failure.nonRetryable, true);
  assert.equal(failure.source, "worker:w1");
  assert.match(failure.stackTrace, /gave up/);
  assert.deepEqual(payloadValue(failure.details), { n: 1 });
  assert.equal(failure.cause?.type, "QuotaError");
  assert.equal(failure.cause?.nonRetryable, false);

  const flagged = Object.assign(new TypeError("no"), { nonRetryable: true });
  assert.equal(failureOf(flagged).type, "TypeError");
  assert.equal(failureOf(flagged).nonRetryable, true);
  assert.equal(failureOf("a string").type, "string");
});

test("payloads round-trip JSON, text and display text", () => {
  assert.deepEqual(payloadValue(jsonPayload({ a: [1, "x"] })), { a: [1, "x"] });
  assert.equal(payloadValue(jsonPayload(undefined)), null);
  assert.equal(payloadText(jsonPayload("plain")), "plain");
  assert.equal(payloadText(jsonPayload(5)), "5");
  assert.equal(payloadValue(textPayload("hi")), "hi");
  assert.equal(payloadValue(undefined), undefined);
  assert.throws(() => jsonPayload(10n), TypeError);
});

test("status codes have their gRPC names", () => {
  assert.equal(codeName(Code.InvalidArgument), "INVALID_ARGUMENT");
  assert.equal(codeName(Code.Canceled), "CANCELLED");
  assert.equal(codeName(Code.Unauthenticated), "UNAUTHENTICATED");
});
