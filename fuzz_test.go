package wsrpc

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mailru/easyjson/jwriter"
)

// recordingTransport keeps what the engine writes.
type recordingTransport struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (r *recordingTransport) WriteMessages(msgs [][]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		r.msgs = append(r.msgs, append([]byte(nil), m...))
	}
	return nil
}

func (r *recordingTransport) Close(code int, reason string) error { return nil }

type fuzzKV struct {
	Route `wsrpc:"proxy" methods:"Get,Set"`
	data  map[string]json.RawMessage
}

func (s *fuzzKV) Init(ctx context.Context) { s.data = map[string]json.RawMessage{} }
func (s *fuzzKV) Get(p struct {
	Key string `json:"key"`
}) json.RawMessage {
	return s.data[p.Key]
}
func (s *fuzzKV) Set(p struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}) bool {
	s.data[p.Key] = p.Value
	return true
}

func fuzzRegistry() *Registry {
	reg := NewRegistry()
	reg.MustAdd("subtract", func(p struct {
		A int64 `json:"a"`
		B int64 `json:"b"`
	}) int64 {
		return p.A - p.B
	})
	reg.MustAdd("positional", func(a string, b []int, c map[string]float64) int { return len(a) + len(b) + len(c) })
	reg.MustAdd("kv", &fuzzKV{})
	reg.MustAdd("panic", func() { panic("fuzz") })
	return reg
}

// FuzzHandleMessage feeds arbitrary messages to the engine: it must never
// panic or hang, and everything it writes must be a JSON object with an id.
func FuzzHandleMessage(f *testing.F) {
	for _, seed := range []string{
		`{"id":1,"method":"subtract","params":{"a":1,"b":9}}`,
		`{"id":2,"method":"kv.set","params":{"key":"k","value":[1,{"x":null}]}}`,
		`{"id":3,"method":"kv.get","params":["k"]}`,
		`{"id":-4,"method":"positional","params":["x",[1,2],{"a":1.5}]}`,
		`{"id":5,"method":"kv"}`,
		`{"id":6,"method":"ping","params":{"seq":1}}`,
		`{"id":7,"result":1}`,
		`{"id":8,"error":{"type":"X","message":"y"}}`,
		`{"method":"event"}`,
		`{"id":true,"method":"panic"}`,
		`{"id":1e3,"method":"ping"}`,
		`{"id":1,"method":"\u006bv.get","params":{"key":"\ud800"}}`,
		`[1,2]`, `nul`, `{"id":1,"method":null}`,
	} {
		f.Add([]byte(seed))
	}
	reg := fuzzRegistry()
	noKeepalive := &Options{KeepaliveInterval: -1} // its pings are not what this looks at
	f.Fuzz(func(t *testing.T, msg []byte) {
		tr := &recordingTransport{}
		c := NewConn(tr, ConnConfig{Role: RoleServer, Registry: reg, Options: noKeepalive})
		c.Start()
		c.HandleMessage(msg)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Drain(ctx); err != nil {
			t.Fatalf("handlers did not finish: %v", err)
		}
		_ = c.Close()
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, out := range tr.msgs {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(out, &obj); err != nil {
				t.Fatalf("wrote invalid JSON %q for input %q: %v", out, msg, err)
			}
			if _, ok := obj["id"]; !ok {
				t.Fatalf("wrote a reply without id: %q", out)
			}
			_, hasResult := obj["result"]
			_, hasError := obj["error"]
			if hasResult == hasError {
				t.Fatalf("a reply must carry exactly one of result and error: %q", out)
			}
		}
	})
}

// FuzzParams decodes arbitrary params for each handler shape: a TypeError or
// a result, never a panic.
func FuzzParams(f *testing.F) {
	for _, seed := range []string{``, `null`, `{}`, `[]`, `{"a":1,"b":2}`, `[1,2]`, `"s"`, `[{"a":1}]`, `{"a":1e400}`, `[[],{},1]`} {
		f.Add([]byte(seed))
	}
	reg := fuzzRegistry()
	var methods []*method
	for _, name := range []string{"subtract", "positional", "ping"} {
		fr, _, _, _ := reg.lookup(name)
		methods = append(methods, fr.m)
	}
	_, kv, _, _ := reg.lookup("kv")
	f.Fuzz(func(t *testing.T, params []byte) {
		// The engine only passes params of a message that is valid JSON.
		valid := len(params) == 0 || json.Valid(params)
		for _, m := range methods {
			var w jwriter.Writer
			if err := m.call(context.Background(), recvOf(reflect.Value{}), params, &w); err == nil {
				if out, _ := w.BuildBytes(); valid && !json.Valid(out) {
					t.Fatalf("%s wrote invalid JSON %q", m.name, out)
				}
			} else if _, ok := err.(*Error); !ok {
				t.Fatalf("%s: want an *Error, got %T %v", m.name, err, err)
			}
		}
		inst := kv.newInstance()
		inst.Interface().(*fuzzKV).Init(context.Background())
		for _, member := range []string{"get", "set"} {
			m, _ := kv.member(member)
			var w jwriter.Writer
			_ = m.call(context.Background(), recvOf(inst), params, &w)
		}
	})
}
