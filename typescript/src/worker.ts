/**
 * `Worker`: serve TypeScript tools, agents and hooks to an AWorld server over
 * `WorkerService.Connect`.
 *
 * ```ts
 * const worker = new Worker("127.0.0.1:50051", [add, search], { maxConcurrency: 8 });
 * process.once("SIGTERM", () => void worker.stop());
 * await worker.run();
 * ```
 *
 * The worker dials out (so it works behind NAT), declares its handlers in a Hello and runs the
 * calls the server pushes concurrently, at most `maxConcurrency` at once, sending a Heartbeat
 * every interval the server's Welcome asks for. When the stream drops it reconnects with
 * exponential backoff and jitter; calls still running for the dropped stream are aborted,
 * because the server has already given them to another worker. It gives up only when the
 * server refuses the worker itself (INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED,
 * UNIMPLEMENTED) or after `reconnect.maxAttempts` failed connections in a row.
 *
 * Each handler gets a `CallContext` whose `signal` aborts when the server cancels the call,
 * when the call's deadline passes (the worker then reports a DeadlineExceeded failure at once)
 * or when the stream is lost. A thrown error is reported as a Failure with its name, message,
 * stack and cause chain; it is non-retryable when the error has a truthy `nonRetryable`
 * property (see `HandlerError`). Results travel as JSON text in `Payload.json`.
 */
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type Hello,
  HelloSchema,
  WorkerService,
} from "./gen/aworld/runtime/v1/worker_service_pb.js";
import { Code, RuntimeServiceError, toRuntimeServiceError } from "./errors.js";
import { type HandlerDefinition, handlerSpec } from "./handlers.js";
import { AsyncQueue } from "./internal/queue.js";
import { Semaphore } from "./internal/semaphore.js";
import { Session, type WorkerHost, handlerKey } from "./internal/session.js";
import { backoffDelay, sleep } from "./internal/timing.js";
import { type ConnectionOptions, openConnection } from "./transport.js";
import { VERSION } from "./version.js";

/** Where the worker reports what happens to it. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** How the worker paces reconnects. */
export interface ReconnectOptions {
  /** Delay before the first reconnect. Default 200 ms. */
  initialDelayMs?: number;
  /** Upper bound for the delay. Default 10 s. */
  maxDelayMs?: number;
  /** Factor applied to the delay after each failed connection. Default 2. */
  multiplier?: number;
  /** Failed connections in a row before `run()` gives up. 0 (default): never. */
  maxAttempts?: number;
}

export interface WorkerOptions extends ConnectionOptions {
  /** Calls run at once at most. Default 16. */
  maxConcurrency?: number;
  /** Worker id. Empty (default): the server assigns one, which is kept across reconnects. */
  workerId?: string;
  /** Free-form labels (host, version, zone), shown by `Client.workers()`. */
  labels?: Record<string, string>;
  reconnect?: ReconnectOptions;
  /** Default: warnings to stderr, info dropped. */
  logger?: Logger;
}

export interface StopOptions {
  /** How long running calls may take before they are aborted. Unset (default): no limit. */
  graceMs?: number;
}

// The server refused the worker itself: reconnecting would be refused again.
const FATAL: ReadonlySet<Code> = new Set([
  Code.InvalidArgument,
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.Unimplemented,
]);

const defaultLogger: Logger = {
  info: () => {},
  warn: (message) => console.warn(`[aworld worker] ${message}`),
};

interface Running {
  readonly stopping: AbortController;
  readonly done: Promise<void>;
  graceMs: number | undefined;
}

interface Waiter {
  resolve(workerId: string): void;
  reject(error: Error): void;
}

/** Serves `handlers` to the server at `address` ("host:port" or an http(s):// URL). */
export class Worker {
  readonly address: string;
  private readonly options: WorkerOptions;
  private readonly maxConcurrency: number;
  private readonly host: WorkerHost;
  private id: string;
  private running: Running | undefined;
  private session: Session | undefined;
  private waiters: Waiter[] = [];

  constructor(address: string, handlers: HandlerDefinition[], options: WorkerOptions = {}) {
    if (handlers.length === 0) throw new TypeError("a Worker needs at least one handler");
    const maxConcurrency = options.maxConcurrency ?? 16;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
      throw new TypeError("maxConcurrency must be a positive integer");
    }
    const byKey = new Map<string, HandlerDefinition>();
    for (const handler of handlers) {
      const key = handlerKey(handler.kind, handler.name);
      if (byKey.has(key)) throw new TypeError(`handler ${handler.name} given twice`);
      byKey.set(key, handler);
    }
    this.address = address;
    this.options = options;
    this.maxConcurrency = maxConcurrency;
    this.id = options.workerId ?? "";
    this.host = {
      handlers: byKey,
      slots: new Semaphore(maxConcurrency),
      logger: options.logger ?? defaultLogger,
      workerId: () => this.id,
      graceMs: () => this.running?.graceMs,
    };
  }

  /** The id the server knows this worker by; empty until the first Welcome. */
  get workerId(): string {
    return this.id;
  }

  /** True while a stream to the server is open and welcomed. */
  get connected(): boolean {
    return this.session !== undefined;
  }

  /**
   * Resolves with the worker id once the worker is connected (at once if it is now); rejects
   * if `run()` ends first.
   */
  whenConnected(): Promise<string> {
    if (this.session !== undefined) return Promise.resolve(this.id);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Serve until `stop()`, reconnecting whenever the stream drops. Rejects with a
   * RuntimeServiceError when the server refuses the worker (bad Hello, authentication) or when
   * `reconnect.maxAttempts` connections in a row failed.
   */
  async run(): Promise<void> {
    if (this.running !== undefined) throw new Error("Worker.run() is already running");
    const stopping = new AbortController();
    let finish = (): void => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    this.running = { stopping, done, graceMs: undefined };
    const limit = this.options.reconnect?.maxAttempts ?? 0;
    let failures = 0;
    try {
      while (!stopping.signal.aborted) {
        const welcomed = await this.connectOnce(stopping.signal);
        if (stopping.signal.aborted) break;
        failures = welcomed ? 0 : failures + 1;
        if (limit > 0 && failures >= limit) {
          throw new RuntimeServiceError(
            Code.Unavailable,
            `could not connect to ${this.address} ${limit} times in a row`,
          );
        }
        await sleep(this.delay(Math.max(failures, 1)), stopping.signal);
      }
    } finally {
      this.running = undefined;
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) waiter.reject(new Error("the worker stopped before it connected"));
      finish();
    }
  }

  /**
   * Stop gracefully: take no new calls, let running ones finish (for at most `graceMs`, then
   * abort them), send their results, disconnect, and wait until `run()` has returned.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    running.graceMs = options.graceMs;
    running.stopping.abort();
    await running.done;
  }

  // --- internals ---------------------------------------------------------------------------

  private delay(failures: number): number {
    const reconnect = this.options.reconnect ?? {};
    return backoffDelay(
      failures,
      reconnect.initialDelayMs ?? 200,
      reconnect.maxDelayMs ?? 10_000,
      reconnect.multiplier ?? 2,
    );
  }

  private hello(): Hello {
    return create(HelloSchema, {
      workerId: this.id,
      handlers: [...this.host.handlers.values()].map(handlerSpec),
      maxConcurrency: this.maxConcurrency,
      sdk: `typescript/${VERSION}`,
      labels: { ...this.options.labels },
    });
  }

  /** One stream, from Hello to its end. True when the server welcomed the worker. */
  private async connectOnce(stopping: AbortSignal): Promise<boolean> {
    // A fresh connection per attempt keeps the reconnect pace ours, not HTTP/2's.
    const connection = openConnection(this.address, this.options);
    const outbox = new AsyncQueue<ConnectRequest>();
    const stream = new AbortController();
    const abandon = (): void => {
      if (this.session === undefined) stream.abort(); // stopped while still connecting
    };
    stopping.addEventListener("abort", abandon, { once: true });
    let session: Session | undefined;
    outbox.push(create(ConnectRequestSchema, { kind: { case: "hello", value: this.hello() } }));
    try {
      const responses = createClient(WorkerService, connection.transport)
        .connect(outbox, { signal: stream.signal })
        [Symbol.asyncIterator]();
      const first = await responses.next();
      if (first.done) return false;
      if (first.value.kind.case !== "welcome") {
        this.host.logger.warn(`server sent ${first.value.kind.case ?? "nothing"} before Welcome`);
        return false;
      }
      const welcome = first.value.kind.value;
      this.id = welcome.workerId;
      this.host.logger.info(`connected to ${this.address} as worker ${this.id}`);
      session = new Session(this.host, outbox, stream, welcome);
      this.session = session;
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) waiter.resolve(this.id);
      await session.serve(responses, stopping);
      return true;
    } catch (error) {
      const failure = toRuntimeServiceError(error);
      if (FATAL.has(failure.code)) throw failure;
      if (!stopping.aborted) {
        const what = session === undefined ? "cannot connect to" : "stream ended with";
        this.host.logger.warn(`${what} ${this.address}: ${failure.message}`);
      }
      return session !== undefined;
    } finally {
      stopping.removeEventListener("abort", abandon);
      this.session = undefined;
      session?.close();
      outbox.close();
      stream.abort();
      connection.close();
    }
  }
}
