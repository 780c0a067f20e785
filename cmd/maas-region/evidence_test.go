package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire/evidence"
)

// TestEvidenceBundle: a machine's results exported as a signed bundle verify with
// maas-region verify-bundle against the region's key; one byte changed in an output, or
// another key, fails verification.
func TestEvidenceBundle(t *testing.T) {
	bin := regiontest.Build(t, "maasgo/cmd/maas-region")
	inventory, err := os.ReadFile("../../testdata/machines/two-socket-server/machine-resources.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e)
			admin := r.Client()
			id, mc, idx := commissioned(t, r, "evident", url.Values{"testing_scripts": {"none"}})
			inv := entry(t, idx.V1.Commissioning, "50-maas-01-commissioning")
			if resp := finish(mc, inv, "WORKING", 0, []part{{inv.Name + ".out", string(inventory)}, {inv.Name, string(inventory)}}); resp.Status != 200 {
				t.Fatalf("inventory: %d %s", resp.Status, resp.Body)
			}
			bad := entry(t, idx.V1.Commissioning, "maas-list-modaliases")
			if resp := finish(mc, bad, "WORKING", 3, []part{{bad.Name, "the disk is dying\n"}, {bad.Name + ".err", "the disk is dying\n"}}); resp.Status != 200 {
				t.Fatalf("failing result: %d %s", resp.Status, resp.Body)
			}
			req, _ := http.NewRequest("GET", r.URL+"/api/2.0/nodes/"+id+"/results/?op=export", nil)
			resp := admin.Send(t, req)
			if resp.Status != 200 || !strings.HasSuffix(resp.Header.Get("Content-Disposition"), `.tar.xz"`) {
				t.Fatalf("export: %d %v %s", resp.Status, resp.Header, resp.Body)
			}
			t.Logf("bundle of the two-socket server's inventory and one failed result: %d bytes", len(resp.Body))
			key := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/", url.Values{"op": {"export_key"}}).(map[string]any)
			pub := key["public_key"].(string)

			dir := t.TempDir()
			good := filepath.Join(dir, "good.tar.xz")
			os.WriteFile(good, resp.Body, 0o644)
			out, err := exec.Command(bin, "verify-bundle", good, "--key", pub).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "signed by the trusted key "+key["fingerprint"].(string)) {
				t.Fatalf("verify-bundle of the bundle as exported: %v\n%s", err, out)
			}

			// What the bundle holds.
			xr, err := xz.NewReader(bytes.NewReader(resp.Body))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(xr)
			if err != nil {
				t.Fatal(err)
			}
			v, err := evidence.Verify(bytes.NewReader(plain), nil)
			if err != nil {
				t.Fatal(err)
			}
			m := v.Manifest
			if m.Machine.SystemID != id || m.Machine.CPUCount != 8 || len(m.Machine.Disks) != 3 || len(m.Results) < 2 {
				t.Errorf("manifest machine %+v, %d results", m.Machine, len(m.Results))
			}
			var failed *evidence.Result
			for i := range m.Results {
				if m.Results[i].Name == "maas-list-modaliases" {
					failed = &m.Results[i]
				}
			}
			if failed == nil || !failed.Failed || failed.ExitStatus == nil || *failed.ExitStatus != 3 || len(failed.Files) != 2 {
				t.Errorf("failed result in the manifest: %+v", failed)
			}
			if !bytes.Contains(plain, []byte(`<failure message="Failed (exit status 3)"`)) {
				t.Error("the JUnit file does not show the failure")
			}

			// One byte of an output changed, the bundle compressed again.
			tampered := bytes.Replace(plain, []byte("the disk is dying"), []byte("the disk is fine!"), 1)
			var buf bytes.Buffer
			xw, _ := xz.NewWriter(&buf)
			xw.Write(tampered)
			xw.Close()
			badFile := filepath.Join(dir, "tampered.tar.xz")
			os.WriteFile(badFile, buf.Bytes(), 0o644)
			out, err = exec.Command(bin, "verify-bundle", badFile, "--key", pub).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "maas-list-modaliases") || !strings.Contains(string(out), "was changed") {
				t.Errorf("verify-bundle of a tampered bundle: %v\n%s", err, out)
			}
			// Another key.
			other := evidence.EncodeKey(bytes.Repeat([]byte{7}, 32))
			out, err = exec.Command(bin, "verify-bundle", good, "--key", other).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "not by the trusted key") {
				t.Errorf("verify-bundle with another key: %v\n%s", err, out)
			}
		})
	}
}
