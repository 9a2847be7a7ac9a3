/**
 * Tasks from plain data: the task-file format the CLI and every SDK read. It is the protobuf
 * JSON mapping of `aworld.runtime.v1.Task` (camelCase or snake_case names), where a Payload
 * field (`input`, a model's `options`, ...) may also be a plain value: a string becomes a text
 * payload, anything else a JSON payload.
 *
 * ```ts
 * const task = taskFromObject({ input: "hi", swarm: { agents: [{ name: "a", model: {
 *   provider: "scripted", options: { script: [{ content: "hello" }] } } }] } });
 * ```
 */
import { type DescField, type DescMessage, type JsonValue, fromJson } from "@bufbuild/protobuf";
import { parse as parseYaml } from "yaml";
import { PayloadSchema } from "./gen/aworld/runtime/v1/common_pb.js";
import { type Task, TaskSchema } from "./gen/aworld/runtime/v1/task_pb.js";

/** A task from plain data in the task-file format; throws a TypeError naming what is wrong. */
export function taskFromObject(data: unknown): Task {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new TypeError(`a task must be an object, not ${Array.isArray(data) ? "an array" : typeof data}`);
  }
  try {
    return fromJson(TaskSchema, expand(data, TaskSchema) as JsonValue);
  } catch (error) {
    throw new TypeError(`not a valid Task: ${(error as Error).message}`, { cause: error });
  }
}

/** A task from JSON text in the task-file format. */
export function taskFromJson(text: string): Task {
  return taskFromObject(JSON.parse(text));
}

/** A task from YAML text in the task-file format. */
export function taskFromYaml(text: string): Task {
  return taskFromObject(parseYaml(text));
}

function expand(value: unknown, message: DescMessage): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const field = message.fields.find((f) => f.jsonName === key || f.name === key);
    out[key] = field === undefined ? item : expandField(item, field);
  }
  return out;
}

function expandField(value: unknown, field: DescField): unknown {
  switch (field.fieldKind) {
    case "message":
      return expandOne(value, field.message);
    case "list":
      return field.listKind === "message" && Array.isArray(value)
        ? value.map((item) => expandOne(item, field.message))
        : value;
    case "map":
      return field.mapKind === "message" && typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandOne(v, field.message)]))
        : value;
    default:
      return value;
  }
}

const PAYLOAD_KINDS = ["json", "text", "data"];
const PAYLOAD_KEYS = new Set([...PAYLOAD_KINDS, "mediaType", "media_type"]);

function expandOne(value: unknown, message: DescMessage): unknown {
  if (message.typeName !== PayloadSchema.typeName) return expand(value, message);
  if (value === null || value === undefined || isPayloadMapping(value)) return value;
  if (typeof value === "string") return { text: value };
  return { json: JSON.stringify(value) };
}

function isPayloadMapping(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.every((k) => PAYLOAD_KEYS.has(k)) && keys.filter((k) => PAYLOAD_KINDS.includes(k)).length === 1;
}
