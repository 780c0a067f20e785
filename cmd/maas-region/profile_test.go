package main

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// TestHardwareProfile: a tag's profile taken from a known-good two-socket server fails the
// commissioning of a machine of that tag that lacks a disk and has a link at 1G, naming both;
// the mismatch can be suppressed; a machine's own profile comes before its tag's.
func TestHardwareProfile(t *testing.T) {
	good, broken := twoSocketChanged(t)
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			reg := regiontest.Start(t, e)
			admin := reg.Client()
			goldID, goldMC, _ := commissioned(t, reg, "golden", url.Values{"testing_scripts": {"none"}})
			commissionWith(t, goldMC, "OK", good, nil)
			if st := machineStatus(t, admin, goldID)["status_name"]; st != "Ready" {
				t.Fatalf("the known-good machine: %v", st)
			}
			id, mc, _ := commissioned(t, reg, "drifter", url.Values{"testing_scripts": {"none"}})
			admin.Must(t, 200, "POST", "api/2.0/tags/", url.Values{"name": {"two-socket"}})
			admin.Must(t, 200, "POST", "api/2.0/tags/two-socket/", url.Values{"op": {"update_nodes"}, "add": {id}})
			set := admin.Must(t, 200, "POST", "api/2.0/maas/", url.Values{"op": {"set_hardware_profile"}, "tag": {"two-socket"}, "from": {goldID}}).(map[string]any)
			if p := set["profile"].(map[string]any); p["cpu_count"] != 8.0 || len(p["disks"].([]any)) != 3 {
				t.Fatalf("profile taken from the known-good machine: %v", set)
			}
			got := admin.Must(t, 200, "GET", "api/2.0/machines/"+id+"/", url.Values{"op": {"hardware_profile"}}).(map[string]any)
			if got["source"] != "tag:two-socket" {
				t.Errorf("the drifter's profile comes from %v, want tag:two-socket", got["source"])
			}
			commissionWith(t, mc, "OK", broken, nil)
			m := machineStatus(t, admin, id)
			if m["status_name"] != "Failed commissioning" {
				t.Errorf("a machine that does not match its profile: %v, want Failed commissioning", m["status_name"])
			}
			res := resultByName(t, admin, id, "current-commissioning", "hardware-profile")
			raw, _ := base64.StdEncoding.DecodeString(res["output"].(string))
			out := string(raw)
			for _, want := range []string{"does not match the profile of tag two-socket", "disks: 0 of 1 HDDs", "nics: 1 of 2 connected physical interfaces with a link of at least 25000 Mbit/s"} {
				if !strings.Contains(out, want) {
					t.Errorf("hardware-profile output lacks %q:\n%s", want, out)
				}
			}
			if res["status_name"] != "Failed" {
				t.Errorf("hardware-profile result: %v", res["status_name"])
			}
			// Suppressed like any result.
			admin.Must(t, 200, "PUT", "api/2.0/nodes/"+id+"/results/current-commissioning/", url.Values{"suppressed": {"true"}, "filters": {"hardware-profile"}})
			if res := resultByName(t, admin, id, "current-commissioning", "hardware-profile"); res["suppressed"] != true {
				t.Errorf("suppressed: %v", res["suppressed"])
			}
			// The machine's own profile (here: just its CPUs) comes first.
			admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"set_hardware_profile"}, "profile": {"cpu_count: 8\n"}})
			admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"commission"}, "testing_scripts": {"none"}})
			commissionWith(t, mc, "OK", broken, nil)
			if st := machineStatus(t, admin, id)["status_name"]; st != "Ready" {
				t.Errorf("with its own profile met: %v, want Ready", st)
			}
			if res := resultByName(t, admin, id, "current-commissioning", "hardware-profile"); res["status_name"] != "Passed" {
				t.Errorf("hardware-profile with the machine's own profile: %v", res["status_name"])
			}
			// Bad profiles are refused with the reason.
			resp := admin.Do(t, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"set_hardware_profile"}, "profile": {"disks: [{count: 1, type: tape}]\n"}})
			if resp.Status != 400 || !strings.Contains(string(resp.Body), `type \"tape\"`) {
				t.Errorf("a bad profile: %d %s", resp.Status, resp.Body)
			}
			list := admin.Must(t, 200, "GET", "api/2.0/maas/", url.Values{"op": {"hardware_profiles"}}).([]any)
			if len(list) != 1 || list[0].(map[string]any)["source"] != "tag:two-socket" {
				t.Errorf("tag profiles: %v", list)
			}
			if ms := admin.Must(t, 200, "GET", "api/2.0/tags/two-socket/", url.Values{"op": {"machines"}}).([]any); len(ms) != 1 {
				t.Errorf("machines of the tag: %d, want 1", len(ms))
			}
			// Deleting the tag takes it off the machine, with its profile.
			admin.Must(t, 204, "DELETE", "api/2.0/tags/two-socket/", nil)
			if tags := machineStatus(t, admin, id)["tag_names"].([]any); slices.Contains(tags, any("two-socket")) {
				t.Errorf("tags after the tag was deleted: %v", tags)
			}
			if list := admin.Must(t, 200, "GET", "api/2.0/maas/", url.Values{"op": {"hardware_profiles"}}).([]any); len(list) != 0 {
				t.Errorf("tag profiles after the tag was deleted: %v", list)
			}
		})
	}
}
