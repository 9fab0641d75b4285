//go:build unix

package testkit

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// RaiseFileLimit raises this process's limit of open files to at least n
// (the hard limit too, which takes CAP_SYS_RESOURCE), or says why it
// cannot.
func RaiseFileLimit(n uint64) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	lim.Cur = n
	lim.Max = max(lim.Max, n)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open-file limit to %d: %w (run as root or with ulimit -n %d)", n, err, n)
	}
	return nil
}
