package wsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jwriter"
	"github.com/stretchr/testify/require"
)

func TestRouteFuncPositional(t *testing.T) {
	subtract := funcMethod(t, "subtract", func(a, b int) int { return a - b })
	negate := funcMethod(t, "negate", func(ctx context.Context, n int) int { return -n })
	tests := []struct {
		m      *method
		params string
		result string // "" when an error is expected
		errMsg string
	}{
		{subtract, `[42,23]`, "19", ""},
		{subtract, ` [ 42 , 23 ] `, "19", ""},
		{subtract, `[42,23,1]`, "", "subtract() takes 2 positional arguments but 3 were given"},
		{subtract, `[42]`, "", "subtract() takes 2 positional arguments but 1 was given"},
		{subtract, `[]`, "", "subtract() takes 2 positional arguments but 0 were given"},
		{subtract, `{"a":42,"b":23}`, "", "subtract() takes positional arguments (a JSON array), not keyword arguments"},
		{subtract, `{}`, "", "subtract() missing 2 required positional arguments"},
		{subtract, ``, "", "subtract() missing 2 required positional arguments"},
		{subtract, `null`, "", "subtract() missing 2 required positional arguments"},
		{subtract, `5`, "", "subtract() takes 2 positional arguments but 1 was given"},
		{subtract, `["1",2]`, "", "subtract() argument 1: cannot use JSON string as int"},
		{subtract, `[1,1.5]`, "", "subtract() argument 2: cannot use JSON number 1.5 as int"},
		{subtract, `[1,1e300]`, "", "subtract() argument 2: cannot use JSON number 1e300 as int"},
		{negate, `5`, "-5", ""},   // a scalar is one positional argument
		{negate, `[5]`, "-5", ""}, //
		{negate, ``, "", "negate() missing 1 required positional argument"},
		{negate, `[1,2]`, "", "negate() takes 1 positional argument but 2 were given"},
		{negate, `"x"`, "", "negate() argument 1: cannot use JSON string as int"},
	}
	for _, tt := range tests {
		t.Run(tt.m.name+" "+tt.params, func(t *testing.T) {
			out, err := call(t, tt.m, reflect.Value{}, tt.params)
			if tt.result != "" {
				require.NoError(t, err)
				require.Equal(t, tt.result, out)
				return
			}
			requireWireError(t, err, TypeTypeError, tt.errMsg)
		})
	}
}

func TestRouteFuncNoParams(t *testing.T) {
	var calls int
	m := funcMethod(t, "tick", func() { calls++ })
	for _, params := range []string{"", "null", "{}", " { } ", "[]", "[ ]"} {
		out, err := call(t, m, reflect.Value{}, params)
		require.NoError(t, err, params)
		require.Equal(t, "null", out)
	}
	require.Equal(t, 6, calls)
	for params, msg := range map[string]string{
		`{"x":1}`: "tick() got an unexpected keyword argument 'x'",
		`[1]`:     "tick() takes 0 positional arguments but 1 was given",
		`[1,2]`:   "tick() takes 0 positional arguments but 2 were given",
		`7`:       "tick() takes 0 positional arguments but 1 was given",
	} {
		_, err := call(t, m, reflect.Value{}, params)
		requireWireError(t, err, TypeTypeError, msg)
	}
	require.Equal(t, 6, calls)
}

type ctxKey struct{}

func TestRouteFuncContextResultsAndErrors(t *testing.T) {
	errBoom := errors.New("boom")
	wireErr := NewError("KeyError", "k")
	tests := []struct {
		name   string
		fn     any
		result string
		err    error
	}{
		{"ctx value", func(ctx context.Context) string { return ctx.Value(ctxKey{}).(string) }, `"from ctx"`, nil},
		{"no result", func() {}, "null", nil},
		{"error only, nil", func() error { return nil }, "null", nil},
		{"error only", func() error { return errBoom }, "", errBoom},
		{"result and nil error", func() (int, error) { return 3, nil }, "3", nil},
		{"result and error", func() (int, error) { return 3, wireErr }, "", wireErr},
		{"nil pointer", func() *int { return nil }, "null", nil},
		{"nil slice", func() []int { return nil }, "null", nil},
		{"nil map", func() map[string]int { return nil }, "null", nil},
		{"nil any", func() any { return nil }, "null", nil},
		{"struct", func() any {
			return struct {
				A int `json:"a"`
			}{1}
		}, `{"a":1}`, nil},
		{"raw message", func() json.RawMessage { return json.RawMessage(`{"d": [1, 2]}`) }, `{"d":[1,2]}`, nil},
		{"easyjson raw message", func() easyjson.RawMessage { return easyjson.RawMessage(`{"d": [1]}`) }, `{"d": [1]}`, nil},
		{"nil easyjson raw message", func() easyjson.RawMessage { return nil }, `null`, nil},
		{"big number", func() json.Number { return "123456789012345678901234567890" }, "123456789012345678901234567890", nil},
	}
	ctx := context.WithValue(context.Background(), ctxKey{}, "from ctx")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := funcMethod(t, "f", tt.fn)
			var w jwriter.Writer
			err := m.call(ctx, recvOf(reflect.Value{}), nil, &w)
			if tt.err != nil {
				require.Same(t, tt.err, err) // returned unchanged
				return
			}
			require.NoError(t, err)
			out, _ := w.BuildBytes()
			require.Equal(t, tt.result, string(out))
		})
	}
}

func TestRouteFuncRawParams(t *testing.T) {
	var kept []json.RawMessage
	var keptEasy []easyjson.RawMessage
	m := funcMethod(t, "raw", func(p json.RawMessage) json.RawMessage {
		kept = append(kept, p)
		return p
	})
	me := funcMethod(t, "raw", func(p easyjson.RawMessage) int {
		keptEasy = append(keptEasy, p)
		return len(p)
	})
	for _, params := range []string{`{"a": 1}`, `[1, 2]`, `"s"`, `3`} {
		buf := []byte(params)
		var w jwriter.Writer
		require.NoError(t, m.call(context.Background(), receiver{}, buf, &w))
		require.NoError(t, me.call(context.Background(), receiver{}, buf, &w))
		for i := range buf {
			buf[i] = 'X' // the engine reuses its buffer
		}
		require.Equal(t, params, string(kept[len(kept)-1]))
		require.Equal(t, params, string(keptEasy[len(keptEasy)-1]))
	}
	for _, params := range []string{"", "null"} {
		_, err := call(t, m, reflect.Value{}, params)
		require.NoError(t, err)
		require.Nil(t, kept[len(kept)-1])
		_, err = call(t, me, reflect.Value{}, params)
		require.NoError(t, err)
		require.Nil(t, keptEasy[len(keptEasy)-1])
	}
}

func TestRouteFuncMapParams(t *testing.T) {
	m := funcMethod(t, "kw", func(p map[string]int) map[string]int {
		if p == nil {
			return map[string]int{"nil": 1}
		}
		p["n"] = len(p)
		return p
	})
	tests := []struct{ params, result, errMsg string }{
		{`{"a":1,"b":2}`, `{"a":1,"b":2,"n":2}`, ""},
		{``, `{"n":0}`, ""},
		{`null`, `{"n":0}`, ""},
		{`{}`, `{"n":0}`, ""},
		{`[]`, `{"n":0}`, ""},
		{`[{"a":1}]`, "", "kw() takes keyword arguments only: params must be a JSON object, not an array"},
		{`[1,2]`, "", "kw() takes keyword arguments only: params must be a JSON object, not an array"},
		{`3`, "", "kw() takes keyword arguments only: params must be a JSON object, not a number"},
		{`{"a":"x"}`, "", "kw() got a bad keyword argument: cannot use JSON string as int"},
	}
	for _, tt := range tests {
		out, err := call(t, m, reflect.Value{}, tt.params)
		if tt.errMsg != "" {
			requireWireError(t, err, TypeTypeError, tt.errMsg)
			continue
		}
		require.NoError(t, err, tt.params)
		require.JSONEq(t, tt.result, out, tt.params)
	}
}

func TestRouteFuncDottedName(t *testing.T) {
	r := NewRegistry()
	r.MustAdd("math.add", func(a, b int) int { return a + b })
	fr, sr, _, ok := r.lookup("math.add")
	require.True(t, ok)
	require.Nil(t, sr)
	require.Equal(t, "math.add", fr.name)
	_, err := call(t, fr.m, reflect.Value{}, `[1]`)
	requireWireError(t, err, TypeTypeError, "math.add() takes 2 positional arguments but 1 was given")
	out, err := call(t, fr.m, reflect.Value{}, `[1,2]`)
	require.NoError(t, err)
	require.Equal(t, "3", out)
}
