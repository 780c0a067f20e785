package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"maasgo/wire"
)

// Scripts whose output the region reads (region/lifecycle): they get output the region can
// use instead of filler, or their result (and so the commissioning) would fail.
const (
	machineResourcesScript = "20-maas-03-machine-resources"
	inventoryScript        = "50-maas-01-commissioning"
	cmdlineScript          = "maas-kernel-cmdline"
	neighboursScript       = "maas-lldp-neighbours"
)

// outputs are a script result's four files as the runner uploads them.
type outputs struct {
	Combined, Stdout, Stderr, Result []byte
}

// files are o as a signal's file parts for script name, in the order the project's runner
// sends them (agent/output.go existingFiles): combined, stdout, stderr, result YAML.
func (o outputs) files(name string) []wire.SignalFile {
	return []wire.SignalFile{
		{Name: name, Data: o.Combined},
		{Name: name + ".out", Data: o.Stdout},
		{Name: name + ".err", Data: o.Stderr},
		{Name: name + ".yaml", Data: o.Result},
	}
}

// content makes the files every machine uploads: filler of one size, shared by all, and the
// machine's own documents where the region parses them.
type content struct {
	filler     []byte // log-like text
	resultYAML []byte // a valid result YAML: status passed, then metrics
	resources  []byte // the machine-resources fixture
	macs       []string
	salt       uint16 // makes this run's MAC addresses differ from an earlier run's
}

var macPattern = regexp.MustCompile(`(?i)\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b`)

// newContent prepares files of size bytes (filler and result YAML) and the fixture; salt
// tells this run's MAC addresses from those of other runs against the same region.
func newContent(size int, resources []byte, salt uint16) *content {
	c := &content{filler: filler(size), resultYAML: resultYAML(size), resources: resources, salt: salt}
	seen := map[string]bool{}
	for _, m := range macPattern.FindAll(resources, -1) {
		s := strings.ToLower(string(m))
		if !seen[s] && s != "00:00:00:00:00:00" && s != "ff:ff:ff:ff:ff:ff" {
			seen[s] = true
			c.macs = append(c.macs, s)
		}
	}
	return c
}

// machineMAC is the k-th MAC address (k < 16) of machine i (i < 2^24) in the run with salt: a
// locally administered unicast address, unique per (salt, i, k).
func machineMAC(salt uint16, i, k int) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", byte(salt>>8)&0xf0|0x02, byte(salt>>4)&0xf0|byte(k)&0x0f,
		byte(salt), byte(i>>16), byte(i>>8), byte(i))
}

// bootMAC is machine i's boot MAC: the one it is created with and names in BOOTIF.
func (c *content) bootMAC(i int) string { return machineMAC(c.salt, i, 0) }

// resourcesFor is the fixture with its MAC addresses replaced by machine i's own, so that
// machines do not take each other's interfaces (the region moves a NIC to the machine that
// reports it).
func (c *content) resourcesFor(i int) []byte {
	out := c.resources
	for k, m := range c.macs {
		mac := machineMAC(c.salt, i, k)
		out = replaceFold(out, m, mac)
	}
	return out
}

// replaceFold replaces every occurrence of the lower-case MAC old in b, in either case.
func replaceFold(b []byte, old, repl string) []byte {
	b = bytes.ReplaceAll(b, []byte(old), []byte(repl))
	return bytes.ReplaceAll(b, []byte(strings.ToUpper(old)), []byte(repl))
}

// forScript is what machine i's script name uploads.
func (c *content) forScript(i int, name string) outputs {
	var doc []byte
	switch name {
	case machineResourcesScript, inventoryScript:
		doc = c.resourcesFor(i)
	case cmdlineScript:
		doc = []byte("BOOT_IMAGE=/casper/vmlinuz ro root=squash:http://10.0.0.2:5248/images/squashfs ip=::::maas-enlist:BOOTIF " +
			"BOOTIF=01-" + strings.ReplaceAll(c.bootMAC(i), ":", "-") + " quiet\n")
	case neighboursScript:
		doc = []byte(`{"interfaces": {}}` + "\n")
	default:
		return outputs{Combined: c.filler, Stdout: c.filler, Stderr: c.filler, Result: c.resultYAML}
	}
	return outputs{Combined: doc, Stdout: doc, Stderr: c.filler, Result: c.resultYAML}
}

// filler is size bytes of log-like text lines.
func filler(size int) []byte {
	var b bytes.Buffer
	for n := 0; b.Len() < size; n++ {
		fmt.Fprintf(&b, "[%6d.%06d] fleet: simulated script output line %d, padding to a realistic size\n", n/10, n*7919%1000000, n)
	}
	return b.Bytes()[:size]
}

// resultYAML is a valid result YAML (status passed, then metrics) of about size bytes (at
// least its first line).
func resultYAML(size int) []byte {
	const head, line = "status: passed\nresults:\n", "  metric_00000: 12345.678\n"
	if size < len(head)+len(line) {
		return []byte("status: passed\n")
	}
	var b bytes.Buffer
	b.WriteString(head)
	for n := 0; b.Len()+len(line) <= size; n++ {
		fmt.Fprintf(&b, "  metric_%05d: %d.%03d\n", n, 10000+n*37%90000, n%1000)
	}
	return b.Bytes()
}
