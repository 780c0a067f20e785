package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"maasgo/agent/agenttest"
	"maasgo/wire"
)

// execRoot runs the whole command tree in-process, failing the test when it is still running
// after d.
func execRoot(t *testing.T, d time.Duration, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	root.SilenceErrors = true
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	root.SetContext(ctx)
	err := root.Execute()
	t.Logf("maas-run-scripts %s:\n%s(err %v)", strings.Join(args, " "), out.String(), err)
	if ctx.Err() != nil {
		t.Fatalf("still running after %s", d)
	}
	return out.String(), err
}

// TestAPIStall: register-machine and get-machine-token against a region that answers with
// headers and part of a body, then nothing. They fail within the idle timeout, saying the
// region stalled, instead of waiting for the two-minute request limit.
func TestAPIStall(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100")
		w.Write([]byte(`{"system_id": "ab`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer func() { close(release); srv.CloseClientConnections(); srv.Close() }()
	key := "aaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbb:cccccccccccccccccccccccccccccccc"
	for _, args := range [][]string{
		{"get-machine-token", "--idle-timeout", "300ms", srv.URL + "/MAAS", key, "abc", "-"},
		{"register-machine", "--idle-timeout", "300ms", "--hostname", "h", "--arch", "amd64", "--mac", "52:54:00:00:00:01",
			"--base-dir", t.TempDir(), srv.URL + "/MAAS", key},
	} {
		start := time.Now()
		_, err := execRoot(t, 20*time.Second, args...)
		if err == nil || !strings.Contains(err.Error(), "stalled, nothing for 300ms") {
			t.Errorf("%s: %v; want the stall named", args[0], err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: failed after %s", args[0], d)
		}
	}
}

// TestRunStallGivesUp: run with --idle-timeout and --give-up-after against a region whose
// scripts tar always stalls ends with an error saying so.
func TestRunStallGivesUp(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-x", wire.ScriptTypeTesting, "", "true")})
	f.StallScripts(1 << 20)
	start := time.Now()
	_, err := execRoot(t, 30*time.Second, append(append([]string{"run", "--idle-timeout", "200ms", "--give-up-after", "1s"}, connArgs(f)...), t.TempDir())...)
	if err == nil || !strings.Contains(err.Error(), "download scripts: gave up after 1s") || !strings.Contains(err.Error(), "stalled") {
		t.Errorf("run: %v; want a give-up on the stalled download", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s", d)
	}
	if _, err := execRoot(t, 5*time.Second, "run", "--idle-timeout", "0s", "--no-send", t.TempDir()); err == nil || !strings.Contains(err.Error(), "--idle-timeout must be positive") {
		t.Errorf("--idle-timeout 0: %v", err)
	}
}
