package aliasapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/gate"
)

// TestServeAsAnswersAsTheOrganizationsToken: every endpoint answers
// ServeAs for an organization byte for byte as it answers HTTP requests
// that carry a token of that organization, with the same status and
// content type; and a request over HTTP without a token is still refused.
func TestServeAsAnswersAsTheOrganizationsToken(t *testing.T) {
	onBothStores(t, testServeAsAnswersAsTheOrganizationsToken)
}

func testServeAsAnswersAsTheOrganizationsToken(t *testing.T, e *env) {
	as := &aliasapi.API{
		Store:  e.node.Catalog(),
		Gate:   &gate.Gate{Source: e.node, JWT: gate.NewJWTVerifier(gate.DefaultJWTLeeway, gate.DefaultMaxTokenLifetime, nil)},
		Rules:  alias.Rules{MinJWTSecretLength: alias.DefaultMinJWTSecretLength},
		Logger: zap.NewNop(),
	}
	serveAs := func(method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		w := httptest.NewRecorder()
		as.ServeAs(w, httptest.NewRequest(method, path, strings.NewReader(body)), e.org)
		return w
	}
	same := func(what, method, path, body string) {
		t.Helper()
		want := e.do(method, path, e.token, body)
		got := serveAs(method, path, body)
		if got.Code != want.status || got.Body.String() != want.raw || got.Header().Get("Content-Type") != want.header.Get("Content-Type") {
			t.Errorf("%s: ServeAs answered %d %q %s\nwant, as over HTTP with the token, %d %q %s", what,
				got.Code, got.Header().Get("Content-Type"), got.Body, want.status, want.header.Get("Content-Type"), want.raw)
		}
	}
	foreign := func(fields string) string {
		t.Helper()
		r := e.do("POST", "/organization/api/v1/alias/create", e.other, fmt.Sprintf(`{"expired_at":%d,%s}`, future(), fields))
		if r.status != http.StatusCreated {
			t.Fatalf("creating the other organization's alias: %d %s", r.status, r.raw)
		}
		return r.data()["id"].(string)
	}

	own := e.create(`"type":"live","name":"Own","passcode":"open-sesame","jwt_secret":"` + secret + `","stream_key":"` + streamKey + `"`)["id"].(string)
	ownExpired := e.create(`"type":"conference","passcode":"1234"`)["id"].(string)
	e.expire(ownExpired)
	for range 3 {
		e.create(`"type":"conference"`)
	}
	foreignProtected := foreign(`"type":"live","passcode":"their-secret"`)
	foreignPublic := foreign(`"type":"live","name":"Their public stream"`)
	foreignPublicExpired := foreign(`"type":"live"`)
	e.expire(foreignPublicExpired)

	for what, id := range map[string]string{
		"own alias": own, "own expired alias": ownExpired, "another organization's protected alias": foreignProtected,
		"another organization's public alias": foreignPublic, "another organization's expired public alias": foreignPublicExpired,
		"unknown alias": "nosuchalias0", "impossible ID": "no%20such",
	} {
		same("retrieve "+what, "GET", "/api/v1/alias/"+id, "")
	}

	first := e.do("GET", "/organization/api/v1/aliases?limit=2", e.token, "")
	after, _ := first.body["after"].(string)
	if after == "" {
		t.Fatalf("the first page of 2 has no cursor: %s", first.raw)
	}
	for _, query := range []string{"", "?limit=2", "?limit=2&after=" + after, "?type=conference", "?type=bogus", "?after=bogus", "?limit=0"} {
		same("list "+query, "GET", "/organization/api/v1/aliases"+query, "")
	}

	for what, body := range map[string]string{
		"a short passcode": fmt.Sprintf(`{"type":"live","passcode":"ab","expired_at":%d}`, future()),
		"no type":          fmt.Sprintf(`{"expired_at":%d}`, future()),
		"a taken key":      fmt.Sprintf(`{"type":"live","stream_key":%q,"expired_at":%d}`, streamKey, future()),
		"not JSON":         "type=live",
		"an unknown field": `{"colour":"blue"}`,
	} {
		same("create with "+what, "POST", "/organization/api/v1/alias/create", body)
	}
	created := serveAs("POST", "/organization/api/v1/alias/create", fmt.Sprintf(`{"type":"live","name":"As","expired_at":%d}`, future()))
	if created.Code != http.StatusCreated {
		t.Fatalf("ServeAs create: %d %s", created.Code, created.Body)
	}

	same("update of the own alias", "POST", "/organization/api/v1/alias/update/"+own, `{"name":"Renamed","passcode":null}`)
	same("update of another organization's alias", "POST", "/organization/api/v1/alias/update/"+foreignProtected, `{"name":"Mine now"}`)
	same("update of an unknown alias", "POST", "/organization/api/v1/alias/update/nosuchalias0", `{"name":"x"}`)
	same("update with a bad field", "POST", "/organization/api/v1/alias/update/"+own, `{"passcode":"ab"}`)
	same("delete of another organization's alias", "DELETE", "/organization/api/v1/alias/delete/"+foreignPublic, "")
	same("delete of an unknown alias", "DELETE", "/organization/api/v1/alias/delete/nosuchalias0", "")
	same("a wrong method", "GET", "/organization/api/v1/alias/delete/"+own, "")
	deleted := serveAs("DELETE", "/organization/api/v1/alias/delete/"+own, "")
	if want := e.do("DELETE", "/organization/api/v1/alias/delete/"+ownExpired, e.token, ""); deleted.Code != want.status || deleted.Body.String() != want.raw {
		t.Errorf("ServeAs delete answered %d %s, want %d %s", deleted.Code, deleted.Body, want.status, want.raw)
	}
	if r := e.do("GET", "/api/v1/alias/"+foreignPublic, e.other, ""); r.status != http.StatusOK {
		t.Errorf("ServeAs deleted another organization's alias: its owner gets %d", r.status)
	}
	if r := e.do("GET", "/organization/api/v1/aliases", "", ""); r.status != http.StatusUnauthorized {
		t.Errorf("a list over HTTP without a token got %d, want 401", r.status)
	}
}
