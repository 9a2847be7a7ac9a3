// Package testserver starts the real Python AWorld server as a subprocess for the Go SDK's
// integration tests.
//
// It runs tests/crosslang/serve_for_tests.py (or, when that file is missing, serve.py next
// to this package) with the repository's .venv Python, waits for its "ADDRESS host:port"
// line, and stops it in the test's cleanup. Tests are skipped, with a message saying why,
// only when the virtualenv is missing (`make setup` creates it).
package testserver

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds the wait for the server's ADDRESS line.
const startTimeout = 60 * time.Second

// stopTimeout bounds a graceful stop before the process is killed.
const stopTimeout = 15 * time.Second

// Server is a running server process.
type Server struct {
	// Address is "host:port" of the gRPC endpoint.
	Address string
	// DataDir is the server's data directory.
	DataDir string

	cmd    *exec.Cmd
	output *lockedBuffer
	exited chan struct{}
	once   sync.Once
}

// Start starts a server with a fresh data directory, passing it extra command-line args
// (e.g. "--token", "secret"), and stops it when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return StartIn(t, t.TempDir(), args...)
}

// StartIn is Start with a given data directory, so that a restarted server sees the same
// stored tasks.
func StartIn(t testing.TB, dataDir string, args ...string) *Server {
	t.Helper()
	root := RepoRoot(t)
	python := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Skipf("integration test needs the Python server: %s is missing (run `make setup`)", python)
	}
	script := filepath.Join(root, "tests", "crosslang", "serve_for_tests.py")
	if _, err := os.Stat(script); err != nil {
		script = filepath.Join(root, "go", "internal", "testserver", "serve.py")
	}
	cmd := exec.Command(python, append([]string{script, "--data-dir", dataDir}, args...)...)
	cmd.Dir = root
	s := &Server{DataDir: dataDir, cmd: cmd, output: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.output
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testserver: start %s: %v", script, err)
	}
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("server output:\n%s", s.output.String())
		}
	})
	address := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			line := scanner.Text()
			if rest, ok := strings.CutPrefix(line, "ADDRESS "); ok {
				select {
				case address <- strings.TrimSpace(rest):
				default:
				}
				continue
			}
			s.output.WriteString(line + "\n")
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.Address = <-address:
		return s
	case <-s.exited:
		t.Fatalf("testserver: the server exited before serving:\n%s", s.output.String())
	case <-time.After(startTimeout):
		t.Fatalf("testserver: no ADDRESS line after %s:\n%s", startTimeout, s.output.String())
	}
	return nil
}

// Port returns the port part of Address.
func (s *Server) Port() string {
	return s.Address[strings.LastIndex(s.Address, ":")+1:]
}

// Stop stops the server: SIGTERM, then SIGKILL if it has not exited in time. It waits for
// the process to end and may be called more than once.
func (s *Server) Stop(t testing.TB) {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			t.Logf("testserver: pid %d ignored SIGTERM for %s; killing it", s.cmd.Process.Pid, stopTimeout)
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// Kill kills the server at once (SIGKILL), as a crash would, and waits for it to end.
func (s *Server) Kill() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

// RepoRoot returns the repository root: the nearest directory above the test's working
// directory that holds go/go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go", "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testserver: no go/go.mod above the working directory")
		}
		dir = parent
	}
}

// lockedBuffer collects the server's output from two goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) WriteString(s string) {
	_, _ = b.Write([]byte(s))
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
