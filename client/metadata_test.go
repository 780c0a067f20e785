package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"maasgo/wire"
)

// signalBody is the body of a signal with these fields and no files.
func signalBody(fields ...string) Multipart {
	m := Multipart{{Name: "op", Value: "signal"}}
	for i := 0; i+1 < len(fields); i += 2 {
		m = append(m, Part{Name: fields[i], Value: fields[i+1]})
	}
	return m
}

// TestSignalRequest checks the request a signal makes, and that a 401 with a Date teaches the
// signer the skew without a retry (the runner retries signals itself).
func TestSignalRequest(t *testing.T) {
	var mu sync.Mutex
	var reqs []*http.Request
	var bodies []string
	skew := time.Hour
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, r)
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		raw, _ := wire.ParseAuthorizationHeader(r.Header.Get("Authorization"))
		p, err := wire.OAuthFromValues(raw)
		if err != nil || time.Now().Add(skew).Unix()-p.Timestamp > 300 {
			http.Error(w, "expired", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "OK")
	}))
	defer srv.Close()
	c := NewMetadata(srv.URL+"/MAAS/metadata/2012-03-01/", wire.Credentials{ConsumerKey: "CK", TokenKey: "TK", TokenSecret: "TS"}, nil)
	sig := signalBody("status", "OK", "error", "All scripts successfully ran")
	err := c.Signal(context.Background(), sig, "run-1")
	var he *Error
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized || len(reqs) != 1 {
		t.Fatalf("first attempt: %v after %d requests; want a 401 after 1", err, len(reqs))
	}
	if err := c.Signal(context.Background(), sig, "run-1"); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if c.Signer.Skew() < 59*time.Minute {
		t.Errorf("skew %s", c.Signer.Skew())
	}
	r := reqs[1]
	if r.Method != http.MethodPost || r.URL.Path != "/MAAS/metadata/2012-03-01/" || r.URL.RawQuery != "" {
		t.Errorf("request %s %s", r.Method, r.URL)
	}
	if r.Header.Get("Idempotency-Key") != "run-1" || r.Header.Get("Accept-Encoding") != "identity" ||
		r.Header.Get("User-Agent") != "maas-run-scripts" ||
		!strings.HasPrefix(r.Header.Get("Authorization"), `OAuth oauth_nonce="`) || r.ContentLength != int64(len(bodies[1])) {
		t.Errorf("headers %v, length %d", r.Header, r.ContentLength)
	}
	if !strings.Contains(bodies[1], "name=\"error\"\r\n\r\nAll scripts successfully ran\r\n") {
		t.Errorf("body %q", bodies[1])
	}
	// Heartbeats carry no key.
	c.Signal(context.Background(), signalBody("status", "WORKING"), "")
	if k, ok := reqs[2].Header["Idempotency-Key"]; ok {
		t.Errorf("heartbeat key %q", k)
	}
}

func TestScriptsDownload(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/MAAS/metadata/2012-03-01/maas-scripts" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		if status == http.StatusOK {
			io.WriteString(w, "tar")
		}
	}))
	defer srv.Close()
	c := NewMetadata(srv.URL+"/MAAS/metadata/2012-03-01/", wire.Credentials{}, nil)
	body, ok, err := c.Scripts(context.Background())
	if err != nil || !ok {
		t.Fatalf("%v %v", ok, err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "tar" {
		t.Errorf("body %q", b)
	}
	status = http.StatusNoContent
	if _, ok, err := c.Scripts(context.Background()); ok || err != nil {
		t.Errorf("204: %v %v", ok, err)
	}
	status = http.StatusForbidden
	var e *Error
	if _, _, err := c.Scripts(context.Background()); !errors.As(err, &e) || e.StatusCode != 403 || !strings.Contains(err.Error(), "403") {
		t.Errorf("403: %v", err)
	}
}

// withDeadline runs f with a context that ends after d, and fails the test when f was still
// waiting then: the old client hung for ever on a stalled region.
func withDeadline(t *testing.T, d time.Duration, f func(ctx context.Context)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	f(ctx)
	if ctx.Err() != nil {
		t.Fatalf("still waiting after %s: a stalled connection holds the client", d)
	}
}

// stallingServer serves handler; the handler's stalls end when the client goes away or the
// test ends.
func stallingServer(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, stall func())) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler(w, r, func() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
	}))
	t.Cleanup(func() { close(release); srv.CloseClientConnections(); srv.Close() })
	return srv
}

// TestIdleTimeout checks that every way a region can stall (in the middle of a body, before
// the answer, while an upload is sent) fails the request within the idle timeout, with an
// error that says so, and that a slow but steady body is not cut (the timeout is an idle
// one, not a limit on the transfer).
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	newClient := func(srv *httptest.Server) *Metadata {
		return NewMetadata(srv.URL+"/", wire.Credentials{}, NewHTTPClient(Options{Idle: idle}))
	}
	checkIdle := func(t *testing.T, err error, start time.Time) {
		t.Helper()
		var ie *IdleError
		if !errors.As(err, &ie) || ie.Idle != idle || !strings.Contains(err.Error(), "stalled, nothing for 300ms") {
			t.Errorf("err %v; want an IdleError of %s", err, idle)
		}
		if d := time.Since(start); d > idle+2*time.Second {
			t.Errorf("the stall was noticed after %s; idle timeout %s", d, idle)
		}
	}
	t.Run("body", func(t *testing.T) {
		srv := stallingServer(t, func(w http.ResponseWriter, r *http.Request, stall func()) {
			w.Header().Set("Content-Length", "1000")
			w.Write(make([]byte, 400))
			w.(http.Flusher).Flush()
			stall()
		})
		c := newClient(srv)
		withDeadline(t, 10*time.Second, func(ctx context.Context) {
			body, ok, err := c.Scripts(ctx)
			if err != nil || !ok {
				t.Errorf("scripts: %v %v", ok, err)
				return
			}
			defer body.Close()
			start := time.Now()
			n, err := io.Copy(io.Discard, body)
			if n != 400 {
				t.Errorf("read %d bytes before the stall; want 400", n)
			}
			checkIdle(t, err, start)
		})
	})
	t.Run("answer", func(t *testing.T) {
		srv := stallingServer(t, func(w http.ResponseWriter, r *http.Request, stall func()) {
			io.Copy(io.Discard, r.Body)
			stall()
		})
		c := newClient(srv)
		withDeadline(t, 10*time.Second, func(ctx context.Context) {
			start := time.Now()
			checkIdle(t, c.Signal(ctx, signalBody("status", wire.SignalWorking), ""), start)
		})
	})
	t.Run("upload", func(t *testing.T) {
		// The region never reads the body: once the socket buffers are full, the upload
		// stops moving.
		srv := stallingServer(t, func(w http.ResponseWriter, r *http.Request, stall func()) { stall() })
		big := sparseFile(t, 256<<20) // larger than any socket buffer
		c := newClient(srv)
		withDeadline(t, 20*time.Second, func(ctx context.Context) {
			start := time.Now()
			err := c.Signal(ctx, append(signalBody("status", wire.SignalWorking), Part{Name: "x", File: true, Path: big}), "")
			var ie *IdleError
			if !errors.As(err, &ie) {
				t.Errorf("err %v; want an IdleError", err)
			}
			t.Logf("stalled upload failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
		})
	})
	t.Run("slow but steady", func(t *testing.T) {
		srv := stallingServer(t, func(w http.ResponseWriter, r *http.Request, _ func()) {
			w.Header().Set("Content-Length", "12")
			for i := 0; i < 12; i++ {
				w.Write([]byte{'x'})
				w.(http.Flusher).Flush()
				time.Sleep(idle / 3)
			}
		})
		c := newClient(srv)
		withDeadline(t, 20*time.Second, func(ctx context.Context) {
			start := time.Now()
			body, _, err := c.Scripts(ctx)
			if err != nil {
				t.Errorf("scripts: %v", err)
				return
			}
			defer body.Close()
			b, err := io.ReadAll(body)
			if err != nil || len(b) != 12 {
				t.Errorf("a body that kept coming for %s was cut: %d bytes, %v", time.Since(start), len(b), err)
			}
			if time.Since(start) < 3*idle {
				t.Errorf("the body took %s; the test wants it longer than the idle timeout", time.Since(start))
			}
		})
	})
}

// sparseFile is a file of size zero bytes that costs no disk.
func sparseFile(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}
