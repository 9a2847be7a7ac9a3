// Command aworld-example-worker is a worker process serving Go tools, agents and hooks, as the
// cross-language tests and the SDK benchmark use it (tests/crosslang, bench/bench_sdks.py).
// Its TypeScript twin is typescript/examples/worker.ts and takes the same flags.
//
//	aworld-example-worker --address HOST:PORT [--tool NAME=echo|describe|block]...
//	    [--agent NAME=review|plan|block]... [--hook NAME=deny]... [--max-concurrency N] [--quiet]
//
// Tools (all declared idempotent, so a call lost with this worker may run again elsewhere):
//   - echo returns its "data" argument unchanged (the benchmark's tool);
//   - describe returns {lang, pid, attempt, input}: which process served which attempt;
//   - block runs until the server cancels the call.
//
// Agents (remote policies for AgentSpec.RemoteHandler; all idempotent too):
//   - review answers "go reviewed: " + the observation in upper case;
//   - plan: step 1 calls the tool in its "tools" whose name ends with "_describe" with
//     {"text": observation}; step 2 answers "go planned with " + the tool's output;
//   - block runs until the server cancels the step (or the test kills the worker).
//
// Hooks (before_tool_call): deny denies every tool call it is asked about.
//
// Stdout, one line each, so tests wait on output instead of sleeping: "READY <worker id>",
// "STARTED <tool or agent> <call id> <attempt> <pid>", "CANCELLED <tool> <call id> <attempt>",
// "FINISHED <tool> <call id> <attempt>", "HOOK <hook> <tool> deny" (no per-call lines with
// --quiet). SIGTERM or SIGINT stops the worker gracefully. With OTEL_EXPORTER_OTLP_ENDPOINT set,
// each call's span is exported there (service "aworld-example-worker-go").
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aworld-runtime/aworld-runtime/go/aworld"
)

const lang = "go"

// list collects a repeated flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// out writes whole lines to stdout; handlers run on many goroutines.
type out struct {
	mu    sync.Mutex
	quiet bool
}

func (o *out) line(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Printf(format+"\n", args...)
}

func (o *out) call(format string, args ...any) {
	if !o.quiet {
		o.line(format, args...)
	}
}

type echoInput struct {
	Data string `json:"data"`
}

func toolFor(o *out, name, behaviour string) (aworld.Handler, error) {
	pid := os.Getpid()
	switch behaviour {
	case "echo":
		return aworld.TypedTool(name, "Return data unchanged.",
			func(ctx context.Context, call *aworld.Call, in echoInput) (string, error) {
				return in.Data, nil
			}, aworld.Idempotent()), nil
	case "describe":
		return aworld.Tool(name, "Say which process served which attempt, with the input.",
			func(ctx context.Context, call *aworld.Call, input json.RawMessage) (any, error) {
				o.call("STARTED %s %s %d %d", name, call.ID, call.Attempt, pid)
				output := map[string]any{"lang": lang, "pid": pid, "attempt": call.Attempt, "input": input}
				o.call("FINISHED %s %s %d", name, call.ID, call.Attempt)
				return output, nil
			}, aworld.Idempotent(), aworld.WithInputSchema(`{"type":"object"}`)), nil
	case "block":
		return aworld.Tool(name, "Run until the call is cancelled.",
			func(ctx context.Context, call *aworld.Call, input json.RawMessage) (any, error) {
				o.call("STARTED %s %s %d %d", name, call.ID, call.Attempt, pid)
				<-ctx.Done()
				o.call("CANCELLED %s %s %d", name, call.ID, call.Attempt)
				return nil, context.Cause(ctx)
			}, aworld.Idempotent(), aworld.WithInputSchema(`{"type":"object"}`)), nil
	}
	return aworld.Handler{}, fmt.Errorf("unknown tool behaviour %q", behaviour)
}

// agentStep is what an agent reads of a step; the server's other keys (agent, messages) are
// ignored, as TypedAgent promises. The TypeScript twin declares the schema derived from it
// word for word, so both may serve the same agent name.
type agentStep struct {
	Step        int    `json:"step"`
	Observation string `json:"observation"`
	Tools       []struct {
		Name string `json:"name"`
	} `json:"tools"`
}

type toolCall struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

type agentDecision struct {
	Content   string     `json:"content"`
	ToolCalls []toolCall `json:"tool_calls"`
	Usage     usage      `json:"usage"`
}

func agentFor(o *out, name, behaviour string) (aworld.Handler, error) {
	pid := os.Getpid()
	declare := func(description string, fn aworld.TypedFunc[agentStep, any]) (aworld.Handler, error) {
		return aworld.TypedAgent(name, description,
			func(ctx context.Context, call *aworld.Call, in agentStep) (any, error) {
				o.call("STARTED %s %s %d %d", name, call.ID, call.Attempt, pid)
				return fn(ctx, call, in)
			}, aworld.Idempotent()), nil
	}
	switch behaviour {
	case "review":
		return declare("Review the observation: upper-case it.",
			func(ctx context.Context, call *aworld.Call, in agentStep) (any, error) {
				return lang + " reviewed: " + strings.ToUpper(in.Observation), nil
			})
	case "plan":
		return declare("Describe the observation with a *_describe tool, then answer.",
			func(ctx context.Context, call *aworld.Call, in agentStep) (any, error) {
				if in.Step > 1 {
					return lang + " planned with " + in.Observation, nil
				}
				var names []string
				for _, tool := range in.Tools {
					if strings.HasSuffix(tool.Name, "_describe") {
						return agentDecision{
							ToolCalls: []toolCall{{Name: tool.Name, Arguments: map[string]any{"text": in.Observation}}},
							Usage:     usage{PromptTokens: 3, CompletionTokens: 2},
						}, nil
					}
					names = append(names, tool.Name)
				}
				return nil, fmt.Errorf("%s has no *_describe tool among %v", name, names)
			})
	case "block":
		return declare("Run until the step is cancelled.",
			func(ctx context.Context, call *aworld.Call, in agentStep) (any, error) {
				<-ctx.Done()
				o.call("CANCELLED %s %s %d", name, call.ID, call.Attempt)
				return nil, context.Cause(ctx)
			})
	}
	return aworld.Handler{}, fmt.Errorf("unknown agent behaviour %q", behaviour)
}

type occurrence struct {
	ToolName string `json:"tool_name"`
}

type decision struct {
	PermissionDecision string `json:"permission_decision,omitempty"`
	Reason             string `json:"permission_decision_reason,omitempty"`
}

func hookFor(o *out, name, behaviour string) (aworld.Handler, error) {
	if behaviour != "deny" {
		return aworld.Handler{}, fmt.Errorf("unknown hook behaviour %q", behaviour)
	}
	return aworld.TypedHook(name, []string{"before_tool_call"},
		func(ctx context.Context, call *aworld.Call, in occurrence) (decision, error) {
			o.call("HOOK %s %s deny", name, in.ToolName)
			return decision{PermissionDecision: "deny", Reason: name + " denies " + in.ToolName}, nil
		}), nil
}

func main() {
	var tools, agents, hooks list
	address := flag.String("address", "", "the server, host:port")
	flag.Var(&tools, "tool", "NAME=echo|describe|block (repeatable)")
	flag.Var(&agents, "agent", "NAME=review|plan|block (repeatable)")
	flag.Var(&hooks, "hook", "NAME=deny (repeatable)")
	maxConcurrency := flag.Int("max-concurrency", 16, "calls run at once at most")
	quiet := flag.Bool("quiet", false, "no per-call lines")
	flag.Parse()
	if err := run(*address, tools, agents, hooks, *maxConcurrency, *quiet); err != nil {
		fmt.Fprintln(os.Stderr, "aworld-example-worker:", err)
		os.Exit(1)
	}
}

func run(address string, tools, agents, hooks list, maxConcurrency int, quiet bool) error {
	if address == "" {
		return fmt.Errorf("--address HOST:PORT is required")
	}
	o := &out{quiet: quiet}
	stopTracing, err := startTracing(context.Background(), "aworld-example-worker-go")
	if err != nil {
		return err
	}
	defer func() { _ = stopTracing(context.Background()) }()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	worker := aworld.NewWorker(address, aworld.WorkerOptions{
		MaxConcurrency: maxConcurrency,
		Logger:         logger,
		Reconnect:      aworld.Backoff{Initial: 50 * time.Millisecond, Max: time.Second},
	})
	for _, flags := range []struct {
		values list
		build  func(*out, string, string) (aworld.Handler, error)
	}{{tools, toolFor}, {agents, agentFor}, {hooks, hookFor}} {
		for _, value := range flags.values {
			name, behaviour, ok := strings.Cut(value, "=")
			if !ok || name == "" {
				return fmt.Errorf("expected NAME=BEHAVIOUR, got %q", value)
			}
			handler, err := flags.build(o, name, behaviour)
			if err != nil {
				return err
			}
			if err := worker.Register(handler); err != nil {
				return err
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	serving := make(chan error, 1)
	go func() { serving <- worker.Run(ctx) }()
	// The worker id is known once the server has welcomed the worker.
	for worker.WorkerID() == "" {
		select {
		case err := <-serving:
			return err
		case <-time.After(5 * time.Millisecond):
		}
	}
	o.line("READY %s", worker.WorkerID())
	return <-serving
}
