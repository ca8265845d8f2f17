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
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// segments are the sizes the upstream answers by the last path segment's
// name: .../1m.ts is 1 MiB, .../4m.ts 4 MiB; anything else gets a 7-byte
// body.
var segments = map[string]int64{"1m.ts": 1 << 20, "4m.ts": 4 << 20}

var small = []byte("segment")

// segmentFiles writes the segments to files, which the upstream serves
// with sendfile: the kernel copies them from the page cache, so the
// upstream spends next to no CPU on them and the gateway in front of it,
// which copies every byte through user space twice, is what limits the
// throughput.
func segmentFiles() (map[string]*os.File, error) {
	dir, err := os.MkdirTemp("", "lgbench-segments")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := make(map[string]*os.File)
	for name, size := range segments {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(make([]byte, size)); err != nil {
			return nil, err
		}
		files[name] = f
	}
	return files, nil
}

// runUpstream serves what the gateways in front of it forward: segments
// of a size named by the path, and WebSocket upgrades held open until the
// other side closes. GET /_ws tells how many WebSockets it holds.
func runUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	fs.Parse(args)
	files, err := segmentFiles()
	if err != nil {
		return err
	}
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
		w.Header()["Content-Type"] = []string{"video/mp2t"}
		name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		if f, ok := files[name]; ok {
			// A file of its own (its own offset) for each response, from
			// the descriptor kept open: the directory is gone.
			seg, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer seg.Close()
			w.Header()["Content-Length"] = []string{strconv.FormatInt(segments[name], 10)}
			io.Copy(w, seg)
			return
		}
		w.Header()["Content-Length"] = []string{strconv.Itoa(len(small))}
		w.Write(small)
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
