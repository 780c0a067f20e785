package wire

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPackagesJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Packages
		err  string
	}{
		{in: "null", want: Packages{}},
		{in: "{}", want: Packages{}},
		{in: `{"apt": null, "snap": null, "url": null}`, want: Packages{}},
		{in: `{"apt": "fio"}`, want: Packages{Apt: []string{"fio"}}},
		{in: `{"apt": ["a", "b"], "url": "http://x", "snap": [{"name": "s", "mode": "dev"}, "t"]}`,
			want: Packages{Apt: []string{"a", "b"}, URL: []string{"http://x"}, Snap: []SnapPackage{{Name: "s", Mode: "dev"}, {Name: "t"}}}},
		{in: `{"snap": {"name": "s", "channel": "edge", "mode": "classic", "note": "ignored"}}`,
			want: Packages{Snap: []SnapPackage{{Name: "s", Channel: "edge", Mode: "classic"}}}},
		{in: `{"apt": [1, true]}`, want: Packages{Apt: []string{"1", "true"}}},
		{in: `["fio"]`, err: "want a mapping of apt, snap and url: want a mapping, got a list"},
		{in: `"fio"`, err: `want a mapping of apt, snap and url: want a mapping, got "fio"`},
		{in: `{"pip": "x"}`, err: "pip: unknown package source (want apt, snap or url)"},
		{in: `{"apt": "a", "apt": "b"}`, err: `want a mapping of apt, snap and url: duplicate key "apt"`},
		{in: `{"apt": ["fio", {"a": "b"}, " ", null]}`, err: "apt[1]: want a string, got a mapping\napt[2]: must not be empty\napt[3]: want a string, got null"},
		{in: `{"snap": {"name": "x", "channel": "tip", "mode": "strict"}}`,
			err: `snap.channel: unknown snap channel "tip" (want stable, edge, beta or candidate)` + "\n" + `snap.mode: unknown snap mode "strict" (want classic, dev or jail)`},
		{in: `{"snap": [{"channel": "edge"}, "", [1], {"name": {}}]}`,
			err: "snap[0].name: a snap needs a name\nsnap[1]: snap name must not be empty\nsnap[2]: want a snap name or a mapping of name, channel and mode, got a list\nsnap[3].name: want a string, got a mapping\nsnap[3].name: a snap needs a name"},
	} {
		var got Packages
		err := json.Unmarshal([]byte(tc.in), &got)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: error = %v; want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, diff)
		}
		// What decodes encodes to the canonical form, which decodes to the same packages.
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var again Packages
		if err := json.Unmarshal(b, &again); err != nil || !cmp.Equal(got, again) {
			t.Errorf("%s: re-decoding %s = %+v, %v", tc.in, b, again, err)
		}
	}
	b, _ := json.Marshal(Packages{Snap: []SnapPackage{{Name: "a"}, {Name: "b", Channel: "edge"}}})
	if string(b) != `{"snap":["a",{"name":"b","channel":"edge"}]}` {
		t.Errorf("encoding: %s", b)
	}
}
