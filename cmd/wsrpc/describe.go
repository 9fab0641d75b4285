package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// libraryErrors are the error types every wsrpc method may answer; describe
// lists only the others.
var libraryErrors = map[string]bool{
	"TypeError": true, "RuntimeError": true, "ValueError": true, "Exception": true,
	"TimeoutError": true, "NotImplementedError": true,
}

// describe runs "wsrpc describe": the methods of the document of src (a
// URL or a file), one signature a line, with param types and docs below;
// with -json the document itself.
func (s *session) describe(ctx context.Context, src string, stdin io.Reader) int {
	raw, d, err := s.document(ctx, src, stdin)
	if err != nil {
		return s.fail(err)
	}
	if s.o.json {
		s.out.print("", safe(compact(raw), true))
		return exitOK
	}
	a, err := newAPI(d)
	if err != nil {
		return s.fail(err)
	}
	s.out.print("", safe([]byte(describeText(a)), false))
	return exitOK
}

// describeText is what describe prints:
//
//	wsrpc introduction 0.0.0 (OpenRPC 1.3.2)
//
//	Methods:
//	  subtract(a, b): number
//	      a: number, b: number
//	      Returns a − b, ...
//
// An optional param has a "?" (kv.get(key, default?)); positional params
// are named arg1, arg2, ...; params of any keys show as (params?). Error
// types other than the library's are listed ("errors: KeyError").
func describeText(a *api) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (OpenRPC %s)\n", a.doc.Info.Title, a.doc.Info.Version, a.doc.OpenRPC)
	if a.doc.Info.Description != "" {
		fmt.Fprintf(&b, "%s\n", a.doc.Info.Description)
	}
	section := func(title string, ms []apiMethod) {
		fmt.Fprintf(&b, "\n%s:\n", title)
		for _, m := range ms {
			var names, types []string
			for _, p := range append(append([]apiParam(nil), m.fields...), m.args...) {
				opt := ""
				if !p.required {
					opt = "?"
				}
				names = append(names, p.name+opt)
				types = append(types, p.name+opt+": "+a.tsType(p.schema))
			}
			if m.whole != nil {
				names = append(names, "params?")
				types = append(types, "params?: "+a.tsType(m.whole))
			}
			fmt.Fprintf(&b, "  %s(%s): %s\n", m.m.Name, strings.Join(names, ", "), a.tsSchemaOrNull(m.result))
			if len(types) > 0 {
				fmt.Fprintf(&b, "      %s\n", strings.Join(types, ", "))
			}
			for _, l := range strings.Split(strings.TrimSpace(m.m.Description), "\n") {
				if l != "" {
					fmt.Fprintf(&b, "      %s\n", l)
				}
			}
			var errs []string
			for _, e := range m.m.Errors {
				if t := e.Type(); !libraryErrors[t] {
					errs = append(errs, t)
				}
			}
			if len(errs) > 0 {
				fmt.Fprintf(&b, "      errors: %s\n", strings.Join(errs, ", "))
			}
		}
	}
	section("Methods", a.methods)
	if len(a.peer) > 0 {
		section("Methods the peer must expose (it calls them)", a.peer)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
