package hooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/mediaapi"
)

// admitAll stands in for linkgate's hook in tests of the APIs alone: the
// servers' sessions exist only once a hook admitted them.
func admitAll(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Content-Type"), "json") && r.URL.Path == "/srs" {
			w.Write([]byte(`{"code":0}`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newTestAPI(t *testing.T, raw string) *API {
	t.Helper()
	a, err := NewAPI(raw, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func TestParseAPIURL(t *testing.T) {
	for _, tc := range []struct{ raw, err string }{
		{"http://127.0.0.1:9997", ""},
		{"https://user:pass@mediamtx.internal:9997/", ""},
		{"http://[::1]:1985/prefix", ""},
		{"ftp://127.0.0.1:9997", "scheme must be http or https"},
		{"127.0.0.1:9997", "not a URL"},
		{"mediamtx:9997", "scheme must be http or https"},
		{"http:///v3", "no host"},
		{"http://:9997", "no host"},
		{"http://127.0.0.1:9997/?a=b", "neither query nor fragment"},
		{"http://127.0.0.1:9997/#top", "neither query nor fragment"},
		{"http://:secret@127.0.0.1:9997", "no user name"},
		{"http://127.0.0.1:9997/%zz", "not a URL"},
	} {
		_, err := ParseAPIURL(tc.raw)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.raw, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one saying %q", tc.raw, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("%s: the error quotes the password: %v", tc.raw, err)
		}
	}
}

// TestMediaMTXKick kicks a session of every protocol MediaMTX can end,
// by the ID its auth request carried, and again once it is gone.
func TestMediaMTXKick(t *testing.T) {
	mtx := mediaapi.NewMediaMTX(t, admitAll(t))
	api := newTestAPI(t, mtx.URL)
	for _, c := range []mediaapi.Client{
		{Protocol: "rtmp", Action: "publish"},
		{Protocol: "rtmp", TLS: true, Action: "read"},
		{Protocol: "rtsp", Action: "read"},
		{Protocol: "rtsp", TLS: true, Action: "publish"},
		{Protocol: "srt", Action: "read"},
		{Protocol: "webrtc", Action: "read"},
	} {
		name := c.Protocol
		if c.TLS {
			name += " over TLS"
		}
		t.Run(name, func(t *testing.T) {
			c.Path = "live/a"
			id, status := mtx.Connect(t, c)
			if status != http.StatusNoContent {
				t.Fatalf("connecting: %d", status)
			}
			kicked := id
			if c.Protocol == "rtsp" {
				// RTSP's kick takes the session, not the connection the
				// auth request names.
				kicked = mtx.Session(id)
			}
			if !mediaMTXKickable(c.Protocol, id) {
				t.Fatalf("%s session %s is not kickable", c.Protocol, id)
			}
			if outcome, err := api.kickMediaMTX(t.Context(), c.Protocol, id); outcome != KickKicked || err != nil {
				t.Fatalf("kick: %s %v, want kicked", outcome, err)
			}
			if !mtx.Kicked(kicked) {
				t.Errorf("MediaMTX did not kick %s", kicked)
			}
			if outcome, err := api.kickMediaMTX(t.Context(), c.Protocol, id); outcome != KickGone || err != nil {
				t.Errorf("kick again: %s %v, want gone", outcome, err)
			}
		})
	}
}

// TestMediaMTXKickWithoutTLSServers: a MediaMTX that serves no RTMPS has
// no route for it, and a connection it does not hold is gone.
func TestMediaMTXKickWithoutTLSServers(t *testing.T) {
	mtx := mediaapi.NewMediaMTX(t, admitAll(t))
	mtx.Serve("rtmpconns", "rtspconns", "rtspsessions")
	api := newTestAPI(t, mtx.URL)
	id, _ := mtx.Connect(t, mediaapi.Client{Protocol: "rtmp", Action: "read", Path: "live/a"})
	mtx.Disconnect(id)
	if outcome, err := api.kickMediaMTX(t.Context(), "rtmp", id); outcome != KickGone || err != nil {
		t.Errorf("kick: %s %v, want gone", outcome, err)
	}
	for _, c := range mtx.Calls() {
		if c.Path == "/v3/rtmpsconns/kick/"+id {
			return
		}
	}
	t.Error("the RTMPS collection was not tried")
}

func TestMediaMTXKickCredentials(t *testing.T) {
	mtx := mediaapi.NewMediaMTX(t, admitAll(t))
	mtx.Protect("linkgate", "api-password", false)
	id, _ := mtx.Connect(t, mediaapi.Client{Protocol: "srt", Action: "publish", Path: "live/a"})

	outcome, err := newTestAPI(t, mtx.URL).kickMediaMTX(t.Context(), "srt", id)
	if outcome != KickFailed || failureCode(err) != FailureUnauthorized {
		t.Errorf("without credentials: %s %v, want failed, unauthorized", outcome, err)
	}
	outcome, err = newTestAPI(t, strings.Replace(mtx.URL, "http://", "http://linkgate:api-password@", 1)).kickMediaMTX(t.Context(), "srt", id)
	if outcome != KickKicked || err != nil {
		t.Errorf("with credentials: %s %v, want kicked", outcome, err)
	}
	calls := mtx.Calls()
	if last := calls[len(calls)-1]; last.User != "linkgate" || last.Password != "api-password" {
		t.Errorf("the kick carried %q:%q, want the URL's credentials as basic authentication", last.User, last.Password)
	}
}

// TestMediaMTXList reads every page of a list.
func TestMediaMTXList(t *testing.T) {
	mtx := mediaapi.NewMediaMTX(t, admitAll(t))
	api := newTestAPI(t, mtx.URL)
	want := map[string]bool{}
	for range mediaMTXPageSize + 20 {
		id, _ := mtx.Connect(t, mediaapi.Client{Protocol: "rtmp", Action: "read", Path: "live/a"})
		want[id] = true
	}
	tls, _ := mtx.Connect(t, mediaapi.Client{Protocol: "rtmp", TLS: true, Action: "read", Path: "live/a"})
	want[tls] = true
	ids, known, err := api.listMediaMTX(t.Context(), "rtmp")
	if err != nil || !known {
		t.Fatalf("listing: known %v, %v", known, err)
	}
	if len(ids) != len(want) {
		t.Errorf("listed %d connections, want %d", len(ids), len(want))
	}
	for id := range want {
		if !ids[id] {
			t.Errorf("connection %s not listed", id)
		}
	}

	mtx.Serve()
	if _, known, err := api.listMediaMTX(t.Context(), "rtmp"); known || err != nil {
		t.Errorf("a MediaMTX serving no RTMP: known %v, %v; want nothing known", known, err)
	}
}

func TestSRSKick(t *testing.T) {
	srs := mediaapi.NewSRS(t, admitAll(t)+"/srs")
	srs.Protect("admin", "srs-password")
	api := newTestAPI(t, strings.Replace(srs.URL, "http://", "http://admin:srs-password@", 1))
	id, code := srs.Play(t, "a", "")
	if code != 0 {
		t.Fatalf("playing: code %d", code)
	}
	if !srsKickable(id) {
		t.Fatalf("client %s is not kickable", id)
	}
	if outcome, err := api.kickSRS(t.Context(), id); outcome != KickKicked || err != nil {
		t.Fatalf("kick: %s %v, want kicked", outcome, err)
	}
	if !srs.Kicked(id) {
		t.Errorf("SRS did not kick %s", id)
	}
	// SRS answers 200 with code 2049 for a client it no longer has.
	if outcome, err := api.kickSRS(t.Context(), id); outcome != KickGone || err != nil {
		t.Errorf("kick again: %s %v, want gone", outcome, err)
	}
	if outcome, err := newTestAPI(t, srs.URL).kickSRS(t.Context(), id); outcome != KickFailed || failureCode(err) != FailureUnauthorized {
		t.Errorf("without credentials: %s %v, want failed, unauthorized", outcome, err)
	}
}

func TestSRSKickTimesOut(t *testing.T) {
	srs := mediaapi.NewSRS(t, admitAll(t)+"/srs")
	api, err := NewAPI(srs.URL, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	id, _ := srs.Publish(t, "a", "")
	srs.Hang(true)
	ctx, cancel := context.WithTimeout(t.Context(), api.Timeout())
	defer cancel()
	outcome, err := api.kickSRS(ctx, id)
	if outcome != KickFailed || failureCode(err) != FailureTimeout {
		t.Errorf("kick of a server that does not answer: %s %v, want failed, timeout", outcome, err)
	}
}

func TestKickableIDs(t *testing.T) {
	for _, id := range []string{"", "../../config/global/patch", "3F6C1B2E-9A4D-4C1E-8F0A-2B7D5E6C9A10", "3f6c1b2e-9a4d-4c1e-8f0a-2b7d5e6c9a1", "3f6c1b2e/9a4d-4c1e-8f0a-2b7d5e6c9a10"} {
		if mediaMTXKickable("rtmp", id) {
			t.Errorf("MediaMTX ID %q is kickable", id)
		}
	}
	if mediaMTXKickable("hls", "3f6c1b2e-9a4d-4c1e-8f0a-2b7d5e6c9a10") {
		t.Error("an HLS session is kickable: MediaMTX's API has no kick for it")
	}
	for _, id := range []string{"", "a/b", "..", strings.Repeat("a", maxSRSClientID+1), "1985 "} {
		if srsKickable(id) {
			t.Errorf("SRS ID %q is kickable", id)
		}
	}
	if !srsKickable("1985") || !srsKickable("341w361a") {
		t.Error("SRS 3's and SRS 5's IDs are not kickable")
	}
}

func TestIsCaller(t *testing.T) {
	a := newTestAPI(t, "http://linkgate:api-password@127.0.0.1:9997")
	if !a.IsCaller("linkgate", "api-password") {
		t.Error("the API's own credentials are not its caller's")
	}
	for _, c := range [][2]string{{"linkgate", ""}, {"linkgate", "api-passwor"}, {"", "api-password"}, {"admin", "api-password"}} {
		if a.IsCaller(c[0], c[1]) {
			t.Errorf("%q:%q is the API's caller", c[0], c[1])
		}
	}
	if newTestAPI(t, "http://127.0.0.1:9997").IsCaller("", "") {
		t.Error("an API without credentials has a caller")
	}
}
