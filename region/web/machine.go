package web

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/wire"
)

// loadVisible reads the machine named in the path, a 404 when it is unknown or the caller
// may not see it.
func loadVisible(p *page, tx *store.Tx) (*store.Machine, error) {
	id := p.r.PathValue("system_id")
	m, err := tx.MachineBySystemID(id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !visible(p.user, m)) {
		return nil, statusErrorf(http.StatusNotFound, "No machine with system ID %s.", id)
	}
	return m, err
}

// numaView is one NUMA node as the page draws it.
type numaView struct {
	Index  int
	Memory int64 // MiB
	Cores  []int64
	Disks  []string
	NICs   []string
}

type nicView struct {
	Name, MAC, Type, Warning string
	Connected                bool
	LinkSpeed, IfaceSpeed    int64
	NUMA                     int
}

// resultRow is one result in a run.
type resultRow struct {
	ID                    int64
	Name, Status, Class   string
	ExitStatus            *int
	Started, Ended        *time.Time
	Runtime               string
	Running, Done, Failed bool
	On                    string // the disk or interface it is about
}

// runView is a set of results (a commissioning, testing, installation or release run).
type runView struct {
	ID      int64
	Type    string
	Status  string
	Class   string
	Results []resultRow
}

// timelineBar is one result in the timeline of the last run, in SVG coordinates.
type timelineBar struct {
	Name, Status, Class, Label string
	X, Y, W, TextY             int
}

type timelineView struct {
	Run       string
	Width     int
	Height    int
	Bars      []timelineBar
	Start     string
	Span      string
	AxisY     int
	LabelLeft int
}

// liveView is what the live part of the page shows and refreshes.
type liveView struct {
	SystemID      string
	Status        string
	StatusClass   string
	StatusMessage string
	Busy          bool
	Progress      string
	// ETA says when the run should end, from earlier runtimes (lifecycle.RunETA).
	ETA         string
	Done, Total int
	Runs        []runView
	Timeline    *timelineView
	Events      []store.Event
}

func machinePage(p *page) error {
	var m *store.Machine
	var numa []numaView
	var disks []store.BlockDevice
	var nics []nicView
	var live *liveView
	err := p.h.st.View(p.ctx, func(tx *store.Tx) error {
		var err error
		if m, err = loadVisible(p, tx); err != nil {
			return err
		}
		d, err := tx.BlockDevices(m.ID)
		if err != nil {
			return err
		}
		disks = d[m.ID]
		ifs, err := tx.Interfaces(m.ID)
		if err != nil {
			return err
		}
		for i := range ifs[m.ID] {
			n := &ifs[m.ID][i]
			nics = append(nics, nicView{Name: n.Name, MAC: n.MACAddress, Type: n.Type, Connected: n.LinkConnected,
				LinkSpeed: n.LinkSpeed, IfaceSpeed: n.InterfaceSpeed, NUMA: n.NUMANode, Warning: lifecycle.InterfaceWarning(n)})
		}
		numa = numaOf(m, disks, nics)
		live, err = p.h.loadLive(tx, m)
		return err
	})
	if err != nil {
		return err
	}
	var hw [][2]string
	for _, k := range []string{"system_vendor", "system_product", "system_serial", "cpu_model", "mainboard_vendor",
		"mainboard_product", "mainboard_firmware_version", "mainboard_firmware_date"} {
		if v := m.HardwareInfo[k]; v != "" {
			hw = append(hw, [2]string{strings.ReplaceAll(k, "_", " "), v})
		}
	}
	p.render(http.StatusOK, "machine", map[string]any{"Title": m.Hostname, "M": m, "Status": m.Status.Label(),
		"NUMA": numa, "Disks": disks, "NICs": nics, "Live": live, "HW": hw, "Actions": bulkActions})
	return nil
}

// numaOf lays the machine's CPU threads, memory, disks and interfaces out by NUMA node.
func numaOf(m *store.Machine, disks []store.BlockDevice, nics []nicView) []numaView {
	var out []numaView
	for _, n := range m.NUMANodes {
		out = append(out, numaView{Index: n.Index, Memory: n.Memory, Cores: n.Cores})
	}
	if len(out) == 0 {
		v := numaView{Memory: m.Memory}
		for i := 0; i < m.CPUCount; i++ {
			v.Cores = append(v.Cores, int64(i))
		}
		out = []numaView{v}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	at := func(node int) *numaView {
		for i := range out {
			if out[i].Index == node {
				return &out[i]
			}
		}
		return &out[0]
	}
	for _, d := range disks {
		n := at(d.NUMANode)
		n.Disks = append(n.Disks, d.Name)
	}
	for _, i := range nics {
		n := at(i.NUMA)
		n.NICs = append(n.NICs, i.Name)
	}
	return out
}

// loadLive reads the machine's current runs, their progress, the timeline of the last run
// and the latest events.
func (h *Handler) loadLive(tx *store.Tx, m *store.Machine) (*liveView, error) {
	v := &liveView{SystemID: m.SystemID, Status: m.Status.Label(), StatusClass: slug(m.Status.Label()),
		StatusMessage: m.StatusMessage, Busy: busy(m.Status)}
	type cur struct {
		id  *int64
		typ wire.ResultType
	}
	var ids []int64
	var types []wire.ResultType
	for _, c := range []cur{{m.CurrentCommissioningSet, wire.ResultCommissioning}, {m.CurrentTestingSet, wire.ResultTesting},
		{m.CurrentInstallationSet, wire.ResultInstallation}, {m.CurrentReleaseSet, wire.ResultRelease}} {
		if c.id != nil {
			ids, types = append(ids, *c.id), append(types, c.typ)
		}
	}
	rs, err := tx.ScriptResults(ids, false)
	if err != nil {
		return nil, err
	}
	by := map[int64][]store.ScriptResult{}
	for _, r := range rs {
		by[r.SetID] = append(by[r.SetID], r)
	}
	names, err := targetNames(tx, m)
	if err != nil {
		return nil, err
	}
	now := h.now()
	lastRun := ""
	var lastResults []store.ScriptResult
	var running []string
	for i, id := range ids {
		list := by[id]
		sort.SliceStable(list, func(a, b int) bool { return list[a].ID < list[b].ID })
		st := wire.ScriptStatus(lifecycle.OverallStatus(list))
		run := runView{ID: id, Type: types[i].Label(), Status: st.Label(), Class: slug(st.Label())}
		if len(list) == 0 {
			run.Status, run.Class = "No results", "none"
		}
		for _, r := range list {
			row := resultRow{ID: r.ID, Name: r.ScriptName, Status: r.Status.Label(), Class: slug(r.Status.Label()),
				ExitStatus: r.ExitStatus, Started: r.Started, Ended: r.Ended, Running: r.Status.Running(),
				Done: !r.Status.Unfinished(), Failed: r.Status.Failed(), On: names[targetKey(&r)]}
			if r.Started != nil && r.Ended != nil {
				row.Runtime = formatDuration(r.Ended.Sub(*r.Started))
			} else if r.Started != nil && r.Status.Running() {
				row.Runtime = formatDuration(now.Sub(*r.Started)) + " so far"
			}
			run.Results = append(run.Results, row)
		}
		// The run under way counts towards the progress line: while commissioning, the
		// commissioning and testing runs together.
		if v.Busy && counts(m.Status, types[i]) {
			for _, r := range list {
				v.Total++
				if !r.Status.Unfinished() {
					v.Done++
				}
				if r.Status.Running() {
					running = append(running, r.ScriptName)
				}
			}
		}
		v.Runs = append(v.Runs, run)
		if len(list) > 0 && (lastRun == "" || latestStart(list).After(latestStart(lastResults))) {
			lastRun, lastResults = run.Type, list
		}
	}
	if v.Busy {
		switch {
		case len(running) > 0:
			v.Progress = fmt.Sprintf("[%d/%d] running %s", v.Done+1, v.Total, strings.Join(running, ", "))
		case v.Total > 0 && v.Done < v.Total:
			v.Progress = fmt.Sprintf("[%d/%d] waiting for the machine", v.Done, v.Total)
		case v.Total > 0:
			v.Progress = fmt.Sprintf("[%d/%d] finishing", v.Done, v.Total)
		default:
			v.Progress = "waiting for the machine"
		}
		eta, err := h.runtimes.RunETA(tx, m, now)
		if err != nil {
			return nil, err
		}
		if eta != nil {
			v.ETA = fmt.Sprintf("expected to finish at %s UTC (in about %s)", eta.UTC().Format("15:04:05"), formatDuration(max(0, eta.Sub(now))))
		}
	}
	if lastRun != "" {
		v.Timeline = timeline(lastRun, lastResults, now)
	}
	if v.Events, err = tx.Events(store.EventFilter{NodeIDs: []int64{m.ID}, Limit: 50}); err != nil {
		return nil, err
	}
	return v, nil
}

// counts reports whether results of a run of type t count towards the progress of a machine
// in status s.
func counts(s wire.NodeStatus, t wire.ResultType) bool {
	switch s {
	case wire.NodeCommissioning:
		return t == wire.ResultCommissioning || t == wire.ResultTesting
	case wire.NodeTesting:
		return t == wire.ResultTesting
	case wire.NodeDeploying:
		return t == wire.ResultInstallation
	case wire.NodeDiskErasing:
		return t == wire.ResultRelease
	}
	return false
}

func latestStart(rs []store.ScriptResult) time.Time {
	var t time.Time
	for _, r := range rs {
		if r.Started != nil && r.Started.After(t) {
			t = *r.Started
		}
	}
	return t
}

func targetKey(r *store.ScriptResult) string {
	switch {
	case r.BlockDeviceID != nil:
		return "d" + strconv.FormatInt(*r.BlockDeviceID, 10)
	case r.InterfaceID != nil:
		return "i" + strconv.FormatInt(*r.InterfaceID, 10)
	}
	return ""
}

// targetNames names the disks and interfaces results may be about.
func targetNames(tx *store.Tx, m *store.Machine) (map[string]string, error) {
	out := map[string]string{}
	disks, err := tx.BlockDevices(m.ID)
	if err != nil {
		return nil, err
	}
	for _, d := range disks[m.ID] {
		out["d"+strconv.FormatInt(d.ID, 10)] = d.Name
	}
	ifs, err := tx.Interfaces(m.ID)
	if err != nil {
		return nil, err
	}
	for _, i := range ifs[m.ID] {
		out["i"+strconv.FormatInt(i.ID, 10)] = i.Name
	}
	return out, nil
}

// Timeline geometry, in SVG user units.
const (
	timelineWidth  = 900
	timelineLabels = 220 // the names' column
	timelineRow    = 22
)

// timeline lays out a run's results as bars from start to end (to now while running).
func timeline(run string, rs []store.ScriptResult, now time.Time) *timelineView {
	var start, end time.Time
	for _, r := range rs {
		if r.Started == nil {
			continue
		}
		if start.IsZero() || r.Started.Before(start) {
			start = *r.Started
		}
		e := now
		if r.Ended != nil {
			e = *r.Ended
		}
		if e.After(end) {
			end = e
		}
	}
	if start.IsZero() {
		return nil
	}
	span := end.Sub(start)
	if span < time.Second {
		span = time.Second
	}
	tv := &timelineView{Run: run, Width: timelineWidth, LabelLeft: timelineLabels - 8, Start: formatTime(start), Span: formatDuration(span)}
	plot := float64(timelineWidth - timelineLabels - 10)
	y := 8
	for _, r := range rs {
		if r.Started == nil {
			continue
		}
		e := now
		if r.Ended != nil {
			e = *r.Ended
		}
		x := timelineLabels + int(float64(r.Started.Sub(start))/float64(span)*plot)
		w := max(int(float64(e.Sub(*r.Started))/float64(span)*plot), 2)
		label := fmt.Sprintf("%s: %s, %s", r.ScriptName, r.Status.Label(), formatDuration(e.Sub(*r.Started)))
		tv.Bars = append(tv.Bars, timelineBar{Name: r.ScriptName, Status: r.Status.Label(), Class: slug(r.Status.Label()),
			Label: label, X: x, Y: y, W: w, TextY: y + 14})
		y += timelineRow
	}
	tv.AxisY = y + 4
	tv.Height = y + 24
	return tv
}

// machineLive answers the live part of the machine page alone, which the page's script
// fetches every 1.5 seconds while the machine works.
func machineLive(p *page) error {
	var live *liveView
	err := p.h.st.View(p.ctx, func(tx *store.Tx) error {
		m, err := loadVisible(p, tx)
		if err != nil {
			return err
		}
		live, err = p.h.loadLive(tx, m)
		return err
	})
	if err != nil {
		return err
	}
	p.renderFragment("machine", "live", map[string]any{"Live": live})
	return nil
}

// outputKinds are the outputs of a result the viewer shows.
var outputKinds = []struct{ Name, Label string }{
	{"combined", "Combined"}, {"stdout", "Standard output"}, {"stderr", "Standard error"}, {"result", "Result YAML"},
}

// maxShownOutput bounds the output the viewer puts in a page.
const maxShownOutput = 2 << 20

// resultPage shows one result with one of its outputs, always HTML-escaped (the template
// escapes it).
func resultPage(p *page) error {
	rid, err := strconv.ParseInt(p.r.PathValue("result_id"), 10, 64)
	if err != nil {
		return statusErrorf(http.StatusNotFound, "No such result.")
	}
	kind := p.r.URL.Query().Get("output")
	if kind == "" {
		kind = "combined"
	}
	var m *store.Machine
	var r *store.ScriptResult
	var set *store.ScriptSet
	err = p.h.st.View(p.ctx, func(tx *store.Tx) error {
		var err error
		if m, err = loadVisible(p, tx); err != nil {
			return err
		}
		r, err = tx.ScriptResultByID(rid, true)
		if err == nil {
			set, err = tx.ScriptSetByID(r.SetID)
		}
		if errors.Is(err, store.ErrNotFound) || (err == nil && set.NodeID != m.ID) {
			return statusErrorf(http.StatusNotFound, "No result %d on %s.", rid, m.Hostname)
		}
		return err
	})
	if err != nil {
		return err
	}
	var out []byte
	switch kind {
	case "combined":
		out = r.Output
	case "stdout":
		out = r.Stdout
	case "stderr":
		out = r.Stderr
	case "result":
		out = r.Result
	default:
		return statusErrorf(http.StatusBadRequest, "Unknown output %q: combined, stdout, stderr or result.", kind)
	}
	truncated := len(out) > maxShownOutput
	if truncated {
		out = out[:maxShownOutput]
	}
	var runtime string
	if r.Started != nil && r.Ended != nil {
		runtime = formatDuration(r.Ended.Sub(*r.Started))
	}
	p.render(http.StatusOK, "result", map[string]any{"Title": r.ScriptName + " on " + m.Hostname, "M": m, "R": r,
		"Run": set.Type.Label(), "Status": r.Status.Label(), "Class": slug(r.Status.Label()), "Runtime": runtime,
		"Kind": kind, "Kinds": outputKinds, "Output": string(out), "Truncated": truncated, "Shown": int64(len(out))})
	return nil
}
