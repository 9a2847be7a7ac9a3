/**
 * Conformance runner for the TypeScript SDK (see conformance/README.md).
 *
 *   node conformance/runners/typescript/.build/runner.js --address HOST:PORT SCENARIO.json...
 *
 * For each scenario, in order: serve its handlers with a `Worker`, wait until the server lists
 * them, submit its task with a `Client`, follow the task's events to the terminal one
 * (performing the scenario's actions when their event arrives), stop the worker, and print one
 * JSON line `{"scenario": NAME, "events": [...]}` with the scrubbed event log. It uses the SDK
 * as a consumer does, through the package name (build it first: `npm -w typescript run build`).
 */
import { readFileSync } from "node:fs";
import { fromJson, toJson } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import {
  type CallContext,
  Client,
  EventSchema,
  type HandlerDefinition,
  HandlerError,
  TaskSchema,
  Worker,
  hook,
  pending,
  tool,
} from "@aworld-runtime/sdk";

const SCENARIO_TIMEOUT_MS = 30_000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Behaviour {
  return?: Json;
  raise?: { type: string; message?: string; non_retryable?: boolean };
  raise_on_attempts?: number[];
  pending?: { callback_id: string };
  block?: boolean;
}

interface HandlerSpec {
  kind: "tool" | "hook";
  name: string;
  description?: string;
  input_schema?: JsonObject;
  hook_points?: string[];
  idempotent?: boolean;
  behaviour?: Behaviour;
}

interface Action {
  on: string;
  do: "cancel" | "complete_callback";
  reason?: string;
  result?: Json;
}

interface Scenario {
  name: string;
  handlers: HandlerSpec[];
  task: JsonObject;
  actions?: Action[];
}

// --- scrubbing (the rule in conformance/README.md) ---------------------------------------------

const TIME_KEYS = /^(time|deadline|.*At)$/;
const DURATION_KEYS = new Set(["duration", "timeCost"]);
const ID_KEYS = /^(id|.*Id|.*_id)$/;
const DROPPED_KEYS = new Set(["stackTrace"]);
const MIN_EMBEDDED_ID = 8;

function isObject(value: Json): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function decodePayloads(value: Json): Json {
  if (Array.isArray(value)) return value.map(decodePayloads);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) out[key] = decodePayloads(item);
  if (typeof out.json === "string") out.json = decodePayloads(JSON.parse(out.json) as Json);
  return out;
}

function collectIds(value: Json, ids: Map<string, string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectIds(item, ids);
    return;
  }
  if (!isObject(value)) return;
  // Sorted by UTF-16 code units, which for these ASCII keys is the code point order Python
  // and Go sort by.
  for (const key of Object.keys(value).sort()) {
    const item = value[key]!;
    if (typeof item === "string" && item !== "" && ID_KEYS.test(key) && !ids.has(item)) {
      ids.set(item, `<id:${ids.size + 1}>`);
    }
    collectIds(item, ids);
  }
}

function replace(value: Json, ids: Map<string, string>, embedded: string[]): Json {
  if (Array.isArray(value)) return value.map((item) => replace(item, ids, embedded));
  if (typeof value === "string") {
    const whole = ids.get(value);
    if (whole !== undefined) return whole;
    let text = value;
    for (const raw of embedded) if (text.includes(raw)) text = text.split(raw).join(ids.get(raw)!);
    return text;
  }
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (DROPPED_KEYS.has(key)) continue;
    if (TIME_KEYS.test(key) && typeof item === "string") out[key] = "<time>";
    else if (DURATION_KEYS.has(key) && typeof item === "string") out[key] = "<duration>";
    else if (key === "source" && typeof item === "string" && item.startsWith("worker:")) {
      out[key] = "worker:<worker>";
    } else out[key] = replace(item, ids, embedded);
  }
  return out;
}

/** Canonical proto JSON events -> the scrubbed log that every SDK must produce. */
export function scrub(events: Json[]): Json[] {
  const decoded = events.map(decodePayloads);
  const ids = new Map<string, string>();
  collectIds(decoded, ids);
  const embedded = [...ids.keys()]
    .filter((id) => id.length >= MIN_EMBEDDED_ID)
    .sort((a, b) => b.length - a.length);
  return decoded.map((event) => replace(event, ids, embedded));
}

// --- the scenario's handlers, served by the TypeScript SDK -------------------------------------

/** Spec shorthand: `{"json": <non-string>}` is a Payload holding that value's JSON text. */
function encodePayloads(value: Json): Json {
  if (Array.isArray(value)) return value.map(encodePayloads);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) out[key] = encodePayloads(item);
  if ("json" in value && typeof value.json !== "string") out.json = JSON.stringify(value.json);
  return out;
}

async function behave(behaviour: Behaviour, ctx: CallContext): Promise<unknown> {
  const failure = behaviour.raise;
  if (failure && (behaviour.raise_on_attempts ?? [ctx.attempt]).includes(ctx.attempt)) {
    throw new HandlerError(failure.message ?? "", {
      type: failure.type,
      nonRetryable: failure.non_retryable ?? false,
    });
  }
  if (behaviour.pending) return pending(behaviour.pending.callback_id);
  if (behaviour.block) {
    // Until the server cancels the call.
    await new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
    });
  }
  return behaviour.return ?? null;
}

function handler(spec: HandlerSpec): HandlerDefinition {
  const behaviour = spec.behaviour ?? {};
  const common = {
    name: spec.name,
    description: spec.description ?? "",
    ...(spec.input_schema && { inputSchema: spec.input_schema }),
    handler: (_input: unknown, ctx: CallContext) => behave(behaviour, ctx),
  };
  if (spec.kind === "hook") return hook({ ...common, hookPoints: spec.hook_points ?? [] });
  return tool({ ...common, idempotent: spec.idempotent ?? false });
}

// --- running a scenario -------------------------------------------------------------------------

async function waitForWorkers(client: Client, names: string[], signal: AbortSignal): Promise<void> {
  for (const name of names) {
    while ((await client.workers(name, { signal })).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function perform(client: Client, taskId: string, action: Action, body: JsonObject): Promise<void> {
  if (action.do === "cancel") {
    await client.cancel(taskId, { reason: action.reason ?? "" });
  } else if (action.do === "complete_callback") {
    await client.completeCallback(taskId, body.callbackId as string, { result: action.result ?? null });
  } else {
    throw new Error(`unknown action ${JSON.stringify(action)}`);
  }
}

async function runScenario(address: string, spec: Scenario): Promise<Json[]> {
  const worker = new Worker(address, spec.handlers.map(handler));
  const serving = worker.run();
  const client = new Client(address);
  const signal = AbortSignal.timeout(SCENARIO_TIMEOUT_MS);
  const events: Json[] = [];
  try {
    await waitForWorkers(client, spec.handlers.map((h) => h.name), signal);
    const task = fromJson(TaskSchema, encodePayloads(spec.task) as JsonValue);
    const taskId = await client.submit(task, { signal });
    const actions = [...(spec.actions ?? [])];
    for await (const event of client.events(taskId, { signal })) {
      const record = toJson(EventSchema, event) as JsonObject;
      events.push(record);
      for (const action of actions.filter((a) => a.on in record)) {
        actions.splice(actions.indexOf(action), 1);
        await perform(client, taskId, action, record[action.on] as JsonObject);
      }
    }
  } finally {
    client.close();
    await worker.stop();
    await serving;
  }
  return events;
}

async function main(argv: string[]): Promise<void> {
  const at = argv.indexOf("--address");
  if (at < 0 || at + 1 >= argv.length) throw new Error("usage: runner.js --address HOST:PORT SCENARIO.json...");
  const address = argv[at + 1]!;
  const paths = argv.filter((_, i) => i !== at && i !== at + 1);
  for (const path of paths) {
    const spec = JSON.parse(readFileSync(path, "utf8")) as Scenario;
    const events = await runScenario(address, spec);
    process.stdout.write(`${JSON.stringify({ scenario: spec.name, events: scrub(events) })}\n`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
