package agent_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ulikunitz/xz"

	"maasgo/agent"
	"maasgo/agent/agenttest"
	"maasgo/wire"
	"maasgo/wire/evidence"
)

// TestExport: a --no-send run's journal exports as an unsigned evidence bundle that verifies
// whole, with each script's outputs and a failed script shown as failed.
func TestExport(t *testing.T) {
	// A first run downloads the scripts; the second runs them again without sending.
	first := agenttest.NewFake(t)
	first.Offer(t,
		agenttest.Script{Body: agenttest.NewScript("t-pass", wire.ScriptTypeTesting, "", "echo fine")},
		agenttest.Script{Body: agenttest.NewScript("t-fail", wire.ScriptTypeTesting, "", "echo broken >&2; exit 4")},
	)
	h := agenttest.NewHarness(t, first)
	h.Run(t)
	other := agenttest.NewFake(t)
	h2 := agenttest.NewHarness(t, other)
	h2.Agent.StorageDir = h.Storage
	h2.Agent.NoSend = true
	h2.Agent.Heartbeat = 10 * time.Millisecond
	if _, err := h2.Run(t); err == nil || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("run with a failing script: %v", err)
	}
	if n := other.Connections(); n != 0 {
		t.Fatalf("--no-send connected %d times", n)
	}
	var buf bytes.Buffer
	m, err := agent.Export(h.Storage, "", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if m.Signed || len(m.Results) != 2 {
		t.Fatalf("manifest: signed %v, %d results", m.Signed, len(m.Results))
	}
	xr, err := xz.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(xr)
	if err != nil {
		t.Fatal(err)
	}
	v, err := evidence.Verify(bytes.NewReader(plain), nil)
	if err != nil {
		t.Fatalf("verify the export: %v", err)
	}
	if v.Trusted || v.Fingerprint != "" {
		t.Errorf("an unsigned export verified as signed: %+v", v)
	}
	byName := map[string]evidence.Result{}
	for _, r := range v.Manifest.Results {
		byName[r.Name] = r
	}
	bad := byName["t-fail"]
	if !bad.Failed || bad.ExitStatus == nil || *bad.ExitStatus != 4 || !strings.HasPrefix(bad.Run, "testing-") || len(bad.Files) == 0 {
		t.Errorf("failed result: %+v", bad)
	}
	if !bytes.Contains(plain, []byte("broken")) || !bytes.Contains(plain, []byte(`<failure message="Failed (exit status 4)"`)) {
		t.Error("the export lacks the failed script's output or its JUnit failure")
	}
	if _, err := agent.Export(t.TempDir(), "", io.Discard); err == nil {
		t.Error("export of an empty storage directory succeeded")
	}
}
