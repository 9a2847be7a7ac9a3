package aworld

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

// SchemaFor returns a JSON Schema (as JSON text) of the values encoding/json produces and
// accepts for T, the way [TypedTool] derives a tool's input schema:
//
//   - bool, integers, floats and strings map to boolean, integer, number and string;
//     []byte to a base64 string; time.Time to a date-time string;
//   - slices and arrays to arrays; maps with string keys to objects;
//   - structs to objects with a property per exported field, named by its json tag. A field
//     is required unless it is a pointer or tagged omitempty/omitzero; unknown properties are
//     not allowed. A `description:"..."` tag becomes the property's description;
//   - interfaces, json.RawMessage and other types with their own JSON encoding accept any
//     value.
//
// It returns "" when T is an interface type (any input).
func SchemaFor[T any]() string { return schemaText(typeOf[T](), exact) }

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// inputRule is how a typed handler reads its input, and so what its derived schema says.
type inputRule int

const (
	// exact (tools, [SchemaFor]): struct fields are required unless optional, and unknown
	// properties are refused — a model calling a tool must use its arguments.
	exact inputRule = iota
	// open (agents): fields are required unless optional, unknown properties are ignored. The
	// server sends each step as {agent, step, observation, messages, tools}, and an agent
	// reads the keys it declares, as Python's @agent and TypeScript's agent() do.
	open
	// lenient (hooks, outputs): every field is optional and unknown properties are ignored;
	// a hook reads the parts of the occurrence it cares about.
	lenient
)

// schemaText is the schema of t as JSON text under rule; "" for an interface type.
func schemaText(t reflect.Type, rule inputRule) string {
	if t.Kind() == reflect.Interface {
		return ""
	}
	g := schemaGen{required: rule != lenient, closed: rule == exact, seen: map[reflect.Type]bool{}}
	data, err := json.Marshal(g.schema(t))
	if err != nil {
		return "" // unreachable: the schema holds only maps, slices, strings and bools
	}
	return string(data)
}

type schemaGen struct {
	// required lists the non-optional fields of structs; closed forbids unknown properties.
	required, closed bool
	// seen holds the struct types being described, so recursive types end in {}.
	seen map[reflect.Type]bool
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
	textMarshalType = reflect.TypeFor[encoding.TextMarshaler]()
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType:
		return map[string]any{}
	case t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType):
		return map[string]any{}
	case t.Implements(textMarshalType) || reflect.PointerTo(t).Implements(textMarshalType):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return map[string]any{"type": "object"}
		}
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		return g.object(t)
	}
	return map[string]any{} // interfaces and anything encoding/json handles specially
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	if g.seen[t] {
		return map[string]any{}
	}
	g.seen[t] = true
	defer delete(g.seen, t)
	properties := map[string]any{}
	required := []string{}
	g.fields(t, properties, &required)
	out := map[string]any{"type": "object", "properties": properties}
	if g.closed {
		out["additionalProperties"] = false
	}
	if g.required && len(required) > 0 {
		out["required"] = required
	}
	return out
}

// fields adds t's JSON fields to properties, following encoding/json's rules for names and
// embedded structs.
func (g *schemaGen) fields(t reflect.Type, properties map[string]any, required *[]string) {
	for i := range t.NumField() {
		field := t.Field(i)
		tag := field.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, options, _ := strings.Cut(tag, ",")
		if field.Anonymous && name == "" {
			embedded := field.Type
			if embedded.Kind() == reflect.Pointer {
				embedded = embedded.Elem()
			}
			if embedded.Kind() == reflect.Struct {
				g.fields(embedded, properties, required)
				continue
			}
		}
		if !field.IsExported() {
			continue
		}
		if name == "" {
			name = field.Name
		}
		property := g.schema(field.Type)
		if hasOption(options, "string") {
			property = map[string]any{"type": "string"}
		}
		if description := field.Tag.Get("description"); description != "" {
			property["description"] = description
		}
		properties[name] = property
		optional := field.Type.Kind() == reflect.Pointer ||
			hasOption(options, "omitempty") || hasOption(options, "omitzero")
		if !optional {
			*required = append(*required, name)
		}
	}
}

func hasOption(options, want string) bool {
	for _, option := range strings.Split(options, ",") {
		if option == want {
			return true
		}
	}
	return false
}
