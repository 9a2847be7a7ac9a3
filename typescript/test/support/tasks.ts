/** Tasks for the tests: one scripted agent (deterministic, no model) that calls given tools. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type RetryPolicySchema,
  type TaskConfigSchema,
  type TaskInit,
  jsonPayload,
  textPayload,
} from "../../src/index.js";

/** Task fields the tests set besides the agent. */
export interface TaskExtras {
  retryPolicy?: MessageInitShape<typeof RetryPolicySchema>;
  conf?: MessageInitShape<typeof TaskConfigSchema>;
}

/** A script step that calls one tool. */
export function callTool(name: string, args: Record<string, unknown>): Record<string, unknown> {
  return { tool_calls: [{ name, arguments: args }] };
}

/** A final-answer script step; `{last_tool_output}` is replaced by the last tool result. */
export function answer(content: string): Record<string, unknown> {
  return { content };
}

/** A single-agent task whose agent plays `script` and may call `tools`. */
export function scriptedTask(
  tools: string[],
  script: Record<string, unknown>[],
  extra: TaskExtras = {},
): TaskInit {
  return {
    name: "ts-sdk-test",
    input: textPayload("do the thing"),
    swarm: {
      agents: [
        {
          name: "scripted",
          model: { provider: "scripted", options: jsonPayload({ script }) },
          toolNames: tools,
        },
      ],
    },
    ...extra,
  };
}
