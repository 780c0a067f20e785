package scripts

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"maasgo/wire"
)

func TestParseTags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"a", []string{"a"}},
		{" a ,b,a, c d ", []string{"a", "b", "c d"}},
	} {
		if diff := cmp.Diff(tc.want, ParseTags(tc.in)); diff != "" {
			t.Errorf("ParseTags(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestValidateTag(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{{"ssd", true}, {"", false}, {" ", false}, {"a,b", false}} {
		if err := ValidateTag(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateTag(%q) = %v; want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"fio", true}, {"20-maas-01.x_y@z%+=:,", true}, {"7z", true}, {"", false}, {"NONE", false},
		{"0123", false}, {"a b", false}, {"a'b", false}, {`a"b`, false}, {"a;b", false}, {"a$b", false},
		{"a/b", false}, {".", false}, {"..", false}, {"é", false},
	} {
		if err := ValidateName(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v; want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "Yes": true, "ON": true, "1": true, "false": false, "no": false, "Off": false, "0": false} {
		if got, err := ParseBool(in); err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseBool("maybe"); err == nil {
		t.Error(`ParseBool("maybe"): want an error`)
	}
}

func TestParseTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "0", want: 0},
		{in: "300", want: 5 * time.Minute},
		{in: "0:05:00", want: 5 * time.Minute},
		{in: "1 00:00:00", want: 24 * time.Hour},
		{in: "36500 00:00:00", want: 36500 * 24 * time.Hour},
		{in: "36501 00:00:00", bad: true},
		{in: "106752 00:00:00", bad: true},
		{in: "2147483647:00:00", bad: true},
		{in: "-1", bad: true},
		{in: "x", bad: true},
	} {
		got, err := ParseTimeout(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v (bad=%v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestParsePackages(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want wire.Packages
		err  string
	}{
		{in: "", want: wire.Packages{}},
		{in: "null", want: wire.Packages{}},
		{in: `{"apt": "fio"}`, want: wire.Packages{Apt: []string{"fio"}}},
		{in: `{"apt": ["a", "b"], "url": "http://x", "snap": [{"name": "s", "mode": "dev"}, "t"]}`,
			want: wire.Packages{Apt: []string{"a", "b"}, URL: []string{"http://x"}, Snap: []wire.SnapPackage{{Name: "s", Mode: "dev"}, {Name: "t"}}}},
		{in: "apt: [fio]", want: wire.Packages{Apt: []string{"fio"}}},
		{in: `{"apt": [1]}`, want: wire.Packages{Apt: []string{"1"}}},
		{in: `["fio"]`, err: "packages: want a mapping of apt, snap and url: want a mapping, got a list"},
		{in: `{"snap": {"name": "x", "channel": "tip"}}`, err: `packages.snap.channel: unknown snap channel "tip" (want stable, edge, beta or candidate)`},
		{in: `{"apt": `, err: "packages: invalid YAML: yaml: line 1: did not find expected node content"},
	} {
		got, err := ParsePackages(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParsePackages(%q) error = %v; want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePackages(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParsePackages(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseParameters(t *testing.T) {
	got, err := ParseParameters(`{"runtime": {"type": "runtime", "min": 10}, "storage": {"type": "storage", "argument_format": "{path}"}}`)
	if err != nil {
		t.Fatalf("ParseParameters: %v", err)
	}
	want := Parameters{{Name: "runtime", Type: ParamRuntime, Min: ptr[int64](10)}, {Name: "storage", Type: ParamStorage, ArgumentFormat: "{path}"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseParameters mismatch (-want +got):\n%s", diff)
	}
	if p, ok := got.Get("storage"); !ok || p.ArgumentFormat != "{path}" {
		t.Errorf("Get(storage) = %+v, %v", p, ok)
	}
	if _, ok := got.Get("nope"); ok {
		t.Error("Get(nope) found a parameter")
	}
	_, err = ParseParameters(`{"storage": {"type": "disk"}}`)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "parameters.storage.type" {
		t.Errorf("ParseParameters(disk) error = %v; want a parameters.storage.type error", err)
	}
}

func TestParseForHardware(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "", want: nil},
		{in: "pci:8086:1234", want: []string{"pci:8086:1234"}},
		{in: "pci:8086:1234, usb:0a0b:0c0d", want: []string{"pci:8086:1234", "usb:0a0b:0c0d"}},
		{in: `["modalias:pci:*", "system_vendor:Dell Inc."]`, want: []string{"modalias:pci:*", "system_vendor:Dell Inc."}},
		{in: "pci:8086:1234,,usb:0a0b:0c0d", bad: true},
		{in: "pci:zzzz:1234", bad: true},
		{in: `["pci:8086"`, bad: true},
	} {
		got, err := ParseForHardware(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("ParseForHardware(%q) error = %v; want bad=%v", tc.in, err, tc.bad)
			continue
		}
		if diff := cmp.Diff(tc.want, got); !tc.bad && diff != "" {
			t.Errorf("ParseForHardware(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestApplyAutoTags(t *testing.T) {
	for _, tc := range []struct {
		tags        []string
		hw          wire.HardwareType
		destructive bool
		want        []string
	}{
		{nil, wire.HardwareNode, false, []string{"node"}},
		{[]string{"a"}, wire.HardwareStorage, true, []string{"a", "storage", "destructive"}},
		{[]string{"cpu", "destructive", "x", "x"}, wire.HardwareMemory, false, []string{"x", "memory"}},
		{[]string{"network", "ntp"}, wire.HardwareNetwork, false, []string{"network", "ntp"}},
	} {
		in := append([]string(nil), tc.tags...)
		got := ApplyAutoTags(tc.tags, tc.hw, tc.destructive)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ApplyAutoTags(%q, %v, %v) mismatch (-want +got):\n%s", tc.tags, tc.hw, tc.destructive, diff)
		}
		if diff := cmp.Diff(in, tc.tags); diff != "" {
			t.Errorf("ApplyAutoTags modified its input: %s", diff)
		}
	}
	if diff := cmp.Diff([]string{"gpu", "destructive"}, AutoTags(wire.HardwareGPU, true)); diff != "" {
		t.Errorf("AutoTags mismatch (-want +got):\n%s", diff)
	}
}

func TestApply(t *testing.T) {
	body := script("name: fio", "hardware_type: storage", "destructive: true", "tags: a", "timeout: 60",
		"packages: {apt: fio}", "parameters: {storage: {type: storage}}")
	for _, tc := range []struct {
		key, value string
		err        string
		check      func(*Metadata) bool
	}{
		{key: "name", value: "fio", check: func(m *Metadata) bool { return m.Name == "fio" }},
		{key: "name", value: "other", err: "name: May not override values defined in embedded YAML."},
		{key: "name", value: "bad name", err: `name: name "bad name" contains disallowed character ' ' (allowed: letters, digits and _@%+=:,.-)`},
		{key: "hardware_type", value: "disk", check: func(m *Metadata) bool { return m.HardwareType == wire.HardwareStorage }},
		{key: "hardware_type", value: "cpu", err: "hardware_type: May not override values defined in embedded YAML."},
		{key: "destructive", value: "yes", check: func(m *Metadata) bool { return m.Destructive }},
		{key: "destructive", value: "false", err: "destructive: May not override values defined in embedded YAML."},
		{key: "type", value: "testing", check: func(m *Metadata) bool { return m.ScriptType == wire.ScriptTypeTesting }},
		{key: "type", value: "commissioning", check: func(m *Metadata) bool { return m.ScriptType == wire.ScriptTypeCommissioning }},
		{key: "script_type", value: "bogus", err: `script_type: unknown script type "bogus" (want commissioning, testing or release)`},
		{key: "parallel", value: "any", check: func(m *Metadata) bool { return m.Parallel == wire.ParallelAny }},
		{key: "title", value: "T", check: func(m *Metadata) bool { return m.Title == "T" }},
		{key: "description", value: "D", check: func(m *Metadata) bool { return m.Description == "D" }},
		{key: "may_reboot", value: "on", check: func(m *Metadata) bool { return m.MayReboot }},
		{key: "may_reboot", value: "x", err: `may_reboot: want a boolean, got "x"`},
		{key: "recommission", value: "1", check: func(m *Metadata) bool { return m.Recommission }},
		{key: "apply_configured_networking", value: "true", check: func(m *Metadata) bool { return m.ApplyConfiguredNetworking }},
		{key: "tags", value: "b, c", check: func(m *Metadata) bool { return cmp.Equal(m.Tags, []string{"b", "c"}) }},
		{key: "timeout", value: "00:10:00", check: func(m *Metadata) bool { return m.Timeout == 10*time.Minute }},
		{key: "timeout", value: "later", err: `timeout: invalid duration "later" (want seconds, HH:MM:SS or D HH:MM:SS)`},
		{key: "packages", value: `{"apt": ["x"]}`, check: func(m *Metadata) bool { return cmp.Equal(m.Packages, wire.Packages{Apt: []string{"x"}}) }},
		{key: "packages", value: `{"apt": [[]]}`, err: "packages.apt[0]: want a string, got a list"},
		{key: "for_hardware", value: "pci:1234:abcd", check: func(m *Metadata) bool { return cmp.Equal(m.ForHardware, []string{"pci:1234:abcd"}) }},
		{key: "for_hardware", value: "pci:1", err: `for_hardware[0]: hardware identifier "pci:1" must be modalias:<glob>, pci:VVVV:PPPP, usb:VVVV:PPPP, system_vendor:, system_product:, system_version:, mainboard_vendor: or mainboard_product:`},
		{key: "parameters", value: "{}", err: "parameters: set by the script's embedded metadata only"},
		{key: "results", value: "{}", err: "results: set by the script's embedded metadata only"},
		{key: "colour", value: "blue", err: "colour: unknown script field"},
	} {
		md, err := Parse(body)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		err = md.Apply(tc.key, tc.value)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Apply(%q, %q) = %v; want %q", tc.key, tc.value, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Apply(%q, %q): %v", tc.key, tc.value, err)
			continue
		}
		if !tc.check(md) {
			t.Errorf("Apply(%q, %q) left %+v", tc.key, tc.value, md)
		}
	}
	md, _ := Parse(body)
	if err := md.Apply("hardware_type", "cpu"); !errors.Is(err, ErrMayNotOverride) {
		t.Errorf("Apply conflict error %v does not wrap ErrMayNotOverride", err)
	}
}
