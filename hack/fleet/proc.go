package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux
// architecture the project builds for.
const clockTicks = 100

// procSample is what /proc says of a process at one moment.
type procSample struct {
	CPU   time.Duration // user + system time used since it started
	HWMKB int64         // peak resident set size (VmHWM), KiB
	RSSKB int64         // resident set size now (VmRSS), KiB
}

// readProc samples process pid ("self" for this one).
func readProc(pid string) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, fmt.Errorf("read the cpu time of process %s: %w", pid, err)
	}
	if s.CPU, err = parseStatCPU(stat); err != nil {
		return s, fmt.Errorf("process %s: %w", pid, err)
	}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, fmt.Errorf("read the memory of process %s: %w", pid, err)
	}
	s.HWMKB, s.RSSKB = statusKB(status, "VmHWM:"), statusKB(status, "VmRSS:")
	return s, nil
}

// parseStatCPU reads utime + stime from the text of /proc/PID/stat. The fields are counted
// after the command name's closing parenthesis, since the name may hold spaces.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat %.40q", stat)
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15); fields[0] is field 3.
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc stat %.40q", stat)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed cpu time %q in /proc stat", f)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// statusKB reads a "Key:   123 kB" line of /proc/PID/status; 0 when absent.
func statusKB(status []byte, key string) int64 {
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
