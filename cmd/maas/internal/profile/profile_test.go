package profile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func strp(s string) *string { return &s }

func TestSaveLoad(t *testing.T) {
	s := &Store{Dir: filepath.Join(t.TempDir(), "maas", "profiles")}
	names, err := s.Names()
	if err != nil || len(names) != 0 {
		t.Fatalf("Names on a missing directory = %v, %v", names, err)
	}
	admin := &Profile{Name: "admin", URL: "http://127.0.0.1:5240/MAAS/api/2.0/", Credentials: strp("a:b:c"),
		Description: json.RawMessage(`{"doc":"MAAS API","resources":[]}`)}
	anon := &Profile{Name: "anon.1", URL: "https://maas.example/MAAS/api/2.0/", CACerts: "PEM",
		Description: json.RawMessage(`{"resources":[]}`)}
	for _, p := range []*Profile{admin, anon} {
		if err := s.Save(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*Profile{admin, anon} {
		fi, err := os.Stat(filepath.Join(s.Dir, p.Name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v; want 0600", p.Name, fi.Mode().Perm())
		}
		got, err := s.Load(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got, cmp.Comparer(func(a, b json.RawMessage) bool {
			var x, y any
			return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
		})); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	if fi, err := os.Stat(s.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode: %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	// Overwriting keeps 0600 even when the old file was looser.
	if err := os.Chmod(filepath.Join(s.Dir, "admin.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(admin); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(s.Dir, "admin.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after overwrite %v; want 0600", fi.Mode().Perm())
	}
	// Stray files are not profiles.
	for _, f := range []string{".admin.123.tmp", "notes.txt", "bad name.json"} {
		os.WriteFile(filepath.Join(s.Dir, f), []byte("x"), 0o600)
	}
	os.Mkdir(filepath.Join(s.Dir, "dir.json"), 0o700)
	names, err = s.Names()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"admin", "anon.1"}, names); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	c, ok, err := admin.Creds()
	if err != nil || !ok || c.ConsumerKey != "a" || c.TokenKey != "b" || c.TokenSecret != "c" {
		t.Errorf("Creds = %+v, %v, %v", c, ok, err)
	}
	if _, ok, err := anon.Creds(); ok || err != nil {
		t.Errorf("anonymous Creds = %v, %v", ok, err)
	}
	if err := s.Delete("admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("admin"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Delete: %v; want ErrNotFound", err)
	}
	if err := s.Delete("admin"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v; want ErrNotFound", err)
	}
}

func TestLoadErrors(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(s.Dir, name+".json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("other", `{"name":"someone","url":"http://x/MAAS/api/2.0/","credentials":null,"description":{}}`)
	write("broken", `{"name":`)
	for _, name := range []string{"other", "broken", "../etc/passwd", ""} {
		if _, err := s.Load(name); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Load(%q) = %v; want a non-ErrNotFound error", name, err)
		}
	}
	if err := s.Save(&Profile{Name: "x", URL: "ftp://x/", Description: json.RawMessage(`{}`)}); err == nil {
		t.Errorf("Save accepted an ftp URL")
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"admin", true}, {"my-maas.2", true}, {"a@b+c_d", true}, {"0", true},
		{"", false}, {"-x", false}, {".x", false}, {"a/b", false}, {"a b", false}, {"ä", false},
		{string(make([]byte, 65)), false},
	} {
		if err := ValidName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v; want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"good", `{"name":"a","url":"http://h:5240/MAAS/api/2.0/","credentials":"a:b:c","description":{"resources":[]}}`, true},
		{"anonymous", `{"name":"a","url":"http://h/","credentials":null,"description":{}}`, true},
		{"bad key", `{"name":"a","url":"http://h/","credentials":"a:b","description":{}}`, false},
		{"no description", `{"name":"a","url":"http://h/","credentials":null}`, false},
		{"null description", `{"name":"a","url":"http://h/","credentials":null,"description":null}`, false},
		{"no host", `{"name":"a","url":"http:///x","description":{}}`, false},
		{"bad name", `{"name":"a/b","url":"http://h/","description":{}}`, false},
		{"trailing", `{"name":"a","url":"http://h/","description":{}} {}`, false},
		{"not json", `name: a`, false},
	} {
		_, err := Parse([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("%s: Parse = %v; want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"name":"a","url":"http://h:5240/MAAS/api/2.0/","credentials":"a:b:c","description":{"resources":[]}}`))
	f.Add([]byte(`{"name":"a","url":"https://h/","credentials":null,"cacerts":"x","description":[1]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal a parsed profile: %v", err)
		}
		q, err := Parse(b)
		if err != nil {
			t.Fatalf("a parsed profile does not parse again: %v\n%s", err, b)
		}
		if p.Name != q.Name || p.URL != q.URL || p.CACerts != q.CACerts || (p.Credentials == nil) != (q.Credentials == nil) {
			t.Fatalf("round trip changed the profile: %+v → %+v", p, q)
		}
	})
}
