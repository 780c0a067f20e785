package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"maasgo/wire"
)

var testCreds = wire.Credentials{ConsumerKey: "ck", TokenKey: "tk", TokenSecret: "t s/+"}

// TestSigning checks the headers every request carries: upstream's PLAINTEXT signature,
// which the region's verifier (wire) accepts, or none for anonymous credentials.
func TestSigning(t *testing.T) {
	for _, tc := range []struct {
		name      string
		creds     wire.Credentials
		userAgent string
	}{
		{"signed", testCreds, "maas-run-scripts"},
		{"with a consumer secret", wire.Credentials{ConsumerKey: "ck", TokenKey: "tk", TokenSecret: "ts", ConsumerSecret: "c&s"}, ""},
		{"anonymous", wire.Credentials{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
			defer srv.Close()
			c := New(tc.creds, nil)
			c.UserAgent = tc.userAgent
			resp, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL + "/MAAS/api/2.0/users/?op=whoami"})
			if err != nil {
				t.Fatal(err)
			}
			drain(resp)
			if got.Get("Accept-Encoding") != "identity" {
				t.Errorf("Accept-Encoding %q", got.Get("Accept-Encoding"))
			}
			if tc.userAgent != "" && got.Get("User-Agent") != tc.userAgent {
				t.Errorf("User-Agent %q", got.Get("User-Agent"))
			}
			h := got.Get("Authorization")
			if tc.creds.ConsumerKey == "" {
				if h != "" {
					t.Errorf("anonymous request signed: %q", h)
				}
				return
			}
			if !strings.HasPrefix(h, `OAuth oauth_nonce="`) {
				t.Errorf("Authorization %q; want upstream's order", h)
			}
			raw, err := wire.ParseAuthorizationHeader(h)
			if err != nil {
				t.Fatal(err)
			}
			p, err := wire.OAuthFromValues(raw)
			if err != nil {
				t.Fatal(err)
			}
			if p.SignatureMethod != "PLAINTEXT" || p.ConsumerKey != tc.creds.ConsumerKey || p.Token != tc.creds.TokenKey ||
				time.Since(time.Unix(p.Timestamp, 0)).Abs() > time.Minute {
				t.Errorf("oauth parameters %+v", p)
			}
			if err := wire.VerifySignature(p, wire.SignedRequest{}, tc.creds.ConsumerSecret, tc.creds.TokenSecret); err != nil {
				t.Errorf("the region's verifier refuses the signature: %v", err)
			}
		})
	}
}

// skewRegion answers 401 with its Date until a request's timestamp is within 300 s of its
// clock, which stands still at skew from the client's.
type skewRegion struct {
	*httptest.Server
	mu     sync.Mutex
	now    time.Time
	noDate bool
	status int // the refusal's status
	reject bool
	stamps []int64
	bodies []string
}

func newSkewRegion(t *testing.T, now time.Time) *skewRegion {
	s := &skewRegion{now: now, status: http.StatusUnauthorized}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := wire.ParseAuthorizationHeader(r.Header.Get("Authorization"))
		if err != nil {
			t.Errorf("unsigned request: %v", err)
		}
		p, _ := wire.OAuthFromValues(raw)
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.now
		if p != nil {
			s.stamps = append(s.stamps, p.Timestamp)
		}
		s.bodies = append(s.bodies, string(b))
		if s.reject || p == nil || (now.Unix()-p.Timestamp) > 300 || (p.Timestamp-now.Unix()) > 300 {
			w.Header()["Date"] = nil // none, unless:
			if !s.noDate {
				w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
			}
			http.Error(w, "Authorization Error: Expired timestamp", s.status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *skewRegion) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stamps)
}

// TestSkewRetry: a 401 whose Date moves the learnt skew is retried exactly once, signed with
// the corrected timestamp and with the same body; nothing else is retried.
func TestSkewRetry(t *testing.T) {
	for _, tc := range []struct {
		name     string
		skew     time.Duration
		reject   bool // the region refuses the key whatever the time
		noDate   bool
		status   int
		want     int // the answer's status
		attempts int
	}{
		{"fast region", 2 * time.Hour, false, false, 401, 200, 2},
		{"slow region", -2 * time.Hour, false, false, 401, 200, 2},
		{"refused key with a skew: retried once only", 2 * time.Hour, true, false, 401, 401, 2},
		{"refused key, clocks agree: not retried", 0, true, false, 401, 401, 1},
		{"no Date header: not retried", 2 * time.Hour, false, true, 401, 401, 1},
		{"403 teaches the skew but is not retried", 2 * time.Hour, true, false, 403, 403, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Frozen clocks, in whole seconds as the Date header: the skew is learnt exactly.
			local := time.Now().Truncate(time.Second)
			s := newSkewRegion(t, local.Add(tc.skew))
			s.reject, s.noDate, s.status = tc.reject, tc.noDate, tc.status
			c := &Client{Signer: &wire.Signer{Creds: testCreds, Now: func() time.Time { return local }}}
			r, err := NewAPIRequest("POST", s.URL+"/MAAS/api/2.0/machines/", "allocate", []Part{{Name: "a", Value: "b"}})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			drain(resp)
			if resp.StatusCode != tc.want || s.attempts() != tc.attempts {
				t.Fatalf("status %d after %d attempts; want %d after %d", resp.StatusCode, s.attempts(), tc.want, tc.attempts)
			}
			if tc.attempts == 2 {
				if !strings.Contains(s.bodies[1], "\r\n\r\nb\r\n") || s.bodies[0] != strings.ReplaceAll(s.bodies[1], boundaryOf(s.bodies[1]), boundaryOf(s.bodies[0])) {
					t.Errorf("the retry did not resend the body: %q", s.bodies)
				}
				if d := time.Duration(s.stamps[1]-s.stamps[0]) * time.Second; d != tc.skew {
					t.Errorf("the retry moved the timestamp by %s; want %s", d, tc.skew)
				}
			}
			if tc.want != 200 {
				return
			}
			// The skew is learnt: the next call needs no retry.
			resp, err = c.Do(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			drain(resp)
			if resp.StatusCode != 200 || s.attempts() != tc.attempts+1 {
				t.Errorf("second call: status %d after %d attempts in all; want 200 after %d", resp.StatusCode, s.attempts(), tc.attempts+1)
			}
		})
	}
}

// boundaryOf is the multipart boundary a body starts with.
func boundaryOf(body string) string {
	line, _, _ := strings.Cut(body, "\r\n")
	return strings.TrimPrefix(line, "--")
}

// TestCall checks the error type: the status and body of any answer but 2xx, rendered on one
// line (a form's field errors as "field: message").
func TestCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, `{"system_id": "abc"}`)
		case "/fields":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"hostname": ["Node with this Hostname already exists."], "mac_addresses": ["MAC address 1 already in use.", "Bad."]}`)
		case "/text":
			http.Error(w, "No machine with system ID x.\nsecond line", http.StatusNotFound)
		case "/long":
			http.Error(w, strings.Repeat("x", 1000), http.StatusInternalServerError)
		case "/empty":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c := New(testCreds, nil)
	b, err := c.Call(context.Background(), &Request{Method: "GET", URL: srv.URL + "/ok"})
	if err != nil || string(b) != `{"system_id": "abc"}` {
		t.Errorf("ok: %q, %v", b, err)
	}
	for _, tc := range []struct {
		path, msg string
		status    int
	}{
		{"/fields", "region answered 400: hostname: Node with this Hostname already exists.; mac_addresses: MAC address 1 already in use. Bad.", 400},
		{"/text", "region answered 404: No machine with system ID x.", 404},
		{"/long", "region answered 500: " + strings.Repeat("x", 300) + "…", 500},
		{"/empty", "region answered 503", 503},
	} {
		_, err := c.Call(context.Background(), &Request{Method: "GET", URL: srv.URL + tc.path})
		var e *Error
		if !errors.As(err, &e) || e.StatusCode != tc.status || err.Error() != tc.msg {
			t.Errorf("%s: %v; want an *Error %d saying %q", tc.path, err, tc.status, tc.msg)
		}
	}
	if e := (&Error{StatusCode: 401, Body: "Invalid access token: TK"}); e.Error() != "region answered 401: Invalid access token: TK" {
		t.Errorf("Error() = %q", e.Error())
	}
}

// TestTransportError: a region that cannot be reached is named by method and URL, without
// the query string and without net/url's quoting.
func TestTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = New(testCreds, nil).Call(context.Background(), &Request{Method: "GET", URL: "http://" + addr + "/MAAS/api/2.0/machines/?hostname=secret"})
	want := "GET http://" + addr + "/MAAS/api/2.0/machines/: "
	var e *Error
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "connection refused") || errors.As(err, &e) {
		t.Errorf("err %v; want it to start %q", err, want)
	}
}
