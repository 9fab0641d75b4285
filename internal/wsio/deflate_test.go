package wsio

import (
	"bytes"
	"compress/flate"
	"runtime"
	"strings"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/stretchr/testify/require"
)

// deflated compresses msg the way a peer does: raw deflate, sync-flushed,
// with the 4-byte tail stripped (RFC 7692 §7.2.1).
func deflated(t testing.TB, msg []byte) []byte {
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.BestSpeed)
	require.NoError(t, err)
	_, _ = fw.Write(msg)
	require.NoError(t, fw.Flush())
	out := b.Bytes()
	require.Equal(t, []byte{0, 0, 0xff, 0xff}, out[len(out)-4:])
	return out[:len(out)-4]
}

// compressedFrame is frame with RSV1 set.
func compressedFrame(fin bool, op ws.OpCode, payload []byte, mask bool) []byte {
	f := frame(fin, op, payload, mask)
	f[0] |= 0x40
	return f
}

func TestDeflateRoundTripBothSides(t *testing.T) {
	big := []byte(`{"id":1,"result":"` + strings.Repeat("wsrpc ", 2000) + `"}`)
	small := []byte(`{"id":2,"result":-8}`)
	for _, side := range []Side{Server, Client} {
		var buf countingWriter
		w := NewWriter(&buf, side)
		w.EnableDeflate(Compression{})
		require.NoError(t, w.WriteTexts([][]byte{big, small, big}))
		require.Less(t, buf.Len(), len(big), "the big messages went out compressed")

		// The first byte of the first frame: FIN, RSV1 and text.
		require.Equal(t, byte(0xc1), buf.Bytes()[0])

		peer := Client
		if side == Client {
			peer = Server
		}
		r := NewReader(bytes.NewReader(buf.Bytes()), peer, Limits{})
		r.EnableDeflate()
		for _, want := range [][]byte{big, small, big} {
			text, p, err := r.ReadMessage()
			require.NoError(t, err)
			require.True(t, text)
			require.Equal(t, string(want), string(p))
		}
	}
}

func TestDeflateIncompressibleMessageGoesOutPlain(t *testing.T) {
	msg := make([]byte, 4096)
	for i := range msg {
		msg[i] = byte(i*7919 + i>>3) // no repeats within a window worth finding
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, Server)
	w.EnableDeflate(Compression{Level: flate.HuffmanOnly})
	require.NoError(t, w.WriteTexts([][]byte{msg}))
	require.Equal(t, byte(0x81), buf.Bytes()[0], "RSV1 is clear when compressing did not help")
}

func TestDeflateFragmentedAndFedByteByByte(t *testing.T) {
	msg := []byte(strings.Repeat(`{"key":"value"},`, 300))
	z := deflated(t, msg)
	half := len(z) / 2
	var in []byte
	in = append(in, compressedFrame(false, ws.OpText, z[:half], true)...)
	in = append(in, frame(true, ws.OpPing, []byte("p"), true)...)
	in = append(in, frame(true, ws.OpContinuation, z[half:], true)...)
	in = append(in, frame(true, ws.OpText, []byte("plain"), true)...)

	for _, chunk := range []int{len(in), 1, 7} {
		p := NewParser(Server, Limits{})
		p.EnableDeflate()
		var got []string
		for i := 0; i < len(in); i += chunk {
			p.Feed(append([]byte(nil), in[i:min(i+chunk, len(in))]...))
			for {
				_, payload, ok, err := p.Next()
				require.NoError(t, err)
				if !ok {
					break
				}
				got = append(got, string(payload))
			}
			p.Detach()
		}
		require.Equal(t, []string{string(msg), "plain"}, got, "chunk %d", chunk)
	}
}

func TestDeflateViolations(t *testing.T) {
	z := deflated(t, []byte("hello"))
	tests := []struct {
		name    string
		deflate bool
		in      []byte
		code    ws.StatusCode
	}{
		{"RSV1 without negotiation", false, compressedFrame(true, ws.OpText, z, true), ws.StatusProtocolError},
		{"RSV1 on a control frame", true, compressedFrame(true, ws.OpPing, nil, true), ws.StatusProtocolError},
		{"RSV1 on a continuation", true,
			append(compressedFrame(false, ws.OpText, z[:2], true), compressedFrame(true, ws.OpContinuation, z[2:], true)...), ws.StatusProtocolError},
		{"RSV2", true, func() []byte { f := frame(true, ws.OpText, []byte("x"), true); f[0] |= 0x20; return f }(), ws.StatusProtocolError},
		{"not deflate data", true, compressedFrame(true, ws.OpText, []byte{0xff, 0xff, 0xff}, true), ws.StatusInvalidFramePayloadData},
		{"inflates to invalid UTF-8", true, compressedFrame(true, ws.OpText, deflated(t, []byte{0xff, 0xfe}), true), ws.StatusInvalidFramePayloadData},
		{"data after the final block", true, compressedFrame(true, ws.OpText, append(append(finalBlock(t, []byte("a")), 'x'), 'y'), true), ws.StatusInvalidFramePayloadData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tt.in), Server, Limits{})
			if tt.deflate {
				r.EnableDeflate()
			}
			_, _, err := r.ReadMessage()
			var ce *CloseError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tt.code, ce.Code)
		})
	}
}

// finalBlock is msg compressed as a complete stream (BFINAL set).
func finalBlock(t *testing.T, msg []byte) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	_, _ = fw.Write(msg)
	require.NoError(t, fw.Close())
	return b.Bytes()
}

// bomb returns a compressed message of about 1 MiB that inflates to n MiB
// of zeros: one sync-flushed block of 1 MiB of zeros repeated (its
// back-references only reach bytes already produced, so the copies chain).
func bomb(t testing.TB, n int) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = fw.Write(make([]byte, 1<<20))
	require.NoError(t, fw.Flush())
	block := b.Bytes()
	return bytes.Repeat(block, n)[:len(block)*n-4]
}

func TestDecompressionBombRefusedWithoutAllocatingIt(t *testing.T) {
	z := bomb(t, 1024) // 1 GiB once inflated
	require.Less(t, len(z), 4<<20, "the compressed message itself is within the limit")
	in := compressedFrame(true, ws.OpText, z, true)

	// A modest limit shows the message really inflates past it.
	r := NewReader(bytes.NewReader(in), Server, Limits{MaxMessageSize: 8 << 20})
	r.EnableDeflate()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := r.ReadMessage()
	runtime.ReadMemStats(&after)

	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ws.StatusMessageTooBig, ce.Code)
	allocated := after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(64<<20), "inflating stopped at the limit (allocated %d bytes)", allocated)

	// Under the limit, the same construction inflates correctly.
	small := compressedFrame(true, ws.OpText, bomb(t, 2), true)
	r = NewReader(bytes.NewReader(small), Server, Limits{MaxMessageSize: 8 << 20})
	r.EnableDeflate()
	_, p, err := r.ReadMessage()
	require.NoError(t, err)
	require.Len(t, p, 2<<20)
}

func TestNegotiateDeflate(t *testing.T) {
	tests := []struct {
		name   string
		offers []string
		want   string
	}{
		{"no offer", nil, ""},
		{"other extension", []string{"x-webkit-deflate-frame"}, ""},
		{"browser and node ws offer", []string{"permessage-deflate; client_max_window_bits"}, deflateResponse},
		{"client window limited", []string{"permessage-deflate; client_max_window_bits=10"}, deflateResponse},
		{"asks no context takeover", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, deflateResponse},
		{"server window 15", []string{"permessage-deflate; server_max_window_bits=15"}, deflateResponse + "; server_max_window_bits=15"},
		{"server window 10 declined", []string{"permessage-deflate; server_max_window_bits=10"}, ""},
		{"falls back to the next offer", []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"}, deflateResponse},
		{"malformed parameter", []string{"permessage-deflate; bogus=1"}, ""},
		{"several header lines", []string{"foo", "permessage-deflate"}, deflateResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, NegotiateDeflate(tt.offers))
		})
	}
}

func TestCheckDeflateResponse(t *testing.T) {
	opt := func(s string) []httphead.Option {
		o, ok := httphead.ParseOptions([]byte(s), nil)
		require.True(t, ok)
		return o
	}
	on, err := CheckDeflateResponse(nil)
	require.NoError(t, err)
	require.False(t, on)
	on, err = CheckDeflateResponse(opt(deflateResponse))
	require.NoError(t, err)
	require.True(t, on)
	on, err = CheckDeflateResponse(opt("permessage-deflate; server_no_context_takeover; server_max_window_bits=12"))
	require.NoError(t, err)
	require.True(t, on, "a smaller server window is fine for our inflater")
	_, err = CheckDeflateResponse(opt("permessage-deflate"))
	require.ErrorIs(t, err, ErrDeflateResponse, "the server kept its context: our inflater could not follow")
	_, err = CheckDeflateResponse(opt("permessage-deflate; server_no_context_takeover; client_max_window_bits=9"))
	require.ErrorIs(t, err, ErrDeflateResponse)
	require.Equal(t, wsflate.ExtensionName, string(ClientOfferOption().Name))
}

func FuzzInflate(f *testing.F) {
	f.Add(compressedFrame(true, ws.OpText, deflated(f, []byte(`{"id":1,"method":"ping"}`)), true), uint8(3))
	f.Add(compressedFrame(true, ws.OpText, []byte{0xff, 0, 1}, true), uint8(1))
	f.Add(compressedFrame(true, ws.OpText, bomb(f, 3), true), uint8(2))
	f.Add(crashInput(f, true, true), uint8(7))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		const limit = 1 << 16
		p := NewParser(Server, Limits{MaxMessageSize: limit})
		p.EnableDeflate()
		chunk := int(step%32) + 1
		for i := 0; i < len(in); i += chunk {
			p.Feed(append([]byte(nil), in[i:min(i+chunk, len(in))]...))
			for {
				_, payload, ok, err := p.Next()
				if err != nil {
					return
				}
				if !ok {
					break
				}
				if len(payload) > limit {
					t.Fatalf("inflated payload of %d bytes over the limit", len(payload))
				}
			}
			p.Detach()
		}
	})
}

func BenchmarkDeflate(b *testing.B) {
	msg := []byte(`{"id":1,"result":"` + strings.Repeat("wsrpc ", 400) + `"}`)
	z := compressedFrame(true, ws.OpText, deflated(b, msg), true)
	b.Run("write", func(b *testing.B) {
		w := NewWriter(discard{}, Server)
		w.EnableDeflate(Compression{})
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			_ = w.WriteTexts([][]byte{msg})
		}
	})
	b.Run("read", func(b *testing.B) {
		rd := bytes.NewReader(z)
		r := NewReader(rd, Server, Limits{})
		r.EnableDeflate()
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			rd.Reset(z)
			if _, _, err := r.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
