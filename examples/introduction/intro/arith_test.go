package intro

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// Integers are bounded to MaxIntDigits, operands and results, with the
// reference's ValueError; everything within the bound stays exact.
func TestArithDigitLimit(t *testing.T) {
	digits := func(n int) json.Number { return json.Number(strings.Repeat("9", n)) }
	tests := []struct {
		name    string
		op      func(a, b json.Number) (json.Number, error)
		a, b    json.Number
		want    json.Number
		tooMany string // the digit count the ValueError names; "" for success
	}{
		{"at the limit", Subtract, digits(MaxIntDigits), digits(MaxIntDigits), "0", ""},
		{"negative at the limit", Subtract, "-" + digits(MaxIntDigits), "-" + digits(MaxIntDigits), "0", ""},
		{"one digit over", Subtract, digits(MaxIntDigits + 1), "1", "", "value has 4301 digits"},
		{"second operand over", Subtract, "1", "-" + digits(MaxIntDigits+1), "", "value has 4301 digits"},
		{"two million digits", Subtract, digits(2_000_000), "1", "", "value has 2000000 digits"},
		{"result over", Multiply, digits(MaxIntDigits), digits(MaxIntDigits), "", "value has 8600 digits"},
		{"small", Subtract, "5", "8", "-3", ""},
		{"a float is no integer", Subtract, json.Number(strings.Repeat("1", 300) + ".5"), "0", "1.1111111111111112e+299", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.op(tt.a, tt.b)
			if tt.tooMany == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			var e *wsrpc.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, wsrpc.TypeValueError, e.Type)
			require.Contains(t, e.Message, "Exceeds the limit (4300 digits) for integer string conversion")
			require.Contains(t, e.Message, tt.tooMany)
		})
	}
}

// The small-integer shortcut answers exactly what the general steps do.
func TestArithSmallIntegersAsApply(t *testing.T) {
	operands := []json.Number{"0", "-0", "+5", "007", "-12", "999999999", "-999999999", "1000000000", "3.5", "1e3", "-", "", "12a"}
	ops := []struct {
		name   string
		fast   func(a, b json.Number) (json.Number, error)
		small  func(x, y int64) int64
		ints   func(x, y *big.Int) *big.Int
		floats func(x, y float64) float64
	}{
		{"subtract", Subtract, func(x, y int64) int64 { return x - y }, func(x, y *big.Int) *big.Int { return x.Sub(x, y) }, func(x, y float64) float64 { return x - y }},
		{"multiply", Multiply, func(x, y int64) int64 { return x * y }, func(x, y *big.Int) *big.Int { return x.Mul(x, y) }, func(x, y float64) float64 { return x * y }},
	}
	for _, a := range operands {
		for _, b := range operands {
			for _, op := range ops {
				got, gotErr := op.fast(a, b)
				want, wantErr := apply(a, b, op.small, op.ints, op.floats)
				require.Equal(t, want, got, "%s(%q, %q)", op.name, a, b)
				require.Equal(t, wantErr, gotErr, "%s(%q, %q)", op.name, a, b)
			}
		}
	}
}
