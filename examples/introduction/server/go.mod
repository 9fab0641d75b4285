module github.com/wsrpc/wsrpc-go/examples/introduction/server

go 1.26.8

require github.com/wsrpc/wsrpc-go v0.0.0

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
	github.com/josharian/intern v1.0.0 // indirect
	github.com/mailru/easyjson v0.9.2 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/wsrpc/wsrpc-go => ../../..
