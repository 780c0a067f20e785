package evidence

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func testKey(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// bundle writes a small bundle: two runs, a passed, a failed and a skipped result.
func bundle(t testing.TB, key ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	w := NewWriter(&buf, "node1-evidence", at)
	m := &Manifest{Generator: "test", Generated: at, Machine: Machine{SystemID: "abc123", Hostname: "node1", CPUCount: 8, Memory: 2048}}
	one := 1
	zero := 0
	for _, r := range []struct {
		run, name, status string
		failed, skipped   bool
		exit              *int
		out               string
	}{
		{"commissioning-1", "50-maas-01-commissioning", "Passed", false, false, &zero, `{"resources": {}}`},
		{"testing-2", "smartctl-validate", "Failed", true, false, &one, "SMART says the disk is dying\n"},
		{"testing-2", "../../etc/passwd", "Skipped", false, true, nil, ""},
	} {
		p, err := w.AddOutput(r.run, r.name+".out", []byte(r.out))
		if err != nil {
			t.Fatal(err)
		}
		m.Results = append(m.Results, Result{Run: r.run, Name: r.name, Status: r.status, Failed: r.failed, Skipped: r.skipped,
			ExitStatus: r.exit, Runtime: 1.25, Files: []string{p}})
	}
	if err := w.Close(m, key); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestVerify(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	b := bundle(t, key)
	v, err := Verify(bytes.NewReader(b), pub)
	if err != nil {
		t.Fatalf("verify a whole bundle: %v", err)
	}
	if !v.Trusted || v.Fingerprint != Fingerprint(pub) || !v.Manifest.Signed || len(v.Manifest.Files) != 4 {
		t.Errorf("verified %+v, files %v", v, v.Manifest.Files)
	}
	for _, f := range v.Manifest.Files {
		if strings.Contains(f.Path, "..") && !strings.HasPrefix(f.Path, "outputs/testing-2/.._.._etc_passwd") {
			t.Errorf("file path %q escapes", f.Path)
		}
	}
	// Without a trusted key the bundle's own key is used, and the caller is told so.
	if v, err := Verify(bytes.NewReader(b), nil); err != nil || v.Trusted || v.Fingerprint == "" {
		t.Errorf("verify without a trusted key: %+v %v", v, err)
	}
	cases := []struct {
		name string
		edit func([]byte) []byte
		key  ed25519.PublicKey
		want string
	}{
		{"one byte of an output", func(b []byte) []byte {
			return bytes.Replace(b, []byte("SMART says the disk is dying"), []byte("SMART says the disk is fine!"), 1)
		}, pub, "outputs/testing-2/smartctl-validate.out was changed"},
		{"one byte of an output, no trusted key", func(b []byte) []byte {
			return bytes.Replace(b, []byte("dying"), []byte("dyinG"), 1)
		}, nil, "outputs/testing-2/smartctl-validate.out was changed"},
		{"the manifest", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"status": "Failed"`), []byte(`"status": "Passed"`), 1)
		}, pub, "the manifest was changed"},
		{"another key", func(b []byte) []byte { return b }, testKey(t, 2).Public().(ed25519.PublicKey), "not by the trusted key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			edited := tc.edit(bytes.Clone(b))
			if bytes.Equal(edited, b) && tc.name != "another key" {
				t.Fatal("the edit changed nothing")
			}
			_, err := Verify(bytes.NewReader(edited), tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("verify: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestVerifyMembers(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	// Rewrite the bundle's members, adding or dropping one.
	rewrite := func(t *testing.T, drop string, add *tar.Header) []byte {
		tr := tar.NewReader(bytes.NewReader(bundle(t, key)))
		var out bytes.Buffer
		tw := tar.NewWriter(&out)
		for {
			hdr, err := tr.Next()
			if err != nil {
				break
			}
			if strings.HasSuffix(hdr.Name, drop) && drop != "" {
				continue
			}
			tw.WriteHeader(hdr)
			var b bytes.Buffer
			b.ReadFrom(tr)
			tw.Write(b.Bytes())
		}
		if add != nil {
			tw.WriteHeader(add)
			tw.Write(make([]byte, add.Size))
		}
		tw.Close()
		return out.Bytes()
	}
	for _, tc := range []struct {
		name string
		drop string
		add  *tar.Header
		want string
	}{
		{"missing output", "smartctl-validate.out", nil, "smartctl-validate.out is missing"},
		{"extra file", "", &tar.Header{Name: "node1-evidence/outputs/extra", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg}, "outputs/extra is not in the manifest"},
		{"outside the directory", "", &tar.Header{Name: "elsewhere/x", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}, "outside the bundle's directory"},
		{"dot-dot", "", &tar.Header{Name: "node1-evidence/../x", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}, "not a file under"},
		{"symlink", "", &tar.Header{Name: "node1-evidence/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink}, "not a regular file"},
		{"no signature", "manifest.sig", nil, "not signed"},
		{"no manifest", "manifest.json", nil, "has no manifest.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(rewrite(t, tc.drop, tc.add)), pub)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("verify: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestUnsigned: the agent's offline bundle carries no signature and says so; it verifies
// without a trusted key (whole, not vouched for) and never with one.
func TestUnsigned(t *testing.T) {
	b := bundle(t, nil)
	v, err := Verify(bytes.NewReader(b), nil)
	if err != nil || v.Manifest.Signed || v.Trusted || v.Fingerprint != "" {
		t.Fatalf("verify unsigned: %+v %v", v, err)
	}
	if _, err := Verify(bytes.NewReader(b), testKey(t, 1).Public().(ed25519.PublicKey)); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("unsigned bundle against a trusted key: %v", err)
	}
	edited := bytes.Replace(bytes.Clone(b), []byte("dying"), []byte("fine!"), 1)
	if _, err := Verify(bytes.NewReader(edited), nil); err == nil {
		t.Error("an edited unsigned bundle verified")
	}
}

func TestJUnit(t *testing.T) {
	v, err := Verify(bytes.NewReader(bundle(t, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := JUnit(v.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b, &got); err != nil {
		t.Fatalf("the JUnit file does not parse: %v\n%s", err, b)
	}
	if got.Tests != 3 || got.Failures != 1 || got.Skipped != 1 || len(got.Suites) != 2 || got.Suites[1].Name != "testing-2" {
		t.Errorf("JUnit: %+v", got)
	}
	c := got.Suites[1].Cases[0]
	if c.Failure == nil || c.Failure.Message != "Failed (exit status 1)" || c.Time != "1.250" {
		t.Errorf("failed case: %+v", c)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"smartctl-validate": "smartctl-validate",
		"../../etc/passwd":  ".._.._etc_passwd",
		"..":                "_..",
		"":                  "_",
		"a\x1b[31mb":        "a_[31mb",
	} {
		if got := SafeName(in, 100); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SafeName(strings.Repeat("é", 100), 11); got != strings.Repeat("é", 5) {
		t.Errorf("cut: %q", got)
	}
}

func FuzzVerify(f *testing.F) {
	key := testKey(f, 1)
	f.Add(bundle(f, key))
	f.Add(bundle(f, nil))
	f.Add([]byte{})
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Verify(bytes.NewReader(b), pub)
		if err == nil && (!v.Trusted || v.Manifest == nil) {
			t.Fatalf("verified without the trusted key: %+v", v)
		}
		Verify(bytes.NewReader(b), nil)
	})
}
