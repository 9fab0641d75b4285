package intro

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// ErrOverflow is returned when a result does not fit the wire's numbers.
var ErrOverflow = errors.New("result out of range")

// MaxIntDigits bounds the integers operands and results may have, as the
// reference's Python does (sys.get_int_max_str_digits): converting a
// decimal string of n digits costs time quadratic in n, so one call with a
// huge operand could take seconds. A longer integer is a ValueError with
// Python's words. (The reference refuses such a number while it decodes
// the message, so it answers no reply at all; here the caller gets one.)
const MaxIntDigits = 4300

// errTooManyDigits is the ValueError of an integer of n digits.
func errTooManyDigits(n int) error {
	return wsrpc.NewError(wsrpc.TypeValueError, fmt.Sprintf("Exceeds the limit (%d digits) for integer string conversion: value has %d digits", MaxIntDigits, n))
}

// intDigits returns the digits of n when it is an integer literal (an
// optional minus sign, then digits only); ok is false for anything else.
func intDigits(n json.Number) (digits int, ok bool) {
	s := strings.TrimPrefix(string(n), "-")
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	return len(s), len(s) > 0
}

// Subtract returns a − b.
func Subtract(a, b json.Number) (json.Number, error) {
	if x, ok := smallInt(a); ok {
		if y, ok := smallInt(b); ok {
			return json.Number(strconv.FormatInt(x-y, 10)), nil
		}
	}
	return apply(a, b, func(x, y int64) int64 { return x - y }, func(x, y *big.Int) *big.Int { return x.Sub(x, y) }, func(x, y float64) float64 { return x - y })
}

// Multiply returns x × y.
func Multiply(x, y json.Number) (json.Number, error) {
	if a, ok := smallInt(x); ok {
		if b, ok := smallInt(y); ok {
			return json.Number(strconv.FormatInt(a*b, 10)), nil
		}
	}
	return apply(x, y, func(x, y int64) int64 { return x * y }, func(x, y *big.Int) *big.Int { return x.Mul(x, y) }, func(x, y float64) float64 { return x * y })
}

// smallInt parses n when it is an integer of at most 9 digits, with an
// optional sign (as strconv.ParseInt takes it): the common case, whose sum,
// difference and product fit an int64, answered without apply's general
// steps.
func smallInt(n json.Number) (int64, bool) {
	s := string(n)
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

func apply(a, b json.Number, small func(x, y int64) int64, ints func(x, y *big.Int) *big.Int, floats func(x, y float64) float64) (json.Number, error) {
	for _, n := range []json.Number{a, b} {
		if !isNumber(n) {
			return "", wsrpc.NewError(wsrpc.TypeTypeError, fmt.Sprintf("arguments must be numbers, got %q", string(n)))
		}
	}
	if x, err := strconv.ParseInt(string(a), 10, 64); err == nil {
		if y, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			// Operands within ±2^31 cannot overflow int64 here.
			const lim = 1 << 31
			if -lim < x && x < lim && -lim < y && y < lim {
				return json.Number(strconv.FormatInt(small(x, y), 10)), nil
			}
		}
	}
	da, inta := intDigits(a)
	db, intb := intDigits(b)
	for _, d := range []int{da, db} {
		if d > MaxIntDigits {
			return "", errTooManyDigits(d)
		}
	}
	if inta && intb {
		x, okx := new(big.Int).SetString(string(a), 10)
		y, oky := new(big.Int).SetString(string(b), 10)
		if okx && oky {
			r := ints(x, y).String()
			if d, _ := intDigits(json.Number(r)); d > MaxIntDigits {
				return "", errTooManyDigits(d)
			}
			return json.Number(r), nil
		}
	}
	fx, err := a.Float64()
	if err != nil {
		return "", err
	}
	fy, err := b.Float64()
	if err != nil {
		return "", err
	}
	r := floats(fx, fy)
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return "", ErrOverflow
	}
	return json.Number(strconv.FormatFloat(r, 'g', -1, 64)), nil
}

// isNumber reports whether n is a JSON number literal. The engine refuses a
// JSON string for a json.Number param; this guards direct callers of
// Subtract and Multiply.
func isNumber(n json.Number) bool {
	if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return true
	}
	return len(n) > 0 && (n[0] == '-' || n[0] >= '0' && n[0] <= '9') && json.Valid([]byte(n))
}
