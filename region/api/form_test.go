package api

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func newReq(method, target, ct, body string) *http.Request {
	r, _ := http.NewRequest(method, target, strings.NewReader(body))
	if body == "" {
		r.Body = http.NoBody
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	return r
}

func TestParseParams(t *testing.T) {
	raw := "--B\r\nContent-Disposition: form-data; name=\"op\"\r\n\r\nsignal\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"x.out\"; filename=\"x.out\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00bin\r\n--B--\r\n"
	b64 := "--===1==\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: form-data; name=\"hostname\"\r\n\r\naG9zdA==\n\r\n" +
		"--===1==\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: form-data; name=\"script\"; filename=\"script\"\r\n\r\nIyEvYmluL3NoCg==\n\r\n--===1==--\r\n"
	for _, tc := range []struct {
		name, method, target, ct, body string
		want                           map[string]string
		files                          map[string]string
		err                            string
	}{
		{name: "query", method: "GET", target: "/x?op=read&a=1", want: map[string]string{"op": "read", "a": "1"}},
		{name: "urlencoded", method: "POST", target: "/x?op=create", ct: "application/x-www-form-urlencoded", body: "a=1&b=two+words",
			want: map[string]string{"op": "create", "a": "1", "b": "two words"}},
		{name: "no content type", method: "POST", target: "/x", body: "a=1", want: map[string]string{"a": "1"}},
		{name: "agent multipart (raw, unquoted boundary)", method: "POST", target: "/x", ct: "multipart/form-data; boundary=B", body: raw,
			want: map[string]string{"op": "signal"}, files: map[string]string{"x.out": "\x00bin"}},
		{name: "CLI multipart (base64, quoted boundary)", method: "POST", target: "/x", ct: `multipart/form-data; boundary="===1=="`, body: b64,
			want: map[string]string{"hostname": "host"}, files: map[string]string{"script": "#!/bin/sh\n"}},
		{name: "json", method: "POST", target: "/x", ct: "application/json", body: "{}", err: "unsupported Content-Type"},
		{name: "no boundary", method: "POST", target: "/x", ct: "multipart/form-data", body: raw, err: "without a boundary"},
		{name: "bad query", method: "GET", target: "/x?a=%zz", err: "malformed query"},
		{name: "too large", method: "POST", target: "/x", ct: "application/x-www-form-urlencoded", body: "a=" + strings.Repeat("x", 100), err: "larger than the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := int64(1024)
			if tc.name == "too large" {
				limit = 64
			}
			p, err := parseParams(newReq(tc.method, tc.target, tc.ct, tc.body), limit, false)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got := p.Get(k); got != v {
					t.Errorf("%s = %q; want %q", k, got, v)
				}
			}
			for k, v := range tc.files {
				if got, ok := p.Files[k]; !ok || string(got) != v {
					t.Errorf("file %s = %q; want %q", k, got, v)
				}
			}
		})
	}
}

func TestParamsHelpers(t *testing.T) {
	p, _ := parseParams(newReq("GET", "/x?l=a,b&l=c&t=TRUE&f=no&bad=maybe&n=12&nn=x&s=inline", "", ""), 1024, false)
	if got := p.List("l"); strings.Join(got, "|") != "a|b|c" {
		t.Errorf("List = %v", got)
	}
	if v, err := p.Bool("t", false); !v || err != nil {
		t.Errorf("Bool(t) = %v, %v", v, err)
	}
	if v, err := p.Bool("f", true); v || err != nil {
		t.Errorf("Bool(f) = %v, %v", v, err)
	}
	if v, _ := p.Bool("absent", true); !v {
		t.Error("Bool default not used")
	}
	var ve validationError
	if _, err := p.Bool("bad", false); !errors.As(err, &ve) || ve["bad"] == nil {
		t.Errorf("Bool(bad) = %v; want a field error", err)
	}
	if n, err := p.Int("n", 0); n != 12 || err != nil {
		t.Errorf("Int = %d, %v", n, err)
	}
	if _, err := p.Int("nn", 0); !errors.As(err, &ve) {
		t.Errorf("Int(nn) = %v; want a field error", err)
	}
	if b, ok := p.File("s"); !ok || string(b) != "inline" {
		t.Errorf("File from a field = %q, %v", b, ok)
	}
}

func FuzzParseParams(f *testing.F) {
	f.Add("multipart/form-data; boundary=B", []byte("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n"))
	f.Add(`multipart/form-data; boundary="===1=="`, []byte("--===1==\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a\"\r\n\r\nMQ==\r\n--===1==--\r\n"))
	f.Add("application/x-www-form-urlencoded", []byte("a=1&b=%20"))
	f.Add("", []byte("a"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r, _ := http.NewRequest("POST", "/x", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		p, err := parseParams(r, 1<<16, false)
		if err != nil {
			return
		}
		if p.Values == nil || p.Files == nil {
			t.Fatal("nil maps on success")
		}
	})
}

// TestReadAtMost reads bodies around the size of its pooled first chunk, at and past their
// limits: what it gives back is exactly what was sent, and one byte over the limit fails
// naming what was read.
func TestReadAtMost(t *testing.T) {
	for _, tc := range []struct {
		size  int
		limit int64
	}{
		{0, 0}, {0, 10}, {10, 10}, {11, 10}, {32<<10 - 1, 1 << 20}, {32 << 10, 1 << 20}, {32<<10 + 1, 1 << 20},
		{32 << 10, 32 << 10}, {32<<10 + 1, 32 << 10}, {100 << 10, 1 << 20}, {100 << 10, 100<<10 - 1},
	} {
		data := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
		got, err := readAtMost(bytes.NewReader(data), tc.limit, "the part")
		if int64(tc.size) > tc.limit {
			var tl *tooLargeError
			if !errors.As(err, &tl) || !strings.Contains(err.Error(), "the part") {
				t.Errorf("%d bytes, limit %d: %v; want too large, naming the part", tc.size, tc.limit, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, data) || got == nil || cap(got) != len(data) {
			t.Errorf("%d bytes, limit %d: %d bytes (cap %d), %v", tc.size, tc.limit, len(got), cap(got), err)
		}
	}
}
