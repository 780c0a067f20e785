package scripts

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/wire"
)

func TestJSONShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"no packages", wire.Packages{}, `{}`},
		{"packages", wire.Packages{Apt: []string{"fio"}, Snap: []wire.SnapPackage{{Name: "a"}, {Name: "b", Channel: "edge"}}, URL: []string{"http://x"}},
			`{"apt":["fio"],"snap":["a",{"name":"b","channel":"edge"}],"url":["http://x"]}`},
		{"no results", Results(nil), `{}`},
		{"result list", Results{{Name: "a"}, {Name: "b"}}, `["a","b"]`},
		{"result mapping", Results{{Name: "b", Title: "B", Description: "bee"}, {Name: "a", Title: "A"}},
			`{"b":{"title":"B","description":"bee"},"a":{"title":"A"}}`},
		{"no parameters", Parameters(nil), `{}`},
		{"parameters", Parameters{
			{Name: "z", Type: ParamChoice, Choices: []Choice{{Value: "a"}, {Value: "b", Label: "Bee"}}, Default: ptr("a")},
			{Name: "a", Type: ParamRuntime, Min: ptr[int64](0), Required: ptr(false)},
		}, `{"z":{"type":"choice","default":"a","choices":["a",["b","Bee"]]},"a":{"type":"runtime","required":false,"min":0}}`},
	} {
		got, err := json.Marshal(tc.v)
		if err != nil {
			t.Errorf("%s: Marshal: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s: Marshal = %s; want %s", tc.name, got, tc.want)
		}
	}
}

// TestJSONRoundTrip checks that every built-in's packages, results and parameters decode
// back to what was encoded, as a region storing them as JSON relies on.
func TestJSONRoundTrip(t *testing.T) {
	builtins, err := Builtins()
	if err != nil {
		t.Fatalf("Builtins: %v", err)
	}
	extra, err := Parse(script("parameters:", "  c: {type: choice, choices: [x, [y, Why]], required: false}",
		"  u: {type: url, allow_list: yes, default: 'http://a'}", "packages: {snap: [{name: s, mode: classic}, t]}"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	mds := []*Metadata{extra}
	for _, b := range builtins {
		mds = append(mds, b.Metadata)
	}
	for _, md := range mds {
		checkRoundTrip(t, md)
	}
}

func checkRoundTrip(t *testing.T, md *Metadata) {
	t.Helper()
	type fields struct {
		Packages   wire.Packages `json:"packages"`
		Results    Results       `json:"results"`
		Parameters Parameters    `json:"parameters"`
	}
	in := fields{md.Packages, md.Results, md.Parameters}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("%s: Marshal: %v", md.Name, err)
	}
	var out fields
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: Unmarshal(%s): %v", md.Name, data, err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("%s: round trip through %s mismatch (-want +got):\n%s", md.Name, data, diff)
	}
}

// TestPackagesAgree: the metadata's reader (ParsePackages, for YAML) and the wire decoder
// (for index.json and the stored JSON) accept the same JSON and read it the same way.
func TestPackagesAgree(t *testing.T) {
	for _, in := range []string{
		`null`, `{}`, `{"apt": "fio"}`, `{"apt": ["a", "b"], "url": "http://x", "snap": [{"name": "s", "mode": "dev"}, "t"]}`,
		`{"apt": [1, true, 2.50]}`, `{"snap": {"name": "s", "channel": "edge", "other": "x"}}`, `{"apt": null, "url": []}`,
		`["fio"]`, `"fio"`, `{"pip": "x"}`, `{"apt": "a", "apt": "b"}`, `{"apt": ["fio", {"a": "b"}]}`, `{"apt": [""]}`,
		`{"apt": [null]}`, `{"snap": {"name": "x", "channel": "tip"}}`, `{"snap": {"name": "x", "mode": "strict"}}`,
		`{"snap": [{"channel": "edge"}]}`, `{"snap": ""}`, `{"snap": [[1]]}`, `{"snap": {"name": "s", "other": {}}}`,
	} {
		fromYAML, yerr := ParsePackages(in)
		var fromJSON wire.Packages
		jerr := json.Unmarshal([]byte(in), &fromJSON)
		if (yerr == nil) != (jerr == nil) || (yerr == nil && !cmp.Equal(fromYAML, fromJSON)) {
			t.Errorf("%s: metadata reader %+v, %v; wire decoder %+v, %v", in, fromYAML, yerr, fromJSON, jerr)
		}
	}
}
