package journal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAppendReopen(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "out.txt")
	writeFile(t, src, "hello")
	j, err := Open(filepath.Join(dir, "j"))
	if err != nil {
		t.Fatal(err)
	}
	r1, err := j.Append("signal", "a", map[string]string{"status": "WORKING"}, []FileSource{{Name: "x.out", Src: src}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append("mark", "b", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append("signal", "a", nil, nil); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("duplicate key: got %v; want ErrDuplicateKey", err)
	}
	if _, err := j.Append("signal", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(j.Path(r1.Files[0]))
	if err != nil || string(got) != "hello" {
		t.Fatalf("kept file: %q, %v", got, err)
	}
	// Rewriting the source (as a rerun does: remove, then create) leaves the kept copy alone.
	os.Remove(src)
	writeFile(t, src, "changed")
	if err := j.MarkSent(r1.Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(j.Path(r1.Files[0])); !os.IsNotExist(err) {
		t.Errorf("files of a sent record are kept: %v", err)
	}
	j.Close()

	j2, err := Open(filepath.Join(dir, "j"))
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if len(j2.Warnings) != 0 {
		t.Errorf("warnings: %v", j2.Warnings)
	}
	var seqs []int64
	for _, r := range j2.Unsent("signal") {
		seqs = append(seqs, r.Seq)
	}
	if diff := cmp.Diff([]int64{3}, seqs); diff != "" {
		t.Errorf("unsent (-want +got):\n%s", diff)
	}
	if r, ok := j2.Lookup("b"); !ok || r.Kind != "mark" || r.Seq != 2 {
		t.Errorf("lookup b: %+v %v", r, ok)
	}
	r4, err := j2.Append("signal", "c", nil, nil)
	if err != nil || r4.Seq != 4 {
		t.Fatalf("append after reopen: seq %d, %v", r4.Seq, err)
	}
}

// TestTornTail cuts the log at every byte and checks that Open recovers the whole lines.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if _, err := j.Append("signal", k, map[string]string{"k": k}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.MarkSent(1); err != nil {
		t.Fatal(err)
	}
	j.Close()
	full, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	lineEnds := []int{}
	for i, b := range full {
		if b == '\n' {
			lineEnds = append(lineEnds, i+1)
		}
	}
	for cut := 0; cut <= len(full); cut++ {
		d := t.TempDir()
		writeFile(t, filepath.Join(d, logName), string(full[:cut]))
		j, err := Open(d)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		whole := 0
		for _, e := range lineEnds {
			if e <= cut {
				whole++
			}
		}
		wantRecords := min(whole, 3)
		if got := len(j.Records("")); got != wantRecords {
			t.Errorf("cut %d: %d records; want %d", cut, got, wantRecords)
		}
		if _, err := j.Append("signal", "new", nil, nil); err != nil {
			t.Fatalf("cut %d: append: %v", cut, err)
		}
		j.Close()
		j, err = Open(d)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := j.Lookup("new"); !ok || len(j.Warnings) != 0 {
			t.Errorf("cut %d: after append and reopen: found %v, warnings %v", cut, ok, j.Warnings)
		}
		j.Close()
	}
}

func TestCorruptMiddleLine(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if _, err := j.Append("signal", k, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	path := filepath.Join(dir, logName)
	data, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines[1] = bytes.Replace(lines[1], []byte(`"b"`), []byte(`"B"`), 1)
	writeFile(t, path, string(bytes.Join(lines, nil)))
	j, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(j.Warnings) != 1 || !strings.Contains(j.Warnings[0], "checksum") {
		t.Errorf("warnings: %v", j.Warnings)
	}
	if _, ok := j.Lookup("c"); !ok {
		t.Error("record after the corrupt line is lost")
	}
	if _, ok := j.Lookup("b"); ok {
		t.Error("corrupt record read")
	}
}

func TestParse(t *testing.T) {
	rec1 := lineFor(`{"record":{"seq":1,"kind":"signal","time":"2024-01-01T00:00:00Z"}}`)
	rec1b := lineFor(`{"record":{"seq":1,"kind":"b","time":"2024-01-01T00:00:00Z"}}`)
	sent1 := lineFor(`{"sent":1}`)
	tests := []struct {
		name     string
		in       string
		records  int
		sent     []int64
		good     int
		warnings int
	}{
		{"empty", "", 0, nil, 0, 0},
		{"one", rec1, 1, nil, len(rec1), 0},
		{"sent", rec1 + sent1, 1, []int64{1}, len(rec1 + sent1), 0},
		{"repeated seq", rec1 + rec1b, 1, nil, len(rec1 + rec1b), 1},
		{"garbage only", "garbage\n", 0, nil, 0, 0},
		{"garbage between", rec1 + "garbage\n" + sent1, 1, []int64{1}, len(rec1+sent1) + 8, 1},
		{"torn last line", rec1 + sent1[:15], 1, nil, len(rec1), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, sent, n, warns, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tt.records || int(n) != tt.good || len(warns) != tt.warnings {
				t.Errorf("got %d records, good %d, warnings %v; want %d, %d, %d", len(recs), n, warns, tt.records, tt.good, tt.warnings)
			}
			for _, s := range tt.sent {
				if !sent[s] {
					t.Errorf("seq %d not sent", s)
				}
			}
		})
	}
}
