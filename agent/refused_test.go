package agent_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"strings"
	"testing"

	"maasgo/agent"
	"maasgo/agent/agenttest"
	"maasgo/wire"
)

// tarOf builds a tar of (name, type, body) members; a symlink's body is its target.
func tarOf(t *testing.T, members ...[3]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := &tar.Header{Name: m[0], Typeflag: m[1][0], Mode: 0o755}
		switch h.Typeflag {
		case tar.TypeSymlink:
			h.Linkname = m[2]
		case tar.TypeReg:
			h.Size = int64(len(m[2]))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(m[2]))
		}
	}
	tw.Close()
	return buf.Bytes()
}

const goodIndex = `{"1.0": {"testing_scripts": [{"name": "t-a", "path": "testing/t-a", "script_result_id": 1}]}}`

// TestRefusedScripts serves scripts tars the runner must refuse. The runner reports each to
// the region at once, through the journal (FAILED with a message naming what was wrong),
// runs nothing and ends with ErrScriptsRefused.
func TestRefusedScripts(t *testing.T) {
	script := "#!/bin/sh\ntouch \"$DOWNLOAD_PATH/ran\"\n"
	tests := []struct {
		name string
		tar  []byte
		want []string // in the FAILED signal's error
	}{
		{"member escapes", tarOf(t, [3]string{"testing/t-a", "0", script}, [3]string{"../../etc/evil", "0", "x"},
			[3]string{"index.json", "0", goodIndex}), []string{`"../../etc/evil"`, "unsafe archive member", "name leaves the directory"}},
		{"absolute member", tarOf(t, [3]string{"/etc/evil", "0", "x"}), []string{`"/etc/evil"`, "absolute"}},
		{"symlink", tarOf(t, [3]string{"testing/t-a", "2", "/etc/passwd"}, [3]string{"index.json", "0", goodIndex}),
			[]string{"testing/t-a", "unsafe archive member", "is not extracted"}},
		{"not a tar", bytes.Repeat([]byte("garbage "), 200), []string{"scripts tar", "read tar"}},
		{"bad index.json", tarOf(t, [3]string{"testing/t-a", "0", script}, [3]string{"index.json", "0", `{"1.0": {`}),
			[]string{"index.json", "unexpected end of JSON input"}},
		{"unsafe script path", tarOf(t, [3]string{"index.json", "0", `{"1.0": {"testing_scripts": [{"name": "t-a", "path": "../../bin/sh"}]}}`}),
			[]string{"index.json", `path "../../bin/sh" leaves the scripts directory`}},
		{"no index.json", tarOf(t, [3]string{"testing/t-a", "0", script}), []string{"read index", "index.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := agenttest.NewFake(t)
			f.Offer(t, sleepers(1, "0")...)
			f.ServeTar(tt.tar)
			h := agenttest.NewHarness(t, f)
			sum, err := h.Run(t)
			if !errors.Is(err, agent.ErrScriptsRefused) {
				t.Fatalf("run: %v; want ErrScriptsRefused", err)
			}
			if sum.Final != wire.SignalFailed || sum.Unsent != 0 || len(sum.Outcomes) != 0 {
				t.Errorf("final %q, %d unsent, %d outcomes; want FAILED delivered, nothing run", sum.Final, sum.Unsent, len(sum.Outcomes))
			}
			var failed []agenttest.Received
			for _, r := range f.Received() {
				if r.Get("status") == wire.SignalFailed {
					failed = append(failed, r)
				}
			}
			if len(failed) != 1 || failed[0].Key == "" {
				t.Fatalf("the region got %d FAILED signals (%+v); want one, journaled (with a key)", len(failed), failed)
			}
			msg := failed[0].Get("error")
			if !strings.HasPrefix(msg, "Refused the scripts from the region: ") {
				t.Errorf("FAILED error %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("FAILED error %q lacks %q", msg, w)
				}
			}
			if st := f.NodeStatus(t); st != wire.NodeFailedCommissioning {
				t.Errorf("node %s; want Failed commissioning", st.Label())
			}
			if !strings.Contains(h.Out.String(), "No script ran: scripts refused") {
				t.Errorf("the summary does not say the scripts were refused")
			}
			if got, want := receivedKeys(f), journalKeys(t, h.Storage, sum.RunID); len(got) != len(want) || f.Duplicates() != 0 {
				t.Errorf("the region stored %v; the journal has %v", got, want)
			}
			if r := f.Results(t)[0]; r.Status != wire.ScriptAborted {
				t.Errorf("result %s; want aborted by the failure", r.Status.Label())
			}
		})
	}
}
