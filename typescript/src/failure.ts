/** Thrown values as `Failure` messages (common.proto), the way every SDK reports them. */
import { create } from "@bufbuild/protobuf";
import { type Failure, FailureSchema } from "./gen/aworld/runtime/v1/common_pb.js";
import { HandlerError } from "./errors.js";
import { jsonPayload } from "./payload.js";

const MAX_CAUSES = 8;

/**
 * Describe a thrown value as a Failure: type (the error's name, or its class name), message,
 * stack trace, `nonRetryable` when the error has a truthy `nonRetryable` property, the details
 * of a HandlerError, and the `cause` chain. `overrides` win over what the error says.
 */
export function failureOf(
  error: unknown,
  source = "",
  overrides: { type?: string; nonRetryable?: boolean } = {},
): Failure {
  return describe(error, source, overrides, 0);
}

function describe(
  error: unknown,
  source: string,
  overrides: { type?: string; nonRetryable?: boolean },
  depth: number,
): Failure {
  if (!(error instanceof Error)) {
    return create(FailureSchema, {
      type: overrides.type ?? (error === null ? "null" : typeof error),
      message: String(error),
      nonRetryable: overrides.nonRetryable ?? false,
      source,
    });
  }
  // `class KaboomError extends Error {}` keeps the name "Error": the class name says more.
  const className = (error.constructor as { name?: string } | undefined)?.name;
  const name = error.name !== "Error" ? error.name : className || "Error";
  const flagged = Boolean((error as { nonRetryable?: unknown }).nonRetryable);
  const failure = create(FailureSchema, {
    type: overrides.type ?? name,
    message: error.message,
    nonRetryable: overrides.nonRetryable ?? flagged,
    stackTrace: error.stack ?? "",
    source,
  });
  if (error instanceof HandlerError && error.details !== undefined) {
    try {
      failure.details = jsonPayload(error.details);
    } catch {
      // Details JSON cannot hold are dropped rather than hiding the failure itself.
    }
  }
  if (error.cause !== undefined && depth < MAX_CAUSES) {
    failure.cause = describe(error.cause, "", {}, depth + 1);
  }
  return failure;
}
