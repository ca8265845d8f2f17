package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/node"
)

// hookNow is the clock of every hook test.
var hookNow = time.Unix(1_800_000_000, 0)

// Secrets of the hook fixture's aliases.
const (
	hookPasscode  = "correct-horse"
	hookStreamKey = "sk-0123456789abcdef"
	hookOMESecret = "ome-admission-secret"
)

var hookJWTSecret = strings.Repeat("s", 32)

// hookFixture is a gate over aliases in a real embedded store, read
// through a node's caches as alias_hooks reads them, counting the lookups
// the gate makes.
type hookFixture struct {
	gate *gate.Gate
	node *node.Node
	// lookups counts the gate's lookups of aliases by ID and by key.
	lookups *countingSource

	full, public, expired, conference *alias.Alias
	ownerToken                        string
}

// countingSource counts the lookups of aliases a gate makes.
type countingSource struct {
	gate.Source
	n atomic.Int64
}

func (c *countingSource) Alias(ctx context.Context, id string) (*alias.Alias, error) {
	c.n.Add(1)
	return c.Source.Alias(ctx, id)
}

func (c *countingSource) AliasByStreamKey(ctx context.Context, key string) (*alias.Alias, error) {
	c.n.Add(1)
	return c.Source.AliasByStreamKey(ctx, key)
}

func (c *countingSource) Load() int64 { return c.n.Load() }

func newHookFixture(t testing.TB) *hookFixture {
	return newHookFixtureAt(t, hookNow)
}

// newHookFixtureAt is newHookFixture with the gate's clock at now.
func newHookFixtureAt(t testing.TB, now time.Time) *hookFixture {
	t.Helper()
	n, err := node.New(node.Config{Database: node.Database{DSN: filepath.Join(t.TempDir(), "linkgate.db")}}, node.Events{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	store, err := n.Backend()
	if err != nil {
		t.Fatal(err)
	}
	org, err := store.CreateOrg(context.Background(), "hooks")
	if err != nil {
		t.Fatal(err)
	}
	token, hash := alias.NewOrgToken()
	if _, err := store.CreateToken(context.Background(), org.ID, "test", hash); err != nil {
		t.Fatal(err)
	}
	f := &hookFixture{node: n, ownerToken: token}
	add := func(a alias.Alias) *alias.Alias {
		t.Helper()
		a.OrgID = org.ID
		created, err := store.CreateAlias(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		return &created
	}
	f.full = add(alias.Alias{
		ID: "fullalias001", Type: alias.TypeLive,
		Passcode: hookPasscode, JWTSecret: hookJWTSecret, StreamKey: hookStreamKey,
		ExpiredAt: hookNow.Add(time.Hour),
	})
	f.public = add(alias.Alias{ID: "publicalias1", Type: alias.TypeLive, StreamKey: "sk-public-0123456789", ExpiredAt: hookNow.Add(time.Hour)})
	f.expired = add(alias.Alias{ID: "expiredalias", Type: alias.TypeLive, Passcode: hookPasscode, StreamKey: "sk-expired-0123456789", ExpiredAt: hookNow.Add(-time.Second)})
	f.conference = add(alias.Alias{ID: "conference01", Type: alias.TypeConference, Passcode: hookPasscode, JWTSecret: hookJWTSecret, ExpiredAt: hookNow.Add(time.Hour)})
	clock := func() time.Time { return now }
	f.lookups = &countingSource{Source: n}
	f.gate = &gate.Gate{
		Source:  f.lookups,
		JWT:     gate.NewJWTVerifier(gate.DefaultJWTLeeway, gate.DefaultMaxTokenLifetime, clock),
		Tokens:  gate.NewTokenCache(64),
		Limiter: gate.NewLimiter(3, time.Minute, 1000),
		Now:     clock,
	}
	return f
}

// stopStore closes the fixture's store, as a database that went down.
func (f *hookFixture) stopStore(t testing.TB) {
	t.Helper()
	b, err := f.node.Backend()
	if err != nil {
		t.Fatal(err)
	}
	b.(io.Closer).Close()
}

func (f *hookFixture) handler(flavour Flavour) *Handler {
	h := &Handler{Gate: f.gate, Flavour: flavour}
	if flavour == FlavourOME {
		h.Secret = []byte(hookOMESecret)
	}
	return h
}

// hookJWT signs claims for alias id with the fixture's secret; the token
// expires in ttl.
func hookJWT(t testing.TB, id string, ttl time.Duration, extra jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"alias": id, "iat": hookNow.Unix(), "exp": hookNow.Add(ttl).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(hookJWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func omeSignature(secret, body string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Request bodies as the servers send them, byte for byte: %[1]s is the
// alias ID or stream name, %[2]s the credential part.
const (
	// MediaMTX before userAgent was added, for a session-less request.
	mediaMTXOld = `{"ip":"192.0.2.10","user":"","password":"%[2]s","token":"","action":"publish","path":"live/%[1]s","protocol":"rtmp","id":null,"query":""}`
	mediaMTXNew = `{"ip":"198.51.100.7","user":"viewer","password":"","token":"","action":"read","path":"live/%[1]s","protocol":"hls","id":"3f6c1b2e-9a4d-4c1e-8f0a-2b7d5e6c9a10","query":"%[2]s","userAgent":"VLC/3.0.20 LibVLC/3.0.20"}`

	srsNew = `{"server_id":"vid-0xk989d","service_id":"4k2mh1r0","action":"on_publish","client_id":"341w361a","ip":"192.0.2.20","vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://192.0.2.1:1935/live","stream":"%[1]s","param":"%[2]s","stream_url":"/live/%[1]s","stream_id":"vid-124q9y3"}`
	srsOld = `{"action":"on_play","client_id":1985,"ip":"192.0.2.21","vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://192.0.2.1/live","stream":"%[1]s","param":"%[2]s","pageUrl":""}`

	nginxSession = `app=live&flashver=FMLE/3.0%20(compatible%3B%20FMSc/1.0)&swfurl=&tcurl=rtmp://192.0.2.1:1935/live&pageurl=&addr=192.0.2.30&clientid=7`
	nginxPublish = nginxSession + `&call=publish&name=%[1]s&type=live%[2]s`
	nginxPlay    = `app=live&flashver=LNX%209,0,124,2&swfurl=&tcurl=rtmp://192.0.2.1:1935/live&pageurl=&addr=192.0.2.31&clientid=9&call=play&name=%[1]s&start=4294966296&duration=0&reset=0%[2]s`
	nginxUpdate  = nginxSession + `&call=update_publish&time=30&timestamp=30012&name=%[1]s%[2]s`
	// nginx's own session that pushes a stream to another application
	// reads it locally, and its addr is the push target.
	nginxRelaySession = `app=&flashver=ngx-local-relay&swfurl=&tcurl=&pageurl=&addr=127.0.0.1:1935/live&clientid=3`
	nginxRelayUpdate  = nginxRelaySession + `&call=update_play&time=2&timestamp=2103&name=%[1]s%[2]s`

	omeIncoming = `{"client":{"address":"192.0.2.40","port":29291,"real_ip":"192.0.2.40","user_agent":""},"request":{"direction":"incoming","protocol":"rtmp","status":"opening","url":"rtmp://192.0.2.1:1935/app/%[1]s%[2]s","time":"2021-05-12T13:45:00.000Z"}}`
	omeOutgoing = `{"client":{"address":"192.0.2.41","port":51123,"real_ip":"192.0.2.41","user_agent":"Mozilla/5.0 (X11; Linux x86_64)"},"request":{"direction":"outgoing","protocol":"llhls","status":"opening","url":"http://192.0.2.1:3333/app/%[1]s/llhls.m3u8%[2]s","time":"2021-05-12T13:45:01.000Z"}}`
	omeClosing  = `{"client":{"address":"192.0.2.40","port":29291,"real_ip":"192.0.2.40","user_agent":""},"request":{"direction":"incoming","protocol":"rtmp","status":"closing","url":"rtmp://192.0.2.1:1935/app/%[1]s","new_url":"rtmp://192.0.2.1:1935/app/%[1]s","time":"2021-05-12T14:45:00.000Z"}}`
)

// body fills a body template. Values are written as given: the templates
// decide how the server escapes them.
func body(template, id, credential string) string {
	return strings.NewReplacer("%[1]s", id, "%[2]s", credential).Replace(template)
}

func TestParseRequests(t *testing.T) {
	jwtToken := hookJWT(t, "fullalias001", time.Hour, nil)
	key := func(v string) gate.Credential { return gate.Credential{Kind: gate.KindStreamKey, Value: v} }
	pass := func(v string) gate.Credential { return gate.Credential{Kind: gate.KindPasscode, Value: v} }
	bearer := func(v string) gate.Credential { return gate.Credential{Kind: gate.KindBearer, Value: v} }
	cases := []struct {
		name   string
		parse  func(string) (Request, error)
		body   string
		want   Request
		errMsg string
	}{
		{
			name:  "mediamtx old publish, id null, no userAgent",
			parse: func(b string) (Request, error) { return parseMediaMTX([]byte(b), "live", nil) },
			body:  body(mediaMTXOld, "fullalias001", hookStreamKey),
			want: Request{AliasID: "fullalias001", Action: ActionPublish,
				Credential: bearer(hookStreamKey), ClientIP: "192.0.2.10", Protocol: "rtmp"},
		},
		{
			name:  "mediamtx read, query passcode then jwt: the token parameters come first, as at the gateway",
			parse: func(b string) (Request, error) { return parseMediaMTX([]byte(b), "live", nil) },
			body:  body(mediaMTXNew, "fullalias001", "passcode=correct%2Dhorse&jwt="+jwtToken+"&x=1"),
			want: Request{AliasID: "fullalias001", Action: ActionRead,
				Credential: bearer(jwtToken),
				ClientIP:   "198.51.100.7", Client: "3f6c1b2e-9a4d-4c1e-8f0a-2b7d5e6c9a10", Protocol: "hls"},
		},
		{
			name:  "mediamtx read, JWT as RTSP password",
			parse: func(b string) (Request, error) { return parseMediaMTX([]byte(b), "", nil) },
			body:  `{"ip":"192.0.2.11","user":"any","password":"` + jwtToken + `","token":"","action":"read","path":"fullalias001","protocol":"rtsp","id":null,"query":""}`,
			want: Request{AliasID: "fullalias001", Action: ActionRead,
				Credential: gate.Credential{Kind: gate.KindJWT, Value: jwtToken}, ClientIP: "192.0.2.11", Protocol: "rtsp"},
		},
		{
			name:  "mediamtx playback, bearer token, nested path without a prefix names no alias",
			parse: func(b string) (Request, error) { return parseMediaMTX([]byte(b), "", nil) },
			body:  `{"ip":"192.0.2.12","user":"","password":"","token":"` + jwtToken + `","action":"playback","path":"a/b/fullalias001","protocol":"","id":null,"query":"","userAgent":""}`,
			want: Request{Action: ActionRead,
				Credential: bearer(jwtToken), ClientIP: "192.0.2.12"},
		},
		{
			name:  "mediamtx path outside the prefix",
			parse: func(b string) (Request, error) { return parseMediaMTX([]byte(b), "/live/", nil) },
			body:  strings.Replace(body(mediaMTXOld, "fullalias001", ""), `live/`, `lives/`, 1),
			want:  Request{Action: ActionPublish, ClientIP: "192.0.2.10", Protocol: "rtmp"},
		},
		{
			name:  "mediamtx api, not allowed",
			parse: func(b string) (Request, error) { return parseMediaMTX([]byte(b), "", nil) },
			body:  `{"ip":"127.0.0.1","user":"admin","password":"x","token":"","action":"api","path":"","protocol":"","id":null,"query":""}`,
			// The credentials are kept, to recognise linkgate's own calls.
			want: Request{Action: ActionOther, ClientIP: "127.0.0.1", apiAction: true, apiUser: "admin", apiPassword: "x"},
		},
		{
			name:  "mediamtx metrics, allowed",
			parse: func(b string) (Request, error) { return parseMediaMTX([]byte(b), "", []string{"metrics"}) },
			body:  `{"ip":"127.0.0.1","user":"","password":"","token":"","action":"metrics","path":"","protocol":"","id":null,"query":""}`,
			want:  Request{Action: ActionOther, ClientIP: "127.0.0.1", Ack: true},
		},
		{
			name:   "mediamtx not JSON",
			parse:  func(b string) (Request, error) { return parseMediaMTX([]byte(b), "", nil) },
			body:   `ip=1.2.3.4&action=read`,
			errMsg: "not MediaMTX's JSON",
		},
		{
			name:  "srs new publish, string client_id",
			parse: func(b string) (Request, error) { return parseSRS([]byte(b)) },
			body:  body(srsNew, "fullalias001", "?key="+hookStreamKey+"&passcode=x"),
			want: Request{AliasID: "fullalias001", Action: ActionPublish,
				Credential: key(hookStreamKey), ClientIP: "192.0.2.20", Client: "341w361a"},
		},
		{
			name:  "srs old play, integer client_id",
			parse: func(b string) (Request, error) { return parseSRS([]byte(b)) },
			body:  body(srsOld, "fullalias001", "?vhost=__defaultVhost__&passcode=correct-horse"),
			want: Request{AliasID: "fullalias001", Action: ActionRead,
				Credential: pass(hookPasscode), ClientIP: "192.0.2.21", Client: "1985"},
		},
		{
			name:  "srs play with a token and no leading ?",
			parse: func(b string) (Request, error) { return parseSRS([]byte(b)) },
			body:  body(srsOld, "fullalias001", "token="+jwtToken),
			want: Request{AliasID: "fullalias001", Action: ActionRead,
				Credential: bearer(jwtToken), ClientIP: "192.0.2.21", Client: "1985"},
		},
		{
			name:  "srs on_close",
			parse: func(b string) (Request, error) { return parseSRS([]byte(b)) },
			body:  `{"action":"on_close","client_id":1985,"ip":"192.0.2.21","vhost":"__defaultVhost__","app":"live","send_bytes":10560,"recv_bytes":3590}`,
			want:  Request{ClientIP: "192.0.2.21", Client: "1985", Ack: true, Ended: true},
		},
		{
			name:  "srs on_unpublish",
			parse: func(b string) (Request, error) { return parseSRS([]byte(b)) },
			body:  strings.Replace(body(srsNew, "fullalias001", ""), "on_publish", "on_unpublish", 1),
			want:  Request{ClientIP: "192.0.2.20", Client: "341w361a", Ack: true, Ended: true},
		},
		{
			name:   "srs client_id of another type",
			parse:  func(b string) (Request, error) { return parseSRS([]byte(b)) },
			body:   `{"action":"on_play","client_id":[1],"stream":"x"}`,
			errMsg: "not SRS's JSON",
		},
		{
			name:  "nginx publish by alias ID, key in the client's query",
			parse: func(b string) (Request, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxPublish, "fullalias001", "&key="+hookStreamKey),
			want: Request{AliasID: "fullalias001", Action: ActionPublish, NameMayBeKey: true,
				Credential: key(hookStreamKey), ClientIP: "192.0.2.30", Client: "7"},
		},
		{
			name:  "nginx publish by stream key as name",
			parse: func(b string) (Request, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxPublish, hookStreamKey, ""),
			want: Request{AliasID: hookStreamKey, Action: ActionPublish, NameMayBeKey: true,
				ClientIP: "192.0.2.30", Client: "7"},
		},
		{
			name:  "nginx play with passcode and other parameters",
			parse: func(b string) (Request, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxPlay, "fullalias001", "&player=obs&passcode=correct+horse"),
			want: Request{AliasID: "fullalias001", Action: ActionRead,
				Credential: pass("correct horse"), ClientIP: "192.0.2.31", Client: "9"},
		},
		{
			name:  "nginx update_publish",
			parse: func(b string) (Request, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxUpdate, hookStreamKey, ""),
			want: Request{AliasID: hookStreamKey, Action: ActionPublish, NameMayBeKey: true, Recheck: true,
				ClientIP: "192.0.2.30", Client: "7"},
		},
		{
			name:  "nginx client query cannot override call, name or addr",
			parse: func(b string) (Request, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxPlay, "fullalias001", "&call=publish_done&name=publicalias1&addr=10.9.9.9&clientid=1&passcode=x"),
			want: Request{AliasID: "fullalias001", Action: ActionRead,
				Credential: pass("x"), ClientIP: "192.0.2.31", Client: "9"},
		},
		{
			name:  "nginx publish_done",
			parse: func(b string) (Request, error) { return parseNginxRTMP([]byte(b)) },
			body:  nginxSession + "&call=publish_done&name=fullalias001&key=" + hookStreamKey,
			want:  Request{ClientIP: "192.0.2.30", Client: "7", Ack: true},
		},
		{
			name:  "nginx update_play of its own push",
			parse: func(b string) (Request, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxRelayUpdate, "fullalias001", ""),
			want:  Request{ClientIP: "127.0.0.1:1935/live", Client: "3", Ack: true},
		},
		{
			name:   "nginx without call",
			parse:  func(b string) (Request, error) { return parseNginxRTMP([]byte(b)) },
			body:   "name=fullalias001&key=x",
			errMsg: "no call",
		},
		{
			name:  "ome incoming rtmp",
			parse: func(b string) (Request, error) { return parseOME([]byte(b)) },
			body:  body(omeIncoming, "fullalias001", "?key="+hookStreamKey),
			want: Request{AliasID: "fullalias001", Action: ActionPublish,
				Credential: key(hookStreamKey), ClientIP: "192.0.2.40"},
		},
		{
			name:  "ome outgoing llhls file under the stream",
			parse: func(b string) (Request, error) { return parseOME([]byte(b)) },
			body:  body(omeOutgoing, "fullalias001", "?token="+jwtToken),
			want: Request{AliasID: "fullalias001", Action: ActionRead,
				Credential: bearer(jwtToken), ClientIP: "192.0.2.41"},
		},
		{
			name:  "ome srt streamid",
			parse: func(b string) (Request, error) { return parseOME([]byte(b)) },
			body: strings.Replace(body(omeIncoming, "", ""), "rtmp://192.0.2.1:1935/app/",
				"srt://192.0.2.1:9999?streamid=srt%3A%2F%2F192.0.2.1%3A9999%2Fapp%2Ffullalias001%3Fkey%3D"+hookStreamKey, 1),
			want: Request{AliasID: "fullalias001", Action: ActionPublish,
				Credential: key(hookStreamKey), ClientIP: "192.0.2.40"},
		},
		{
			name:  "ome closing",
			parse: func(b string) (Request, error) { return parseOME([]byte(b)) },
			body:  body(omeClosing, "fullalias001", ""),
			want:  Request{ClientIP: "192.0.2.40", Ack: true},
		},
		{
			name:   "ome unknown direction",
			parse:  func(b string) (Request, error) { return parseOME([]byte(b)) },
			body:   strings.Replace(body(omeIncoming, "fullalias001", ""), "incoming", "sideways", 1),
			errMsg: "direction",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.parse(tc.body)
			if tc.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
					t.Fatalf("error %v, want one saying %q", err, tc.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parsed\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestMediaMTXAliasID(t *testing.T) {
	for _, tc := range []struct{ path, prefix, want string }{
		{"abc", "", "abc"},
		{"/abc", "", "abc"},
		// Without a prefix only single elements name an alias: taking the
		// last element would admit live/<A>/<B> under <B>'s credentials.
		{"live/abc", "", ""},
		{"/live/abc", "", ""},
		{"abc/../def", "", ""},
		{"..", "", ""},
		{".", "", ""},
		{"live/abc", "live", "abc"},
		{"live/abc", "/live/", "abc"},
		{"live/x/abc", "live/x", "abc"},
		{"live/x/abc", "live", ""},
		{"live/..", "live", ""},
		{"live/../abc", "live", ""},
		{"livestream/abc", "live", ""},
		{"live", "live", ""},
		{"live/", "live", ""},
		{"", "", ""},
	} {
		if got := mediaMTXAliasID(tc.path, tc.prefix); got != tc.want {
			t.Errorf("mediaMTXAliasID(%q, %q) = %q, want %q", tc.path, tc.prefix, got, tc.want)
		}
	}
}

// TestDecide checks what a hook decides for each credential and action.
func TestDecide(t *testing.T) {
	f := newHookFixture(t)
	h := f.handler(FlavourSRS)
	host := hookJWT(t, "fullalias001", 10*time.Minute, jwt.MapClaims{"host": true, "user_id": "alice"})
	viewer := hookJWT(t, "fullalias001", 20*time.Minute, jwt.MapClaims{"user_id": "bob"})
	foreign := hookJWT(t, "conference01", time.Hour, jwt.MapClaims{"host": true})
	pub := func(id string, c ...gate.Credential) Request {
		r := Request{AliasID: id, Action: ActionPublish, ClientIP: "192.0.2.50"}
		if len(c) > 0 {
			r.Credential = c[0]
		}
		return r
	}
	read := func(id string, c ...gate.Credential) Request {
		r := pub(id, c...)
		r.Action = ActionRead
		return r
	}
	key := gate.Credential{Kind: gate.KindStreamKey, Value: hookStreamKey}
	passcode := gate.Credential{Kind: gate.KindPasscode, Value: hookPasscode}
	cases := []struct {
		name    string
		req     Request
		outcome string
		status  int
		role    alias.Role
		expiry  time.Time
	}{
		{"publish with the key", pub("fullalias001", key), "admitted", 200, alias.RolePublisher, hookNow.Add(time.Hour)},
		{"publish with the key as bearer", pub("fullalias001", gate.Credential{Kind: gate.KindBearer, Value: hookStreamKey}), "admitted", 200, alias.RolePublisher, hookNow.Add(time.Hour)},
		{"publish with a host JWT", pub("fullalias001", gate.Credential{Kind: gate.KindBearer, Value: host}), "admitted", 200, alias.RoleHost, hookNow.Add(10 * time.Minute)},
		{"publish with the owner's token", pub("fullalias001", gate.Credential{Kind: gate.KindBearer, Value: f.ownerToken}), "admitted", 200, alias.RoleOwner, hookNow.Add(time.Hour)},
		{"publish with a wrong key", pub("fullalias001", gate.Credential{Kind: gate.KindStreamKey, Value: "sk-wrong-0123456789"}), "bad_credential", 401, 0, time.Time{}},
		{"publish without credential", pub("fullalias001"), "no_credential", 401, 0, time.Time{}},
		{"publish with the passcode", pub("fullalias001", passcode), "forbidden", 403, 0, time.Time{}},
		{"publish with a viewer JWT", pub("fullalias001", gate.Credential{Kind: gate.KindJWT, Value: viewer}), "forbidden", 403, 0, time.Time{}},
		{"publish to a public alias without credential", pub("publicalias1"), "no_credential", 401, 0, time.Time{}},
		{"read with the passcode", read("fullalias001", passcode), "admitted", 200, alias.RoleViewer, hookNow.Add(time.Hour)},
		{"read with a viewer JWT", read("fullalias001", gate.Credential{Kind: gate.KindBearer, Value: viewer}), "admitted", 200, alias.RoleViewer, hookNow.Add(20 * time.Minute)},
		{"read with the key", read("fullalias001", key), "admitted", 200, alias.RolePublisher, hookNow.Add(time.Hour)},
		{"read with a wrong passcode", read("fullalias001", gate.Credential{Kind: gate.KindPasscode, Value: "wrong"}), "bad_credential", 401, 0, time.Time{}},
		{"read with another alias's JWT", read("fullalias001", gate.Credential{Kind: gate.KindJWT, Value: foreign}), "bad_credential", 401, 0, time.Time{}},
		{"read without credential", read("fullalias001"), "no_credential", 401, 0, time.Time{}},
		{"read a public alias without credential", read("publicalias1"), "admitted", 200, alias.RoleViewer, hookNow.Add(time.Hour)},
		{"read an expired alias", read("expiredalias", passcode), "alias_not_found", 404, 0, time.Time{}},
		{"publish to an expired alias", pub("expiredalias", gate.Credential{Kind: gate.KindStreamKey, Value: "sk-expired-0123456789"}), "alias_not_found", 404, 0, time.Time{}},
		{"read a deleted alias", read("deletedalias", passcode), "alias_not_found", 404, 0, time.Time{}},
		{"read a conference", read("conference01", passcode), "alias_not_found", 404, 0, time.Time{}},
		{"read an impossible ID", read("../x", passcode), "alias_not_found", 404, 0, time.Time{}},
		{"other action", Request{Action: ActionOther}, "action_not_allowed", 403, 0, time.Time{}},
		{"acknowledgement", Request{Ack: true}, "acknowledged", 200, 0, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A client of its own per case: failures must not add up to
			// throttling across cases.
			tc.req.ClientIP = t.Name()
			d := h.decide(t.Context(), &tc.req)
			if d.Reason.Code() != tc.outcome || d.Reason.Status() != tc.status || d.Grant.Role != tc.role || !d.Expiry.Equal(tc.expiry) {
				t.Errorf("decision %s/%d role %s expiry %v, want %s/%d role %s expiry %v",
					d.Reason, d.Reason.Status(), d.Grant.Role, d.Expiry, tc.outcome, tc.status, tc.role, tc.expiry)
			}
			if d.Admitted() != (tc.status == 200) {
				t.Errorf("Admitted() = %v", d.Admitted())
			}
		})
	}
}

func TestDecideThrottles(t *testing.T) {
	f := newHookFixture(t)
	h := f.handler(FlavourSRS)
	right := Request{AliasID: "fullalias001", Action: ActionRead, ClientIP: "192.0.2.60",
		Credential: gate.Credential{Kind: gate.KindPasscode, Value: hookPasscode}}
	wrong := right
	wrong.Credential = gate.Credential{Kind: gate.KindPasscode, Value: "wrong"}
	for range 3 {
		if d := h.decide(t.Context(), &wrong); d.Reason != gate.ReasonWrongPasscode {
			t.Fatalf("wrong passcode: %s", d.Reason)
		}
	}
	d := h.decide(t.Context(), &right)
	if d.Reason != gate.ReasonThrottled || d.Reason.Status() != http.StatusTooManyRequests || d.RetryAfter <= 0 {
		t.Fatalf("right passcode after 3 failures: %s retry %v, want throttled", d.Reason, d.RetryAfter)
	}
	other := right
	other.ClientIP = "192.0.2.61"
	if d := h.decide(t.Context(), &other); !d.Admitted() {
		t.Errorf("another client: %s, want admitted", d.Reason)
	}
	public := Request{AliasID: "publicalias1", Action: ActionRead, ClientIP: "192.0.2.60"}
	if d := h.decide(t.Context(), &public); !d.Admitted() {
		t.Errorf("a public alias of the throttled client: %s, want admitted", d.Reason)
	}
}

func TestDecideStoreDown(t *testing.T) {
	f := newHookFixture(t)
	f.stopStore(t)
	h := f.handler(FlavourSRS)
	d := h.decide(t.Context(), &Request{AliasID: "fullalias001", Action: ActionRead})
	if d.Reason != gate.ReasonUnavailable || d.Reason.Status() != http.StatusServiceUnavailable {
		t.Errorf("store down: %s, want store_unavailable/503", d.Reason)
	}
}

// hookResponse is what a server gets back.
type hookResponse struct {
	status int
	header http.Header
	body   string
}

func serveHook(t testing.TB, h *Handler, method, body string, header ...string) hookResponse {
	t.Helper()
	r := httptest.NewRequest(method, "/hooks", strings.NewReader(body))
	r.RemoteAddr = "10.0.0.2:40000"
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return hookResponse{status: w.Code, header: w.Header(), body: w.Body.String()}
}

func post(t testing.TB, h *Handler, body string, header ...string) hookResponse {
	t.Helper()
	return serveHook(t, h, http.MethodPost, body, header...)
}

// wantJSON fails unless r's body is the JSON value want.
func wantJSON(t *testing.T, r hookResponse, want string) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("body %s, want %s", r.body, want)
	}
}

// wantErrorCode fails unless r carries linkgate's JSON error with code.
func wantErrorCode(t *testing.T, r hookResponse, code string) {
	t.Helper()
	var e gate.ErrorBody
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Errors.Code != code || e.Errors.Detail == "" {
		t.Errorf("body %q, want the JSON error with code %q", r.body, code)
	}
}

func TestMediaMTXReplies(t *testing.T) {
	f := newHookFixture(t)
	h := f.handler(FlavourMediaMTX)
	h.PathPrefix = "live"
	readBody := func(id, query string) string { return body(mediaMTXNew, id, query) }
	cases := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"publish with the key in password", body(mediaMTXOld, "fullalias001", hookStreamKey), 204, ""},
		{"publish with a wrong key", body(mediaMTXOld, "fullalias001", "sk-wrong-0123456789"), 403, "bad_credential"},
		{"publish without credential", body(mediaMTXOld, "fullalias001", ""), 401, "no_credential"},
		{"publish to a public alias without credential", body(mediaMTXOld, "publicalias1", ""), 401, "no_credential"},
		{"publish to an expired alias", body(mediaMTXOld, "expiredalias", "sk-expired-0123456789"), 403, "alias_not_found"},
		{"read with the passcode", readBody("fullalias001", "passcode=correct-horse"), 204, ""},
		{"read with a wrong passcode", readBody("fullalias001", "passcode=nope"), 403, "bad_credential"},
		{"read without credential", readBody("fullalias001", ""), 401, "no_credential"},
		{"read a public alias", readBody("publicalias1", ""), 204, ""},
		{"read a deleted alias without credential", readBody("deletedalias", ""), 403, "alias_not_found"},
		{"read a conference", readBody("conference01", "passcode=correct-horse"), 403, "alias_not_found"},
		{"api", `{"ip":"127.0.0.1","user":"admin","password":"admin","token":"","action":"api","path":"","protocol":"","id":null,"query":""}`, 403, "action_not_allowed"},
		{"pprof without credential", `{"ip":"127.0.0.1","user":"","password":"","token":"","action":"pprof","path":"","protocol":"","id":null,"query":""}`, 403, "action_not_allowed"},
		{"not JSON", "action=read", 400, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, h, tc.body, "Content-Type", "application/json")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				wantErrorCode(t, r, tc.code)
			} else if r.body != "" {
				t.Errorf("body %q on %d, want none", r.body, r.status)
			}
		})
	}
	t.Run("allowed api", func(t *testing.T) {
		h := f.handler(FlavourMediaMTX)
		h.AllowActions = []string{"api", "metrics"}
		r := post(t, h, `{"ip":"127.0.0.1","user":"","password":"","token":"","action":"metrics","path":"","protocol":"","id":null,"query":""}`)
		if r.status != http.StatusNoContent {
			t.Errorf("status %d, want 204", r.status)
		}
		r = post(t, h, `{"ip":"127.0.0.1","user":"","password":"","token":"","action":"pprof","path":"","protocol":"","id":null,"query":""}`)
		if r.status != http.StatusForbidden {
			t.Errorf("pprof: status %d, want 403", r.status)
		}
	})
	t.Run("GET", func(t *testing.T) {
		if r := serveHook(t, h, http.MethodGet, ""); r.status != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", r.status)
		}
	})
	t.Run("body over 64 KiB", func(t *testing.T) {
		big := strings.Replace(body(mediaMTXOld, "fullalias001", hookStreamKey), `"query":""`, `"query":"`+strings.Repeat("a", MaxBodySize)+`"`, 1)
		r := post(t, h, big)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", r.status)
		}
		wantErrorCode(t, r, "body_too_large")
	})
}

func TestSRSReplies(t *testing.T) {
	f := newHookFixture(t)
	h := f.handler(FlavourSRS)
	cases := []struct {
		name string
		body string
		code int
	}{
		{"publish with the key", body(srsNew, "fullalias001", "?key="+hookStreamKey), 0},
		{"publish with a wrong key", body(srsNew, "fullalias001", "?key=sk-wrong-0123456789"), 401},
		{"publish without credential", body(srsNew, "fullalias001", ""), 401},
		{"publish with the passcode", body(srsNew, "fullalias001", "?passcode=correct-horse"), 403},
		{"publish to an expired alias", body(srsNew, "expiredalias", "?key=sk-expired-0123456789"), 404},
		{"play with the passcode", body(srsOld, "fullalias001", "?passcode=correct-horse"), 0},
		{"play with a JWT", body(srsOld, "fullalias001", "?token="+hookJWT(t, "fullalias001", time.Minute, nil)), 0},
		{"play with a wrong passcode", body(srsOld, "fullalias001", "?passcode=wrong"), 401},
		{"play without credential", body(srsOld, "fullalias001", "?vhost=__defaultVhost__"), 401},
		{"play a deleted alias", body(srsOld, "deletedalias", "?passcode=correct-horse"), 404},
		{"play a conference", body(srsOld, "conference01", "?passcode=correct-horse"), 404},
		{"play a public alias", body(srsOld, "publicalias1", ""), 0},
		{"on_stop", strings.Replace(body(srsOld, "fullalias001", ""), "on_play", "on_stop", 1), 0},
		{"on_unpublish", strings.Replace(body(srsNew, "fullalias001", ""), "on_publish", "on_unpublish", 1), 0},
		{"on_close", `{"action":"on_close","client_id":1985,"ip":"192.0.2.21","vhost":"__defaultVhost__","app":"live","send_bytes":10560,"recv_bytes":3590}`, 0},
		{"not JSON", "", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, h, tc.body, "Content-Type", "application/json")
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200 always", r.status)
			}
			var got struct {
				Code *int   `json:"code"`
				Msg  string `json:"msg"`
			}
			if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.Code == nil {
				t.Fatalf("body %q, want a JSON code (%v)", r.body, err)
			}
			if *got.Code != tc.code {
				t.Errorf("code %d, want %d; body %s", *got.Code, tc.code, r.body)
			}
			if tc.code == 0 && r.body != "{\"code\":0}\n" {
				t.Errorf("body %q, want {\"code\":0}", r.body)
			}
			if tc.code != 0 && got.Msg == "" {
				t.Errorf("body %s without msg", r.body)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		r := serveHook(t, h, http.MethodGet, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, `"code":405`) {
			t.Errorf("status %d body %q, want 200 with code 405", r.status, r.body)
		}
	})
}

func TestNginxRTMPReplies(t *testing.T) {
	f := newHookFixture(t)
	h := f.handler(FlavourNginxRTMP)
	cases := []struct {
		name     string
		body     string
		status   int
		location string
	}{
		{"publish by alias ID with the key", body(nginxPublish, "fullalias001", "&key="+hookStreamKey), 204, ""},
		{"publish by stream key", body(nginxPublish, hookStreamKey, ""), 302, "fullalias001"},
		{"publish by stream key with a query", body(nginxPublish, hookStreamKey, "&foo=bar"), 302, "fullalias001"},
		{"publish by a wrong stream key", body(nginxPublish, "sk-wrong-0123456789", ""), 404, ""},
		{"publish by the key of an expired alias", body(nginxPublish, "sk-expired-0123456789", ""), 404, ""},
		{"publish with a wrong key", body(nginxPublish, "fullalias001", "&key=sk-wrong-0123456789"), 401, ""},
		{"publish without credential", body(nginxPublish, "fullalias001", ""), 401, ""},
		{"publish to a public alias without credential", body(nginxPublish, "publicalias1", ""), 401, ""},
		{"publish by a public alias's key", body(nginxPublish, "sk-public-0123456789", ""), 302, "publicalias1"},
		{"update_publish by stream key", body(nginxUpdate, hookStreamKey, ""), 204, ""},
		{"update_publish by a stale key", body(nginxUpdate, "sk-rekeyed-0123456789", ""), 404, ""},
		{"update_publish by alias ID with a stale key", body(nginxUpdate, "fullalias001", "&key=sk-rekeyed-0123456789"), 401, ""},
		{"update_publish of an expired alias", body(nginxUpdate, "expiredalias", "&key=sk-expired-0123456789"), 404, ""},
		{"play with the passcode", body(nginxPlay, "fullalias001", "&passcode=correct-horse"), 204, ""},
		{"play with a JWT", body(nginxPlay, "fullalias001", "&jwt="+hookJWT(t, "fullalias001", time.Minute, nil)), 204, ""},
		{"play with a wrong passcode", body(nginxPlay, "fullalias001", "&passcode=wrong"), 401, ""},
		{"play without credential", body(nginxPlay, "fullalias001", ""), 401, ""},
		{"play by stream key", body(nginxPlay, hookStreamKey, ""), 404, ""},
		{"play a deleted alias", body(nginxPlay, "deletedalias", "&passcode=correct-horse"), 404, ""},
		{"play a conference", body(nginxPlay, "conference01", "&passcode=correct-horse"), 404, ""},
		{"update_play with the passcode", strings.Replace(body(nginxUpdate, "fullalias001", "&passcode=correct-horse"), "update_publish", "update_play", 1), 204, ""},
		{"play_done", nginxSession + "&call=play_done&name=fullalias001", 204, ""},
		{"update_play of nginx's own push", body(nginxRelayUpdate, "fullalias001", ""), 204, ""},
		{"play of nginx's own push", strings.Replace(body(nginxRelayUpdate, "fullalias001", ""), "update_play", "play", 1), 204, ""},
		{"publish by a session with a push's addr", strings.Replace(body(nginxRelayUpdate, "fullalias001", ""), "update_play", "publish", 1), 401, ""},
		{"update_play with an empty addr", strings.Replace(body(nginxRelayUpdate, "fullalias001", ""), "addr=127.0.0.1:1935/live", "addr=", 1), 401, ""},
		{"done", nginxSession + "&call=done&name=deletedalias", 204, ""},
		{"no call", "name=fullalias001", 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, h, tc.body, "Content-Type", "application/x-www-form-urlencoded")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if got := r.header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if r.status >= 400 {
				var e gate.ErrorBody
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Errors.Code == "" {
					t.Errorf("body %q, want the JSON error", r.body)
				}
			}
		})
	}
	t.Run("notify_method get", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/hooks?"+body(nginxPlay, "fullalias001", "&passcode=correct-horse"), nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent {
			t.Errorf("status %d, want 204", w.Code)
		}
	})
	t.Run("guessed stream keys are throttled", func(t *testing.T) {
		f := newHookFixture(t)
		h := f.handler(FlavourNginxRTMP)
		for i := range 3 {
			if r := post(t, h, body(nginxPublish, "sk-guess-000000000"+string(rune('0'+i)), "")); r.status != http.StatusNotFound {
				t.Fatalf("guess %d: status %d, want 404", i, r.status)
			}
		}
		before := f.lookups.Load()
		r := post(t, h, body(nginxPublish, hookStreamKey, ""))
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Errorf("the right key after 3 guesses: status %d Retry-After %q, want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
		}
		if n := f.lookups.Load() - before; n != 1 {
			t.Errorf("%d lookups for a throttled guess, want only the ID's", n)
		}
		if r := post(t, h, body(nginxPublish, "fullalias001", "&key="+hookStreamKey)); r.status != http.StatusNoContent {
			t.Errorf("publishing by alias ID: status %d, want 204", r.status)
		}
	})
}

func TestOMEReplies(t *testing.T) {
	f := newHookFixture(t)
	h := f.handler(FlavourOME)
	signed := func(b string) []string { return []string{HeaderOMESignature, omeSignature(hookOMESecret, b)} }
	jwtHost := hookJWT(t, "fullalias001", 10*time.Minute, jwt.MapClaims{"host": true})
	cases := []struct {
		name     string
		body     string
		reply    string
		lifetime time.Duration // of an allowed reply
	}{
		{"publish with the key", body(omeIncoming, "fullalias001", "?key="+hookStreamKey), "", time.Hour},
		{"publish with a host JWT", body(omeIncoming, "fullalias001", "?token="+jwtHost), "", 10 * time.Minute},
		{"publish with a wrong key", body(omeIncoming, "fullalias001", "?key=sk-wrong-0123456789"), `{"allowed":false,"reason":"the credential is not valid for this alias"}`, 0},
		{"publish without credential", body(omeIncoming, "fullalias001", ""), `{"allowed":false,"reason":"this alias needs a credential"}`, 0},
		{"publish to an expired alias", body(omeIncoming, "expiredalias", "?key=sk-expired-0123456789"), `{"allowed":false,"reason":"alias not found"}`, 0},
		{"play with the passcode", body(omeOutgoing, "fullalias001", "?passcode=correct-horse"), "", time.Hour},
		{"play a public alias", body(omeOutgoing, "publicalias1", ""), "", time.Hour},
		{"play with a wrong passcode", body(omeOutgoing, "fullalias001", "?passcode=wrong"), `{"allowed":false,"reason":"the credential is not valid for this alias"}`, 0},
		{"play a deleted alias", body(omeOutgoing, "deletedalias", "?passcode=correct-horse"), `{"allowed":false,"reason":"alias not found"}`, 0},
		{"play a conference", body(omeOutgoing, "conference01", "?passcode=correct-horse"), `{"allowed":false,"reason":"alias not found"}`, 0},
		{"closing", body(omeClosing, "fullalias001", ""), `{}`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, h, tc.body, signed(tc.body)...)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", r.status, r.body)
			}
			if tc.reply != "" {
				wantJSON(t, r, tc.reply)
				return
			}
			wantJSON(t, r, `{"allowed":true,"lifetime":`+jsonInt(tc.lifetime.Milliseconds())+`}`)
		})
	}
	t.Run("lifetime never outlives the alias", func(t *testing.T) {
		long := hookJWT(t, "fullalias001", 3*time.Hour, jwt.MapClaims{"host": true})
		b := body(omeIncoming, "fullalias001", "?token="+long)
		wantJSON(t, post(t, h, b, signed(b)...), `{"allowed":true,"lifetime":3600000}`)
	})
	t.Run("lifetime is never 0", func(t *testing.T) {
		// Half a millisecond before the alias expires.
		f := newHookFixtureAt(t, hookNow.Add(time.Hour-500*time.Microsecond))
		h := f.handler(FlavourOME)
		b := body(omeIncoming, "fullalias001", "?key="+hookStreamKey)
		wantJSON(t, post(t, h, b, signed(b)...), `{"allowed":true,"lifetime":1}`)
	})
	for _, sig := range []struct{ name, value string }{
		{"missing", ""},
		{"of another secret", omeSignature("not-the-secret", body(omeIncoming, "fullalias001", "?key="+hookStreamKey))},
		{"of another body", omeSignature(hookOMESecret, body(omeIncoming, "publicalias1", ""))},
		{"not base64", "!!!"},
	} {
		t.Run("signature "+sig.name, func(t *testing.T) {
			f := newHookFixture(t)
			h := f.handler(FlavourOME)
			r := post(t, h, body(omeIncoming, "fullalias001", "?key="+hookStreamKey), HeaderOMESignature, sig.value)
			if r.status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", r.status)
			}
			wantJSON(t, r, `{"allowed":false,"reason":"the request is not signed with the hook's secret"}`)
			if n := f.lookups.Load(); n != 0 {
				t.Errorf("%d alias lookups for an unsigned request, want none", n)
			}
		})
	}
	t.Run("padded signature", func(t *testing.T) {
		b := body(omeIncoming, "fullalias001", "?key="+hookStreamKey)
		if r := post(t, h, b, HeaderOMESignature, omeSignature(hookOMESecret, b)+"="); r.status != http.StatusOK || !strings.Contains(r.body, `"allowed":true`) {
			t.Errorf("status %d body %s, want allowed", r.status, r.body)
		}
	})
	t.Run("bad body", func(t *testing.T) {
		b := `{"request":{"status":"opening","direction":"up"}}`
		r := post(t, h, b, signed(b)...)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `"allowed":false`) {
			t.Errorf("status %d body %s, want 400 not allowed", r.status, r.body)
		}
	})
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestHookLogsAndDecisions checks what is logged and counted: every
// decision, with the alias and outcome, and never a secret.
func TestHookLogsAndDecisions(t *testing.T) {
	f := newHookFixture(t)
	core, logs := observer.New(zap.DebugLevel)
	var counted []string
	jwtToken := hookJWT(t, "fullalias001", time.Minute, nil)
	secrets := []string{hookPasscode, hookStreamKey, jwtToken, hookOMESecret, f.ownerToken}
	for _, tc := range []struct {
		flavour Flavour
		body    string
	}{
		{FlavourMediaMTX, body(mediaMTXOld, "fullalias001", hookStreamKey)},
		{FlavourMediaMTX, body(mediaMTXNew, "fullalias001", "passcode=wrong"+hookPasscode)},
		{FlavourSRS, body(srsOld, "fullalias001", "?token="+jwtToken)},
		{FlavourNginxRTMP, body(nginxPublish, hookStreamKey, "")},
		{FlavourNginxRTMP, body(nginxPublish, hookStreamKey+"x", "")},
		{FlavourNginxRTMP, body(nginxPlay, "fullalias001", "&token="+f.ownerToken)},
		{FlavourSRS, body(srsOld, hookStreamKey, "")},
		{FlavourOME, body(omeIncoming, "fullalias001", "?key="+hookStreamKey)},
	} {
		h := f.handler(tc.flavour)
		h.PathPrefix = map[Flavour]string{FlavourMediaMTX: "live"}[tc.flavour]
		h.Logger = zap.New(core)
		h.Decisions = func(flavour Flavour, reason gate.Reason) {
			counted = append(counted, string(flavour)+" "+reason.Code())
		}
		post(t, h, tc.body, HeaderOMESignature, omeSignature(hookOMESecret, tc.body))
	}
	want := []string{
		"mediamtx admitted", "mediamtx bad_credential", "srs admitted",
		"nginx_rtmp admitted", "nginx_rtmp alias_not_found", "nginx_rtmp admitted", "srs alias_not_found", "ome admitted",
	}
	if !reflect.DeepEqual(counted, want) {
		t.Errorf("decisions counted %q, want %q", counted, want)
	}
	entries := logs.All()
	if len(entries) != len(want) {
		t.Fatalf("%d log entries, want %d", len(entries), len(want))
	}
	for i, e := range entries {
		fields := e.ContextMap()
		line := e.Message
		for k, v := range fields {
			line += " " + k + "=" + jsonString(v)
		}
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("log entry %d holds a secret: %s", i, line)
			}
		}
		denied := strings.Contains(want[i], "bad_credential") || strings.Contains(want[i], "not_found")
		if wantLevel := map[bool]string{true: "info", false: "debug"}[denied]; e.Level.String() != wantLevel {
			t.Errorf("entry %d (%s) at %s, want %s", i, want[i], e.Level, wantLevel)
		}
		if fields["reason"] == "" || fields["client_ip"] == "" {
			t.Errorf("entry %d lacks reason or client_ip: %s", i, line)
		}
	}
	if got := entries[3].ContextMap()["alias"]; got != "fullalias001" {
		t.Errorf("publish by key logged alias %q, want the alias ID", got)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
