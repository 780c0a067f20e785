package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"maasgo/region/store"
)

// TestEventsPaging pages through one machine's events as upstream's clients do: the newest
// first, prev_uri to older ones, next_uri to newer ones, after= listing the oldest events
// newer than an id (newest first), DEBUG events only when asked for.
func TestEventsPaging(t *testing.T) {
	w := newAccessWorld(t)
	vals, creds := w.target(t, 1, asAdmin)
	sid := vals["system_id"]
	var ids []int64
	err := w.st.Update(context.Background(), func(tx *store.Tx) error {
		m, err := tx.MachineBySystemID(sid)
		if err != nil {
			return err
		}
		for i := range 7 {
			level := "INFO"
			if i == 3 {
				level = "DEBUG"
			}
			e := &store.Event{NodeID: m.ID, Type: "Paging", Level: level, Description: fmt.Sprintf("event %d", i)}
			if err := tx.AddEvent(e); err != nil {
				return err
			}
			if level != "DEBUG" {
				ids = append(ids, e.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	type page struct {
		Count  int `json:"count"`
		Events []struct {
			ID          int64  `json:"id"`
			Description string `json:"description"`
		} `json:"events"`
		Next *string `json:"next_uri"`
		Prev *string `json:"prev_uri"`
	}
	get := func(uri string) page {
		t.Helper()
		req, _ := http.NewRequest("GET", strings.Replace(uri, "/MAAS/api/2.0", w.srv.URL+"/MAAS/api/2.0", 1), nil)
		req.Header.Set("Authorization", creds.AuthorizationHeader(time.Now()))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", uri, resp.StatusCode, body)
		}
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("GET %s: %v", uri, err)
		}
		return p
	}
	descs := func(p page) string {
		var out []string
		for _, e := range p.Events {
			if strings.HasPrefix(e.Description, "event ") {
				out = append(out, strings.TrimPrefix(e.Description, "event "))
			}
		}
		return strings.Join(out, ",")
	}
	base := "/MAAS/api/2.0/events/?" + url.Values{"op": {"query"}, "id": {sid}, "limit": {"2"}}.Encode()
	p := get(base)
	if descs(p) != "6,5" || p.Prev == nil || p.Next == nil {
		t.Fatalf("first page %q (prev %v, next %v); want 6,5 with both links", descs(p), p.Prev, p.Next)
	}
	if !strings.Contains(*p.Prev, "before=") || !strings.Contains(*p.Prev, "id="+sid) || !strings.Contains(*p.Prev, "limit=2") {
		t.Errorf("prev_uri %s: want before= and the filters kept", *p.Prev)
	}
	older := get(*p.Prev)
	if descs(older) != "4,2" { // 3 is DEBUG: INFO and up by default
		t.Errorf("older page %q; want 4,2", descs(older))
	}
	if newer := get(*older.Next); descs(newer) != "6,5" {
		t.Errorf("the page after the older one %q; want 6,5", descs(newer))
	}
	after := get(base + fmt.Sprintf("&after=%d", ids[0]))
	if descs(after) != "2,1" {
		t.Errorf("after the first event %q; want the oldest two newer ones, newest first: 2,1", descs(after))
	}
	debugURI := "/MAAS/api/2.0/events/?" + url.Values{"op": {"query"}, "id": {sid}, "limit": {"4"}, "level": {"DEBUG"}}.Encode()
	if debug := get(debugURI); descs(debug) != "6,5,4,3" {
		t.Errorf("level=DEBUG %q; want 6,5,4,3", descs(debug))
	}
	if first := get(base + fmt.Sprintf("&before=%d", ids[0])); descs(first) != "" || first.Next == nil || !strings.Contains(*first.Next, "after=") {
		t.Errorf("before the first event: %+v; want none of the test's, and a next page", first)
	}
}
