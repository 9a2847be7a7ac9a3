/**
 * One `WorkerService.Connect` stream of a Worker: it dispatches the server's messages, runs
 * calls (each under its own AbortController), sends heartbeats and drains on a graceful stop.
 */
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { type Failure, FailureSchema, PayloadSchema } from "../gen/aworld/runtime/v1/common_pb.js";
import { HandlerKind } from "../gen/aworld/runtime/v1/handler_pb.js";
import {
  type Call,
  type CallCompleted,
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  type Welcome,
} from "../gen/aworld/runtime/v1/worker_service_pb.js";
import { CallCancelledError, DeadlineExceededError } from "../errors.js";
import { failureOf } from "../failure.js";
import { type CallContext, type HandlerDefinition, Pending } from "../handlers.js";
import { jsonPayload, payloadValue, toJson } from "../payload.js";
import type { AsyncQueue } from "./queue.js";
import type { Semaphore } from "./semaphore.js";
import { sleep, whenAborted } from "./timing.js";
import { withCallSpan } from "./tracing.js";

/** What a session needs from its Worker. */
export interface WorkerHost {
  readonly handlers: ReadonlyMap<string, HandlerDefinition>;
  readonly slots: Semaphore;
  readonly logger: { info(message: string): void; warn(message: string): void };
  workerId(): string;
  /** Grace for running calls on stop; undefined waits for them. */
  graceMs(): number | undefined;
}

type Outcome = CallCompleted["outcome"];

interface RunningCall {
  readonly callId: string;
  readonly controller: AbortController;
  done: Promise<void>;
}

const DEFAULT_HEARTBEAT_MS = 5000;
// After a graceful half-close, how long the server may take to end the stream.
const CLOSE_TIMEOUT_MS = 5000;
// setTimeout fires at once for delays longer than this.
const MAX_TIMER_MS = 2 ** 31 - 1;
const ABORTED = Symbol("aborted");

/** The key under which a worker keeps a handler; UNSPECIFIED calls mean TOOL. */
export function handlerKey(kind: HandlerKind, name: string): string {
  return `${kind === HandlerKind.UNSPECIFIED ? HandlerKind.TOOL : kind}/${name}`;
}

export class Session {
  private readonly calls = new Map<string, RunningCall>();
  private readonly heartbeatMs: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private accepting = true;

  constructor(
    private readonly host: WorkerHost,
    private readonly outbox: AsyncQueue<ConnectRequest>,
    private readonly stream: AbortController,
    welcome: Welcome,
  ) {
    const interval = welcome.heartbeatInterval ? durationMs(welcome.heartbeatInterval) : 0;
    this.heartbeatMs = interval > 0 ? interval : DEFAULT_HEARTBEAT_MS;
  }

  /** Handle server messages until the stream ends; a stop request drains first. */
  async serve(responses: AsyncIterator<ConnectResponse>, stopping: AbortSignal): Promise<void> {
    this.heartbeat = setInterval(() => {
      const ids = [...new Set([...this.calls.values()].map((c) => c.callId))].sort();
      this.send({ case: "heartbeat", value: { inFlightCallIds: ids } });
    }, this.heartbeatMs);
    const drain = (): void => void this.drain();
    if (stopping.aborted) drain();
    else stopping.addEventListener("abort", drain, { once: true });
    try {
      for (;;) {
        const next = await responses.next();
        if (next.done) return;
        this.dispatch(next.value);
      }
    } finally {
      stopping.removeEventListener("abort", drain);
    }
  }

  /** The stream is over: abort the calls still running for it, their results would be void. */
  close(): void {
    this.accepting = false;
    clearInterval(this.heartbeat);
    clearTimeout(this.closeTimer);
    for (const call of this.calls.values()) {
      call.controller.abort(new CallCancelledError("the stream to the server was lost"));
    }
  }

  private send(kind: MessageInitShape<typeof ConnectRequestSchema>["kind"]): void {
    this.outbox.push(create(ConnectRequestSchema, { kind }));
  }

  private dispatch(message: ConnectResponse): void {
    const log = this.host.logger;
    switch (message.kind.case) {
      case "call":
        this.start(message.kind.value);
        break;
      case "cancelCall": {
        const { callId, attempt, reason } = message.kind.value;
        const call = this.calls.get(callKey(callId, attempt));
        if (call !== undefined) {
          log.info(`cancelling call ${callId} attempt ${attempt}: ${reason}`);
          call.controller.abort(new CallCancelledError(reason));
        }
        break;
      }
      case "callRejected": {
        const { callId, attempt, reason } = message.kind.value;
        log.warn(`call ${callId} attempt ${attempt} rejected by the server: ${reason}`);
        break;
      }
      default:
        break; // a repeated Welcome, or a kind this SDK does not know yet
    }
  }

  private start(call: Call): void {
    if (!this.accepting) {
      // The handler never ran, so the server may safely run the call elsewhere.
      this.complete(
        call,
        failed(
          create(FailureSchema, {
            type: "WorkerStopping",
            message: "the worker is shutting down",
            source: `worker:${this.host.workerId()}`,
          }),
        ),
      );
      return;
    }
    const key = callKey(call.callId, call.attempt);
    if (this.calls.has(key)) return; // a duplicate push of a running attempt
    const running: RunningCall = {
      callId: call.callId,
      controller: new AbortController(),
      done: Promise.resolve(),
    };
    this.calls.set(key, running);
    running.done = this.run(call, running.controller)
      .catch((error: unknown) =>
        this.host.logger.warn(`call ${call.callId} failed in the SDK: ${String(error)}`),
      )
      .finally(() => this.calls.delete(key));
  }

  private async run(call: Call, controller: AbortController): Promise<void> {
    if (!(await this.host.slots.acquire(controller.signal))) return;
    let outcome: Outcome | undefined;
    try {
      outcome = await withCallSpan(
        call,
        this.host.workerId(),
        () => this.invoke(call, controller),
        (done) => (done?.case === "failure" ? done.value.type : undefined),
      );
    } finally {
      this.host.slots.release();
    }
    // Cancelled (CancelCall, lost stream, stop): report nothing, the server gave up on it.
    if (outcome !== undefined) this.complete(call, outcome);
  }

  private complete(call: Call, outcome: Outcome): void {
    this.send({ case: "callCompleted", value: { callId: call.callId, attempt: call.attempt, outcome } });
  }

  /** Run one attempt; undefined when it was cancelled and nothing must be reported. */
  private async invoke(call: Call, controller: AbortController): Promise<Outcome | undefined> {
    const source = `worker:${this.host.workerId()}`;
    const definition = this.host.handlers.get(handlerKey(call.kind, call.handler));
    if (definition === undefined) {
      return failed(
        create(FailureSchema, {
          type: "NotFound",
          message: `this worker does not serve ${call.handler}`,
          source,
        }),
      );
    }
    let input: unknown;
    try {
      input = payloadValue(call.input);
    } catch (error) {
      return failed(failureOf(error, source, { type: "InvalidInput", nonRetryable: true }));
    }
    const deadline = call.deadline ? timestampDate(call.deadline) : undefined;
    const remaining = deadline === undefined ? Infinity : deadline.getTime() - Date.now();
    const timer =
      remaining <= MAX_TIMER_MS
        ? setTimeout(
            () => {
              const message = `${call.handler} did not finish before its deadline`;
              controller.abort(new DeadlineExceededError(message));
            },
            Math.max(0, remaining),
          )
        : undefined;
    const aborted = whenAborted(controller.signal);
    const result = Promise.resolve().then(() =>
      definition.handler(input, this.context(call, deadline, controller)),
    );
    result.catch(() => {}); // failing after the abort is not an unhandled rejection
    try {
      const value = await Promise.race([result, aborted.promise.then(() => ABORTED)]);
      if (value === ABORTED || controller.signal.aborted) {
        return abortedOutcome(controller.signal.reason, definition, source);
      }
      if (value instanceof Pending) return { case: "pendingCallbackId", value: value.callbackId };
      let json: string;
      try {
        json = toJson(value);
      } catch (error) {
        // The same result would fail the same way again.
        return failed(failureOf(error, source, { nonRetryable: true }));
      }
      return { case: "output", value: create(PayloadSchema, { kind: { case: "json", value: json } }) };
    } catch (error) {
      if (controller.signal.aborted) return abortedOutcome(controller.signal.reason, definition, source);
      return failed(failureOf(error, source));
    } finally {
      clearTimeout(timer);
      aborted.dispose();
    }
  }

  private context(call: Call, deadline: Date | undefined, controller: AbortController): CallContext {
    return {
      callId: call.callId,
      attempt: call.attempt,
      handler: call.handler,
      kind: call.kind,
      taskId: call.taskId,
      sessionId: call.sessionId,
      headers: { ...call.headers },
      hookPoint: call.hookPoint,
      deadline,
      workerId: this.host.workerId(),
      signal: controller.signal,
      sendChunk: (value) => {
        if (controller.signal.aborted) return;
        const chunk = jsonPayload(value);
        this.send({ case: "callChunk", value: { callId: call.callId, attempt: call.attempt, chunk } });
      },
    };
  }

  private async drain(): Promise<void> {
    this.accepting = false;
    const running = [...this.calls.values()];
    if (running.length > 0) {
      const all = Promise.all(running.map((c) => c.done));
      const grace = this.host.graceMs();
      if (grace === undefined) {
        await all;
      } else {
        const timer = new AbortController();
        const finished = await Promise.race([
          all.then(() => true),
          sleep(grace, timer.signal).then(() => false),
        ]);
        timer.abort();
        if (!finished) {
          for (const call of running) call.controller.abort(new CallCancelledError("the worker is stopping"));
          await all;
        }
      }
    }
    // The stream's writer sends what is queued, then half-closes; the server ends the stream.
    this.outbox.close();
    this.closeTimer = setTimeout(() => this.stream.abort(), CLOSE_TIMEOUT_MS);
    this.closeTimer.unref();
  }
}

function callKey(callId: string, attempt: number): string {
  return `${callId}#${attempt}`;
}

function failed(failure: Failure): Outcome {
  return { case: "failure", value: failure };
}

function abortedOutcome(reason: unknown, definition: HandlerDefinition, source: string): Outcome | undefined {
  if (!(reason instanceof DeadlineExceededError)) return undefined;
  // Like the server's own timeout: the handler may have had effects, so only an idempotent
  // handler may run again.
  return failed(
    create(FailureSchema, {
      type: "DeadlineExceeded",
      message: reason.message,
      nonRetryable: !(definition.idempotent ?? false),
      source,
    }),
  );
}
