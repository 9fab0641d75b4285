//go:build !unix

package testkit

import "errors"

// RaiseFileLimit raises this process's limit of open files to at least n:
// only on Unix.
func RaiseFileLimit(n uint64) error {
	return errors.New("raising the open-file limit is supported on Unix only")
}
