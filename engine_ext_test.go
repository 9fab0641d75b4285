package wsrpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// The engine's own rules, over a real server on every engine: the depth
// limit, error replies to this side's calls, inline handlers.

func TestMaxDepth(t *testing.T) {
	forEachEngine(t, testMaxDepth)
}

func testMaxDepth(t *testing.T) {
	_, url := newServer(t, &server.Options{Options: wsrpc.Options{MaxDepth: 8}})
	c := dialRaw(t, url)
	deep := strings.Repeat("[", 20) + strings.Repeat("]", 20)
	c.Send(`{"id":1,"method":"echo","params":` + deep + `}`)
	require.Regexp(t, `^\{"id":1,"error":\{"type":"TypeError","message":".*MaxDepth.*"\}\}$`, c.Read())
	// Brackets inside strings do not count, and shallow data passes.
	c.Send(`{"id":2,"method":"echo","params":{"s":"` + strings.Repeat("[", 30) + `"}}`)
	require.Equal(t, `{"id":2,"result":{"s":"`+strings.Repeat("[", 30)+`"}}`, c.Read())
}

func TestStringErrorReplyRejectsTheServersCall(t *testing.T) {
	forEachEngine(t, testStringErrorReplyRejectsTheServersCall)
}

func testStringErrorReplyRejectsTheServersCall(t *testing.T) {
	reg := testRegistry(t)
	result := make(chan error, 1)
	reg.MustAdd("ask_client", func(ctx context.Context) bool {
		result <- wsrpc.ConnFromContext(ctx).Call(ctx, "question", nil, nil)
		return true
	})
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	c := dialRaw(t, startServer(t, srv))
	c.Send(`{"id":1,"method":"ask_client"}`)
	var call struct {
		ID     int    `json:"id"`
		Method string `json:"method"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.Read()), &call))
	require.Equal(t, "question", call.Method)
	c.Send(fmt.Sprintf(`{"id":%d,"error":"Route not found","result":null}`, call.ID))
	err := recv(t, result, "the server's call to fail")
	var e *wsrpc.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "Route not found", e.Message)
	require.Equal(t, `{"id":1,"result":true}`, c.Read(), "nothing is echoed for the error reply")
}

func TestInlineHandlerCannotCallThePeer(t *testing.T) {
	forEachEngine(t, testInlineHandlerCannotCallThePeer)
}

func testInlineHandlerCannotCallThePeer(t *testing.T) {
	reg := testRegistry(t)
	reg.MustAdd("inline_call", wsrpc.Inline(func(ctx context.Context) error {
		return wsrpc.ConnFromContext(ctx).Call(ctx, "ping", nil, nil)
	}))
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	c := dial(t, startServer(t, srv), nil, nil)
	err := c.Call(testCtx(t), "inline_call", nil, nil)
	var e *wsrpc.Error
	require.ErrorAs(t, err, &e)
	require.Contains(t, e.Message, "inline handler cannot call the peer")
}
