/**
 * A client process that submits a task and streams its events to the end, as the
 * cross-language tests use it (tests/crosslang).
 *
 *   node typescript/examples/.build/client.js --address HOST:PORT --tool NAME [--args JSON]
 *
 * The task's scripted agent calls the tool `NAME` with `--args` (default `{}`), then answers
 * `result: <the tool's output>`. Stdout: `TASK <task id>`, then `EVENT <seq> <body kind>` for
 * every event as it arrives, then `DONE <status> <answer>` after the terminal event.
 */
import { parseArgs } from "node:util";
import { Client, TaskStatus, isTerminalEvent, jsonPayload, payloadText, terminalResponse, textPayload } from "@aworld-runtime/sdk";

const { values } = parseArgs({
  options: {
    address: { type: "string" },
    tool: { type: "string" },
    args: { type: "string", default: "{}" },
  },
});

async function main(): Promise<void> {
  if (!values.address || !values.tool) throw new Error("--address and --tool are required");
  const script = [
    { tool_calls: [{ name: values.tool, arguments: JSON.parse(values.args ?? "{}") as unknown }] },
    { content: "result: {last_tool_output}" },
  ];
  const client = new Client(values.address);
  try {
    const taskId = await client.submit({
      name: "typescript-client",
      input: textPayload(`call ${values.tool}`),
      swarm: {
        agents: [
          {
            name: "caller",
            toolNames: [values.tool],
            model: { provider: "scripted", options: jsonPayload({ script }) },
          },
        ],
      },
    });
    process.stdout.write(`TASK ${taskId}\n`);
    for await (const event of client.events(taskId)) {
      process.stdout.write(`EVENT ${event.seq} ${event.body.case}\n`);
      const response = terminalResponse(event);
      if (isTerminalEvent(event) && response) {
        process.stdout.write(`DONE ${TaskStatus[response.status]} ${payloadText(response.answer)}\n`);
      }
    }
  } finally {
    client.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
