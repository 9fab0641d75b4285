package wsio

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"
)

// unmask gives gobwas/ws's Cipher's bytes, and says ASCII exactly when
// every unmasked byte is below 0x80, at every length and alignment.
func TestUnmask(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 80; n++ {
		for _, high := range []bool{false, true} {
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(r.IntN(0x80))
			}
			if high && n > 0 {
				data[r.IntN(n)] |= 0x80
			}
			key := [4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
			masked := append([]byte(nil), data...)
			ws.Cipher(masked, key, 0)
			got := append([]byte(nil), masked...)
			ascii := unmask(got, key)
			require.True(t, bytes.Equal(data, got), "length %d", n)
			require.Equal(t, !high || n == 0, ascii, "length %d", n)
			require.Equal(t, utf8.Valid(data), validText(got, ascii))
		}
	}
}
