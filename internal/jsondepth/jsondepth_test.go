package jsondepth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExceeds(t *testing.T) {
	tests := []struct {
		msg  string
		max  int
		want bool
	}{
		{`{"id":1,"method":"a","params":{"x":[1,2]}}`, 3, false},
		{`{"id":1,"method":"a","params":{"x":[1,2]}}`, 2, true},
		{`{"a":"{{{{[[[["}`, 1, false}, // brackets in strings count for nothing
		{`{"a":"\"{{{{"}`, 1, false},   // nor after an escaped quote
		{`[{},{},{},{},{}]`, 2, false}, // many openers, little depth
		{strings.Repeat("[", 65) + strings.Repeat("]", 65), 64, true},
		{strings.Repeat("[", 64) + strings.Repeat("]", 64), 64, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Exceeds([]byte(tt.msg), tt.max), "%s with max %d", tt.msg, tt.max)
	}
}

func BenchmarkExceeds(b *testing.B) {
	msg := []byte(`{"id":12345,"method":"kv.set","params":{"key":"some-key","value":{"a":[1,2,3],"b":"text"}}}`)
	for b.Loop() {
		if Exceeds(msg, 64) {
			b.Fatal("too deep")
		}
	}
}
