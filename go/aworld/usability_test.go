package aworld_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/aworld-runtime/aworld-runtime/go/aworld"
	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

func TestDialAcceptsTheSharedAddressFormsAndRejectsOthers(t *testing.T) {
	for _, address := range []string{"127.0.0.1:50051", "localhost:1", "[::1]:50051", "http://127.0.0.1:50051", "https://example.com:443"} {
		client, err := aworld.Dial(address)
		if err != nil {
			t.Errorf("Dial(%q): %v", address, err)
			continue
		}
		client.Close()
	}
	for _, address := range []string{"localhost", "127.0.0.1:", "ftp://host:1", "http://host:1/path", "host:99999", ""} {
		if _, err := aworld.Dial(address); err == nil || !strings.Contains(err.Error(), "invalid server address") {
			t.Errorf("Dial(%q) = %v, want an invalid-address error", address, err)
		}
	}
}

// closedAddress returns the address of a port nobody listens on any more.
func closedAddress(t *testing.T) string {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	listener.Close()
	return address
}

func TestAnUnreachableServerIsReportedAtOnceWithItsAddress(t *testing.T) {
	address := "http://" + closedAddress(t)
	client, err := aworld.Dial(address)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	check := func(what string, err error, elapsed time.Duration) {
		t.Helper()
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "cannot reach the server at "+address) {
			t.Errorf("%s: got %v, want UNAVAILABLE naming %s", what, err, address)
		}
		if elapsed > time.Second {
			t.Errorf("%s: the error took %v, want under 1 s", what, elapsed)
		}
	}
	start := time.Now()
	for _, err := range client.Run(cleanupContext(t), &aworld.Task{}) {
		check("Run", err, time.Since(start))
	}
	start = time.Now()
	_, err = client.Wait(cleanupContext(t), "t1")
	check("Wait", err, time.Since(start))
	start = time.Now()
	_, err = client.Get(cleanupContext(t), "t1")
	check("Get", err, time.Since(start))
}

func TestEventKindAndStatusNameAreReadable(t *testing.T) {
	event := &aworld.Event{Seq: 3, Body: &runtimev1.Event_StatusChanged{StatusChanged: &aworld.TaskStatusChanged{Status: aworld.StatusSucceeded}}}
	if got := aworld.EventKind(event); got != "TaskStatusChanged" {
		t.Errorf("EventKind = %q", got)
	}
	if got := aworld.EventKind(&aworld.Event{}); got != "" {
		t.Errorf("EventKind of an empty event = %q", got)
	}
	if got := aworld.StatusName(aworld.StatusInputRequired); got != "INPUT_REQUIRED" {
		t.Errorf("StatusName = %q", got)
	}
	if got := aworld.StatusName(aworld.TaskStatus(42)); got != "UNKNOWN_42" {
		t.Errorf("StatusName of an unknown value = %q", got)
	}
}

func TestTasksLoadFromJSONAndYAMLWithPlainPayloads(t *testing.T) {
	fromJSON, err := aworld.TaskFromJSON([]byte(`{"input": "count these words", "swarm": {"agents": [
		{"name": "counter", "toolNames": ["word_count"], "model": {"provider": "scripted",
		 "options": {"script": [{"content": "done"}]}}}]}, "headers": {"k": "v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := aworld.TaskFromYAML([]byte(`
input: count these words
swarm:
  agents:
    - name: counter
      tool_names: [word_count]
      model: {provider: scripted, options: {script: [{content: done}]}}
headers: {k: v}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range []*aworld.Task{fromJSON, fromYAML} {
		agent := task.GetSwarm().GetAgents()[0]
		if aworld.AsText(task.GetInput()) != "count these words" || task.GetInput().GetText() == "" ||
			agent.GetToolNames()[0] != "word_count" || task.GetHeaders()["k"] != "v" {
			t.Errorf("task = %v", task)
		}
		var options struct{ Script []map[string]string }
		if err := aworld.Decode(agent.GetModel().GetOptions(), &options); err != nil || options.Script[0]["content"] != "done" {
			t.Errorf("options = %v (%v)", agent.GetModel().GetOptions(), err)
		}
	}
	if _, err := aworld.TaskFromJSON([]byte(`{"swarm": {"topology": "STAR"}}`)); err == nil || !strings.Contains(err.Error(), "not a valid Task") {
		t.Errorf("bad topology: %v", err)
	}
	if _, err := aworld.TaskFromJSON([]byte(`[1]`)); err == nil {
		t.Error("a list is not a task")
	}
}

func TestScriptedModelBuildsTheScriptOptions(t *testing.T) {
	model := aworld.ScriptedModel(
		aworld.CallTool("word_count", map[string]string{"text": "a b"}),
		aworld.Reply("{last_tool_output} words"))
	if model.GetProvider() != "scripted" {
		t.Errorf("provider = %q", model.GetProvider())
	}
	want := `{"script":[{"tool_calls":[{"name":"word_count","arguments":{"text":"a b"}}]},{"content":"{last_tool_output} words"}]}`
	if got := model.GetOptions().GetJson(); got != want {
		t.Errorf("options = %s, want %s", got, want)
	}
}
