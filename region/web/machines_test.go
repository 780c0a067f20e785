package web

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestMachinesList: what each caller sees, the columns of a row, the filters, and the bulk
// actions offered to administrators only.
func TestMachinesList(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	alice, _ := w.session("alice")
	bob, _ := w.session("bob")
	r := alice.get("/MAAS/r/machines")
	for _, want := range []string{"ready1", "bobs", "alices", "3 machines", `id="admin-actions"`, `value="commission"`,
		`value="release"`, "Ready", "Deployed", "amd64/generic", "4", "8.0 GiB", "500.0 GB", "rs-passed", `aria-label="Select ready1"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("admin's list lacks %q", want)
		}
	}
	r = bob.get("/MAAS/r/machines")
	if !strings.Contains(r.body, "ready1") || !strings.Contains(r.body, "bobs") || strings.Contains(r.body, "alices") {
		t.Errorf("bob sees the wrong machines: %.2000s", r.body)
	}
	if strings.Contains(r.body, "admin-actions") || strings.Contains(r.body, `name="system_id"`) || strings.Contains(r.body, `value="commission"`) {
		t.Error("a non-administrator is offered the bulk actions")
	}
	for q, want := range map[string][]string{
		"?status=ready":          {"ready1"},
		"?status=deployed":       {"bobs", "alices"},
		"?q=BOB":                 {"bobs"},
		"?q=alices&status=ready": nil,
	} {
		body := alice.get("/MAAS/r/machines" + q).body
		for _, host := range []string{"ready1", "bobs", "alices"} {
			has := strings.Contains(body, ">"+host+"</a>")
			if has != contains(want, host) {
				t.Errorf("%s: shows %s = %v", q, host, has)
			}
		}
	}
	if r := alice.get("/MAAS/r/machines?status=gardening"); r.code != 400 {
		t.Errorf("an unknown status: %d; want 400", r.code)
	}
	// Hostile text in a filter comes back escaped.
	if r := alice.get("/MAAS/r/machines?q=" + url.QueryEscape(hostile)); strings.Contains(r.body, hostile) {
		t.Error("the search text is echoed unescaped")
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestBulkActions runs each action through the same life-cycle code as the API: commission
// and abort a Ready machine, test it, release a deployed one; a refusal names the machine and
// leaves the others done.
func TestBulkActions(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	alice, csrf := w.session("alice")
	act := func(action string, hosts ...string) resp {
		f := url.Values{"csrf": {csrf}, "action": {action}}
		for _, h := range hosts {
			f.Add("system_id", w.ids[h])
		}
		return alice.post("/MAAS/r/machines/action", f)
	}
	status := func(host string) wire.NodeStatus {
		var s wire.NodeStatus
		w.st.View(context.Background(), func(tx *store.Tx) error {
			m, err := tx.MachineBySystemID(w.ids[host])
			if err != nil {
				t.Fatal(err)
			}
			s = m.Status
			return nil
		})
		return s
	}
	if r := act("commission", "ready1"); r.code != 200 || !strings.Contains(r.body, "Commission: 1 done (ready1)") {
		t.Fatalf("commission: %d %.500s", r.code, noticeOf(r.body))
	}
	if s := status("ready1"); s != wire.NodeCommissioning {
		t.Errorf("ready1 is %s after commission", s.Label())
	}
	r := act("abort", "ready1", "bobs")
	if !strings.Contains(r.body, "Abort: 1 done (ready1); 1 refused") || !strings.Contains(r.body, "Cannot abort bobs") {
		t.Errorf("abort of one busy and one deployed machine: %s", noticeOf(r.body))
	}
	if s := status("ready1"); s != wire.NodeReady {
		t.Errorf("ready1 is %s after abort", s.Label())
	}
	if act("test", "ready1"); status("ready1") != wire.NodeTesting {
		t.Errorf("ready1 is %s after test", status("ready1").Label())
	}
	if act("release", "alices"); status("alices") != wire.NodeReady {
		t.Errorf("alices is %s after release", status("alices").Label())
	}
	if r := act("explode", "ready1"); r.code != 400 {
		t.Errorf("an unknown action: %d; want 400", r.code)
	}
	if r := act("abort"); r.code != 400 {
		t.Errorf("an action on no machine: %d; want 400", r.code)
	}
	// The events name the administrator, as the API's ops do.
	w.st.View(context.Background(), func(tx *store.Tx) error {
		m, _ := tx.MachineBySystemID(w.ids["ready1"])
		evs, _ := tx.Events(store.EventFilter{NodeIDs: []int64{m.ID}})
		for _, e := range evs {
			if e.Type == "Commissioning" && e.Username != "alice" {
				t.Errorf("commissioning event by %q", e.Username)
			}
		}
		return nil
	})
}

var noticeRE = regexp.MustCompile(`(?s)<div class="notice".*?</div>`)

func noticeOf(body string) string { return noticeRE.FindString(body) }

// BenchmarkMachinesList renders the machines list of 1,000 machines, each with a disk and a
// commissioning run of 20 results, for an administrator: the whole request, store reads
// included (SQLite).
func BenchmarkMachinesList(b *testing.B) {
	w := newWorld(b, storetest.SQLite(b))
	err := w.st.Update(context.Background(), func(tx *store.Tx) error {
		admin := w.users["alice"]
		for i := 0; i < 997; i++ {
			m, err := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: fmt.Sprintf("bench%04d", i), Architecture: "amd64/generic",
				MACs: []string{fmt.Sprintf("02:01:00:00:%02x:%02x", i>>8, i&0xff)}, PowerType: "manual", Deployed: true}, admin)
			if err != nil {
				return err
			}
			m.CPUCount, m.Memory = 16, 65536
			if err := tx.UpdateMachine(m); err != nil {
				return err
			}
			if err := tx.CreateBlockDevice(&store.BlockDevice{NodeID: m.ID, Name: "sda", Size: 1e12, BlockSize: 512}); err != nil {
				return err
			}
			set := &store.ScriptSet{NodeID: m.ID, Type: wire.ResultCommissioning}
			if err := tx.CreateScriptSet(set); err != nil {
				return err
			}
			for k := 0; k < 20; k++ {
				if err := tx.CreateScriptResult(&store.ScriptResult{SetID: set.ID, ScriptName: fmt.Sprintf("s%d", k), Status: wire.ScriptPassed}); err != nil {
					return err
				}
			}
			m.CurrentCommissioningSet = &set.ID
			if err := tx.UpdateMachine(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := w.session("alice")
	if r := c.get("/MAAS/r/machines"); r.code != 200 || !strings.Contains(r.body, "1000 machines") {
		b.Fatalf("list: %d %.300s", r.code, r.body)
	}
	b.ResetTimer()
	for b.Loop() {
		if r := c.get("/MAAS/r/machines"); r.code != 200 {
			b.Fatal(r.code)
		}
	}
}
