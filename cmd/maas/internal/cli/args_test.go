package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/client"
)

func TestParseArg(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Arg
		err  bool
	}{
		{"hostname=mymachine", Arg{Name: "hostname", Value: "mymachine"}, false},
		{"script@=/tmp/x.sh", Arg{Name: "script", Value: "/tmp/x.sh", FromFile: true}, false},
		{"a=b@=c", Arg{Name: "a", Value: "b@=c"}, false},
		{"a@b=c", Arg{Name: "a@b", Value: "c"}, false},
		{"value=", Arg{Name: "value", Value: ""}, false},
		{"to=-1", Arg{Name: "to", Value: "-1"}, false},
		{"filters=a,b=c", Arg{Name: "filters", Value: "a,b=c"}, false},
		{"x@=", Arg{Name: "x", Value: "", FromFile: true}, false},
		{"comment=two words", Arg{Name: "comment", Value: "two words"}, false},
		{"noequals", Arg{}, true},
		{"", Arg{}, true},
		{"=value", Arg{}, true},
		{"@=file", Arg{}, true},
		{"@", Arg{}, true},
	} {
		got, err := ParseArg(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseArg(%q) error = %v; want error %v", tc.in, err, tc.err)
			continue
		}
		if err != nil && !errors.Is(err, ErrNotPair) {
			t.Errorf("ParseArg(%q) error %v is not ErrNotPair", tc.in, err)
		}
		if got != tc.want {
			t.Errorf("ParseArg(%q) = %+v; want %+v", tc.in, got, tc.want)
		}
	}
}

func TestLooksLikePair(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"install_kvm=True", true}, {"script@=f", true}, {"link-speed=1", true}, {"a1=2", true},
		{"abc123", false}, {"current-commissioning", false}, {"1=2", false}, {"-x=1", false},
		{"a.b=c", false}, {"=x", false}, {"a b=c", false},
	} {
		if got := LooksLikePair(tc.in); got != tc.want {
			t.Errorf("LooksLikePair(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestFields(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "test.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.sh")
	for _, tc := range []struct {
		name     string
		args     []Arg
		want     []client.Part
		warnings int
		err      string
	}{
		{"plain", []Arg{{Name: "hostname", Value: "x"}, {Name: "mac_addresses", Value: "1"}, {Name: "mac_addresses", Value: "2"}},
			[]client.Part{{Name: "hostname", Value: "x"}, {Name: "mac_addresses", Value: "1"}, {Name: "mac_addresses", Value: "2"}}, 0, ""},
		{"at-equals", []Arg{{Name: "script", Value: script, FromFile: true}},
			[]client.Part{{Name: "script", Value: "#!/bin/sh\necho hi\n", File: true}}, 0, ""},
		{"at-equals any field", []Arg{{Name: "user_data", Value: script, FromFile: true}},
			[]client.Part{{Name: "user_data", Value: "#!/bin/sh\necho hi\n", File: true}}, 0, ""},
		{"script path", []Arg{{Name: "name", Value: "t"}, {Name: "script", Value: script}, {Name: "type", Value: "testing"}},
			[]client.Part{{Name: "name", Value: "t"}, {Name: "script", Value: "#!/bin/sh\necho hi\n", File: true}, {Name: "type", Value: "testing"}}, 0, ""},
		{"script text", []Arg{{Name: "script", Value: "#!/bin/sh\ntrue\n"}},
			[]client.Part{{Name: "script", Value: "#!/bin/sh\ntrue\n"}}, 0, ""},
		{"script missing path", []Arg{{Name: "script", Value: missing}},
			[]client.Part{{Name: "script", Value: missing}}, 1, ""},
		{"script directory", []Arg{{Name: "script", Value: dir}},
			[]client.Part{{Name: "script", Value: dir}}, 1, ""},
		{"other field with a path", []Arg{{Name: "comment", Value: script}},
			[]client.Part{{Name: "comment", Value: script}}, 0, ""},
		{"missing file", []Arg{{Name: "script", Value: missing, FromFile: true}}, nil, 0,
			"script@=" + missing + ": no such file or directory"},
		{"directory file", []Arg{{Name: "script", Value: dir, FromFile: true}}, nil, 0,
			"script@=" + dir + ": is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warnings []string
			got, err := Fields(tc.args, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("Fields error = %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Fields (-want +got):\n%s", diff)
			}
			if len(warnings) != tc.warnings {
				t.Errorf("warnings %q; want %d", warnings, tc.warnings)
			}
		})
	}
}

func FuzzParseArg(f *testing.F) {
	for _, s := range []string{"a=b", "script@=f", "a=b@=c", "@=", "=", "x", "a@b=c", "é@=ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseArg(s)
		if err != nil {
			if !errors.Is(err, ErrNotPair) {
				t.Fatalf("ParseArg(%q): unexpected error kind %v", s, err)
			}
			if LooksLikePair(s) {
				t.Fatalf("LooksLikePair(%q) but ParseArg fails", s)
			}
			return
		}
		if a.Name == "" {
			t.Fatalf("ParseArg(%q) gave an empty name", s)
		}
		sep := "="
		if a.FromFile {
			sep = "@="
		}
		if a.Name+sep+a.Value != s {
			t.Fatalf("ParseArg(%q) = %+v does not reassemble", s, a)
		}
		if strings.Contains(a.Name, "=") {
			t.Fatalf("ParseArg(%q): name %q contains =", s, a.Name)
		}
		if !a.FromFile && strings.HasSuffix(a.Name, "@") {
			t.Fatalf("ParseArg(%q): @= not recognised", s)
		}
	})
}
