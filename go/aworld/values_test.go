package aworld_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aworld-runtime/aworld-runtime/go/aworld"
)

func TestPayloadHelpers(t *testing.T) {
	p := aworld.MustJSON(map[string]int{"a": 1})
	var m map[string]int
	if err := aworld.Decode(p, &m); err != nil || m["a"] != 1 {
		t.Errorf("Decode(JSON) = %v, %v", m, err)
	}
	if got := aworld.AsText(p); got != `{"a":1}` {
		t.Errorf("AsText(JSON object) = %q", got)
	}
	if got := aworld.AsText(aworld.MustJSON("quoted")); got != "quoted" {
		t.Errorf("AsText(JSON string) = %q; want it unquoted", got)
	}
	var s string
	if err := aworld.Decode(aworld.Text("plain"), &s); err != nil || s != "plain" || aworld.AsText(aworld.Text("plain")) != "plain" {
		t.Errorf("Decode(Text) = %q, %v", s, err)
	}
	var v any = "unchanged"
	if err := aworld.Decode(nil, &v); err != nil || v != nil {
		t.Errorf("Decode(nil) = %v, %v; want null", v, err)
	}
	if _, err := aworld.JSON(json.RawMessage(`{bad`)); err == nil {
		t.Error("JSON accepted an invalid RawMessage")
	}
	if _, err := aworld.JSON(make(chan int)); err == nil {
		t.Error("JSON accepted a channel")
	}
	if raw, _ := aworld.JSON(json.RawMessage(`[1, 2]`)); raw.GetJson() != `[1, 2]` {
		t.Errorf("JSON(RawMessage) = %v; want it verbatim", raw)
	}
}

func TestNonRetryableAndFailureErrors(t *testing.T) {
	base := errors.New("root")
	marked := fmt.Errorf("context: %w", aworld.NonRetryable(base))
	if !aworld.IsNonRetryable(marked) || !errors.Is(marked, base) {
		t.Errorf("NonRetryable is not visible through %%w, or hides its cause")
	}
	if aworld.IsNonRetryable(base) || aworld.IsNonRetryable(nil) || aworld.NonRetryable(nil) != nil {
		t.Error("plain errors and nil must be retryable")
	}
	joined := errors.Join(base, aworld.NonRetryable(errors.New("other")))
	if !aworld.IsNonRetryable(joined) {
		t.Error("IsNonRetryable misses a marked error inside errors.Join")
	}
	fail := aworld.Fail("QuotaExceeded", "no quota")
	var fe *aworld.FailureError
	if !errors.As(fail, &fe) || fe.Failure.GetType() != "QuotaExceeded" || fail.Error() != "QuotaExceeded: no quota" || aworld.IsNonRetryable(fail) {
		t.Errorf("Fail = %v", fail)
	}
}

type schemaInput struct {
	City     string            `json:"city" description:"where"`
	Days     int               `json:"days,omitempty"`
	Units    *string           `json:"units"`
	Tags     []string          `json:"tags"`
	Meta     map[string]uint   `json:"meta"`
	When     time.Time         `json:"when"`
	Raw      json.RawMessage   `json:"raw"`
	Skipped  string            `json:"-"`
	internal string            //nolint:unused // unexported fields are not part of the schema
	Nested   struct{ Ok bool } `json:"nested"`
	embedded
}

type embedded struct {
	Extra float64 `json:"extra"`
}

func TestSchemaFor(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal([]byte(aworld.SchemaFor[schemaInput]()), &schema); err != nil {
		t.Fatal(err)
	}
	want := `{"additionalProperties":false,"properties":{"city":{"description":"where","type":"string"},` +
		`"days":{"type":"integer"},"extra":{"type":"number"},"meta":{"additionalProperties":{"minimum":0,"type":"integer"},"type":"object"},` +
		`"nested":{"additionalProperties":false,"properties":{"Ok":{"type":"boolean"}},"required":["Ok"],"type":"object"},` +
		`"raw":{},"tags":{"items":{"type":"string"},"type":"array"},"units":{"type":"string"},` +
		`"when":{"format":"date-time","type":"string"}},"required":["city","tags","meta","when","raw","nested","extra"],"type":"object"}`
	got, _ := json.Marshal(schema)
	if string(got) != want {
		t.Errorf("SchemaFor =\n%s\nwant\n%s", got, want)
	}
	if got := aworld.SchemaFor[any](); got != "" {
		t.Errorf("SchemaFor[any] = %q; want empty (any input)", got)
	}
	type node struct {
		Next *node `json:"next"`
	}
	if got := aworld.SchemaFor[node](); got == "" {
		t.Error("SchemaFor of a recursive type is empty")
	}
}

func TestTypedHookSchemaIsLenient(t *testing.T) {
	hook := aworld.TypedHook("h", []string{"before_tool_call"},
		func(context.Context, *aworld.Call, struct {
			ToolName string `json:"tool_name"`
		}) (any, error) {
			return nil, nil
		})
	if hook.InputSchema != `{"properties":{"tool_name":{"type":"string"}},"type":"object"}` || hook.OutputSchema != "" {
		t.Errorf("hook schemas = %q, %q; want optional fields, extra keys allowed, any output", hook.InputSchema, hook.OutputSchema)
	}
}

func TestTypedAgentSchemaRequiresItsFieldsAndAllowsOthers(t *testing.T) {
	agent := aworld.TypedAgent("a", "",
		func(context.Context, *aworld.Call, struct {
			Observation string `json:"observation"`
			Step        int    `json:"step,omitempty"`
		}) (string, error) {
			return "", nil
		})
	want := `{"properties":{"observation":{"type":"string"},"step":{"type":"integer"}},"required":["observation"],"type":"object"}`
	if agent.InputSchema != want || agent.Kind != aworld.KindAgent {
		t.Errorf("agent input schema = %s; want %s (no additionalProperties: false)", agent.InputSchema, want)
	}
}
