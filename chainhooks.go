package wsrpc

import "context"

// ChainHooks returns hooks that run every hook of first, then the same hook
// of then; either may be nil, and a hook missing from one runs alone. An
// error from first's OnConnect stops the chain: then's OnConnect does not
// run and the error is returned. It is how an integration (metrics, tracing,
// a cluster) adds its hooks in front of a user's:
//
//	opts.Hooks = wsrpc.ChainHooks(&wsrpc.Hooks{OnClose: count}, opts.Hooks)
//
// The result is a new Hooks (nil when both are nil); first and then are not
// changed, and later changes to them are not seen.
func ChainHooks(first, then *Hooks) *Hooks {
	if first == nil && then == nil {
		return nil
	}
	var a, b Hooks
	if first != nil {
		a = *first
	}
	if then != nil {
		b = *then
	}
	return &Hooks{
		OnOpen:        chain1(a.OnOpen, b.OnOpen),
		OnAuthSuccess: chain1(a.OnAuthSuccess, b.OnAuthSuccess),
		OnAuthFail:    chain1(a.OnAuthFail, b.OnAuthFail),
		OnUpgradeFail: chain2(a.OnUpgradeFail, b.OnUpgradeFail),
		OnConnect:     chainConnect(a.OnConnect, b.OnConnect),
		OnClose:       chain2(a.OnClose, b.OnClose),
		OnCallStart:   chain2(a.OnCallStart, b.OnCallStart),
		OnCallSuccess: chain3(a.OnCallSuccess, b.OnCallSuccess),
		OnCallFail:    chain3(a.OnCallFail, b.OnCallFail),
		OnMessage:     chain3(a.OnMessage, b.OnMessage),
	}
}

// chainConnect runs f then g; f's error is returned without running g.
func chainConnect(f, g func(context.Context, *Conn) error) func(context.Context, *Conn) error {
	if f == nil {
		return g
	}
	if g == nil {
		return f
	}
	return func(ctx context.Context, c *Conn) error {
		if err := f(ctx, c); err != nil {
			return err
		}
		return g(ctx, c)
	}
}

func chain1[A any](f, g func(A)) func(A) {
	if f == nil {
		return g
	}
	if g == nil {
		return f
	}
	return func(a A) { f(a); g(a) }
}

func chain2[A, B any](f, g func(A, B)) func(A, B) {
	if f == nil {
		return g
	}
	if g == nil {
		return f
	}
	return func(a A, b B) { f(a, b); g(a, b) }
}

func chain3[A, B, C any](f, g func(A, B, C)) func(A, B, C) {
	if f == nil {
		return g
	}
	if g == nil {
		return f
	}
	return func(a A, b B, c C) { f(a, b, c); g(a, b, c) }
}
