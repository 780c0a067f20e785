package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/wire"
)

// machineRow is one line of the machines list.
type machineRow struct {
	SystemID, Hostname, Status, StatusMessage, Owner, Arch string
	CPUs, CPUSpeed                                         int
	Memory                                                 int64 // MiB
	Storage                                                int64 // bytes
	Commissioning, Testing                                 string
	Busy                                                   bool
}

// visible reports whether u may see m: administrators see every machine, other users the
// unowned ones and their own (as the API's machine permissions).
func visible(u *store.User, m *store.Machine) bool {
	return u != nil && (u.IsAdmin || m.OwnerID == nil || *m.OwnerID == u.ID)
}

// statusChoices are the statuses the filter offers.
var statusChoices = []wire.NodeStatus{wire.NodeNew, wire.NodeCommissioning, wire.NodeFailedCommissioning,
	wire.NodeReady, wire.NodeAllocated, wire.NodeDeploying, wire.NodeDeployed, wire.NodeFailedDeployment,
	wire.NodeReleasing, wire.NodeDiskErasing, wire.NodeFailedDiskErasing, wire.NodeTesting,
	wire.NodeFailedTesting, wire.NodeBroken, wire.NodeRetired}

// maxQuery bounds the text filter.
const maxQuery = 200

// listMachines reads the machines the caller may see that match the status and text
// filters, with their storage and result summaries, in a few queries whatever their number.
func listMachines(tx *store.Tx, u *store.User, status, q string) ([]machineRow, error) {
	var f store.MachineFilter
	if status != "" {
		st, err := wire.ParseNodeStatus(status)
		if err != nil {
			return nil, statusErrorf(http.StatusBadRequest, "Unknown status %q.", status)
		}
		f.Statuses = []wire.NodeStatus{st}
	}
	ms, err := tx.Machines(f)
	if err != nil {
		return nil, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	kept := ms[:0]
	for i := range ms {
		m := &ms[i]
		if !visible(u, m) {
			continue
		}
		if q != "" && !matches(m, q) {
			continue
		}
		kept = append(kept, *m)
	}
	ms = kept
	ids := make([]int64, len(ms))
	var setIDs []int64
	for i := range ms {
		ids[i] = ms[i].ID
		for _, p := range []*int64{ms[i].CurrentCommissioningSet, ms[i].CurrentTestingSet} {
			if p != nil {
				setIDs = append(setIDs, *p)
			}
		}
	}
	disks, err := tx.BlockDevices(ids...)
	if err != nil {
		return nil, err
	}
	bySet := map[int64][]store.ResultTally{}
	if len(setIDs) > 0 {
		tallies, err := tx.ResultTallies(setIDs)
		if err != nil {
			return nil, err
		}
		for _, t := range tallies {
			bySet[t.SetID] = append(bySet[t.SetID], t)
		}
	}
	summary := func(set *int64) string {
		if set == nil || len(bySet[*set]) == 0 {
			return "—"
		}
		return wire.ScriptStatus(lifecycle.TallyStatus(bySet[*set])).Label()
	}
	rows := make([]machineRow, len(ms))
	for i := range ms {
		m := &ms[i]
		var size int64
		for _, d := range disks[m.ID] {
			size += d.Size
		}
		rows[i] = machineRow{SystemID: m.SystemID, Hostname: m.Hostname, Status: m.Status.Label(), StatusMessage: m.StatusMessage,
			Owner: m.Owner, Arch: m.Architecture, CPUs: m.CPUCount, CPUSpeed: m.CPUSpeed, Memory: m.Memory, Storage: size,
			Commissioning: summary(m.CurrentCommissioningSet), Testing: summary(m.CurrentTestingSet), Busy: busy(m.Status)}
	}
	return rows, nil
}

// matches reports whether the lower-case text q is in one of the machine's names.
func matches(m *store.Machine, q string) bool {
	for _, s := range []string{m.Hostname, m.SystemID, m.Owner, m.Architecture, m.Status.Label(), m.StatusMessage, m.Description} {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	for _, t := range m.Tags {
		if strings.Contains(strings.ToLower(t), q) {
			return true
		}
	}
	return false
}

// busy reports whether a machine is running scripts the page should follow live.
func busy(s wire.NodeStatus) bool {
	switch s {
	case wire.NodeCommissioning, wire.NodeTesting, wire.NodeDeploying, wire.NodeDiskErasing:
		return true
	}
	return false
}

func machinesPage(p *page) error {
	return p.showMachines(http.StatusOK, nil)
}

func (p *page) showMachines(code int, notice *actionNotice) error {
	qv := p.r.URL.Query()
	status, q := qv.Get("status"), qv.Get("q")
	if len(q) > maxQuery {
		q = q[:maxQuery]
	}
	var rows []machineRow
	err := p.h.st.View(p.ctx, func(tx *store.Tx) (err error) {
		rows, err = listMachines(tx, p.user, status, q)
		return err
	})
	if err != nil {
		return err
	}
	type choice struct {
		Value, Label string
		Selected     bool
	}
	choices := make([]choice, len(statusChoices))
	for i, s := range statusChoices {
		v := strings.ToLower(s.String())
		choices[i] = choice{Value: v, Label: s.Label(), Selected: strings.EqualFold(status, v) || strings.EqualFold(status, s.Label())}
	}
	p.render(code, "machines", map[string]any{"Title": "Machines", "Machines": rows, "Statuses": choices,
		"Status": status, "Q": q, "Notice": notice, "Actions": bulkActions})
	return nil
}

// bulkAction is an action an administrator may take on several machines at once: the
// life-cycle operation the API's op of the same name runs.
type bulkAction struct {
	Name, Label string
	run         func(tx *store.Tx, m *store.Machine, by *store.User) error
}

var bulkActions = []bulkAction{
	{"commission", "Commission", func(tx *store.Tx, m *store.Machine, by *store.User) error {
		return lifecycle.StartCommissioning(tx, m, lifecycle.CommissionOptions{Params: lifecycle.ParamInputs{}}, by)
	}},
	{"test", "Test", func(tx *store.Tx, m *store.Machine, by *store.User) error {
		return lifecycle.StartTesting(tx, m, nil, lifecycle.ParamInputs{}, false, by)
	}},
	{"abort", "Abort", func(tx *store.Tx, m *store.Machine, by *store.User) error {
		return lifecycle.Abort(tx, m, by, "from the web interface")
	}},
	{"release", "Release", func(tx *store.Tx, m *store.Machine, by *store.User) error {
		return lifecycle.ReleaseWith(tx, m, by, lifecycle.ReleaseOptions{Comment: "from the web interface"})
	}},
}

// actionNotice reports what a bulk action did.
type actionNotice struct {
	Action  string
	Done    []string
	Refused []string // "host: why"
}

// maxBulk bounds the machines one bulk action names.
const maxBulk = 1000

// machinesAction runs a bulk action on the chosen machines, each in its own transaction so
// that one refusal leaves the others done, and shows the list with what happened.
func machinesAction(p *page) error {
	name := p.r.PostFormValue("action")
	var act *bulkAction
	for i := range bulkActions {
		if bulkActions[i].Name == name {
			act = &bulkActions[i]
		}
	}
	if act == nil {
		return statusErrorf(http.StatusBadRequest, "Unknown action %q.", name)
	}
	ids := p.r.PostForm["system_id"]
	if len(ids) == 0 {
		return statusErrorf(http.StatusBadRequest, "Choose at least one machine.")
	}
	if len(ids) > maxBulk {
		return statusErrorf(http.StatusBadRequest, "At most %d machines at once.", maxBulk)
	}
	notice := &actionNotice{Action: act.Label}
	for _, id := range ids {
		var host string
		err := p.h.st.Update(p.ctx, func(tx *store.Tx) error {
			m, err := tx.MachineBySystemID(id)
			if err != nil {
				return err
			}
			host = m.Hostname
			if m.Locked {
				return lifecycle.StateErrorf("%s is locked.", m.Hostname)
			}
			return act.run(tx, m, p.user)
		})
		var se *lifecycle.StateError
		var fe wire.FieldErrors
		switch {
		case err == nil:
			notice.Done = append(notice.Done, host)
		case errors.Is(err, store.ErrNotFound):
			notice.Refused = append(notice.Refused, fmt.Sprintf("%s: no such machine", id))
		case errors.As(err, &se):
			notice.Refused = append(notice.Refused, se.Msg)
		case errors.As(err, &fe):
			notice.Refused = append(notice.Refused, fmt.Sprintf("%s: %v", host, fe))
		default:
			return err
		}
	}
	next := p.r.PostFormValue("next")
	if strings.HasPrefix(next, "/MAAS/r/machines/") && len(ids) == 1 && len(notice.Refused) == 0 {
		http.Redirect(p.w, p.r, safeNext(next), http.StatusSeeOther)
		return nil
	}
	return p.showMachines(http.StatusOK, notice)
}
