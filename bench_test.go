package wsrpc

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// benchParams and benchResult carry hand-written easyjson code, as
// generated code would.
type benchParams struct {
	A int64 `json:"a"`
	B int64 `json:"b"`
}

func (p *benchParams) UnmarshalEasyJSON(l *jlexer.Lexer) {
	l.Delim('{')
	for !l.IsDelim('}') {
		key := l.UnsafeFieldName(false)
		l.WantColon()
		switch key {
		case "a":
			p.A = l.Int64()
		case "b":
			p.B = l.Int64()
		default:
			l.SkipRecursive()
		}
		l.WantComma()
	}
	l.Delim('}')
}

type benchResult struct {
	Diff int64 `json:"diff"`
}

func (r benchResult) MarshalEasyJSON(w *jwriter.Writer) {
	w.RawString(`{"diff":`)
	w.Int64(r.Diff)
	w.RawByte('}')
}

// benchCalc is a struct route on the fast path.
type benchCalc struct {
	Route `wsrpc:"proxy,inline" methods:"Sub"`
	res   benchResult
}

func (c *benchCalc) Sub(ctx context.Context, p *benchParams) (*benchResult, error) {
	c.res.Diff = p.A - p.B
	return &c.res, nil
}

// benchCalcReflect has value params: the reflection path.
type benchCalcReflect struct {
	Route `wsrpc:"proxy,inline" methods:"Sub"`
}

func (c *benchCalcReflect) Sub(ctx context.Context, p benchParams) (benchResult, error) {
	return benchResult{p.A - p.B}, nil
}

type discardTransport struct{ n int }

func (d *discardTransport) WriteMessages(msgs [][]byte) error   { d.n += len(msgs); return nil }
func (d *discardTransport) Close(code int, reason string) error { return nil }

var benchResultStore = benchResult{}

func benchConn(b *testing.B, reg *Registry) (*Conn, *discardTransport) {
	tr := &discardTransport{}
	c := NewConn(tr, ConnConfig{Role: RoleServer, Registry: reg, BatchedReads: true})
	b.Cleanup(func() { _ = c.Close() })
	return c, tr
}

// BenchmarkDispatch measures one call from the bytes of its frame to its
// encoded reply handed to the transport: frame decoding, routing, params
// decoding, the call, result and reply encoding, queueing and the write.
func BenchmarkDispatch(b *testing.B) {
	reg := NewRegistry()
	reg.MustAdd("calc", &benchCalc{})
	reg.MustAdd("calc_reflect", &benchCalcReflect{})
	res := &benchResult{}
	reg.MustAdd("sub", Inline(func(ctx context.Context, p *benchParams) (*benchResult, error) {
		res.Diff = p.A - p.B
		return res, nil
	}))
	reg.MustAdd("sub_reflect", Inline(func(ctx context.Context, p benchParams) (benchResult, error) {
		return benchResult{p.A - p.B}, nil
	}))
	reg.MustAdd("sub_worker", func(ctx context.Context, p *benchParams) (*benchResult, error) {
		return &benchResult{p.A - p.B}, nil
	})
	for _, bc := range []struct{ name, method string }{
		{"struct", "calc.sub"},
		{"func", "sub"},
		{"struct-reflect", "calc_reflect.sub"},
		{"func-reflect", "sub_reflect"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, tr := benchConn(b, reg)
			msg := []byte(`{"id":7,"method":"` + bc.method + `","params":{"a":10,"b":3}}`)
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				c.HandleMessage(msg)
				if err := c.Flush(true); err != nil {
					b.Fatal(err)
				}
			}
			if tr.n == 0 {
				b.Fatal("no reply was written")
			}
		})
	}
	// A handler that is not inline runs on a pooled worker goroutine.
	b.Run("worker", func(b *testing.B) {
		c, tr := benchConn(b, reg)
		msg := []byte(`{"id":7,"method":"sub_worker","params":{"a":10,"b":3}}`)
		b.ReportAllocs()
		for b.Loop() {
			c.HandleMessage(msg)
			for {
				c.mu.Lock()
				idle := c.sched.running == 0
				c.mu.Unlock()
				if idle {
					break
				}
			}
		}
		_ = tr
	})
}

// BenchmarkCodec measures the frame decoder and the reply encoder alone.
func BenchmarkCodec(b *testing.B) {
	msg := []byte(`{"id":7,"method":"calc.sub","params":{"a":10,"b":3}}`)
	b.Run("decode-frame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f frame
			if f.scan(msg) != nil || f.Method == nil {
				b.Fatal("bad frame")
			}
		}
	})
	b.Run("encode-reply", func(b *testing.B) {
		buf := make([]byte, 0, 256)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var w jwriter.Writer
			w.Buffer.Buf = buf[:0]
			w.RawString(`{"id":`)
			w.Raw(strconv.AppendInt(nil, 7, 10), nil)
			w.RawString(`,"result":`)
			benchResultStore.MarshalEasyJSON(&w)
			w.RawByte('}')
			out, _ := w.BuildBytes()
			buf = out
		}
	})
}

var _ = json.Valid
