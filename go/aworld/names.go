package aworld

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// EventKind names what e records by the message type of its body: "TaskSubmitted",
// "TaskStatusChanged", "ToolCallStarted", "ToolCallFinished", ... (the names the Python and
// TypeScript SDKs use too); "" for an event without a body.
//
//	fmt.Println(event.GetSeq(), aworld.EventKind(event)) // 3 ToolCallStarted
func EventKind(e *Event) string {
	m := e.ProtoReflect()
	field := m.WhichOneof(m.Descriptor().Oneofs().ByName("body"))
	if field == nil {
		return ""
	}
	return string(field.Message().Name())
}

// StatusName is the short name of a task status: "SUCCEEDED", "FAILED", "INPUT_REQUIRED", ...
// (TaskStatus.String() gives the full enum value name, "TASK_STATUS_SUCCEEDED").
func StatusName(s TaskStatus) string {
	return enumName(s.Descriptor(), protoreflect.EnumNumber(s), "TASK_STATUS_")
}

// enumName is the name of n in the enum d without its prefix, or the number for values this
// SDK does not know (proto3 enums are open).
func enumName(d protoreflect.EnumDescriptor, n protoreflect.EnumNumber, prefix string) string {
	if v := d.Values().ByNumber(n); v != nil {
		return strings.TrimPrefix(string(v.Name()), prefix)
	}
	return "UNKNOWN_" + strconv.Itoa(int(n))
}
