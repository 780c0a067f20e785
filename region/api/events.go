package api

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"maasgo/region/store"
)

type eventJSON struct {
	ID          int64  `json:"id"`
	Node        string `json:"node"`
	Hostname    string `json:"hostname"`
	Username    string `json:"username"`
	Level       string `json:"level"`
	Created     string `json:"created"`
	Type        string `json:"type"`
	Description string `json:"description"`
}

// eventParams are the parameters of events query that its next_uri and prev_uri carry over.
var eventParams = []string{"agent_name", "domain", "hostname", "id", "level", "limit", "mac_address", "op", "zone", "owner"}

// queryEvents answers events query as upstream: the newest events (level INFO and up unless
// level says otherwise) of the machines the caller may see, optionally of some machines or
// one owner; before=ID gives older ones, newest first; after=ID the oldest ones newer than
// ID, still listed newest first. next_uri asks for newer events, prev_uri for older ones.
func queryEvents(req *request) (any, error) {
	p := req.params
	limit, err := p.Int("limit", 100)
	if err != nil {
		return nil, err
	}
	if limit > 1000 {
		return nil, fieldError("limit", fmt.Sprintf("Requested number of events %d is greater than limit: 1000", limit))
	}
	limit = max(limit, 1)
	var after, before int64
	if p.Get("after") != "" {
		if after, err = p.Int("after", 0); err != nil {
			return nil, err
		}
	}
	if p.Get("before") != "" {
		if before, err = p.Int("before", 0); err != nil {
			return nil, err
		}
	}
	if p.Get("after") != "" && p.Get("before") != "" {
		return nil, fieldError("before", "There is undetermined behaviour when both `after` and `before` are specified.")
	}
	level := p.Get("level")
	switch level {
	case "":
		level = "INFO"
	case "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL":
	default:
		return nil, fieldError("level", fmt.Sprintf("Unrecognised log level: %s (choose from DEBUG, INFO, WARNING, ERROR, CRITICAL)", level))
	}
	out := []eventJSON{}
	err = req.s.store.View(req.ctx, func(tx *store.Tx) error {
		f := store.MachineFilter{SystemIDs: p.List("id"), Hostnames: p.List("hostname")}
		ms, err := tx.Machines(f)
		if err != nil {
			return err
		}
		// A user sees the events of the machines they may see, as upstream.
		ms = slices.DeleteFunc(ms, func(m store.Machine) bool { return !visible(req.user, &m) })
		restricted := len(f.SystemIDs) > 0 || len(f.Hostnames) > 0 || !req.user.IsAdmin
		byID := map[int64]*store.Machine{}
		ef := store.EventFilter{Level: level, AfterID: after, BeforeID: before, Limit: int(limit), Username: p.Get("owner"),
			OldestFirst: p.Get("after") != ""}
		for i := range ms {
			byID[ms[i].ID] = &ms[i]
			if restricted {
				ef.NodeIDs = append(ef.NodeIDs, ms[i].ID)
			}
		}
		if restricted && len(ef.NodeIDs) == 0 {
			return nil
		}
		evs, err := tx.Events(ef)
		if err != nil {
			return err
		}
		if ef.OldestFirst {
			slices.Reverse(evs)
		}
		for _, e := range evs {
			m := byID[e.NodeID]
			if m == nil {
				continue
			}
			out = append(out, eventJSON{ID: e.ID, Node: m.SystemID, Hostname: m.Hostname, Username: e.Username,
				Level: e.Level, Created: e.Created.UTC().Format("Mon, 02 Jan. 2006 15:04:05"), Type: e.Type, Description: e.Description})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	uri := func(set, drop string, v int64) string {
		q := url.Values{}
		for _, k := range eventParams {
			if vs, ok := p.Values[k]; ok {
				q[k] = vs
			}
		}
		q.Set("op", "query")
		q.Del(drop)
		if v > 0 {
			q.Set(set, strconv.FormatInt(v, 10))
		}
		return apiRoot + "/events/?" + q.Encode()
	}
	// Newer events: after the newest listed, or (none listed) after what before excluded.
	var next, prev any
	switch {
	case len(out) > 0:
		next = uri("after", "before", out[0].ID)
	case before > 0:
		next = uri("after", "before", before-1)
	default:
		next = uri("after", "before", 0)
	}
	// Older events: before the oldest listed, or (none listed) before what after excluded;
	// with neither, there are none and never will be.
	switch {
	case len(out) > 0:
		prev = uri("before", "after", out[len(out)-1].ID)
	case p.Get("after") != "":
		prev = uri("before", "after", after+1)
	}
	return map[string]any{"count": len(out), "events": out, "next_uri": next, "prev_uri": prev}, nil
}
