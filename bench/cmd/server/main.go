// Command server is the benchmark target: the introduction's routes
// (subtract, kv, multiply_loopback) on the chosen engine, with optional CPU
// and heap profiles.
//
//	go run ./bench/cmd/server -addr 127.0.0.1:9002 -engine netpoll -cpuprofile cpu.out
//
// -identify sets an Options.Identify (ids from ?id=, else a counter), to
// measure what identity costs an idle connection.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9002", "address to listen on")
	engine := flag.String("engine", server.EngineNetpoll, "netpoll or goroutine")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM")
	memprofile := flag.String("memprofile", "", "write a heap profile here at SIGTERM")
	memrate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (1 records every allocation; 0 keeps the default)")
	identify := flag.Bool("identify", false, "give each connection an id (its ?id= query parameter, else a counter) and a value, with Options.Identify")
	flag.Parse()
	if *memrate > 0 {
		runtime.MemProfileRate = *memrate
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	opts := &server.Options{Engine: *engine}
	if *identify {
		var n atomic.Int64
		opts.Identify = func(r *http.Request) (string, any, error) {
			id := r.URL.Query().Get("id")
			if id == "" {
				id = "conn-" + strconv.FormatInt(n.Add(1), 10)
			}
			return id, id, nil
		}
	}
	srv := server.New(intro.ServerRoutes(), opts)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fail(err)
	}
	go func() { _ = srv.Serve(ln) }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "server: at exit: goroutines=%d stacks-in-use=%d heap-in-use=%d heap-alloc=%d heap-idle=%d heap-released=%d gc-sys=%d other-sys=%d mspan=%d next-gc=%d sys=%d\n",
		runtime.NumGoroutine(), ms.StackInuse, ms.HeapInuse, ms.HeapAlloc, ms.HeapIdle, ms.HeapReleased, ms.GCSys, ms.OtherSys, ms.MSpanInuse, ms.NextGC, ms.Sys)
	if *memprofile != "" {
		runtime.GC() // the profile shows what is live now
		f, err := os.Create(*memprofile)
		if err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "server:", err)
	os.Exit(1)
}
