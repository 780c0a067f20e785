// Command summary prints what a MAAS region knows of one machine, for `make run`: its
// status, CPUs and NUMA nodes, memory, disks, network interfaces with link state and speed,
// and its current commissioning results. Everything is read through the region's API 2.0,
// signed with an API key, as any client would.
//
//	summary [--system-id] MAAS_URL API_KEY HOSTNAME
//
// With --system-id it prints only the machine's system id, or exits with status 2 when no
// machine has that hostname.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"maasgo/client"
	"maasgo/wire"
)

func main() {
	systemID := flag.Bool("system-id", false, "print only the machine's system id (exit 2: no such machine)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: summary [--system-id] MAAS_URL API_KEY HOSTNAME")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 3 {
		flag.Usage()
		os.Exit(2)
	}
	c, err := newRegion(flag.Arg(0), flag.Arg(1))
	if err != nil {
		fatal(err)
	}
	m, err := c.machineNamed(flag.Arg(2))
	if errors.Is(err, errNoMachine) {
		if *systemID {
			os.Exit(2)
		}
		fatal(err)
	}
	if err != nil {
		fatal(err)
	}
	if *systemID {
		fmt.Println(m.SystemID)
		return
	}
	results, err := c.results(m.SystemID)
	if err != nil {
		fatal(err)
	}
	write(os.Stdout, c.base, m, results)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "summary:", err)
	os.Exit(1)
}

var errNoMachine = errors.New("no machine")

// region reads the API 2.0 of one region.
type region struct {
	base string // http://host:5240/MAAS
	c    *client.Client
}

func newRegion(maasURL, key string) (*region, error) {
	creds, err := wire.ParseCredentials(key)
	if err != nil {
		return nil, fmt.Errorf("API key: %w", err)
	}
	return &region{base: strings.TrimRight(maasURL, "/"), c: client.New(creds, client.NewHTTPClient(client.Options{}))}, nil
}

// get reads path below api/2.0/ into v within a minute (the client retries once when a 401
// taught it the clock skew).
func (r *region) get(path string, q []client.Part, v any) error {
	req, err := client.NewAPIRequest(http.MethodGet, r.base+"/api/2.0/"+path, "", q)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body, err := r.c.Call(ctx, req)
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

type machine struct {
	SystemID     string `json:"system_id"`
	Hostname     string `json:"hostname"`
	StatusName   string `json:"status_name"`
	Architecture string `json:"architecture"`
	Owner        string `json:"owner"`
	PowerType    string `json:"power_type"`
	CPUCount     int    `json:"cpu_count"`
	CPUSpeed     int    `json:"cpu_speed"`
	Memory       int64  `json:"memory"`
	HardwareInfo struct {
		CPUModel      string `json:"cpu_model"`
		SystemVendor  string `json:"system_vendor"`
		SystemProduct string `json:"system_product"`
	} `json:"hardware_info"`
	NUMANodes []struct {
		Index  int     `json:"index"`
		Cores  []int64 `json:"cores"`
		Memory int64   `json:"memory"`
	} `json:"numanode_set"`
	Disks []struct {
		Name   string `json:"name"`
		Model  string `json:"model"`
		Serial string `json:"serial"`
		IDPath string `json:"id_path"`
		Size   int64  `json:"size"`
	} `json:"physicalblockdevice_set"`
	Interfaces []iface `json:"interface_set"`
	Boot       *iface  `json:"boot_interface"`
}

type iface struct {
	ID             int64   `json:"id"`
	Name           string  `json:"name"`
	Type           string  `json:"type"`
	MACAddress     string  `json:"mac_address"`
	LinkConnected  bool    `json:"link_connected"`
	LinkSpeed      int64   `json:"link_speed"`
	InterfaceSpeed int64   `json:"interface_speed"`
	Vendor         *string `json:"vendor"`
	Product        *string `json:"product"`
}

type result struct {
	Name       string   `json:"name"`
	StatusName string   `json:"status_name"`
	ExitStatus *int     `json:"exit_status"`
	StartTime  *float64 `json:"starttime"`
	EndTime    *float64 `json:"endtime"`
}

type resultSet struct {
	StatusName string   `json:"status_name"`
	TypeName   string   `json:"type_name"`
	Results    []result `json:"results"`
}

func (r *region) machineNamed(hostname string) (*machine, error) {
	var ms []machine
	if err := r.get("machines/", []client.Part{{Name: "hostname", Value: hostname}}, &ms); err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%w named %s", errNoMachine, hostname)
	}
	return &ms[0], nil
}

func (r *region) results(systemID string) (*resultSet, error) {
	var s resultSet
	err := r.get("nodes/"+url.PathEscape(systemID)+"/results/current-commissioning/", nil, &s)
	return &s, err
}

// write prints the summary.
func write(out io.Writer, base string, m *machine, rs *resultSet) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(out, "%-9s%s\n", label, fmt.Sprintf(format, args...))
	}
	line("Machine", "%s (system id %s): %s, %s, owner %s, power %s",
		m.Hostname, m.SystemID, m.StatusName, m.Architecture, orDash(m.Owner), m.PowerType)
	if v := strings.TrimSpace(m.HardwareInfo.SystemVendor + " " + m.HardwareInfo.SystemProduct); v != "" && v != "Unknown Unknown" {
		line("System", "%s", v)
	}
	cpu := fmt.Sprintf("%d × %s", m.CPUCount, orDash(m.HardwareInfo.CPUModel))
	if m.CPUSpeed > 0 {
		cpu += fmt.Sprintf(" at %d MHz", m.CPUSpeed)
	}
	line("CPU", "%s", cpu)
	for _, n := range m.NUMANodes {
		line("NUMA", "node %d: CPUs %s, %d MiB", n.Index, ranges(n.Cores), n.Memory)
	}
	line("Memory", "%d MiB", m.Memory)

	var rows [][]string
	for _, d := range m.Disks {
		rows = append(rows, []string{d.Name, gb(d.Size), orDash(d.Model), "serial " + orDash(d.Serial), d.IDPath})
	}
	table(out, "Disks", rows)

	rows = nil
	for _, i := range m.Interfaces {
		link := "link down"
		if i.LinkConnected {
			link = "link up, " + speed(i.LinkSpeed)
		}
		var extra []string
		if i.InterfaceSpeed > 0 {
			extra = append(extra, "max "+speed(i.InterfaceSpeed))
		}
		if m.Boot != nil && m.Boot.ID == i.ID {
			extra = append(extra, "boot")
		}
		rows = append(rows, []string{i.Name, i.MACAddress, i.Type, link, strings.Join(extra, ", "), vendor(i)})
	}
	table(out, "NICs", rows)

	rows = nil
	sort.SliceStable(rs.Results, func(i, j int) bool { return rs.Results[i].Name < rs.Results[j].Name })
	for _, r := range rs.Results {
		exit := "-"
		if r.ExitStatus != nil {
			exit = strconv.Itoa(*r.ExitStatus)
		}
		took, at := "-", "-"
		if r.StartTime != nil && r.EndTime != nil && *r.EndTime >= *r.StartTime {
			took = fmt.Sprintf("%.2f s", *r.EndTime-*r.StartTime)
			at = time.Unix(int64(*r.EndTime), 0).Local().Format("2006-01-02 15:04:05")
		}
		rows = append(rows, []string{r.Name, strings.ToLower(r.StatusName), "exit " + exit, took, "ended " + at})
	}
	line("Results", "current %s results: %s", strings.ToLower(orDash(rs.TypeName)), strings.ToLower(orDash(rs.StatusName)))
	table(out, "", rows)

	fmt.Fprintf(out, "\nMore about this machine through the API (bin/maas is the CLI):\n")
	fmt.Fprintf(out, "  bin/maas login admin %s $API_KEY\n", base)
	fmt.Fprintf(out, "  bin/maas admin machine read %s\n", m.SystemID)
	fmt.Fprintf(out, "  bin/maas admin interfaces read %s\n", m.SystemID)
	fmt.Fprintf(out, "  bin/maas admin node-script-result read %s current-commissioning include_output=true\n", m.SystemID)
	fmt.Fprintf(out, "  bin/maas admin node-script-result download %s current-commissioning output=all filetype=tar.xz > results.tar.xz\n", m.SystemID)
	fmt.Fprintf(out, "  bin/maas admin events query id=%s\n", m.SystemID)
	fmt.Fprintf(out, "  %s/api/2.0/machines/%s/ (GET, signed with the key)\n", base, m.SystemID)
}

// table prints rows with aligned columns after a label, without trailing blanks.
func table(out io.Writer, label string, rows [][]string) {
	if len(rows) == 0 {
		if label != "" {
			fmt.Fprintf(out, "%-9snone\n", label)
		}
		return
	}
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for n, r := range rows {
		var b strings.Builder
		if n == 0 {
			fmt.Fprintf(&b, "%-9s", label)
		} else {
			b.WriteString(strings.Repeat(" ", 9))
		}
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		fmt.Fprintln(out, strings.TrimRight(b.String(), " "))
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// ranges renders CPU numbers as "0-3,8".
func ranges(cores []int64) string {
	if len(cores) == 0 {
		return "none"
	}
	c := append([]int64(nil), cores...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	var parts []string
	for i := 0; i < len(c); {
		j := i
		for j+1 < len(c) && c[j+1] == c[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.FormatInt(c[i], 10))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", c[i], c[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// gb renders a size in decimal gigabytes, as MAAS shows disks.
func gb(n int64) string { return fmt.Sprintf("%.1f GB", float64(n)/1e9) }

// speed renders Mb/s.
func speed(mbps int64) string {
	switch {
	case mbps <= 0:
		return "speed unknown"
	case mbps >= 1000 && mbps%1000 == 0:
		return fmt.Sprintf("%d Gb/s", mbps/1000)
	}
	return fmt.Sprintf("%d Mb/s", mbps)
}

func vendor(i iface) string {
	var parts []string
	for _, p := range []*string{i.Vendor, i.Product} {
		if p != nil && *p != "" {
			parts = append(parts, *p)
		}
	}
	return strings.Join(parts, " ")
}
