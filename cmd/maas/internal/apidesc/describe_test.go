package apidesc

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func loadRegion(t *testing.T) *Description {
	t.Helper()
	b, err := os.ReadFile("testdata/region-describe.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCommandsFromRegion(t *testing.T) {
	cmds := Commands(loadRegion(t), false)
	var names []string
	byName := map[string]Command{}
	for _, c := range cmds {
		names = append(names, c.Name)
		byName[c.Name] = c
	}
	want := []string{"account", "interface", "interfaces", "maas", "machine", "machines", "user", "users", "version"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("command names (-want +got):\n%s", diff)
	}
	actions := func(c Command) map[string]CommandAction {
		m := map[string]CommandAction{}
		for _, a := range c.Actions {
			m[a.Name] = a
		}
		return m
	}
	for _, tc := range []struct {
		resource, action, method, op string
		data                         bool
		params                       []string
	}{
		{"machines", "read", "GET", "", true, nil},
		{"machines", "allocate", "POST", "allocate", true, nil},
		{"machines", "is-registered", "GET", "is_registered", true, nil},
		{"machine", "get-token", "GET", "get_token", false, []string{"system_id"}},
		{"machine", "deploy", "POST", "deploy", true, []string{"system_id"}},
		{"interface", "update", "PUT", "", true, []string{"system_id", "id"}},
		{"maas", "set-config", "POST", "set_config", true, nil},
		{"users", "whoami", "GET", "whoami", false, nil},
	} {
		c, ok := byName[tc.resource]
		if !ok {
			t.Errorf("no resource %s", tc.resource)
			continue
		}
		a, ok := actions(c)[tc.action]
		if !ok {
			t.Errorf("%s: no action %s", tc.resource, tc.action)
			continue
		}
		if a.Method != tc.method || a.Op != tc.op || a.TakesData != tc.data {
			t.Errorf("%s %s = %s op=%q data=%v; want %s op=%q data=%v", tc.resource, tc.action, a.Method, a.Op, a.TakesData, tc.method, tc.op, tc.data)
		}
		if diff := cmp.Diff(tc.params, c.Params, cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })); diff != "" {
			t.Errorf("%s params (-want +got):\n%s", tc.resource, diff)
		}
	}
}

func TestCommandsAnonymous(t *testing.T) {
	cmds := Commands(loadRegion(t), true)
	got := map[string][]string{}
	for _, c := range cmds {
		for _, a := range c.Actions {
			got[c.Name] = append(got[c.Name], a.Name)
		}
	}
	want := map[string][]string{"machines": {"is-registered"}, "version": {"read"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("anonymous commands (-want +got):\n%s", diff)
	}
}

func TestCommandsMerging(t *testing.T) {
	d, err := Parse([]byte(`{"resources": [
	 {"name": "ZedHandler", "anon": {"name": "AnonZedHandler", "path": "/z/", "params": [], "actions": [
	   {"name": "read", "method": "GET", "op": null, "doc": "anon read"},
	   {"name": "peek", "method": "GET", "op": "peek", "doc": "Peek.\n\n:param x: y"}]},
	  "auth": {"name": "ZedHandler", "path": "/z/", "params": [], "actions": [
	   {"name": "read", "method": "GET", "op": null, "doc": "auth read"}]}},
	 {"name": "BadPathHandler", "anon": null, "auth": {"path": "/b/{x}/", "params": [], "actions": [{"name": "read", "method": "GET"}]}},
	 {"name": "EmptyHandler", "anon": null, "auth": {"path": "/e/", "params": [], "actions": []}},
	 {"name": "BadMethodHandler", "anon": null, "auth": {"path": "/m/", "params": [], "actions": [{"name": "read", "method": "get"}]}},
	 {"name": "AlphaHandler", "anon": null, "auth": {"path": "/a/{id}/", "params": ["id"], "actions": [{"name": "read", "method": "GET"}]}},
	 {"name": "Alpha_Handler", "anon": null, "auth": {"path": "/a2/", "params": [], "actions": [{"name": "read", "method": "GET"}]}}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	cmds := Commands(d, false)
	type short struct {
		Name    string
		Path    string
		Actions []string
		Docs    []string
		Data    []bool
	}
	var got []short
	for _, c := range cmds {
		s := short{Name: c.Name, Path: c.Path}
		for _, a := range c.Actions {
			s.Actions = append(s.Actions, a.Name)
			s.Docs = append(s.Docs, a.Doc)
			s.Data = append(s.Data, a.TakesData)
		}
		got = append(got, s)
	}
	want := []short{
		{Name: "alpha", Path: "/a/{id}/", Actions: []string{"read"}, Docs: []string{""}, Data: []bool{false}},
		{Name: "zed", Path: "/z/", Actions: []string{"read", "peek"}, Docs: []string{"auth read", "Peek.\n\n:param x: y"}, Data: []bool{false, true}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Commands (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{``, `[]`, `{}`, `{"resources": null}`, `{"resources": "x"}`, `{"resources": [{"auth": 3}]}`, `<html>`} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		path   string
		params []string
		values []string
		want   string
		err    bool
	}{
		{"/MAAS/api/2.0/machines/{system_id}/", []string{"system_id"}, []string{"abc123"}, "/MAAS/api/2.0/machines/abc123/", false},
		{"/MAAS/api/2.0/nodes/{system_id}/results/{id}/", []string{"system_id", "id"}, []string{"x", "current-commissioning"}, "/MAAS/api/2.0/nodes/x/results/current-commissioning/", false},
		{"/MAAS/api/2.0/scripts/{name}", []string{"name"}, []string{"a b/c"}, "/MAAS/api/2.0/scripts/a%20b%2Fc", false},
		{"/MAAS/api/2.0/scripts/{name}", []string{"name"}, []string{"{id}"}, "/MAAS/api/2.0/scripts/%7Bid%7D", false},
		{"/x/{a}/", []string{"a"}, nil, "", true},
		{"/x/{a}/", []string{"b"}, []string{"1"}, "", true},
		{"/x/{a/", []string{"a"}, []string{"1"}, "", true},
		{"/x/a}/", nil, nil, "", true},
		{"x/", nil, nil, "", true},
	} {
		got, err := Expand(tc.path, tc.params, tc.values)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Expand(%q, %q, %q) = %q, %v; want %q, error %v", tc.path, tc.params, tc.values, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParse(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input it finds, which takes long for the
	// full document under testdata/.
	f.Add([]byte(`{"resources": [{"name": "AHandler", "auth": {"path": "/a/{x}/", "params": ["x"], "actions": [{"name": "do_it", "method": "POST", "op": "do_it", "doc": "D.\n\n:param y: z"}]}}]}`))
	f.Add([]byte(`{"resources": [{"name": "", "anon": {"path": "{", "params": ["{"]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			return
		}
		for _, anon := range []bool{false, true} {
			for _, c := range Commands(d, anon) {
				if c.Name == "" || len(c.Actions) == 0 {
					t.Fatalf("unusable command %+v", c)
				}
				vals := make([]string, len(c.Params))
				for i := range vals {
					vals[i] = "v"
				}
				if _, err := Expand(c.Path, c.Params, vals); err != nil {
					t.Fatalf("command %s kept with a bad path: %v", c.Name, err)
				}
				for _, a := range c.Actions {
					SplitDoc(a.Doc)
					ParamNames(a.Doc)
				}
			}
		}
	})
}
