/**
 * `Client`: submit, watch and steer tasks over `RuntimeService`.
 *
 * ```ts
 * const client = new Client("127.0.0.1:50051");
 * const taskId = await client.submit(task);
 * for await (const event of client.events(taskId)) console.log(event.seq, event.body.case);
 * client.close();
 * ```
 *
 * Event streams resume by themselves: when the connection drops mid-stream, the client
 * reconnects and continues after the last seq it delivered, so each event is seen exactly once.
 * A server this client has never reached fails the call at once (UNAVAILABLE, naming the
 * address); once it has answered, streams wait for it across restarts. Breaking out of a `for await` over `run()` or `events()` closes the stream.
 */
import { randomUUID } from "node:crypto";
import { type MessageInitShape, create, isMessage } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type CallOptions, type Client as ConnectClient, createClient } from "@connectrpc/connect";
import {
  type Failure,
  FailureSchema,
  type Payload,
  PayloadSchema,
} from "./gen/aworld/runtime/v1/common_pb.js";
import type { Event } from "./gen/aworld/runtime/v1/event_pb.js";
import { type HandlerInfo, HandlerKind, type WorkerInfo } from "./gen/aworld/runtime/v1/handler_pb.js";
import {
  type GetTaskResponse,
  type GetTaskStateResponse,
  type ListSessionsResponse,
  type ListTasksResponse,
  RuntimeService,
  type SubmitTaskResponse,
} from "./gen/aworld/runtime/v1/runtime_service_pb.js";
import type { Session } from "./gen/aworld/runtime/v1/state_pb.js";
import {
  type TaskResponse,
  TaskResponseSchema,
  type TaskSchema,
  TaskStatus,
} from "./gen/aworld/runtime/v1/task_pb.js";
import type { TrajectoryItem } from "./gen/aworld/runtime/v1/trajectory_pb.js";
import { Code, RuntimeServiceError, toRuntimeServiceError } from "./errors.js";
import { isTerminalEvent, terminalResponse } from "./events.js";
import { backoffDelay, sleep } from "./internal/timing.js";
import { jsonPayload, payloadValue } from "./payload.js";
import { type Connection, type ConnectionOptions, openConnection } from "./transport.js";

/** A task as submitted: the generated `Task` message's init shape (every field optional). */
export type TaskInit = MessageInitShape<typeof TaskSchema>;
/** A failure as given to `completeCallback`: `type` is required by the server. */
export type FailureInit = MessageInitShape<typeof FailureSchema>;

/** Options of every call: cancel it with `signal`, bound it with `timeoutMs`. */
export interface RpcOptions {
  signal?: AbortSignal;
  /** Time limit of this call. Unset: none. */
  timeoutMs?: number;
}

/** Options of mutating calls, which are idempotent on `requestId` (generated when unset). */
export interface MutatingOptions extends RpcOptions {
  requestId?: string;
}

export interface ClientOptions extends ConnectionOptions {
  /**
   * How many times in a row a broken event stream is reopened (with backoff) before the error
   * is raised. Default 10.
   */
  reconnectAttempts?: number;
}

export interface EventsOptions {
  /** Deliver events with seq greater than this. Default 0: from the first event. */
  afterSeq?: bigint | number;
  /** Follow live events until the terminal one. Default true; false stops after the replay. */
  follow?: boolean;
  /** Stops the stream (the iteration then throws a CANCELLED RuntimeServiceError). */
  signal?: AbortSignal;
}

export interface ListTasksOptions extends RpcOptions {
  sessionId?: string;
  userId?: string;
  statuses?: TaskStatus[];
  /** Page size. 0 or unset: 50; the server caps it at 1000. */
  pageSize?: number;
  /** `nextPageToken` of the previous page. Unset: the first page. */
  pageToken?: string;
}

export interface ListSessionsOptions extends RpcOptions {
  userId?: string;
  pageSize?: number;
  pageToken?: string;
}

export interface InvokeOptions extends MutatingOptions {
  /** Handler kind. Default TOOL. */
  kind?: HandlerKind;
  /** Time limit for the handler. Unset: the handler's default timeout. */
  handlerTimeoutMs?: number;
  /** Headers passed to the handler, e.g. `traceparent`. */
  headers?: Record<string, string>;
}

/** The outcome of `invoke`: the handler's output (decoded) or its failure. */
export interface InvokeResult {
  /** The decoded output; undefined on failure. */
  value: unknown;
  /** The output payload as sent; undefined on failure. */
  output: Payload | undefined;
  /** The handler's failure; undefined on success. */
  failure: Failure | undefined;
  /** Attempts made, starting at 1. */
  attempts: number;
}

/** Either a result (any JSON value, or a Payload) or a failure. */
export type CallbackOutcome = { result: unknown } | { failure: FailureInit };

// Transient failures after which a stream is resumed from the last delivered seq.
const RESUMABLE: ReadonlySet<Code> = new Set([Code.Unavailable, Code.Internal, Code.Unknown]);

/** A client for one server. Call `close()` when done, or the HTTP/2 connection stays open. */
export class Client {
  readonly address: string;
  private readonly connection: Connection;
  private readonly rpc: ConnectClient<typeof RuntimeService>;
  private readonly reconnectAttempts: number;
  /**
   * Whether the server ever answered this client: until it has, an unreachable server is
   * reported at once; after, it is waited for (a restart, a dropped connection).
   */
  private reached = false;

  constructor(address: string, options: ClientOptions = {}) {
    this.address = address;
    this.connection = openConnection(address, options);
    this.rpc = createClient(RuntimeService, this.connection.transport);
    this.reconnectAttempts = options.reconnectAttempts ?? 10;
  }

  /** Close the connection; calls and streams still open fail with CANCELLED or UNAVAILABLE. */
  close(): void {
    this.connection.close();
  }

  // -- tasks -------------------------------------------------------------------------------

  /** Submit a task; resolves with its id once the server has it on disk. */
  async submit(task: TaskInit, options: MutatingOptions = {}): Promise<string> {
    return (await this.submitTask(task, options)).taskId;
  }

  /** Submit a task; the full response (task id, session id, whether it was created). */
  submitTask(task: TaskInit, options: MutatingOptions = {}): Promise<SubmitTaskResponse> {
    return this.unary(() =>
      this.rpc.submitTask({ requestId: requestId(options), task }, callOptions(options)),
    );
  }

  /**
   * Submit a task and stream its events until the terminal one. Resumes after drops: the
   * RunTask is retried with the same request id until the task id is known, then the stream
   * continues with StreamEvents after the last seq delivered.
   */
  async *run(task: TaskInit, options: MutatingOptions = {}): AsyncGenerator<Event, void, undefined> {
    const request = { requestId: requestId(options), task };
    let taskId = "";
    let last = 0n;
    let failures = 0;
    const stream = new StreamScope(options.signal);
    try {
      for (;;) {
        try {
          const responses = taskId
            ? this.rpc.streamEvents({ taskId, afterSeq: last }, { signal: stream.signal })
            : this.rpc.runTask(request, { signal: stream.signal });
          for await (const response of responses) {
            const event = response.event;
            this.reached = true;
            if (event === undefined || event.seq <= last) continue; // a replay after re-attaching
            failures = 0;
            taskId = event.taskId;
            last = event.seq;
            yield event;
            if (isTerminalEvent(event)) return;
          }
          return;
        } catch (error) {
          failures = await this.retryOrThrow(error, failures, options.signal);
        }
      }
    } finally {
      stream.close();
    }
  }

  /** Submit a task, wait for it to end and return its final response. */
  async runToCompletion(task: TaskInit, options: MutatingOptions = {}): Promise<TaskResponse> {
    for await (const event of this.run(task, options)) {
      if (isTerminalEvent(event)) {
        return terminalResponse(event) ?? create(TaskResponseSchema, { id: event.taskId });
      }
    }
    throw new RuntimeServiceError(Code.Unknown, "the stream ended without a terminal event");
  }

  /** A task and its current response. NOT_FOUND for unknown ids. */
  get(taskId: string, options: RpcOptions = {}): Promise<GetTaskResponse> {
    return this.unary(() => this.rpc.getTask({ taskId }, callOptions(options)));
  }

  /** One page of tasks, newest first. */
  listTasks(options: ListTasksOptions = {}): Promise<ListTasksResponse> {
    const { sessionId = "", userId = "", statuses = [], pageSize = 0, pageToken = "" } = options;
    return this.unary(() =>
      this.rpc.listTasks({ sessionId, userId, statuses, pageSize, pageToken }, callOptions(options)),
    );
  }

  /**
   * Cancel a task; cancellation reaches its running remote handlers. Resolves with CANCELLED,
   * or the terminal status the task had already reached.
   */
  async cancel(taskId: string, options: MutatingOptions & { reason?: string } = {}): Promise<TaskStatus> {
    const response = await this.unary(() =>
      this.rpc.cancelTask(
        { taskId, reason: options.reason ?? "", requestId: requestId(options) },
        callOptions(options),
      ),
    );
    return response.status;
  }

  /**
   * The task's events after `afterSeq`, then live ones until the terminal event. Reconnects
   * (with backoff) after transient errors and resumes after the last seq delivered, so nothing
   * is skipped or repeated.
   */
  async *events(taskId: string, options: EventsOptions = {}): AsyncGenerator<Event, void, undefined> {
    let last = BigInt(options.afterSeq ?? 0);
    let failures = 0;
    const replayOnly = options.follow === false;
    const stream = new StreamScope(options.signal);
    try {
      for (;;) {
        try {
          const responses = this.rpc.streamEvents({ taskId, afterSeq: last, replayOnly }, { signal: stream.signal });
          for await (const response of responses) {
            this.reached = true;
            const event = response.event;
            if (event === undefined || event.seq <= last) continue;
            failures = 0;
            last = event.seq;
            yield event;
            if (isTerminalEvent(event)) return;
          }
          return;
        } catch (error) {
          failures = await this.retryOrThrow(error, failures, options.signal);
        }
      }
    } finally {
      stream.close();
    }
  }

  /** The task's run-node tree. */
  state(taskId: string, options: RpcOptions = {}): Promise<GetTaskStateResponse> {
    return this.unary(() => this.rpc.getTaskState({ taskId }, callOptions(options)));
  }

  /** The task's trajectory (state, action, reward per step), derived from its events. */
  async trajectory(taskId: string, options: RpcOptions = {}): Promise<TrajectoryItem[]> {
    return (await this.unary(() => this.rpc.getTrajectory({ taskId }, callOptions(options)))).items;
  }

  /** Answer a task waiting in INPUT_REQUIRED with a JSON value (or a Payload). */
  async provideInput(
    taskId: string,
    callbackId: string,
    value: unknown,
    options: MutatingOptions = {},
  ): Promise<TaskStatus> {
    const response = await this.unary(() =>
      this.rpc.provideInput(
        { taskId, callbackId, value: asPayload(value), requestId: requestId(options) },
        callOptions(options),
      ),
    );
    return response.status;
  }

  /** Complete a pending asynchronous call with a result (JSON value or Payload) or a failure. */
  async completeCallback(
    taskId: string,
    callbackId: string,
    outcome: CallbackOutcome,
    options: MutatingOptions = {},
  ): Promise<TaskStatus> {
    const request =
      "failure" in outcome
        ? { taskId, callbackId, requestId: requestId(options), failure: outcome.failure }
        : { taskId, callbackId, requestId: requestId(options), result: asPayload(outcome.result) };
    const response = await this.unary(() => this.rpc.completeCallback(request, callOptions(options)));
    return response.status;
  }

  // -- handlers, workers, sessions ----------------------------------------------------------

  /** Call one handler (local or remote) directly, outside any task. */
  async invoke(name: string, input: unknown = {}, options: InvokeOptions = {}): Promise<InvokeResult> {
    const response = await this.unary(() =>
      this.rpc.invokeHandler(
        {
          requestId: requestId(options),
          name,
          kind: options.kind ?? HandlerKind.TOOL,
          input: asPayload(input ?? {}),
          headers: options.headers ?? {},
          ...(options.handlerTimeoutMs !== undefined && {
            timeout: durationFromMs(options.handlerTimeoutMs),
          }),
        },
        callOptions(options),
      ),
    );
    return {
      value: response.failure === undefined ? payloadValue(response.output) : undefined,
      output: response.output,
      failure: response.failure,
      attempts: response.attempts,
    };
  }

  /** Registered handlers, local and remote; `kind` filters (default: all). */
  async handlers(
    kind: HandlerKind = HandlerKind.UNSPECIFIED,
    options: RpcOptions = {},
  ): Promise<HandlerInfo[]> {
    return (await this.unary(() => this.rpc.listHandlers({ kind }, callOptions(options)))).handlers;
  }

  /** Connected workers; `handlerName` filters (default: all). */
  async workers(handlerName = "", options: RpcOptions = {}): Promise<WorkerInfo[]> {
    return (await this.unary(() => this.rpc.listWorkers({ handlerName }, callOptions(options)))).workers;
  }

  /** A session. NOT_FOUND for unknown ids. */
  async session(sessionId: string, options: RpcOptions = {}): Promise<Session | undefined> {
    return (await this.unary(() => this.rpc.getSession({ sessionId }, callOptions(options)))).session;
  }

  /** One page of sessions, newest first. */
  sessions(options: ListSessionsOptions = {}): Promise<ListSessionsResponse> {
    const { userId = "", pageSize = 0, pageToken = "" } = options;
    return this.unary(() => this.rpc.listSessions({ userId, pageSize, pageToken }, callOptions(options)));
  }

  // -- internals ----------------------------------------------------------------------------

  private async unary<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.reached = true;
      return result;
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** The error to raise for `error`, naming the address when the server could not be reached. */
  private failure(error: unknown): RuntimeServiceError {
    const failure = toRuntimeServiceError(error);
    if (!unreachable(error)) {
      this.reached ||= failure.code !== Code.Unavailable;
      return failure;
    }
    return new RuntimeServiceError(
      Code.Unavailable,
      `cannot reach the server at ${this.address}: ${failure.rawMessage}`,
      [],
      error,
    );
  }

  /**
   * Wait before reopening a broken stream, or throw when it must not be reopened. A server
   * that never answered this client and cannot be reached is reported at once.
   */
  private async retryOrThrow(error: unknown, failures: number, signal: AbortSignal | undefined): Promise<number> {
    const failure = this.failure(error);
    const attempt = failures + 1;
    if (
      !RESUMABLE.has(failure.code) ||
      attempt > this.reconnectAttempts ||
      signal?.aborted ||
      (!this.reached && unreachable(error))
    ) {
      throw failure;
    }
    await sleep(backoffDelay(attempt, 100, 2000, 2), signal);
    return attempt;
  }
}

/**
 * The signal of one generator's streams: aborted when the generator ends, so that a caller who
 * stops iterating closes the HTTP/2 stream at once (Connect's stream iterables have no
 * `return()`), and when the caller's own signal aborts.
 */
class StreamScope {
  private readonly controller = new AbortController();
  private readonly onAbort = () => this.controller.abort(this.outer?.reason);

  constructor(private readonly outer: AbortSignal | undefined) {
    if (outer?.aborted) this.onAbort();
    else outer?.addEventListener("abort", this.onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** End the streams (a no-op for those that ended already). */
  close(): void {
    this.outer?.removeEventListener("abort", this.onAbort);
    this.controller.abort();
  }
}

// Errors of the connection itself, before any request reached a server.
const CONNECT_ERRORS = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

function unreachable(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (CONNECT_ERRORS.has((cause as NodeJS.ErrnoException).code ?? "")) return true;
  }
  return false;
}

function requestId(options: MutatingOptions): string {
  return options.requestId || randomUUID();
}

function callOptions(options: RpcOptions): CallOptions {
  const out: CallOptions = {};
  if (options.signal !== undefined) out.signal = options.signal;
  if (options.timeoutMs !== undefined) out.timeoutMs = options.timeoutMs;
  return out;
}

function asPayload(value: unknown): Payload {
  return isMessage(value, PayloadSchema) ? value : jsonPayload(value);
}
