package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestFormatting(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{ranges([]int64{3, 0, 1, 2, 8, 10, 11}), "0-3,8,10-11"},
		{ranges([]int64{5}), "5"},
		{ranges(nil), "none"},
		{speed(0), "speed unknown"},
		{speed(-1), "speed unknown"},
		{speed(100), "100 Mb/s"},
		{speed(10000), "10 Gb/s"},
		{speed(2500), "2500 Mb/s"},
		{gb(274877906944), "274.9 GB"},
		{orDash(" "), "-"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

func TestWrite(t *testing.T) {
	var m machine
	if err := json.Unmarshal([]byte(`{"system_id": "abc123", "hostname": "mymachine", "status_name": "Deployed",
		"architecture": "amd64/generic", "owner": "admin", "power_type": "manual", "cpu_count": 4, "cpu_speed": 2400,
		"memory": 8192, "hardware_info": {"cpu_model": "Xeon"},
		"numanode_set": [{"index": 0, "cores": [0, 1], "memory": 4096}, {"index": 1, "cores": [2, 3], "memory": 4096}],
		"physicalblockdevice_set": [{"name": "sda", "model": "QEMU HARDDISK", "serial": "s1", "id_path": "/dev/disk/by-id/x", "size": 10000000000}],
		"interface_set": [{"id": 7, "name": "eth0", "type": "physical", "mac_address": "52:54:00:00:00:01", "link_connected": true, "link_speed": 1000, "interface_speed": 10000, "vendor": "Intel"},
		                  {"id": 8, "name": "eth1", "type": "physical", "mac_address": "52:54:00:00:00:02", "link_connected": false}],
		"boot_interface": {"id": 7}}`), &m); err != nil {
		t.Fatal(err)
	}
	exit, start, end := 127, 100.0, 100.5
	rs := &resultSet{StatusName: "Failed", TypeName: "Commissioning", Results: []result{
		{Name: "maas-serial-ports", StatusName: "Failed", ExitStatus: &exit, StartTime: &start, EndTime: &end},
		{Name: "maas-lshw", StatusName: "Pending"},
	}}
	var out bytes.Buffer
	write(&out, "http://127.0.0.1:5240/MAAS", &m, rs)
	for _, want := range []string{
		"Machine  mymachine (system id abc123): Deployed, amd64/generic, owner admin, power manual\n",
		"CPU      4 × Xeon at 2400 MHz\n",
		"NUMA     node 1: CPUs 2-3, 4096 MiB\n",
		"Memory   8192 MiB\n",
		"Disks    sda  10.0 GB  QEMU HARDDISK  serial s1  /dev/disk/by-id/x\n",
		"NICs     eth0  52:54:00:00:00:01  physical  link up, 1 Gb/s  max 10 Gb/s, boot  Intel\n",
		"         eth1  52:54:00:00:00:02  physical  link down\n",
		"Results  current commissioning results: failed\n",
		"         maas-lshw          pending  exit -    -       ended -\n",
		"maas-serial-ports  failed   exit 127  0.50 s  ended ",
		"bin/maas admin machine read abc123\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.TrimRight(l, " ") != l {
			t.Errorf("trailing blanks: %q", l)
		}
	}
}
