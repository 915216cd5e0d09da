package run

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// killSession signals every live process of session sid: the connection
// command runs in a session of its own, and an interactive shell behind it
// (a local board, a "sh -i" connect command) moves its jobs to process
// groups of their own, which a signal to the group would miss.
func killSession(sid int, sig syscall.Signal) int {
	_ = syscall.Kill(-sid, sig)
	pids := sessionPIDs(sid)
	for _, p := range pids {
		_ = syscall.Kill(p, sig)
	}
	return len(pids)
}

// sessionPIDs lists the non-zombie processes of session sid from /proc.
func sessionPIDs(sid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if state, session, ok := statSession(string(data)); ok && session == sid && state != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// statSession reads the state and session id from a /proc/PID/stat line;
// fields are counted after the last ')' since the command may hold spaces.
func statSession(stat string) (state string, session int, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 4 {
		return "", 0, false
	}
	s, err := strconv.Atoi(f[3])
	if err != nil {
		return "", 0, false
	}
	return f[0], s, true
}
