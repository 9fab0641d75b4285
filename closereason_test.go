package wsrpc_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

func TestCloseReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, wsrpc.ReasonNormal},
		{wsrpc.ErrClosed, wsrpc.ReasonNormal},
		{fmt.Errorf("%w: %w", wsrpc.ErrClosed, wsrpc.ErrSendQueueFull), wsrpc.ReasonSendQueueFull},
		{wsrpc.ErrSendQueueFull, wsrpc.ReasonSendQueueFull},
		{fmt.Errorf("%w: no pong within 10s", wsrpc.ErrKeepaliveTimeout), wsrpc.ReasonKeepaliveTimeout},
		{fmt.Errorf("%w: idle for 1s", wsrpc.ErrIdleTimeout), wsrpc.ReasonIdleTimeout},
		{&wsio.CloseError{Code: ws.StatusGoingAway, Remote: true}, wsrpc.ReasonGoingAway},
		{&wsio.CloseError{Code: ws.StatusProtocolError}, wsrpc.ReasonProtocolError},
		{&wsio.CloseError{Code: ws.StatusInvalidFramePayloadData}, wsrpc.ReasonProtocolError},
		{fmt.Errorf("read: %w", &wsio.CloseError{Code: ws.StatusMessageTooBig}), wsrpc.ReasonTooBig},
		{&wsio.CloseError{Code: 4000, Remote: true}, wsrpc.ReasonError},
		{io.ErrUnexpectedEOF, wsrpc.ReasonError},
		{errors.New("write: broken pipe"), wsrpc.ReasonError},
	} {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			require.Equal(t, tc.want, wsrpc.CloseReason(nil, tc.err))
		})
	}
}
