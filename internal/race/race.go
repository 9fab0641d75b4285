// Package race reports whether the race detector is built in. Tests that
// pin allocation budgets skip under it: it makes sync.Pool drop items at
// random.
package race
