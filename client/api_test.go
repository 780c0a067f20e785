package client

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// bodyParts opens a request body and reads its parts.
func bodyParts(t *testing.T, b Body) []receivedPart {
	t.Helper()
	r, n, contentType, err := b.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	body, _ := io.ReadAll(r)
	if int64(len(body)) != n {
		t.Errorf("body of %d bytes; Open says %d", len(body), n)
	}
	return readParts(t, contentType, bytes.NewReader(body))
}

// TestNewAPIRequest: the layout upstream's CLI gives a call.
func TestNewAPIRequest(t *testing.T) {
	const ep = "http://h:5240/MAAS/api/2.0/machines/"
	for _, tc := range []struct {
		name    string
		method  string
		op      string
		parts   []Part
		url     string
		want    []receivedPart
		hasBody bool
	}{
		{"get no params", "GET", "", nil, ep, nil, false},
		{"get op and params in order", "GET", "get_config", []Part{{Name: "name", Value: "node_timeout"}, {Name: "b", Value: "x y&z"}, {Name: "a", Value: "1"}},
			ep + "?op=get_config&name=node_timeout&b=x+y%26z&a=1", nil, false},
		{"get file goes in the query", "GET", "", []Part{{Name: "f", Value: "line\n", File: true}}, ep + "?f=line%0A", nil, false},
		{"delete params in query", "DELETE", "", []Part{{Name: "force", Value: "true"}}, ep + "?force=true", nil, false},
		{"post no params has no body", "POST", "allocate", nil, ep + "?op=allocate", nil, false},
		{"put no params has no body", "PUT", "", nil, ep, nil, false},
		{"post multipart", "POST", "", []Part{
			{Name: "hostname", Value: "mymachine"},
			{Name: "mac_addresses", Value: "00:16:3e:df:35:bb"},
			{Name: "mac_addresses", Value: "00:16:3e:df:35:bc"},
			{Name: "script", Value: "#!/bin/sh\n\x00\xff", File: true},
		}, ep, []receivedPart{{"hostname", "", "mymachine", nil}, {"mac_addresses", "", "00:16:3e:df:35:bb", nil}, {"mac_addresses", "", "00:16:3e:df:35:bc", nil}, {"script", "script", "#!/bin/sh\n\x00\xff", nil}}, true},
		{"post op stays in the query", "POST", "deploy", []Part{{Name: "install_kvm", Value: "True"}}, ep + "?op=deploy", []receivedPart{{"install_kvm", "", "True", nil}}, true},
		{"odd field name", "PUT", "", []Part{{Name: `a"b`, Value: "v"}}, ep, []receivedPart{{`a"b`, "", "v", nil}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewAPIRequest(tc.method, ep, tc.op, tc.parts)
			if err != nil {
				t.Fatal(err)
			}
			if r.URL != tc.url || r.Method != tc.method {
				t.Errorf("%s %s; want %s %s", r.Method, r.URL, tc.method, tc.url)
			}
			if (r.Body != nil) != tc.hasBody {
				t.Fatalf("body %v; want a body: %v", r.Body, tc.hasBody)
			}
			if tc.hasBody {
				if diff := cmp.Diff(tc.want, bodyParts(t, r.Body), cmpopts.IgnoreFields(receivedPart{}, "Headers")); diff != "" {
					t.Errorf("parts (-want +got):\n%s", diff)
				}
			}
		})
	}
	if _, err := NewAPIRequest("GET", ep, "", []Part{{Name: "f", File: true, Path: "/etc/hostname"}}); err == nil {
		t.Errorf("a file from disk in a query string: no error")
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
