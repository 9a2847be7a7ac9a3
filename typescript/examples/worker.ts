/**
 * A worker process serving TypeScript tools, agents and hooks, as the cross-language tests and the SDK
 * benchmark use it (tests/crosslang, bench/bench_sdks.py). The Go twin is
 * go/cmd/aworld-example-worker and takes the same flags.
 *
 *   node typescript/examples/.build/worker.js --address HOST:PORT \
 *       [--tool NAME=echo|describe|block]... [--agent NAME=review|plan|block]... [--hook NAME=deny]...
 *       [--max-concurrency N] [--quiet]
 *
 * Tools (all declared idempotent, so a call lost with this worker may run again elsewhere):
 * - `echo`: returns its `data` argument unchanged (the benchmark's tool);
 * - `describe`: returns `{lang, pid, attempt, input}`: which process served which attempt;
 * - `block`: runs until the server cancels the call.
 * Agents (remote policies for `AgentSpec.remoteHandler`; all idempotent too):
 * - `review`: answers `typescript reviewed: ` + the observation in upper case;
 * - `plan`: step 1 calls the tool in its `tools` whose name ends with `_describe` with
 *   `{text: observation}`; step 2 answers `typescript planned with ` + the tool's output;
 * - `block`: runs until the server cancels the step (or the test kills the worker).
 * Hooks (`before_tool_call`): `deny` denies every tool call it is asked about.
 *
 * Stdout, one line each, so tests wait on output instead of sleeping: `READY <worker id>`,
 * `STARTED <tool or agent> <call id> <attempt> <pid>`, `CANCELLED <tool> <call id> <attempt>`,
 * `FINISHED <tool> <call id> <attempt>`, `HOOK <hook> <tool> deny` (no per-call lines with
 * `--quiet`). SIGTERM or SIGINT stops the worker gracefully. With `OTEL_EXPORTER_OTLP_ENDPOINT`
 * set, each call's span is exported there (service `aworld-example-worker-ts`).
 */
import { parseArgs } from "node:util";
import { type CallContext, type HandlerDefinition, Worker, agent, hook, tool } from "@aworld-runtime/sdk";
import { startTracing } from "./tracing.js";

const LANG = "typescript";

const { values } = parseArgs({
  options: {
    address: { type: "string" },
    tool: { type: "string", multiple: true, default: [] },
    agent: { type: "string", multiple: true, default: [] },
    hook: { type: "string", multiple: true, default: [] },
    "max-concurrency": { type: "string", default: "16" },
    quiet: { type: "boolean", default: false },
  },
});

const say = values.quiet ? (_line: string) => {} : (line: string) => process.stdout.write(`${line}\n`);

function split(flag: string): [string, string] {
  const at = flag.indexOf("=");
  if (at <= 0) throw new Error(`expected NAME=BEHAVIOUR, got ${flag}`);
  return [flag.slice(0, at), flag.slice(at + 1)];
}

function untilCancelled(ctx: CallContext): Promise<never> {
  return new Promise((_, reject) => {
    const abort = (): void => reject(ctx.signal.reason);
    if (ctx.signal.aborted) abort();
    else ctx.signal.addEventListener("abort", abort, { once: true });
  });
}

function toolFor(name: string, behaviour: string): HandlerDefinition {
  switch (behaviour) {
    case "echo":
      return tool({
        name,
        description: "Return `data` unchanged.",
        inputSchema: { type: "object", properties: { data: { type: "string" } }, required: ["data"] },
        idempotent: true,
        handler: ({ data }: { data: string }) => data,
      });
    case "describe":
      return tool({
        name,
        description: "Say which process served which attempt, with the input.",
        inputSchema: { type: "object" },
        idempotent: true,
        handler: (input: unknown, ctx) => {
          say(`STARTED ${name} ${ctx.callId} ${ctx.attempt} ${process.pid}`);
          const output = { lang: LANG, pid: process.pid, attempt: ctx.attempt, input };
          say(`FINISHED ${name} ${ctx.callId} ${ctx.attempt}`);
          return output;
        },
      });
    case "block":
      return tool({
        name,
        description: "Run until the call is cancelled.",
        inputSchema: { type: "object" },
        idempotent: true,
        handler: async (_input: unknown, ctx) => {
          say(`STARTED ${name} ${ctx.callId} ${ctx.attempt} ${process.pid}`);
          try {
            return await untilCancelled(ctx);
          } finally {
            say(`CANCELLED ${name} ${ctx.callId} ${ctx.attempt}`);
          }
        },
      });
    default:
      throw new Error(`unknown tool behaviour ${behaviour}`);
  }
}

/** One step of a remote agent, as the server sends it; the keys not read here are ignored. */
interface AgentStep {
  step: number;
  observation: string;
  tools: { name: string }[];
}

// Required keys only, no `additionalProperties: false`: the server may send more. The server
// wants one schema text per handler name (and version), and the Go twin's agents may serve the
// same name, so this is, key for key, the schema Go's TypedAgent derives from its struct.
const AGENT_STEP_SCHEMA = {
  properties: {
    observation: { type: "string" },
    step: { type: "integer" },
    tools: {
      items: { properties: { name: { type: "string" } }, required: ["name"], type: "object" },
      type: "array",
    },
  },
  required: ["step", "observation", "tools"],
  type: "object",
};

function agentFor(name: string, behaviour: string): HandlerDefinition {
  const declare = (description: string, handler: (input: AgentStep, ctx: CallContext) => unknown) =>
    agent({ name, description, inputSchema: AGENT_STEP_SCHEMA, idempotent: true, handler });
  switch (behaviour) {
    case "review":
      return declare("Review the observation: upper-case it.", ({ observation }, ctx) => {
        say(`STARTED ${name} ${ctx.callId} ${ctx.attempt} ${process.pid}`);
        return `${LANG} reviewed: ${observation.toUpperCase()}`;
      });
    case "plan":
      return declare("Describe the observation with a *_describe tool, then answer.", (input, ctx) => {
        const { step, observation, tools } = input;
        say(`STARTED ${name} ${ctx.callId} ${ctx.attempt} ${process.pid}`);
        if (step > 1) return `${LANG} planned with ${observation}`;
        const describe = tools.find((t) => t.name.endsWith("_describe"));
        if (!describe) {
          throw new Error(`${name} has no *_describe tool among ${tools.map((t) => t.name).join(", ")}`);
        }
        return {
          content: "",
          tool_calls: [{ name: describe.name, arguments: { text: observation } }],
          usage: { prompt_tokens: 3, completion_tokens: 2 },
        };
      });
    case "block":
      return declare("Run until the step is cancelled.", async (_input, ctx) => {
        say(`STARTED ${name} ${ctx.callId} ${ctx.attempt} ${process.pid}`);
        try {
          return await untilCancelled(ctx);
        } finally {
          say(`CANCELLED ${name} ${ctx.callId} ${ctx.attempt}`);
        }
      });
    default:
      throw new Error(`unknown agent behaviour ${behaviour}`);
  }
}

function hookFor(name: string, behaviour: string): HandlerDefinition {
  if (behaviour !== "deny") throw new Error(`unknown hook behaviour ${behaviour}`);
  return hook({
    name,
    description: "Deny every tool call.",
    hookPoints: ["before_tool_call"],
    handler: ({ tool_name: toolName }: { tool_name?: string }) => {
      say(`HOOK ${name} ${toolName ?? ""} deny`);
      return { permission_decision: "deny", permission_decision_reason: `${name} denies ${toolName ?? "the call"}` };
    },
  });
}

async function main(): Promise<void> {
  if (!values.address) throw new Error("--address HOST:PORT is required");
  const stopTracing = startTracing("aworld-example-worker-ts");
  const handlers = [
    ...(values.tool ?? []).map((flag) => toolFor(...split(flag))),
    ...(values.agent ?? []).map((flag) => agentFor(...split(flag))),
    ...(values.hook ?? []).map((flag) => hookFor(...split(flag))),
  ];
  const worker = new Worker(values.address, handlers, {
    maxConcurrency: Number(values["max-concurrency"] ?? "16"),
    reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void worker.stop());
  const serving = worker.run();
  process.stdout.write(`READY ${await worker.whenConnected()}\n`);
  await serving;
  await stopTracing();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
