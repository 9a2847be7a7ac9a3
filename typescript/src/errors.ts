/**
 * Errors raised by the SDK.
 *
 * ```
 * Error
 * ├── RuntimeServiceError      an RPC failed: gRPC `code`, `message`, field `violations`
 * ├── HandlerError             thrown by handlers to control the reported Failure
 * │                            (type, nonRetryable, details)
 * ├── CallCancelledError       `signal.reason` when the server cancels a call or the stream drops
 * └── DeadlineExceededError    `signal.reason` when a call passes its deadline
 * ```
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryReader } from "@bufbuild/protobuf/wire";

export { Code };

/** One invalid field of a request, from the server's `google.rpc.BadRequest` details. */
export interface FieldViolation {
  /** Path of the field, e.g. `task.input`. */
  field: string;
  /** What is wrong with it. */
  description: string;
}

/** An RPC failed. `code` is the gRPC status code; `violations` lists the invalid fields. */
export class RuntimeServiceError extends Error {
  override name = "RuntimeServiceError";
  /** The gRPC status code (`Code.NotFound`, `Code.InvalidArgument`, ...). */
  readonly code: Code;
  /** The status message as the server sent it. */
  readonly rawMessage: string;
  /** Field violations (INVALID_ARGUMENT only); empty when the server sent none. */
  readonly violations: FieldViolation[];

  constructor(code: Code, message: string, violations: FieldViolation[] = [], cause?: unknown) {
    super(`${codeName(code)}: ${message}`, { cause });
    this.code = code;
    this.rawMessage = message;
    this.violations = violations;
  }

  /** The code's canonical gRPC name, e.g. `"INVALID_ARGUMENT"`. */
  get codeName(): string {
    return codeName(this.code);
  }
}

/**
 * Throw it from a handler to choose what the runtime sees: the Failure `type` (default: the
 * error's name), `nonRetryable` (retrying cannot help) and structured `details`. Any error with
 * a truthy `nonRetryable` property is reported as non-retryable too.
 */
export class HandlerError extends Error {
  override name: string;
  readonly nonRetryable: boolean;
  readonly details: unknown;

  constructor(
    message: string,
    options: { type?: string; nonRetryable?: boolean; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = options.type ?? "HandlerError";
    this.nonRetryable = options.nonRetryable ?? false;
    this.details = options.details;
  }
}

/** Why a handler's AbortSignal fired: the server cancelled the call, or the stream was lost. */
export class CallCancelledError extends Error {
  override name = "CallCancelled";
  constructor(readonly reason: string) {
    super(`the call was cancelled: ${reason || "no reason given"}`);
  }
}

/** Why a handler's AbortSignal fired: the call passed its deadline. */
export class DeadlineExceededError extends Error {
  override name = "DeadlineExceeded";
}

/** The canonical name of a gRPC status code, e.g. `INVALID_ARGUMENT`. */
export function codeName(code: Code): string {
  if (code === Code.Canceled) return "CANCELLED"; // gRPC's spelling
  return (Code[code] ?? `CODE_${code}`).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Wrap any error from a Connect call into a RuntimeServiceError (idempotent). */
export function toRuntimeServiceError(error: unknown): RuntimeServiceError {
  if (error instanceof RuntimeServiceError) return error;
  const connect = ConnectError.from(error);
  return new RuntimeServiceError(connect.code, connect.rawMessage, violationsOf(connect), error);
}

const BAD_REQUEST = "google.rpc.BadRequest";

function violationsOf(error: ConnectError): FieldViolation[] {
  const violations: FieldViolation[] = [];
  for (const detail of error.details) {
    if ("type" in detail && detail.type === BAD_REQUEST) {
      try {
        violations.push(...decodeBadRequest(detail.value));
      } catch {
        // A detail we cannot read must not hide the status itself.
      }
    }
  }
  return violations;
}

// google.rpc.BadRequest is two tiny messages; decoding them with the wire reader avoids
// shipping generated googleapis code for one error detail:
//   BadRequest { repeated FieldViolation field_violations = 1; }
//   FieldViolation { string field = 1; string description = 2; }
function decodeBadRequest(bytes: Uint8Array): FieldViolation[] {
  const out: FieldViolation[] = [];
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) {
      const inner = new BinaryReader(reader.bytes());
      const violation: FieldViolation = { field: "", description: "" };
      while (inner.pos < inner.len) {
        const [innerField, innerType] = inner.tag();
        if (innerField === 1) violation.field = inner.string();
        else if (innerField === 2) violation.description = inner.string();
        else inner.skip(innerType);
      }
      out.push(violation);
    } else {
      reader.skip(wireType);
    }
  }
  return out;
}
