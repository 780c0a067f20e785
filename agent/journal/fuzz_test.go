package journal

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

func lineFor(payload string) string {
	return fmt.Sprintf("%08x %s\n", crc32.ChecksumIEEE([]byte(payload)), payload)
}

// FuzzParse feeds arbitrary logs to Parse and Open: they must not fail on content (only on
// I/O), the good prefix must be whole lines, and a journal opened on any log must accept a
// new record and read it back.
func FuzzParse(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte(lineFor(`{"record":{"seq":1,"kind":"signal","key":"k","time":"2024-01-01T00:00:00Z","data":{"a":1},"files":[{"name":"x","path":"files/1/0","size":3}]}}`) + lineFor(`{"sent":1}`)))
	f.Add([]byte(lineFor(`{"record":{"seq":-4,"kind":"x","time":"2024-01-01T00:00:00Z"}}`) + "00000000 {}\n"))
	f.Add([]byte("zzzzzzzz {\"sent\":1}\n" + lineFor(`{"sent":99}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _, good, _, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if good > int64(len(data)) || (good > 0 && data[good-1] != '\n') {
			t.Fatalf("good prefix %d is not whole lines", good)
		}
		seen := map[int64]bool{}
		for _, r := range recs {
			if r.Seq <= 0 || seen[r.Seq] {
				t.Fatalf("bad or repeated seq %d", r.Seq)
			}
			seen[r.Seq] = true
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, logName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := Open(dir)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		rec, err := j.Append("signal", "fuzz-new-key", nil, nil)
		if err != nil {
			j.Close()
			return // the fuzzed log may already use the key
		}
		j.Close()
		j, err = Open(dir)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer j.Close()
		if got, ok := j.Lookup("fuzz-new-key"); !ok || got.Seq != rec.Seq {
			t.Fatalf("appended record lost after reopen")
		}
	})
}
