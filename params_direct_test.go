package wsrpc

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/mailru/easyjson/jlexer"
	"github.com/stretchr/testify/require"
)

// directParams has a decoder written as easyjson generates one.
type directParams struct {
	N json.Number     `json:"n"`
	S string          `json:"s"`
	R json.RawMessage `json:"r,omitempty"`
	I int64           `json:"i,omitempty"`
	F float64         `json:"f,omitempty"`
	B bool            `json:"b,omitempty"`
	U uint8           `json:"u,omitempty"`
}

func (p *directParams) UnmarshalEasyJSON(in *jlexer.Lexer) {
	isTopLevel := in.IsStart()
	in.Delim('{')
	for !in.IsDelim('}') {
		key := in.UnsafeFieldName(false)
		in.WantColon()
		if in.IsNull() {
			in.Skip()
			in.WantComma()
			continue
		}
		switch key {
		case "n":
			p.N = in.JsonNumber()
		case "s":
			p.S = in.String()
		case "r":
			if data := in.Raw(); in.Ok() {
				in.AddError(p.R.UnmarshalJSON(data))
			}
		case "i":
			p.I = in.Int64()
		case "f":
			p.F = in.Float64()
		case "b":
			p.B = in.Bool()
		case "u":
			p.U = in.Uint8()
		default:
			in.SkipRecursive()
		}
		in.WantComma()
	}
	in.Delim('}')
	if isTopLevel {
		in.Consumed()
	}
}

// directHandler is the part of a handler taking *directParams that the
// decoders use.
func directHandler(t testing.TB) *handler {
	np, err := newNamedParams(reflect.TypeFor[*directParams]())
	require.NoError(t, err)
	return &handler{name: "direct", named: np}
}

func directMethod(t testing.TB) *method {
	return funcMethod(t, "direct", func(ctx context.Context, p *directParams) (*directParams, error) { return p, nil })
}

func TestDecodeDirectPlan(t *testing.T) {
	require.True(t, directHandler(t).named.direct, "generated-style easyjson params decode in one pass")
	// easyPoint's hand-written decoder also sets an unexported field: it
	// keeps being called.
	np, err := newNamedParams(reflect.TypeFor[easyPoint]())
	require.NoError(t, err)
	require.False(t, np.direct)
	// Without easyjson code the two-pass path (encoding/json) stays.
	np, err = newNamedParams(reflect.TypeFor[struct{ A int }]())
	require.NoError(t, err)
	require.False(t, np.direct)
}

// TestDecodeDirect checks that the one-pass decoder agrees with the key
// check plus the type's own decoder: same value when it decodes, and the
// same TypeError from the call when it does not.
func TestDecodeDirect(t *testing.T) {
	h := directHandler(t)
	for _, obj := range []string{
		`{"n":1,"s":"x"}`, `{"n":-1.5e3,"s":"a\u00e9\"","r":[1,{"a":null}],"i":-7,"f":0.5,"b":true,"u":255}`,
		`{"s":"x","n":null}`, `{ "n" : 1 , "s" : "" , "s":"last" }`, `{"n":1,"s":null}`,
		`{"n":1}`, `{"n":"1","s":"x"}`, `{"n":1,"s":"x","z":1}`, `{"n":1,"s":2}`, `{"n":1,"s":"x","u":256}`,
		`{"n":1,"s":"x","i":1.5}`, `{"n":1,"s":"x","b":1}`, `{"n":01,"s":"x"}`, `{"n":1,"s":"x","r":[1,]}`,
	} {
		wantDirect := decodeTwoPass(h, []byte(obj))
		got, ok, err := decodeOnePass(h, []byte(obj))
		require.NoError(t, err)
		if ok {
			require.NotNil(t, wantDirect, "%s: decoded in one pass where the two passes fail", obj)
			require.Equal(t, *wantDirect, got, obj)
		}
	}
	// Through the call: the error words are the two-pass path's.
	_, err := call(t, directMethod(t), reflect.Value{}, `{"n":1,"s":"x","z":1}`)
	requireWireError(t, err, TypeTypeError, "direct() got an unexpected keyword argument 'z'")
	out, err := call(t, directMethod(t), reflect.Value{}, `{"n":1,"s":"x","r":{"k":[true]}}`)
	require.NoError(t, err)
	require.JSONEq(t, `{"n":1,"s":"x","r":{"k":[true]}}`, out)
}

// decodeOnePass decodes obj with decodeDirect, and with decodeMembers from
// the members a frame scan of a call with params obj records: an error when
// the two disagree.
func decodeOnePass(h *handler, obj []byte) (directParams, bool, error) {
	var got directParams
	ok := h.named.decodeDirect(obj, reflect.ValueOf(&got).UnsafePointer())
	var f frame
	msg := append(append([]byte(`{"params":`), obj...), '}')
	if f.scan(msg) != nil || !f.members.ok {
		return got, ok, nil
	}
	var fromMembers directParams
	okMembers := h.named.decodeMembers(f.Params, &f.members, reflect.ValueOf(&fromMembers).UnsafePointer())
	if okMembers != ok || ok && !reflect.DeepEqual(got, fromMembers) {
		return got, ok, fmt.Errorf("%s: decodeDirect %v %+v, decodeMembers %v %+v", obj, ok, got, okMembers, fromMembers)
	}
	return got, ok, nil
}

// decodeTwoPass is what the call did before decodeDirect: the key check,
// then the type's decoder. nil when either fails.
func decodeTwoPass(h *handler, obj []byte) *directParams {
	if h.checkKeys(obj) != nil {
		return nil
	}
	var p directParams
	l := jlexer.Lexer{Data: obj}
	p.UnmarshalEasyJSON(&l)
	l.Consumed()
	if l.Error() != nil {
		return nil
	}
	return &p
}

// FuzzDecodeDirect checks decodeDirect against the two passes it replaces.
func FuzzDecodeDirect(f *testing.F) {
	for _, s := range []string{`{"n":1,"s":"x"}`, `{"n":2,"s":"\u0041","r":[{}],"i":3,"f":1e2,"b":false,"u":1}`, `{"s":null}`} {
		f.Add([]byte(s))
	}
	h := directHandler(f)
	f.Fuzz(func(t *testing.T, obj []byte) {
		if !validJSON(obj) {
			return // the frame scan passes valid objects only
		}
		got, ok, err := decodeOnePass(h, obj)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		want := decodeTwoPass(h, obj)
		if want == nil {
			t.Fatalf("%q: decoded in one pass where the two passes fail", obj)
		}
		if !reflect.DeepEqual(*want, got) {
			t.Fatalf("%q: one pass %+v, two passes %+v", obj, got, *want)
		}
	})
}

// The pooled params struct is zeroed after each call: a call that leaves
// fields out sees them zero, not what an earlier call set.
func TestDirectParamsZeroedBetweenCalls(t *testing.T) {
	m := directMethod(t)
	out, err := call(t, m, reflect.Value{}, `{"n":1,"s":"x","r":[1],"i":-7,"f":0.5,"b":true,"u":255}`)
	require.NoError(t, err)
	require.JSONEq(t, `{"n":1,"s":"x","r":[1],"i":-7,"f":0.5,"b":true,"u":255}`, out)
	for range 3 { // the pool may hand out another struct: every one was zeroed
		out, err = call(t, m, reflect.Value{}, `{"n":2,"s":""}`)
		require.NoError(t, err)
		require.JSONEq(t, `{"n":2,"s":""}`, out)
	}
}

// A call's object params reach the one-pass decoder with the members the
// frame scan recorded (decodeMembers, no second walk), and params too big
// to record are walked (decodeDirect); both decode the same.
func TestCallCarriesScannedMembers(t *testing.T) {
	reg := NewRegistry()
	var recorded bool
	var got directParams
	reg.MustAdd("direct", Inline(func(ctx context.Context, p *directParams) (*directParams, error) {
		j, _ := ctx.(*callJob)
		recorded, got = j != nil && j.members.ok, *p
		return p, nil
	}))
	tr := &budgetTransport{}
	c := NewConn(tr, ConnConfig{Role: RoleServer, Registry: reg, BatchedReads: true})
	t.Cleanup(func() { _ = c.Close() })
	for _, tc := range []struct {
		params   string
		recorded bool
	}{
		{`{"n":1,"s":"x","i":-7}`, true},
		{`{"n":1,"s":"x","i":-7,"f":0.5,"b":true,"u":3,"r":[1],"n":2,"s":"y"}`, false}, // 9 members: more than maxMembers
	} {
		c.HandleMessage([]byte(`{"id":1,"method":"direct","params":` + tc.params + `}`))
		require.NoError(t, c.Flush(true))
		require.Equal(t, tc.recorded, recorded, tc.params)
		var want directParams
		require.NoError(t, json.Unmarshal([]byte(tc.params), &want))
		require.Equal(t, want, got, tc.params)
	}
}
