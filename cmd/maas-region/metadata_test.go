package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// machineClient plays a machine: it signs with the machine's token and speaks the metadata API
// exactly as upstream's maas_api_helper does (protocol.md §3.1, §4).
type machineClient struct {
	t     *testing.T
	base  string // http://host:port/MAAS
	creds wire.Credentials
	// key, when set, is sent as the Idempotency-Key of the next signal.
	key string
}

func newMachineClient(t *testing.T, r *regiontest.Region, systemID string) *machineClient {
	t.Helper()
	tok := r.Client().Must(t, 200, "GET", "api/2.0/machines/"+systemID+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	return &machineClient{t: t, base: r.URL, creds: wire.Credentials{ConsumerKey: tok["consumer_key"].(string),
		TokenKey: tok["token_key"].(string), TokenSecret: tok["token_secret"].(string)}}
}

func (c *machineClient) do(req *http.Request) *regiontest.Response {
	c.t.Helper()
	return (&regiontest.Client{Creds: c.creds}).Send(c.t, req)
}

// scriptsTar downloads maas-scripts: nil on 204.
func (c *machineClient) scriptsTar() (*wire.Index, map[string][]byte) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/metadata/2012-03-01/maas-scripts", nil)
	resp := c.do(req)
	if resp.Status == http.StatusNoContent {
		return nil, nil
	}
	if resp.Status != 200 || resp.Header.Get("Content-Type") != "application/x-tar" {
		c.t.Fatalf("maas-scripts: %d %q %s", resp.Status, resp.Header.Get("Content-Type"), resp.Body)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(resp.Body))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.t.Fatalf("maas-scripts tar: %v", err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
		if strings.HasPrefix(h.Name, "commissioning/") || strings.HasPrefix(h.Name, "testing/") {
			if h.Mode != 0o755 {
				c.t.Errorf("%s has mode %o; want 755", h.Name, h.Mode)
			}
		}
	}
	var idx wire.Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		c.t.Fatalf("index.json: %v\n%s", err, files["index.json"])
	}
	return &idx, files
}

type part struct{ name, value string }

// signal posts op=signal as maas_api_helper.encode_multipart_data does: an unquoted boundary
// of 31 letters, fields first, then files named after themselves, raw bytes, CRLF.
func (c *machineClient) signal(fields []part, files []part) *regiontest.Response {
	c.t.Helper()
	letters := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var bnd strings.Builder
	for i := 0; i < 31; i++ {
		bnd.WriteByte(letters[rand.IntN(len(letters))])
	}
	b := bnd.String()
	var lines []string
	for _, f := range append([]part{{"op", "signal"}}, fields...) {
		lines = append(lines, "--"+b, fmt.Sprintf(`Content-Disposition: form-data; name="%s"`, f.name), "", f.value)
	}
	for _, f := range files {
		lines = append(lines, "--"+b, fmt.Sprintf(`Content-Disposition: form-data; name="%s"; filename="%s"`, f.name, f.name),
			"Content-Type: application/octet-stream", "", f.value)
	}
	lines = append(lines, "--"+b+"--", "")
	body := strings.Join(lines, "\r\n")
	req, _ := http.NewRequest("POST", c.base+"/metadata//2012-03-01/", strings.NewReader(body))
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+b)
	if c.key != "" {
		req.Header.Set("Idempotency-Key", c.key)
		c.key = ""
	}
	return c.do(req)
}

func (c *machineClient) mustSignal(fields []part, files []part) {
	c.t.Helper()
	if r := c.signal(fields, files); r.Status != 200 || string(r.Body) != "OK" {
		c.t.Fatalf("signal %v: %d %s", fields, r.Status, r.Body)
	}
}

// output is what each fake script "prints".
type output struct{ combined, stdout, stderr, yaml string }

// runList plays upstream's runner over one index list: Starting, then Finished with files.
func (c *machineClient) runList(entries []wire.IndexEntry, outputs func(wire.IndexEntry) (output, int)) {
	c.t.Helper()
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.HardwareType.SortKey() != b.HardwareType.SortKey() {
			return a.HardwareType.SortKey() < b.HardwareType.SortKey()
		}
		return a.Name < b.Name
	})
	for _, e := range entries {
		id := fmt.Sprint(*e.ScriptResultID)
		msg := fmt.Sprintf("%s (id: %s, script_version_id: %d)", e.Name, id, e.ScriptVersionID)
		c.mustSignal([]part{{"status", "WORKING"}, {"error", "Starting " + msg}, {"script_result_id", id},
			{"name", e.Name}, {"script_version_id", fmt.Sprint(e.ScriptVersionID)}}, nil)
		out, rc := outputs(e)
		files := []part{{e.Name + ".out", out.stdout}, {e.Name + ".err", out.stderr}, {e.Name, out.combined}}
		if out.yaml != "" {
			files = append(files, part{e.Name + ".yaml", out.yaml})
		}
		status := "WORKING"
		if rc == 124 {
			status = "TIMEDOUT"
		}
		c.mustSignal([]part{{"status", status}, {"error", fmt.Sprintf("Finished %s: %d", msg, rc)}, {"script_result_id", id},
			{"runtime", "0.052366007"}, {"exit_status", fmt.Sprint(rc)}, {"name", e.Name},
			{"script_version_id", fmt.Sprint(e.ScriptVersionID)}}, files)
	}
}

func mustScript(t *testing.T, c *regiontest.Client, name, typ, body string, extra url.Values) map[string]any {
	t.Helper()
	form := url.Values{"name": {name}, "type": {typ}, "script": {body}}
	for k, v := range extra {
		form[k] = v
	}
	return c.Must(t, 200, "POST", "api/2.0/scripts/", form).(map[string]any)
}

func machineStatus(t *testing.T, c *regiontest.Client, id string) map[string]any {
	t.Helper()
	return c.Must(t, 200, "GET", "api/2.0/machines/"+id+"/", nil).(map[string]any)
}

// TestUpstreamRunnerSequence plays the upstream runner's requests (protocol.md §6.2) against
// the real region: commission, download, Starting/Finished signals with files, re-download,
// TESTING, tests, OK. The machine ends Ready, every result passed, its hardware comes from the
// inventory, and the output downloads as text and as tar.xz.
func TestUpstreamRunnerSequence(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e)
			admin := r.Client()
			mustScript(t, admin, "hello-commission", "commissioning", "#!/bin/sh\necho hello\n", nil)
			mustScript(t, admin, "disk-check", "testing", "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# parameters:\n#   storage: {type: storage, argument_format: '{path}'}\n# hardware_type: storage\n# timeout: 60\n# --- End MAAS 1.0 script metadata ---\necho checking $1\n", nil)

			m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"ace-swan"}, "architecture": {"amd64"},
				"mac_addresses": {"52:54:00:15:36:f2"}, "commission": {"false"}}).(map[string]any)
			id := m["system_id"].(string)
			c := admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"commission"},
				"commissioning_scripts": {"hello-commission"}, "testing_scripts": {"smartctl-validate,disk-check"}}).(map[string]any)
			if c["status"] != 1.0 || c["commissioning_status"] != 0.0 || c["testing_status"] != 0.0 {
				t.Fatalf("after commission: status %v commissioning %v testing %v", c["status"], c["commissioning_status"], c["testing_status"])
			}
			mc := newMachineClient(t, r, id)
			inventory, err := os.ReadFile("../../testdata/machines/qemu-1g/machine-resources.json")
			if err != nil {
				t.Fatal(err)
			}
			outputs := func(e wire.IndexEntry) (output, int) {
				switch e.Name {
				case "50-maas-01-commissioning":
					return output{combined: string(inventory), stdout: string(inventory)}, 0
				case "maas-kernel-cmdline":
					s := "BOOT_IMAGE=/vmlinuz BOOTIF=01-52-54-00-15-36-f2 quiet\n"
					return output{combined: s, stdout: s}, 0
				case "maas-lldp-neighbours":
					s := `{"interfaces": {}}`
					return output{combined: s, stdout: s}, 0
				}
				s := "output of " + e.Name + "\n"
				return output{combined: s + "warning\n", stdout: s, stderr: "warning\n", yaml: "status: passed\nresults:\n  speed: 42\n"}, 0
			}

			mc.mustSignal([]part{{"status", "WORKING"}}, nil)
			idx, files := mc.scriptsTar()
			if idx == nil {
				t.Fatal("no scripts to run")
			}
			names := map[string]bool{}
			for _, e := range idx.V1.Commissioning {
				names[e.Name] = true
				if e.HasStarted == nil || *e.HasStarted || e.Default == nil || e.ScriptResultID == nil {
					t.Errorf("entry %s: %+v", e.Name, e)
				}
				if len(files[e.Path]) == 0 {
					t.Errorf("%s is listed but not in the tar", e.Path)
				}
			}
			for _, want := range []string{"50-maas-01-commissioning", "20-maas-03-machine-resources", "maas-kernel-cmdline", "hello-commission"} {
				if !names[want] {
					t.Errorf("commissioning list lacks %s: %v", want, names)
				}
			}
			if len(idx.V1.Testing) != 2 {
				t.Errorf("testing list before the inventory: %d entries; want the two placeholders", len(idx.V1.Testing))
			}
			mc.runList(idx.V1.Commissioning, outputs)

			// Finished commissioning results are not listed again; the tests now run per disk.
			idx, _ = mc.scriptsTar()
			if idx == nil || len(idx.V1.Commissioning) != 0 {
				t.Fatalf("re-download lists commissioning again: %+v", idx)
			}
			var perDisk int
			for _, e := range idx.V1.Testing {
				sv, ok, err := e.Parameters["storage"].Storage()
				if err != nil || !ok || sv.Name != "sda" || sv.Serial != "QM00001" {
					t.Errorf("test %s storage parameter: %+v %v %v", e.Name, e.Parameters["storage"], ok, err)
				}
				perDisk++
			}
			if perDisk != 2 {
				t.Errorf("%d tests after the inventory; want one per script on the one disk", perDisk)
			}
			mc.mustSignal([]part{{"status", "TESTING"}}, nil)
			if st := machineStatus(t, admin, id); st["status"] != 21.0 {
				t.Errorf("after TESTING: status %v", st["status"])
			}
			mc.runList(idx.V1.Testing, outputs)
			if idx, _ := mc.scriptsTar(); idx != nil {
				t.Errorf("nothing should be left to run: %+v", idx)
			}
			mc.mustSignal([]part{{"status", "OK"}, {"error", "All scripts successfully ran"}}, nil)

			final := machineStatus(t, admin, id)
			if final["status"] != 4.0 || final["commissioning_status"] != 2.0 || final["testing_status"] != 2.0 || final["storage_test_status"] != 2.0 {
				t.Errorf("final: status %v commissioning %v testing %v storage tests %v", final["status"], final["commissioning_status"],
					final["testing_status"], final["storage_test_status"])
			}
			// Hardware from the inventory (the user guide's sample machine).
			if final["cpu_count"] != 1.0 || final["memory"] != 1024.0 || final["hardware_info"].(map[string]any)["system_vendor"] != "QEMU" {
				t.Errorf("hardware: cpu %v memory %v info %v", final["cpu_count"], final["memory"], final["hardware_info"])
			}
			disks := final["physicalblockdevice_set"].([]any)
			if len(disks) != 1 || disks[0].(map[string]any)["serial"] != "QM00001" {
				t.Errorf("disks: %v", disks)
			}
			if bi, _ := final["boot_interface"].(map[string]any); bi == nil || bi["mac_address"] != "52:54:00:15:36:f2" {
				t.Errorf("boot interface: %v", final["boot_interface"])
			}
			checkResults(t, admin, id)
			checkDownloads(t, admin, id, final["current_commissioning_result_id"])
		})
	}
}

func checkResults(t *testing.T, admin *regiontest.Client, id string) {
	t.Helper()
	sets := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/", nil).([]any)
	if len(sets) != 2 {
		t.Fatalf("%d result sets; want commissioning and testing", len(sets))
	}
	for _, s := range sets {
		set := s.(map[string]any)
		if set["status_name"] != "Passed" || set["runtime"] == "" {
			t.Errorf("set %v: %v, runtime %q", set["id"], set["status_name"], set["runtime"])
		}
		for _, rr := range set["results"].([]any) {
			res := rr.(map[string]any)
			if res["status"] != 2.0 || res["exit_status"] != 0.0 || res["runtime"] != "0:00:00" || res["started"] == nil {
				t.Errorf("result %v: status %v exit %v runtime %v", res["name"], res["status_name"], res["exit_status"], res["runtime"])
			}
		}
	}
	cur := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/current-testing/", url.Values{"include_output": {"true"}}).(map[string]any)
	res := cur["results"].([]any)[0].(map[string]any)
	if res["stdout"] == nil || res["parameters"].(map[string]any)["storage"] == nil {
		t.Errorf("current-testing with output: %v", res)
	}
	filtered := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/", url.Values{"type": {"testing"}, "filters": {"disk-check"}}).([]any)
	if len(filtered) != 1 || len(filtered[0].(map[string]any)["results"].([]any)) != 1 {
		t.Errorf("filtered results: %v", filtered)
	}
}

func checkDownloads(t *testing.T, admin *regiontest.Client, id string, setID any) {
	t.Helper()
	base := fmt.Sprintf("api/2.0/nodes/%s/results/%v/", id, setID)
	one := admin.Do(t, "GET", base, url.Values{"op": {"download"}, "filters": {"hello-commission"}})
	if one.Status != 200 || string(one.Body) != "output of hello-commission\nwarning\n" {
		t.Errorf("txt of one result: %d %q", one.Status, one.Body)
	}
	all := admin.Do(t, "GET", base, url.Values{"op": {"download"}, "output": {"all"}, "filters": {"hello-commission"}})
	title := "hello-commission.out"
	dashes := strings.Repeat("-", (80-(len(title)+2))/2)
	if !strings.Contains(string(all.Body), dashes+" "+title+" "+dashes+"\noutput of hello-commission\n") {
		t.Errorf("txt of all outputs:\n%s", all.Body)
	}
	tx := admin.Do(t, "GET", base, url.Values{"op": {"download"}, "output": {"all"}, "filetype": {"tar.xz"}})
	if tx.Status != 200 {
		t.Fatalf("tar.xz: %d %s", tx.Status, tx.Body)
	}
	xr, err := xz.NewReader(bytes.NewReader(tx.Body))
	if err != nil {
		t.Fatalf("tar.xz is not xz: %v", err)
	}
	tr := tar.NewReader(xr)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("tar.xz: %v", err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
		if h.Mode != 0o644 {
			t.Errorf("%s mode %o", h.Name, h.Mode)
		}
	}
	root := fmt.Sprintf("ace-swan-commissioning-%v/", setID)
	for name, want := range map[string]string{
		"hello-commission":        "output of hello-commission\nwarning\n",
		"hello-commission.out":    "output of hello-commission\n",
		"hello-commission.err":    "warning\n",
		"hello-commission.yaml":   "status: passed\nresults:\n  speed: 42\n",
		"maas-kernel-cmdline.out": "BOOT_IMAGE=/vmlinuz BOOTIF=01-52-54-00-15-36-f2 quiet\n",
	} {
		if got[root+name] != want {
			t.Errorf("tar.xz %s = %q; want %q", root+name, got[root+name], want)
		}
	}
	if resp := admin.Do(t, "GET", base, url.Values{"op": {"download"}, "filetype": {"zip"}}); resp.Status != 400 {
		t.Errorf("unknown filetype: %d", resp.Status)
	}
}
