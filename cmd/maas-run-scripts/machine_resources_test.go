package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestReemit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	input := write("in.json", `{"api_version":"1.0","resources":{"a":"<b>"},"networks":{}}`)
	storage := write("storage.json", `{"layout":{"sda":{}}}`)
	bad := write("bad.json", `{"platform":`)
	tests := []struct {
		name    string
		args    []string
		want    map[string]bool // keys that must be present (true) or absent (false)
		wantErr string
	}{
		{"both extras, one missing", []string{"--storage-extra", storage, "--machine-extra", filepath.Join(dir, "none.json")},
			map[string]bool{"storage-extra": true, "machine-extra": false, "resources": true}, ""},
		{"no extras", nil, map[string]bool{"storage-extra": false, "machine-extra": false}, ""},
		{"invalid extra", []string{"--machine-extra", bad}, nil, "machine-extra file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, append([]string{"machine-resources", "--input", input}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			for k, present := range tt.want {
				if _, ok := doc[k]; ok != present {
					t.Errorf("key %s present = %v, want %v", k, ok, present)
				}
			}
			if !strings.Contains(out, `"<b>"`) {
				t.Errorf("HTML was escaped: %s", out)
			}
		})
	}
	if _, _, err := run(t, "machine-resources", "--input", filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing input accepted")
	}
	if _, _, err := run(t, "machine-resources", "--input", write("arr.json", "[1]")); err == nil {
		t.Error("non-object input accepted")
	}
	if _, _, err := run(t, "machine-resources", "--storage-extra", storage); err == nil {
		t.Error("--storage-extra without --input accepted")
	}
}

// TestMachineResourcesRootAndSnapshot runs the command on a fixture tree, writes a
// snapshot, and replays the snapshot: stdout carries only the same JSON each time.
func TestMachineResourcesRootAndSnapshot(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "machines", "two-socket-server", "root")
	snap := filepath.Join(t.TempDir(), "snap.tar.xz")
	first, stderr, err := run(t, "machine-resources", "--root", root, "--snapshot-out", snap)
	if err != nil || stderr != "" {
		t.Fatalf("err %v, stderr %q", err, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(first), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v", err)
	}
	second, _, err := run(t, "machine-resources", "--snapshot", snap)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Error("snapshot replay differs from the tree")
	}
	golden, err := os.ReadFile(filepath.Join(root, "..", "machine-resources.json"))
	if err != nil {
		t.Fatal(err)
	}
	pretty, _, err := run(t, "machine-resources", "--root", root, "--pretty")
	if err != nil || pretty != string(golden) {
		t.Errorf("--pretty output differs from the golden document (err %v)", err)
	}
}
