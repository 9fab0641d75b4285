package transport

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
	"github.com/wsrpc/wsrpc-go/session"
)

// readRecorder records, for the reads of one connection, how many bytes had
// arrived and the most room a read was given beyond what arrived.
type readRecorder struct {
	arrived atomic.Int64
	excess  atomic.Int64 // max over reads of len(b) - max(arrived, MinGrow)
	early   atomic.Int64 // reads begun with nothing to read (socket only)
}

func (r *readRecorder) record(b []byte) {
	ex := int64(len(b)) - max(r.arrived.Load(), wsio.MinGrow)
	for {
		old := r.excess.Load()
		if ex <= old || r.excess.CompareAndSwap(old, ex) {
			return
		}
	}
}

// tcpRecorder keeps the socket's readiness (it is a syscall.Conn through
// the embedded *net.TCPConn), as a plain connection of the goroutine engine.
type tcpRecorder struct {
	*net.TCPConn
	rec *readRecorder
}

func (c tcpRecorder) Read(b []byte) (int, error) {
	c.rec.record(b)
	if !readable(c.TCPConn) {
		// This read holds its buffer while the peer is silent.
		c.rec.early.Add(1)
	}
	n, err := c.TCPConn.Read(b)
	c.rec.arrived.Add(int64(n))
	return n, err
}

// opaqueRecorder hides the socket, as TLS does: the reader reads into
// buffers of its own.
type opaqueRecorder struct {
	net.Conn
	rec *readRecorder
}

func (c opaqueRecorder) Read(b []byte) (int, error) {
	c.rec.record(b)
	n, err := c.Conn.Read(b)
	c.rec.arrived.Add(int64(n))
	return n, err
}

// bigHeader is a masked text frame header announcing n bytes.
func bigHeader(n uint64) []byte {
	h := []byte{0x81, 0x80 | 127}
	h = binary.BigEndian.AppendUint64(h, n)
	return append(h, 1, 2, 3, 4)
}

func TestSilentBigFramesReserveWhatArrived(t *testing.T) {
	const conns = 50
	const limit = wsio.DefaultMaxMessageSize
	for _, tt := range []struct {
		name  string
		wrap  func(*net.TCPConn, *readRecorder) net.Conn
		waits bool // reads only once bytes arrived
	}{
		{"socket", func(c *net.TCPConn, r *readRecorder) net.Conn { return tcpRecorder{c, r} }, true},
		{"opaque", func(c *net.TCPConn, r *readRecorder) net.Conn { return opaqueRecorder{c, r} }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs := make([]*readRecorder, conns)
			for i := range recs {
				recs[i] = new(readRecorder)
			}
			peers := serveConns(t, conns, &session.Config{Role: wsrpc.RoleServer, MaxMessageSize: limit},
				func(i int, c *net.TCPConn) net.Conn { return tt.wrap(c, recs[i]) })
			// Each peer announces a whole-limit message, sends a little of
			// it, and goes silent; then one byte more, so that the reader's
			// next read (the one that would have reserved the whole frame)
			// has happened when we look.
			head := append(bigHeader(limit), make([]byte, 100)...)
			for _, peer := range peers {
				_, err := peer.Write(head)
				require.NoError(t, err)
			}
			arrived := func(n int64) func() bool {
				return func() bool {
					for _, r := range recs {
						if r.arrived.Load() < n {
							return false
						}
					}
					return true
				}
			}
			require.Eventually(t, arrived(int64(len(head))), 10*time.Second, 5*time.Millisecond)
			for _, peer := range peers {
				_, err := peer.Write([]byte{0})
				require.NoError(t, err)
			}
			require.Eventually(t, arrived(int64(len(head))+1), 10*time.Second, 5*time.Millisecond)
			for i, r := range recs {
				require.LessOrEqual(t, r.excess.Load(), int64(0),
					"connection %d was given %d bytes of room beyond what had arrived", i, r.excess.Load())
				if tt.waits {
					require.Zero(t, r.early.Load(), "connection %d read (holding a buffer) before bytes arrived", i)
				}
			}
		})
	}
}
