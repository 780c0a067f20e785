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

// queryEvents answers events query: the newest events, of some machines, at a level and up.
func queryEvents(req *request) (any, error) {
	p := req.params
	limit, err := p.Int("limit", 100)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > 1000 {
		return nil, fieldError("limit", "Must be between 1 and 1000.")
	}
	after, err := p.Int("after", 0)
	if err != nil {
		return nil, err
	}
	level := p.Get("level")
	switch level {
	case "", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL":
	default:
		return nil, fieldError("level", fmt.Sprintf("%q is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL", level))
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
		ef := store.EventFilter{Level: level, AfterID: after, Limit: int(limit)}
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
	q := url.Values{"op": {"query"}, "limit": {strconv.FormatInt(limit, 10)}}
	var next any
	if len(out) > 0 {
		q.Set("after", strconv.FormatInt(out[0].ID, 10))
		next = apiRoot + "/events/?" + q.Encode()
	}
	return map[string]any{"count": len(out), "events": out, "next_uri": next, "prev_uri": nil}, nil
}
