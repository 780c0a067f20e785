package collectors

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// Every parser of outside input has a fuzz test: it must not panic, and where there is a
// simple invariant it is checked.

func FuzzUnpackSnapshot(f *testing.F) {
	rec := NewRecorder()
	rec.file("/sys/a", []byte("x"))
	rec.link("/sys/class/net/eth0", "../../devices/eth0")
	rec.dir("/sys/devices")
	var plain, xzed bytes.Buffer
	if err := rec.WriteTar(&plain); err != nil {
		f.Fatal(err)
	}
	if err := rec.WriteTarXZ(&xzed); err != nil {
		f.Fatal(err)
	}
	f.Add(plain.Bytes())
	f.Add(xzed.Bytes())
	f.Add(makeTar(f, []tarEntry{{name: "../x", typ: tar.TypeReg}, {name: "l", link: "/etc", typ: tar.TypeSymlink}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		outer := t.TempDir()
		_ = UnpackSnapshot(bytes.NewReader(data), filepath.Join(outer, "root"))
		// Nothing may appear beside the destination, and no link may be absolute.
		if ents, _ := os.ReadDir(outer); len(ents) > 1 {
			t.Fatalf("wrote beside the destination: %v", ents)
		}
		filepath.WalkDir(filepath.Join(outer, "root"), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type()&os.ModeSymlink != 0 {
				if target, _ := os.Readlink(p); filepath.IsAbs(target) {
					t.Fatalf("absolute link %s -> %s", p, target)
				}
			}
			return nil
		})
	})
}

func FuzzParseUdevDB(f *testing.F) {
	f.Add("S:disk/by-id/x\nE:ID_MODEL_ENC=QEMU\\x20HARDDISK\nE:ID_SERIAL=a\n")
	f.Fuzz(func(t *testing.T, s string) {
		u := parseUdevDB(s)
		for k := range u.Env {
			if k == "" || strings.Contains(k, "\n") {
				t.Fatalf("bad key %q", k)
			}
		}
		for _, v := range u.Env {
			_ = decodeUdevEnc(v)
		}
	})
}

func FuzzDecodeUdevEnc(f *testing.F) {
	f.Add(`QEMU\x20HARDDISK\x20`)
	f.Add(`\x`)
	f.Fuzz(func(t *testing.T, s string) {
		if got := decodeUdevEnc(s); len(got) > len(s) {
			t.Fatalf("decoded %q is longer than %q", got, s)
		}
	})
}

func FuzzParseCPUInfo(f *testing.F) {
	f.Add("processor\t: 0\nmodel name\t: Xeon\n\nprocessor : 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		parseCPUInfo(s)
	})
}

func FuzzParseCPUList(f *testing.F) {
	f.Add("0-3,8")
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := parseCPUList(s)
		if err == nil && len(ids) > (1<<16+1)*(strings.Count(s, ",")+1) {
			t.Fatalf("list too long for %q", s)
		}
	})
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add("MemTotal: 100 kB\nNode 0 HugePages_Total: 3\n")
	f.Fuzz(func(t *testing.T, s string) {
		parseMeminfo(s)
	})
}

func FuzzParseNetDev(f *testing.F) {
	f.Add(" eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n")
	f.Fuzz(func(t *testing.T, s string) {
		parseNetDev(s)
	})
}

func FuzzParseKeyValue(f *testing.F) {
	f.Add("ID=ubuntu\nVERSION_ID=\"24.04\"\n# c\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseKeyValue(s)
	})
}

func FuzzParseVPD(f *testing.F) {
	f.Add(vpdFixture())
	f.Fuzz(func(t *testing.T, b []byte) {
		v := parseVPD(b)
		if len(v.ProductName) > len(b) {
			t.Fatal("product name longer than input")
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add("22 1 259:2 / / rw - ext4 /dev/x rw\n")
	f.Fuzz(func(t *testing.T, s string) {
		parseMountinfoDevices(s)
	})
}

func FuzzDecodeLinkSettings(f *testing.F) {
	b := make([]byte, linkSettingsHdrLen+3*4*4)
	b[lsNwordsOff] = 4
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < linkSettingsHdrLen {
			return
		}
		s, err := decodeLinkSettings(b)
		if err == nil {
			supportedModes(s.Supported)
			supportedPorts(s.Supported)
		}
	})
}

func FuzzIDsLookup(f *testing.F) {
	f.Add("8086  Intel\n\t10d3  NIC\n", "8086", "10d3")
	f.Fuzz(func(t *testing.T, db, v, d string) {
		file := &idsFile{data: []byte(db), used: map[int]bool{}, fs: &FS{}}
		vn, dn := file.lookup(v, d)
		if !utf8.ValidString(db) {
			return
		}
		if len(vn) > len(db) || len(dn) > len(db) {
			t.Fatal("name longer than the database")
		}
	})
}

func FuzzParseCacheSize(f *testing.F) {
	f.Add("32K")
	f.Fuzz(func(t *testing.T, s string) {
		parseCacheSize(s)
	})
}
