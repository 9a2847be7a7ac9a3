package aworld

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	runtimev1 "github.com/aworld-runtime/aworld-runtime/go/gen/aworld/runtime/v1"
)

// Causes of a handler's context cancellation, as reported by [context.Cause]. The server
// cause of ErrCallCancelled is appended to its message ("call cancelled: task_cancelled").
var (
	// ErrCallCancelled: the server cancelled the call (its task was cancelled, its attempt
	// timed out or was given to another worker).
	ErrCallCancelled = errors.New("call cancelled")
	// ErrConnectionLost: the stream to the server dropped; the server runs the call again
	// elsewhere if its retry policy allows.
	ErrConnectionLost = errors.New("connection to the server lost")
	// ErrWorkerStopping: the worker was stopped and its grace period ran out.
	ErrWorkerStopping = errors.New("worker stopping")
)

// WorkerOptions configures a [Worker]. The zero value is usable.
type WorkerOptions struct {
	// MaxConcurrency is how many calls run at once at most. 0 means 16.
	MaxConcurrency int
	// WorkerID is the id to connect with. Empty lets the server assign one, which the
	// worker then keeps across reconnects.
	WorkerID string
	// Labels are free-form labels shown in ListWorkers (host, version, zone).
	Labels map[string]string
	// Reconnect shapes the delays between connection attempts.
	Reconnect Backoff
	// ShutdownTimeout bounds the graceful stop that follows the end of Run's context: running
	// calls get this long to finish before their contexts are cancelled. 0 means they may
	// run until they end (each is bounded by its own deadline).
	ShutdownTimeout time.Duration
	// Logger receives connection and call events. Nil means slog.Default().
	Logger *slog.Logger
	// Dial configures the connection: token, TLS, gRPC options.
	Dial []DialOption
}

// Backoff is an exponential backoff with jitter. Zero fields take the defaults.
type Backoff struct {
	// Initial is the first delay. 0 means 200 ms.
	Initial time.Duration
	// Max caps the delay. 0 means 10 s.
	Max time.Duration
	// Multiplier grows the delay after each failure. 0 means 2.
	Multiplier float64
	// MaxAttempts is how many connection attempts in a row may fail before Run gives up.
	// 0 means never give up.
	MaxAttempts int
}

// delay is the wait before the next attempt after failures consecutive failures (>= 1):
// Initial x Multiplier^(failures-1), capped at Max, times a random factor in [0.5, 1) so that
// workers dropped together do not reconnect together.
func (b Backoff) delay(failures int) time.Duration {
	initial, maximum, multiplier := b.Initial, b.Max, b.Multiplier
	if initial <= 0 {
		initial = 200 * time.Millisecond
	}
	if maximum <= 0 {
		maximum = 10 * time.Second
	}
	if multiplier < 1 {
		multiplier = 2
	}
	base := math.Min(float64(initial)*math.Pow(multiplier, float64(max(failures, 1)-1)), float64(maximum))
	return time.Duration(base * (0.5 + rand.Float64()/2))
}

// Worker serves Go handlers to an AWorld server over WorkerService.Connect.
//
// It dials out (so it works behind NAT), declares its handlers in a Hello and runs the calls
// the server pushes, each in its own goroutine, at most MaxConcurrency at once. It sends a
// heartbeat at the interval the server asks for. When the stream drops it reconnects with
// exponential backoff and jitter; calls still running for the dropped stream are cancelled
// (the server has given them to another worker). It does not reconnect when the server
// refuses it: UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT (a bad Hello) or
// UNIMPLEMENTED end Run with that error.
//
// Register handlers, then call Run; Stop (or the end of Run's context) stops gracefully.
type Worker struct {
	target string
	opts   WorkerOptions
	dial   *dialConfig
	log    *slog.Logger

	mu       sync.Mutex
	handlers map[handlerKey]Handler
	order    []handlerKey
	workerID string
	run      *runState
}

type handlerKey struct {
	name string
	kind HandlerKind
}

// NewWorker returns a worker for the server at target. Register its handlers before Run.
func NewWorker(target string, opts WorkerOptions) *Worker {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = 16
	}
	return &Worker{
		target:   target,
		opts:     opts,
		dial:     newDialConfig(opts.Dial),
		log:      logger.With("component", "aworld.Worker", "target", target),
		handlers: map[handlerKey]Handler{},
		workerID: opts.WorkerID,
	}
}

// Register adds handlers. It fails for an invalid handler, a name already registered for the
// same kind, or a worker that is running.
func (w *Worker) Register(handlers ...Handler) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.run != nil {
		return errors.New("aworld: Register while the worker runs")
	}
	for _, h := range handlers {
		if err := h.validate(); err != nil {
			return fmt.Errorf("aworld: %w", err)
		}
		key := handlerKey{h.Name, h.Kind}
		if _, dup := w.handlers[key]; dup {
			return fmt.Errorf("aworld: handler %q registered twice", h.Name)
		}
		w.handlers[key] = h
		w.order = append(w.order, key)
	}
	return nil
}

// WorkerID returns the id the server knows this worker by: the configured one, or the one
// the server assigned in its first Welcome; empty until then.
func (w *Worker) WorkerID() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.workerID
}

// runState is what one Run shares across its connections.
type runState struct {
	handlers map[handlerKey]Handler
	hello    []*HandlerSpec
	// slots limits concurrent calls across reconnects.
	slots chan struct{}
	// stopCtx is done when a stop is requested; forceCtx when the grace period of any stop
	// request has ended, which cuts the drain short.
	stopCtx  context.Context
	stopNow  context.CancelFunc
	forceCtx context.Context
	forceNow context.CancelFunc
	forced   atomic.Bool
	mu       sync.Mutex
	releases []func() bool
	// done is closed when Run returns.
	done chan struct{}
}

// stop requests a graceful stop whose drain may last until grace ends. Of several requests
// the shortest grace wins.
func (rs *runState) stop(grace context.Context) {
	release := context.AfterFunc(grace, rs.forceNow)
	rs.mu.Lock()
	rs.releases = append(rs.releases, release)
	rs.mu.Unlock()
	rs.stopNow()
}

// finish releases what the stop requests hold once Run has returned.
func (rs *runState) finish() {
	rs.stopNow()
	rs.forceNow()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, release := range rs.releases {
		release()
	}
}

func (rs *runState) stopped() bool { return rs.stopCtx.Err() != nil }

// Run connects and serves calls until Stop is called or ctx is done (which stops gracefully
// too, see WorkerOptions.ShutdownTimeout), reconnecting whenever the stream drops. It returns
// nil after a stop; an error when the server refused the worker (its gRPC status is kept:
// status.Code(err)) or when Reconnect.MaxAttempts connection attempts in a row failed.
// Values of ctx reach the handlers' contexts; its cancellation does not.
func (w *Worker) Run(ctx context.Context) error {
	rs, err := w.begin()
	if err != nil {
		return err
	}
	defer w.end(rs)
	graceCtx, cancelGrace := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelGrace()
	stopOnDone := context.AfterFunc(ctx, func() {
		if d := w.opts.ShutdownTimeout; d > 0 {
			time.AfterFunc(d, cancelGrace)
		}
		rs.stop(graceCtx)
	})
	defer stopOnDone()

	base := context.WithoutCancel(ctx)
	failures := 0
	for {
		welcomed, err := w.connect(base, rs)
		if err != nil {
			return err
		}
		if rs.stopped() {
			return nil
		}
		if welcomed {
			failures = 0
		}
		failures++
		if limit := w.opts.Reconnect.MaxAttempts; limit > 0 && failures > limit {
			return fmt.Errorf("aworld: could not connect to %s %d times in a row", w.target, limit)
		}
		timer := time.NewTimer(w.opts.Reconnect.delay(failures))
		select {
		case <-timer.C:
		case <-rs.stopCtx.Done():
			timer.Stop()
			return nil
		}
	}
}

// Stop stops the worker gracefully: it takes no new calls (the server runs them elsewhere),
// lets running calls finish and sends their results, disconnects, and waits until Run has
// returned. When ctx ends first, the running calls' contexts are cancelled (cause
// ErrWorkerStopping), their results discarded, and Stop returns ctx's error. Stopping a
// worker that is not running does nothing.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	rs := w.run
	w.mu.Unlock()
	if rs == nil {
		return nil
	}
	rs.stop(ctx)
	select {
	case <-rs.done:
		if rs.forced.Load() {
			return ctx.Err()
		}
		return nil
	case <-ctx.Done():
		<-rs.done // forcing makes Run return promptly
		return ctx.Err()
	}
}

func (w *Worker) begin() (*runState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.run != nil {
		return nil, errors.New("aworld: Worker.Run is already running")
	}
	if len(w.handlers) == 0 {
		return nil, errors.New("aworld: a Worker needs at least one handler")
	}
	rs := &runState{
		handlers: map[handlerKey]Handler{},
		slots:    make(chan struct{}, w.opts.MaxConcurrency),
		done:     make(chan struct{}),
	}
	rs.stopCtx, rs.stopNow = context.WithCancel(context.Background())
	rs.forceCtx, rs.forceNow = context.WithCancel(context.Background())
	for _, key := range w.order {
		h := w.handlers[key]
		rs.handlers[key] = h
		rs.hello = append(rs.hello, h.Spec())
	}
	w.run = rs
	return rs, nil
}

func (w *Worker) end(rs *runState) {
	w.mu.Lock()
	w.run = nil
	w.mu.Unlock()
	rs.finish()
	close(rs.done)
}

func (w *Worker) hello(rs *runState) *runtimev1.ConnectRequest {
	return &runtimev1.ConnectRequest{Kind: &runtimev1.ConnectRequest_Hello{Hello: &runtimev1.Hello{
		WorkerId:       w.WorkerID(),
		Handlers:       rs.hello,
		MaxConcurrency: int32(w.opts.MaxConcurrency),
		Sdk:            sdkName,
		Labels:         w.opts.Labels,
	}}}
}

// fatal reports whether the server refused the worker itself, so that reconnecting would be
// refused again.
func fatal(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.Unauthenticated, codes.PermissionDenied, codes.Unimplemented:
		return true
	}
	return false
}

// connect runs one stream from Hello to its end. welcomed says whether the server accepted
// the worker; err is non-nil only when reconnecting is pointless.
func (w *Worker) connect(base context.Context, rs *runState) (welcomed bool, err error) {
	// A fresh connection per attempt keeps the reconnect pace ours, not the transport's own
	// (much slower) backoff.
	conn, err := w.dial.newConn(w.target)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	// Until the Welcome, a stop simply abandons the attempt.
	abandon := context.AfterFunc(rs.stopCtx, cancel)
	stream, err := runtimev1.NewWorkerServiceClient(conn).Connect(ctx)
	if err == nil {
		err = stream.Send(w.hello(rs))
	}
	var first *runtimev1.ConnectResponse
	if err == nil {
		first, err = stream.Recv()
	}
	if !abandon() || rs.stopped() {
		return false, nil
	}
	if err != nil {
		if fatal(err) {
			return false, fmt.Errorf("aworld: the server at %s refused the worker: %w", w.target, err)
		}
		w.log.Warn("cannot connect", "error", err)
		return false, nil
	}
	welcome := first.GetWelcome()
	if welcome == nil {
		w.log.Warn("the server sent something before its Welcome; reconnecting")
		return false, nil
	}
	w.mu.Lock()
	w.workerID = welcome.GetWorkerId()
	w.mu.Unlock()
	w.log.Info("connected", "worker_id", welcome.GetWorkerId())
	err = newWorkerStream(w, rs, stream, cancel, welcome).serve(base)
	if fatal(err) {
		return true, fmt.Errorf("aworld: the server at %s refused the worker: %w", w.target, err)
	}
	if err != nil && !rs.stopped() {
		w.log.Warn("stream ended", "error", err)
	}
	return true, nil
}
