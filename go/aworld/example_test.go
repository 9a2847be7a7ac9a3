package aworld_test

import (
	"context"
	"fmt"
	"log"
	"os/signal"
	"syscall"

	"github.com/aworld-runtime/aworld-runtime/go/aworld"
)

// A worker serving one typed tool until SIGINT or SIGTERM, then stopping gracefully.
func ExampleWorker() {
	type AddInput struct {
		A int `json:"a" description:"first addend"`
		B int `json:"b" description:"second addend"`
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	w := aworld.NewWorker("127.0.0.1:7070", aworld.WorkerOptions{MaxConcurrency: 8})
	err := w.Register(aworld.TypedTool("add", "Add two integers.",
		func(ctx context.Context, call *aworld.Call, in AddInput) (int, error) {
			return in.A + in.B, nil
		}, aworld.Idempotent()))
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// A client running a task whose scripted agent calls the "add" tool, printing its events.
func ExampleClient_Run() {
	client, err := aworld.Dial("127.0.0.1:7070")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	script := aworld.MustJSON(map[string]any{"script": []any{
		map[string]any{"tool_calls": []any{map[string]any{"name": "add", "arguments": map[string]int{"a": 2, "b": 3}}}},
		map[string]any{"content": "the sum is {last_tool_output}"},
	}})
	task := &aworld.Task{
		Input: aworld.Text("add 2 and 3"),
		Swarm: &aworld.Swarm{Agents: []*aworld.AgentSpec{{
			Name:      "solver",
			ToolNames: []string{"add"},
			Model:     &aworld.ModelConfig{Provider: "scripted", Options: script},
		}}},
	}
	for event, err := range client.Run(context.Background(), task) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(event.GetSeq(), event.GetBody())
		if aworld.IsTerminal(event) {
			fmt.Println(aworld.AsText(event.GetStatusChanged().GetResponse().GetAnswer()))
		}
	}
}

// A hook that denies every call of the tool "rm".
func ExampleTypedHook() {
	type Occurrence struct {
		ToolName string `json:"tool_name"`
	}
	type Decision struct {
		PermissionDecision string `json:"permission_decision,omitempty"`
		Reason             string `json:"permission_decision_reason,omitempty"`
	}
	guard := aworld.TypedHook("no_rm", []string{"before_tool_call"},
		func(ctx context.Context, call *aworld.Call, in Occurrence) (Decision, error) {
			if in.ToolName == "rm" {
				return Decision{PermissionDecision: "deny", Reason: "rm is not allowed"}, nil
			}
			return Decision{}, nil
		})
	// Tasks opt in by name: task.Hooks = map[string]*aworld.HookNames{"before_tool_call": {Names: []string{"no_rm"}}}
	_ = guard
}
