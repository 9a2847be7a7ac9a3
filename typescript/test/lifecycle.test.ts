/**
 * The worker's life: it reconnects when the server dies and a new one starts on the same
 * port, keeps to its concurrency limit, and stops gracefully (in-flight calls finish first,
 * or are aborted after the grace period).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { CallCancelledError, Client, type Logger, Worker, tool } from "../src/index.js";
import { deferred, eventually, killAll, startServer, within } from "./support/server.js";

const quiet: Logger = { info() {}, warn() {} };
const echo = tool({ name: "ts_echo", handler: (input: unknown) => input });

describe("worker lifecycle", () => {
  after(killAll);

  test("the worker reconnects when a new server starts on the port of a dead one", async () => {
    const first = await startServer();
    const worker = new Worker(first.address, [echo], {
      logger: quiet,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    const serving = worker.run();
    try {
      const id = await within(worker.whenConnected(), "the first connection");
      await first.kill();
      await eventually(() => !worker.connected, "the worker to notice the dead server");

      const second = await startServer({ port: first.port });
      assert.equal(
        await within(worker.whenConnected(), "the reconnection", 20_000),
        id,
        "the worker keeps its id",
      );
      const client = new Client(second.address);
      try {
        assert.deepEqual((await client.invoke("ts_echo", { again: true })).value, { again: true });
        const workers = await client.workers();
        assert.deepEqual(
          workers.map((w) => w.workerId),
          [id],
        );
      } finally {
        client.close();
      }
    } finally {
      await worker.stop();
      await serving;
    }
  });

  test("stop() lets in-flight calls finish and deliver their results", async () => {
    const server = await startServer();
    const started = deferred();
    const release = deferred();
    const gate = tool({
      name: "ts_gate",
      handler: async () => {
        started.resolve();
        await release.promise;
        return "released";
      },
    });
    const worker = new Worker(server.address, [gate], { logger: quiet });
    const serving = worker.run();
    const client = new Client(server.address);
    try {
      await within(worker.whenConnected(), "the connection");
      const call = client.invoke("ts_gate", {});
      await within(started.promise, "the call to start");
      const stopping = worker.stop();
      release.resolve();
      assert.equal((await within(call, "the call's result")).value, "released");
      await within(stopping, "stop() to return");
      await serving;
      assert.equal(worker.connected, false);
      await eventually(async () => (await client.workers()).length === 0, "the server to drop the worker");
    } finally {
      await worker.stop();
      client.close();
    }
  });

  test("stop({ graceMs }) aborts calls that outlast the grace period", async () => {
    const server = await startServer();
    const started = deferred();
    const aborted = deferred<unknown>();
    const stuck = tool({
      name: "ts_stuck",
      handler: (_input: unknown, context) =>
        new Promise((_, reject) => {
          context.signal.addEventListener("abort", () => {
            aborted.resolve(context.signal.reason);
            reject(context.signal.reason);
          });
          started.resolve();
        }),
    });
    const worker = new Worker(server.address, [stuck], { logger: quiet });
    const serving = worker.run();
    const client = new Client(server.address);
    try {
      await within(worker.whenConnected(), "the connection");
      const call = client.invoke("ts_stuck", {}, { handlerTimeoutMs: 3000 });
      await within(started.promise, "the call to start");
      await within(worker.stop({ graceMs: 100 }), "stop() to return");
      await serving;
      const reason = await within(aborted.promise, "the handler's signal");
      assert.ok(reason instanceof CallCancelledError);
      assert.ok((await within(call, "the call to end")).failure, "the call failed on the server");
    } finally {
      await worker.stop();
      client.close();
    }
  });

  test("no more than maxConcurrency calls run at once", async () => {
    const server = await startServer();
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const slow = tool({
      name: "ts_slow",
      handler: async ({ n }: { n: number }) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running -= 1;
        return n;
      },
    });
    const worker = new Worker(server.address, [slow], { logger: quiet, maxConcurrency: 2 });
    const serving = worker.run();
    const client = new Client(server.address);
    try {
      await within(worker.whenConnected(), "the connection");
      const calls = [1, 2, 3, 4, 5].map((n) => client.invoke("ts_slow", { n }));
      // Release calls one at a time as they arrive, until all five have run.
      for (let released = 0; released < 5; released += 1) {
        await eventually(() => releases.length > 0, "a call to be running");
        assert.ok(running <= 2, `running ${running}`);
        releases.shift()!();
      }
      const values = (await within(Promise.all(calls), "all calls")).map((r) => r.value);
      assert.deepEqual(values.sort(), [1, 2, 3, 4, 5]);
      assert.equal(peak, 2, "two ran together, never more");
    } finally {
      await worker.stop();
      await serving;
      client.close();
    }
  });
});
