package aworld

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"gopkg.in/yaml.v3"

	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

// TaskFromJSON reads a task in the task-file format the CLI and every SDK read: the protobuf
// JSON mapping of aworld.runtime.v1.Task (camelCase or snake_case names), where a Payload
// field (input, a model's options, ...) may also be a plain value — a string becomes a text
// payload, anything else a JSON payload.
//
//	task, err := aworld.TaskFromJSON([]byte(`{"input": "hi", "swarm": {"agents": [...]}}`))
func TaskFromJSON(data []byte) (*Task, error) {
	var plain any
	if err := json.Unmarshal(data, &plain); err != nil {
		return nil, fmt.Errorf("aworld: task is not valid JSON: %w", err)
	}
	return taskFromPlain(plain)
}

// TaskFromYAML reads a task in the task-file format (see [TaskFromJSON]) written as YAML.
func TaskFromYAML(data []byte) (*Task, error) {
	var plain any
	if err := yaml.Unmarshal(data, &plain); err != nil {
		return nil, fmt.Errorf("aworld: task is not valid YAML: %w", err)
	}
	return taskFromPlain(plain)
}

func taskFromPlain(plain any) (*Task, error) {
	if _, ok := plain.(map[string]any); !ok {
		return nil, fmt.Errorf("aworld: a task must be an object, not %T", plain)
	}
	task := &Task{}
	expanded, err := json.Marshal(expandPayloads(plain, task.ProtoReflect().Descriptor()))
	if err != nil {
		return nil, fmt.Errorf("aworld: task: %w", err)
	}
	if err := protojson.Unmarshal(expanded, task); err != nil {
		return nil, fmt.Errorf("aworld: not a valid Task: %w", err)
	}
	return task, nil
}

var payloadName = (&runtimev1.Payload{}).ProtoReflect().Descriptor().FullName()

// expandPayloads rewrites plain values in the Payload fields of v (a message of type md, as
// decoded JSON) into the Payload JSON mapping, recursively.
func expandPayloads(v any, md protoreflect.MessageDescriptor) any {
	object, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(object))
	for key, value := range object {
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(key))
		}
		if fd == nil || fd.Message() == nil {
			out[key] = value
			continue
		}
		switch {
		case fd.IsMap():
			if entries, ok := value.(map[string]any); ok && fd.MapValue().Message() != nil {
				expanded := make(map[string]any, len(entries))
				for k, entry := range entries {
					expanded[k] = expandOne(entry, fd.MapValue().Message())
				}
				value = expanded
			}
		case fd.IsList():
			if items, ok := value.([]any); ok {
				expanded := make([]any, len(items))
				for i, item := range items {
					expanded[i] = expandOne(item, fd.Message())
				}
				value = expanded
			}
		default:
			value = expandOne(value, fd.Message())
		}
		out[key] = value
	}
	return out
}

func expandOne(v any, md protoreflect.MessageDescriptor) any {
	if md.FullName() != payloadName {
		return expandPayloads(v, md)
	}
	if v == nil || isPayloadMapping(v) {
		return v
	}
	if s, ok := v.(string); ok {
		return map[string]any{"text": s}
	}
	data, err := json.Marshal(v)
	if err != nil {
		return v // protojson reports the field
	}
	return map[string]any{"json": string(data)}
}

// isPayloadMapping says whether v is already a Payload in the JSON mapping: exactly one of
// json, text and data, and perhaps a media type.
func isPayloadMapping(v any) bool {
	object, ok := v.(map[string]any)
	if !ok {
		return false
	}
	kinds := 0
	for key := range object {
		switch key {
		case "json", "text", "data":
			kinds++
		case "mediaType", "media_type":
		default:
			return false
		}
	}
	return kinds == 1
}
