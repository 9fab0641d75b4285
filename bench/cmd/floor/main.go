// Command floor is the practical floor for this protocol in Go: raw
// gobwas/ws, a goroutine per connection, answering "subtract" calls with no
// RPC machinery at all (no registry, no reflection, no JSON library), and
// writing the replies to one read batch in one write. The load generator's
// figures for the wsrpc server are reported as ratios against it, measured
// in the same run.
//
//	go run ./bench/cmd/floor -addr 127.0.0.1:9001
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	log.Printf("floor server on ws://%s/", ln.Addr())
	for {
		nc, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(nc)
	}
}

func serve(nc net.Conn) {
	defer nc.Close()
	if _, err := ws.Upgrade(nc); err != nil {
		return
	}
	br := bufio.NewReaderSize(nc, 4096)
	rd := wsutil.NewServerSideReader(br)
	var out []byte
	for {
		out = out[:0]
		for {
			hdr, err := rd.NextFrame()
			if err != nil {
				return
			}
			payload := make([]byte, hdr.Length)
			if _, err := ioReadFull(rd, payload); err != nil {
				return
			}
			if hdr.OpCode == ws.OpText {
				if reply := answer(payload); reply != nil {
					out = appendFrame(out, reply)
				}
			}
			if br.Buffered() == 0 {
				break
			}
		}
		if len(out) > 0 {
			if _, err := nc.Write(out); err != nil {
				return
			}
		}
	}
}

func ioReadFull(r *wsutil.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil && n < len(p) {
			return n, err
		}
	}
	return n, nil
}

func appendFrame(out, payload []byte) []byte {
	n := len(payload)
	if n <= 125 {
		out = append(out, 0x81, byte(n))
	} else {
		out = append(out, 0x81, 126, byte(n>>8), byte(n))
	}
	return append(out, payload...)
}

// answer replies to {"id":N,"method":"subtract","params":{"a":A,"b":B}} and
// echoes pings; anything else gets no reply.
func answer(msg []byte) []byte {
	id := number(msg, `"id":`)
	if id == nil {
		return nil
	}
	reply := append([]byte(`{"id":`), id...)
	if bytes.Contains(msg, []byte(`"method":"ping"`)) {
		params := []byte("{}")
		if i := bytes.Index(msg, []byte(`"params":`)); i >= 0 {
			params = msg[i+9 : bytes.LastIndexByte(msg, '}')]
		}
		return append(append(append(reply, `,"result":`...), params...), '}')
	}
	a, _ := strconv.ParseInt(string(number(msg, `"a":`)), 10, 64)
	b, _ := strconv.ParseInt(string(number(msg, `"b":`)), 10, 64)
	reply = append(reply, `,"result":`...)
	reply = strconv.AppendInt(reply, a-b, 10)
	return append(reply, '}')
}

func number(msg []byte, key string) []byte {
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return nil
	}
	i += len(key)
	j := i
	for j < len(msg) && (msg[j] == '-' || msg[j] >= '0' && msg[j] <= '9') {
		j++
	}
	return msg[i:j]
}
