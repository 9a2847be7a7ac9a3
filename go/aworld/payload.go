package aworld

import (
	"encoding/json"
	"errors"
	"fmt"

	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

// Text returns a plain-text payload.
func Text(s string) *Payload {
	return &Payload{Kind: &runtimev1.Payload_Text{Text: s}}
}

// JSON returns a JSON payload of v, encoded with encoding/json. A [json.RawMessage] is used
// as is after checking it is valid JSON; a *Payload is returned unchanged.
func JSON(v any) (*Payload, error) {
	switch v := v.(type) {
	case *Payload:
		return v, nil
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, errors.New("aworld: json.RawMessage is not valid JSON")
		}
		return &Payload{Kind: &runtimev1.Payload_Json{Json: string(v)}}, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("aworld: encode payload: %w", err)
	}
	return &Payload{Kind: &runtimev1.Payload_Json{Json: string(data)}}, nil
}

// MustJSON is like [JSON] but panics when v cannot be encoded. For literals in tests and
// examples.
func MustJSON(v any) *Payload {
	p, err := JSON(v)
	if err != nil {
		panic(err)
	}
	return p
}

// Decode stores the value of p in the value pointed to by v: JSON is decoded with
// encoding/json; text decodes into a *string (or, as a JSON string, into anything that
// accepts one); bytes decode into a *[]byte. A nil or empty payload decodes as JSON null.
func Decode(p *Payload, v any) error {
	switch kind := p.GetKind().(type) {
	case nil:
		return json.Unmarshal([]byte("null"), v)
	case *runtimev1.Payload_Json:
		if err := json.Unmarshal([]byte(kind.Json), v); err != nil {
			return fmt.Errorf("aworld: decode payload: %w", err)
		}
		return nil
	case *runtimev1.Payload_Text:
		if s, ok := v.(*string); ok {
			*s = kind.Text
			return nil
		}
		quoted, _ := json.Marshal(kind.Text)
		if err := json.Unmarshal(quoted, v); err != nil {
			return fmt.Errorf("aworld: decode text payload: %w", err)
		}
		return nil
	case *runtimev1.Payload_Data:
		if b, ok := v.(*[]byte); ok {
			*b = kind.Data
			return nil
		}
		return fmt.Errorf("aworld: decode payload: bytes decode only into *[]byte, not %T", v)
	default:
		return fmt.Errorf("aworld: decode payload: unknown kind %T", kind)
	}
}

// AsText returns p as display text: text as is, a JSON string unquoted, other JSON as its
// JSON text, bytes as UTF-8, and "" for a nil or empty payload.
func AsText(p *Payload) string {
	switch kind := p.GetKind().(type) {
	case *runtimev1.Payload_Text:
		return kind.Text
	case *runtimev1.Payload_Json:
		var s string
		if json.Unmarshal([]byte(kind.Json), &s) == nil {
			return s
		}
		return kind.Json
	case *runtimev1.Payload_Data:
		return string(kind.Data)
	}
	return ""
}

// payloadJSON returns p as JSON text for a handler's input: JSON as is, text as a JSON
// string, and "{}" for a nil or empty payload (the way the Python worker reads it).
func payloadJSON(p *Payload) (json.RawMessage, error) {
	switch kind := p.GetKind().(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case *runtimev1.Payload_Json:
		return json.RawMessage(kind.Json), nil
	case *runtimev1.Payload_Text:
		quoted, err := json.Marshal(kind.Text)
		return quoted, err
	default:
		return nil, fmt.Errorf("a %T payload is not JSON", kind)
	}
}
