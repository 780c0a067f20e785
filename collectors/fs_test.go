package collectors

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestFSResolvesLinksInMachineSpace(t *testing.T) {
	tr := newTree(t)
	tr.file("sys/devices/pci0000:00/0000:00:01.0/net/eth0/address", "aa\n")
	tr.link("sys/class/net/eth0", "sys/devices/pci0000:00/0000:00:01.0/net/eth0")
	// An absolute link is resolved inside the tree, not on the host.
	if err := os.Symlink("/sys/class/net", filepath.Join(tr.root, "sys/abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop2", filepath.Join(tr.root, "sys/loop1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop1", filepath.Join(tr.root, "sys/loop2")); err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder()
	f := NewFS(RootsAt(tr.root), rec)
	tests := []struct {
		path    string
		want    string
		wantErr error
	}{
		{"/sys/class/net/eth0/address", "aa", nil},
		{"/sys/abs/eth0/address", "aa", nil},
		{"/sys/class/net/eth1/address", "", os.ErrNotExist},
		{"/sys/loop1/x", "", syscall.ELOOP},
		{"/proc/../sys/class/net/eth0/address", "aa", nil},
	}
	for _, tt := range tests {
		got, err := f.ReadString(tt.path)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ReadString(%s) error = %v, want %v", tt.path, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ReadString(%s) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	rp, err := f.Resolve("/sys/class/net/eth0")
	if err != nil || rp != "/sys/devices/pci0000:00/0000:00:01.0/net/eth0" {
		t.Errorf("Resolve = %q, %v", rp, err)
	}
	ents := rec.entries()
	if e := ents["sys/class/net/eth0"]; e.kind != kindLink || e.target != "../../devices/pci0000:00/0000:00:01.0/net/eth0" {
		t.Errorf("recorded link = %+v", e)
	}
	if e := ents["sys/devices/pci0000:00/0000:00:01.0/net/eth0/address"]; e.kind != kindFile || string(e.data) != "aa\n" {
		t.Errorf("recorded file = %+v", e)
	}
	if _, err := f.ReadFile("relative/path"); err == nil {
		t.Error("relative machine path accepted")
	}
}

type tarEntry struct {
	name, link string
	typ        byte
	body       string
}

func makeTar(t testing.TB, entries []tarEntry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func TestUnpackSnapshotRefusesUnsafeEntries(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		wantErr bool
	}{
		{"plain tree", []tarEntry{{name: "sys/", typ: tar.TypeDir}, {name: "sys/a", typ: tar.TypeReg, body: "x"}, {name: "sys/l", link: "a", typ: tar.TypeSymlink}}, false},
		{"sysfs style link", []tarEntry{{name: "sys/class/net/eth0", link: "../../devices/x", typ: tar.TypeSymlink}}, false},
		{"absolute name", []tarEntry{{name: "/etc/passwd", typ: tar.TypeReg}}, true},
		{"dot-dot name", []tarEntry{{name: "sys/../../x", typ: tar.TypeReg}}, true},
		{"absolute link", []tarEntry{{name: "sys/l", link: "/etc", typ: tar.TypeSymlink}}, true},
		{"link above root", []tarEntry{{name: "sys/l", link: "../../x", typ: tar.TypeSymlink}}, true},
		{"dot-dot after a name", []tarEntry{{name: "a", link: ".", typ: tar.TypeSymlink}, {name: "b", link: "a/..", typ: tar.TypeSymlink}}, true},
		{"write through link", []tarEntry{{name: "sys/l", link: "x", typ: tar.TypeSymlink}, {name: "sys/l/f", typ: tar.TypeReg}}, true},
		{"overwrite a file", []tarEntry{{name: "a", typ: tar.TypeReg}, {name: "a", typ: tar.TypeReg}}, true},
		{"device node", []tarEntry{{name: "dev/null", typ: tar.TypeChar}}, true},
		{"hard link", []tarEntry{{name: "x", link: "y", typ: tar.TypeLink}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			outer := t.TempDir()
			dest := filepath.Join(outer, "root")
			err := UnpackSnapshot(bytes.NewReader(makeTar(t, tt.entries)), dest)
			if (err != nil) != tt.wantErr {
				t.Fatalf("UnpackSnapshot error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadSnapshot) {
				t.Errorf("error %v does not wrap ErrBadSnapshot", err)
			}
			ents, _ := os.ReadDir(outer)
			if len(ents) != 1 {
				t.Errorf("something was written beside the destination: %v", ents)
			}
		})
	}
}

func TestFSLexists(t *testing.T) {
	tr := newTree(t)
	tr.file("dev/sda", "")
	tr.link("dev/disk/by-id/ata-x", "dev/sda")
	tr.link("dev/disk/by-id/gone", "dev/sdz")
	tr.link("dev/by", "dev/disk")
	rec := NewRecorder()
	f := NewFS(RootsAt(tr.root), rec)
	for p, want := range map[string]bool{
		"/dev/disk/by-id/ata-x": true,
		"/dev/disk/by-id/gone":  true, // a dangling link exists, as with lstat
		"/dev/by/by-id/ata-x":   true, // links before the last element are followed
		"/dev/disk/by-id/none":  false,
		"/dev/sda/x":            false,
		"/dev":                  true,
		"/":                     true,
		"dev/sda":               false,
	} {
		if got := f.Lexists(p); got != want {
			t.Errorf("Lexists(%q) = %v, want %v", p, got, want)
		}
	}
	ents := rec.entries()
	if e := ents["dev/disk/by-id/gone"]; e.kind != kindLink || e.target != "../../sdz" {
		t.Errorf("recorded link = %+v", e)
	}
	if e := ents["dev/disk/by-id/ata-x"]; e.kind != kindLink {
		t.Errorf("recorded link = %+v", e)
	}
}
