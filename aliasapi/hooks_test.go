package aliasapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
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

// hookFixture is a gate over fixed aliases in memory, as the cache would
// serve them, counting the lookups it gets.
type hookFixture struct {
	gate    *Gate
	aliases map[string]*Alias
	// lookups counts calls of Gate.Alias and of the key lookup.
	lookups atomic.Int64
	// fail makes every lookup fail as a store that is down would.
	fail bool

	full, public, expired, conference *Alias
	ownerToken                        string
}

func newHookFixture(t testing.TB) *hookFixture {
	t.Helper()
	f := &hookFixture{aliases: map[string]*Alias{}}
	add := func(a *Alias) *Alias {
		f.aliases[a.ID] = a
		return a
	}
	f.full = add(&Alias{
		ID: "fullalias001", OrgID: "org_a", Type: TypeLive,
		Passcode: hookPasscode, JWTSecret: hookJWTSecret, StreamKey: hookStreamKey,
		ExpiredAt: hookNow.Add(time.Hour), Version: 1,
	})
	f.public = add(&Alias{ID: "publicalias1", OrgID: "org_a", Type: TypeLive, StreamKey: "sk-public-0123456789", ExpiredAt: hookNow.Add(time.Hour)})
	f.expired = add(&Alias{ID: "expiredalias", OrgID: "org_a", Type: TypeLive, Passcode: hookPasscode, StreamKey: "sk-expired-0123456789", ExpiredAt: hookNow.Add(-time.Second)})
	f.conference = add(&Alias{ID: "conference01", OrgID: "org_a", Type: TypeConference, Passcode: hookPasscode, JWTSecret: hookJWTSecret, ExpiredAt: hookNow.Add(time.Hour)})
	token, hash := NewOrgToken()
	f.ownerToken = token
	now := func() time.Time { return hookNow }
	f.gate = &Gate{
		Alias: func(_ context.Context, id string) (*Alias, error) {
			f.lookups.Add(1)
			if f.fail {
				return nil, errors.New("connection refused")
			}
			if a, ok := f.aliases[id]; ok {
				return a, nil
			}
			return nil, ErrNotFound
		},
		OrgByToken: func(_ context.Context, h TokenHash) (string, error) {
			if h == hash {
				return "org_a", nil
			}
			return "", ErrNotFound
		},
		JWT:      NewJWTVerifier(DefaultJWTLeeway, DefaultMaxTokenLifetime, now),
		Tokens:   NewTokenCache(64),
		Sessions: func() *SessionSigner { return nil },
		Limiter:  NewLimiter(3, time.Minute, 1000),
		Now:      now,
	}
	return f
}

// byKey is the key lookup of the fixture's store.
func (f *hookFixture) byKey(_ context.Context, key string) (*Alias, error) {
	f.lookups.Add(1)
	if f.fail {
		return nil, errors.New("connection refused")
	}
	for _, a := range f.aliases {
		if a.StreamKey == key {
			return a, nil
		}
	}
	return nil, ErrNotFound
}

func (f *hookFixture) handler(flavour Flavour) *HookHandler {
	h := &HookHandler{Gate: f.gate, Flavour: flavour}
	switch flavour {
	case FlavourNginxRTMP:
		h.KeyLookup = f.byKey
	case FlavourOME:
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

	omeIncoming = `{"client":{"address":"192.0.2.40","port":29291,"real_ip":"192.0.2.40","user_agent":""},"request":{"direction":"incoming","protocol":"rtmp","status":"opening","url":"rtmp://192.0.2.1:1935/app/%[1]s%[2]s","time":"2021-05-12T13:45:00.000Z"}}`
	omeOutgoing = `{"client":{"address":"192.0.2.41","port":51123,"real_ip":"192.0.2.41","user_agent":"Mozilla/5.0 (X11; Linux x86_64)"},"request":{"direction":"outgoing","protocol":"llhls","status":"opening","url":"http://192.0.2.1:3333/app/%[1]s/llhls.m3u8%[2]s","time":"2021-05-12T13:45:01.000Z"}}`
	omeClosing  = `{"client":{"address":"192.0.2.40","port":29291,"real_ip":"192.0.2.40","user_agent":""},"request":{"direction":"incoming","protocol":"rtmp","status":"closing","url":"rtmp://192.0.2.1:1935/app/%[1]s","new_url":"rtmp://192.0.2.1:1935/app/%[1]s","time":"2021-05-12T14:45:00.000Z"}}`
)

// body fills a body template. Values are written as given: the templates
// decide how the server escapes them.
func body(template, id, credential string) string {
	return strings.NewReplacer("%[1]s", id, "%[2]s", credential).Replace(template)
}

func TestParseHookRequests(t *testing.T) {
	jwtToken := hookJWT(t, "fullalias001", time.Hour, nil)
	key := func(v string) Credential { return Credential{Kind: CredentialStreamKey, Value: v} }
	pass := func(v string) Credential { return Credential{Kind: CredentialPasscode, Value: v} }
	bearer := func(v string) Credential { return Credential{Kind: CredentialBearer, Value: v} }
	cases := []struct {
		name   string
		parse  func(string) (HookRequest, error)
		body   string
		want   HookRequest
		errMsg string
	}{
		{
			name:  "mediamtx old publish, id null, no userAgent",
			parse: func(b string) (HookRequest, error) { return parseMediaMTX([]byte(b), "", nil) },
			body:  body(mediaMTXOld, "fullalias001", hookStreamKey),
			want: HookRequest{Flavour: FlavourMediaMTX, AliasID: "fullalias001", Action: ActionPublish,
				Credentials: []Credential{bearer(hookStreamKey)}, ClientIP: "192.0.2.10"},
		},
		{
			name:  "mediamtx read, query passcode then jwt",
			parse: func(b string) (HookRequest, error) { return parseMediaMTX([]byte(b), "live", nil) },
			body:  body(mediaMTXNew, "fullalias001", "passcode=correct%2Dhorse&jwt="+jwtToken+"&x=1"),
			want: HookRequest{Flavour: FlavourMediaMTX, AliasID: "fullalias001", Action: ActionRead,
				Credentials: []Credential{pass(hookPasscode), bearer(jwtToken)},
				ClientIP:    "198.51.100.7", Client: "3f6c1b2e-9a4d-4c1e-8f0a-2b7d5e6c9a10"},
		},
		{
			name:  "mediamtx read, JWT as RTSP password",
			parse: func(b string) (HookRequest, error) { return parseMediaMTX([]byte(b), "", nil) },
			body:  `{"ip":"192.0.2.11","user":"any","password":"` + jwtToken + `","token":"","action":"read","path":"fullalias001","protocol":"rtsp","id":null,"query":""}`,
			want: HookRequest{Flavour: FlavourMediaMTX, AliasID: "fullalias001", Action: ActionRead,
				Credentials: []Credential{{Kind: CredentialJWT, Value: jwtToken}}, ClientIP: "192.0.2.11"},
		},
		{
			name:  "mediamtx playback, bearer token, nested path",
			parse: func(b string) (HookRequest, error) { return parseMediaMTX([]byte(b), "", nil) },
			body:  `{"ip":"192.0.2.12","user":"","password":"","token":"` + jwtToken + `","action":"playback","path":"a/b/fullalias001","protocol":"","id":null,"query":"","userAgent":""}`,
			want: HookRequest{Flavour: FlavourMediaMTX, AliasID: "fullalias001", Action: ActionRead,
				Credentials: []Credential{bearer(jwtToken)}, ClientIP: "192.0.2.12"},
		},
		{
			name:  "mediamtx path outside the prefix",
			parse: func(b string) (HookRequest, error) { return parseMediaMTX([]byte(b), "/live/", nil) },
			body:  strings.Replace(body(mediaMTXOld, "fullalias001", ""), `live/`, `lives/`, 1),
			want:  HookRequest{Flavour: FlavourMediaMTX, Action: ActionPublish, Credentials: []Credential{}, ClientIP: "192.0.2.10"},
		},
		{
			name:  "mediamtx api, not allowed",
			parse: func(b string) (HookRequest, error) { return parseMediaMTX([]byte(b), "", nil) },
			body:  `{"ip":"127.0.0.1","user":"admin","password":"x","token":"","action":"api","path":"","protocol":"","id":null,"query":""}`,
			want:  HookRequest{Flavour: FlavourMediaMTX, Action: ActionOther, ClientIP: "127.0.0.1"},
		},
		{
			name:  "mediamtx metrics, allowed",
			parse: func(b string) (HookRequest, error) { return parseMediaMTX([]byte(b), "", []string{"metrics"}) },
			body:  `{"ip":"127.0.0.1","user":"","password":"","token":"","action":"metrics","path":"","protocol":"","id":null,"query":""}`,
			want:  HookRequest{Flavour: FlavourMediaMTX, Action: ActionOther, ClientIP: "127.0.0.1", Ack: true},
		},
		{
			name:   "mediamtx not JSON",
			parse:  func(b string) (HookRequest, error) { return parseMediaMTX([]byte(b), "", nil) },
			body:   `ip=1.2.3.4&action=read`,
			errMsg: "not MediaMTX's JSON",
		},
		{
			name:  "srs new publish, string client_id",
			parse: func(b string) (HookRequest, error) { return parseSRS([]byte(b)) },
			body:  body(srsNew, "fullalias001", "?key="+hookStreamKey+"&passcode=x"),
			want: HookRequest{Flavour: FlavourSRS, AliasID: "fullalias001", Action: ActionPublish,
				Credentials: []Credential{key(hookStreamKey), pass("x")}, ClientIP: "192.0.2.20", Client: "341w361a"},
		},
		{
			name:  "srs old play, integer client_id",
			parse: func(b string) (HookRequest, error) { return parseSRS([]byte(b)) },
			body:  body(srsOld, "fullalias001", "?vhost=__defaultVhost__&passcode=correct-horse"),
			want: HookRequest{Flavour: FlavourSRS, AliasID: "fullalias001", Action: ActionRead,
				Credentials: []Credential{pass(hookPasscode)}, ClientIP: "192.0.2.21", Client: "1985"},
		},
		{
			name:  "srs play with a token and no leading ?",
			parse: func(b string) (HookRequest, error) { return parseSRS([]byte(b)) },
			body:  body(srsOld, "fullalias001", "token="+jwtToken),
			want: HookRequest{Flavour: FlavourSRS, AliasID: "fullalias001", Action: ActionRead,
				Credentials: []Credential{bearer(jwtToken)}, ClientIP: "192.0.2.21", Client: "1985"},
		},
		{
			name:  "srs on_close",
			parse: func(b string) (HookRequest, error) { return parseSRS([]byte(b)) },
			body:  `{"action":"on_close","client_id":1985,"ip":"192.0.2.21","vhost":"__defaultVhost__","app":"live","send_bytes":10560,"recv_bytes":3590}`,
			want:  HookRequest{Flavour: FlavourSRS, ClientIP: "192.0.2.21", Client: "1985", Ack: true},
		},
		{
			name:  "srs on_unpublish",
			parse: func(b string) (HookRequest, error) { return parseSRS([]byte(b)) },
			body:  strings.Replace(body(srsNew, "fullalias001", ""), "on_publish", "on_unpublish", 1),
			want:  HookRequest{Flavour: FlavourSRS, ClientIP: "192.0.2.20", Client: "341w361a", Ack: true},
		},
		{
			name:   "srs client_id of another type",
			parse:  func(b string) (HookRequest, error) { return parseSRS([]byte(b)) },
			body:   `{"action":"on_play","client_id":[1],"stream":"x"}`,
			errMsg: "not SRS's JSON",
		},
		{
			name:  "nginx publish by alias ID, key in the client's query",
			parse: func(b string) (HookRequest, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxPublish, "fullalias001", "&key="+hookStreamKey),
			want: HookRequest{Flavour: FlavourNginxRTMP, AliasID: "fullalias001", Action: ActionPublish, NameMayBeKey: true,
				Credentials: []Credential{key(hookStreamKey)}, ClientIP: "192.0.2.30", Client: "7"},
		},
		{
			name:  "nginx publish by stream key as name",
			parse: func(b string) (HookRequest, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxPublish, hookStreamKey, ""),
			want: HookRequest{Flavour: FlavourNginxRTMP, AliasID: hookStreamKey, Action: ActionPublish, NameMayBeKey: true,
				Credentials: []Credential{}, ClientIP: "192.0.2.30", Client: "7"},
		},
		{
			name:  "nginx play with passcode and other parameters",
			parse: func(b string) (HookRequest, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxPlay, "fullalias001", "&player=obs&passcode=correct+horse"),
			want: HookRequest{Flavour: FlavourNginxRTMP, AliasID: "fullalias001", Action: ActionRead,
				Credentials: []Credential{pass("correct horse")}, ClientIP: "192.0.2.31", Client: "9"},
		},
		{
			name:  "nginx update_publish",
			parse: func(b string) (HookRequest, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxUpdate, hookStreamKey, ""),
			want: HookRequest{Flavour: FlavourNginxRTMP, AliasID: hookStreamKey, Action: ActionPublish, NameMayBeKey: true, Recheck: true,
				Credentials: []Credential{}, ClientIP: "192.0.2.30", Client: "7"},
		},
		{
			name:  "nginx client query cannot override call, name or addr",
			parse: func(b string) (HookRequest, error) { return parseNginxRTMP([]byte(b)) },
			body:  body(nginxPlay, "fullalias001", "&call=publish_done&name=publicalias1&addr=10.9.9.9&clientid=1&passcode=x"),
			want: HookRequest{Flavour: FlavourNginxRTMP, AliasID: "fullalias001", Action: ActionRead,
				Credentials: []Credential{pass("x")}, ClientIP: "192.0.2.31", Client: "9"},
		},
		{
			name:  "nginx publish_done",
			parse: func(b string) (HookRequest, error) { return parseNginxRTMP([]byte(b)) },
			body:  nginxSession + "&call=publish_done&name=fullalias001&key=" + hookStreamKey,
			want:  HookRequest{Flavour: FlavourNginxRTMP, ClientIP: "192.0.2.30", Client: "7", Ack: true},
		},
		{
			name:   "nginx without call",
			parse:  func(b string) (HookRequest, error) { return parseNginxRTMP([]byte(b)) },
			body:   "name=fullalias001&key=x",
			errMsg: "no call",
		},
		{
			name:  "ome incoming rtmp",
			parse: func(b string) (HookRequest, error) { return parseOME([]byte(b)) },
			body:  body(omeIncoming, "fullalias001", "?key="+hookStreamKey),
			want: HookRequest{Flavour: FlavourOME, AliasID: "fullalias001", Action: ActionPublish,
				Credentials: []Credential{key(hookStreamKey)}, ClientIP: "192.0.2.40"},
		},
		{
			name:  "ome outgoing llhls file under the stream",
			parse: func(b string) (HookRequest, error) { return parseOME([]byte(b)) },
			body:  body(omeOutgoing, "fullalias001", "?token="+jwtToken),
			want: HookRequest{Flavour: FlavourOME, AliasID: "fullalias001", Action: ActionRead,
				Credentials: []Credential{bearer(jwtToken)}, ClientIP: "192.0.2.41"},
		},
		{
			name:  "ome srt streamid",
			parse: func(b string) (HookRequest, error) { return parseOME([]byte(b)) },
			body: strings.Replace(body(omeIncoming, "", ""), "rtmp://192.0.2.1:1935/app/",
				"srt://192.0.2.1:9999?streamid=srt%3A%2F%2F192.0.2.1%3A9999%2Fapp%2Ffullalias001%3Fkey%3D"+hookStreamKey, 1),
			want: HookRequest{Flavour: FlavourOME, AliasID: "fullalias001", Action: ActionPublish,
				Credentials: []Credential{key(hookStreamKey)}, ClientIP: "192.0.2.40"},
		},
		{
			name:  "ome closing",
			parse: func(b string) (HookRequest, error) { return parseOME([]byte(b)) },
			body:  body(omeClosing, "fullalias001", ""),
			want:  HookRequest{Flavour: FlavourOME, ClientIP: "192.0.2.40", Ack: true},
		},
		{
			name:   "ome unknown direction",
			parse:  func(b string) (HookRequest, error) { return parseOME([]byte(b)) },
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
		{"live/abc", "", "abc"},
		{"/live/abc", "", "abc"},
		{"live/abc", "live", "abc"},
		{"live/abc", "/live/", "abc"},
		{"live/x/abc", "live/x", "abc"},
		{"live/x/abc", "live", "x/abc"},
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

// TestAdmit checks that a hook decides as Check would for a live route.
func TestAdmit(t *testing.T) {
	f := newHookFixture(t)
	host := hookJWT(t, "fullalias001", 10*time.Minute, jwt.MapClaims{"host": true, "user_id": "alice"})
	viewer := hookJWT(t, "fullalias001", 20*time.Minute, jwt.MapClaims{"user_id": "bob"})
	foreign := hookJWT(t, "conference01", time.Hour, jwt.MapClaims{"host": true})
	pub := func(id string, c ...Credential) HookRequest {
		return HookRequest{AliasID: id, Action: ActionPublish, Credentials: c, ClientIP: "192.0.2.50"}
	}
	read := func(id string, c ...Credential) HookRequest {
		r := pub(id, c...)
		r.Action = ActionRead
		return r
	}
	key := Credential{Kind: CredentialStreamKey, Value: hookStreamKey}
	passcode := Credential{Kind: CredentialPasscode, Value: hookPasscode}
	cases := []struct {
		name    string
		req     HookRequest
		outcome string
		status  int
		role    Role
		expiry  time.Time
	}{
		{"publish with the key", pub("fullalias001", key), OutcomeAdmitted, 200, RolePublisher, hookNow.Add(time.Hour)},
		{"publish with the key as bearer", pub("fullalias001", Credential{Kind: CredentialBearer, Value: hookStreamKey}), OutcomeAdmitted, 200, RolePublisher, hookNow.Add(time.Hour)},
		{"publish with a host JWT", pub("fullalias001", Credential{Kind: CredentialBearer, Value: host}), OutcomeAdmitted, 200, RoleHost, hookNow.Add(10 * time.Minute)},
		{"publish with the owner's token", pub("fullalias001", Credential{Kind: CredentialBearer, Value: f.ownerToken}), OutcomeAdmitted, 200, RoleOwner, hookNow.Add(time.Hour)},
		{"publish with a wrong key", pub("fullalias001", Credential{Kind: CredentialStreamKey, Value: "sk-wrong-0123456789"}), OutcomeBadCredential, 401, 0, time.Time{}},
		{"publish without credential", pub("fullalias001"), OutcomeNoCredential, 401, 0, time.Time{}},
		{"publish with the passcode", pub("fullalias001", passcode), OutcomeForbidden, 403, 0, time.Time{}},
		{"publish with a viewer JWT", pub("fullalias001", Credential{Kind: CredentialJWT, Value: viewer}), OutcomeForbidden, 403, 0, time.Time{}},
		{"publish to a public alias without credential", pub("publicalias1"), OutcomeNoCredential, 401, 0, time.Time{}},
		{"only the first credential counts", pub("fullalias001", Credential{Kind: CredentialStreamKey, Value: "sk-wrong-0123456789"}, key), OutcomeBadCredential, 401, 0, time.Time{}},
		{"read with the passcode", read("fullalias001", passcode), OutcomeAdmitted, 200, RoleViewer, hookNow.Add(time.Hour)},
		{"read with a viewer JWT", read("fullalias001", Credential{Kind: CredentialBearer, Value: viewer}), OutcomeAdmitted, 200, RoleViewer, hookNow.Add(20 * time.Minute)},
		{"read with the key", read("fullalias001", key), OutcomeAdmitted, 200, RolePublisher, hookNow.Add(time.Hour)},
		{"read with a wrong passcode", read("fullalias001", Credential{Kind: CredentialPasscode, Value: "wrong"}), OutcomeBadCredential, 401, 0, time.Time{}},
		{"read with another alias's JWT", read("fullalias001", Credential{Kind: CredentialJWT, Value: foreign}), OutcomeBadCredential, 401, 0, time.Time{}},
		{"read without credential", read("fullalias001"), OutcomeNoCredential, 401, 0, time.Time{}},
		{"read a public alias without credential", read("publicalias1"), OutcomeAdmitted, 200, RoleViewer, hookNow.Add(time.Hour)},
		{"read an expired alias", read("expiredalias", passcode), OutcomeNotFound, 404, 0, time.Time{}},
		{"publish to an expired alias", pub("expiredalias", Credential{Kind: CredentialStreamKey, Value: "sk-expired-0123456789"}), OutcomeNotFound, 404, 0, time.Time{}},
		{"read a deleted alias", read("deletedalias", passcode), OutcomeNotFound, 404, 0, time.Time{}},
		{"read a conference", read("conference01", passcode), OutcomeNotFound, 404, 0, time.Time{}},
		{"read an impossible ID", read("../x", passcode), OutcomeNotFound, 404, 0, time.Time{}},
		{"other action", HookRequest{Action: ActionOther}, OutcomeActionDenied, 403, 0, time.Time{}},
		{"acknowledgement", HookRequest{Ack: true}, OutcomeAcknowledged, 200, 0, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A client of its own per case: failures must not add up to
			// throttling across cases.
			tc.req.ClientIP = t.Name()
			d := f.gate.Admit(t.Context(), tc.req)
			if d.Outcome != tc.outcome || d.Status != tc.status || d.Grant.Role != tc.role || !d.Expiry.Equal(tc.expiry) {
				t.Errorf("decision %s/%d role %s expiry %v, want %s/%d role %s expiry %v",
					d.Outcome, d.Status, d.Grant.Role, d.Expiry, tc.outcome, tc.status, tc.role, tc.expiry)
			}
			if d.Admitted() != (tc.status == 200) {
				t.Errorf("Admitted() = %v", d.Admitted())
			}
		})
	}
}

// TestAdmitMatchesCheck runs the same credentials through Check on a live
// route and through Admit, so the two decisions cannot drift apart.
func TestAdmitMatchesCheck(t *testing.T) {
	f := newHookFixture(t)
	f.gate.Limiter = nil
	host := hookJWT(t, "fullalias001", 10*time.Minute, jwt.MapClaims{"host": true})
	viewer := hookJWT(t, "fullalias001", 10*time.Minute, nil)
	for _, id := range []string{"fullalias001", "publicalias1", "expiredalias", "conference01", "deletedalias"} {
		for _, c := range []Credential{
			{},
			{Kind: CredentialPasscode, Value: hookPasscode},
			{Kind: CredentialPasscode, Value: "wrong"},
			{Kind: CredentialBearer, Value: hookStreamKey},
			{Kind: CredentialBearer, Value: "sk-public-0123456789"},
			{Kind: CredentialBearer, Value: host},
			{Kind: CredentialBearer, Value: viewer},
			{Kind: CredentialBearer, Value: f.ownerToken},
			{Kind: CredentialBearer, Value: "lgo_forged"},
		} {
			for _, require := range []Requirement{RequireViewer, RequirePublish} {
				r := httptest.NewRequest(http.MethodGet, "/live/"+id+"/index.m3u8", nil)
				switch c.Kind {
				case CredentialPasscode:
					r.Header.Set(HeaderPasscode, c.Value)
				case CredentialBearer:
					r.Header.Set("Authorization", "Bearer "+c.Value)
				}
				check := f.gate.Check(httptest.NewRecorder(), r, &Route{Type: TypeLive, Require: require}, id, "192.0.2.1")
				h := HookRequest{AliasID: id, Action: ActionRead, ClientIP: "192.0.2.1"}
				if require == RequirePublish {
					h.Action = ActionPublish
				}
				if c.Kind != 0 {
					h.Credentials = []Credential{c}
				}
				d := f.gate.Admit(t.Context(), h)
				want := check.Status
				if want == 0 {
					want = http.StatusOK
				}
				if d.Status != want || (want == http.StatusOK && d.Grant.Role != check.Grant.Role) {
					t.Errorf("%s with %v (%v): Admit %d %s, Check %d %s", id, c.Kind, require, d.Status, d.Grant.Role, check.Status, check.Grant.Role)
				}
			}
		}
	}
}

func TestAdmitThrottles(t *testing.T) {
	f := newHookFixture(t)
	right := HookRequest{AliasID: "fullalias001", Action: ActionRead, ClientIP: "192.0.2.60",
		Credentials: []Credential{{Kind: CredentialPasscode, Value: hookPasscode}}}
	wrong := right
	wrong.Credentials = []Credential{{Kind: CredentialPasscode, Value: "wrong"}}
	for range 3 {
		if d := f.gate.Admit(t.Context(), wrong); d.Outcome != OutcomeBadCredential {
			t.Fatalf("wrong passcode: %s", d.Outcome)
		}
	}
	d := f.gate.Admit(t.Context(), right)
	if d.Outcome != OutcomeThrottled || d.Status != http.StatusTooManyRequests || d.RetryAfter <= 0 {
		t.Fatalf("right passcode after 3 failures: %s/%d retry %v, want throttled", d.Outcome, d.Status, d.RetryAfter)
	}
	other := right
	other.ClientIP = "192.0.2.61"
	if d := f.gate.Admit(t.Context(), other); !d.Admitted() {
		t.Errorf("another client: %s, want admitted", d.Outcome)
	}
	public := HookRequest{AliasID: "publicalias1", Action: ActionRead, ClientIP: "192.0.2.60"}
	if d := f.gate.Admit(t.Context(), public); !d.Admitted() {
		t.Errorf("a public alias of the throttled client: %s, want admitted", d.Outcome)
	}
}

func TestAdmitStoreDown(t *testing.T) {
	f := newHookFixture(t)
	f.fail = true
	d := f.gate.Admit(t.Context(), HookRequest{AliasID: "fullalias001", Action: ActionRead})
	if d.Outcome != OutcomeUnavailable || d.Status != http.StatusServiceUnavailable {
		t.Errorf("store down: %s/%d, want store_unavailable/503", d.Outcome, d.Status)
	}
}

// hookResponse is what a server gets back.
type hookResponse struct {
	status int
	header http.Header
	body   string
}

func serveHook(t testing.TB, h *HookHandler, method, body string, header ...string) hookResponse {
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

func post(t testing.TB, h *HookHandler, body string, header ...string) hookResponse {
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
	var e ErrorBody
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
		{"publish with a wrong key", body(mediaMTXOld, "fullalias001", "sk-wrong-0123456789"), 403, OutcomeBadCredential},
		{"publish without credential", body(mediaMTXOld, "fullalias001", ""), 401, OutcomeNoCredential},
		{"publish to a public alias without credential", body(mediaMTXOld, "publicalias1", ""), 401, OutcomeNoCredential},
		{"publish to an expired alias", body(mediaMTXOld, "expiredalias", "sk-expired-0123456789"), 403, OutcomeNotFound},
		{"read with the passcode", readBody("fullalias001", "passcode=correct-horse"), 204, ""},
		{"read with a wrong passcode", readBody("fullalias001", "passcode=nope"), 403, OutcomeBadCredential},
		{"read without credential", readBody("fullalias001", ""), 401, OutcomeNoCredential},
		{"read a public alias", readBody("publicalias1", ""), 204, ""},
		{"read a deleted alias without credential", readBody("deletedalias", ""), 403, OutcomeNotFound},
		{"read a conference", readBody("conference01", "passcode=correct-horse"), 403, OutcomeNotFound},
		{"api", `{"ip":"127.0.0.1","user":"admin","password":"admin","token":"","action":"api","path":"","protocol":"","id":null,"query":""}`, 403, OutcomeActionDenied},
		{"pprof without credential", `{"ip":"127.0.0.1","user":"","password":"","token":"","action":"pprof","path":"","protocol":"","id":null,"query":""}`, 403, OutcomeActionDenied},
		{"not JSON", "action=read", 400, OutcomeBadRequest},
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
		big := strings.Replace(body(mediaMTXOld, "fullalias001", hookStreamKey), `"query":""`, `"query":"`+strings.Repeat("a", MaxHookBodySize)+`"`, 1)
		r := post(t, h, big)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", r.status)
		}
		wantErrorCode(t, r, OutcomeTooLarge)
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
				var e ErrorBody
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
	t.Run("without key lookup", func(t *testing.T) {
		h := f.handler(FlavourNginxRTMP)
		h.KeyLookup = nil
		if r := post(t, h, body(nginxPublish, hookStreamKey, "")); r.status != http.StatusNotFound {
			t.Errorf("status %d, want 404", r.status)
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
		f := newHookFixture(t)
		f.full.ExpiredAt = hookNow.Add(time.Microsecond)
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
		h.Logger = zap.New(core)
		h.Decisions = func(flavour, outcome string) { counted = append(counted, flavour+" "+outcome) }
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
		if fields["outcome"] == "" || fields["client_ip"] == "" {
			t.Errorf("entry %d lacks outcome or client_ip: %s", i, line)
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
