// Package aliasapi is the alias API as plain net/http handlers: retrieve,
// list, create, update and delete. Who may see an alias is the gate's
// decision, the same one the gateway and the media-server hooks make.
package aliasapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// The documented API paths.
const (
	pathRetrieve = "/api/v1/alias/"
	pathList     = "/organization/api/v1/aliases"
	pathCreate   = "/organization/api/v1/alias/create"
	pathUpdate   = "/organization/api/v1/alias/update/"
	pathDelete   = "/organization/api/v1/alias/delete/"
	// Sessions that end: revoke users, tokens or everything issued before
	// a moment, and list what is in force.
	pathRevoke      = "/organization/api/v1/alias/revoke/"
	pathRevocations = "/organization/api/v1/alias/revocations/"
	orgPrefix       = "/organization/api/v1/"
)

// Limits of the API's requests.
const (
	MaxBodySize         = 64 << 10
	DefaultListLimit    = 50
	MaxListLimit        = 500
	DefaultQueryTimeout = 2 * time.Second
	idAttempts          = 5
)

// API serves the alias API.
type API struct {
	// Store keeps the aliases the organization endpoints list and change.
	Store alias.Catalog
	// Gate decides who may retrieve an alias, and which organization a
	// token belongs to.
	Gate  *gate.Gate
	Rules alias.Rules
	// QueryTimeout bounds each store call of a request, so a database that
	// is down costs a client a 503, not a hang.
	QueryTimeout time.Duration
	Logger       *zap.Logger
	// ClientIP returns the client's address for the failure limiter; nil
	// takes the connection's.
	ClientIP func(r *http.Request) string
	// Decided, when set, is told the reason of every retrieve decision,
	// for metrics. It must not block.
	Decided func(gate.Reason)
	// RevocationTTL is how long a revocation is kept past the moment
	// after which nothing it refuses can be issued: the longest a token or
	// session may live, with the clock leeway (DefaultRevocationTTL if
	// zero). After that no credential it could match is valid any more.
	RevocationTTL time.Duration
}

// DefaultRevocationTTL keeps revocations for the default longest token
// lifetime and clock leeway.
const DefaultRevocationTTL = 24*time.Hour + 30*time.Second

type endpoint uint8

const (
	notAPI endpoint = iota
	// unknown is a path under the API's prefixes that names no endpoint:
	// the API answers it, as no other handler could mean it.
	unknown
	retrieve
	list
	create
	update
	remove
	revoke
	revocations
)

func (ep endpoint) method() string {
	switch ep {
	case create, update, revoke:
		return http.MethodPost
	case remove:
		return http.MethodDelete
	}
	return http.MethodGet
}

// route tells which endpoint a path belongs to and the alias ID in it.
// Everything under /api/v1/alias/ and /organization/api/v1/ is the API's:
// an ID with a slash in it (a/b, or a%2Fb decoded) is an alias that does
// not exist, and any other path there an endpoint that does not.
func route(path string) (endpoint, string) {
	switch path {
	case pathList:
		return list, ""
	case pathCreate:
		return create, ""
	}
	for _, p := range [...]struct {
		prefix string
		ep     endpoint
	}{{pathUpdate, update}, {pathDelete, remove}, {pathRevoke, revoke}, {pathRevocations, revocations}, {pathRetrieve, retrieve}} {
		if id, ok := strings.CutPrefix(path, p.prefix); ok {
			return p.ep, id
		}
	}
	if strings.HasPrefix(path, orgPrefix) || path == strings.TrimSuffix(orgPrefix, "/") || path == strings.TrimSuffix(pathRetrieve, "/") {
		return unknown, ""
	}
	return notAPI, ""
}

// Handles reports whether r is addressed to the API; other requests are the
// caller's to pass on.
func (api *API) Handles(r *http.Request) bool {
	ep, _ := route(r.URL.Path)
	return ep != notAPI
}

// ServeHTTP answers an API request.
func (api *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep, id := route(r.URL.Path)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if ep == unknown || ep == notAPI {
		gate.WriteError(w, http.StatusNotFound, "not_found", "no such API endpoint")
		return
	}
	method := ep.method()
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		allow := method
		if method == http.MethodGet {
			allow += ", HEAD"
		}
		h.Set("Allow", allow)
		gate.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "this endpoint takes "+allow)
		return
	}
	switch ep {
	case retrieve:
		api.retrieve(w, r, id)
	case list:
		api.list(w, r)
	case create:
		api.create(w, r)
	case update:
		api.update(w, r, id)
	case remove:
		api.remove(w, r, id)
	case revoke:
		api.revoke(w, r, id)
	case revocations:
		api.revocations(w, r, id)
	}
}

func (api *API) storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	timeout := api.QueryTimeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	return context.WithTimeout(r.Context(), timeout)
}

// organization authenticates the organization token of r; on failure it has
// written the response and returns ok false.
func (api *API) organization(w http.ResponseWriter, r *http.Request) (orgID string, ok bool) {
	if orgID, ok := servedAs(r); ok {
		return orgID, true
	}
	token := ""
	if auth := r.Header["Authorization"]; len(auth) > 0 {
		token = strings.TrimSpace(auth[0])
		if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
			token = strings.TrimSpace(token[7:])
		}
	}
	ctx, cancel := api.storeContext(r)
	defer cancel()
	orgID, reason := api.Gate.Organization(ctx, token)
	switch reason {
	case 0:
		return orgID, true
	case gate.ReasonNoCredential:
		gate.Challenge(w, false, "an organization token is required in the Authorization header")
	case gate.ReasonUnavailable:
		gate.WriteUnavailable(w)
	default:
		gate.Challenge(w, true, "the organization token is unknown, revoked or mistyped")
	}
	api.refused(r, "", reason)
	return "", false
}

// retrieve shows an alias to whoever the gate admits, as much as their
// role may see. It reads credentials as the gateway does, counts failures
// in the same limiter, and answers:
//   - the owning organization's token: everything, also for an expired alias;
//   - another organization's valid token: as no credential (a public alias
//     shows, a protected one is not found, so its existence stays hidden);
//   - a refused credential: 401, throttled like the gateway's.
func (api *API) retrieve(w http.ResponseWriter, r *http.Request, id string) {
	p := gate.ReadHTTP(r, id)
	if orgID, ok := servedAs(r); ok {
		p = gate.Presented{Credential: gate.Credential{Kind: gate.KindOrganization, Value: orgID}}
	}
	req := gate.Request{
		AliasID:          id,
		Need:             alias.RequireViewer,
		Session:          p.Session,
		HasSession:       p.HasSession,
		Credential:       p.Credential,
		Client:           api.clientIP(r),
		OwnerSeesExpired: true,
	}
	ctx, cancel := api.storeContext(r)
	defer cancel()
	d := api.Gate.Decide(ctx, &req)
	if api.Decided != nil {
		api.Decided(d.Reason)
	}
	switch {
	case d.Admitted():
		writeData(w, http.StatusOK, viewOf(d.Alias, d.Grant.Role))
		return
	case d.Reason == gate.ReasonForeignOrg && d.Alias.Public():
		writeData(w, http.StatusOK, viewOf(d.Alias, alias.RoleViewer))
	case d.Reason == gate.ReasonForeignOrg:
		gate.WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
	case d.Reason == gate.ReasonNoCredential:
		gate.Challenge(w, false, "this alias needs a passcode or a JWT")
	default:
		gate.WriteRefusal(w, &d)
	}
	api.refused(r, id, d.Reason)
}

// refused logs a refusal with its precise reason; never the credential.
func (api *API) refused(r *http.Request, aliasID string, reason gate.Reason) {
	if ce := api.Logger.Check(zap.InfoLevel, "alias API request refused"); ce != nil {
		ce.Write(zap.String("alias", aliasID), zap.String("reason", reason.String()), zap.String("client_ip", api.clientIP(r)))
	}
}

// ClientIP returns the client address of r that failures are counted by;
// by default the connection's remote address. Caddy passes its
// {client_ip}, which honours trusted proxies.
func (api *API) clientIP(r *http.Request) string {
	if api.ClientIP != nil {
		return api.ClientIP(r)
	}
	host, _, _ := strings.Cut(r.RemoteAddr, ":")
	return host
}

func (api *API) list(w http.ResponseWriter, r *http.Request) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	q := alias.ListQuery{Limit: DefaultListLimit}
	values := r.URL.Query()
	if t := values.Get("type"); t != "" {
		if !alias.Type(t).Valid() {
			gate.WriteError(w, http.StatusBadRequest, "invalid_query", `"type" must be "live" or "conference"`)
			return
		}
		q.Type = alias.Type(t)
	}
	if after := values.Get("after"); after != "" {
		c, ok := alias.DecodeCursor(after)
		if !ok {
			gate.WriteError(w, http.StatusBadRequest, "invalid_cursor", `"after" is not a cursor this API returned`)
			return
		}
		q.After = &c
	}
	if limit := values.Get("limit"); limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxListLimit {
			gate.WriteError(w, http.StatusBadRequest, "invalid_query", `"limit" must be an integer from 1 to `+strconv.Itoa(MaxListLimit))
			return
		}
		q.Limit = n
	}
	// One more than asked tells whether another page follows.
	q.Limit++
	ctx, cancel := api.storeContext(r)
	defer cancel()
	aliases, err := api.Store.Aliases(ctx, orgID, q)
	if err != nil {
		api.storeFailed(w, "list aliases", err)
		return
	}
	page := AliasPage{Entries: make([]AliasEnvelope, 0, len(aliases))}
	if len(aliases) == q.Limit {
		aliases = aliases[:q.Limit-1]
		last := aliases[len(aliases)-1]
		next := alias.Cursor{InsertedAt: last.InsertedAt, ID: last.ID}.Encode()
		page.After = &next
	}
	for i := range aliases {
		page.Entries = append(page.Entries, AliasEnvelope{Data: viewOf(&aliases[i], alias.RoleOwner)})
	}
	gate.WriteJSON(w, http.StatusOK, page)
}

func (api *API) create(w http.ResponseWriter, r *http.Request) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	gen, ok := generation(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	a, err := alias.DecodeCreate(body, api.Rules, api.Gate.Time())
	if err == nil {
		err = gen.conflict(a.StreamKey != "", a.JWTSecret != "")
	}
	if err != nil {
		writeInputError(w, err)
		return
	}
	if a.StreamKey != "" && api.probingKeys(w, orgID) {
		return
	}
	a.OrgID = orgID
	ctx, cancel := api.storeContext(r)
	defer cancel()
	if gen.jwtSecret {
		a.JWTSecret = alias.NewJWTSecret()
	}
	for range idAttempts {
		a.ID = alias.NewID()
		if gen.streamKey {
			a.StreamKey = alias.NewStreamKey()
		}
		created, err := api.Store.CreateAlias(ctx, a)
		switch {
		case errors.Is(err, alias.ErrIDTaken):
			continue
		case errors.Is(err, alias.ErrStreamKeyTaken) && gen.streamKey:
			continue
		case errors.Is(err, alias.ErrStreamKeyTaken):
			api.streamKeyTaken(w, orgID)
			return
		case err != nil:
			api.storeFailed(w, "create alias", err)
			return
		}
		api.Logger.Info("alias created", zap.String("alias", created.ID), zap.String("org", orgID), zap.String("type", string(created.Type)))
		writeData(w, http.StatusCreated, viewOf(&created, alias.RoleOwner))
		return
	}
	api.storeFailed(w, "create alias", errors.New("no free alias ID after several attempts"))
}

// streamKeyProbe is the limiter's bucket for an organization's stream keys
// that another alias already has: each such answer tells that some alias,
// maybe another organization's, publishes with that key.
const streamKeyProbe = "\x00stream_key_taken"

// probingKeys reports whether the organization has had too many stream
// keys refused as taken, and if so answers 429: at one probe a request, an
// organization could otherwise search other organizations' keys.
func (api *API) probingKeys(w http.ResponseWriter, orgID string) bool {
	retry, blocked := api.Gate.Throttled(orgID, streamKeyProbe)
	if !blocked {
		return false
	}
	api.Logger.Info("alias API request refused", zap.String("org", orgID), zap.String("reason", gate.ReasonThrottled.String()))
	gate.WriteRefusal(w, &gate.Decision{Reason: gate.ReasonThrottled, RetryAfter: retry})
	return true
}

// streamKeyTaken answers that the stream key is another alias's, and
// counts it against the organization.
func (api *API) streamKeyTaken(w http.ResponseWriter, orgID string) {
	api.Gate.Failed(orgID, streamKeyProbe)
	gate.WriteJSON(w, http.StatusBadRequest, gate.ErrorBody{Errors: gate.ErrorDetail{
		Detail: `"stream_key" is already used by another alias`, Code: "stream_key_taken", Field: "stream_key"}})
}

// generate is what a create or update asks the server to generate: a
// strong stream key or jwt_secret, shown in the answer like any field.
type generate struct {
	streamKey, jwtSecret bool
}

// generation reads ?generate=stream_key,jwt_secret (a list, or the
// parameter repeated); on a bad value it has answered 400.
func generation(w http.ResponseWriter, r *http.Request) (generate, bool) {
	var gen generate
	for _, v := range r.URL.Query()["generate"] {
		for field := range strings.SplitSeq(v, ",") {
			switch field {
			case "stream_key":
				gen.streamKey = true
			case "jwt_secret":
				gen.jwtSecret = true
			default:
				gate.WriteError(w, http.StatusBadRequest, "invalid_query", `"generate" takes stream_key and jwt_secret, not `+strconv.Quote(field))
				return gen, false
			}
		}
	}
	return gen, true
}

// conflict refuses a body that sets a field it also asks to generate.
func (gen generate) conflict(streamKey, jwtSecret bool) error {
	for _, f := range []struct {
		name          string
		generate, set bool
	}{{"stream_key", gen.streamKey, streamKey}, {"jwt_secret", gen.jwtSecret, jwtSecret}} {
		if f.generate && f.set {
			return &alias.InputError{Status: http.StatusBadRequest, Code: "invalid_field", Field: f.name,
				Detail: strconv.Quote(f.name) + " is both given and asked to be generated: send one or the other"}
		}
	}
	return nil
}

func (api *API) update(w http.ResponseWriter, r *http.Request, id string) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	gen, ok := generation(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	p, err := alias.DecodeUpdate(body, api.Rules, api.Gate.Time())
	if err == nil {
		err = gen.conflict(p.StreamKey.Set, p.JWTSecret.Set)
	}
	if err != nil {
		writeInputError(w, err)
		return
	}
	if !alias.ValidID(id) {
		gate.WriteError(w, http.StatusBadRequest, "alias_not_found", "alias not found")
		return
	}
	if p.StreamKey.Value != "" && api.probingKeys(w, orgID) {
		return
	}
	if gen.jwtSecret {
		p.JWTSecret = alias.Field{Set: true, Value: alias.NewJWTSecret()}
	}
	ctx, cancel := api.storeContext(r)
	defer cancel()
	for attempt := 1; ; attempt++ {
		if gen.streamKey {
			p.StreamKey = alias.Field{Set: true, Value: alias.NewStreamKey()}
		}
		a, err := api.Store.UpdateAlias(ctx, orgID, id, p)
		switch {
		case errors.Is(err, alias.ErrNotFound):
			gate.WriteError(w, http.StatusBadRequest, "alias_not_found", "alias not found")
			return
		case errors.Is(err, alias.ErrStreamKeyTaken) && gen.streamKey && attempt < idAttempts:
			continue
		case errors.Is(err, alias.ErrStreamKeyTaken):
			api.streamKeyTaken(w, orgID)
			return
		case err != nil:
			api.storeFailed(w, "update alias", err)
			return
		}
		api.Logger.Info("alias updated", zap.String("alias", a.ID), zap.String("org", orgID), zap.Int64("version", a.Version))
		writeData(w, http.StatusOK, viewOf(&a, alias.RoleOwner))
		return
	}
}

func (api *API) remove(w http.ResponseWriter, r *http.Request, id string) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	if !alias.ValidID(id) {
		gate.WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	}
	ctx, cancel := api.storeContext(r)
	defer cancel()
	err := api.Store.DeleteAlias(ctx, orgID, id)
	switch {
	case errors.Is(err, alias.ErrNotFound):
		gate.WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	case err != nil:
		api.storeFailed(w, "delete alias", err)
		return
	}
	api.Logger.Info("alias deleted", zap.String("alias", id), zap.String("org", orgID))
	gate.WriteJSON(w, http.StatusOK, map[string]string{"message": "Alias deleted successfully."})
}

// readBody reads at most MaxBodySize bytes; on failure it has answered.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		gate.WriteError(w, http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than 64 KiB")
		return nil, false
	case err != nil:
		gate.WriteError(w, http.StatusBadRequest, "invalid_body", "the request body could not be read")
		return nil, false
	}
	return body, true
}

func (api *API) storeFailed(w http.ResponseWriter, op string, err error) {
	// Store errors name queries and hosts, never parameter values, so
	// they are safe to log.
	api.Logger.Error("alias store unavailable", zap.String("operation", op), zap.Error(err))
	gate.WriteUnavailable(w)
}

func writeInputError(w http.ResponseWriter, err error) {
	var in *alias.InputError
	if errors.As(err, &in) {
		gate.WriteJSON(w, in.Status, gate.ErrorBody{Errors: gate.ErrorDetail{Detail: in.Detail, Code: in.Code, Field: in.Field}})
		return
	}
	gate.WriteError(w, http.StatusBadRequest, "invalid_body", err.Error())
}

func writeData(w http.ResponseWriter, status int, v AliasView) {
	gate.WriteJSON(w, status, AliasEnvelope{Data: v})
}
