// Command aworld-conformance is the conformance runner for the Go SDK (see
// conformance/README.md at the repository root).
//
//	aworld-conformance --address HOST:PORT SCENARIO.json...
//
// For each scenario, in order: serve its handlers with an [aworld.Worker], wait until the
// server lists them, submit its task with an [aworld.Client], follow the task's events to the
// terminal one (performing the scenario's actions when their event arrives), stop the worker,
// and print one JSON line {"scenario": NAME, "events": [...]} with the scrubbed event log.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/aworld-runtime/aworld-runtime/go/aworld"
)

const scenarioTimeout = 30 * time.Second

type behaviour struct {
	Return          json.RawMessage `json:"return"`
	Raise           *raise          `json:"raise"`
	RaiseOnAttempts []int           `json:"raise_on_attempts"`
	Pending         *struct {
		CallbackID string `json:"callback_id"`
	} `json:"pending"`
	Block bool `json:"block"`
}

type raise struct {
	Type         string `json:"type"`
	Message      string `json:"message"`
	NonRetryable bool   `json:"non_retryable"`
}

type handlerSpec struct {
	Kind        string          `json:"kind"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
	HookPoints  []string        `json:"hook_points"`
	Idempotent  bool            `json:"idempotent"`
	Behaviour   behaviour       `json:"behaviour"`
}

type action struct {
	On     string          `json:"on"`
	Do     string          `json:"do"`
	Reason string          `json:"reason"`
	Result json.RawMessage `json:"result"`
}

type scenario struct {
	Name     string          `json:"name"`
	Handlers []handlerSpec   `json:"handlers"`
	Task     json.RawMessage `json:"task"`
	Actions  []action        `json:"actions"`
}

func main() {
	address := flag.String("address", "", "the server, host:port")
	flag.Parse()
	if *address == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: aworld-conformance --address HOST:PORT SCENARIO.json...")
		os.Exit(2)
	}
	for _, path := range flag.Args() {
		if err := runFile(*address, path); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func runFile(address, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec scenario
	if err := json.Unmarshal(raw, &spec); err != nil {
		return err
	}
	events, err := runScenario(address, &spec)
	if err != nil {
		return err
	}
	line, err := json.Marshal(map[string]any{"scenario": spec.Name, "events": scrub(events)})
	if err != nil {
		return err
	}
	_, err = fmt.Printf("%s\n", line)
	return err
}

// --- scrubbing (the rule in conformance/README.md) ---------------------------------------------

var (
	timeKeys      = regexp.MustCompile(`^(time|deadline|.*At)$`)
	durationKeys  = map[string]bool{"duration": true, "timeCost": true}
	idKeys        = regexp.MustCompile(`^(id|.*Id|.*_id)$`)
	droppedKeys   = map[string]bool{"stackTrace": true}
	minEmbeddedID = 8
)

func decodeJSON(text []byte) (any, error) {
	decoder := json.NewDecoder(bytes.NewReader(text))
	decoder.UseNumber() // numbers stay as written
	var value any
	err := decoder.Decode(&value)
	return value, err
}

func decodePayloads(value any) any {
	switch v := value.(type) {
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = decodePayloads(item)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, item := range v {
			out[key] = decodePayloads(item)
		}
		if text, ok := out["json"].(string); ok {
			if parsed, err := decodeJSON([]byte(text)); err == nil {
				out["json"] = decodePayloads(parsed)
			}
		}
		return out
	}
	return value
}

func collectIDs(value any, ids map[string]string) {
	switch v := value.(type) {
	case []any:
		for _, item := range v {
			collectIDs(item, ids)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for key := range v {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			item := v[key]
			if s, ok := item.(string); ok && s != "" && idKeys.MatchString(key) {
				if _, seen := ids[s]; !seen {
					ids[s] = fmt.Sprintf("<id:%d>", len(ids)+1)
				}
			}
			collectIDs(item, ids)
		}
	}
}

func replace(value any, ids map[string]string, embedded []string) any {
	switch v := value.(type) {
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = replace(item, ids, embedded)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, item := range v {
			s, isString := item.(string)
			switch {
			case droppedKeys[key]:
			case isString && timeKeys.MatchString(key):
				out[key] = "<time>"
			case isString && durationKeys[key]:
				out[key] = "<duration>"
			case isString && key == "source" && strings.HasPrefix(s, "worker:"):
				out[key] = "worker:<worker>"
			default:
				out[key] = replace(item, ids, embedded)
			}
		}
		return out
	case string:
		if placeholder, ok := ids[v]; ok {
			return placeholder
		}
		for _, raw := range embedded {
			v = strings.ReplaceAll(v, raw, ids[raw])
		}
		return v
	}
	return value
}

// scrub turns canonical proto JSON events into the log every SDK must produce.
func scrub(events []any) []any {
	decoded := decodePayloads(events).([]any)
	ids := map[string]string{}
	collectIDs(decoded, ids)
	var embedded []string
	for id := range ids {
		if len(id) >= minEmbeddedID {
			embedded = append(embedded, id)
		}
	}
	sort.Slice(embedded, func(i, j int) bool {
		if len(embedded[i]) != len(embedded[j]) {
			return len(embedded[i]) > len(embedded[j])
		}
		return embedded[i] < embedded[j]
	})
	return replace(decoded, ids, embedded).([]any)
}

// --- the scenario's handlers, served by the Go SDK ---------------------------------------------

// encodePayloads applies the spec shorthand: {"json": <non-string>} is a Payload holding
// that value's JSON text.
func encodePayloads(value any) (any, error) {
	switch v := value.(type) {
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			encoded, err := encodePayloads(item)
			if err != nil {
				return nil, err
			}
			out[i] = encoded
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, item := range v {
			encoded, err := encodePayloads(item)
			if err != nil {
				return nil, err
			}
			out[key] = encoded
		}
		if inner, ok := v["json"]; ok {
			if _, isString := inner.(string); !isString {
				text, err := json.Marshal(inner)
				if err != nil {
					return nil, err
				}
				out["json"] = string(text)
			}
		}
		return out, nil
	}
	return value, nil
}

func parseTask(raw json.RawMessage) (*aworld.Task, error) {
	value, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	encoded, err := encodePayloads(value)
	if err != nil {
		return nil, err
	}
	text, err := json.Marshal(encoded)
	if err != nil {
		return nil, err
	}
	task := &aworld.Task{}
	return task, protojson.Unmarshal(text, task)
}

func behave(ctx context.Context, b behaviour, call *aworld.Call) (any, error) {
	if b.Raise != nil && (b.RaiseOnAttempts == nil || slices.Contains(b.RaiseOnAttempts, call.Attempt)) {
		err := aworld.Fail(b.Raise.Type, b.Raise.Message)
		if b.Raise.NonRetryable {
			err = aworld.NonRetryable(err)
		}
		return nil, err
	}
	if b.Pending != nil {
		return aworld.Pending{CallbackID: b.Pending.CallbackID}, nil
	}
	if b.Block {
		<-ctx.Done() // until the server cancels the call
		return nil, context.Cause(ctx)
	}
	if b.Return == nil {
		return nil, nil
	}
	return b.Return, nil // the spec's JSON text, as written
}

func handler(spec handlerSpec) (aworld.Handler, error) {
	fn := func(ctx context.Context, call *aworld.Call, _ json.RawMessage) (any, error) {
		return behave(ctx, spec.Behaviour, call)
	}
	switch spec.Kind {
	case "tool":
		opts := []aworld.HandlerOption{}
		if len(spec.InputSchema) > 0 {
			opts = append(opts, aworld.WithInputSchema(string(spec.InputSchema)))
		}
		if spec.Idempotent {
			opts = append(opts, aworld.Idempotent())
		}
		return aworld.Tool(spec.Name, spec.Description, fn, opts...), nil
	case "hook":
		return aworld.Hook(spec.Name, spec.HookPoints, fn), nil
	}
	return aworld.Handler{}, fmt.Errorf("unknown handler kind %q", spec.Kind)
}

// --- running a scenario -------------------------------------------------------------------------

func waitForWorkers(ctx context.Context, client *aworld.Client, names []string) error {
	for _, name := range names {
		for {
			workers, err := client.Workers(ctx, name)
			if err != nil {
				return err
			}
			if len(workers) > 0 {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("no worker serves %s: %w", name, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

func perform(ctx context.Context, client *aworld.Client, taskID string, a action, body map[string]any) error {
	switch a.Do {
	case "cancel":
		_, err := client.Cancel(ctx, taskID, aworld.WithReason(a.Reason))
		return err
	case "complete_callback":
		callbackID, _ := body["callbackId"].(string)
		result := a.Result
		if result == nil {
			result = json.RawMessage("null")
		}
		_, err := client.CompleteCallback(ctx, taskID, callbackID, result)
		return err
	}
	return fmt.Errorf("unknown action %q", a.Do)
}

func runScenario(address string, spec *scenario) (events []any, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	worker := aworld.NewWorker(address, aworld.WorkerOptions{Logger: logger})
	names := make([]string, 0, len(spec.Handlers))
	for _, h := range spec.Handlers {
		declared, err := handler(h)
		if err != nil {
			return nil, err
		}
		if err := worker.Register(declared); err != nil {
			return nil, err
		}
		names = append(names, h.Name)
	}
	serving := make(chan error, 1)
	go func() { serving <- worker.Run(context.Background()) }()
	defer func() {
		stopErr := worker.Stop(context.Background())
		err = errors.Join(err, stopErr, <-serving)
	}()

	client, err := aworld.Dial(address)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := waitForWorkers(ctx, client, names); err != nil {
		return nil, err
	}
	task, err := parseTask(spec.Task)
	if err != nil {
		return nil, fmt.Errorf("task: %w", err)
	}
	submitted, err := client.Submit(ctx, task)
	if err != nil {
		return nil, err
	}
	actions := slices.Clone(spec.Actions)
	for event, err := range client.Events(ctx, submitted.TaskID, 0) {
		if err != nil {
			return nil, err
		}
		text, err := protojson.Marshal(event)
		if err != nil {
			return nil, err
		}
		record, err := decodeJSON(text)
		if err != nil {
			return nil, err
		}
		events = append(events, record)
		fields := record.(map[string]any)
		for i := 0; i < len(actions); i++ {
			body, ok := fields[actions[i].On].(map[string]any)
			if !ok {
				continue
			}
			a := actions[i]
			actions = slices.Delete(actions, i, i+1)
			i--
			if err := perform(ctx, client, submitted.TaskID, a, body); err != nil {
				return nil, err
			}
		}
	}
	return events, nil
}
