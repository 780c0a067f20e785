package api

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"maasgo/client"
	"maasgo/region/config"
	"maasgo/region/library"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// enlistWorld is a region with the built-in scripts and no machine.
func enlistWorld(t *testing.T, e storetest.Engine) (*store.Store, string) {
	t.Helper()
	st, err := store.Open(context.Background(), e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Update(context.Background(), func(tx *store.Tx) error {
		_, _, err := library.RegisterBuiltins(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(st, Options{}))
	t.Cleanup(srv.Close)
	return st, srv.URL + "/MAAS"
}

// call sends r with creds (anonymous when empty) and returns the status and the body.
func call(t *testing.T, creds wire.Credentials, r *client.Request) (int, []byte) {
	t.Helper()
	resp, err := client.New(creds, http.DefaultClient).Do(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// tarIndex reads index.json from a maas-scripts tar.
func tarIndex(t *testing.T, b []byte) wire.Index {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no index.json in the tar: %v", err)
		}
		if h.Name == "index.json" {
			var idx wire.Index
			if err := json.NewDecoder(tr).Decode(&idx); err != nil {
				t.Fatal(err)
			}
			return idx
		}
	}
}

var preseedKey = regexp.MustCompile(`(?m)^    (consumer_key|token_key|token_secret): '([^']*)'$`)

// TestEnlistment plays a machine the region does not know (protocol.md §6.9): it downloads
// the enlistment scripts anonymously, enlists, reads its preseed, reports its held results
// with the preseed's token and ends New.
func TestEnlistment(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st, base := enlistWorld(t, e)
			anon := wire.Credentials{}
			meta := base + "/metadata/2012-03-01/"

			code, b := call(t, anon, &client.Request{Method: "GET", URL: meta + "maas-scripts"})
			if code != 200 {
				t.Fatalf("anonymous maas-scripts: %d %s", code, b)
			}
			idx := tarIndex(t, b)
			if len(idx.V1.Commissioning) == 0 || len(idx.V1.Testing) != 0 {
				t.Fatalf("anonymous index: %d commissioning, %d testing; want the built-ins and no tests", len(idx.V1.Commissioning), len(idx.V1.Testing))
			}
			var resources string
			for _, en := range idx.V1.Commissioning {
				if en.ScriptResultID != nil || en.HasStarted != nil || en.Default != nil || en.Tags != nil {
					t.Errorf("anonymous entry %s carries result fields: %+v", en.Name, en)
				}
				if en.ApplyConfiguredNetworking {
					t.Errorf("anonymous entry %s applies configured networking", en.Name)
				}
				if en.Name == "20-maas-03-machine-resources" {
					resources = en.Name
				}
			}
			if resources == "" {
				t.Fatal("the enlistment scripts lack 20-maas-03-machine-resources")
			}

			form := url.Values{"architecture": {"amd64/generic"}, "mac_addresses": {"52:54:00:aa:bb:01,52:54:00:aa:bb:02"}, "commission": {"True"}}
			code, b = call(t, anon, &client.Request{Method: "POST", URL: base + "/api/2.0/machines/", Body: client.Form(form)})
			if code != 200 {
				t.Fatalf("anonymous create: %d %s", code, b)
			}
			var m struct {
				SystemID string `json:"system_id"`
				Status   int    `json:"status"`
				Owner    any    `json:"owner"`
			}
			json.Unmarshal(b, &m)
			if m.SystemID == "" || wire.NodeStatus(m.Status) != wire.NodeCommissioning || m.Owner != nil {
				t.Fatalf("enlisted machine: %s; want Commissioning, no owner", b)
			}
			// The same MACs cannot enlist twice.
			code, b = call(t, anon, &client.Request{Method: "POST", URL: base + "/api/2.0/machines/", Body: client.Form(form)})
			if code != 400 || !strings.Contains(string(b), "mac_addresses") {
				t.Errorf("second enlistment with the same MACs: %d %s; want 400 naming mac_addresses", code, b)
			}

			preseedURL := base + "/metadata/latest/by-id/" + m.SystemID + "/?op=get_preseed"
			var creds wire.Credentials
			for i := 0; i < 2; i++ { // a runner that lost the answer asks again
				code, b = call(t, anon, &client.Request{Method: "GET", URL: preseedURL})
				if code != 200 || !strings.HasPrefix(string(b), "#cloud-config\n") || !strings.Contains(string(b), "metadata_url: '"+base+"/metadata/'") {
					t.Fatalf("get_preseed #%d: %d %s", i+1, code, b)
				}
			}
			for _, sm := range preseedKey.FindAllStringSubmatch(string(b), 3) {
				switch sm[1] {
				case "consumer_key":
					creds.ConsumerKey = sm[2]
				case "token_key":
					creds.TokenKey = sm[2]
				case "token_secret":
					creds.TokenSecret = sm[2]
				}
			}
			if creds.ConsumerKey == "" || creds.TokenKey == "" || creds.TokenSecret == "" {
				t.Fatalf("preseed without a token: %s", b)
			}

			// The held result, matched by name, then OK.
			parts := client.Multipart{{Name: "op", Value: "signal"}, {Name: "status", Value: "WORKING"}, {Name: "name", Value: resources},
				{Name: "exit_status", Value: "0"}, {Name: resources, Value: "{}", File: true}}
			if code, b = call(t, creds, &client.Request{Method: "POST", URL: meta, Body: parts}); code != 200 {
				t.Fatalf("held result: %d %s", code, b)
			}
			// Once the machine reported with its token, its preseed is no longer given out.
			if code, b = call(t, anon, &client.Request{Method: "GET", URL: preseedURL}); code != 404 {
				t.Errorf("get_preseed after the machine reported: %d %s; want 404", code, b)
			}
			ok := client.Multipart{{Name: "op", Value: "signal"}, {Name: "status", Value: "OK"}}
			if code, b = call(t, creds, &client.Request{Method: "POST", URL: meta, Body: ok}); code != 200 {
				t.Fatalf("OK: %d %s", code, b)
			}
			st.View(context.Background(), func(tx *store.Tx) error {
				got, err := tx.MachineBySystemID(m.SystemID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != wire.NodeNew || got.OwnerID != nil {
					t.Errorf("after OK: %s, owner %v; want New, unowned", got.Status.Label(), got.OwnerID)
				}
				rs, _ := tx.ScriptResults([]int64{*got.CurrentCommissioningSet}, false)
				found := false
				for _, r := range rs {
					found = found || (r.ScriptName == resources && r.Status == wire.ScriptPassed)
				}
				if !found {
					t.Errorf("the held %s result was not stored as passed: %+v", resources, rs)
				}
				return nil
			})
		})
	}
}

// TestEnlistmentRefused holds what anonymous callers may not do: enlist while the setting is
// off, give a deployed machine, leave out the MACs, or get the preseed of a machine that did
// not enlist itself.
func TestEnlistmentRefused(t *testing.T) {
	st, base := enlistWorld(t, storetest.SQLite(t))
	anon := wire.Credentials{}
	create := func(form url.Values) (int, string) {
		code, b := call(t, anon, &client.Request{Method: "POST", URL: base + "/api/2.0/machines/", Body: client.Form(form)})
		return code, string(b)
	}
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"no MACs", url.Values{"architecture": {"amd64"}}, "mac_addresses"},
		{"no architecture", url.Values{"mac_addresses": {"52:54:00:00:00:01"}}, "architecture"},
		{"deployed", url.Values{"architecture": {"amd64"}, "mac_addresses": {"52:54:00:00:00:02"}, "deployed": {"true"}}, "deployed"},
		{"commission off", url.Values{"architecture": {"amd64"}, "mac_addresses": {"52:54:00:00:00:03"}, "commission": {"false"}}, "commission"},
	} {
		if code, body := create(tc.form); code != 400 || !strings.Contains(body, tc.field) {
			t.Errorf("%s: %d %s; want 400 naming %s", tc.name, code, body, tc.field)
		}
	}

	// A machine an administrator added is never given out by get_preseed.
	var sysID string
	st.Update(context.Background(), func(tx *store.Tx) error {
		admin := &store.User{Username: "admin", IsAdmin: true}
		if err := tx.CreateUser(admin); err != nil {
			return err
		}
		m, err := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Architecture: "amd64", MACs: []string{"52:54:00:00:00:0a"}}, admin)
		if err != nil {
			return err
		}
		sysID = m.SystemID
		return nil
	})
	code, b := call(t, anon, &client.Request{Method: "GET", URL: base + "/metadata/latest/by-id/" + sysID + "/?op=get_preseed"})
	if code != 404 || strings.Contains(string(b), "token") {
		t.Errorf("get_preseed of a machine that did not enlist: %d %s; want 404", code, b)
	}

	// The enlistment datasource an unknown machine's cloud-init reads.
	for _, tc := range []struct{ path, want string }{
		{"/metadata/latest/enlist-preseed/?op=get_enlist_preseed", "metadata_url: '" + strings.TrimSuffix(base, "/MAAS") + "/MAAS/metadata/enlist/'"},
		{"/metadata/enlist/latest/meta-data/instance-id", "i-maas-enlistment"},
		{"/metadata/enlist/latest/meta-data/local-hostname", "maas-enlisting-node"},
		{"/metadata/enlist/2012-03-01/user-data", "token_secret: ''"},
	} {
		if code, b := call(t, anon, &client.Request{Method: "GET", URL: base + tc.path}); code != 200 || !strings.Contains(string(b), tc.want) {
			t.Errorf("GET %s: %d %s; want %q", tc.path, code, b, tc.want)
		}
	}

	// With the setting off, nothing anonymous is served.
	st.Update(context.Background(), func(tx *store.Tx) error { return config.Set(tx, "enable_anonymous_enlistment", "false") })
	if code, body := create(url.Values{"architecture": {"amd64"}, "mac_addresses": {"52:54:00:00:00:09"}}); code != 403 || !strings.Contains(body, "enable_anonymous_enlistment") {
		t.Errorf("enlisting while disabled: %d %s; want 403 naming the setting", code, body)
	}
	for _, p := range []string{"/metadata/2012-03-01/maas-scripts", "/metadata/enlist/latest/user-data", "/metadata/enlist/latest/maas-scripts",
		"/metadata/latest/enlist-preseed/?op=get_enlist_preseed"} {
		if code, b := call(t, anon, &client.Request{Method: "GET", URL: base + p}); code != 401 {
			t.Errorf("anonymous %s while disabled: %d %s; want 401", p, code, b)
		}
	}
	var n int
	st.View(context.Background(), func(tx *store.Tx) error {
		ms, err := tx.Machines(store.MachineFilter{})
		n = len(ms)
		return err
	})
	if n != 1 {
		t.Errorf("%d machines after refused enlistments; want only the administrator's", n)
	}
}
