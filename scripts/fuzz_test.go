package scripts

import (
	"errors"
	"testing"
)

// fuzzSeeds are script bodies that reach every branch of the parser.
var fuzzSeeds = []string{
	"",
	"#!/bin/sh\n",
	"echo hi\n",
	"#!/bin/sh\r\n# --- Start MAAS 1.0 script metadata ---\r\n# name: x\r\n",
	"#!/bin/sh\n# --- start maas 1.0 script metadata ---\n# name: x\n# --- END MAAS 1.0 script metadata -\n",
	"#!/bin/sh\n# --- Start MAAS 2.0 script metadata ---\n# name: two\n# --- Start MAAS 1.0 script metadata ---\n# name: one\n# --- End MAAS 2.0 script metadata ---\n",
	"#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\nname: x\n",
	"#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# a: &a [*a]\n# b: {<<: *a}\n",
	"#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# x: &x {<<: *x}\n# <<: *x\n",
	"#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# <<: [{name: a}, {title: b}]\n# parameters: {p: {<<: {type: string}}}\n",
	"#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: \"\\ud800\"\n# title: \"\\x00\\u2028\"\n",
	"#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# timeout: 2147483647 2147483647:2147483647:2147483647\n",
}

// FuzzParse checks that Parse never panics, that its result holds together, and that
// packages, results and parameters survive a JSON round trip.
func FuzzParse(f *testing.F) {
	builtins, err := Builtins()
	if err != nil {
		f.Fatalf("Builtins: %v", err)
	}
	for _, b := range builtins {
		f.Add(b.Body)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, lines := range [][]string{
		{"name: fio", "tags: [a, b]", "timeout: 05:00", "packages: {apt: fio, snap: {name: s, channel: edge}, url: [u]}",
			"for_hardware: pci:8086:1234, modalias:x*", "results: {a: {title: A}}", "results: [a]",
			"parameters: {s: {type: storage, argument_format: '{path}', min: 1}, c: {type: choice, choices: [[a, b]]}}"},
		{"script_type: commission", "hardware_type: 9", "parallel: name", "destructive: on", "may_reboot: 2"},
		{"parameters: {r: {type: runtime, min: -1, max: x, default: y}, u: {type: url, allow_list: true, required: false}}"},
		{"name: none", "name: 12", "type: testing", "unknown: [1, 2]"},
	} {
		f.Add(script(lines...))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		md, err := Parse(body)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse error %T is not a non-empty Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.Field == "" || e.Err == nil {
					t.Fatalf("incomplete field error %#v", e)
				}
			}
			return
		}
		for key := range md.Set {
			if !knownKey(key) {
				t.Fatalf("Set holds unknown key %q", key)
			}
		}
		if md.Has(KeyName) {
			if err := ValidateName(md.Name); err != nil {
				t.Fatalf("accepted invalid name %q: %v", md.Name, err)
			}
		}
		if md.Timeout < 0 {
			t.Fatalf("negative timeout %v", md.Timeout)
		}
		checkRoundTrip(t, md)
	})
}
