package wsrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/stretchr/testify/require"
)

func TestValidJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{}`, true}, {` [ ] `, true}, {`{"a":[1,-2.5e+3,"x\u00e9\n",true,false,null,{}]}`, true},
		{`0`, true}, {`-0.0E-0`, true}, {`"\/"`, true},
		{``, false}, {`{`, false}, {`{"a"}`, false}, {`{"a":1,}`, false}, {`[1,]`, false},
		{`01`, false}, {`1.`, false}, {`-`, false}, {`1e`, false}, {`"\x"`, false},
		{`"\u12"`, false}, {"\"\x01\"", false}, {`{"a":1}}`, false}, {`[}`, false},
		{`{1:2}`, false}, {`tru`, false}, {`nulll`, false}, {`[1 2]`, false},
		{strings.Repeat("[", 5000) + strings.Repeat("]", 5000), true},
		{strings.Repeat("[", 5000) + strings.Repeat("]", 4999), false},
		// Objects and arrays mixed past the first 64 levels, and a wrong
		// closer deep down.
		{strings.Repeat(`{"a":[`, 150) + strings.Repeat(`]}`, 150), true},
		{strings.Repeat(`{"a":[`, 150) + `]]` + strings.Repeat(`]}`, 149), false},
		{strings.Repeat(`[{"a":`, 150) + `1` + strings.Repeat(`},1]`, 150), true},
		{strings.Repeat(`[{"a":`, 150) + `1` + strings.Repeat(`},1]`, 80) + `]` + strings.Repeat(`},1]`, 69), false},
	} {
		require.Equal(t, json.Valid([]byte(tc.in)), tc.want, "test table: %q", tc.in)
		require.Equal(t, tc.want, validJSON([]byte(tc.in)), "%q", tc.in)
	}
}

// FuzzValidJSON checks the scanner against encoding/json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[1,"a",{"b":null}]`, `{"a":-1.5e3}`, `"\ud800"`, `[`, `01`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		if got, want := validJSON(d), json.Valid(d); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", d, got, want)
		}
	})
}

// jlexerFrame is the frame decoder that scan replaced, kept as the
// reference scan must agree with.
func jlexerFrame(msg []byte) (frame, error) {
	var f frame
	in := jlexer.Lexer{Data: msg}
	in.Delim('{')
	for !in.IsDelim('}') {
		key := in.UnsafeFieldName(false)
		in.WantColon()
		var dst *easyjson.RawMessage
		switch key {
		case "id":
			dst = &f.ID
		case "method":
			dst = &f.Method
		case "params":
			dst = &f.Params
		case "result":
			dst = &f.Result
		case "error":
			dst = &f.Error
		}
		switch {
		case dst == nil:
			in.SkipRecursive()
		case in.IsNull() && key != "method":
			in.Skip()
			*dst = nil
		default:
			*dst = in.Raw()
		}
		in.WantComma()
	}
	in.Delim('}')
	in.Consumed()
	return f, in.Error()
}

func TestFrameScan(t *testing.T) {
	for _, msg := range []string{
		`{"id":7,"method":"calc.sub","params":{"a":10,"b":3}}`,
		` { "params" : [1, {"x": "}"}] , "method":null, "id": 01 } `,
		`{"id":1,"result":"a\"b\\","error":null,"x":[[]]}`,
		`{"m\u0065thod":"x","id":1,"id":2}`,
		`{}`, `{"id":1,}`, `{"id":1 "method":"x"}`, `{"id":truex}`, `{"id":1}x`, `{"params":{"a":01}}`,
		`{"id":"unterminated}`, `{"id":1.2.3}`, `{"id":-}`, `{"a":nul}`, `{"a"1}`, `{"\x":1}`,
	} {
		want, wantErr := jlexerFrame([]byte(msg))
		var got frame
		gotErr := got.scan([]byte(msg))
		require.Equal(t, wantErr != nil, gotErr != nil, "%s: error %v, jlexer %v", msg, gotErr, wantErr)
		if wantErr == nil {
			require.NoError(t, checkMembers(&got), msg)
			got.members = members{}
			require.Equal(t, want, got, msg)
		}
	}
}

// TestFrameScanMembers checks the members scan records of a params object,
// and when it records none.
func TestFrameScanMembers(t *testing.T) {
	for _, tc := range []struct {
		msg string
		n   int // members recorded; -1: none (ok false)
	}{
		{`{"id":1,"method":"m","params":{"a":1,"b":"x"}}`, 2},
		{`{"id":1,"method":"m","params":{}}`, 0},
		{`{"id":1,"method":"m","params" : { "k\u0065y" : "v\"w" , "n":null,"o":{"p":[1]}}}`, 3},
		{`{"id":1,"method":"m","params":[1,2]}`, -1},
		{`{"id":1,"method":"m","params":{"a":1},"params":[1]}`, -1},
		{`{"id":1,"method":"m","params":{"a":1},"params":null}`, -1},
		{`{"id":1,"method":"m","params":[1],"p\u0061rams":{"z":2}}`, 1},
		{`{"method":"m","params":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}}`, 8},
		{`{"method":"m","params":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}}`, -1},
	} {
		var f frame
		require.NoError(t, f.scan([]byte(tc.msg)), tc.msg)
		require.Equal(t, tc.n >= 0, f.members.ok, tc.msg)
		if tc.n >= 0 {
			require.Equal(t, tc.n, int(f.members.n), tc.msg)
		}
		require.NoError(t, checkMembers(&f), tc.msg)
	}
}

// checkMembers checks the members f.scan recorded of f.Params (when it
// recorded them) against a walk of the params with jlexer: same keys, same
// values, same escapes.
func checkMembers(f *frame) error {
	ms := &f.members
	if !ms.ok {
		return nil
	}
	obj := f.Params
	in := jlexer.Lexer{Data: obj}
	in.Delim('{')
	n := 0
	for ; !in.IsDelim('}'); n++ {
		key := in.String()
		in.WantColon()
		val := in.Raw()
		in.WantComma()
		if n >= int(ms.n) {
			return fmt.Errorf("%s: member %d not recorded", obj, n)
		}
		m := ms.m[n]
		rawKey := obj[m.key:m.keyEnd]
		gotKey, err := unquote(rawKey)
		if err != nil || gotKey != key || string(obj[m.val:m.valEnd]) != string(val) ||
			(ms.keyEsc&(1<<n) != 0) != (bytes.IndexByte(rawKey, '\\') >= 0) ||
			(ms.valEsc&(1<<n) != 0) != (val[0] == '"' && bytes.IndexByte(val, '\\') >= 0) {
			return fmt.Errorf("%s: member %d recorded as %q: %q (escapes %b %b)", obj, n, rawKey, obj[m.val:m.valEnd], ms.keyEsc, ms.valEsc)
		}
	}
	if in.Error() != nil || n != int(ms.n) {
		return fmt.Errorf("%s: %d members recorded, %d there (%v)", obj, ms.n, n, in.Error())
	}
	return nil
}

// FuzzFrameScan checks frame.scan against the jlexer decoder it replaced.
func FuzzFrameScan(f *testing.F) {
	for _, s := range []string{
		`{"id":7,"method":"calc.sub","params":{"a":10,"b":3}}`, `{"id":1,"result":[1,2]}`,
		`{"id":1,"error":{"type":"E","message":"m"}}`, `{"method":"m","params":[1]}`, `{"k\"":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		if !isObject(msg) {
			return
		}
		want, wantErr := jlexerFrame(msg)
		var got frame
		gotErr := got.scan(msg)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("scan(%q): error %v, jlexer %v", msg, gotErr, wantErr)
		}
		if wantErr == nil {
			if err := checkMembers(&got); err != nil {
				t.Fatal(err)
			}
			for i, pair := range [][2][]byte{{want.ID, got.ID}, {want.Method, got.Method}, {want.Params, got.Params}, {want.Result, got.Result}, {want.Error, got.Error}} {
				if !bytes.Equal(pair[0], pair[1]) || (pair[0] == nil) != (pair[1] == nil) {
					t.Fatalf("scan(%q): member %d is %q, jlexer %q", msg, i, pair[1], pair[0])
				}
			}
		}
	})
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		raw      string
		key      int64
		fits, ok bool
	}{
		{"1", 1, true, true}, {"-42", -42, true, true}, {"0", 0, true, true}, {"true", 1, true, true},
		{"false", 0, true, true}, {"999999999999999999", 999999999999999999, true, true},
		{"9223372036854775807", 9223372036854775807, true, true}, {"-9223372036854775808", -9223372036854775808, true, true},
		{"9223372036854775808", 0, false, true}, {"123456789012345678901234", 0, false, true},
		{"", 0, false, false}, {"-", 0, false, false}, {"01", 0, false, false}, {"1.5", 0, false, false},
		{`"1"`, 0, false, false}, {"1a", 0, false, false}, {"null", 0, false, false},
	} {
		key, fits, ok := parseID([]byte(tc.raw))
		require.Equal(t, []any{tc.key, tc.fits, tc.ok}, []any{key, fits, ok}, tc.raw)
	}
}
