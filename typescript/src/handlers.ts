/**
 * Declaring handlers in TypeScript: `tool`, `agent` and `hook`.
 *
 * A handler is a function plus what the runtime needs to know about it: a name, a description
 * shown to models, and the JSON Schema of its input. The server validates every input against
 * that schema before the call reaches the worker.
 *
 * ```ts
 * const add = tool({
 *   name: "add",
 *   description: "Add two integers.",
 *   inputSchema: { type: "object", properties: { a: { type: "integer" }, b: { type: "integer" } },
 *                  required: ["a", "b"] },
 *   handler: async ({ a, b }: { a: number; b: number }) => a + b,
 * });
 * ```
 */
import { randomUUID } from "node:crypto";
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { RetryPolicySchema } from "./gen/aworld/runtime/v1/common_pb.js";
import { HandlerKind, type HandlerSpec, HandlerSpecSchema } from "./gen/aworld/runtime/v1/handler_pb.js";

/** What a handler knows about the call it is running. */
export interface CallContext {
  /** Call id, shared by all attempts of one call. */
  readonly callId: string;
  /** Attempt number, starting at 1. */
  readonly attempt: number;
  /** The handler's name and kind. */
  readonly handler: string;
  readonly kind: HandlerKind;
  /** Task and session of the call; empty for direct `invoke` calls. */
  readonly taskId: string;
  readonly sessionId: string;
  /** Headers of the call, including the W3C `traceparent` of the calling span. */
  readonly headers: Readonly<Record<string, string>>;
  /** For hooks: the hook point. Empty otherwise. */
  readonly hookPoint: string;
  /** When the attempt must be finished; undefined when the call has no deadline. */
  readonly deadline: Date | undefined;
  /** The worker's id as the server knows it. */
  readonly workerId: string;
  /**
   * Aborts when the server cancels the call (the task was cancelled), when the deadline
   * passes, or when the worker loses its stream. `signal.reason` is a CallCancelledError or a
   * DeadlineExceededError. Pass it on to `fetch` and friends; whatever the handler returns
   * after it fired is discarded.
   */
  readonly signal: AbortSignal;
  /** Stream a fragment of the output to the server (recorded as a chunk of the call). */
  sendChunk(value: unknown): void;
}

/** The function behind a handler; may be sync or async. */
export type HandlerFunction<I = any, O = unknown> = (input: I, context: CallContext) => O | Promise<O>;

/** A JSON Schema document, as a plain object. */
export type JsonSchema = Record<string, unknown>;

/** Everything a worker needs to serve one handler. */
export interface HandlerDefinition<I = any, O = unknown> {
  /** TOOL, AGENT or HOOK. `tool()`, `agent()` and `hook()` set it. */
  kind: HandlerKind;
  /** Unique per kind across the server; `[A-Za-z0-9_.-]+`. */
  name: string;
  /** What it does; shown to models for tools and agents. */
  description?: string;
  /** JSON Schema of the input. Unset: any input is accepted. */
  inputSchema?: JsonSchema;
  /** JSON Schema of the output. Unset: unspecified. */
  outputSchema?: JsonSchema;
  /** Version of the handler. Unset: unversioned. */
  version?: string;
  /**
   * True when running it twice with the same input has the effect of running it once, so the
   * runtime may retry it after an ambiguous failure (a worker lost mid-call, a deadline).
   */
  idempotent?: boolean;
  /** Time limit per attempt in milliseconds. Unset: the server default (60 s). */
  timeoutMs?: number;
  /** Retry policy for calls to it. Unset: the task's policy. */
  retryPolicy?: MessageInitShape<typeof RetryPolicySchema>;
  /** For hooks: the hook points it serves, e.g. `before_tool_call`. */
  hookPoints?: string[];
  /** The function. */
  handler: HandlerFunction<I, O>;
}

type Declaration<I, O> = Omit<HandlerDefinition<I, O>, "kind" | "hookPoints">;

/** Declare a tool: JSON arguments in, a JSON result out. */
export function tool<I = any, O = unknown>(definition: Declaration<I, O>): HandlerDefinition<I, O> {
  return checked({ ...definition, kind: HandlerKind.TOOL });
}

/**
 * Declare an agent policy, for a swarm member with `remoteHandler` set: each step it gets
 * `{agent, step, observation, messages, tools}` (read the keys you need; give `inputSchema`
 * without `additionalProperties: false`, since the server may add keys) and answers a string
 * (the final answer) or `{content, tool_calls: [{name, arguments}], usage}`.
 */
export function agent<I = any, O = unknown>(definition: Declaration<I, O>): HandlerDefinition<I, O> {
  return checked({ ...definition, kind: HandlerKind.AGENT });
}

/**
 * Declare a hook for `hookPoints`. It receives a description of the occurrence (`point`,
 * `task_id`, `agent`, `tool_name`, `arguments`, `output` ...) and may answer nothing or an
 * object with `updated_input`, `updated_output`, `permission_decision` ("allow" | "deny" |
 * "ask"), `permission_decision_reason` and `system_message`.
 */
export function hook<I = any, O = unknown>(
  definition: Declaration<I, O> & { hookPoints: string[] },
): HandlerDefinition<I, O> {
  if (definition.hookPoints.length === 0) {
    throw new TypeError(`hook ${definition.name} needs at least one hook point`);
  }
  return checked({ ...definition, kind: HandlerKind.HOOK });
}

/**
 * Returned by a handler that will finish later (a long job, a human step): the task waits in
 * INPUT_REQUIRED until someone calls `Client.completeCallback` with this `callbackId`.
 */
export class Pending {
  constructor(readonly callbackId: string = randomUUID()) {}
}

/** Shorthand for `new Pending(callbackId)`. */
export function pending(callbackId?: string): Pending {
  return new Pending(callbackId);
}

/** The HandlerSpec a worker declares for `definition`. */
export function handlerSpec(definition: HandlerDefinition): HandlerSpec {
  return create(HandlerSpecSchema, {
    name: definition.name,
    kind: definition.kind,
    description: definition.description ?? "",
    inputSchema: definition.inputSchema ? JSON.stringify(definition.inputSchema) : "",
    outputSchema: definition.outputSchema ? JSON.stringify(definition.outputSchema) : "",
    version: definition.version ?? "",
    idempotent: definition.idempotent ?? false,
    hookPoints: definition.hookPoints ?? [],
    ...(definition.timeoutMs !== undefined && { defaultTimeout: durationFromMs(definition.timeoutMs) }),
    ...(definition.retryPolicy !== undefined && { retryPolicy: definition.retryPolicy }),
  });
}

const NAME = /^[A-Za-z0-9_.-]+$/;

function checked<I, O>(definition: HandlerDefinition<I, O>): HandlerDefinition<I, O> {
  if (!NAME.test(definition.name)) {
    throw new TypeError(`handler name ${JSON.stringify(definition.name)} must match [A-Za-z0-9_.-]+`);
  }
  if (typeof definition.handler !== "function") {
    throw new TypeError(`handler ${definition.name} needs a handler function`);
  }
  if (definition.timeoutMs !== undefined && !(definition.timeoutMs > 0)) {
    throw new TypeError(`handler ${definition.name}: timeoutMs must be positive`);
  }
  return definition;
}
