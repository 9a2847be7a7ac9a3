/**
 * Payloads: the wire form of every value (common.proto). JSON values travel as JSON text in
 * `Payload.json`, so any language reads them and 64-bit integers survive exactly.
 */
import { create } from "@bufbuild/protobuf";
import { type Payload, PayloadSchema } from "./gen/aworld/runtime/v1/common_pb.js";

/** A JSON payload of `value` (`undefined` becomes JSON `null`). */
export function jsonPayload(value: unknown): Payload {
  return create(PayloadSchema, { kind: { case: "json", value: toJson(value) } });
}

/** A plain-text payload. */
export function textPayload(text: string, mediaType = ""): Payload {
  return create(PayloadSchema, { kind: { case: "text", value: text }, mediaType });
}

/** An opaque-bytes payload. */
export function bytesPayload(data: Uint8Array, mediaType = ""): Payload {
  return create(PayloadSchema, { kind: { case: "data", value: data }, mediaType });
}

/**
 * The value a payload holds: parsed JSON, the text, the bytes, or `undefined` when the payload
 * is unset or empty.
 */
export function payloadValue(payload: Payload | undefined): unknown {
  switch (payload?.kind.case) {
    case "json":
      return JSON.parse(payload.kind.value);
    case "text":
    case "data":
      return payload.kind.value;
    default:
      return undefined;
  }
}

/** A payload as display text: text as is, JSON strings unquoted, other JSON as JSON text. */
export function payloadText(payload: Payload | undefined): string {
  switch (payload?.kind.case) {
    case "text":
      return payload.kind.value;
    case "json": {
      const value: unknown = JSON.parse(payload.kind.value);
      return typeof value === "string" ? value : payload.kind.value;
    }
    case "data":
      return new TextDecoder().decode(payload.kind.value);
    default:
      return "";
  }
}

/** JSON text of `value`; throws TypeError for values JSON cannot represent (BigInt, cycles). */
export function toJson(value: unknown): string {
  // JSON.stringify returns undefined for undefined, functions and symbols: send null, as the
  // Python SDK does for None.
  return JSON.stringify(value) ?? "null";
}
