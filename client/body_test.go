package client

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"maasgo/wire"
)

// TestMultipartEncoding checks the bytes of a body: upstream's layout, the fields first and
// the files streamed from disk, and an exact length.
func TestMultipartEncoding(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.out")
	os.WriteFile(out, []byte("line1\nline2\n"), 0o644)
	empty := filepath.Join(dir, "x.err")
	os.WriteFile(empty, nil, 0o644)
	m := Multipart{{Name: "op", Value: "signal"}, {Name: "status", Value: "WORKING"},
		{Name: "x.out", File: true, Path: out}, {Name: "x.err", File: true, Path: empty}, {Name: "x.yaml", File: true, Value: "a: 1\n"}}
	r, length, ct, err := m.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	body, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(body)) != length {
		t.Errorf("length %d; Open says %d", len(body), length)
	}
	b := strings.TrimPrefix(ct, "multipart/form-data; boundary=")
	if !regexp.MustCompile(`^[A-Za-z]{31}$`).MatchString(b) {
		t.Fatalf("boundary %q", b)
	}
	want := "--B\r\nContent-Disposition: form-data; name=\"op\"\r\n\r\nsignal\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"status\"\r\n\r\nWORKING\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"x.out\"; filename=\"x.out\"\r\nContent-Type: application/octet-stream\r\n\r\nline1\nline2\n\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"x.err\"; filename=\"x.err\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"x.yaml\"; filename=\"x.yaml\"\r\nContent-Type: application/octet-stream\r\n\r\na: 1\n\r\n" +
		"--B--\r\n"
	if got := strings.ReplaceAll(string(body), b, "B"); got != want {
		t.Errorf("body:\n%q\nwant:\n%q", got, want)
	}
}

func TestMultipartShrunkFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	r, _, _, err := Multipart{{Name: "f", File: true, Path: p}}.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	os.Truncate(p, 3)
	if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Errorf("err %v", err)
	}
}

func TestMultipartErrors(t *testing.T) {
	if _, _, _, err := (Multipart{{Name: "f", File: true, Path: filepath.Join(t.TempDir(), "missing")}}).Open(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, _, err := (Multipart{{Name: "f", Path: "/etc/hostname"}}).Open(); err == nil {
		t.Errorf("a field read from a file: no error")
	}
}

// receivedPart is a part as a server reading with mime/multipart sees it.
type receivedPart struct {
	Name, Filename, Value string
	Headers               []string
}

// readParts reads a multipart/form-data body with mime/multipart, taking the names from the
// Content-Disposition header as it is (Part.FileName would keep only a base name).
func readParts(t *testing.T, contentType string, body io.Reader) []receivedPart {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" {
		t.Errorf("content type %q: %v", contentType, err)
		return nil
	}
	mr := multipart.NewReader(body, params["boundary"])
	var out []receivedPart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Errorf("next part: %v", err)
			return out
		}
		_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		if err != nil {
			t.Errorf("Content-Disposition %q: %v", p.Header.Get("Content-Disposition"), err)
		}
		b, _ := io.ReadAll(p)
		rp := receivedPart{Name: params["name"], Filename: params["filename"], Value: string(b)}
		for k := range p.Header {
			rp.Headers = append(rp.Headers, k)
		}
		slices.Sort(rp.Headers)
		out = append(out, rp)
	}
}

// TestMultipartHostileNames sends field and file names with quotes, backslashes, CR, LF and
// non-ASCII characters, and reads them back with mime/multipart: each part stays one part
// with its own name, no name adds a header, and CR and LF arrive percent-encoded (as
// browsers send them) instead of ending the header.
func TestMultipartHostileNames(t *testing.T) {
	var mu sync.Mutex
	var got []receivedPart
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := readParts(t, r.Header.Get("Content-Type"), r.Body)
		mu.Lock()
		got = parts
		mu.Unlock()
	}))
	defer srv.Close()
	c := New(wire.Credentials{}, nil)
	for _, tc := range []struct {
		name, sent, received string
	}{
		{"quote", `a"b`, `a"b`},
		{"backslash", `a\b\"`, `a\b\"`},
		{"quote and parameter", `x"; filename="evil.sh`, `x"; filename="evil.sh`},
		{"CR LF header", "x\r\nContent-Type: text/evil", "x%0D%0AContent-Type: text/evil"},
		{"lone LF", "x\ny", "x%0Ay"},
		{"CR LF CR LF body", "x\r\n\r\nbody", "x%0D%0A%0D%0Abody"},
		{"non-ASCII", "résultat-ünï-名前", "résultat-ünï-名前"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := Multipart{{Name: tc.sent, Value: "field value"}, {Name: tc.sent, File: true, Value: "file content"}, {Name: "after", Value: "last"}}
			resp, err := c.Do(context.Background(), &Request{Method: http.MethodPost, URL: srv.URL, Body: body})
			if err != nil {
				t.Fatal(err)
			}
			drain(resp)
			want := []receivedPart{
				{Name: tc.received, Value: "field value", Headers: []string{"Content-Disposition"}},
				{Name: tc.received, Filename: tc.received, Value: "file content", Headers: []string{"Content-Disposition", "Content-Type"}},
				{Name: "after", Value: "last", Headers: []string{"Content-Disposition"}},
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStreamingUpload sends a 1 GiB file (sparse: it costs no disk) as a signal's file part
// and checks that the region received all of it with an exact Content-Length, and that the
// process allocated a small fraction of it: the file was streamed, never read whole.
func TestStreamingUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 GiB over loopback")
	}
	const size = 1 << 30
	big := sparseFile(t, size)
	type received struct {
		contentLength, fileBytes, trailing int64
		names                              []string
		err                                error
	}
	var mu sync.Mutex
	var got received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec := received{contentLength: r.ContentLength}
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			n, _ := io.Copy(io.Discard, p)
			rec.names = append(rec.names, p.FormName())
			if p.FormName() == "big.out" {
				rec.fileBytes = n
			}
		}
		// The server reads exactly Content-Length bytes: a shorter body fails the read, and
		// the last boundary must end it.
		rec.trailing, rec.err = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = rec
		mu.Unlock()
		io.WriteString(w, "OK")
	}))
	defer srv.Close()
	c := NewMetadata(srv.URL+"/", wire.Credentials{ConsumerKey: "CK", TokenKey: "TK", TokenSecret: "TS"}, NewHTTPClient(Options{Idle: time.Minute}))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := c.Signal(context.Background(), append(signalBody("status", "OK"), Part{Name: "big.out", File: true, Path: big}), "run-1-1")
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.fileBytes != size || got.trailing != 0 || got.err != nil || got.contentLength <= size {
		t.Errorf("received %+v; want the %d-byte file within a body of exactly its Content-Length", got, size)
	}
	if diff := cmp.Diff([]string{"op", "status", "big.out"}, got.names); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	// Client and server share the process: both count.
	const limit = 64 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit {
		t.Errorf("uploading 1 GiB allocated %d MiB; want under %d MiB", alloc>>20, limit>>20)
	} else {
		t.Logf("uploading 1 GiB allocated %d KiB", alloc>>10)
	}
}

// TestForm checks the urlencoded body the tests' client sends.
func TestForm(t *testing.T) {
	r, n, ct, err := Form{"b": {"x y"}, "a": {"1", "&"}}.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	if string(b) != "a=1&a=%26&b=x+y" || n != int64(len(b)) || ct != "application/x-www-form-urlencoded" {
		t.Errorf("form %q, %d bytes, %s", b, n, ct)
	}
}
