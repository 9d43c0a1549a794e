package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procStats reads a process's CPU seconds (user+system) and resident memory from /proc, and
// the load tool's own CPU seconds: on a machine the two share, the load tool's CPU per
// operation bounds what any router can reach.
type procStats struct {
	cpuSeconds  float64
	rssBytes    int64
	selfSeconds float64
	// syscr and syscw count the router's read and write system calls (/proc/PID/io: read,
	// readv, write, writev..., those that found the socket empty or full included).
	syscr, syscw int64
}

const clockTicks = 100 // USER_HZ on Linux

func readProc(pid int) (procStats, error) {
	var st procStats
	st.selfSeconds = selfCPUSeconds()
	if pid <= 0 {
		return st, nil
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, fmt.Errorf("read stat: %w", err)
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	st.cpuSeconds = (utime + stime) / clockTicks
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, fmt.Errorf("read status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			st.rssBytes = kb * 1024
		}
	}
	if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for _, line := range strings.Split(string(io), "\n") {
			if rest, ok := strings.CutPrefix(line, "syscr: "); ok {
				st.syscr, _ = strconv.ParseInt(rest, 10, 64)
			} else if rest, ok := strings.CutPrefix(line, "syscw: "); ok {
				st.syscw, _ = strconv.ParseInt(rest, 10, 64)
			}
		}
	}
	return st, nil
}
