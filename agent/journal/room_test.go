package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"maasgo/internal/smallfs"
)

// TestFullDisk fills the journal's filesystem after it is opened: records still fit in the
// room the journal keeps; when that is used up too, Append fails without leaving a torn line,
// and the journal reads back whole.
func TestFullDisk(t *testing.T) {
	fs := smallfs.Mount(t, "1m")
	dir := filepath.Join(fs, "j")
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	smallfs.Fill(t, fs)
	data := map[string]string{"pad": strings.Repeat("p", 900)} // a line of about a kilobyte
	appended := 0
	var failure error
	for i := 0; i < 4*reserveSize/1000; i++ {
		if _, err := j.Append("signal", "", data, nil); err != nil {
			failure = err
			break
		}
		appended++
	}
	if appended < reserveLow/1000 {
		t.Errorf("%d records fit on the full disk; want the reserve's %d at least", appended, reserveLow/1000)
	}
	if !errors.Is(failure, syscall.ENOSPC) {
		t.Fatalf("after %d records: %v; want the disk full at last", appended, failure)
	}
	t.Logf("%d records of about 1 KB fitted after the disk was full; then: %v", appended, failure)
	// Room again: the next record follows the last whole one, not the torn end of the one
	// that failed.
	os.Remove(filepath.Join(fs, "filler"))
	if _, err := j.Append("signal", "after", data, nil); err != nil {
		t.Fatalf("append once there is room again: %v", err)
	}
	j.Close()
	j, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(j.Warnings) != 0 {
		t.Errorf("the failed writes left damage: %v", j.Warnings)
	}
	if n := len(j.Records("")); n != appended+1 {
		t.Errorf("%d records read back; %d were appended", n, appended+1)
	}
	if _, ok := j.Lookup("after"); !ok {
		t.Errorf("the record written after the failure is lost")
	}
}
