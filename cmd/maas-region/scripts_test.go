package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// postFile sends a multipart create as upstream's CLI does with script@=FILE: a file part
// named after its field.
func postFile(t *testing.T, c *regiontest.Client, method, path string, fields map[string]string, file string) *regiontest.Response {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if file != "" {
		fw, _ := w.CreateFormFile("script", "script")
		fw.Write([]byte(file))
	}
	w.Close()
	req, _ := http.NewRequest(method, c.Base+"/"+path, &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.Send(t, req)
}

const fioLike = `#!/bin/bash
# --- Start MAAS 1.0 script metadata ---
# name: disk-bench
# title: Storage benchmark
# script_type: testing
# hardware_type: storage
# parallel: instance
# parameters:
#   storage: {type: storage, argument_format: '{path}'}
# packages: {apt: fio}
# destructive: true
# timeout: 00:05:00
# --- End MAAS 1.0 script metadata ---
fio "$1"
`

func TestScriptLibrary(t *testing.T) {
	r := regiontest.Start(t, storetest.SQLite(t))
	admin := r.Client()

	resp := postFile(t, admin, "POST", "api/2.0/scripts/", map[string]string{"comment": "first"}, fioLike)
	if resp.Status != 200 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	s := resp.JSON(t).(map[string]any)
	if s["name"] != "disk-bench" || s["type"] != 2.0 || s["type_name"] != "Testing script" || s["hardware_type"] != 3.0 ||
		s["parallel"] != 1.0 || s["timeout"] != "0:05:00" || s["destructive"] != true || s["default"] != false ||
		s["resource_uri"] != "/MAAS/api/2.0/scripts/disk-bench" {
		t.Errorf("created script: %v", s)
	}
	if tags := fmt.Sprint(s["tags"]); !strings.Contains(tags, "storage") || !strings.Contains(tags, "destructive") {
		t.Errorf("automatic tags missing: %v", tags)
	}
	if pk := fmt.Sprint(s["packages"]); !strings.Contains(pk, "fio") {
		t.Errorf("packages: %v", pk)
	}
	hist := s["history"].([]any)
	if len(hist) != 1 || hist[0].(map[string]any)["comment"] != "first" {
		t.Fatalf("history: %v", hist)
	}
	firstRev := hist[0].(map[string]any)["id"]

	// Uploaded fields override the embedded metadata.
	over := mustScript(t, admin, "quick", "commissioning", "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# timeout: 10\n# --- End MAAS 1.0 script metadata ---\ntrue\n",
		url.Values{"timeout": {"20"}, "tags": {"fast,cpu-ish"}})
	if over["timeout"] != "0:00:20" || !strings.Contains(fmt.Sprint(over["tags"]), "fast") || over["type"] != 0.0 {
		t.Errorf("overrides: timeout %v tags %v type %v", over["timeout"], over["tags"], over["type"])
	}

	for _, tc := range []struct {
		name   string
		fields map[string]string
		body   string
		field  string
	}{
		{"name clash", nil, fioLike, "name"},
		{"no shebang", map[string]string{"name": "x1"}, "echo hi\n", "script"},
		{"bad metadata", map[string]string{"name": "x2"}, "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# hardware_type: toaster\n# --- End MAAS 1.0 script metadata ---\n", "hardware_type"},
		{"bad parameter", map[string]string{"name": "x3"}, "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# parameters: {p: {type: disk}}\n# --- End MAAS 1.0 script metadata ---\n", "parameters"},
		{"unknown type", map[string]string{"name": "x4", "type": "sometimes"}, "#!/bin/sh\n", "script_type"},
		{"bad timeout", map[string]string{"name": "x5", "timeout": "soon"}, "#!/bin/sh\n", "timeout"},
		{"no script", map[string]string{"name": "x6"}, "", "script"},
		{"bad name", map[string]string{"name": "has space"}, "#!/bin/sh\n", "name"},
		{"unknown field", map[string]string{"name": "x7", "colour": "blue"}, "#!/bin/sh\n", "colour"},
	} {
		resp := postFile(t, admin, "POST", "api/2.0/scripts/", tc.fields, tc.body)
		if resp.Status != 400 || !strings.Contains(string(resp.Body), `"`+tc.field+`"`) {
			t.Errorf("%s: %d %s; want 400 naming %s", tc.name, resp.Status, resp.Body, tc.field)
		}
	}
	if l := admin.Must(t, 200, "GET", "api/2.0/scripts/", url.Values{"filters": {"x1,x2,x3,x4,x5,x6,x7"}}).([]any); len(l) != 0 {
		t.Errorf("refused creates stored %d scripts", len(l))
	}

	// A new body makes a revision; the same body makes none.
	v2 := strings.Replace(fioLike, `fio "$1"`, `fio --direct=1 "$1"`, 1)
	resp = postFile(t, admin, "PUT", "api/2.0/scripts/disk-bench", map[string]string{"comment": "Updated version"}, v2)
	if resp.Status != 200 {
		t.Fatalf("update: %d %s", resp.Status, resp.Body)
	}
	hist = resp.JSON(t).(map[string]any)["history"].([]any)
	if len(hist) != 2 || hist[0].(map[string]any)["comment"] != "Updated version" {
		t.Errorf("history after update: %v", hist)
	}
	resp = postFile(t, admin, "PUT", "api/2.0/scripts/disk-bench", map[string]string{"comment": "again"}, v2)
	if n := len(resp.JSON(t).(map[string]any)["history"].([]any)); n != 2 {
		t.Errorf("same body made a revision: %d entries", n)
	}
	if got := admin.Must(t, 200, "GET", "api/2.0/scripts/disk-bench", url.Values{"op": {"download"}}); got != v2 {
		t.Errorf("download current = %q", got)
	}
	if got := admin.Must(t, 200, "GET", "api/2.0/scripts/disk-bench", url.Values{"op": {"download"}, "revision": {fmt.Sprint(firstRev)}}); got != fioLike {
		t.Errorf("download first revision = %q", got)
	}
	if resp := admin.Do(t, "GET", "api/2.0/scripts/disk-bench", url.Values{"op": {"download"}, "revision": {"999999"}}); resp.Status != 400 || !strings.Contains(string(resp.Body), "not found in history") {
		t.Errorf("unknown revision: %d %s", resp.Status, resp.Body)
	}
	withData := admin.Must(t, 200, "GET", "api/2.0/scripts/disk-bench", url.Values{"include_script": {"true"}}).(map[string]any)
	data := withData["history"].([]any)[0].(map[string]any)["data"].(string)
	if dec, _ := base64.StdEncoding.DecodeString(data); string(dec) != v2 {
		t.Errorf("include_script data = %q", dec)
	}
	rev := admin.Must(t, 200, "POST", "api/2.0/scripts/disk-bench", url.Values{"op": {"revert"}, "to": {fmt.Sprint(firstRev)}}).(map[string]any)
	if h := rev["history"].([]any); len(h) != 1 {
		t.Errorf("revert kept later revisions: %v", h)
	}
	if got := admin.Must(t, 200, "GET", "api/2.0/scripts/disk-bench", url.Values{"op": {"download"}}); got != fioLike {
		t.Errorf("after revert: %q", got)
	}
	if resp := admin.Do(t, "POST", "api/2.0/scripts/disk-bench", url.Values{"op": {"revert"}, "to": {"123456"}}); resp.Status != 400 {
		t.Errorf("revert to unknown revision: %d", resp.Status)
	}

	// Tags, filters, types.
	admin.Must(t, 200, "POST", "api/2.0/scripts/disk-bench", url.Values{"op": {"add_tag"}, "tag": {"burn-in"}})
	if l := admin.Must(t, 200, "GET", "api/2.0/scripts/", url.Values{"type": {"testing"}, "filters": {"burn-in"}}).([]any); len(l) != 1 {
		t.Errorf("filter by new tag: %d", len(l))
	}
	if resp := admin.Do(t, "POST", "api/2.0/scripts/disk-bench", url.Values{"op": {"add_tag"}, "tag": {"a,b"}}); resp.Status != 400 {
		t.Errorf("tag with a comma: %d", resp.Status)
	}
	admin.Must(t, 200, "POST", "api/2.0/scripts/disk-bench", url.Values{"op": {"remove_tag"}, "tag": {"burn-in"}})
	if l := admin.Must(t, 200, "GET", "api/2.0/scripts/", url.Values{"filters": {"burn-in"}}).([]any); len(l) != 0 {
		t.Errorf("removed tag still matches: %d", len(l))
	}
	comm := admin.Must(t, 200, "GET", "api/2.0/scripts/", url.Values{"type": {"commissioning"}}).([]any)
	for _, x := range comm {
		if x.(map[string]any)["type"] != 0.0 {
			t.Errorf("type filter let through %v", x)
		}
	}

	// Built-in scripts: downloadable, not deletable, not changeable.
	if got := admin.Must(t, 200, "GET", "api/2.0/scripts/maas-kernel-cmdline", url.Values{"op": {"download"}}).(string); !strings.HasPrefix(got, "#!/") {
		t.Errorf("built-in download: %q", got)
	}
	b := admin.Must(t, 200, "GET", "api/2.0/scripts/smartctl-validate", nil).(map[string]any)
	if b["default"] != true || !strings.Contains(fmt.Sprint(b["tags"]), "commissioning") {
		t.Errorf("smartctl-validate: %v", b)
	}
	if resp := admin.Do(t, "DELETE", "api/2.0/scripts/smartctl-validate", nil); resp.Status != 400 || !strings.Contains(string(resp.Body), "default") {
		t.Errorf("delete a built-in: %d %s", resp.Status, resp.Body)
	}
	if resp := postFile(t, admin, "PUT", "api/2.0/scripts/smartctl-validate", nil, "#!/bin/sh\n"); resp.Status != 400 {
		t.Errorf("overwrite a built-in: %d %s", resp.Status, resp.Body)
	}

	// Non-admins read but do not write.
	bob := newUser(t, r, "bob", false)
	bc := &regiontest.Client{Base: r.URL, Creds: bob}
	if resp := bc.Do(t, "GET", "api/2.0/scripts/", nil); resp.Status != 200 {
		t.Errorf("non-admin read: %d", resp.Status)
	}
	if resp := postFile(t, bc, "POST", "api/2.0/scripts/", map[string]string{"name": "bobs"}, "#!/bin/sh\n"); resp.Status != 403 {
		t.Errorf("non-admin create: %d", resp.Status)
	}

	admin.Must(t, 204, "DELETE", "api/2.0/scripts/disk-bench", nil)
	if resp := admin.Do(t, "GET", "api/2.0/scripts/disk-bench", nil); resp.Status != 404 {
		t.Errorf("deleted script: %d", resp.Status)
	}
}
