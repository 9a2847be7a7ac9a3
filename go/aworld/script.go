package aworld

// ScriptStep is one reply of a scripted model (provider "scripted", no LLM): either a final
// answer or tool calls. In a reply's text and arguments, "{last_tool_output}" stands for the
// output of the last tool call.
type ScriptStep struct {
	Content   string           `json:"content,omitempty"`
	ToolCalls []ScriptToolCall `json:"tool_calls,omitempty"`
}

// ScriptToolCall is one tool call of a [ScriptStep]; Arguments is encoded as JSON.
type ScriptToolCall struct {
	Name      string `json:"name"`
	Arguments any    `json:"arguments,omitempty"`
}

// Reply is a step that answers with content.
func Reply(content string) ScriptStep { return ScriptStep{Content: content} }

// CallTool is a step that calls one tool with arguments (a struct or a map).
func CallTool(name string, arguments any) ScriptStep {
	return CallTools(ScriptToolCall{Name: name, Arguments: arguments})
}

// CallTools is a step that calls several tools at once.
func CallTools(calls ...ScriptToolCall) ScriptStep { return ScriptStep{ToolCalls: calls} }

// ScriptedModel is a model that replies with steps in turn (repeating the last), for tests,
// demos and examples:
//
//	model := aworld.ScriptedModel(
//		aworld.CallTool("word_count", map[string]string{"text": "the quick brown fox"}),
//		aworld.Reply("{last_tool_output} words"))
//
// It panics when an argument cannot be encoded as JSON, as [MustJSON] does.
func ScriptedModel(steps ...ScriptStep) *ModelConfig {
	return &ModelConfig{Provider: "scripted", Options: MustJSON(map[string]any{"script": steps})}
}
