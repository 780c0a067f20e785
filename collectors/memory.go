package collectors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"maasgo/collectors/schema"
)

// memoryCollector fills resources.memory: the total from online memory blocks (falling back
// to MemTotal), hugepages, and per-NUMA-node totals.
//
// Reads: /proc/meminfo, /sys/devices/system/memory/{block_size_bytes,memoryN/online},
// /sys/devices/system/node/nodeN/{meminfo,memoryN/online}.
type memoryCollector struct{}

func (memoryCollector) Name() string { return "memory" }

const sysMemory = "/sys/devices/system/memory"

// meminfo holds the /proc/meminfo (or nodeN/meminfo) values used, in bytes or pages.
type meminfo struct {
	Total, Free, Used, Cached, Buffers uint64
	HugepagesTotal, HugepagesFree      uint64 // pages
	HugepagesSize                      uint64 // bytes
}

func (memoryCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	f := env.FS
	data, err := f.ReadFile("/proc/meminfo")
	if err != nil {
		return err
	}
	info, err := parseMeminfo(string(data))
	if err != nil {
		return fmt.Errorf("parse /proc/meminfo: %w", err)
	}
	blockSize, err := memoryBlockSize(f)
	if err != nil {
		return err
	}
	online, err := onlineBlocks(f, sysMemory, nil)
	if err != nil {
		return err
	}
	if t := uint64(len(online)) * blockSize; t > 0 {
		info.Total = t
	}
	m := schema.Memory{
		HugepagesTotal: info.HugepagesTotal * info.HugepagesSize,
		HugepagesUsed:  sub(info.HugepagesTotal, info.HugepagesFree) * info.HugepagesSize,
		HugepagesSize:  info.HugepagesSize,
		Used:           sub(info.Total, info.Free+info.Cached+info.Buffers),
		Total:          info.Total,
	}
	nodes, err := numaNodeIDs(f)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		dir := fmt.Sprintf("/sys/devices/system/node/node%d", n)
		data, err := f.ReadFile(dir + "/meminfo")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		ni, err := parseMeminfo(string(data))
		if err != nil {
			return fmt.Errorf("parse %s/meminfo: %w", dir, err)
		}
		node := schema.MemoryNode{
			NUMANode:       n,
			HugepagesUsed:  sub(ni.HugepagesTotal, ni.HugepagesFree) * info.HugepagesSize,
			HugepagesTotal: ni.HugepagesTotal * info.HugepagesSize,
			Used:           ni.Used,
			Total:          ni.Total,
		}
		nodeOnline, err := onlineBlocks(f, dir, online)
		if err != nil {
			return err
		}
		if t := uint64(len(nodeOnline)) * blockSize; t > 0 {
			node.Total = t
		}
		m.Nodes = append(m.Nodes, node)
	}
	doc.Resources.Memory = m
	return nil
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func memoryBlockSize(f *FS) (uint64, error) {
	s, err := readOptString(f, sysMemory+"/block_size_bytes")
	if err != nil || s == "" {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s/block_size_bytes: %w", sysMemory, err)
	}
	return v, nil
}

// onlineBlocks returns the names of the online memoryN blocks listed in dir. When known is
// not nil it tells which blocks are online (a node directory links to the blocks of
// /sys/devices/system/memory, so their state is not read twice).
func onlineBlocks(f *FS, dir string, known map[string]bool) (map[string]bool, error) {
	out := map[string]bool{}
	ents, err := f.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var names, paths []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name, "memory") {
			continue
		}
		if _, err := strconv.ParseUint(e.Name[len("memory"):], 10, 64); err != nil {
			continue
		}
		if known != nil {
			if known[e.Name] {
				out[e.Name] = true
			}
			continue
		}
		names = append(names, e.Name)
		paths = append(paths, dir+"/"+e.Name+"/online")
	}
	if len(paths) == 0 {
		return out, nil
	}
	data, err := f.ReadFiles(paths)
	if err != nil {
		return nil, err
	}
	for i, d := range data {
		if strings.TrimSpace(string(d)) == "1" {
			out[names[i]] = true
		}
	}
	return out, nil
}

// parseMeminfo parses /proc/meminfo or a node's meminfo ("Node 0 MemTotal:  123 kB").
func parseMeminfo(s string) (meminfo, error) {
	var m meminfo
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(k)
		if len(fields) == 0 {
			continue
		}
		key := fields[len(fields)-1]
		var dst *uint64
		pages := false
		switch key {
		case "MemTotal":
			dst = &m.Total
		case "MemFree":
			dst = &m.Free
		case "MemUsed":
			dst = &m.Used
		case "Cached":
			dst = &m.Cached
		case "Buffers":
			dst = &m.Buffers
		case "HugePages_Total":
			dst, pages = &m.HugepagesTotal, true
		case "HugePages_Free":
			dst, pages = &m.HugepagesFree, true
		case "Hugepagesize":
			dst = &m.HugepagesSize
		default:
			continue
		}
		vf := strings.Fields(v)
		if len(vf) == 0 {
			return m, fmt.Errorf("%s: no value", key)
		}
		n, err := strconv.ParseUint(vf[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("%s: %w", key, err)
		}
		if !pages && len(vf) > 1 {
			switch strings.ToLower(vf[1]) {
			case "kb":
				n *= 1024
			case "mb":
				n *= 1024 * 1024
			case "gb":
				n *= 1024 * 1024 * 1024
			}
		}
		*dst = n
	}
	return m, nil
}
