package intro

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strconv"
)

// ErrOverflow is returned when a result does not fit the wire's numbers.
var ErrOverflow = errors.New("result out of range")

// Subtract returns a − b.
func Subtract(a, b json.Number) (json.Number, error) {
	return apply(a, b, new(big.Int).Sub, func(x, y float64) float64 { return x - y })
}

// Multiply returns x × y.
func Multiply(x, y json.Number) (json.Number, error) {
	return apply(x, y, new(big.Int).Mul, func(x, y float64) float64 { return x * y })
}

func apply(a, b json.Number, ints func(x, y *big.Int) *big.Int, floats func(x, y float64) float64) (json.Number, error) {
	x, okx := new(big.Int).SetString(string(a), 10)
	y, oky := new(big.Int).SetString(string(b), 10)
	if okx && oky {
		return json.Number(ints(x, y).String()), nil
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
