package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// Authorize decides from the upgrade request (headers, cookies) who may
// connect; a refused client gets HTTP 403 and Dial a *client.HandshakeError.
// Handlers read the same request through their connection.
func ExampleOptions_authorize() {
	users := map[string]string{"Bearer t-alice": "alice"}
	reg := wsrpc.NewRegistry()
	reg.MustAdd("whoami", func(ctx context.Context) string {
		return users[wsrpc.ConnFromContext(ctx).Request().Header.Get("Authorization")]
	})
	srv := server.New(reg, &server.Options{
		Authorize: func(r *http.Request) bool {
			_, ok := users[r.Header.Get("Authorization")]
			return ok
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "ws://" + ln.Addr().String() + "/"
	ctx := context.Background()

	_, err = client.Dial(ctx, url, nil, nil)
	var refused *client.HandshakeError
	fmt.Println(errors.As(err, &refused), refused.StatusCode)

	c, err := client.Dial(ctx, url, nil, &client.Options{Header: http.Header{"Authorization": {"Bearer t-alice"}}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	name, err := wsrpc.Call[string](ctx, c, "whoami", nil)
	fmt.Println(name, err)
	// Output:
	// true 403
	// alice <nil>
}
