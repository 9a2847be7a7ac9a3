/**
 * Streams that break mid-way resume after the last seq delivered: each event is seen exactly
 * once. The break is injected by a Connect interceptor in front of the real server, which
 * fails the first stream of a method with UNAVAILABLE after two events.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  Client,
  type Event,
  TaskStatus,
  Worker,
  isTerminalEvent,
  payloadText,
  terminalResponse,
  tool,
} from "../src/index.js";
import { type ServerProcess, killAll, startServer, within } from "./support/server.js";
import { answer, callTool, scriptedTask } from "./support/tasks.js";

/** Breaks the first stream of `method` after `after` messages; counts the breaks. */
function breakFirstStream(
  method: string,
  afterMessages: number,
): { interceptor: Interceptor; breaks: () => number } {
  let breaks = 0;
  const interceptor: Interceptor = (next) => async (request) => {
    const response = await next(request);
    if (!response.stream || request.method.name !== method || breaks > 0) return response;
    breaks += 1;
    const messages = response.message;
    async function* broken(): AsyncGenerator<typeof messages extends AsyncIterable<infer M> ? M : never> {
      let count = 0;
      for await (const message of messages) {
        yield message;
        count += 1;
        if (count === afterMessages) throw new ConnectError("injected connection drop", Code.Unavailable);
      }
    }
    return { ...response, message: broken() };
  };
  return { interceptor, breaks: () => breaks };
}

function assertContiguous(events: Event[]): void {
  assert.deepEqual(
    events.map((e) => e.seq),
    events.map((_, i) => BigInt(i + 1)),
    "every seq once, in order",
  );
}

describe("stream resumption", () => {
  let server: ServerProcess;
  let worker: Worker;
  let serving: Promise<void>;

  before(async () => {
    server = await startServer();
    worker = new Worker(server.address, [
      tool({ name: "ts_double", handler: ({ x }: { x: number }) => 2 * x }),
    ]);
    serving = worker.run();
    await within(worker.whenConnected(), "the worker to connect");
  });

  after(async () => {
    try {
      await worker?.stop();
      await serving;
    } finally {
      await killAll();
    }
  });

  const task = () =>
    scriptedTask(["ts_double"], [callTool("ts_double", { x: 21 }), answer("{last_tool_output}")]);

  test("events() resumes after the last seq when the stream drops", async () => {
    const plain = new Client(server.address);
    const drop = breakFirstStream("StreamEvents", 2);
    const flaky = new Client(server.address, { interceptors: [drop.interceptor] });
    try {
      const taskId = await plain.submit(task());
      const events: Event[] = [];
      for await (const event of flaky.events(taskId)) events.push(event);
      assert.equal(drop.breaks(), 1, "the stream was broken once");
      assertContiguous(events);
      assert.ok(isTerminalEvent(events.at(-1)!));
      assert.equal(terminalResponse(events.at(-1)!)?.status, TaskStatus.SUCCEEDED);
    } finally {
      plain.close();
      flaky.close();
    }
  });

  test("run() continues with the task's events when the RunTask stream drops", async () => {
    const drop = breakFirstStream("RunTask", 2);
    const client = new Client(server.address, { interceptors: [drop.interceptor] });
    try {
      const events: Event[] = [];
      for await (const event of client.run(task())) events.push(event);
      assert.equal(drop.breaks(), 1);
      assertContiguous(events);
      assert.equal(payloadText(terminalResponse(events.at(-1)!)?.answer), "42");
      const tasks = await client.listTasks({ pageSize: 1000 });
      assert.equal(tasks.tasks.filter((t) => t.id === events[0]!.taskId).length, 1, "one task, not two");
    } finally {
      client.close();
    }
  });

  test("errors that resuming cannot fix are raised at once", async () => {
    const client = new Client(server.address);
    try {
      await assert.rejects(
        async () => {
          for await (const _ of client.events("no-such-task")) {
            // nothing
          }
        },
        (error: unknown) => error instanceof Error && "code" in error && error.code === Code.NotFound,
      );
    } finally {
      client.close();
    }
  });
});
