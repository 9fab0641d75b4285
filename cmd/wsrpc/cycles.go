package main

import "github.com/wsrpc/wsrpc-go/openrpc"

// Recursive schemas: components that refer to themselves, through others or
// not. Both generators must declare them so that the language accepts the
// cycle:
//
//   - A cycle of references that pass through nothing but other references
//     and unions (A = B, B = A | null) describes no value of its own; its
//     components are degenerate and become any (Go) or unknown (TS).
//   - In Go, a struct field that refers to a component of its own cycle is
//     a pointer, and a component of a cycle that is not a struct is a
//     defined type (type A []A), never an alias (type A = []A is invalid).
//   - In TS, a component of a cycle writes its maps as index signatures
//     ({ [key: string]: A }): Record<string, A> is an alias, which may not
//     refer to the alias it declares.
//
// findCycles computes this in time linear in the schemas (Tarjan's
// strongly connected components, once over every reference and once over
// the direct ones).
func (a *api) findCycles() {
	all := make(map[*component][]*component, len(a.components))
	direct := make(map[*component][]*component, len(a.components))
	for _, name := range a.compNames {
		c := a.components[name]
		a.refs(c.schema, true, func(d *component, isDirect bool) {
			all[c] = append(all[c], d)
			if isDirect {
				direct[c] = append(direct[c], d)
			}
		})
	}
	for i, scc := range a.sccs(all) {
		for _, c := range scc {
			c.cycle = i + 1
		}
	}
	for _, scc := range a.sccs(direct) {
		for _, c := range scc {
			c.degenerate = true
		}
	}
}

// refs calls f for each component s refers to; direct says whether the
// reference is s itself or a member of its unions (a TypeScript alias may
// not refer back to itself there), rather than inside an object or array.
func (a *api) refs(s *openrpc.Schema, direct bool, f func(c *component, direct bool)) {
	if s == nil {
		return
	}
	if s.Ref != "" {
		if c := a.component(s.Ref); c != nil {
			f(c, direct)
		}
		return // the generators read nothing beside a $ref
	}
	for _, list := range [][]*openrpc.Schema{s.OneOf, s.AnyOf, s.AllOf} {
		for _, x := range list {
			a.refs(x, direct, f)
		}
	}
	for _, p := range s.Properties {
		a.refs(p.Schema, false, f)
	}
	a.refs(s.AdditionalProperties, false, f)
	a.refs(s.Items, false, f)
	for _, x := range s.TupleItems {
		a.refs(x, false, f)
	}
}

// sccs returns the cycles of the graph: its strongly connected components
// of more than one component, or of one that refers to itself.
func (a *api) sccs(edges map[*component][]*component) [][]*component {
	type state struct {
		index, low int
		onStack    bool
	}
	st := make(map[*component]*state, len(a.components))
	var stack []*component
	var out [][]*component
	next := 0
	var visit func(c *component)
	visit = func(c *component) {
		s := &state{index: next, low: next, onStack: true}
		st[c] = s
		next++
		stack = append(stack, c)
		self := false
		for _, d := range edges[c] {
			if d == c {
				self = true
			}
			ds := st[d]
			switch {
			case ds == nil:
				visit(d)
				s.low = min(s.low, st[d].low)
			case ds.onStack:
				s.low = min(s.low, ds.index)
			}
		}
		if s.low != s.index {
			return
		}
		var scc []*component
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			st[top].onStack = false
			scc = append(scc, top)
			if top == c {
				break
			}
		}
		if len(scc) > 1 || self {
			out = append(out, scc)
		}
	}
	for _, name := range a.compNames {
		if c := a.components[name]; st[c] == nil {
			visit(c)
		}
	}
	return out
}

// sameCycle reports whether the schema s, a field of the component in,
// refers to a component of in's cycle.
func (a *api) sameCycle(in *component, s *openrpc.Schema) bool {
	if in == nil || in.cycle == 0 || s == nil || s.Ref == "" {
		return false
	}
	c := a.component(s.Ref)
	return c != nil && c.cycle == in.cycle
}
