module github.com/wsrpc/wsrpc-go/scripts/modproxy

go 1.26.8

require golang.org/x/mod v0.30.0
