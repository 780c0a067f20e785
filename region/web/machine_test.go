package web

import (
	"context"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestMachinePage: the hardware (NUMA nodes with their threads, memory and disks; disks;
// interfaces), the run's results with links to their output, the timeline and the events.
func TestMachinePage(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	bob, _ := w.session("bob")
	r := bob.get("/MAAS/r/machines/" + w.ids["ready1"])
	if r.code != 200 {
		t.Fatalf("machine page: %d %.300s", r.code, r.body)
	}
	for _, want := range []string{
		`aria-label="NUMA node 0: 2 CPU threads, 4.0 GiB"`, `aria-label="NUMA node 1: 2 CPU threads, 4.0 GiB"`,
		`<li class="core">3</li>`, "Disks: sda", "QEMU HARDDISK", "QM0001", "500.0 GB",
		"eth0", "02:00:00:00:00:01", "connected",
		`data-run="commissioning"`, `data-result="smartctl-validate"`, "rs-passed", "8s",
		fmt.Sprintf(`/MAAS/r/machines/%s/results/%d`, w.ids["ready1"], w.result),
		`<svg class="timeline"`, `data-script="00-maas-01-cpuinfo"`, "Timeline of the last run (Commissioning)",
		`data-busy="false"`, "Events",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("machine page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "admin-actions") {
		t.Error("a non-administrator is offered the machine's actions")
	}
	if strings.Contains(r.body, " style=") || strings.Contains(r.body, "<script>") {
		t.Error("the machine page has inline style or script, which the CSP blocks")
	}
	if r := bob.get("/MAAS/r/machines/" + w.ids["alices"]); r.code != 404 {
		t.Errorf("bob reading alice's machine: %d; want 404", r.code)
	}
	if r := bob.get("/MAAS/r/machines/nosuch"); r.code != 404 {
		t.Errorf("an unknown machine: %d; want 404", r.code)
	}
	alice, _ := w.session("alice")
	if r := alice.get("/MAAS/r/machines/" + w.ids["ready1"]); !strings.Contains(r.body, `id="admin-actions"`) {
		t.Error("the administrator is not offered the machine's actions")
	}
}

// TestTimelineBars: each bar spans its result's start to end on one scale.
func TestTimelineBars(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	rs := []store.ScriptResult{
		{ScriptName: "a", Status: wire.ScriptPassed, Started: at(0), Ended: at(10)},
		{ScriptName: "b", Status: wire.ScriptRunning, Started: at(10)},
		{ScriptName: "c", Status: wire.ScriptPending},
	}
	tv := timeline("Testing", rs, *at(20))
	if len(tv.Bars) != 2 {
		t.Fatalf("%d bars; want 2 (pending results have none)", len(tv.Bars))
	}
	plot := timelineWidth - timelineLabels - 10
	a, b := tv.Bars[0], tv.Bars[1]
	if a.X != timelineLabels || a.W != plot/2 || b.X != timelineLabels+plot/2 || b.W != plot/2 || b.Class != "running" {
		t.Errorf("bars %+v, %+v; want halves of %d from %d", a, b, plot, timelineLabels)
	}
	if b.Y <= a.Y || tv.Height <= b.Y {
		t.Errorf("rows overlap: %+v", tv)
	}
}

// TestOutputViewer: each output of a result, HTML-escaped; results of other machines and
// unknown outputs are refused.
func TestOutputViewer(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	bob, _ := w.session("bob")
	base := fmt.Sprintf("/MAAS/r/machines/%s/results/%d", w.ids["ready1"], w.result)
	for kind, want := range map[string]string{"": "combined " + hostile, "stdout": "out " + hostile, "stderr": "err", "result": "status: passed"} {
		r := bob.get(base + "?output=" + kind)
		if r.code != 200 {
			t.Fatalf("output %q: %d", kind, r.code)
		}
		if strings.Contains(r.body, hostile) {
			t.Errorf("output %q is not escaped", kind)
		}
		if !strings.Contains(r.body, html.EscapeString(want)) {
			t.Errorf("output %q lacks %q", kind, html.EscapeString(want))
		}
	}
	if r := bob.get(base + "?output=everything"); r.code != 400 {
		t.Errorf("an unknown output: %d; want 400", r.code)
	}
	if r := bob.get(fmt.Sprintf("/MAAS/r/machines/%s/results/%d", w.ids["bobs"], w.result)); r.code != 404 {
		t.Errorf("another machine's result: %d; want 404", r.code)
	}
	if r := bob.get(fmt.Sprintf("/MAAS/r/machines/%s/results/x", w.ids["ready1"])); r.code != 404 {
		t.Errorf("a result id that is no number: %d; want 404", r.code)
	}
}

// TestLiveProgress: while a machine tests, the live part counts the finished results and
// names the running one; it refreshes as results arrive.
func TestLiveProgress(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	alice, csrf := w.session("alice")
	alice.post("/MAAS/r/machines/action", map[string][]string{"csrf": {csrf}, "action": {"test"}, "system_id": {w.ids["ready1"]}})
	live := func() string {
		r := alice.get("/MAAS/r/machines/" + w.ids["ready1"] + "/live")
		if r.code != 200 || strings.Contains(r.body, "<html") {
			t.Fatalf("live fragment: %d %.200s", r.code, r.body)
		}
		return r.body
	}
	body := live()
	if !strings.Contains(body, `data-busy="true"`) || !strings.Contains(body, "Testing") {
		t.Fatalf("live fragment of a testing machine: %.1500s", body)
	}
	var total int
	var first string
	w.st.Update(context.Background(), func(tx *store.Tx) error {
		m, _ := tx.MachineBySystemID(w.ids["ready1"])
		rs, _ := tx.ScriptResults([]int64{*m.CurrentTestingSet}, false)
		total = len(rs)
		now := time.Now()
		rs[0].Status, rs[0].Started = wire.ScriptRunning, &now
		first = rs[0].ScriptName
		return tx.UpdateScriptResult(&rs[0])
	})
	if total == 0 {
		t.Fatal("testing started no results")
	}
	if want := fmt.Sprintf("[1/%d] running %s", total, first); !strings.Contains(live(), want) {
		t.Errorf("live fragment lacks %q: %.1500s", want, live())
	}
	// Without earlier runs the estimate comes from the scripts' timeouts.
	if !strings.Contains(live(), `<p id="eta">expected to finish at `) {
		t.Errorf("live fragment lacks the run's estimated end: %.1500s", live())
	}
}
