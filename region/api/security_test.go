package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/wire"
)

// countingBody is a request body of n bytes that counts what the server read of it.
type countingBody struct {
	n, read int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.read >= b.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), b.n-b.read)
	for i := range p[:k] {
		p[i] = 'a'
	}
	b.read += k
	return int(k), nil
}

func (b *countingBody) Close() error { return nil }

// TestAgentPathsServeOnlyKnownBuilds: the agent download paths answer only the architectures
// of the fixed table, whatever the path or the query says, and their errors name no file.
func TestAgentPathsServeOnlyKnownBuilds(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "agents")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(root, "maas.db"), []byte("SECRET DATABASE"), 0o600)
	os.WriteFile(filepath.Join(dir, "maas-run-scripts-linux-amd64"), []byte("AGENT"), 0o755)
	s := New(nil, Options{AgentDir: dir})
	for _, target := range []string{
		"/MAAS/maas-run-scripts/x/../../maas.db",
		"/MAAS/maas-run-scripts/../maas.db",
		"/MAAS/machine-resources/amd64/../../../maas.db",
		"/MAAS/machine-resources?arch=x/../../../maas.db",
		"/MAAS/machine-resources?arch=../maas.db",
		"/MAAS/maas-run-scripts?arch=../../../../../../dev/zero",
		"/MAAS/maas-run-scripts/x/../../../../../../../dev/zero",
		"/MAAS/maas-run-scripts/amd64%2f..%2f..%2fmaas.db",
		"/MAAS/maas-run-scripts/arm64",
	} {
		req := httptest.NewRequest("GET", "http://region"+target, nil)
		req.URL.Path = strings.ReplaceAll(req.URL.Path, "%2f", "/") // as a client sending it raw would
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { s.ServeHTTP(w, req); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no answer within 5 s", target)
		}
		body := w.Body.String()
		if w.Code != 404 || strings.Contains(body, "SECRET") || strings.Contains(body, root) {
			t.Errorf("%s: %d %q; want a 404 naming no path", target, w.Code, body)
		}
	}
	req := httptest.NewRequest("GET", "http://region/MAAS/maas-run-scripts/amd64", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != 200 || w.Body.String() != "AGENT" || w.Header().Get("X-Agent-SHA256") == "" {
		t.Errorf("the real build: %d %q", w.Code, w.Body.String())
	}
}

// TestAgentBuildsAreHashedOnce: a download or user data never hashes a file: a build
// replaced on disk is served as loaded until a reload.
func TestAgentBuildsAreHashedOnce(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "maas-run-scripts-linux-amd64")
	os.WriteFile(p, []byte("v1"), 0o755)
	s := New(nil, Options{AgentDir: dir})
	sum := s.agent.Sums()["amd64"]
	os.Remove(p)
	os.WriteFile(p, []byte("version two"), 0o755)
	if got := s.agent.Sums()["amd64"]; got != sum {
		t.Errorf("the sum changed without a reload")
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "http://region/MAAS/maas-run-scripts/amd64", nil))
	if w.Body.String() != "v1" {
		t.Errorf("served %q; want the build loaded at start", w.Body.String())
	}
	s.ReloadAgents()
	if s.agent.Sums()["amd64"] == sum {
		t.Errorf("a reload kept the old sum")
	}
	// A device or a directory is never read as a build.
	os.Remove(p)
	if err := os.Symlink("/dev/zero", p); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.ReloadAgents()
	if _, ok := s.agent.Sums()["amd64"]; ok || time.Since(start) > 2*time.Second {
		t.Errorf("/dev/zero was taken for a build (%v)", time.Since(start))
	}
}

// TestBodiesAreReadOnlyAfterAuthentication: requests without valid credentials are refused
// from their headers, before their bodies are read.
func TestBodiesAreReadOnlyAfterAuthentication(t *testing.T) {
	w := newAccessWorld(t)
	s := New(w.st, Options{})
	vals, machine := w.target(t, 1, asMachine)
	bad := w.keys[asAdmin]
	bad.TokenSecret = "wrong"
	unknown := bad
	unknown.TokenKey = "NoSuchTokenKey0000"
	for _, tc := range []struct {
		name, path, ct string
		creds          *wire.Credentials
		want           int
	}{
		{"anonymous multipart to the API", "/MAAS/api/2.0/scripts/", "multipart/form-data; boundary=B", nil, 401},
		{"anonymous form to an admin op", "/MAAS/api/2.0/maas/?op=set_config", "application/x-www-form-urlencoded", nil, 401},
		{"wrong secret, multipart", "/MAAS/api/2.0/scripts/", "multipart/form-data; boundary=B", &bad, 401},
		{"unknown token, form", "/MAAS/api/2.0/machines/?op=allocate", "application/x-www-form-urlencoded", &unknown, 401},
		{"anonymous signal", "/MAAS/metadata/2012-03-01/", "multipart/form-data; boundary=B", nil, 401},
		{"wrong secret signal", "/MAAS/metadata/2012-03-01/", "multipart/form-data; boundary=B", &bad, 401},
		{"user key on the metadata", "/MAAS/metadata/2012-03-01/", "multipart/form-data; boundary=B", ptr(w.keys[asOther]), 403},
		{"machine token on the API", "/MAAS/api/2.0/machines/" + vals["system_id"] + "/?op=deploy", "multipart/form-data; boundary=B", machine, 403},
		{"non-admin on an admin op named in the query", "/MAAS/api/2.0/maas/?op=set_config", "multipart/form-data; boundary=B", ptr(w.keys[asOther]), 403},
		{"anonymous webhook", "/MAAS/metadata/status/" + vals["system_id"], "application/json", nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingBody{n: 100 << 20}
			req := httptest.NewRequest("POST", "http://region"+tc.path, nil)
			req.Body, req.ContentLength = body, -1
			req.Header.Set("Content-Type", tc.ct)
			if tc.creds != nil {
				req.Header.Set("Authorization", tc.creds.AuthorizationHeader(time.Now()))
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tc.want || body.read != 0 {
				t.Errorf("%d %q after reading %d bytes; want %d having read nothing", rec.Code, rec.Body.String(), body.read, tc.want)
			}
		})
	}
	// An anonymous action reads little: a large body is refused past 64 KiB.
	body := &countingBody{n: 100 << 20}
	req := httptest.NewRequest("GET", "http://region/MAAS/api/2.0/machines/?op=is_registered&mac_address=02:00:00:00:00:01", nil)
	req.Body, req.ContentLength = body, -1
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 413 || body.read > anonymousBody+64<<10 {
		t.Errorf("anonymous large body: %d after reading %d bytes", rec.Code, body.read)
	}
	// So does a machine enlisting itself.
	for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=B"} {
		body = &countingBody{n: 100 << 20}
		req = httptest.NewRequest("POST", "http://region/MAAS/api/2.0/machines/", nil)
		req.Body, req.ContentLength = body, -1
		req.Header.Set("Content-Type", ct)
		rec = httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code/100 != 4 || body.read > anonymousBody+64<<10 {
			t.Errorf("anonymous enlistment with a large %s body: %d after reading %d bytes", ct, rec.Code, body.read)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestUploadMemoryIsWhatIsStored: a signal's files are decoded part by part as they arrive;
// the request's memory is about what is stored, not the body twice or thrice.
func TestUploadMemoryIsWhatIsStored(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("op", "signal")
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="x.out"; filename="x.out"`}
	h["Content-Transfer-Encoding"] = []string{"base64"}
	pw, _ := mw.CreatePart(h)
	enc := base64.NewEncoder(base64.StdEncoding, pw)
	enc.Write(data)
	enc.Close()
	mw.Close()
	body := b.Bytes()
	req := httptest.NewRequest("POST", "/x", bytes.NewReader(body))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	p, err := parseQuery(req)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtimeMem
	before.read()
	if err := p.readBody(req, bodyLimits{body: 128 << 20, fields: 1 << 20, files: 128 << 20}); err != nil {
		t.Fatal(err)
	}
	after.read()
	if !bytes.Equal(p.Files["x.out"], data) {
		t.Fatal("the file was not decoded as sent")
	}
	// bytes.Buffer growth may double what it holds; the old parser held the body, the part
	// and its decoding at once (more than 3×).
	if got := after.total - before.total; got > 2*uint64(len(data))+8<<20 {
		t.Errorf("reading a %d MiB file allocated %d MiB", len(data)>>20, got>>20)
	}
}

// TestDecompressionBomb: the status webhook inflates files within the body limit and refuses
// more with a 413, storing nothing.
func TestDecompressionBomb(t *testing.T) {
	bomb, err := os.ReadFile("testdata/zeros-300MiB.bz2")
	if err != nil {
		t.Fatal(err)
	}
	w := newAccessWorld(t)
	s := New(w.st, Options{MaxBody: 32 << 20})
	vals, machine := w.target(t, 1, asMachine)
	file := fmt.Sprintf(`{"path": "/tmp/install.log", "encoding": "base64", "compression": "bzip2", "content": %q}`, base64.StdEncoding.EncodeToString(bomb))
	payload := `{"event_type": "finish", "origin": "curtin", "name": "cmd-install", "result": "SUCCESS", "files": [` + file + `]}`
	var before, after runtimeMem
	before.read()
	req := httptest.NewRequest("POST", "http://region/MAAS/metadata/status/"+vals["system_id"], strings.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", machine.AuthorizationHeader(time.Now()))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	after.read()
	if rec.Code != 413 || !strings.Contains(rec.Body.String(), "limit of 33554432 bytes") {
		t.Errorf("bomb: %d %q; want 413 naming the limit", rec.Code, rec.Body.String())
	}
	if got := after.total - before.total; got > 80<<20 {
		t.Errorf("the bomb allocated %d MiB", got>>20)
	}
	// Many parts together are bounded too.
	var files []string
	small := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'x'}, 5<<20))
	for i := range 8 {
		files = append(files, fmt.Sprintf(`{"path": "f%d", "encoding": "base64", "content": %q}`, i, small))
	}
	payload = `{"event_type": "finish", "origin": "curtin", "name": "x", "files": [` + strings.Join(files, ",") + `]}`
	req = httptest.NewRequest("POST", "http://region/MAAS/metadata/status/"+vals["system_id"], strings.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", machine.AuthorizationHeader(time.Now()))
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Errorf("8 × 5 MiB files past a 32 MiB limit: %d %q", rec.Code, rec.Body.String())
	}
	var stored int
	w.st.View(context.Background(), func(tx *store.Tx) error {
		m, _ := tx.MachineBySystemID(vals["system_id"])
		rs, _ := tx.ScriptResults([]int64{*m.CurrentCommissioningSet}, false)
		for _, r := range rs {
			if strings.HasPrefix(r.ScriptName, "f") || r.ScriptName == "install.log" {
				stored++
			}
		}
		return nil
	})
	if stored != 0 {
		t.Errorf("a refused event stored %d results", stored)
	}
}

// TestResultNamesAreFileNames: names a machine uploads are single, printable path components.
func TestResultNamesAreFileNames(t *testing.T) {
	w := newAccessWorld(t)
	s := New(w.st, Options{})
	_, machine := w.target(t, 1, asMachine)
	for _, name := range []string{"../../../../tmp/x", "a/b", "..", ".", "x\x00y", "tab\there", "back\\slash", strings.Repeat("n", 300)} {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("op", "signal")
		mw.WriteField("status", "WORKING")
		h := map[string][]string{"Content-Disposition": {fmt.Sprintf(`form-data; name=%q; filename=%q`, name, name)}}
		pw, _ := mw.CreatePart(h)
		pw.Write([]byte("output"))
		mw.Close()
		req := httptest.NewRequest("POST", "http://region/MAAS/metadata/2012-03-01/", &b)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", machine.AuthorizationHeader(time.Now()))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "files") {
			t.Errorf("%q: %d %q; want a 400 naming the files", name, rec.Code, rec.Body.String())
		}
	}
}

// TestServerErrorsNameNothing: a 500 tells the client a reference, not the error (which may
// name files); a full disk is a 507 saying what to do.
func TestServerErrorsNameNothing(t *testing.T) {
	s := New(nil, Options{})
	rec := httptest.NewRecorder()
	s.writeError(rec, httptest.NewRequest("GET", "/x", nil), errors.New("open /var/lib/maas-region/maas.db: permission denied"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "/var/lib") || !strings.Contains(rec.Body.String(), "reference") {
		t.Errorf("500: %q", rec.Body.String())
	}
}

// runtimeMem reads the bytes allocated so far.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.total = ms.TotalAlloc
}

// TestResultsPerRunAreBounded: a machine cannot fill the region's disk by naming new result
// files without end; past the bound a signal is refused whole.
func TestResultsPerRunAreBounded(t *testing.T) {
	w := newAccessWorld(t)
	s := New(w.st, Options{})
	_, machine := w.target(t, 1, asMachine)
	signal := func(files int) *httptest.ResponseRecorder {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("op", "signal")
		mw.WriteField("status", "WORKING")
		for i := range files {
			fw, _ := mw.CreateFormFile(fmt.Sprintf("extra-%d", i), fmt.Sprintf("extra-%d", i))
			fw.Write([]byte("x"))
		}
		mw.Close()
		req := httptest.NewRequest("POST", "http://region/MAAS/metadata/2012-03-01/", &b)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", machine.AuthorizationHeader(time.Now()))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	if rec := signal(lifecycle.MaxResultsPerSet + 1); rec.Code != 400 || !strings.Contains(rec.Body.String(), "the most one run may") {
		t.Errorf("%d new results: %d %q", lifecycle.MaxResultsPerSet+1, rec.Code, rec.Body.String())
	}
	if rec := signal(10); rec.Code != 200 {
		t.Errorf("10 new results after a refusal: %d %q", rec.Code, rec.Body.String())
	}
}
