// Public entry point of the TypeScript SDK: the generated contracts (protobuf-es messages and
// service descriptors), the Client, the Worker and the handler declarations.
export * from "./gen/aworld/runtime/v1/common_pb.js";
export * from "./gen/aworld/runtime/v1/event_pb.js";
export * from "./gen/aworld/runtime/v1/handler_pb.js";
export * from "./gen/aworld/runtime/v1/message_pb.js";
export * from "./gen/aworld/runtime/v1/runtime_service_pb.js";
export * from "./gen/aworld/runtime/v1/state_pb.js";
export * from "./gen/aworld/runtime/v1/task_pb.js";
export * from "./gen/aworld/runtime/v1/trajectory_pb.js";
export * from "./gen/aworld/runtime/v1/worker_service_pb.js";

export {
  Client,
  type CallbackOutcome,
  type ClientOptions,
  type EventsOptions,
  type FailureInit,
  type InvokeOptions,
  type InvokeResult,
  type ListSessionsOptions,
  type ListTasksOptions,
  type MutatingOptions,
  type RpcOptions,
  type TaskInit,
} from "./client.js";
export {
  CallCancelledError,
  Code,
  DeadlineExceededError,
  type FieldViolation,
  HandlerError,
  RuntimeServiceError,
  codeName,
} from "./errors.js";
export { eventKind, isTerminalEvent, isTerminalStatus, statusName, terminalResponse } from "./events.js";
export { failureOf } from "./failure.js";
export {
  type CallContext,
  type HandlerDefinition,
  type HandlerFunction,
  type JsonSchema,
  Pending,
  agent,
  handlerSpec,
  hook,
  pending,
  tool,
} from "./handlers.js";
export { bytesPayload, jsonPayload, payloadText, payloadValue, textPayload } from "./payload.js";
export { taskFromJson, taskFromObject, taskFromYaml } from "./taskfile.js";
export type { ConnectionOptions, TlsOptions } from "./transport.js";
export { VERSION } from "./version.js";
export {
  type Logger,
  type ReconnectOptions,
  type StopOptions,
  Worker,
  type WorkerOptions,
} from "./worker.js";
