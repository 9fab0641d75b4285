package wsio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/stretchr/testify/require"
)

// frame builds one raw frame, masked when mask is set.
func frame(fin bool, op ws.OpCode, payload []byte, mask bool) []byte {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload)), Masked: mask}
	var b bytes.Buffer
	p := append([]byte(nil), payload...)
	if mask {
		h.Mask = [4]byte{1, 2, 3, 4}
		ws.Cipher(p, h.Mask, 0)
	}
	_ = ws.WriteHeader(&b, h)
	b.Write(p)
	return b.Bytes()
}

func TestReaderRoundTripBothSides(t *testing.T) {
	// Client frames written by gobwas/ws, read by our server side.
	var buf bytes.Buffer
	require.NoError(t, wsutil.WriteClientText(&buf, []byte("hello")))
	require.NoError(t, wsutil.WriteClientBinary(&buf, []byte{0, 1}))
	r := NewReader(&buf, Server, Limits{})
	text, p, err := r.ReadMessage()
	require.NoError(t, err)
	require.True(t, text)
	require.Equal(t, "hello", string(p))
	text, p, err = r.ReadMessage()
	require.NoError(t, err)
	require.False(t, text)
	require.Equal(t, []byte{0, 1}, p)
	_, _, err = r.ReadMessage()
	require.ErrorIs(t, err, io.EOF)

	// Our client frames are masked and read back by gobwas/ws as a server.
	buf.Reset()
	w := NewWriter(&buf, Client)
	require.NoError(t, w.WriteTexts([][]byte{[]byte("a"), []byte("bc")}))
	for _, want := range []string{"a", "bc"} {
		data, op, err := wsutil.ReadClientData(&buf)
		require.NoError(t, err)
		require.Equal(t, ws.OpText, op)
		require.Equal(t, want, string(data))
	}

	// Our server frames are unmasked and read by gobwas/ws as a client.
	buf.Reset()
	w = NewWriter(&buf, Server)
	require.NoError(t, w.WriteTexts([][]byte{bytes.Repeat([]byte("z"), 70000)}))
	data, _, err := wsutil.ReadServerData(&buf)
	require.NoError(t, err)
	require.Len(t, data, 70000)
}

func TestFragmentedMessageWithInterleavedPing(t *testing.T) {
	var in []byte
	in = append(in, frame(false, ws.OpText, []byte("hel"), true)...)
	in = append(in, frame(true, ws.OpPing, []byte("p!"), true)...)
	in = append(in, frame(false, ws.OpContinuation, []byte("lo "), true)...)
	in = append(in, frame(true, ws.OpContinuation, []byte("world"), true)...)
	r := NewReader(bytes.NewReader(in), Server, Limits{})
	var pings []string
	r.SetControlHandler(func(p []byte) { pings = append(pings, string(p)) })
	text, p, err := r.ReadMessage()
	require.NoError(t, err)
	require.True(t, text)
	require.Equal(t, "hello world", string(p))
	require.Equal(t, []string{"p!"}, pings)
}

func TestOversizeMessageRefusedFromItsHeader(t *testing.T) {
	// A header announcing 1 GiB, and nothing else.
	var hdr bytes.Buffer
	require.NoError(t, ws.WriteHeader(&hdr, ws.Header{Fin: true, OpCode: ws.OpText, Length: 1 << 30, Masked: true}))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := NewReader(bytes.NewReader(hdr.Bytes()), Server, Limits{MaxMessageSize: 1 << 20})
	_, _, err := r.ReadMessage()
	runtime.ReadMemStats(&after)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ws.StatusMessageTooBig, ce.Code)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "the oversize payload must not be allocated")

	// Fragments that add up past the limit are refused too.
	in := append(frame(false, ws.OpText, make([]byte, 600), true), frame(true, ws.OpContinuation, make([]byte, 600), true)...)
	_, _, err = NewReader(bytes.NewReader(in), Server, Limits{MaxMessageSize: 1000}).ReadMessage()
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ws.StatusMessageTooBig, ce.Code)
}

func TestProtocolViolations(t *testing.T) {
	rsv := frame(true, ws.OpText, []byte("x"), true)
	rsv[0] |= 0x40
	tests := []struct {
		name string
		side Side
		in   []byte
		code ws.StatusCode
	}{
		{"rsv bits", Server, rsv, ws.StatusProtocolError},
		{"reserved opcode", Server, frame(true, ws.OpCode(3), nil, true), ws.StatusProtocolError},
		{"long control frame", Server, frame(true, ws.OpPing, make([]byte, 126), true), ws.StatusProtocolError},
		{"fragmented control frame", Server, frame(false, ws.OpPing, nil, true), ws.StatusProtocolError},
		{"unmasked client frame", Server, frame(true, ws.OpText, []byte("x"), false), ws.StatusProtocolError},
		{"masked server frame", Client, frame(true, ws.OpText, []byte("x"), true), ws.StatusProtocolError},
		{"stray continuation", Server, frame(true, ws.OpContinuation, []byte("x"), true), ws.StatusProtocolError},
		{"new message inside a fragmented one", Server,
			append(frame(false, ws.OpText, []byte("a"), true), frame(true, ws.OpText, []byte("b"), true)...), ws.StatusProtocolError},
		{"invalid utf-8", Server, frame(true, ws.OpText, []byte{0xff, 0xfe}, true), ws.StatusInvalidFramePayloadData},
		{"close with 1-byte body", Server, frame(true, ws.OpClose, []byte{3}, true), ws.StatusProtocolError},
		{"close with invalid code", Server, frame(true, ws.OpClose, []byte{0, 10}, true), ws.StatusProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NewReader(bytes.NewReader(tt.in), tt.side, Limits{}).ReadMessage()
			var ce *CloseError
			require.ErrorAs(t, err, &ce)
			require.False(t, ce.Remote)
			require.Equal(t, tt.code, ce.Code)
		})
	}
}

func TestCloseFrames(t *testing.T) {
	body := binary.BigEndian.AppendUint16(nil, 4001)
	body = append(body, "bye"...)
	_, _, err := NewReader(bytes.NewReader(frame(true, ws.OpClose, body, true)), Server, Limits{}).ReadMessage()
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, &CloseError{Code: 4001, Reason: "bye", Remote: true}, ce)

	_, _, err = NewReader(bytes.NewReader(frame(true, ws.OpClose, nil, true)), Server, Limits{}).ReadMessage()
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ws.StatusNoStatusRcvd, ce.Code)
}

func TestTruncatedFrame(t *testing.T) {
	f := frame(true, ws.OpText, []byte("hello"), true)
	_, _, err := NewReader(bytes.NewReader(f[:len(f)-2]), Server, Limits{}).ReadMessage()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) { c.writes++; return c.Buffer.Write(p) }

func TestWriteTextsIsOneWrite(t *testing.T) {
	var cw countingWriter
	w := NewWriter(&cw, Server)
	require.NoError(t, w.WriteTexts([][]byte{[]byte("1"), []byte("22"), []byte("333")}))
	require.Equal(t, 1, cw.writes)
	for _, want := range []string{"1", "22", "333"} {
		data, _, err := wsutil.ReadServerData(&cw.Buffer)
		require.NoError(t, err)
		require.Equal(t, want, string(data))
	}
	require.NoError(t, w.WriteClose(ws.StatusNormalClosure, "done"))
	require.ErrorIs(t, w.WriteTexts([][]byte{[]byte("late")}), ErrClosed)
	require.ErrorIs(t, w.WritePong(nil), ErrClosed)
}

func TestParserByteByByteMatchesWhole(t *testing.T) {
	var in []byte
	in = append(in, frame(true, ws.OpText, []byte("one"), true)...)
	in = append(in, frame(false, ws.OpText, []byte("tw"), true)...)
	in = append(in, frame(true, ws.OpPing, []byte("x"), true)...)
	in = append(in, frame(true, ws.OpContinuation, []byte("o"), true)...)
	in = append(in, frame(true, ws.OpBinary, bytes.Repeat([]byte{7}, 300), true)...)
	whole := collect(t, [][]byte{in})
	var pieces [][]byte
	for i := range in {
		pieces = append(pieces, in[i:i+1])
	}
	require.Equal(t, whole, collect(t, pieces))
	require.Equal(t, []string{"t:one", "t:two", "b:" + string(bytes.Repeat([]byte{7}, 300))}, whole)
}

func collect(t *testing.T, chunks [][]byte) []string {
	p := NewParser(Server, Limits{})
	var out []string
	for _, c := range chunks {
		p.Feed(append([]byte(nil), c...))
		for {
			text, payload, ok, err := p.Next()
			require.NoError(t, err)
			if !ok {
				break
			}
			kind := "b:"
			if text {
				kind = "t:"
			}
			out = append(out, kind+string(payload))
		}
		p.Detach()
	}
	require.Equal(t, 0, p.Buffered(), "an idle parser holds no bytes")
	require.Nil(t, p.buf, "an idle parser releases its buffer")
	return out
}

func TestConcurrentWritesKeepFramesIntact(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	w := NewWriter(a, Server)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if i%2 == 0 {
					_ = w.WriteTexts([][]byte{bytes.Repeat([]byte{'a' + byte(i)}, 1000)})
				} else {
					_ = w.WritePong([]byte("pong"))
				}
			}
		}()
	}
	go func() { wg.Wait(); a.Close() }()
	r := NewReader(b, Client, Limits{})
	texts := 0
	for {
		_, p, err := r.ReadMessage()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
			break
		}
		require.NoError(t, err)
		require.Len(t, p, 1000)
		require.Equal(t, bytes.Repeat(p[:1], 1000), p, "frame corrupted")
		texts++
	}
	require.Equal(t, 200, texts)
}

// withLongHeader appends to in a masked frame header with a 64-bit length
// the fuzzer chooses, so that it can reach lengths a byte-level mutation of
// in would hardly find. flags: bit 0 appends the header; bit 1 takes the
// length from just under 2^63 (length%2^20 below it, where sums wrap);
// bit 2 sets FIN, bit 3 RSV1; the top 4 bits are the opcode. Bit 7 of
// step enables permessage-deflate.
func withLongHeader(in []byte, length uint64, flags uint8) []byte {
	if flags&1 == 0 {
		return in
	}
	if flags&2 != 0 {
		length = 1<<63 - 1 - length%(1<<20)
	}
	b0 := flags >> 4
	if flags&4 != 0 {
		b0 |= 0x80
	}
	if flags&8 != 0 {
		b0 |= 0x40
	}
	return append(append([]byte(nil), in...), longHeader(b0, length, true)...)
}

// Flags of withLongHeader for a final continuation frame.
const longContinuation = 1 | 4 | uint8(ws.OpContinuation)<<4

func FuzzParser(f *testing.F) {
	f.Add(frame(true, ws.OpText, []byte(`{"id":1,"method":"ping"}`), true), uint8(3), uint64(0), uint8(0))
	f.Add(append(frame(false, ws.OpText, []byte("a"), true), frame(true, ws.OpContinuation, []byte("b"), true)...), uint8(1), uint64(0), uint8(0))
	f.Add(frame(true, ws.OpClose, []byte{3, 232}, true), uint8(2), uint64(0), uint8(0))
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0xff, 0, 0, 0}, uint8(5), uint64(0), uint8(0))
	// A fragment and a continuation whose length wraps the sum (it
	// crashed the parser), plain and compressed, whole and built.
	f.Add(crashInput(f, true, false), uint8(4), uint64(0), uint8(0))
	f.Add(crashInput(f, true, true), uint8(0x80|4), uint64(0), uint8(0))
	f.Add(frame(false, ws.OpText, []byte(`{"x":`), true), uint8(1), uint64(1<<63-1), longContinuation)
	f.Add(frame(false, ws.OpText, []byte(`{"x":`), true), uint8(1), uint64(3), longContinuation|2)
	f.Fuzz(func(t *testing.T, in []byte, step uint8, length uint64, flags uint8) {
		const limit = 1 << 16
		in = withLongHeader(in, length, flags)
		run := func(chunk int) ([]string, error) {
			p := NewParser(Server, Limits{MaxMessageSize: limit})
			if step&0x80 != 0 {
				p.EnableDeflate()
			}
			var out []string
			for i := 0; i < len(in); i += chunk {
				p.Feed(append([]byte(nil), in[i:min(i+chunk, len(in))]...))
				for {
					text, payload, ok, err := p.Next()
					if err != nil {
						return out, err
					}
					if !ok {
						break
					}
					if len(payload) > limit {
						t.Fatalf("payload of %d bytes over the limit", len(payload))
					}
					out = append(out, string(payload)+map[bool]string{true: "t", false: "b"}[text])
				}
				if p.Buffered() > limit+14+125 { // a message, and a partial header or ping
					t.Fatalf("the parser holds %d bytes, over the limit", p.Buffered())
				}
				if n := p.Need(); n > limit+14 {
					t.Fatalf("the parser waits for %d bytes, over the limit", n)
				}
				p.Detach()
			}
			return out, nil
		}
		whole, errWhole := run(max(len(in), 1))
		split, errSplit := run(int(step%16) + 1)
		require.Equal(t, whole, split)
		require.Equal(t, errWhole == nil, errSplit == nil)
	})
}

func FuzzReader(f *testing.F) {
	f.Add(frame(true, ws.OpText, []byte("hello"), true), uint64(0), uint8(0))
	f.Add(frame(true, ws.OpPing, []byte("x"), true), uint64(0), uint8(0))
	f.Add(crashInput(f, true, false), uint64(0), uint8(0))
	f.Add(crashInput(f, true, true), uint64(0), uint8(0))
	f.Add(frame(false, ws.OpText, []byte(`{"x":`), true), uint64(1<<63-1), longContinuation)
	f.Add(frame(false, ws.OpText, []byte(`{"x":`), true), uint64(3), longContinuation|2)
	f.Fuzz(func(t *testing.T, in []byte, length uint64, flags uint8) {
		in = withLongHeader(in, length, flags)
		r := NewReader(bytes.NewReader(in), Server, Limits{MaxMessageSize: 1 << 16})
		if len(in) > 0 && in[0]&0x40 != 0 { // RSV1 first: compressed
			r.EnableDeflate()
		}
		r.SetControlHandler(func([]byte) {})
		for i := 0; i < 1000; i++ {
			_, p, err := r.ReadMessage()
			if err != nil {
				if n := r.p.Need(); n > 1<<16+14 {
					t.Fatalf("the reader waited for %d bytes, over the limit", n)
				}
				return
			}
			if len(p) > 1<<16 {
				t.Fatal("payload over the limit")
			}
		}
	})
}

func BenchmarkWriteTexts(b *testing.B) {
	w := NewWriter(io.Discard, Server)
	msgs := [][]byte{[]byte(`{"id":2,"result":-8}`), []byte(`{"id":4,"result":true}`)}
	b.ReportAllocs()
	for b.Loop() {
		_ = w.WriteTexts(msgs)
	}
}

func BenchmarkReadMessage(b *testing.B) {
	one := frame(true, ws.OpText, []byte(`{"id":1,"method":"subtract","params":{"a":1,"b":9}}`), true)
	src := bytes.Repeat(one, 1024)
	rd := bytes.NewReader(src)
	r := NewReader(rd, Server, Limits{})
	b.ReportAllocs()
	b.SetBytes(int64(len(one)))
	for i := 0; b.Loop(); i++ {
		if i%1024 == 0 {
			rd.Reset(src)
		}
		if _, _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
