package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/discovery"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/rooms"
	"github.com/wsrpc/wsrpc-go/server"
)

// The page itself is compiled into the binary; the JS client is not (it is
// @wsrpc/client as npm installed it).
//
//go:embed index.html app.js api.js style.css
var page embed.FS

// clientFiles maps the URLs of the JS client to its files inside
// node_modules: the UMD build, which defines the global WSRPC, and its
// source map (fetched only by a browser's developer tools).
var clientFiles = map[string]string{
	"/static/wsrpc.min.js":     "@wsrpc/client/dist/wsrpc.min.js",
	"/static/wsrpc.min.js.map": "@wsrpc/client/dist/wsrpc.min.js.map",
}

// config is what the command line sets.
type config struct {
	modules        string   // the node_modules directory holding @wsrpc/client
	allowedOrigins []string // server.Options.AllowedOrigins
	tick           time.Duration
}

// demo is the page's server: the introduction's routes, the demo's own
// (state and increment), and the events it broadcasts to every tab.
type demo struct {
	srv     *server.Server
	cfg     config
	log     *slog.Logger
	counter atomic.Int64 // the shared counter every tab shows
	tabs    atomic.Int64 // connected tabs (counted by the hooks: Clients() may still list a closing one)

	mu     sync.Mutex
	lastBy string // the tab that last incremented the counter

	// rooms holds the feed room, whose events a tab that was offline
	// gets back when it reconnects (its history).
	rooms *rooms.Rooms
	feed  int64 // the last feed event's number (broadcast's goroutine only)

	counterChanged chan struct{} // pokes broadcast; buffered, never blocks
	tabsChanged    chan struct{}
}

func newDemo(cfg config, log *slog.Logger) *demo {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.tick <= 0 {
		cfg.tick = time.Second
	}
	d := &demo{
		cfg:            cfg,
		log:            log,
		counterChanged: make(chan struct{}, 1),
		tabsChanged:    make(chan struct{}, 1),
		rooms: rooms.New(&rooms.Options{Logger: log, History: func(room string) *rooms.History {
			if room == feedRoom {
				return &rooms.History{MaxEvents: 600, MaxAge: 10 * time.Minute}
			}
			return nil
		}}),
	}
	d.srv = server.New(d.routes(), &server.Options{
		Options: wsrpc.Options{
			Logger: log,
			Hooks: wsrpc.ChainHooks(d.rooms.Hooks(), &wsrpc.Hooks{
				OnConnect: func(context.Context, *wsrpc.Conn) error { d.tabs.Add(1); poke(d.tabsChanged); return nil },
				OnClose:   func(*wsrpc.Conn, error) { d.tabs.Add(-1); poke(d.tabsChanged) },
			}),
		},
		AllowedOrigins: cfg.allowedOrigins,
	})
	return d
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // a poke is already pending: broadcast will read the latest value
	}
}

// State is the reply of the state route: what a tab shows when it connects.
type State struct {
	You     string `json:"you"`     // this tab's connection id
	Counter int64  `json:"counter"` // the shared counter
	Tabs    int64  `json:"tabs"`    // tabs connected now
	Time    string `json:"time"`    // the server's clock, RFC 3339
}

// discoveryOptions describe the demo's OpenRPC document (rpc.discover),
// which api.ts, the page's typings, is generated from: the page must expose
// the introduction client's multiply, which multiply_loopback calls.
func discoveryOptions() *discovery.Options {
	return &discovery.Options{Title: "wsrpc browser demo", Peer: intro.ClientRoutes()}
}

// feedRoom is the demo's room with history: a numbered event every tick.
const feedRoom = "feed"

// routes returns the demo's routes: the introduction's (subtract, kv,
// multiply_loopback), state, increment, rooms.join and rooms.leave (for
// the feed room), and rpc.discover.
func (d *demo) routes() *wsrpc.Registry {
	reg := intro.ServerRoutes()
	if err := d.rooms.Routes(reg, func(_ context.Context, _ *wsrpc.Conn, room string) error {
		if room != feedRoom {
			return wsrpc.NewError(rooms.TypePermissionError, "this demo has one room: "+feedRoom)
		}
		return nil
	}); err != nil {
		panic(err)
	}
	reg.MustAdd("state", wsrpc.Doc(d.state, "Returns this tab's id, the shared counter, the number of tabs and the server's clock."))
	reg.MustAdd("increment", wsrpc.Doc(d.increment, "Adds one to the shared counter and returns it; every tab gets a counter event."))
	discovery.MustRegister(reg, discoveryOptions())
	return reg
}

// document returns the demo's OpenRPC document, indented, as
// openrpc.json holds it.
func document() ([]byte, error) {
	doc, err := discovery.Document(newDemo(config{}, nil).routes(), discoveryOptions())
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func (d *demo) state(ctx context.Context) State {
	return State{
		You:     wsrpc.ConnFromContext(ctx).ID(),
		Counter: d.counter.Load(),
		Tabs:    d.tabs.Load(),
		Time:    time.Now().UTC().Format(time.RFC3339),
	}
}

// increment adds one to the shared counter and returns the new value; every
// tab, this one included, then gets a counter event.
func (d *demo) increment(ctx context.Context) int64 {
	d.mu.Lock()
	n := d.counter.Add(1)
	d.lastBy = wsrpc.ConnFromContext(ctx).ID()
	d.mu.Unlock()
	poke(d.counterChanged)
	return n
}

// Events broadcast to every tab. Each is a JSON object without "id".
type (
	tickEvent struct {
		Type string `json:"type"` // "tick"
		Time string `json:"time"`
	}
	counterEvent struct {
		Type  string `json:"type"` // "counter"
		Value int64  `json:"value"`
		By    string `json:"by"` // the tab that incremented it
	}
	tabsEvent struct {
		Type  string `json:"type"` // "tabs"
		Count int64  `json:"count"`
	}
	// feedEvent goes to the feed room every tick; the room adds its
	// position ("_room"), and a tab that reconnects gets what it missed.
	feedEvent struct {
		Type string `json:"type"` // "feed"
		N    int64  `json:"n"`
		Time string `json:"time"`
	}
)

// broadcast sends the clock every tick and the counter and tab count when
// they change, until ctx ends. One goroutine sends everything, so every tab
// sees the values in the order they happened.
func (d *demo) broadcast(ctx context.Context) {
	t := time.NewTicker(d.cfg.tick)
	defer t.Stop()
	for {
		var ev any
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ev = tickEvent{Type: "tick", Time: now.UTC().Format(time.RFC3339)}
			d.feed++
			if _, err := d.rooms.Emit(ctx, feedRoom, feedEvent{Type: "feed", N: d.feed, Time: now.UTC().Format(time.RFC3339)}); err != nil {
				d.log.Error("feed event", "err", err)
			}
		case <-d.counterChanged:
			d.mu.Lock()
			ev = counterEvent{Type: "counter", Value: d.counter.Load(), By: d.lastBy}
			d.mu.Unlock()
		case <-d.tabsChanged:
			ev = tabsEvent{Type: "tabs", Count: d.tabs.Load()}
		}
		d.emit(ctx, ev)
	}
}

// emit sends ev to every tab; a tab that cannot take it is left to the
// server's own limits (a full send queue disconnects it).
func (d *demo) emit(ctx context.Context, ev any) {
	msg, err := json.Marshal(ev)
	if err != nil {
		d.log.Error("encode event", "err", err)
		return
	}
	ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := d.srv.Emit(ectx, json.RawMessage(msg)); err != nil {
		d.log.Debug("event not delivered to every tab", "err", err)
	}
}

// handler serves the page at /, the JS client under /static/ and the
// WebSocket at /ws/.
func (d *demo) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ws/", d.srv)
	for url, file := range clientFiles {
		path := filepath.Join(d.cfg.modules, filepath.FromSlash(file))
		mux.HandleFunc("GET "+url, func(w http.ResponseWriter, r *http.Request) {
			if _, err := os.Stat(path); err != nil {
				http.Error(w, fmt.Sprintf("404: %s is missing: run `npm ci` in examples/browser (or `make browser`), or point -modules at the node_modules that holds @wsrpc/client", path), http.StatusNotFound)
				return
			}
			http.ServeFile(w, r, path)
		})
	}
	mux.Handle("GET /", http.FileServerFS(page))
	return mux
}

// findModules returns the node_modules directory that holds @wsrpc/client:
// dir when given, else the first of ./node_modules and
// ./examples/browser/node_modules that has it (so the demo runs from its
// own directory and from the repository's root).
func findModules(dir string) (string, error) {
	candidates := []string{dir}
	if dir == "" {
		candidates = []string{"node_modules", filepath.Join("examples", "browser", "node_modules")}
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, filepath.FromSlash(clientFiles["/static/wsrpc.min.js"]))); err == nil {
			return filepath.Abs(c)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return candidates[0], fmt.Errorf("@wsrpc/client not found in %v: run `npm ci` in examples/browser (or `make browser`)", candidates)
}
