package adversary

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A client may send headers after a chunked body, as trailers, and the
// proxy forwards the trailers a request holds when its body ends. Identity
// headers and credentials must reach the upstream by no route: not as
// headers, not as trailers, declared or not.
var _ = attack("identity headers and credentials never reach the upstream as trailers", func(t *testing.T, s *server) {
	id := s.createAlias(t, `"type":"live","passcode":"open-sesame"`)
	forbidden := []string{"X-Linkgate-Role", "X-Linkgate-User", "X-Linkgate-Alias", "Authorization", "X-Alias-Passcode", "Cookie"}
	for _, route := range []string{"live", "forward"} {
		t.Run(route, func(t *testing.T) {
			seenAs := fmt.Sprintf("/%s/%s/upload", route, id)
			path := seenAs + "?passcode=open-sesame"
			// Declared trailers, sent by Go's client as a client would.
			req, err := http.NewRequest(http.MethodPost, s.base+path, io.NopCloser(strings.NewReader("payload")))
			if err != nil {
				t.Fatal(err)
			}
			req.Trailer = http.Header{}
			for _, name := range append(forbidden, "X-Checksum") {
				req.Trailer.Set(name, "owner")
			}
			if r := do(t, req); r.status != http.StatusOK {
				t.Fatalf("declared trailers: %d %s", r.status, r.body)
			}
			got := s.up.last(t, seenAs)
			wantTrailers(t, got, route, forbidden)
			if got.trailer.Get("X-Checksum") != "owner" {
				t.Errorf("an ordinary trailer was lost: %v", got.trailer)
			}

			// Undeclared trailers, written by hand.
			before := s.up.count(seenAs)
			raw := "POST " + path + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(s.base, "http://") +
				"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\npayload\r\n0\r\n"
			for _, name := range forbidden {
				raw += name + ": owner\r\n"
			}
			raw += "\r\n"
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(conn, raw); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK || s.up.count(seenAs) != before+1 {
				t.Fatalf("undeclared trailers: %d", res.StatusCode)
			}
			wantTrailers(t, s.up.last(t, seenAs), route, forbidden)
		})
	}
})

// wantTrailers fails if an identity header, or on a route that strips
// credentials a credential, reached the upstream as a header or trailer.
func wantTrailers(t *testing.T, got seen, route string, forbidden []string) {
	t.Helper()
	for _, name := range forbidden {
		credential := !strings.HasPrefix(name, "X-Linkgate-")
		if credential && route == "forward" {
			continue
		}
		if v := got.trailer.Values(name); len(v) != 0 {
			t.Errorf("%s reached the upstream as a trailer: %q", name, v)
		}
	}
	if v := got.header.Get("X-Linkgate-Role"); v != "viewer" {
		t.Errorf("X-Linkgate-Role is %q, want viewer", v)
	}
}
