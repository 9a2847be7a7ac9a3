// Package aworld is the Go SDK of AWorld Runtime: a [Client] for RuntimeService (submit,
// watch and steer tasks) and a [Worker] that serves tools, agents and hooks written in Go
// to a server over WorkerService.Connect, so they take part in tasks like Python functions.
//
// A worker declares its handlers and runs until stopped, reconnecting when the stream drops:
//
//	type AddInput struct {
//		A int `json:"a"`
//		B int `json:"b"`
//	}
//	w := aworld.NewWorker("127.0.0.1:7070", aworld.WorkerOptions{MaxConcurrency: 8})
//	w.Register(aworld.TypedTool("add", "Add two integers.",
//		func(ctx context.Context, call *aworld.Call, in AddInput) (int, error) {
//			return in.A + in.B, nil
//		}))
//	err := w.Run(ctx) // until ctx is done or w.Stop is called
//
// A client submits tasks and streams their events:
//
//	client, err := aworld.Dial("127.0.0.1:7070")
//	for event, err := range client.Run(ctx, task) {
//		...
//	}
//
// The wire types (Task, Event, Payload, ...) are aliases of the generated protobuf types in
// package runtimev1, so values go to and from the server without copying; this package adds
// constructors ([Text], [JSON]), helpers ([Decode], [IsTerminal]) and the two runtime roles.
//
// Errors from the server keep their gRPC status: use status.Code(err) (it sees through the
// %w wrapping this package adds) and [FieldViolations] for INVALID_ARGUMENT details. A
// handler's failure reported by the server is a [*FailureError].
package aworld
