package openapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/gate"
	"github.com/linkgate/linkgate/internal/pgtest"
	"github.com/linkgate/linkgate/internal/testcaddy"
	"github.com/linkgate/linkgate/node"
	"github.com/linkgate/linkgate/store/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const specPath = "../../openapi.yaml"

// endpoints are the operations the document must describe, by path and method.
var endpoints = map[string]string{
	"/api/v1/alias/{id}":                          http.MethodGet,
	"/organization/api/v1/aliases":                http.MethodGet,
	"/organization/api/v1/alias/create":           http.MethodPost,
	"/organization/api/v1/alias/update/{id}":      http.MethodPost,
	"/organization/api/v1/alias/delete/{id}":      http.MethodDelete,
	"/organization/api/v1/alias/revoke/{id}":      http.MethodPost,
	"/organization/api/v1/alias/revocations/{id}": http.MethodGet,
}

// loadSpec loads openapi.yaml and fails the test unless it is a valid
// OpenAPI document.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("loading %s: %v", specPath, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", specPath, err)
	}
	return doc
}

func TestDocumentIsValid(t *testing.T) {
	doc := loadSpec(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if doc.Paths.Len() != len(endpoints) {
		t.Errorf("the document has %d paths, want the %d endpoints of the API", doc.Paths.Len(), len(endpoints))
	}
	for path, method := range endpoints {
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("the document lacks %s %s", method, path)
			continue
		}
		if n := len(item.Operations()); n != 1 {
			t.Errorf("%s has %d operations, want only %s", path, n, method)
		}
	}
}

// TestErrorCodesAreTheCodesEmitted keeps the ErrorCode enum in step with the
// codes the API's source writes, so a new code cannot go undocumented.
func TestErrorCodesAreTheCodesEmitted(t *testing.T) {
	doc := loadSpec(t)
	var documented []string
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		documented = append(documented, v.(string))
	}
	written := regexp.MustCompile(`WriteError\(w, http\.Status\w+, "(\w+)"|Code: "(\w+)"`)
	patterns := map[string]*regexp.Regexp{
		"aliasapi/handler.go": written,
		"aliasapi/revoke.go":  written,
		"alias/validate.go":   regexp.MustCompile(`invalid(?:Field)?\((?:[^,"]+, |"\w+", )?"(\w+)"`),
	}
	var emitted []string
	for file, re := range patterns {
		src, err := os.ReadFile("../../" + file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			// not_found answers only paths outside the document: the Caddy
			// handler passes those on (API.Handles) and never lets the API
			// answer them.
			code := string(m[1])
			if code == "" {
				code = string(m[len(m)-1])
			}
			if code != "not_found" {
				emitted = append(emitted, code)
			}
		}
	}
	// What the API answers from a gate decision: 401 "unauthorized", and
	// the codes of the refusals retrieve renders as they are.
	emitted = append(emitted, "unauthorized")
	for _, r := range []gate.Reason{gate.ReasonNotFound, gate.ReasonThrottled, gate.ReasonUnavailable} {
		emitted = append(emitted, r.Code())
	}
	slices.Sort(documented)
	slices.Sort(emitted)
	emitted = slices.Compact(emitted)
	if !slices.Equal(documented, emitted) {
		t.Errorf("ErrorCode lists %v; aliasapi writes %v", documented, emitted)
	}
}

// requestCheck is what the document must say of a request.
type requestCheck uint8

const (
	// requestValid: the document accepts the request, even if the server
	// refuses it for a reason a schema cannot express (a taken stream key,
	// an unknown alias, an expiry in the past, a forged cursor).
	requestValid requestCheck = iota
	// requestInvalid: the document refuses the request, as the server does.
	requestInvalid
	// requestUnchecked: the request is no HTTP request the document can
	// describe (a method the path does not take, a broken body encoding),
	// or kin-openapi cannot tell (its JSON decoder stops after the first
	// value of a body).
	requestUnchecked
)

// exchange is one real request to the API and what the server must answer.
type exchange struct {
	name   string
	down   bool // sent to the API whose store is unreachable
	method string
	path   string
	auth   string
	body   string
	// garbled sends the body in a broken chunked encoding, so that reading
	// it fails.
	garbled bool
	// takes is the method of the path's operation, when method is another.
	takes  string
	status int
	code   string // the error code, for statuses from 400
	// holds is a part the body must hold, where the status and code alone
	// do not tell the answer apart (a revoked JWT from a forged one).
	holds   string
	request requestCheck
}

// reply is a response as the client received it.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// env is the API on a fresh database with two organizations, and a second
// API whose store cannot be reached.
type env struct {
	url   string
	down  string
	store *pgstore.Store
	token string
	other string
}

// newAPI is the API over a node of the PostgreSQL database dsn, as
// alias_api builds it.
func newAPI(t *testing.T, dsn string) *aliasapi.API {
	n, err := node.New(node.Config{Database: node.Database{Postgres: true, DSN: dsn}}, node.Events{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	// Without migrating: the down database's node starts all the same, its
	// change feed retrying in the background.
	if err := n.Start(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	return &aliasapi.API{
		Store: n.Catalog(),
		Gate: &gate.Gate{
			Source:  n,
			JWT:     gate.NewJWTVerifier(gate.DefaultJWTLeeway, gate.DefaultMaxTokenLifetime, nil),
			Limiter: gate.NewLimiter(gate.DefaultFailureLimit, gate.DefaultFailureWindow, 1000),
		},
		Rules:  alias.Rules{MinJWTSecretLength: alias.DefaultMinJWTSecretLength},
		Logger: zap.NewNop(),
	}
}

// serve runs api as the alias_api handler does: API paths are answered,
// others passed on (here as status 299).
func serve(t *testing.T, api *aliasapi.API) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !api.Handles(r) {
			http.Error(w, "passed on", 299)
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dsn := pgtest.DB(t)
	s, err := pgstore.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on the down database's port: every query fails at
	// once, as a database that is down does after the query timeout.
	down := fmt.Sprintf("postgres://linkgate@127.0.0.1:%d/linkgate?connect_timeout=1", testcaddy.FreePort(t))
	e := &env{url: serve(t, newAPI(t, dsn)), down: serve(t, newAPI(t, down)), store: s}
	_, e.token = testcaddy.NewOrg(t, s)
	_, e.other = testcaddy.NewOrg(t, s)
	return e
}

// send makes the request of x and returns the response.
func (e *env) send(t *testing.T, x exchange) reply {
	t.Helper()
	base := e.url
	if x.down {
		base = e.down
	}
	if x.garbled {
		return sendGarbled(t, base, x)
	}
	req, err := http.NewRequest(x.method, base+x.path, strings.NewReader(x.body))
	if err != nil {
		t.Fatal(err)
	}
	setHeaders(req, x)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: body}
}

// sendGarbled writes x by hand with a chunk size that is not hex, so the
// server fails while reading the body, not before.
func sendGarbled(t *testing.T, base string, x exchange) reply {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
		x.method, x.path, u.Host, x.auth)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: body}
}

func setHeaders(req *http.Request, x exchange) {
	if x.auth != "" {
		req.Header.Set("Authorization", x.auth)
	}
	if x.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
}

// create makes an alias through the API from the members of a JSON body,
// with the expiry filled in, and returns its ID.
func (e *env) create(t *testing.T, token, members string) string {
	t.Helper()
	r := e.send(t, exchange{method: http.MethodPost, path: "/organization/api/v1/alias/create", auth: token,
		body: fmt.Sprintf(`{"expired_at":%d,%s}`, future(), members)})
	var v struct{ Data struct{ ID string } }
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &v) != nil {
		t.Fatalf("create %s: %d %s", members, r.status, r.body)
	}
	return v.Data.ID
}

// expire moves an alias's expiry into the past, as time would.
func (e *env) expire(t *testing.T, id string) {
	t.Helper()
	if _, err := e.store.Pool().Exec(context.Background(), "UPDATE aliases SET expired_at = now() - interval '1 minute' WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
}

// crowd gives an alias n revocations in force, as n calls of revoke
// would, faster.
func (e *env) crowd(t *testing.T, id string, n int) {
	t.Helper()
	if _, err := e.store.Pool().Exec(context.Background(), `INSERT INTO revocations (alias_id, kind, value, expires_at)
		SELECT $1, 'jti', 'crowd-' || i, now() + interval '1 day' FROM generate_series(1, $2) i`, id, n); err != nil {
		t.Fatal(err)
	}
}

// cursor returns the after of the first page of one alias.
func (e *env) cursor(t *testing.T) string {
	t.Helper()
	r := e.send(t, exchange{method: http.MethodGet, path: "/organization/api/v1/aliases?limit=1", auth: e.token})
	var v struct{ After *string }
	if r.status != http.StatusOK || json.Unmarshal(r.body, &v) != nil || v.After == nil {
		t.Fatalf("first page of one: %d %s", r.status, r.body)
	}
	return *v.After
}

func future() int64 { return time.Now().Add(24 * time.Hour).Unix() }

func signJWT(t *testing.T, secret, alias string, host bool) string {
	t.Helper()
	return signClaims(t, secret, "", jwt.MapClaims{"alias": alias, "user_id": "user-1", "host": host})
}

// signClaims signs a JWT of claims that expires in an hour, issued now
// unless claims say when; kid, when set, names the secret in the header.
func signClaims(t *testing.T, secret, kid string, claims jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	if _, ok := claims["iat"]; !ok {
		claims["iat"] = now.Unix()
	}
	claims["exp"] = now.Add(time.Hour).Unix()
	token := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if kid != "" {
		token.Header["kid"] = kid
	}
	signed, err := token.SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// kidOf is the kid that names secret: the first 9 bytes of its SHA-256,
// base64url without padding.
func kidOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// checker validates exchanges against the document, routed as if they had
// been sent to the document's server, and remembers what they covered.
type checker struct {
	router  routers.Router
	server  string
	options *openapi3filter.Options
	// answered holds the statuses seen per operation ID.
	answered map[string]map[int]bool
	codes    map[string]bool
}

func newChecker(t *testing.T, doc *openapi3.T) *checker {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &checker{
		router: router,
		server: doc.Servers[0].URL,
		options: &openapi3filter.Options{
			// Credentials are the server's to judge: the cases below
			// send wrong ones on purpose.
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
			IncludeResponseStatus: true,
			MultiError:            true,
		},
		answered: map[string]map[int]bool{},
		codes:    map[string]bool{},
	}
}

// input routes a request like x's, with method (the operation's) in place
// of x's.
func (c *checker) input(t *testing.T, x exchange, method string) *openapi3filter.RequestValidationInput {
	t.Helper()
	req := httptest.NewRequest(method, c.server+x.path, strings.NewReader(x.body))
	setHeaders(req, x)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("the document has no operation for %s %s: %v", method, x.path, err)
	}
	return &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.options}
}

// response validates a response to in's request.
func (c *checker) response(in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) error {
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                c.options,
	})
}

func (c *checker) check(t *testing.T, x exchange, r reply) {
	t.Helper()
	method := x.method
	if x.takes != "" {
		method = x.takes
	}
	in := c.input(t, x, method)
	if x.request != requestUnchecked {
		err := openapi3filter.ValidateRequest(context.Background(), in)
		switch {
		case x.request == requestValid && err != nil:
			t.Errorf("the document refuses the request: %v", err)
		case x.request == requestInvalid && err == nil:
			t.Errorf("the document accepts a request the server refuses with %d %s", r.status, x.code)
		}
	}
	if err := c.response(in, r.status, r.header, r.body); err != nil {
		t.Errorf("the response %d %s does not match the document: %v", r.status, r.body, err)
	}
	op := in.Route.Operation.OperationID
	if c.answered[op] == nil {
		c.answered[op] = map[int]bool{}
	}
	c.answered[op][r.status] = true
}

// errorCode returns the code of an error body, or "".
func errorCode(body []byte) string {
	var v struct{ Errors struct{ Code string } }
	json.Unmarshal(body, &v)
	return v.Errors.Code
}

func TestResponsesMatchDocument(t *testing.T) {
	doc := loadSpec(t)
	c := newChecker(t, doc)
	e := newEnv(t)

	const (
		secret    = "0123456789abcdef0123456789abcdef"
		streamKey = "sk-0123456789abcdef"
		retrieve  = "/api/v1/alias/"
		list      = "/organization/api/v1/aliases"
		create    = "/organization/api/v1/alias/create"
		update    = "/organization/api/v1/alias/update/"
		remove    = "/organization/api/v1/alias/delete/"
		revoke    = "/organization/api/v1/alias/revoke/"
		listing   = "/organization/api/v1/alias/revocations/"
		unknown   = "zzzzzzzzzzzz"
		malformed = "no%20such"
		// nextSecret replaces secret with a grace period.
		nextSecret = "fedcba9876543210fedcba9876543210"
	)
	full := e.create(t, e.token, `"type":"live","name":"Launch","passcode":"open-sesame","jwt_secret":"`+secret+`","stream_key":"`+streamKey+`"`)
	public := e.create(t, e.token, `"type":"conference"`)
	expired := e.create(t, e.token, `"type":"live","passcode":"open-sesame"`)
	e.expire(t, expired)
	editable := e.create(t, e.token, `"type":"live","name":"Before","passcode":"let-me-in","stream_key":"sk-editable-0123456789"`)
	doomed := e.create(t, e.token, `"type":"live"`)
	foreign := e.create(t, e.other, `"type":"live","name":"Theirs"`)
	guessed := e.create(t, e.token, `"type":"live","passcode":"open-sesame"`)
	// The other organization probes stream keys until it is throttled.
	prober := e.create(t, e.other, `"type":"live"`)
	for range gate.DefaultFailureLimit {
		e.send(t, exchange{method: http.MethodPost, path: "/organization/api/v1/alias/update/" + prober, auth: e.other, body: `{"stream_key":"` + streamKey + `"}`})
	}
	for range gate.DefaultFailureLimit {
		e.send(t, exchange{method: http.MethodGet, path: "/api/v1/alias/" + guessed + "?passcode=guess"})
	}
	after := e.cursor(t)
	revocable := e.create(t, e.token, `"type":"conference","jwt_secret":"`+secret+`"`)
	rotating := e.create(t, e.token, `"type":"live","jwt_secret":"`+secret+`"`)
	rekeyed := e.create(t, e.token, `"type":"live","jwt_secret":"`+secret+`"`)
	// One revocation short of as many users and jtis as the document
	// says an alias holds beside its one "before": the next is accepted,
	// the one after refused, and a "before" still accepted.
	crowded := e.create(t, e.token, `"type":"live"`)
	most := int(*doc.Components.Schemas["InForce"].Value.Properties["revocations"].Value.MaxItems) - 1
	e.crowd(t, crowded, most-1)
	now := time.Now()
	revokedUserJWT := signClaims(t, secret, "", jwt.MapClaims{"alias": revocable, "user_id": "revoked-user"})
	revokedJTIJWT := signClaims(t, secret, "", jwt.MapClaims{"alias": revocable, "user_id": "user-2", "jti": "revoked-jti"})
	earlyJWT := signClaims(t, secret, "", jwt.MapClaims{"alias": revocable, "user_id": "user-3", "iat": now.Add(-time.Hour).Unix()})
	kidJWT := signClaims(t, secret, kidOf(secret), jwt.MapClaims{"alias": revocable, "user_id": "user-4", "jti": "kept-jti"})
	strangerKidJWT := signClaims(t, secret, kidOf(nextSecret), jwt.MapClaims{"alias": revocable, "user_id": "user-4"})
	replacedJWT := signClaims(t, secret, kidOf(secret), jwt.MapClaims{"alias": rotating, "user_id": "user-5"})
	replacingJWT := signClaims(t, nextSecret, kidOf(nextSecret), jwt.MapClaims{"alias": rotating, "user_id": "user-5"})
	unregistered, _ := alias.NewOrgToken()
	hostJWT := signJWT(t, secret, full, true)
	viewerJWT := signJWT(t, secret, full, false)
	strangerJWT := signJWT(t, "another-secret-another-secret-32", full, false)
	fut := future()
	body := func(format string) string { return strings.ReplaceAll(format, "FUTURE", strconv.FormatInt(fut, 10)) }
	huge := body(`{"type":"live","expired_at":FUTURE,"name":"` + strings.Repeat("x", 70<<10) + `"}`)

	get, post, del := http.MethodGet, http.MethodPost, http.MethodDelete
	ok, created := http.StatusOK, http.StatusCreated
	invalid, unchecked := requestInvalid, requestUnchecked
	exchanges := []exchange{
		{name: "retrieve/owner token", method: get, path: retrieve + full, auth: e.token, status: ok},
		{name: "retrieve/owner Bearer token", method: get, path: retrieve + full, auth: "Bearer " + e.token, status: ok},
		{name: "retrieve/host JWT", method: get, path: retrieve + full, auth: "Bearer " + hostJWT, status: ok},
		{name: "retrieve/viewer JWT", method: get, path: retrieve + full, auth: "Bearer " + viewerJWT, status: ok},
		{name: "retrieve/passcode", method: get, path: retrieve + full + "?passcode=open-sesame", status: ok},
		{name: "retrieve/public alias, no credential", method: get, path: retrieve + public, status: ok},
		{name: "retrieve/public alias, other organization", method: get, path: retrieve + public, auth: e.other, status: ok},
		{name: "retrieve/expired alias, owner", method: get, path: retrieve + expired, auth: e.token, status: ok},
		{name: "retrieve/no credential", method: get, path: retrieve + full, status: 401, code: "unauthorized"},
		{name: "retrieve/wrong passcode", method: get, path: retrieve + full + "?passcode=guess", status: 401, code: "unauthorized"},
		{name: "retrieve/JWT of another secret", method: get, path: retrieve + full, auth: "Bearer " + strangerJWT, status: 401, code: "unauthorized"},
		{name: "retrieve/unregistered token", method: get, path: retrieve + full, auth: unregistered, status: 401, code: "unauthorized"},
		{name: "retrieve/Basic credential", method: get, path: retrieve + full, auth: "Basic dXNlcjpwYXNz", status: 401, code: "unauthorized"},
		{name: "retrieve/unknown alias", method: get, path: retrieve + unknown, auth: e.token, status: 404, code: "alias_not_found"},
		{name: "retrieve/other organization's token", method: get, path: retrieve + full, auth: e.other, status: 404, code: "alias_not_found"},
		{name: "retrieve/expired alias, passcode", method: get, path: retrieve + expired + "?passcode=open-sesame", status: 404, code: "alias_not_found"},
		{name: "retrieve/malformed ID", method: get, path: retrieve + malformed, status: 404, code: "alias_not_found", request: invalid},
		{name: "retrieve/POST", method: post, takes: get, path: retrieve + full, auth: e.token, status: 405, code: "method_not_allowed", request: unchecked},
		{name: "retrieve/after too many wrong passcodes", method: get, path: retrieve + guessed + "?passcode=open-sesame", status: 429, code: "too_many_failures"},
		{name: "retrieve/store down", down: true, method: get, path: retrieve + public, status: 503, code: "store_unavailable"},

		{name: "list/all", method: get, path: list, auth: e.token, status: ok},
		{name: "list/live, one per page", method: get, path: list + "?type=live&limit=1", auth: "Bearer " + e.token, status: ok},
		{name: "list/next page", method: get, path: list + "?limit=1&after=" + after, auth: e.token, status: ok},
		{name: "list/other organization", method: get, path: list, auth: e.other, status: ok},
		{name: "list/unknown type", method: get, path: list + "?type=vod", auth: e.token, status: 400, code: "invalid_query", request: invalid},
		{name: "list/limit 0", method: get, path: list + "?limit=0", auth: e.token, status: 400, code: "invalid_query", request: invalid},
		{name: "list/limit 501", method: get, path: list + "?limit=501", auth: e.token, status: 400, code: "invalid_query", request: invalid},
		{name: "list/limit not a number", method: get, path: list + "?limit=ten", auth: e.token, status: 400, code: "invalid_query", request: invalid},
		{name: "list/forged cursor", method: get, path: list + "?after=garbage", auth: e.token, status: 400, code: "invalid_cursor"},
		{name: "list/cursor not base64url", method: get, path: list + "?after=%2B%2F", auth: e.token, status: 400, code: "invalid_cursor", request: invalid},
		{name: "list/no token", method: get, path: list, status: 401, code: "unauthorized"},
		{name: "list/unregistered token", method: get, path: list, auth: "Bearer " + unregistered, status: 401, code: "unauthorized"},
		{name: "list/DELETE", method: del, takes: get, path: list, auth: e.token, status: 405, code: "method_not_allowed", request: unchecked},
		{name: "list/store down", down: true, method: get, path: list, auth: e.token, status: 503, code: "store_unavailable"},

		{name: "create/every field", method: post, path: create, auth: e.token, status: created,
			body: body(`{"type":"live","name":"Launch 2","passcode":"pass","jwt_secret":"` + secret + `","stream_key":"sk-created-0123456789","expired_at":FUTURE}`)},
		{name: "create/nulls", method: post, path: create, auth: "Bearer " + e.token, status: created,
			body: body(`{"type":"conference","name":null,"passcode":null,"jwt_secret":null,"stream_key":null,"expired_at":FUTURE}`)},
		{name: "create/not JSON", method: post, path: create, auth: e.token, body: body(`type=live&expired_at=FUTURE`), status: 400, code: "invalid_json", request: invalid},
		{name: "create/JSON null", method: post, path: create, auth: e.token, body: `null`, status: 400, code: "invalid_json", request: invalid},
		{name: "create/JSON array", method: post, path: create, auth: e.token, body: `[]`, status: 400, code: "invalid_json", request: invalid},
		{name: "create/two objects", method: post, path: create, auth: e.token, body: body(`{"type":"live","expired_at":FUTURE}{}`), status: 400, code: "invalid_json", request: unchecked},
		{name: "create/unknown key", method: post, path: create, auth: e.token, body: body(`{"type":"live","expired_at":FUTURE,"owner":"me"}`), status: 400, code: "unknown_field", request: invalid},
		{name: "create/id", method: post, path: create, auth: e.token, body: body(`{"id":"mine","type":"live","expired_at":FUTURE}`), status: 400, code: "read_only_field", request: invalid},
		{name: "create/inserted_at", method: post, path: create, auth: e.token, body: body(`{"type":"live","expired_at":FUTURE,"inserted_at":1}`), status: 400, code: "read_only_field", request: invalid},
		{name: "create/unknown type", method: post, path: create, auth: e.token, body: body(`{"type":"radio","expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/type null", method: post, path: create, auth: e.token, body: body(`{"type":null,"expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/empty name", method: post, path: create, auth: e.token, body: body(`{"type":"live","name":"","expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/name of 201 characters", method: post, path: create, auth: e.token, body: body(`{"type":"live","name":"` + strings.Repeat("é", 201) + `","expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/control character in name", method: post, path: create, auth: e.token, body: body(`{"type":"live","name":"bell\u0007","expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/short passcode", method: post, path: create, auth: e.token, body: body(`{"type":"live","passcode":"abc","expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/short jwt_secret", method: post, path: create, auth: e.token, body: body(`{"type":"live","jwt_secret":"short","expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/short stream key", method: post, path: create, auth: e.token, body: body(`{"type":"live","stream_key":"short","expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/passcode a number", method: post, path: create, auth: e.token, body: body(`{"type":"live","passcode":12345,"expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/expired_at a string", method: post, path: create, auth: e.token, body: body(`{"type":"live","expired_at":"FUTURE"}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/expired_at a fraction", method: post, path: create, auth: e.token, body: `{"type":"live","expired_at":4102444800.5}`, status: 400, code: "invalid_field", request: invalid},
		{name: "create/expired_at after 9999", method: post, path: create, auth: e.token, body: `{"type":"live","expired_at":253402300800}`, status: 400, code: "invalid_field", request: invalid},
		{name: "create/expired_at in the past", method: post, path: create, auth: e.token, body: `{"type":"live","expired_at":1737456308}`, status: 400, code: "invalid_field"},
		{name: "create/type missing", method: post, path: create, auth: e.token, body: body(`{"expired_at":FUTURE}`), status: 400, code: "missing_field", request: invalid},
		{name: "create/expired_at missing", method: post, path: create, auth: e.token, body: `{"type":"live"}`, status: 400, code: "missing_field", request: invalid},
		{name: "create/generated secrets", method: post, path: create + "?generate=stream_key,jwt_secret", auth: e.token, status: created,
			body: body(`{"type":"live","expired_at":FUTURE}`)},
		{name: "create/generate of another field", method: post, path: create + "?generate=passcode", auth: e.token, body: body(`{"type":"live","expired_at":FUTURE}`), status: 400, code: "invalid_query", request: invalid},
		{name: "create/stream key given and generated", method: post, path: create + "?generate=stream_key", auth: e.token, body: body(`{"type":"live","stream_key":"sk-both-0123456789","expired_at":FUTURE}`), status: 400, code: "invalid_field"},
		{name: "create/stream key of a token's shape", method: post, path: create, auth: e.token, body: body(`{"type":"live","stream_key":"lgo_0123456789abcdef","expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/stream key with a leading space", method: post, path: create, auth: e.token, body: body(`{"type":"live","stream_key":" sk-0123456789abcdef","expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/stream key after too many taken", method: post, path: create, auth: e.other, body: body(`{"type":"live","stream_key":"sk-free-0123456789","expired_at":FUTURE}`), status: 429, code: "too_many_failures"},
		{name: "create/jwt_secret_grace", method: post, path: create, auth: e.token, body: body(`{"type":"live","jwt_secret":"` + secret + `","jwt_secret_grace":60,"expired_at":FUTURE}`), status: 400, code: "invalid_field", request: invalid},
		{name: "create/stream key taken", method: post, path: create, auth: e.token, body: body(`{"type":"live","stream_key":"` + streamKey + `","expired_at":FUTURE}`), status: 400, code: "stream_key_taken"},
		{name: "create/unreadable body", garbled: true, method: post, path: create, auth: e.token, status: 400, code: "invalid_body", request: unchecked},
		{name: "create/body over 64 KiB", method: post, path: create, auth: e.token, body: huge, status: 413, code: "body_too_large", request: invalid},
		{name: "create/no token", method: post, path: create, body: body(`{"type":"live","expired_at":FUTURE}`), status: 401, code: "unauthorized"},
		{name: "create/unregistered token", method: post, path: create, auth: unregistered, body: body(`{"type":"live","expired_at":FUTURE}`), status: 401, code: "unauthorized"},
		{name: "create/GET", method: get, takes: post, path: create, auth: e.token, status: 405, code: "method_not_allowed", request: unchecked},
		{name: "create/store down", down: true, method: post, path: create, auth: e.token, body: body(`{"type":"live","expired_at":FUTURE}`), status: 503, code: "store_unavailable"},

		{name: "update/rename", method: post, path: update + editable, auth: e.token, body: `{"name":"After"}`, status: ok},
		{name: "update/clear", method: post, path: update + editable, auth: "Bearer " + e.token, body: body(`{"type":"conference","passcode":null,"stream_key":null,"jwt_secret":null,"expired_at":FUTURE}`), status: ok},
		{name: "update/nothing", method: post, path: update + editable, auth: e.token, body: `{}`, status: ok},
		{name: "update/new jwt_secret with a grace", method: post, path: update + rotating, auth: e.token, body: `{"jwt_secret":"` + nextSecret + `","jwt_secret_grace":600}`, status: ok},
		{name: "retrieve/JWT of the replaced secret in its grace", method: get, path: retrieve + rotating, auth: "Bearer " + replacedJWT, status: ok},
		{name: "retrieve/JWT of the new secret", method: get, path: retrieve + rotating, auth: "Bearer " + replacingJWT, status: ok},
		{name: "update/grace of 0 alone", method: post, path: update + rotating, auth: e.token, body: `{"jwt_secret_grace":0}`, status: ok},
		{name: "update/grace without a new jwt_secret", method: post, path: update + rotating, auth: e.token, body: `{"jwt_secret_grace":60}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/grace with a cleared jwt_secret", method: post, path: update + rotating, auth: e.token, body: `{"jwt_secret":null,"jwt_secret_grace":60}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/grace with a generated jwt_secret", method: post, path: update + rotating + "?generate=jwt_secret", auth: e.token, body: `{"jwt_secret_grace":60}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/grace with a new passcode", method: post, path: update + rotating, auth: e.token, body: `{"jwt_secret":"` + secret + `","passcode":"new-passcode","jwt_secret_grace":60}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/grace with a new stream key", method: post, path: update + rekeyed, auth: e.token, body: `{"jwt_secret":"` + nextSecret + `","stream_key":"sk-rekeyed-0123456789","jwt_secret_grace":60}`, status: ok},
		{name: "update/grace over a day", method: post, path: update + rotating, auth: e.token, body: `{"jwt_secret":"` + secret + `","jwt_secret_grace":86401}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/negative grace", method: post, path: update + rotating, auth: e.token, body: `{"jwt_secret":"` + secret + `","jwt_secret_grace":-1}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/grace a string", method: post, path: update + rotating, auth: e.token, body: `{"jwt_secret":"` + secret + `","jwt_secret_grace":"60"}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/not JSON", method: post, path: update + editable, auth: e.token, body: `name=x`, status: 400, code: "invalid_json", request: invalid},
		{name: "update/unknown key", method: post, path: update + editable, auth: e.token, body: `{"nmae":"typo"}`, status: 400, code: "unknown_field", request: invalid},
		{name: "update/inserted_at", method: post, path: update + editable, auth: e.token, body: `{"inserted_at":1}`, status: 400, code: "read_only_field", request: invalid},
		{name: "update/type null", method: post, path: update + editable, auth: e.token, body: `{"type":null}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/expired_at null", method: post, path: update + editable, auth: e.token, body: `{"expired_at":null}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/long stream key", method: post, path: update + editable, auth: e.token, body: `{"stream_key":"` + strings.Repeat("k", 257) + `"}`, status: 400, code: "invalid_field", request: invalid},
		{name: "update/expired_at in the past", method: post, path: update + editable, auth: e.token, body: `{"expired_at":1000}`, status: 400, code: "invalid_field"},
		{name: "update/unknown alias", method: post, path: update + unknown, auth: e.token, body: `{"name":"x"}`, status: 400, code: "alias_not_found"},
		{name: "update/other organization's alias", method: post, path: update + foreign, auth: e.token, body: `{"name":"Mine now"}`, status: 400, code: "alias_not_found"},
		{name: "update/malformed ID", method: post, path: update + malformed, auth: e.token, body: `{"name":"x"}`, status: 400, code: "alias_not_found", request: invalid},
		{name: "update/generated stream key", method: post, path: update + editable + "?generate=stream_key", auth: e.token, body: `{}`, status: ok},
		{name: "update/generate of another field", method: post, path: update + editable + "?generate=name", auth: e.token, body: `{}`, status: 400, code: "invalid_query", request: invalid},
		{name: "update/stream key after too many taken", method: post, path: update + prober, auth: e.other, body: `{"stream_key":"sk-free-0123456789"}`, status: 429, code: "too_many_failures"},
		{name: "update/stream key taken", method: post, path: update + editable, auth: e.token, body: `{"stream_key":"` + streamKey + `"}`, status: 400, code: "stream_key_taken"},
		{name: "update/unreadable body", garbled: true, method: post, path: update + editable, auth: e.token, status: 400, code: "invalid_body", request: unchecked},
		{name: "update/body over 64 KiB", method: post, path: update + editable, auth: e.token, body: huge, status: 413, code: "body_too_large", request: invalid},
		{name: "update/no token", method: post, path: update + editable, body: `{"name":"x"}`, status: 401, code: "unauthorized"},
		{name: "update/PUT", method: http.MethodPut, takes: post, path: update + editable, auth: e.token, status: 405, code: "method_not_allowed", request: unchecked},
		{name: "update/store down", down: true, method: post, path: update + editable, auth: e.token, body: `{"name":"x"}`, status: 503, code: "store_unavailable"},

		{name: "delete/owner", method: del, path: remove + doomed, auth: "Bearer " + e.token, status: ok},
		{name: "delete/again", method: del, path: remove + doomed, auth: e.token, status: 404, code: "alias_not_found"},
		{name: "delete/other organization's alias", method: del, path: remove + foreign, auth: e.token, status: 404, code: "alias_not_found"},
		{name: "delete/malformed ID", method: del, path: remove + malformed, auth: e.token, status: 404, code: "alias_not_found", request: invalid},
		{name: "delete/no token", method: del, path: remove + full, status: 401, code: "unauthorized"},
		{name: "delete/unregistered token", method: del, path: remove + full, auth: unregistered, status: 401, code: "unauthorized"},
		{name: "delete/POST", method: post, takes: del, path: remove + full, auth: e.token, status: 405, code: "method_not_allowed", request: unchecked},
		{name: "delete/store down", down: true, method: del, path: remove + full, auth: e.token, status: 503, code: "store_unavailable"},

		{name: "revoke/user", method: post, path: revoke + revocable, auth: e.token, body: `{"user_id":"revoked-user"}`, status: ok, holds: `"user_id":"revoked-user"`},
		{name: "revoke/jti", method: post, path: revoke + revocable, auth: "Bearer " + e.token, body: `{"jti":"revoked-jti"}`, status: ok, holds: `"jti":"revoked-jti"`},
		{name: "revoke/before", method: post, path: revoke + revocable, auth: e.token, body: fmt.Sprintf(`{"before":%d}`, now.Add(-time.Minute).Unix()), status: ok,
			holds: fmt.Sprintf(`"before":%d`, now.Add(-time.Minute).Unix())},
		{name: "retrieve/JWT of a revoked user", method: get, path: retrieve + revocable, auth: "Bearer " + revokedUserJWT, status: 401, code: "unauthorized", holds: "revoked"},
		{name: "retrieve/JWT of a revoked jti", method: get, path: retrieve + revocable, auth: "Bearer " + revokedJTIJWT, status: 401, code: "unauthorized", holds: "revoked"},
		{name: "retrieve/JWT issued before a revoked moment", method: get, path: retrieve + revocable, auth: "Bearer " + earlyJWT, status: 401, code: "unauthorized", holds: "revoked"},
		{name: "retrieve/JWT naming its secret by kid", method: get, path: retrieve + revocable, auth: "Bearer " + kidJWT, status: ok},
		{name: "retrieve/JWT naming another secret by kid", method: get, path: retrieve + revocable, auth: "Bearer " + strangerKidJWT, status: 401, code: "unauthorized"},
		{name: "revoke/two kinds", method: post, path: revoke + revocable, auth: e.token, body: `{"user_id":"x","jti":"y"}`, status: 400, code: "invalid_field", request: invalid},
		{name: "revoke/nothing", method: post, path: revoke + revocable, auth: e.token, body: `{}`, status: 400, code: "invalid_field", request: invalid},
		{name: "revoke/unknown key", method: post, path: revoke + revocable, auth: e.token, body: `{"user":"x"}`, status: 400, code: "unknown_field", request: invalid},
		{name: "revoke/before in the future", method: post, path: revoke + revocable, auth: e.token, body: fmt.Sprintf(`{"before":%d}`, now.Add(time.Hour).Unix()), status: 400, code: "invalid_field"},
		{name: "revoke/before a string", method: post, path: revoke + revocable, auth: e.token, body: `{"before":"yesterday"}`, status: 400, code: "invalid_field", request: invalid},
		{name: "revoke/user_id a number", method: post, path: revoke + revocable, auth: e.token, body: `{"user_id":7}`, status: 400, code: "invalid_field", request: invalid},
		{name: "revoke/empty user_id", method: post, path: revoke + revocable, auth: e.token, body: `{"user_id":""}`, status: 400, code: "invalid_field", request: invalid},
		{name: "revoke/jti of 65 bytes", method: post, path: revoke + revocable, auth: e.token, body: `{"jti":"` + strings.Repeat("j", 65) + `"}`, status: 400, code: "invalid_field", request: invalid},
		{name: "revoke/control character in user_id", method: post, path: revoke + revocable, auth: e.token, body: `{"user_id":"bell\u0007"}`, status: 400, code: "invalid_field", request: invalid},
		{name: "revoke/not JSON", method: post, path: revoke + revocable, auth: e.token, body: `user_id=x`, status: 400, code: "invalid_json", request: invalid},
		{name: "revoke/unreadable body", garbled: true, method: post, path: revoke + revocable, auth: e.token, status: 400, code: "invalid_body", request: unchecked},
		{name: "revoke/body over 64 KiB", method: post, path: revoke + revocable, auth: e.token, body: huge, status: 413, code: "body_too_large", request: invalid},
		{name: "revoke/no token", method: post, path: revoke + revocable, body: `{"user_id":"x"}`, status: 401, code: "unauthorized"},
		{name: "revoke/unregistered token", method: post, path: revoke + revocable, auth: unregistered, body: `{"user_id":"x"}`, status: 401, code: "unauthorized"},
		{name: "revoke/other organization's alias", method: post, path: revoke + revocable, auth: e.other, body: `{"user_id":"x"}`, status: 404, code: "alias_not_found"},
		{name: "revoke/unknown alias", method: post, path: revoke + unknown, auth: e.token, body: `{"user_id":"x"}`, status: 404, code: "alias_not_found"},
		{name: "revoke/malformed ID", method: post, path: revoke + malformed, auth: e.token, body: `{"user_id":"x"}`, status: 404, code: "alias_not_found", request: invalid},
		{name: "revoke/GET", method: get, takes: post, path: revoke + revocable, auth: e.token, status: 405, code: "method_not_allowed", request: unchecked},
		{name: "revoke/up to the most an alias holds", method: post, path: revoke + crowded, auth: e.token, body: `{"jti":"last"}`, status: ok},
		{name: "revoke/past the most an alias holds", method: post, path: revoke + crowded, auth: e.token, body: `{"jti":"one-too-many"}`, status: 409, code: "too_many_revocations"},
		{name: "revoke/before, past the most an alias holds", method: post, path: revoke + crowded, auth: e.token, body: fmt.Sprintf(`{"before":%d}`, now.Add(-time.Minute).Unix()), status: ok},
		{name: "revoke/store down", down: true, method: post, path: revoke + revocable, auth: e.token, body: `{"user_id":"x"}`, status: 503, code: "store_unavailable"},

		{name: "revocations/revoked", method: get, path: listing + revocable, auth: e.token, status: ok, holds: `"jti":"revoked-jti"`},
		{name: "revocations/replaced secret in its grace", method: get, path: listing + rotating, auth: "Bearer " + e.token, status: ok,
			holds: `{"kid":"` + kidOf(nextSecret) + `","current":true},{"kid":"` + kidOf(secret) + `","current":false,"until":`},
		{name: "revocations/alias without jwt_secret", method: get, path: listing + public, auth: e.token, status: ok, holds: `"revocations":[],"jwt_secrets":[]`},
		{name: "revocations/no token", method: get, path: listing + revocable, status: 401, code: "unauthorized"},
		{name: "revocations/other organization's alias", method: get, path: listing + revocable, auth: e.other, status: 404, code: "alias_not_found"},
		{name: "revocations/unknown alias", method: get, path: listing + unknown, auth: e.token, status: 404, code: "alias_not_found"},
		{name: "revocations/malformed ID", method: get, path: listing + malformed, auth: e.token, status: 404, code: "alias_not_found", request: invalid},
		{name: "revocations/POST", method: post, takes: get, path: listing + revocable, auth: e.token, body: `{}`, status: 405, code: "method_not_allowed", request: unchecked},
		{name: "revocations/store down", down: true, method: get, path: listing + revocable, auth: e.token, status: 503, code: "store_unavailable"},
	}
	ran := 0
	for _, x := range exchanges {
		t.Run(x.name, func(t *testing.T) {
			ran++
			r := e.send(t, x)
			code := errorCode(r.body)
			if r.status != x.status || (x.status >= 400 && code != x.code) || !bytes.Contains(r.body, []byte(x.holds)) {
				t.Errorf("answered %d %s, want %d %s %s", r.status, r.body, x.status, x.code, x.holds)
			}
			c.codes[code] = true
			c.check(t, x, r)
		})
	}

	if ran < len(exchanges) {
		t.Logf("-run left out exchanges: coverage of the document not checked")
		return
	}
	// Every status of every operation, and every error code, was answered
	// for real: the document promises nothing the tests did not see.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				n, _ := strconv.Atoi(status)
				if !c.answered[op.OperationID][n] {
					t.Errorf("%s %s (%s): no exchange answered %s", method, path, op.OperationID, status)
				}
			}
		}
	}
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		if !c.codes[v.(string)] {
			t.Errorf("no exchange answered the error code %s", v)
		}
	}
}

// TestValidatorCatchesWrongResponses shows that the check above can fail:
// responses that break the document in one way each are refused, while the
// same response done right passes.
func TestValidatorCatchesWrongResponses(t *testing.T) {
	doc := loadSpec(t)
	c := newChecker(t, doc)
	retrieve := c.input(t, exchange{path: "/api/v1/alias/k3v9x0q2m7ab"}, http.MethodGet)
	list := c.input(t, exchange{path: "/organization/api/v1/aliases"}, http.MethodGet)
	remove := c.input(t, exchange{path: "/organization/api/v1/alias/delete/k3v9x0q2m7ab"}, http.MethodDelete)
	listing := c.input(t, exchange{path: "/organization/api/v1/alias/revocations/k3v9x0q2m7ab"}, http.MethodGet)

	alias := `"id":"k3v9x0q2m7ab","type":"live","name":null,"passcode":"open-sesame","jwt_secret":null,"stream_key":null,"expired_at":1737456308`
	good := `{"data":{` + alias + `,"inserted_at":1737356308}}`
	headers := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	unauthorized := `{"errors":{"detail":"wrong passcode","code":"unauthorized"}}`
	unavailable := `{"errors":{"detail":"the alias store is unavailable","code":"store_unavailable"}}`
	inForce := func(revocation, secrets string) string {
		return `{"data":{"alias":"k3v9x0q2m7ab","revocations":[` + revocation + `],"jwt_secrets":[` + secrets + `]}}`
	}
	revocation := `{"user_id":"user-42","created_at":1737356308,"expires_at":1737442738}`
	current := `{"kid":"Hq3n0ZpXo2bT","current":true}`
	replaced := `{"kid":"9Wc-Lr0aQm4u","current":false,"until":1737357000}`
	tests := []struct {
		name   string
		in     *openapi3filter.RequestValidationInput
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"alias", retrieve, 200, headers(), good, true},
		{"alias without inserted_at", retrieve, 200, headers(), `{"data":{` + alias + `}}`, false},
		{"alias with an extra key", retrieve, 200, headers(), `{"data":{` + alias + `,"inserted_at":1737356308,"org_id":"x"}}`, false},
		{"alias with a null id", retrieve, 200, headers(), strings.Replace(good, `"k3v9x0q2m7ab"`, "null", 1), false},
		{"alias with a null expired_at", retrieve, 200, headers(), strings.Replace(good, "1737456308", "null", 1), false},
		{"alias with a string time", retrieve, 200, headers(), strings.Replace(good, "1737456308", `"1737456308"`, 1), false},
		{"alias of an unknown type", retrieve, 200, headers(), strings.Replace(good, `"live"`, `"radio"`, 1), false},
		{"alias outside its envelope", retrieve, 200, headers(), `{` + alias + `,"inserted_at":1737356308}`, false},
		{"no Cache-Control", retrieve, 200, http.Header{"Content-Type": {"application/json"}}, good, false},
		{"not JSON", retrieve, 200, headers("Content-Type", "text/plain"), good, false},
		{"undocumented status", retrieve, 500, headers(), `{"errors":{"detail":"internal error","code":"internal_error"}}`, false},
		{"401", retrieve, 401, headers("WWW-Authenticate", `Bearer realm="linkgate", error="invalid_token"`), unauthorized, true},
		{"401 without WWW-Authenticate", retrieve, 401, headers(), unauthorized, false},
		{"401 with another code", retrieve, 401, headers("WWW-Authenticate", `Bearer realm="linkgate"`), `{"errors":{"detail":"nope","code":"alias_not_found"}}`, false},
		{"error with an undocumented code", retrieve, 404, headers(), `{"errors":{"detail":"gone","code":"gone"}}`, false},
		{"error without detail", retrieve, 404, headers(), `{"errors":{"code":"alias_not_found"}}`, false},
		{"503", retrieve, 503, headers("Retry-After", "1"), unavailable, true},
		{"503 without Retry-After", retrieve, 503, headers(), unavailable, false},
		{"405 with the wrong Allow", retrieve, 405, headers("Allow", "POST"), `{"errors":{"detail":"x","code":"method_not_allowed"}}`, false},
		{"page", list, 200, headers(), `{"after":null,"entries":[` + good + `]}`, true},
		{"page without after", list, 200, headers(), `{"entries":[` + good + `]}`, false},
		{"page with bare aliases", list, 200, headers(), `{"after":null,"entries":[{` + alias + `,"inserted_at":1737356308}]}`, false},
		{"deleted", remove, 200, headers(), `{"message":"Alias deleted successfully."}`, true},
		{"deleted with another message", remove, 200, headers(), `{"message":"ok"}`, false},
		{"in force", listing, 200, headers(), inForce(revocation, current+","+replaced), true},
		{"revocation of two kinds", listing, 200, headers(), inForce(`{"user_id":"u","jti":"j","created_at":1,"expires_at":2}`, current), false},
		{"revocation of no kind", listing, 200, headers(), inForce(`{"created_at":1,"expires_at":2}`, current), false},
		{"revocation without expires_at", listing, 200, headers(), inForce(`{"before":1}`, current), false},
		{"current secret with an end", listing, 200, headers(), inForce(revocation, `{"kid":"Hq3n0ZpXo2bT","current":true,"until":1}`), false},
		{"replaced secret without an end", listing, 200, headers(), inForce(revocation, `{"kid":"9Wc-Lr0aQm4u","current":false}`), false},
		{"secret shown by value", listing, 200, headers(), inForce(revocation, `{"kid":"Hq3n0ZpXo2bT","current":true,"secret":"0123456789abcdef0123456789abcdef"}`), false},
		{"kid of another length", listing, 200, headers(), inForce(revocation, `{"kid":"Hq3n0ZpXo2b","current":true}`), false},
		{"in force without its envelope", listing, 200, headers(), strings.TrimSuffix(strings.TrimPrefix(inForce(revocation, current), `{"data":`), "}"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.response(tt.in, tt.status, tt.header, []byte(tt.body))
			if tt.ok && err != nil {
				t.Fatalf("a right response is refused: %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("a wrong response passes")
			}
		})
	}
}
