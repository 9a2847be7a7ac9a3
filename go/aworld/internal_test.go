package aworld

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"
)

func TestBackoffDelayGrowsAndIsCapped(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	for failures, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 10: time.Second} {
		for range 50 {
			if d := b.delay(failures); d < base/2 || d > base {
				t.Fatalf("delay(%d) = %v; want in [%v, %v]", failures, d, base/2, base)
			}
		}
	}
	if d := (Backoff{}).delay(1); d < 100*time.Millisecond || d > 200*time.Millisecond {
		t.Errorf("default first delay = %v; want 100..200ms", d)
	}
}

func TestErrorTypeNames(t *testing.T) {
	for err, want := range map[error]string{
		errors.New("x"): "Error",
		fmt.Errorf("wrapped: %w", errors.New("x")):                "Error",
		&fs.PathError{Op: "open", Path: "p", Err: fs.ErrNotExist}: "PathError",
		context.DeadlineExceeded:                                  "DeadlineExceeded",
		fmt.Errorf("call: %w", context.Canceled):                  "Cancelled",
	} {
		if got := errorType(err); got != want {
			t.Errorf("errorType(%v) = %q; want %q", err, got, want)
		}
	}
	f := failureOf(fmt.Errorf("loading: %w", NonRetryable(errors.New("bad config"))), "worker:w1")
	if !f.GetNonRetryable() || f.GetSource() != "worker:w1" || f.GetCause().GetMessage() != "bad config" || f.GetCause().GetCause() != nil {
		t.Errorf("failureOf = %v; want non-retryable with the cause, markers skipped", f)
	}
}
