package cli

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"maasgo/wire"
)

// testKey is the API key the fake region accepts.
const testKey = "ck:tk:ts"

// part is one multipart part as the fake region received it.
type part struct {
	Name, Filename, Value string
}

// seen is a request as the fake region received it.
type seen struct {
	Method, Path, Query string
	Body                bool
	Parts               []part
	Signed              bool
}

// tarBytes stands for a binary download; it is not valid UTF-8 on purpose.
var tarBytes = []byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F\x02\x00!\x01\x16\x00\x00\x00t/\xe5\xa3")

// fakeRegion serves an upstream-like describe/ document and records API calls.
type fakeRegion struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	reqs     []seen
	desc     []byte
	descType string
	// whoami is the status users/?op=whoami answers for a signed request with testKey.
	whoami int
}

func newFakeRegion(t *testing.T) *fakeRegion {
	t.Helper()
	desc, err := os.ReadFile("testdata/upstream-describe.json")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRegion{t: t, desc: desc, descType: "application/json", whoami: http.StatusOK}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRegion) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/MAAS/api/2.0/describe/" {
		if r.Header.Get("Authorization") != "" {
			f.t.Errorf("describe/ fetched signed")
		}
		w.Header().Set("Content-Type", f.descType)
		w.Write(f.desc)
		return
	}
	s := seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery}
	if h := r.Header.Get("Authorization"); h != "" {
		params, err := wire.ParseAuthorizationHeader(h)
		if err != nil || params["oauth_consumer_key"] != "ck" || params["oauth_token"] != "tk" || params["oauth_signature"] != "&ts" {
			w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
			http.Error(w, "Authorization Error: Invalid access token", http.StatusUnauthorized)
			return
		}
		s.Signed = true
	}
	body, _ := io.ReadAll(r.Body)
	s.Body = len(body) > 0
	if s.Body {
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" {
			f.t.Errorf("%s %s: body of type %q", r.Method, r.URL, r.Header.Get("Content-Type"))
		} else {
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(p)
				s.Parts = append(s.Parts, part{p.FormName(), p.FileName(), string(b)})
			}
		}
	}
	f.reqs = append(f.reqs, s)
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/MAAS/api/2.0/users/" && q.Get("op") == "whoami":
		if !s.Signed {
			http.Error(w, "Authentication required", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.whoami)
		io.WriteString(w, `{"username": "admin", "is_superuser": true}`)
	case strings.Contains(r.URL.Path, "/missing"):
		http.Error(w, "No machine with system ID missing.", http.StatusNotFound)
	case strings.Contains(r.URL.Path, "/busy"):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, "No machine available.")
	case strings.Contains(r.URL.Path, "/invalid"):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"link_speed": ["link_speed cannot be set when link_connected is false."]}`)
	case strings.Contains(r.URL.Path, "/empty-error"):
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusServiceUnavailable)
	case strings.Contains(r.URL.Path, "/results/") && q.Get("op") == "download":
		w.Header().Set("Content-Type", "application/x-tar")
		w.Write(tarBytes)
	case strings.HasPrefix(r.URL.Path, "/MAAS/api/2.0/scripts/") && q.Get("op") == "download":
		w.Header().Set("Content-Type", "application/binary")
		io.WriteString(w, "#!/bin/sh\necho built-in\n")
	case r.URL.Path == "/MAAS/api/2.0/maas/" && q.Get("op") == "set_config":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "OK")
	case r.Method == http.MethodDelete:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"hostname":"ace-swan","system_id":"bhxws3","tags":["a","b"]}`)
	}
}

// takeRequests returns and forgets the API calls recorded so far.
func (f *fakeRegion) takeRequests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reqs
	f.reqs = nil
	return out
}

// testEnv is an environment writing to buffers, with profiles in a temporary directory.
type testEnv struct {
	Env
	out, err bytes.Buffer
}

func newTestEnv(t *testing.T) *testEnv {
	e := &testEnv{}
	e.Env = Env{Stdin: strings.NewReader(""), Stdout: &e.out, Stderr: &e.err, ProfileDir: t.TempDir(), Version: "test"}
	return e
}

// run executes the command line and returns stdout, stderr and the exit status; the buffers
// are emptied for the next call.
func (e *testEnv) run(args ...string) (string, string, int) {
	e.out.Reset()
	e.err.Reset()
	code := Main(context.Background(), args, &e.Env)
	return e.out.String(), e.err.String(), code
}

// login logs profile in to the fake region with testKey.
func (e *testEnv) login(t *testing.T, f *fakeRegion, name string) {
	t.Helper()
	if _, stderr, code := e.run("login", name, f.URL+"/MAAS", testKey); code != 0 {
		t.Fatalf("login: exit %d: %s", code, stderr)
	}
	f.takeRequests()
}
