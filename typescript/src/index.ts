// Public entry point of the TypeScript SDK. The client and worker land with the SDK issue;
// for now the package exports the generated contracts.
export * from "./gen/aworld/runtime/v1/common_pb.js";
export * from "./gen/aworld/runtime/v1/event_pb.js";
export * from "./gen/aworld/runtime/v1/handler_pb.js";
export * from "./gen/aworld/runtime/v1/message_pb.js";
export * from "./gen/aworld/runtime/v1/runtime_service_pb.js";
export * from "./gen/aworld/runtime/v1/state_pb.js";
export * from "./gen/aworld/runtime/v1/task_pb.js";
export * from "./gen/aworld/runtime/v1/trajectory_pb.js";
export * from "./gen/aworld/runtime/v1/worker_service_pb.js";
