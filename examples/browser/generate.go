package main

// The page's typings, made from the demo's own routes (make browser-types,
// or go generate in examples/browser; the last step needs `npm ci` here):
// openrpc.json is the document rpc.discover serves, api.ts the TypeScript
// module `wsrpc gen ts` makes from it, api.js that module compiled, which
// the page imports. TestTypings checks all three are current.
//
//go:generate sh -c "go run . -openrpc > openrpc.json"
//go:generate sh -c "go run github.com/wsrpc/wsrpc-go/cmd/wsrpc gen ts openrpc.json > api.ts"
//go:generate node_modules/.bin/tsc --ignoreConfig --strict --target es2022 --module esnext --moduleResolution bundler api.ts
