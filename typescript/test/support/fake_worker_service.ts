/**
 * A scripted WorkerService (Connect's Node server, gRPC over HTTP/2 on port 0) for protocol
 * tests that the Python server cannot make deterministic: a Call whose deadline no one else
 * enforces, a CallRejected, the exact Hello. Each test drives a session message by message.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  WorkerService,
} from "../../src/index.js";
import { AsyncQueue } from "../../src/internal/queue.js";
import { within } from "./server.js";

type KindName = NonNullable<ConnectRequest["kind"]["case"]>;
type KindValue<K extends KindName> =
  Extract<ConnectRequest["kind"], { case: K }> extends { value: infer V } ? V : never;

export class FakeSession {
  private readonly incoming: AsyncIterator<ConnectRequest>;

  constructor(
    requests: AsyncIterable<ConnectRequest>,
    private readonly outgoing: AsyncQueue<ConnectResponse>,
  ) {
    this.incoming = requests[Symbol.asyncIterator]();
  }

  send(message: MessageInitShape<typeof ConnectResponseSchema>): void {
    this.outgoing.push(create(ConnectResponseSchema, message));
  }

  /** The next message from the worker; undefined when the worker closed its side. */
  async next(): Promise<ConnectRequest | undefined> {
    const result = await within(this.incoming.next(), "a message from the worker");
    return result.done ? undefined : result.value;
  }

  /** Skip messages until one of kind `kind` arrives (heartbeats are skipped unless asked for). */
  async nextOf<K extends KindName>(kind: K): Promise<KindValue<K>> {
    for (;;) {
      const message = await this.next();
      if (message === undefined) throw new Error(`the worker closed the stream before a ${kind}`);
      if (message.kind.case === kind) return message.kind.value as unknown as KindValue<K>;
    }
  }

  /** End the stream from the server's side. */
  end(): void {
    this.outgoing.close();
  }
}

export class FakeWorkerService {
  private readonly sessions = new AsyncQueue<FakeSession>();
  private readonly waiting = this.sessions[Symbol.asyncIterator]();
  private readonly open = new Set<FakeSession>();

  private constructor(private readonly server: http2.Http2Server) {}

  static async start(): Promise<FakeWorkerService> {
    let self: FakeWorkerService | undefined;
    const routes = (router: ConnectRouter): void => {
      router.service(WorkerService, {
        connect: (requests) => {
          const outgoing = new AsyncQueue<ConnectResponse>();
          const session = new FakeSession(requests, outgoing);
          self!.open.add(session);
          self!.sessions.push(session);
          return outgoing;
        },
      });
    };
    const server = http2.createServer(connectNodeAdapter({ routes }));
    self = new FakeWorkerService(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return self;
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next stream a worker opens. */
  async accept(): Promise<FakeSession> {
    const next = await within(this.waiting.next(), "a worker to connect");
    if (next.done) throw new Error("the fake server is closed");
    return next.value;
  }

  async close(): Promise<void> {
    for (const session of this.open) session.end();
    this.sessions.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
