package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"

	"maasgo/region/library"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
)

func TestDiffLines(t *testing.T) {
	render := func(ls []diffLine) string {
		var b strings.Builder
		for _, l := range ls {
			fmt.Fprintf(&b, "%c%d,%d %s\n", l.Op, l.Old, l.New, l.Text)
		}
		return b.String()
	}
	got, exact := diffLines(splitLines("a\nb\nc\nd\n"), splitLines("a\nc\nx\nd\ne\n"))
	want := " 1,1 a\n-2,0 b\n 3,2 c\n+0,3 x\n 4,4 d\n+0,5 e\n"
	if !exact || render(got) != want {
		t.Errorf("diff:\n%s\nwant:\n%s", render(got), want)
	}
	if got, _ := diffLines(nil, splitLines("new\n")); render(got) != "+0,1 new\n" {
		t.Errorf("diff from nothing: %q", render(got))
	}
	// Too large a middle shows as replaced whole, and says so.
	var a, b []string
	for i := 0; i < 3000; i++ {
		a, b = append(a, fmt.Sprint("a", i)), append(b, fmt.Sprint("b", i))
	}
	got, exact = diffLines(a, b)
	if exact || len(got) != 6000 || got[0].Op != '-' || got[5999].Op != '+' {
		t.Errorf("huge diff: exact=%v, %d lines", exact, len(got))
	}
}

func multipartBody(t *testing.T, fields map[string]string, file string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("script", "upload.sh")
	io.WriteString(fw, file)
	mw.Close()
	return mw.FormDataContentType(), &buf
}

const uploaded = "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: web-upload\n# script_type: testing\n# tags: [burn-in]\n# --- End MAAS 1.0 script metadata ---\necho one\necho two\n"

// TestScripts: the library list, uploading (administrators, bounded), a script's revisions
// and the diff between two of them.
func TestScripts(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	w.h.opts.MaxScriptUpload = 4096
	alice, csrf := w.session("alice")
	bob, _ := w.session("bob")
	list := bob.get("/MAAS/r/scripts")
	for _, want := range []string{"smartctl-validate", "Testing", "Storage", "Commissioning"} {
		if !strings.Contains(list.body, want) {
			t.Errorf("scripts list lacks %q", want)
		}
	}
	if strings.Contains(list.body, "upload-form") {
		t.Error("a non-administrator is offered the upload form")
	}
	upload := func(c *client, token, body string) resp {
		ct, buf := multipartBody(t, map[string]string{"csrf": token, "comment": "first"}, body)
		return c.upload("/MAAS/r/scripts", ct, buf)
	}
	if r := upload(alice, csrf, uploaded); r.code != 303 || r.header.Get("Location") != "/MAAS/r/scripts/web-upload" {
		t.Fatalf("upload: %d %q %.500s", r.code, r.header.Get("Location"), r.body)
	}
	if r := upload(alice, csrf, uploaded); r.code != 400 || !strings.Contains(r.body, "already exists") {
		t.Errorf("upload of a taken name: %d", r.code)
	}
	if r := upload(alice, csrf, "echo no shebang\n"); r.code != 400 || !strings.Contains(r.body, "upload-problems") {
		t.Errorf("upload without a shebang: %d", r.code)
	}
	if r := upload(alice, "", uploaded); r.code != 403 {
		t.Errorf("upload without the CSRF token: %d; want 403", r.code)
	}
	if r := upload(alice, csrf, strings.Repeat("#", 200<<10)); r.code != 413 {
		t.Errorf("upload past the bound: %d; want 413", r.code)
	}
	_, bobCSRF := w.session("bob")
	if r := upload(bob, bobCSRF, uploaded); r.code != 403 {
		t.Errorf("upload by a non-administrator: %d; want 403", r.code)
	}
	// A second revision, through the library as the API's update makes it.
	var v1, v2 int64
	w.st.Update(context.Background(), func(tx *store.Tx) error {
		s, err := tx.ScriptByName("web-upload")
		if err != nil {
			t.Fatal(err)
		}
		v1 = s.CurrentVersion
		if err := library.Update(tx, s, library.Request{Body: []byte(strings.Replace(uploaded, "echo two", "echo <b>2</b>", 1)), Fields: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
		v2 = s.CurrentVersion
		return nil
	})
	page := bob.get("/MAAS/r/scripts/web-upload")
	for _, want := range []string{"burn-in", "first", fmt.Sprintf("%d (current)", v2), "echo &lt;b&gt;2&lt;/b&gt;", "Compare two revisions"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("script page lacks %q", want)
		}
	}
	d := bob.get(fmt.Sprintf("/MAAS/r/scripts/web-upload/diff?from=%d&to=%d", v1, v2))
	for _, want := range []string{"1 lines added, 1 removed", `<tr class="del"><td class="ln">8</td><td class="ln"></td><td class="op">-</td><td><code>echo two</code>`,
		`<tr class="add"><td class="ln"></td><td class="ln">8</td><td class="op">&#43;</td><td><code>echo &lt;b&gt;2&lt;/b&gt;</code>`} {
		if !strings.Contains(d.body, want) {
			t.Errorf("diff lacks %q: %.3000s", want, d.body)
		}
	}
	if r := bob.get("/MAAS/r/scripts/web-upload/diff?from=1&to=" + fmt.Sprint(v2)); r.code != 404 {
		t.Errorf("diff with another script's revision: %d; want 404", r.code)
	}
	if r := bob.get("/MAAS/r/scripts/web-upload/diff?from=x"); r.code != 400 {
		t.Errorf("diff without revisions: %d; want 400", r.code)
	}
}

// TestSettings: the administrator reads and changes settings; an invalid value changes none.
func TestSettings(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	alice, csrf := w.session("alice")
	r := alice.get("/MAAS/r/settings")
	if !strings.Contains(r.body, `id="set-node_timeout" name="node_timeout" value="30"`) {
		t.Fatalf("settings page: %.2000s", r.body)
	}
	form := url.Values{"csrf": {csrf}, "maas_name": {"lab"}, "node_timeout": {"45"}, "max_node_commissioning_results": {"10"},
		"max_node_testing_results": {"10"}, "enable_anonymous_enlistment": {"on"}}
	if r := alice.post("/MAAS/r/settings", form); r.code != 200 || !strings.Contains(r.body, "Settings saved") || !strings.Contains(r.body, `value="45"`) {
		t.Errorf("save: %d %.300s", r.code, r.body)
	}
	form.Set("node_timeout", "0")
	form.Set("maas_name", "other")
	if r := alice.post("/MAAS/r/settings", form); r.code != 400 || !strings.Contains(r.body, "out of range") {
		t.Errorf("save an invalid timeout: %d", r.code)
	}
	r = alice.get("/MAAS/r/settings")
	if !strings.Contains(r.body, `value="45"`) || !strings.Contains(r.body, `value="lab"`) {
		t.Error("an invalid save changed the settings")
	}
	if !strings.Contains(r.body, `id="set-enable_disk_erasing_on_release" name="enable_disk_erasing_on_release" aria-describedby`) {
		t.Error("an unchecked box did not leave the setting false")
	}
}
