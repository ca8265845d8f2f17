package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// segment sizes the upstream answers by the last path segment's name:
// .../1m.ts is 1 MiB, .../4m.ts 4 MiB, anything else a 7-byte body.
var bodies = map[string][]byte{
	"1m.ts": make([]byte, 1<<20),
	"4m.ts": make([]byte, 4<<20),
}

var small = []byte("segment")

// runUpstream serves what the gateways in front of it forward: segments
// of a size named by the path, and WebSocket upgrades held open until the
// other side closes. GET /_ws tells how many WebSockets it holds.
func runUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	fs.Parse(args)
	var open atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			holdWebSocket(w, r, &open)
			return
		}
		if r.URL.Path == "/_ws" {
			fmt.Fprintln(w, open.Load())
			return
		}
		body := small
		if b, ok := bodies[r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]]; ok {
			body = b
		}
		w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.Header()["Content-Type"] = []string{"video/mp2t"}
		w.Write(body)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// wsGUID is the fixed GUID of RFC 6455's handshake.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// holdWebSocket answers the upgrade and keeps the connection until the
// peer closes it; what the peer sends is read and dropped.
func holdWebSocket(w http.ResponseWriter, r *http.Request, open *atomic.Int64) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if rw.Flush() != nil {
		return
	}
	open.Add(1)
	defer open.Add(-1)
	io.Copy(io.Discard, bufio.NewReaderSize(conn, 64))
}
