/** TLS: the client and the worker reach a TLS server when given its CA, and only then. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client, RuntimeServiceError, Worker, tool } from "../src/index.js";
import { type ServerProcess, killAll, startServer, within } from "./support/server.js";

/** A self-signed certificate for 127.0.0.1 / localhost, made with the openssl CLI. */
function selfSigned(dir: string): { certFile: string; keyFile: string } | undefined {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        keyFile,
        "-out",
        certFile,
      ],
      { stdio: "ignore" },
    );
    return { certFile, keyFile };
  } catch {
    return undefined;
  }
}

describe("TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "aworld-tls-"));
  const files = selfSigned(dir);
  let server: ServerProcess;

  before(async () => {
    if (files) server = await startServer({ tls: files });
  });

  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    "client and worker work over TLS with the server's CA",
    { skip: files ? false : "no openssl CLI" },
    async () => {
      const ca = readFileSync(files!.certFile);
      const worker = new Worker(server.address, [tool({ name: "ts_tls", handler: () => "secure" })], {
        tls: { ca },
      });
      const serving = worker.run();
      const client = new Client(server.address, { tls: { ca } });
      try {
        await within(worker.whenConnected(), "the TLS worker to connect");
        assert.equal((await client.invoke("ts_tls", {})).value, "secure");
      } finally {
        await worker.stop();
        await serving;
        client.close();
      }
    },
  );

  test(
    "a certificate the client does not trust is refused",
    { skip: files ? false : "no openssl CLI" },
    async () => {
      const client = new Client(server.address, { tls: true });
      try {
        await assert.rejects(client.handlers(), (error: unknown) => {
          assert.ok(error instanceof RuntimeServiceError);
          assert.match(error.message, /certificate/i);
          return true;
        });
      } finally {
        client.close();
      }
    },
  );
});
