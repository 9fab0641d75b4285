//go:build !linux

package main

import "errors"

// runLoad needs epoll and /proc.
func runLoad(o options) error { return errors.New("load mode needs Linux") }
