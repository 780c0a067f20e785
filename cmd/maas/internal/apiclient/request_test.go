package apiclient

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"maasgo/wire"
)

type part struct {
	Name, Filename, Value string
}

func readParts(t *testing.T, contentType string, body []byte) []part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("content type %q: %v", contentType, err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out []part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		out = append(out, part{p.FormName(), p.FileName(), string(b)})
	}
}

func TestNewRequest(t *testing.T) {
	const ep = "http://h:5240/MAAS/api/2.0/machines/"
	for _, tc := range []struct {
		name    string
		method  string
		op      string
		fields  []Field
		url     string
		parts   []part
		hasBody bool
	}{
		{"get no params", "GET", "", nil, ep, nil, false},
		{"get op and params in order", "GET", "get_config", []Field{{Name: "name", Value: []byte("node_timeout")}, {Name: "b", Value: []byte("x y&z")}, {Name: "a", Value: []byte("1")}},
			ep + "?op=get_config&name=node_timeout&b=x+y%26z&a=1", nil, false},
		{"get file goes in the query", "GET", "", []Field{{Name: "f", Value: []byte("line\n"), File: true}}, ep + "?f=line%0A", nil, false},
		{"delete params in query", "DELETE", "", []Field{{Name: "force", Value: []byte("true")}}, ep + "?force=true", nil, false},
		{"post no params has no body", "POST", "allocate", nil, ep + "?op=allocate", nil, false},
		{"put no params has no body", "PUT", "", nil, ep, nil, false},
		{"post multipart", "POST", "", []Field{
			{Name: "hostname", Value: []byte("mymachine")},
			{Name: "mac_addresses", Value: []byte("00:16:3e:df:35:bb")},
			{Name: "mac_addresses", Value: []byte("00:16:3e:df:35:bc")},
			{Name: "script", Value: []byte("#!/bin/sh\n\x00\xff"), File: true},
		}, ep, []part{{"hostname", "", "mymachine"}, {"mac_addresses", "", "00:16:3e:df:35:bb"}, {"mac_addresses", "", "00:16:3e:df:35:bc"}, {"script", "script", "#!/bin/sh\n\x00\xff"}}, true},
		{"post op stays in the query", "POST", "deploy", []Field{{Name: "install_kvm", Value: []byte("True")}}, ep + "?op=deploy", []part{{"install_kvm", "", "True"}}, true},
		{"odd field name", "PUT", "", []Field{{Name: `a"b`, Value: []byte("v")}}, ep, []part{{`a"b`, "", "v"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRequest(tc.method, ep, tc.op, tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			if r.URL != tc.url {
				t.Errorf("URL = %s; want %s", r.URL, tc.url)
			}
			if (r.Body != nil) != tc.hasBody || (r.ContentType != "") != tc.hasBody {
				t.Fatalf("body %q, content type %q; want a body: %v", r.Body, r.ContentType, tc.hasBody)
			}
			if tc.hasBody {
				if diff := cmp.Diff(tc.parts, readParts(t, r.ContentType, r.Body)); diff != "" {
					t.Errorf("parts (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestAPIURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://10.0.0.2:5240/MAAS", "http://10.0.0.2:5240/MAAS/api/2.0/"},
		{"http://10.0.0.2:5240/MAAS/", "http://10.0.0.2:5240/MAAS/api/2.0/"},
		{"http://10.0.0.2:5240/MAAS/api/2.0", "http://10.0.0.2:5240/MAAS/api/2.0/"},
		{"https://maas.example/MAAS/api/2.0/", "https://maas.example/MAAS/api/2.0/"},
		{"http://h", "http://h/api/2.0/"},
		{" http://h/MAAS?x=1#f ", "http://h/MAAS/api/2.0/"},
		{"ftp://h/MAAS", ""},
		{"h:5240/MAAS", ""},
		{"/MAAS", ""},
		{"http://", ""},
	} {
		got, err := APIURL(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("APIURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct{ base, path, want string }{
		{"http://h:5240/MAAS/api/2.0/", "/MAAS/api/2.0/machines/abc/", "http://h:5240/MAAS/api/2.0/machines/abc/"},
		{"https://u@h/x/MAAS/api/2.0/", "/MAAS/api/2.0/scripts/a%20b%2Fc", "https://u@h/MAAS/api/2.0/scripts/a%20b%2Fc"},
		{"http://h/", "http://evil/x", ""},
		{"http://h/", "relative/", ""},
	} {
		got, err := Endpoint(tc.base, tc.path)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("Endpoint(%q, %q) = %q, %v; want %q", tc.base, tc.path, got, err, tc.want)
		}
	}
	if got, _ := Relative("http://h/MAAS/api/2.0/", "describe/"); got != "http://h/MAAS/api/2.0/describe/" {
		t.Errorf("Relative = %s", got)
	}
}

// TestSkewRetry: a 401 carrying a Date far from the local clock is retried once, signed with
// the corrected timestamp; a second 401 is returned as is.
func TestSkewRetry(t *testing.T) {
	regionNow := time.Now().Add(2 * time.Hour)
	var mu sync.Mutex
	var stamps []string
	var bodies []string
	alwaysReject := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, err := wire.ParseAuthorizationHeader(r.Header.Get("Authorization"))
		if err != nil {
			t.Errorf("unsigned request: %v", err)
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		stamps = append(stamps, params["oauth_timestamp"])
		bodies = append(bodies, string(b))
		reject := alwaysReject
		mu.Unlock()
		p, _ := wire.OAuthFromValues(params)
		if reject || p == nil || p.Timestamp < regionNow.Unix()-300 {
			w.Header().Set("Date", regionNow.UTC().Format(http.TimeFormat))
			http.Error(w, "Expired timestamp", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	defer srv.Close()
	local := time.Now() // a frozen clock keeps the learnt skew stable between calls
	c := &Client{Signer: &wire.Signer{Creds: wire.Credentials{ConsumerKey: "c", TokenKey: "t", TokenSecret: "s"},
		Now: func() time.Time { return local }}}
	r, err := NewRequest("POST", srv.URL+"/MAAS/api/2.0/machines/", "allocate", []Field{{Name: "a", Value: []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(stamps) != 2 {
		t.Fatalf("status %d after %d attempts; want 200 after 2", resp.StatusCode, len(stamps))
	}
	if !strings.Contains(bodies[1], "\r\n\r\nb\r\n") || bodies[0] != bodies[1] {
		t.Errorf("the retry did not resend the body: %q", bodies)
	}
	// The skew is learnt: no retry needed now, and a persistent 401 is not retried forever.
	stamps = nil
	resp, _ = c.Do(context.Background(), r)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(stamps) != 1 {
		t.Errorf("second call: status %d after %d attempts; want 200 after 1", resp.StatusCode, len(stamps))
	}
	mu.Lock()
	alwaysReject, stamps = true, nil
	mu.Unlock()
	resp, _ = c.Do(context.Background(), r)
	resp.Body.Close()
	if resp.StatusCode != 401 || len(stamps) != 1 {
		t.Errorf("rejected key: status %d after %d attempts; want 401 after 1 (skew unchanged)", resp.StatusCode, len(stamps))
	}
}
