/** What a new user meets first: address forms, an unreachable server, readable names, task files. */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import {
  Client,
  Code,
  EventSchema,
  RuntimeServiceError,
  TaskStatus,
  eventKind,
  isTerminalStatus,
  payloadText,
  payloadValue,
  statusName,
  taskFromJson,
  taskFromYaml,
} from "../src/index.js";
import { killAll, startServer, within } from "./support/server.js";
import { answer, callTool, scriptedTask } from "./support/tasks.js";

/** The address of a port nobody listens on any more. */
async function closedAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${address.port}`;
}

describe("usability", () => {
  after(killAll);

  test("breaking out of run() closes the stream at once; the task keeps running", async () => {
    const server = await startServer({ tools: "demo" });
    const signals: AbortSignal[] = [];
    // Records each request's signal: aborting it is what closes the HTTP/2 stream.
    const watch: Interceptor = (next) => (request) => {
      signals.push(request.signal);
      return next(request);
    };
    const client = new Client(server.address, { interceptors: [watch] });
    try {
      const task = scriptedTask(["slow"], [callTool("slow", { seconds: 30 }), answer("done")]);
      let taskId = "";
      for await (const event of client.run(task)) {
        taskId = event.taskId;
        break;
      }
      assert.equal(signals.length, 1);
      assert.ok(signals[0]?.aborted, "the RunTask stream is still open");
      const { response } = await within(client.get(taskId), "GetTask");
      assert.ok(!isTerminalStatus(response?.status ?? TaskStatus.UNSPECIFIED), "the task ended");
    } finally {
      client.close();
    }
  });

  test("the shared address forms are accepted and others rejected at construction", () => {
    for (const address of ["127.0.0.1:50051", "localhost:1", "[::1]:50051", "http://127.0.0.1:1", "https://example.com:443"]) {
      new Client(address).close();
    }
    for (const address of ["localhost", "127.0.0.1:", "ftp://host:1", "http://host:1/path", "host:99999", ""]) {
      assert.throws(() => new Client(address), /invalid server address/, address);
    }
  });

  test("an unreachable server is reported at once, naming the address", async () => {
    const address = `http://${await closedAddress()}`;
    const client = new Client(address);
    try {
      const expectUnreachable = async (what: string, call: () => Promise<unknown>) => {
        const started = performance.now();
        await assert.rejects(call, (error: unknown) => {
          assert.ok(error instanceof RuntimeServiceError, what);
          assert.equal(error.code, Code.Unavailable, what);
          assert.match(error.message, new RegExp(`cannot reach the server at ${address}`), what);
          return true;
        });
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 1000, `${what}: the error took ${elapsed} ms`);
      };
      await expectUnreachable("runToCompletion", () => client.runToCompletion({}));
      await expectUnreachable("events", async () => {
        for await (const _ of client.events("t1")) break;
      });
      await expectUnreachable("get", () => client.get("t1"));
    } finally {
      client.close();
    }
  });

  test("events and statuses have readable names", () => {
    const event = create(EventSchema, {
      seq: 3n,
      body: { case: "statusChanged", value: { status: TaskStatus.SUCCEEDED } },
    });
    assert.equal(eventKind(event), "TaskStatusChanged");
    assert.equal(eventKind(create(EventSchema)), "");
    assert.equal(statusName(TaskStatus.INPUT_REQUIRED), "INPUT_REQUIRED");
    assert.equal(statusName(42 as TaskStatus), "UNKNOWN_42");
  });

  test("tasks load from JSON and YAML with plain payload values", () => {
    const fromJson = taskFromJson(`{"input": "count these words", "swarm": {"agents": [
      {"name": "counter", "toolNames": ["word_count"], "model": {"provider": "scripted",
       "options": {"script": [{"content": "done"}]}}}]}, "headers": {"k": "v"}}`);
    const fromYaml = taskFromYaml(`
input: count these words
swarm:
  agents:
    - name: counter
      tool_names: [word_count]
      model: {provider: scripted, options: {script: [{content: done}]}}
headers: {k: v}
`);
    for (const task of [fromJson, fromYaml]) {
      assert.equal(task.input?.kind.case, "text");
      assert.equal(payloadText(task.input), "count these words");
      const agent = task.swarm?.agents[0];
      assert.deepEqual(agent?.toolNames, ["word_count"]);
      assert.deepEqual(payloadValue(agent?.model?.options), { script: [{ content: "done" }] });
      assert.equal(task.headers.k, "v");
    }
    assert.throws(() => taskFromJson(`{"swarm": {"topology": "STAR"}}`), /not a valid Task/);
    assert.throws(() => taskFromJson(`[1]`), /a task must be an object/);
  });
});
