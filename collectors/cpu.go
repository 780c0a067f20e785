package collectors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"maasgo/collectors/schema"
)

// cpuCollector fills resources.cpu: sockets, cores and threads from sysfs topology, the NUMA
// node of each thread, names from /proc/cpuinfo, caches and cpufreq frequencies.
//
// Reads: /sys/devices/system/cpu/{isolated,cpuN/{online,topology/*,cache/index*/*,
// cpufreq/*,nodeN}}, /sys/devices/system/node, /proc/cpuinfo; the Host seam (architecture).
type cpuCollector struct{}

func (cpuCollector) Name() string { return "cpu" }

const sysCPU = "/sys/devices/system/cpu"

type cpuThreadInfo struct {
	id               int64
	socket, core     uint64
	die              uint64
	numa             uint64
	online, isolated bool
	freq             uint64 // MHz
	base             string
}

func (cpuCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	f := env.FS
	out := schema.CPU{Sockets: []schema.CPUSocket{}}
	if u, err := env.Uname(); err == nil {
		out.Architecture = u.Machine
	}
	ents, err := f.ReadDir(sysCPU)
	if err != nil {
		return err
	}
	isolated := map[int64]bool{}
	if s, err := readOptString(f, sysCPU+"/isolated"); err != nil {
		return err
	} else if s != "" {
		ids, err := parseCPUList(s)
		if err != nil {
			return fmt.Errorf("parse %s/isolated: %w", sysCPU, err)
		}
		for _, id := range ids {
			isolated[id] = true
		}
	}
	nodes, err := numaNodeIDs(f)
	if err != nil {
		return err
	}
	var threads []cpuThreadInfo
	for _, e := range ents {
		idStr, ok := strings.CutPrefix(e.Name, "cpu")
		if !ok {
			continue
		}
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil {
			continue
		}
		base := sysCPU + "/" + e.Name
		if !f.IsDir(base + "/topology") {
			continue
		}
		t, err := readCPUThread(f, base, id, nodes)
		if err != nil {
			return err
		}
		t.isolated = isolated[id]
		threads = append(threads, t)
	}
	procs, global, err := readCPUInfo(f)
	if err != nil {
		return err
	}
	sort.Slice(threads, func(i, j int) bool { return threads[i].id < threads[j].id })
	bySocket := map[uint64][]cpuThreadInfo{}
	var socketIDs []uint64
	for _, t := range threads {
		if _, ok := bySocket[t.socket]; !ok {
			socketIDs = append(socketIDs, t.socket)
		}
		bySocket[t.socket] = append(bySocket[t.socket], t)
	}
	sort.Slice(socketIDs, func(i, j int) bool { return socketIDs[i] < socketIDs[j] })
	for _, sid := range socketIDs {
		s, err := buildSocket(f, sid, bySocket[sid], procs, global)
		if err != nil {
			return err
		}
		out.Sockets = append(out.Sockets, s)
	}
	out.Total = uint64(len(threads))
	doc.Resources.CPU = out
	return nil
}

func readCPUThread(f *FS, base string, id int64, nodes []uint64) (cpuThreadInfo, error) {
	t := cpuThreadInfo{id: id, online: true, base: base}
	pkg, _, err := readInt(f, base+"/topology/physical_package_id")
	if err != nil {
		return t, err
	}
	if pkg > 0 {
		t.socket = uint64(pkg)
	}
	core, _, err := readInt(f, base+"/topology/core_id")
	if err != nil {
		return t, err
	}
	if core > 0 {
		t.core = uint64(core)
	}
	die, _, err := readInt(f, base+"/topology/die_id")
	if err != nil {
		return t, err
	}
	if die > 0 {
		t.die = uint64(die)
	}
	if v, ok, err := readUint(f, base+"/online"); err != nil {
		return t, err
	} else if ok {
		t.online = v == 1
	}
	for _, n := range nodes {
		if f.Exists(fmt.Sprintf("%s/node%d", base, n)) {
			t.numa = n
			break
		}
	}
	if v, ok, err := readUint(f, base+"/cpufreq/scaling_cur_freq"); err != nil {
		return t, err
	} else if ok {
		t.freq = v / 1000
	}
	return t, nil
}

func buildSocket(f *FS, sid uint64, threads []cpuThreadInfo, procs map[int64]map[string]string, global map[string]string) (schema.CPUSocket, error) {
	s := schema.CPUSocket{Socket: sid}
	first := threads[0]
	info := procs[first.id]
	pick := func(keys ...string) string {
		for _, k := range keys {
			if v := info[k]; v != "" {
				return v
			}
			if v := global[k]; v != "" {
				return v
			}
		}
		return ""
	}
	s.Name = pick("model name", "cpu", "Processor")
	s.Vendor = pick("vendor_id", "vendor")
	caches, err := readCaches(f, first.base)
	if err != nil {
		return s, err
	}
	s.Cache = caches
	type coreKey struct{ die, core uint64 }
	cores := map[coreKey]*schema.CPUCore{}
	var keys []coreKey
	for _, t := range threads {
		k := coreKey{t.die, t.core}
		c := cores[k]
		if c == nil {
			c = &schema.CPUCore{Core: t.core, Die: t.die, Frequency: t.freq}
			cores[k] = c
			keys = append(keys, k)
		}
		c.Threads = append(c.Threads, schema.CPUThread{
			ID: t.id, NUMANode: t.numa, Thread: uint64(len(c.Threads)), Online: t.online, Isolated: t.isolated,
		})
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].core != keys[j].core {
			return keys[i].core < keys[j].core
		}
		return keys[i].die < keys[j].die
	})
	var sum, n uint64
	for _, k := range keys {
		c := cores[k]
		s.Cores = append(s.Cores, *c)
		if c.Frequency > 0 {
			sum += c.Frequency
			n++
		}
	}
	if n > 0 {
		s.Frequency = sum / n
	}
	for _, pair := range [][2]string{{"cpuinfo_min_freq", "cpuinfo_max_freq"}, {"scaling_min_freq", "scaling_max_freq"}} {
		minF, ok1, err := readUint(f, first.base+"/cpufreq/"+pair[0])
		if err != nil {
			return s, err
		}
		maxF, ok2, err := readUint(f, first.base+"/cpufreq/"+pair[1])
		if err != nil {
			return s, err
		}
		if ok1 || ok2 {
			s.FrequencyMinimum, s.FrequencyTurbo = minF/1000, maxF/1000
			break
		}
	}
	return s, nil
}

func readCaches(f *FS, base string) ([]schema.CPUCache, error) {
	ents, err := f.ReadDir(base + "/cache")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []schema.CPUCache
	for _, e := range ents {
		if !strings.HasPrefix(e.Name, "index") {
			continue
		}
		dir := base + "/cache/" + e.Name
		level, ok, err := readUint(f, dir+"/level")
		if err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		typ, err := readOptString(f, dir+"/type")
		if err != nil {
			return nil, err
		}
		sizeStr, err := readOptString(f, dir+"/size")
		if err != nil {
			return nil, err
		}
		size, err := parseCacheSize(sizeStr)
		if err != nil {
			return nil, fmt.Errorf("parse %s/size: %w", dir, err)
		}
		out = append(out, schema.CPUCache{Level: level, Type: typ, Size: size})
	}
	return out, nil
}

// parseCacheSize parses sysfs cache sizes such as "32K", "1024K" or "16M".
func parseCacheSize(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	mult := uint64(1)
	switch s[len(s)-1] {
	case 'K':
		mult, s = 1024, s[:len(s)-1]
	case 'M':
		mult, s = 1024*1024, s[:len(s)-1]
	case 'G':
		mult, s = 1024*1024*1024, s[:len(s)-1]
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	return v * mult, nil
}

// numaNodeIDs lists the NUMA nodes in /sys/devices/system/node; none when it is absent.
func numaNodeIDs(f *FS) ([]uint64, error) {
	ents, err := f.ReadDir("/sys/devices/system/node")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		if n, ok := strings.CutPrefix(e.Name, "node"); ok {
			if v, err := strconv.ParseUint(n, 10, 64); err == nil {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func readCPUInfo(f *FS) (map[int64]map[string]string, map[string]string, error) {
	data, err := f.ReadFile("/proc/cpuinfo")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	procs, global := parseCPUInfo(string(data))
	return procs, global, nil
}

// parseCPUInfo splits /proc/cpuinfo into per-processor key/value maps (keyed by the
// "processor" number) and the keys that appear outside any processor block.
func parseCPUInfo(s string) (map[int64]map[string]string, map[string]string) {
	procs := map[int64]map[string]string{}
	global := map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" {
			cur = nil
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "processor" {
			if id, err := strconv.ParseInt(v, 10, 64); err == nil {
				cur = map[string]string{}
				procs[id] = cur
				continue
			}
		}
		if cur != nil {
			if _, dup := cur[k]; !dup {
				cur[k] = v
			}
		} else if _, dup := global[k]; !dup {
			global[k] = v
		}
	}
	return procs, global
}

// parseCPUList parses a kernel cpu list such as "0-3,8,10-11".
func parseCPUList(s string) ([]int64, error) {
	var out []int64
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad cpu list element %q", part)
		}
		b := a
		if isRange {
			b, err = strconv.ParseInt(strings.TrimSpace(hi), 10, 32)
			if err != nil || b < a || b-a > 1<<16 {
				return nil, fmt.Errorf("bad cpu list element %q", part)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}
