package scripts

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"maasgo/wire"
)

// script builds a script body from metadata lines, each prefixed with "# ".
func script(lines ...string) []byte {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n")
	for _, l := range lines {
		b.WriteString("# " + l + "\n")
	}
	b.WriteString("# --- End MAAS 1.0 script metadata ---\necho hello\n")
	return []byte(b.String())
}

func ptr[T any](v T) *T { return &v }

// defaults returns the metadata of a script that sets only the given keys; tests fill in
// the rest.
func defaults(set ...string) *Metadata {
	md := newMetadata()
	for _, k := range set {
		md.Set[k] = true
	}
	return md
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want func() *Metadata
	}{
		{
			name: "protocol example",
			body: []byte(`#!/bin/bash
# --- Start MAAS 1.0 script metadata ---
# name: fio
# title: Storage benchmark
# script_type: testing
# hardware_type: storage
# parallel: instance
# parameters:
#  storage: {type: storage, argument_format: '{path}'}
# packages: {apt: fio}
# destructive: true
# --- End MAAS 1.0 script metadata ---
fio "$@"
`),
			want: func() *Metadata {
				md := defaults(KeyName, KeyTitle, KeyScriptType, KeyHardwareType, KeyParallel, KeyParameters, KeyPackages, KeyDestructive)
				md.Name, md.Title = "fio", "Storage benchmark"
				md.HardwareType, md.Parallel, md.Destructive = wire.HardwareStorage, wire.ParallelInstance, true
				md.Parameters = Parameters{{Name: "storage", Type: ParamStorage, ArgumentFormat: "{path}"}}
				md.Packages = wire.Packages{Apt: []string{"fio"}}
				return md
			},
		},
		{
			name: "no block gives the defaults",
			body: []byte("#!/bin/sh\necho hi\n"),
			want: func() *Metadata { return defaults() },
		},
		{
			name: "empty block",
			body: script(),
			want: func() *Metadata { return defaults() },
		},
		{
			name: "delimiters are case-insensitive and may be indented",
			body: []byte("#!/bin/sh\n  #--- start maas 1.0 SCRIPT METADATA ---\n#name: x\n   # ------ END MAAS 1.0 script metadata -\n"),
			want: func() *Metadata { md := defaults(KeyName); md.Name = "x"; return md },
		},
		{
			name: "other versions are skipped",
			body: []byte("#!/bin/sh\n# --- Start MAAS 2.0 script metadata ---\n# name: two\n# --- End MAAS 2.0 script metadata ---\n# --- Start MAAS 1.0 script metadata ---\n# name: one\n# --- End MAAS 1.0 script metadata ---\n"),
			want: func() *Metadata { md := defaults(KeyName); md.Name = "one"; return md },
		},
		{
			name: "unterminated block runs to the end",
			body: []byte("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: x\n\n# title: y"),
			want: func() *Metadata { md := defaults(KeyName, KeyTitle); md.Name, md.Title = "x", "y"; return md },
		},
		{
			name: "delimiter on line 1 is not read",
			body: []byte("#!/bin/sh # --- Start MAAS 1.0 script metadata ---\n# name: x\n"),
			want: func() *Metadata { return defaults() },
		},
		{
			name: "text after the first # is YAML",
			body: []byte("#!/bin/sh\r\n# --- Start MAAS 1.0 script metadata ---\r\nfoo # name: x # not a comment start\r\n# --- End MAAS 1.0 script metadata ---\r\n"),
			want: func() *Metadata { md := defaults(KeyName); md.Name = "x"; return md },
		},
		{
			name: "aliases and names",
			body: script("script_type: commission", "hardware_type: disk", "parallel: enabled", "timeout: '00:05:00'",
				"may_reboot: yes", "recommission: on", "apply_configured_networking: 'true'", "destructive: no"),
			want: func() *Metadata {
				md := defaults(KeyScriptType, KeyHardwareType, KeyParallel, KeyTimeout, KeyMayReboot, KeyRecommission, KeyApplyConfiguredNetworking, KeyDestructive)
				md.ScriptType, md.HardwareType, md.Parallel = wire.ScriptTypeCommissioning, wire.HardwareStorage, wire.ParallelAny
				md.Timeout = 5 * time.Minute
				md.MayReboot, md.Recommission, md.ApplyConfiguredNetworking = true, true, true
				return md
			},
		},
		{
			name: "digits for enumerations, type is ignored",
			body: script("type: commissioning", "script_type: 3", "hardware_type: 4", "parallel: 1", "colour: blue"),
			want: func() *Metadata {
				md := defaults(KeyScriptType, KeyHardwareType, KeyParallel)
				md.ScriptType, md.HardwareType, md.Parallel = wire.ScriptTypeRelease, wire.HardwareNetwork, wire.ParallelInstance
				md.Ignored = []string{"type", "colour"}
				return md
			},
		},
		{
			name: "null values are not set",
			body: script("name:", "timeout: ~", "other:"),
			want: func() *Metadata { md := defaults(); md.Ignored = []string{"other"}; return md },
		},
		{
			name: "tags as a string and a list",
			body: script("tags: a, b,,a , c"),
			want: func() *Metadata { md := defaults(KeyTags); md.Tags = []string{"a", "b", "c"}; return md },
		},
		{
			name: "tags list",
			body: script("tags: [network, 'ntp,time']"),
			want: func() *Metadata { md := defaults(KeyTags); md.Tags = []string{"network", "ntp", "time"}; return md },
		},
		{
			name: "timeouts",
			body: script("timeout: 1 02:03:04"),
			want: func() *Metadata {
				md := defaults(KeyTimeout)
				md.Timeout = 26*time.Hour + 3*time.Minute + 4*time.Second
				return md
			},
		},
		{
			name: "timeout as an integer",
			body: script("timeout: 300"),
			want: func() *Metadata { md := defaults(KeyTimeout); md.Timeout = 300 * time.Second; return md },
		},
		{
			name: "timeout in YAML 1.1 sexagesimal form",
			body: script("timeout: 5:00"),
			want: func() *Metadata { md := defaults(KeyTimeout); md.Timeout = 5 * time.Minute; return md },
		},
		{
			name: "packages of every kind",
			body: script("packages:", "  apt: [a, b]", "  snap:", "    - plain", "    - {name: s, channel: edge, mode: classic}", "  url: http://x/y.tar"),
			want: func() *Metadata {
				md := defaults(KeyPackages)
				md.Packages = wire.Packages{Apt: []string{"a", "b"}, Snap: []wire.SnapPackage{{Name: "plain"}, {Name: "s", Channel: "edge", Mode: "classic"}}, URL: []string{"http://x/y.tar"}}
				return md
			},
		},
		{
			name: "a single snap mapping",
			body: script("packages: {snap: {name: s}}"),
			want: func() *Metadata {
				md := defaults(KeyPackages)
				md.Packages = wire.Packages{Snap: []wire.SnapPackage{{Name: "s"}}}
				return md
			},
		},
		{
			name: "for_hardware list and string",
			body: script("for_hardware: [modalias:pci:v00008086*, 'PCI:8086:1A2b', usb:174c:07d1, system_vendor:, 'mainboard_product: X 1']"),
			want: func() *Metadata {
				md := defaults(KeyForHardware)
				md.ForHardware = []string{"modalias:pci:v00008086*", "PCI:8086:1A2b", "usb:174c:07d1", "system_vendor:", "mainboard_product: X 1"}
				return md
			},
		},
		{
			name: "for_hardware comma string",
			body: script("for_hardware: 'pci:8086:1a2b, system_product:PowerEdge'"),
			want: func() *Metadata {
				md := defaults(KeyForHardware)
				md.ForHardware = []string{"pci:8086:1a2b", "system_product:PowerEdge"}
				return md
			},
		},
		{
			name: "results as a mapping",
			body: script("results:", "  speed: {title: Speed, description: How fast}", "  size: {title: Size}"),
			want: func() *Metadata {
				md := defaults(KeyResults)
				md.Results = Results{{Name: "speed", Title: "Speed", Description: "How fast"}, {Name: "size", Title: "Size"}}
				return md
			},
		},
		{
			name: "results as a list",
			body: script("results: [a, b]"),
			want: func() *Metadata {
				md := defaults(KeyResults)
				md.Results = Results{{Name: "a"}, {Name: "b"}}
				return md
			},
		},
		{
			name: "parameters of every type",
			body: script("parameters:",
				"  storage: {type: storage}",
				"  iface: {type: interface, argument_format: '--if={mac}'}",
				"  runtime: {type: runtime, min: 0, max: '60', default: '30'}",
				"  url: {type: url, allow_list: true, required: no, default: 'http://a,http://b'}",
				"  user: {type: string, title: User, description: Who, max: 20}",
				"  pass: {type: password, argument_format: '-p {input}'}",
				"  level: {type: choice, choices: [USER, [ADMIN, Administrator]], default: USER}",
				"  quick: {type: boolean, argument_format: --quick, default: 'false', value: ignored}"),
			want: func() *Metadata {
				md := defaults(KeyParameters)
				md.Parameters = Parameters{
					{Name: "storage", Type: ParamStorage},
					{Name: "iface", Type: ParamInterface, ArgumentFormat: "--if={mac}"},
					{Name: "runtime", Type: ParamRuntime, Min: ptr[int64](0), Max: ptr[int64](60), Default: ptr("30")},
					{Name: "url", Type: ParamURL, AllowList: ptr(true), Required: ptr(false), Default: ptr("http://a,http://b")},
					{Name: "user", Type: ParamString, Title: "User", Description: "Who", Max: ptr[int64](20)},
					{Name: "pass", Type: ParamPassword, ArgumentFormat: "-p {input}"},
					{Name: "level", Type: ParamChoice, Choices: []Choice{{Value: "USER"}, {Value: "ADMIN", Label: "Administrator"}}, Default: ptr("USER")},
					{Name: "quick", Type: ParamBoolean, ArgumentFormat: "--quick", Default: ptr("false")},
				}
				return md
			},
		},
		{
			name: "anchors and merge keys",
			body: script("parameters:", "  a: &base {type: string, title: A}", "  b: {<<: *base, title: B}", "title: &t shared", "description: *t"),
			want: func() *Metadata {
				md := defaults(KeyParameters, KeyTitle, KeyDescription)
				md.Parameters = Parameters{{Name: "a", Type: ParamString, Title: "A"}, {Name: "b", Type: ParamString, Title: "B"}}
				md.Title, md.Description = "shared", "shared"
				return md
			},
		},
		{
			name: "top-level merge",
			body: script("<<: {name: merged, title: T}", "title: own"),
			want: func() *Metadata {
				md := defaults(KeyName, KeyTitle)
				md.Name, md.Title = "merged", "own"
				return md
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.want(), got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want []string // the field errors' messages, in order
	}{
		{"no shebang", []byte("echo hi\n"), []string{"script: Must start with shebang."}},
		{"empty script", nil, []string{"script: Must start with shebang."}},
		{"shebang without a path", []byte("#!sh\n"), []string{"script: Must start with shebang."}},
		{"missing hash", []byte("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\nname: x\n"),
			[]string{`script: line 3: missing "#" on a metadata line`}},
		{"invalid YAML", script("name: [x"), []string{"script: metadata block: invalid YAML: yaml: line 3: did not find expected ',' or ']'"}},
		{"not a mapping", script("- a"), []string{`script: metadata block: want a mapping, got a list`}},
		{"duplicate key", script("name: a", "name: b"), []string{`script: metadata block: duplicate key "name"`}},
		{"name none", script("name: None"), []string{`name: "none" is a reserved name`}},
		{"name digits", script("name: 123"), []string{"name: cannot be a number"}},
		{"name with a space", script("name: a b"), []string{`name: name "a b" contains disallowed character ' ' (allowed: letters, digits and _@%+=:,.-)`}},
		{"name with a quote", script(`name: "it's"`), []string{`name: name "it's" contains disallowed character '\'' (allowed: letters, digits and _@%+=:,.-)`}},
		{"name with a slash", script("name: a/b"), []string{`name: name "a/b" contains disallowed character '/' (allowed: letters, digits and _@%+=:,.-)`}},
		{"name dot-dot", script("name: .."), []string{`name: ".." is not a usable file name`}},
		{"name mapping", script("name: {a: b}"), []string{"name: want a string, got a mapping"}},
		{"long title", script("title: " + strings.Repeat("x", 256)), []string{"title: longer than 255 characters"}},
		{"script type", script("script_type: install"), []string{`script_type: unknown script type "install" (want commissioning, testing or release)`}},
		{"hardware type", script("hardware_type: toaster"), []string{`hardware_type: unknown hardware type "toaster" (want node, cpu, memory, storage, network or gpu)`}},
		{"parallel", script("parallel: sometimes"), []string{`parallel: unknown parallel mode "sometimes" (want disabled, instance or any)`}},
		{"timeout garbage", script("timeout: soon"), []string{`timeout: invalid duration "soon" (want seconds, HH:MM:SS or D HH:MM:SS)`}},
		{"timeout negative", script("timeout: -5"), []string{"timeout: -5 seconds is out of range"}},
		{"timeout too long", script("timeout: 999999999 00:00:00"), []string{`timeout: duration "999999999 00:00:00" is out of range`}},
		{"timeout list", script("timeout: [1]"), []string{"timeout: want seconds or a duration, got a list"}},
		{"boolean", script("destructive: maybe"), []string{`destructive: want a boolean, got "maybe"`}},
		{"tags mapping", script("tags: {a: b}"), []string{"tags: want a comma-separated string or a list of strings, got a mapping"}},
		{"tags nested list", script("tags: [a, [b]]"), []string{"tags[1]: want a string, got a list"}},
		{"packages list", script("packages: [fio]"), []string{"packages: want a mapping of apt, snap and url: want a mapping, got a list"}},
		{"packages unknown source", script("packages: {pip: x}"), []string{"packages.pip: unknown package source (want apt, snap or url)"}},
		{"apt item", script("packages: {apt: [fio, {a: b}, '']}"), []string{"packages.apt[1]: want a string, got a mapping", "packages.apt[2]: must not be empty"}},
		{"snap channel and mode", script("packages: {snap: {name: s, channel: nightly, mode: strict}}"),
			[]string{`packages.snap.channel: unknown snap channel "nightly" (want stable, edge, beta or candidate)`, `packages.snap.mode: unknown snap mode "strict" (want classic, dev or jail)`}},
		{"snap without name", script("packages: {snap: [{channel: edge}]}"), []string{"packages.snap[0].name: a snap needs a name"}},
		{"for_hardware", script("for_hardware: [pci:8086, xpci:8086:1234, 'usb:174c:07d1 ']"),
			[]string{
				`for_hardware[0]: hardware identifier "pci:8086" must be modalias:<glob>, pci:VVVV:PPPP, usb:VVVV:PPPP, system_vendor:, system_product:, system_version:, mainboard_vendor: or mainboard_product:`,
				`for_hardware[1]: hardware identifier "xpci:8086:1234" must be modalias:<glob>, pci:VVVV:PPPP, usb:VVVV:PPPP, system_vendor:, system_product:, system_version:, mainboard_vendor: or mainboard_product:`,
			}},
		{"for_hardware empty modalias", script("for_hardware: 'modalias:'"),
			[]string{`for_hardware[0]: hardware identifier "modalias:" must be modalias:<glob>, pci:VVVV:PPPP, usb:VVVV:PPPP, system_vendor:, system_product:, system_version:, mainboard_vendor: or mainboard_product:`}},
		{"results without title", script("results: {a: {description: x}}"), []string{"results.a.title: a result needs a title"}},
		{"results scalar", script("results: a"), []string{`results: want a list of strings or a mapping of result definitions, got "a"`}},
		{"results item", script("results: {a: x}"), []string{`results.a: each result in a mapping must be a mapping of title and description: want a mapping, got "x"`}},
		{"unknown parameter type", script("parameters: {storage: {type: disk}}"),
			[]string{`parameters.storage.type: unknown parameter type "disk" (want boolean, choice, interface, password, runtime, storage, string or url)`}},
		{"parameter without type", script("parameters: {p: {title: x}}"), []string{"parameters.p.type: a parameter needs a type"}},
		{"parameter not a mapping", script("parameters: {p: storage}"), []string{`parameters.p: want a mapping, got "storage"`}},
		{"parameters list", script("parameters: [a]"), []string{"parameters: want a mapping of parameter names to settings: want a mapping, got a list"}},
		{"min on storage", script("parameters: {p: {type: storage, min: 1}}"), []string{"parameters.p: type storage does not support min or max"}},
		{"max on choice", script("parameters: {p: {type: choice, choices: [a], max: 1}}"), []string{"parameters.p: type choice does not support min or max"}},
		{"min not an integer", script("parameters: {p: {type: string, min: 1.5}}"), []string{`parameters.p.min: want an integer, got "1.5"`}},
		{"min above max", script("parameters: {p: {type: string, min: 5, max: 1}}"), []string{"parameters.p.min: min 5 is greater than max 1"}},
		{"negative runtime", script("parameters: {p: {type: runtime, min: -1}}"), []string{"parameters.p.min: a runtime minimum must not be negative"}},
		{"allow_list off url", script("parameters: {p: {type: string, allow_list: true}}"), []string{"parameters.p.allow_list: only the url type supports allow_list"}},
		{"choices off choice", script("parameters: {p: {type: string, choices: [a]}}"), []string{"parameters.p.choices: only the choice type supports choices"}},
		{"choice without choices", script("parameters: {p: {type: choice}}"), []string{"parameters.p.choices: a choice parameter needs choices"}},
		{"empty choices", script("parameters: {p: {type: choice, choices: []}}"), []string{"parameters.p.choices: want at least one choice"}},
		{"bad choices", script("parameters: {p: {type: choice, choices: [[a], {b: c}]}}"),
			[]string{"parameters.p.choices[0]: want a string or a [value, label] pair, got a list of 1", "parameters.p.choices[1]: want a string or a [value, label] pair, got a mapping"}},
		{"choice default", script("parameters: {p: {type: choice, choices: [a], default: b}}"), []string{`parameters.p.default: "b" is not one of the choices`}},
		{"runtime default", script("parameters: {p: {type: runtime, default: soon}}"), []string{`parameters.p.default: a runtime default must be whole seconds, got "soon"`}},
		{"boolean default", script("parameters: {p: {type: boolean, default: perhaps}}"), []string{`parameters.p.default: want a boolean, got "perhaps"`}},
		{"storage format", script("parameters: {p: {type: storage, argument_format: '--disk={id}'}}"),
			[]string{"parameters.p.argument_format: a storage format must contain one of {input}, {name}, {path}, {model} or {serial}"}},
		{"interface format", script("parameters: {p: {type: interface, argument_format: '--if'}}"),
			[]string{"parameters.p.argument_format: a interface format must contain one of {input}, {name}, {mac}, {vendor} or {product}"}},
		{"url format", script("parameters: {p: {type: url, argument_format: '--url={path}'}}"),
			[]string{"parameters.p.argument_format: a url format must contain {input}"}},
		{"required not a boolean", script("parameters: {p: {type: url, required: sometimes}}"), []string{`parameters.p.required: want a boolean, got "sometimes"`}},
		{"several errors", []byte("echo\n# --- Start MAAS 1.0 script metadata ---\n# name: none\n# parallel: x\n"),
			[]string{"script: Must start with shebang.", `name: "none" is a reserved name`, `parallel: unknown parallel mode "x" (want disabled, instance or any)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md, err := Parse(tc.body)
			if err == nil {
				t.Fatalf("Parse = %+v; want errors %q", md, tc.want)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error %T is not Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	_, err := Parse([]byte("echo\n# --- Start MAAS 1.0 script metadata ---\n# parameters: {storage: {type: disk}}\n"))
	if !errors.Is(err, ErrNoShebang) {
		t.Errorf("errors.Is(%v, ErrNoShebang) = false", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "script" {
		t.Errorf("errors.As gave %v; want the script field error", fe)
	}
	var errs Errors
	errors.As(err, &errs)
	want := map[string][]string{
		"script":     {"Must start with shebang."},
		"parameters": {`storage.type: unknown parameter type "disk" (want boolean, choice, interface, password, runtime, storage, string or url)`},
	}
	if diff := cmp.Diff(want, errs.ByKey()); diff != "" {
		t.Errorf("ByKey mismatch (-want +got):\n%s", diff)
	}
	for field, key := range map[string]string{"name": "name", "packages.apt[1]": "packages", "for_hardware[0]": "for_hardware"} {
		if got := (&FieldError{Field: field}).Key(); got != key {
			t.Errorf("Key(%q) = %q; want %q", field, got, key)
		}
	}
}

func TestSplitLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\r\nb\rc\nd", []string{"a", "b", "c", "d"}},
		{"a\n\nb", []string{"a", "", "b"}},
		{"a\vb\fc\x1cd\u2028e\u0085f", []string{"a", "b", "c", "d", "e", "f"}},
		{"a\xffb\n", []string{"a\xffb"}},
	} {
		if diff := cmp.Diff(tc.want, splitLines(tc.in)); diff != "" {
			t.Errorf("splitLines(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParamFormat(t *testing.T) {
	for _, tc := range []struct {
		p    Parameter
		want string
	}{
		{Parameter{Name: "disk", Type: ParamStorage}, "--storage={path}"},
		{Parameter{Name: "nic", Type: ParamInterface}, "--interface={name}"},
		{Parameter{Name: "url", Type: ParamURL}, "--url={input}"},
		{Parameter{Name: "runtime", Type: ParamRuntime, ArgumentFormat: "-t {input}"}, "-t {input}"},
	} {
		if got := tc.p.Format(); got != tc.want {
			t.Errorf("%+v.Format() = %q; want %q", tc.p, got, tc.want)
		}
	}
	if !(Parameter{}).IsRequired() || (Parameter{Required: ptr(false)}).IsRequired() {
		t.Error("IsRequired: want true by default and false when set so")
	}
}

// TestParseAliasBudget checks that aliases cannot make a short script cost unbounded work.
func TestParseAliasBudget(t *testing.T) {
	lines := []string{"list: &l [" + strings.Repeat("a, ", 2000) + "a]", "parameters:"}
	for i := range 600 {
		lines = append(lines, fmt.Sprintf("  p%d: {type: choice, choices: *l}", i))
	}
	_, err := Parse(script(lines...))
	if !errors.Is(err, errTooComplex) {
		t.Errorf("Parse with 600 aliases of a long list = %v; want errTooComplex", err)
	}
	lines = []string{"m: &m {a: 1}", "n: &n {<<: [" + strings.Repeat("*m, ", 1000) + "*m]}",
		"o: &o {<<: [" + strings.Repeat("*n, ", 1000) + "*n]}", "parameters: {<<: [" + strings.Repeat("*o, ", 1000) + "*o]}"}
	_, err = Parse(script(lines...))
	if !errors.Is(err, errTooComplex) {
		t.Errorf("Parse with nested merges = %v; want errTooComplex", err)
	}
}
