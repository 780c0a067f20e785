package collectors

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/collectors/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) {
	// ghw warns on stderr about absent DMI files unless told not to (see system.go).
	os.Setenv("GHW_DISABLE_WARNINGS", "1")
	os.Exit(m.Run())
}

const machinesDir = "../testdata/machines"

// machines lists the fixture machines (directories with a root/ tree).
func machines(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(machinesDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if fi, err := os.Stat(filepath.Join(machinesDir, e.Name(), "root")); err == nil && fi.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) < 3 {
		t.Fatalf("want at least 3 fixture machines, found %v", out)
	}
	return out
}

func encode(t testing.TB, doc *schema.Document) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func collectTree(t testing.TB, root string, rec *Recorder) *schema.Document {
	t.Helper()
	seams := ReplaySeams(root)
	if rec != nil {
		seams = RecordingSeams(seams, rec)
	}
	return Collect(context.Background(), RootsAt(root), seams, rec, nil)
}

// TestGolden collects every fixture machine and compares with its golden document.
func TestGolden(t *testing.T) {
	for _, m := range machines(t) {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			doc := collectTree(t, filepath.Join(machinesDir, m, "root"), nil)
			if len(doc.CollectorErrors) != 0 {
				t.Errorf("collector errors: %v", doc.CollectorErrors)
			}
			got := encode(t, doc)
			golden := filepath.Join(machinesDir, m, "machine-resources.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("document differs from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestSnapshotRoundTrip records a collection, packs it, unpacks it and collects again:
// the documents must be byte-identical.
func TestSnapshotRoundTrip(t *testing.T) {
	for _, m := range machines(t) {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			rec := NewRecorder()
			first := encode(t, collectTree(t, filepath.Join(machinesDir, m, "root"), rec))
			var buf bytes.Buffer
			if err := rec.WriteTarXZ(&buf); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := UnpackSnapshot(&buf, dir); err != nil {
				t.Fatal(err)
			}
			second := encode(t, collectTree(t, dir, nil))
			if diff := cmp.Diff(string(first), string(second)); diff != "" {
				t.Errorf("replayed snapshot differs (-recorded +replayed):\n%s", diff)
			}
		})
	}
}

// TestRecordingIsDeterministic checks that the same collection gives the same archive.
func TestRecordingIsDeterministic(t *testing.T) {
	root := filepath.Join(machinesDir, "two-socket-server", "root")
	var archives [2][]byte
	for i := range archives {
		rec := NewRecorder()
		collectTree(t, root, rec)
		var buf bytes.Buffer
		if err := rec.WriteTar(&buf); err != nil {
			t.Fatal(err)
		}
		archives[i] = buf.Bytes()
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Error("two recordings of the same tree differ")
	}
}

func BenchmarkCollectServerFixture(b *testing.B) {
	root := filepath.Join(machinesDir, "two-socket-server", "root")
	for b.Loop() {
		doc := collectTree(b, root, nil)
		if len(doc.CollectorErrors) != 0 {
			b.Fatal(doc.CollectorErrors)
		}
	}
}
