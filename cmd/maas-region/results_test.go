package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// commissioned makes a machine, starts commissioning and returns the machine's client and
// the first scripts index.
func commissioned(t *testing.T, r *regiontest.Region, host string, form url.Values) (string, *machineClient, *wire.Index) {
	t.Helper()
	admin := r.Client()
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {host}, "architecture": {"amd64"}, "commission": {"false"}}).(map[string]any)
	id := m["system_id"].(string)
	if form == nil {
		form = url.Values{}
	}
	form.Set("op", "commission")
	admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", form)
	mc := newMachineClient(t, r, id)
	idx, _ := mc.scriptsTar()
	if idx == nil {
		t.Fatal("nothing to run after commission")
	}
	return id, mc, idx
}

func entry(t *testing.T, list []wire.IndexEntry, name string) wire.IndexEntry {
	t.Helper()
	for _, e := range list {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("%s not in the index", name)
	return wire.IndexEntry{}
}

func resultByName(t *testing.T, admin *regiontest.Client, id, set, name string) map[string]any {
	t.Helper()
	s := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/"+set+"/", url.Values{"include_output": {"true"}}).(map[string]any)
	for _, r := range s["results"].([]any) {
		if r.(map[string]any)["name"] == name {
			return r.(map[string]any)
		}
	}
	t.Fatalf("no result %s in %s", name, set)
	return nil
}

func finish(mc *machineClient, e wire.IndexEntry, status string, rc int, files []part) *regiontest.Response {
	return mc.signal([]part{{"status", status}, {"script_result_id", fmt.Sprint(*e.ScriptResultID)},
		{"exit_status", fmt.Sprint(rc)}, {"name", e.Name}, {"runtime", "1.5"}}, files)
}

func TestResultsAndFailures(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e)
			admin := r.Client()
			t.Run("failing script", func(t *testing.T) {
				id, mc, idx := commissioned(t, r, "failing", nil)
				ent := entry(t, idx.V1.Commissioning, "maas-list-modaliases")
				if resp := finish(mc, ent, "WORKING", 1, []part{{ent.Name, "boom\n"}, {ent.Name + ".err", "boom\n"}}); resp.Status != 200 {
					t.Fatalf("finish: %d %s", resp.Status, resp.Body)
				}
				mc.mustSignal([]part{{"status", "FAILED"}, {"error", "1 commissioning scripts failed to run"}}, nil)
				m := machineStatus(t, admin, id)
				// The scripts that never ran were aborted, which outranks the failure (as upstream).
				if m["status"] != 2.0 || m["commissioning_status"] != 5.0 || m["error_description"] != "1 commissioning scripts failed to run" {
					t.Errorf("machine: status %v commissioning %v error %v", m["status"], m["commissioning_status"], m["error_description"])
				}
				res := resultByName(t, admin, id, "current-commissioning", "maas-list-modaliases")
				if res["status"] != 3.0 || res["exit_status"] != 1.0 || res["stderr"] == nil {
					t.Errorf("failed result: %v", res)
				}
				testing := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/current-testing/", nil).(map[string]any)
				for _, x := range testing["results"].([]any) {
					if x.(map[string]any)["status"] != 5.0 {
						t.Errorf("pending test after failure: %v", x.(map[string]any)["status_name"])
					}
				}
				// A failed machine's later signals are acknowledged and ignored.
				mc.mustSignal([]part{{"status", "WORKING"}}, nil)
			})
			t.Run("timed out and bad result YAML", func(t *testing.T) {
				id, mc, idx := commissioned(t, r, "slow", nil)
				ent := entry(t, idx.V1.Commissioning, "maas-serial-ports")
				if resp := finish(mc, ent, "TIMEDOUT", 124, []part{{ent.Name, "partial\n"}}); resp.Status != 200 {
					t.Fatalf("timed out: %d %s", resp.Status, resp.Body)
				}
				res := resultByName(t, admin, id, "current-commissioning", ent.Name)
				if res["status"] != 4.0 || res["status_name"] != "Timed out" || res["exit_status"] != 124.0 {
					t.Errorf("timed out result: %v", res)
				}
				bad := entry(t, idx.V1.Commissioning, "maas-support-info")
				finish(mc, bad, "WORKING", 0, []part{{bad.Name, "kept\n"}, {bad.Name + ".yaml", "status: [not, a, status]\n"}})
				res = resultByName(t, admin, id, "current-commissioning", bad.Name)
				if res["status"] != 3.0 || res["output"] != "a2VwdAo=" {
					t.Errorf("bad YAML result: status %v output %v", res["status_name"], res["output"])
				}
				link := entry(t, idx.V1.Commissioning, "maas-lshw")
				finish(mc, link, "WORKING", 0, []part{{link.Name, "x"}, {link.Name + ".yaml", "link_connected: false\n"}})
				if res := resultByName(t, admin, id, "current-commissioning", link.Name); res["status"] != 3.0 {
					t.Errorf("link_connected without an interface parameter: %v", res["status_name"])
				}
				degraded := entry(t, idx.V1.Commissioning, "maas-kernel-cmdline")
				finish(mc, degraded, "WORKING", 0, []part{{degraded.Name, "x"}, {degraded.Name + ".yaml", "status: degraded\n"}})
				if res := resultByName(t, admin, id, "current-commissioning", degraded.Name); res["status"] != 6.0 {
					t.Errorf("degraded via YAML: %v", res["status_name"])
				}
			})
			t.Run("idempotent signals", func(t *testing.T) {
				id, mc, idx := commissioned(t, r, "twice", nil)
				ent := entry(t, idx.V1.Commissioning, "maas-list-modaliases")
				mc.key = "journal-entry-7"
				finish(mc, ent, "WORKING", 0, []part{{ent.Name, "first\n"}})
				mc.key = "journal-entry-7"
				if resp := finish(mc, ent, "WORKING", 1, []part{{ent.Name, "second\n"}}); resp.Status != 200 || string(resp.Body) != "OK" {
					t.Fatalf("retried signal: %d %s", resp.Status, resp.Body)
				}
				res := resultByName(t, admin, id, "current-commissioning", ent.Name)
				if res["status"] != 2.0 || res["output"] != "Zmlyc3QK" {
					t.Errorf("a retried signal was applied again: %v %v", res["status_name"], res["output"])
				}
			})
			t.Run("malformed signals", func(t *testing.T) {
				id, mc, idx := commissioned(t, r, "malformed", nil)
				ent := entry(t, idx.V1.Commissioning, "maas-list-modaliases")
				for _, tc := range []struct {
					fields []part
					want   string
				}{
					{[]part{{"status", "DANCING"}}, "Unknown status"},
					{[]part{{"name", "x"}}, "status"},
					{[]part{{"status", "WORKING"}, {"script_result_id", "seven"}}, "script_result_id"},
					{[]part{{"status", "WORKING"}, {"runtime", "-3"}}, "runtime"},
					{[]part{{"status", "WORKING"}, {"exit_status", "1.5"}}, "exit_status"},
					{[]part{{"status", "WORKING"}, {"power_type", "ipmi"}, {"power_parameters", "{nope"}}, "power_parameters"},
				} {
					if resp := mc.signal(tc.fields, []part{{ent.Name, "should not be stored"}}); resp.Status != 400 || !strings.Contains(string(resp.Body), tc.want) {
						t.Errorf("signal %v: %d %s; want 400 about %s", tc.fields, resp.Status, resp.Body, tc.want)
					}
				}
				if res := resultByName(t, admin, id, "current-commissioning", ent.Name); res["status"] != 0.0 {
					t.Errorf("a refused signal stored its files: %v", res["status_name"])
				}
				req, _ := http.NewRequest("GET", r.URL+"/metadata/2011-01-01/maas-scripts", nil)
				if resp := mc.do(req); resp.Status != 404 || !strings.Contains(string(resp.Body), "Unknown metadata version: 2011-01-01") {
					t.Errorf("unknown version: %d %s", resp.Status, resp.Body)
				}
				req, _ = http.NewRequest("GET", r.URL+"/metadata/latest/maas-scripts", nil)
				if resp := admin.Send(t, req); resp.Status != 403 || !strings.Contains(string(resp.Body), "Not authenticated as a known node") {
					t.Errorf("user key on the metadata API: %d %s", resp.Status, resp.Body)
				}
				req, _ = http.NewRequest("GET", r.URL+"/metadata/latest/maas-scripts", nil)
				// Anonymous: the enlistment scripts an unknown machine runs, as upstream.
				if resp := (&regiontest.Client{}).Send(t, req); resp.Status != 200 || resp.Header.Get("Content-Type") != "application/x-tar" {
					t.Errorf("anonymous maas-scripts: %d %s", resp.Status, resp.Header.Get("Content-Type"))
				}
				req, _ = http.NewRequest("GET", r.URL+"/metadata/latest/meta-data/instance-id", nil)
				if resp := mc.do(req); string(resp.Body) != id {
					t.Errorf("instance-id = %q; want %s", resp.Body, id)
				}
			})
			t.Run("status webhook", func(t *testing.T) {
				id, mc, _ := commissioned(t, r, "webhook", nil)
				body := `{"event_type": "finish", "origin": "curtin", "name": "cmd-install/stage-x", "description": "done",
					"result": "SUCCESS", "files": [{"path": "curtin-log.out", "encoding": "base64", "content": "bG9nCg=="}]}`
				req, _ := http.NewRequest("POST", r.URL+"/metadata/status/"+id, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if resp := mc.do(req); resp.Status != 204 {
					t.Fatalf("webhook: %d %s", resp.Status, resp.Body)
				}
				res := resultByName(t, admin, id, "current-commissioning", "curtin-log")
				if res["stdout"] != "bG9nCg==" {
					t.Errorf("webhook file: %v", res)
				}
				req, _ = http.NewRequest("POST", r.URL+"/metadata/status/"+id, strings.NewReader(`{"event_type": "finish"}`))
				req.Header.Set("Content-Type", "application/json")
				if resp := mc.do(req); resp.Status != 400 || !strings.Contains(string(resp.Body), "origin") {
					t.Errorf("webhook without keys: %d %s", resp.Status, resp.Body)
				}
				req, _ = http.NewRequest("POST", r.URL+"/metadata/status/"+id, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if resp := (&regiontest.Client{}).Send(t, req); resp.Status != 401 {
					t.Errorf("webhook without a token: %d", resp.Status)
				}
			})
			t.Run("suppress and retention", func(t *testing.T) {
				admin.Must(t, 200, "POST", "api/2.0/maas/", url.Values{"op": {"set_config"}, "name": {"max_node_testing_results"}, "value": {"2"}})
				m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"kept"}, "deployed": {"true"}}).(map[string]any)
				id := m["system_id"].(string)
				admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"release"}})
				var setIDs []float64
				for i := 0; i < 3; i++ {
					x := admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"test"}, "testing_scripts": {"7z,ntp"}}).(map[string]any)
					if x["status"] != 21.0 {
						t.Fatalf("test: status %v", x["status"])
					}
					setIDs = append(setIDs, x["current_testing_result_id"].(float64))
					if i < 2 {
						admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"abort"}})
					}
				}
				sets := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/", url.Values{"type": {"testing"}}).([]any)
				if len(sets) != 2 || sets[0].(map[string]any)["id"] != setIDs[2] || sets[1].(map[string]any)["id"] != setIDs[1] {
					t.Errorf("kept sets %v; want the newest two of %v", sets, setIDs)
				}
				if st := sets[1].(map[string]any)["status_name"]; st != "Aborted" {
					t.Errorf("older set after a new test: %v", st)
				}
				// The user guide's form: every testing run, by script name.
				up := admin.Must(t, 200, "PUT", "api/2.0/nodes/"+id+"/results/", url.Values{"type": {"testing"}, "filters": {"ntp"}, "suppressed": {"True"}}).([]any)
				if len(up) != 2 {
					t.Errorf("suppressed in %d sets; want 2", len(up))
				}
				for _, s := range up {
					for _, x := range s.(map[string]any)["results"].([]any) {
						res := x.(map[string]any)
						if (res["name"] == "ntp") != (res["suppressed"] == true) {
							t.Errorf("%v suppressed=%v", res["name"], res["suppressed"])
						}
					}
				}
				// Upstream's form: one run.
				one := admin.Must(t, 200, "PUT", fmt.Sprintf("api/2.0/nodes/%s/results/%v/", id, setIDs[2]), url.Values{"suppressed": {"False"}}).(map[string]any)
				for _, x := range one["results"].([]any) {
					if x.(map[string]any)["suppressed"] != false {
						t.Errorf("unsuppress: %v", x)
					}
				}
				if resp := admin.Do(t, "PUT", "api/2.0/nodes/"+id+"/results/", url.Values{"suppressed": {"perhaps"}}); resp.Status != 400 {
					t.Errorf("bad suppressed: %d", resp.Status)
				}
			})
			t.Run("deployed machine reports", func(t *testing.T) {
				m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"workload"}, "deployed": {"true"}, "architecture": {"amd64"}}).(map[string]any)
				id := m["system_id"].(string)
				mc := newMachineClient(t, r, id)
				idx, _ := mc.scriptsTar()
				if idx == nil || len(idx.V1.Commissioning) == 0 {
					t.Fatal("no deploy-info scripts for a deployed machine")
				}
				for _, e := range idx.V1.Commissioning {
					if !strings.Contains(strings.Join(e.Tags, ","), "deploy-info") {
						t.Errorf("%s is not deploy-info", e.Name)
					}
				}
				ent := entry(t, idx.V1.Commissioning, "maas-list-modaliases")
				if resp := finish(mc, ent, "WORKING", 3, []part{{ent.Name, "nope\n"}}); resp.Status != 200 {
					t.Fatalf("deployed result: %d %s", resp.Status, resp.Body)
				}
				if res := resultByName(t, admin, id, "current-commissioning", ent.Name); res["status"] != 3.0 || res["exit_status"] != 3.0 {
					t.Errorf("deployed failure: %v", res)
				}
				// Finished results are listed again for a deployed machine; it stays deployed.
				if again, _ := mc.scriptsTar(); again == nil || len(again.V1.Commissioning) != len(idx.V1.Commissioning) {
					t.Errorf("deployed re-download: %+v", again)
				}
				if resp := mc.signal([]part{{"status", "FAILED"}}, nil); resp.Status != 409 {
					t.Errorf("FAILED from a deployed machine: %d %s", resp.Status, resp.Body)
				}
				if st := machineStatus(t, admin, id); st["status"] != 6.0 {
					t.Errorf("deployed machine moved to %v", st["status_name"])
				}
			})
		})
	}
}

// TestStatusMonitorTimesOutScripts runs the monitor every 200 ms with no grace: a script with a
// one-second timeout that never reports fails its machine.
func TestStatusMonitorTimesOutScripts(t *testing.T) {
	r := regiontest.Start(t, storetest.SQLite(t), "--monitor-interval", "200ms", "--script-timeout-grace", "0s")
	admin := r.Client()
	mustScript(t, admin, "hangs", "commissioning", "#!/bin/sh\nsleep 100\n", url.Values{"timeout": {"1"}})
	id, mc, idx := commissioned(t, r, "hanging", url.Values{"commissioning_scripts": {"hangs"}})
	ent := entry(t, idx.V1.Commissioning, "hangs")
	mc.mustSignal([]part{{"status", "WORKING"}, {"script_result_id", fmt.Sprint(*ent.ScriptResultID)}, {"name", "hangs"}}, nil)
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := machineStatus(t, admin, id)
		if m["status"] == 2.0 {
			if !strings.Contains(fmt.Sprint(m["error_description"]), "hangs ran past its timeout") {
				t.Errorf("error_description %q", m["error_description"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("machine still %v after the script's timeout", m["status_name"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	res := resultByName(t, admin, id, "current-commissioning", "hangs")
	if res["status"] != 4.0 {
		t.Errorf("hung script: %v", res["status_name"])
	}
	pending := resultByName(t, admin, id, "current-commissioning", "maas-kernel-cmdline")
	if pending["status"] != 5.0 {
		t.Errorf("pending script after the timeout: %v", pending["status_name"])
	}
}
