package main

import (
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"time"
)

// histogram counts latencies in log-linear buckets: exact below 64 ns,
// then 32 buckets per power of two (within 3%).
type histogram struct {
	n [40 * 32]uint64
}

func bucket(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 64 {
		return int(v)
	}
	shift := bits.Len64(v) - 6
	return min(shift*32+int(v>>shift), len(histogram{}.n)-1)
}

func (h *histogram) add(d time.Duration) { h.n[bucket(d)]++ }

func (h *histogram) merge(o *histogram) {
	for i, v := range o.n {
		h.n[i] += v
	}
}

// quantile returns the latency under which a fraction q of the calls fell
// (the middle of its bucket).
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for _, v := range h.n {
		total += v
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total-1))
	var seen uint64
	for i, v := range h.n {
		seen += v
		if seen > rank {
			if i < 64 {
				return time.Duration(i)
			}
			shift := i/32 - 1
			lo := uint64(i%32+32) << shift
			return time.Duration(lo + (uint64(1)<<shift)/2)
		}
	}
	return 0
}

// procSample is a process's CPU time (user + system, and user alone,
// seconds) and its read and write system calls so far.
type procSample struct {
	cpu, user float64
	syscalls  int64
}

// readProc samples process pid from /proc (pid 0: nothing).
func readProc(pid int) (procSample, error) {
	if pid == 0 {
		return procSample{}, fmt.Errorf("no pid")
	}
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The fields after the command's closing parenthesis; utime and stime
	// are the 14th and 15th of the line.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.cpu = float64(ut+st) / clockTicks
	s.user = float64(ut) / clockTicks
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(io), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && (k == "syscr" || k == "syscw") {
			n, _ := strconv.ParseInt(v, 10, 64)
			s.syscalls += n
		}
	}
	return s, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go runs on.
const clockTicks = 100
