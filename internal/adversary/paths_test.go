package adversary

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// MediaMTX's path named its alias by the last element: live/<A>/<B> and
// <A>/../<B> were admitted under <B>'s credentials on a path MediaMTX
// serves as another. Without a prefix only a single element names an
// alias; dot segments never do.
var _ = attack("MediaMTX paths name an alias only as a single element", func(t *testing.T, s *server) {
	a := s.createAlias(t, `"type":"live","passcode":"open-sesame"`)
	b := s.createAlias(t, `"type":"live","passcode":"another-pass"`)
	read := func(hook, path, password string) int {
		body := fmt.Sprintf(`{"ip":"192.0.2.7","user":"","password":%q,"token":"","action":"read","path":%q,"protocol":"rtsp","id":null,"query":""}`, password, path)
		return s.send(t, http.MethodPost, hook, body, "Content-Type", "application/json").status
	}
	for _, tc := range []struct {
		hook, path, password string
		status               int
	}{
		{"/hooks/mediamtx", a, "open-sesame", http.StatusNoContent},
		{"/hooks/mediamtx", "live/" + b + "/" + a, "open-sesame", http.StatusForbidden},
		{"/hooks/mediamtx", b + "/../" + a, "open-sesame", http.StatusForbidden},
		{"/hooks/mediamtx", "./" + a, "open-sesame", http.StatusForbidden},
		{"/hooks/mediamtx-live", "live/" + a, "open-sesame", http.StatusNoContent},
		{"/hooks/mediamtx-live", "live/" + b + "/" + a, "open-sesame", http.StatusForbidden},
		{"/hooks/mediamtx-live", "live/../" + a, "open-sesame", http.StatusForbidden},
	} {
		if got := read(tc.hook, tc.path, tc.password); got != tc.status {
			t.Errorf("%s %q: %d, want %d", tc.hook, tc.path, got, tc.status)
		}
	}
})

// alias_api owns its prefixes: what is under them answers the API's JSON,
// never falls through to the next handler.
var _ = attack("the API answers everything under its prefixes", func(t *testing.T, s *server) {
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/api/v1/alias/a%2Fb", http.StatusNotFound, "alias_not_found"},
		{http.MethodGet, "/api/v1/alias/x/y", http.StatusNotFound, "alias_not_found"},
		{http.MethodGet, "/organization/api/v1/aliases/", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/organization/api/v1/nothing", http.StatusNotFound, "not_found"},
		{http.MethodPost, "/organization/api/v1/alias/update/x/y", http.StatusBadRequest, "alias_not_found"},
	} {
		r := s.send(t, tc.method, tc.path, "{}", "Authorization", s.token)
		if r.status != tc.status || r.code() != tc.code || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %q %s, want %d %s in JSON", tc.method, tc.path, r.status, r.header.Get("Content-Type"), r.body, tc.status, tc.code)
		}
	}
})

// A client that sends its request headers slowly must not hold a
// connection open: the example's server timeouts close it.
var _ = attack("slow headers are cut off", func(t *testing.T, s *server) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		io.Copy(io.Discard, conn)
	}()
	// A header line every second, never the blank line that ends them.
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for i := 0; ; i++ {
		select {
		case <-closed:
			return
		case <-ticker.C:
		}
		if i == 60 {
			t.Fatal("the server still reads headers after a minute")
		}
		if _, err := fmt.Fprintf(conn, "X-Slow-%d: %d\r\n", i, i); err != nil {
			return
		}
	}
})
