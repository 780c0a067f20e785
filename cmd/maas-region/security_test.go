package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"maasgo/internal/smallfs"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// peakRSS reads a process's peak resident memory (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func hostPort(t *testing.T, r *regiontest.Region) string {
	u, err := url.Parse(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// zeros is an endless body.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// TestUnauthenticatedBodiesCostNoMemory: eight anonymous 120 MiB posts (once 2.4 GB of region
// memory) are refused from their headers; the region's peak memory stays small.
func TestUnauthenticatedBodiesCostNoMemory(t *testing.T) {
	r := regiontest.Start(t, storetest.SQLite(t))
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", r.URL+"/api/2.0/scripts/", &zeros{n: 120 << 20})
			req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return // the region may close the connection while the client still sends
			}
			codes[i] = resp.StatusCode
			resp.Body.Close()
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 && c != 401 {
			t.Errorf("post %d: %d; want 401", i, c)
		}
	}
	hwm := peakRSS(t, r.Pid())
	t.Logf("region peak RSS after 8 anonymous 120 MiB posts: %.1f MB", float64(hwm)/1e6)
	if hwm > 100<<20 {
		t.Errorf("region peak RSS %d MB", hwm>>20)
	}
}

// TestSlowClients: a body that stops arriving frees its connection within the idle timeout,
// one address cannot hold more than its share of connections, headers are bounded, and a
// shutdown ends within its deadline although a request is stuck.
func TestSlowClients(t *testing.T) {
	r := regiontest.Start(t, storetest.SQLite(t), "--idle-timeout", "1s", "--max-connections-per-address", "6",
		"--shutdown-timeout", "1s")
	addr := hostPort(t, r)

	t.Run("stalled body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /MAAS/api/2.0/machines/?op=allocate HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"+
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nhostname=", addr, r.Admin.AuthorizationHeader(time.Now()))
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		io.Copy(io.Discard, c) // until the region answers and closes
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a stalled body held its connection %v with a 1 s idle timeout", d)
		}
	})

	t.Run("connections per address", func(t *testing.T) {
		http.DefaultClient.CloseIdleConnections()
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		// Dial until the region refuses: the admitted ones wait for a request, a refused one
		// is told 503 at once.
		refused := false
		for range 10 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			line, _ := bufio.NewReader(c).ReadString('\n')
			if strings.Contains(line, "503") {
				refused = true
				c.Close()
				break
			}
			held = append(held, c)
		}
		if !refused || len(held) > 6 {
			t.Errorf("one address held %d connections (limit 6), refused: %v", len(held), refused)
		}
		held[0].Close()
		held = held[1:]
		time.Sleep(200 * time.Millisecond)
		resp, err := http.Get(r.URL + "/api/2.0/version/")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("after one closed: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		http.DefaultClient.CloseIdleConnections()
	})

	t.Run("large headers", func(t *testing.T) {
		time.Sleep(300 * time.Millisecond) // the connections held above are gone
		req, _ := http.NewRequest("GET", r.URL+"/api/2.0/version/", nil)
		req.Header.Set("X-Big", strings.Repeat("x", 200<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("200 KiB of headers: %d; want 431", resp.StatusCode)
		}
	})

	t.Run("shutdown with a stuck request", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// An upload that keeps trickling never finishes on its own.
		go func() {
			fmt.Fprintf(c, "POST /MAAS/api/2.0/scripts/ HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"+
				"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000000\r\n\r\n--B\r\n", addr, r.Admin.AuthorizationHeader(time.Now()))
			for {
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(300 * time.Millisecond)
			}
		}()
		time.Sleep(500 * time.Millisecond)
		start := time.Now()
		r.Stop()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("shutdown took %v with a 1 s deadline", d)
		}
	})
}

// TestFullDisk: when the region's disk is full, signed reads keep working, writes fail with
// a 507 that says so and lose nothing, and the region recovers as soon as space returns.
func TestFullDisk(t *testing.T) {
	dir := smallfs.Mount(t, "24m")
	e := storetest.Engine{Name: "sqlite", StateDir: dir}
	r := regiontest.Start(t, e)
	admin := r.Client()
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"before"}, "deployed": {"true"}}).(map[string]any)

	filler := smallfs.Fill(t, dir)

	for range 3 {
		if resp := admin.Do(t, "GET", "api/2.0/users/", url.Values{"op": {"whoami"}}); resp.Status != 200 {
			t.Fatalf("whoami on a full disk: %d %s", resp.Status, resp.Body)
		}
		if resp := admin.Do(t, "GET", "api/2.0/machines/"+m["system_id"].(string)+"/", nil); resp.Status != 200 {
			t.Fatalf("machine read on a full disk: %d %s", resp.Status, resp.Body)
		}
	}
	resp := admin.Do(t, "POST", "api/2.0/machines/", url.Values{"hostname": {"during"}, "deployed": {"true"}})
	if resp.Status != http.StatusInsufficientStorage || !strings.Contains(string(resp.Body), "out of disk space") {
		t.Errorf("a write on a full disk: %d %s; want 507 saying so", resp.Status, resp.Body)
	}
	os.Remove(filler)
	admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"after"}, "deployed": {"true"}})
	names := map[string]bool{}
	for _, x := range admin.Must(t, 200, "GET", "api/2.0/machines/", nil).([]any) {
		names[x.(map[string]any)["hostname"].(string)] = true
	}
	if !names["before"] || names["during"] || !names["after"] {
		t.Errorf("machines after the disk filled and emptied: %v", names)
	}
}

// TestNonAdminCannotTouchOthersMachines replays the findings through the real binary:
// a user may not test, abort or read another user's machine, its results or its events.
func TestNonAdminCannotTouchOthersMachines(t *testing.T) {
	r := regiontest.Start(t, storetest.SQLite(t))
	admin := r.Client()
	bob := &regiontest.Client{Base: r.URL, Creds: newUser(t, r, "bob", false)}
	eve := &regiontest.Client{Base: r.URL, Creds: newUser(t, r, "eve", false)}
	admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"pool"}, "deployed": {"true"}})
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"bobs"}, "deployed": {"true"}}).(map[string]any)
	id := m["system_id"].(string)
	admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"release"}})
	bob.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"op": {"allocate"}, "system_id": {id}})
	bob.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"deploy"}})
	for _, tc := range []struct{ method, path, op string }{
		{"POST", "machines/" + id + "/", "test"},
		{"POST", "machines/" + id + "/", "abort"},
		{"POST", "machines/" + id + "/", "release"},
		{"GET", "machines/" + id + "/", ""},
		{"GET", "nodes/" + id + "/results/", ""},
		{"GET", "nodes/" + id + "/results/current-commissioning/", "download"},
	} {
		form := url.Values{}
		if tc.op != "" {
			form.Set("op", tc.op)
		}
		if tc.op == "test" {
			form.Set("testing_scripts", "badblocks-destructive")
		}
		if resp := eve.Do(t, tc.method, "api/2.0/"+tc.path, form); resp.Status != 403 {
			t.Errorf("eve %s %s op=%s: %d %s; want 403", tc.method, tc.path, tc.op, resp.Status, resp.Body)
		}
	}
	for _, x := range eve.Must(t, 200, "GET", "api/2.0/machines/", nil).([]any) {
		if x.(map[string]any)["system_id"] == id {
			t.Errorf("eve sees bob's machine in the list")
		}
	}
	evs := eve.Must(t, 200, "GET", "api/2.0/events/", url.Values{"op": {"query"}}).(map[string]any)
	for _, e := range evs["events"].([]any) {
		if e.(map[string]any)["node"] == id {
			t.Errorf("eve sees bob's machine's events: %v", e)
		}
	}
	if st := machineStatus(t, admin, id); st["status_name"] != "Deploying" {
		t.Errorf("bob's machine after eve's attempts: %v", st["status_name"])
	}
	// Bob may act on his own machine, short of administrators' operations.
	if resp := bob.Do(t, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"test"}}); resp.Status != 403 {
		t.Errorf("bob tests his machine: %d; upstream keeps testing for administrators", resp.Status)
	}
	bob.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"abort"}})
}
