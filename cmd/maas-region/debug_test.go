package main

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// TestDebugListenRefusesNonLoopback: the profiler is only served on a loopback address; any
// other host is refused before anything listens.
func TestDebugListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "192.0.2.1:6060", "example.com:6060", "6060"} {
		ln, err := debugListener(addr)
		if err == nil {
			ln.Close()
			t.Errorf("debugListener(%q) listened on %s; want an error", addr, ln.Addr())
			continue
		}
		if !strings.Contains(err.Error(), "--debug-listen") {
			t.Errorf("debugListener(%q): %v; want the error to name --debug-listen", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := debugListener(addr)
		if err != nil {
			t.Errorf("debugListener(%q): %v", addr, err)
			continue
		}
		ln.Close()
	}
}

// TestDebugListenServesPprof: serve --debug-listen answers the pprof index on that address,
// and serve refuses a wildcard address with a message that says why.
func TestDebugListenServesPprof(t *testing.T) {
	addr := freeAddr(t)
	r := regiontest.Start(t, storetest.SQLite(t), "--debug-listen", addr)
	defer r.Stop()
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/debug/pprof/"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET the pprof index: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Errorf("pprof index: %d %.200s", resp.StatusCode, body)
	}

	bin := regiontest.Build(t, "maasgo/cmd/maas-region")
	e := storetest.SQLite(t)
	out, err := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--state-dir", e.StateDir, "--database", e.DSN,
		"--debug-listen", "0.0.0.0:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "loopback") {
		t.Errorf("serve --debug-listen 0.0.0.0:0: %v\n%s\nwant a refusal naming loopback addresses", err, out)
	}
}
