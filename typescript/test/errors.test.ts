/** Errors as a TypeScript user sees them: status codes, field violations, authentication. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, Code, RuntimeServiceError, Worker, textPayload, tool } from "../src/index.js";
import { type ServerProcess, killAll, startServer, within } from "./support/server.js";

describe("errors", () => {
  let server: ServerProcess;
  let secured: ServerProcess;
  const token = "s3cret-token";

  before(async () => {
    [server, secured] = await Promise.all([startServer(), startServer({ token })]);
  });

  after(killAll);

  test("an unknown task is NOT_FOUND", async () => {
    const client = new Client(server.address);
    try {
      await assert.rejects(client.get("no-such-task"), (error: unknown) => {
        assert.ok(error instanceof RuntimeServiceError);
        assert.equal(error.code, Code.NotFound);
        assert.equal(error.codeName, "NOT_FOUND");
        return true;
      });
    } finally {
      client.close();
    }
  });

  test("an invalid task is INVALID_ARGUMENT with its field violations", async () => {
    const client = new Client(server.address);
    try {
      await assert.rejects(client.submit({ input: textPayload("") }), (error: unknown) => {
        assert.ok(error instanceof RuntimeServiceError);
        assert.equal(error.code, Code.InvalidArgument);
        const fields = error.violations.map((v) => v.field);
        assert.ok(fields.includes("task.input"), `violations: ${JSON.stringify(error.violations)}`);
        return true;
      });
    } finally {
      client.close();
    }
  });

  test("a bearer token is required by a secured server, and accepted", async () => {
    const anonymous = new Client(secured.address);
    const wrong = new Client(secured.address, { token: "wrong" });
    const authorized = new Client(secured.address, { token });
    try {
      for (const client of [anonymous, wrong]) {
        await assert.rejects(client.handlers(), (error: unknown) => {
          assert.ok(error instanceof RuntimeServiceError);
          assert.equal(error.code, Code.Unauthenticated);
          return true;
        });
      }
      assert.ok(Array.isArray(await authorized.handlers()));
    } finally {
      for (const client of [anonymous, wrong, authorized]) client.close();
    }
  });

  test("a worker refused for its credentials stops instead of reconnecting", async () => {
    const echo = tool({ name: "ts_echo", handler: (input: unknown) => input });
    const refused = new Worker(secured.address, [echo], { logger: { info() {}, warn() {} } });
    await within(
      assert.rejects(refused.run(), (error: unknown) => {
        assert.ok(error instanceof RuntimeServiceError);
        assert.equal(error.code, Code.Unauthenticated);
        return true;
      }),
      "run() to reject",
    );

    const accepted = new Worker(secured.address, [echo], { token });
    const serving = accepted.run();
    const client = new Client(secured.address, { token });
    try {
      await within(accepted.whenConnected(), "the authorized worker to connect");
      assert.deepEqual((await client.invoke("ts_echo", { hi: 1 })).value, { hi: 1 });
    } finally {
      await accepted.stop();
      await serving;
      client.close();
    }
  });
});
