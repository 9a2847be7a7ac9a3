package aworld

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// Errors in this package:
//
//   - gRPC errors from the server are returned wrapped with %w; status.Code(err) gives the
//     code (INVALID_ARGUMENT, NOT_FOUND, UNAUTHENTICATED, ...) and [FieldViolations] the
//     invalid fields.
//   - [*FailureError] carries a structured [Failure]: a remote handler's failure returned by
//     [Client.Invoke], or a failure a handler returns on purpose (see [Fail]).
//   - [NonRetryable] marks any error a handler returns as not worth retrying.

// FailureError is a [Failure] as a Go error. A handler returns one (usually through [Fail])
// to choose the failure type the server and the agent see; [Client.Invoke] returns one when
// the handler failed.
type FailureError struct {
	Failure *Failure
}

// Fail returns a [*FailureError] of the given type (e.g. "QuotaExceeded") and message. Wrap
// it in [NonRetryable] when retrying cannot help.
func Fail(typ, message string) error {
	return &FailureError{Failure: &Failure{Type: typ, Message: message}}
}

// Error returns "type: message".
func (e *FailureError) Error() string {
	if e.Failure.GetMessage() == "" {
		return e.Failure.GetType()
	}
	return e.Failure.GetType() + ": " + e.Failure.GetMessage()
}

// NonRetryable reports whether the failure is marked non-retryable.
func (e *FailureError) NonRetryable() bool { return e.Failure.GetNonRetryable() }

// NonRetryable marks err so that a Worker reports it with non_retryable set: the server
// does not retry the call. It returns nil for a nil err; errors.Is and errors.As see through
// it.
func NonRetryable(err error) error {
	if err == nil {
		return nil
	}
	return &nonRetryableError{err: err}
}

type nonRetryableError struct{ err error }

func (e *nonRetryableError) Error() string      { return e.err.Error() }
func (e *nonRetryableError) Unwrap() error      { return e.err }
func (e *nonRetryableError) NonRetryable() bool { return true }

// IsNonRetryable reports whether any error in err's tree says it is non-retryable (see
// [NonRetryable]).
func IsNonRetryable(err error) bool {
	if err == nil {
		return false
	}
	if marked, ok := err.(interface{ NonRetryable() bool }); ok && marked.NonRetryable() {
		return true
	}
	switch wrapper := err.(type) {
	case interface{ Unwrap() error }:
		return IsNonRetryable(wrapper.Unwrap())
	case interface{ Unwrap() []error }:
		for _, inner := range wrapper.Unwrap() {
			if IsNonRetryable(inner) {
				return true
			}
		}
	}
	return false
}

// FieldViolation is one invalid field of an INVALID_ARGUMENT error.
type FieldViolation struct {
	// Field is a dotted path, e.g. "task.swarm.agents[0].name".
	Field string
	// Description says what is wrong with it.
	Description string
}

// FieldViolations returns the invalid fields the server listed (google.rpc.BadRequest
// details) in a gRPC error, or nil when there are none.
func FieldViolations(err error) []FieldViolation {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	var out []FieldViolation
	for _, detail := range st.Details() {
		if bad, ok := detail.(*errdetails.BadRequest); ok {
			for _, v := range bad.GetFieldViolations() {
				out = append(out, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return out
}

// maxCauseDepth bounds the failure cause chain built from an error chain.
const maxCauseDepth = 8

// failureOf describes a handler's error as a Failure: its type, message, cause chain and
// whether it may be retried.
func failureOf(err error, source string) *Failure {
	f := failureChain(err, maxCauseDepth)
	f.NonRetryable = f.NonRetryable || IsNonRetryable(err)
	f.Source = source
	return f
}

func failureChain(err error, depth int) *Failure {
	err = unwrapMarkers(err)
	if fe, ok := err.(*FailureError); ok && fe.Failure != nil {
		f := cloneFailure(fe.Failure)
		if f.Type == "" {
			f.Type = "Error"
		}
		return f
	}
	if pe, ok := err.(*panicError); ok {
		return &Failure{Type: "Panic", Message: pe.Error(), StackTrace: string(pe.stack)}
	}
	f := &Failure{Type: errorType(err), Message: err.Error()}
	if cause := errors.Unwrap(err); cause != nil && depth > 1 {
		f.Cause = failureChain(cause, depth-1)
	}
	return f
}

// unwrapMarkers skips the wrappers that only mark an error (NonRetryable).
func unwrapMarkers(err error) error {
	for {
		marker, ok := err.(*nonRetryableError)
		if !ok {
			return err
		}
		err = marker.err
	}
}

func cloneFailure(f *Failure) *Failure {
	return &Failure{
		Type:         f.GetType(),
		Message:      f.GetMessage(),
		NonRetryable: f.GetNonRetryable(),
		Cause:        f.GetCause(),
		StackTrace:   f.GetStackTrace(),
		Source:       f.GetSource(),
		Details:      f.GetDetails(),
	}
}

// errorType names an error for Failure.type: "DeadlineExceeded" and "Cancelled" for the
// context errors, "Error" for the anonymous errors of package errors and fmt, and otherwise
// the Go type name without package or pointer ("PathError", "SyntaxError").
func errorType(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "DeadlineExceeded"
	case errors.Is(err, context.Canceled):
		return "Cancelled"
	}
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.PkgPath() {
	case "errors", "fmt", "":
		return "Error"
	}
	return t.Name()
}

// errorf returns an error wrapping err with the operation that failed, keeping its gRPC
// status visible to status.Code.
func errorf(op string, err error) error {
	return fmt.Errorf("aworld: %s: %w", op, err)
}
