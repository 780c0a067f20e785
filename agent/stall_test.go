package agent_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maasgo/agent"
	"maasgo/agent/agenttest"
	"maasgo/wire"
)

// runWithin runs the agent, failing the test if it is still running after d: before the idle
// timeout, a stalled region held the runner forever.
func runWithin(t *testing.T, h *agenttest.Harness, d time.Duration) (agent.Summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	sum, err := h.Agent.Run(ctx)
	t.Logf("runner output (%s):\n%s\nlog:\n%s", time.Since(start).Round(time.Millisecond), h.Out.String(), h.Log.String())
	if ctx.Err() != nil {
		t.Fatalf("the run was still going after %s: %v", d, err)
	}
	return sum, err
}

// TestStalledDownloadIsRetried: the region sends the scripts tar's headers and half of it,
// then nothing. The runner gives up on that read within the idle timeout, downloads again
// and finishes.
func TestStalledDownloadIsRetried(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, sleepers(2, "0")...)
	f.StallScripts(2)
	h := agenttest.NewHarness(t, f)
	h.SetIdleTimeout(300 * time.Millisecond)
	sum, err := runWithin(t, h, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Final != wire.SignalOK || len(sum.Outcomes) != 2 {
		t.Errorf("final %q, %d outcomes", sum.Final, len(sum.Outcomes))
	}
	if n := f.Downloads(); n < 3 {
		t.Errorf("%d downloads; want the two stalled ones and a good one", n)
	}
	if l := h.Log.String(); !strings.Contains(l, "download scripts failed; retrying") || !strings.Contains(l, "stalled, nothing for 300ms") {
		t.Errorf("the retries do not say the download stalled:\n%s", l)
	}
	checkExactlyOnce(t, f, h.Storage, sum.RunID)
}

// TestStalledDownloadGivesUp: a region that always stalls is given up on after
// --give-up-after, with an error that says why.
func TestStalledDownloadGivesUp(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, sleepers(1, "0")...)
	f.StallScripts(1 << 20)
	h := agenttest.NewHarness(t, f)
	h.SetIdleTimeout(200 * time.Millisecond)
	h.Agent.GiveUpAfter = time.Second
	start := time.Now()
	_, err := runWithin(t, h, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "gave up after 1s") || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("run: %v; want a give-up on the stalled download", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %s; --give-up-after 1s with an idle timeout of 200ms", d)
	}
}

// TestStalledSignalIsRetried: the region stores signals and then hangs instead of answering.
// The runner retries each within the idle timeout and the region stores each once.
func TestStalledSignalIsRetried(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, sleepers(2, "0")...)
	f.StallSignals(3)
	h := agenttest.NewHarness(t, f)
	h.SetIdleTimeout(300 * time.Millisecond)
	sum, err := runWithin(t, h, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unsent != 0 || f.NodeStatus(t) != wire.NodeReady {
		t.Errorf("%d unsent, node %s", sum.Unsent, f.NodeStatus(t).Label())
	}
	checkExactlyOnce(t, f, h.Storage, sum.RunID)
	if f.Duplicates() != 3 {
		t.Errorf("%d signals sent again; want the 3 stalled ones", f.Duplicates())
	}
}

// stallingTarServer serves a small tar at any path; the first stalls requests send half of it
// and then nothing.
func stallingTarServer(t *testing.T, stalls int64) (*httptest.Server, *atomic.Int64) {
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "tool/README", Mode: 0o644, Size: 9})
	tw.Write([]byte("unpacked\n"))
	tw.Close()
	data := tarball.Bytes()
	var n atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if n.Add(1) <= stalls {
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Write(data)
	}))
	t.Cleanup(func() { close(release); srv.CloseClientConnections(); srv.Close() })
	return srv, &n
}

// TestStalledURLPackage downloads a URL package with the real wget from a server that
// stalls twice: wget's reads time out with the runner's idle timeout, the runner downloads
// again, and the script runs with the package.
func TestStalledURLPackage(t *testing.T) {
	if _, err := exec.LookPath("wget"); err != nil {
		t.Skip("wget is not installed")
	}
	srv, requests := stallingTarServer(t, 2)
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-url", wire.ScriptTypeTesting,
		"packages: {url: ['"+srv.URL+"/tool.tar']}", `cat "$DOWNLOAD_PATH/tool/README"; ls "$DOWNLOAD_PATH"`)})
	h := agenttest.NewHarness(t, f)
	h.Agent.IdleTimeout = 500 * time.Millisecond
	if _, err := runWithin(t, h, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("%d requests; want the two stalled ones and a good one", n)
	}
	res := agenttest.ByName(f.Results(t))["t-url"]
	if out := string(res.Files["t-url.out"].Head); res.Status != wire.ScriptPassed || out != "unpacked\ntool\ntool.tar\n" {
		t.Errorf("t-url: %s, output %q (one tool.tar, no leftover of a stalled attempt)", res.Status.Label(), out)
	}
	if l := h.Log.String(); !strings.Contains(l, "URL package download failed; retrying") {
		t.Errorf("the retries are not logged:\n%s", l)
	}
}

// TestStalledURLPackageGivesUp: a URL package whose server always stalls fails installing
// after --give-up-after, with wget's exit status.
func TestStalledURLPackageGivesUp(t *testing.T) {
	if _, err := exec.LookPath("wget"); err != nil {
		t.Skip("wget is not installed")
	}
	srv, _ := stallingTarServer(t, 1<<30)
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-url", wire.ScriptTypeTesting,
		"packages: {url: ['"+srv.URL+"/tool.tar']}", `true`)})
	h := agenttest.NewHarness(t, f)
	h.Agent.IdleTimeout = 300 * time.Millisecond
	h.Agent.GiveUpAfter = time.Second
	start := time.Now()
	if _, err := runWithin(t, h, 30*time.Second); !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v; want the script failed", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s", d)
	}
	res := agenttest.ByName(f.Results(t))["t-url"]
	if res.Status != wire.ScriptFailedInstalling || res.ExitStatus == nil || *res.ExitStatus != 4 ||
		!strings.Contains(string(res.Files["t-url.err"].Head), "gave up after") {
		t.Errorf("t-url: %s exit %v, stderr %q", res.Status.Label(), res.ExitStatus, res.Files["t-url.err"].Head)
	}
}

// TestUnreachableURLPackage: a URL package whose server cannot be reached at all fails at
// once, as upstream's wget does; only transfers that broke or stalled are retried.
func TestUnreachableURLPackage(t *testing.T) {
	if _, err := exec.LookPath("wget"); err != nil {
		t.Skip("wget is not installed")
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	closed := srv.URL
	srv.Close()
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-url", wire.ScriptTypeTesting,
		"packages: {url: ['"+closed+"/tool.tar']}", `true`)})
	h := agenttest.NewHarness(t, f)
	start := time.Now()
	if _, err := runWithin(t, h, 30*time.Second); !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v; want the script failed", err)
	}
	res := agenttest.ByName(f.Results(t))["t-url"]
	if res.Status != wire.ScriptFailedInstalling || strings.Contains(h.Log.String(), "retrying") || time.Since(start) > 5*time.Second {
		t.Errorf("t-url: %s after %s; want failed installing at once, no retry", res.Status.Label(), time.Since(start))
	}
}
