package aliasapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// The documented API paths.
const (
	pathRetrieve = "/api/v1/alias/"
	pathList     = "/organization/api/v1/aliases"
	pathCreate   = "/organization/api/v1/alias/create"
	pathUpdate   = "/organization/api/v1/alias/update/"
	pathDelete   = "/organization/api/v1/alias/delete/"
)

// Limits of the API's requests.
const (
	MaxBodySize         = 64 << 10
	DefaultListLimit    = 50
	MaxListLimit        = 500
	DefaultQueryTimeout = 2 * time.Second
	idAttempts          = 5
)

// API serves the alias API over a Store.
type API struct {
	Store Store
	Rules Rules
	JWT   *JWTVerifier
	// QueryTimeout bounds each store call of a request, so a database that
	// is down costs a client a 503, not a hang.
	QueryTimeout time.Duration
	Logger       *zap.Logger
	Now          func() time.Time
}

type endpoint uint8

const (
	notAPI endpoint = iota
	retrieve
	list
	create
	update
	remove
)

func (ep endpoint) method() string {
	switch ep {
	case create, update:
		return http.MethodPost
	case remove:
		return http.MethodDelete
	}
	return http.MethodGet
}

// route tells which endpoint a path belongs to and the alias ID in it.
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
	}{{pathUpdate, update}, {pathDelete, remove}, {pathRetrieve, retrieve}} {
		if id, ok := strings.CutPrefix(path, p.prefix); ok && !strings.Contains(id, "/") {
			return p.ep, id
		}
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
	if ep == notAPI {
		WriteError(w, http.StatusNotFound, "not_found", "no such API endpoint")
		return
	}
	method := ep.method()
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		allow := method
		if method == http.MethodGet {
			allow += ", HEAD"
		}
		h.Set("Allow", allow)
		WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "this endpoint takes "+allow)
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
	}
}

func (api *API) now() time.Time {
	if api.Now != nil {
		return api.Now()
	}
	return time.Now()
}

func (api *API) storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	timeout := api.QueryTimeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	return context.WithTimeout(r.Context(), timeout)
}

// authorization returns the credential of the Authorization header, with or
// without the Bearer scheme: the seed shows both.
func authorization(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		v = strings.TrimSpace(v[7:])
	}
	return v
}

// organization authenticates the organization token of r; on failure it has
// written the response and returns ok false.
func (api *API) organization(w http.ResponseWriter, r *http.Request) (orgID string, ok bool) {
	token := authorization(r)
	if token == "" {
		unauthorized(w, false, "an organization token is required in the Authorization header")
		return "", false
	}
	hash, valid := ParseOrgToken(token)
	if !valid {
		unauthorized(w, true, "the organization token is not valid")
		return "", false
	}
	ctx, cancel := api.storeContext(r)
	defer cancel()
	orgID, err := api.Store.OrgByToken(ctx, hash)
	switch {
	case errors.Is(err, ErrNotFound):
		unauthorized(w, true, "the organization token is unknown or revoked")
		return "", false
	case err != nil:
		api.storeFailed(w, "authenticate organization", err)
		return "", false
	}
	return orgID, true
}

func (api *API) retrieve(w http.ResponseWriter, r *http.Request, id string) {
	if !ValidID(id) {
		WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	}
	cred := authorization(r)
	var orgID string
	if strings.HasPrefix(cred, OrgTokenPrefix) {
		var ok bool
		if orgID, ok = api.organization(w, r); !ok {
			return
		}
		cred = ""
	} else if cred != "" && !LooksLikeJWT(cred) {
		unauthorized(w, true, "the Authorization header holds neither an organization token nor a JWT")
		return
	}

	ctx, cancel := api.storeContext(r)
	defer cancel()
	a, err := api.Store.Alias(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	case err != nil:
		api.storeFailed(w, "retrieve alias", err)
		return
	}
	if orgID != "" && orgID == a.OrgID {
		writeData(w, http.StatusOK, viewOf(&a, RoleOwner))
		return
	}
	if a.Expired(api.now()) {
		WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	}
	passcode, hasPasscode := r.URL.Query()["passcode"]
	switch {
	case cred != "":
		g, err := api.JWT.Verify(&a, cred)
		if err != nil {
			api.Logger.Debug("alias JWT refused", zap.String("alias", a.ID), zap.Error(err))
			unauthorized(w, true, "the JWT is not valid for this alias")
			return
		}
		writeData(w, http.StatusOK, viewOf(&a, g.Role))
	case hasPasscode:
		if !CheckPasscode(&a, passcode[0]) {
			unauthorized(w, true, "wrong passcode")
			return
		}
		writeData(w, http.StatusOK, viewOf(&a, RoleViewer))
	case a.Public():
		writeData(w, http.StatusOK, viewOf(&a, RoleViewer))
	case orgID != "":
		// Another organization's token: its holder must not learn that
		// the alias exists.
		WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
	default:
		unauthorized(w, false, "this alias needs a passcode or a JWT")
	}
}

func (api *API) list(w http.ResponseWriter, r *http.Request) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	q := ListQuery{Limit: DefaultListLimit}
	values := r.URL.Query()
	if t := values.Get("type"); t != "" {
		if !Type(t).Valid() {
			WriteError(w, http.StatusBadRequest, "invalid_query", `"type" must be "live" or "conference"`)
			return
		}
		q.Type = Type(t)
	}
	if after := values.Get("after"); after != "" {
		c, ok := DecodeCursor(after)
		if !ok {
			WriteError(w, http.StatusBadRequest, "invalid_cursor", `"after" is not a cursor this API returned`)
			return
		}
		q.After = &c
	}
	if limit := values.Get("limit"); limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxListLimit {
			WriteError(w, http.StatusBadRequest, "invalid_query", `"limit" must be an integer from 1 to `+strconv.Itoa(MaxListLimit))
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
	page := listPage{Entries: make([]dataEnvelope, 0, len(aliases))}
	if len(aliases) == q.Limit {
		aliases = aliases[:q.Limit-1]
		last := aliases[len(aliases)-1]
		next := Cursor{InsertedAt: last.InsertedAt, ID: last.ID}.Encode()
		page.After = &next
	}
	for i := range aliases {
		page.Entries = append(page.Entries, dataEnvelope{Data: viewOf(&aliases[i], RoleOwner)})
	}
	writeJSON(w, http.StatusOK, page)
}

func (api *API) create(w http.ResponseWriter, r *http.Request) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	a, err := DecodeCreate(body, api.Rules, api.now())
	if err != nil {
		writeInputError(w, err)
		return
	}
	a.OrgID = orgID
	ctx, cancel := api.storeContext(r)
	defer cancel()
	for range idAttempts {
		a.ID = NewID()
		created, err := api.Store.CreateAlias(ctx, a)
		switch {
		case errors.Is(err, ErrIDTaken):
			continue
		case errors.Is(err, ErrStreamKeyTaken):
			writeJSON(w, http.StatusBadRequest, ErrorBody{Errors: ErrorDetail{Detail: `"stream_key" is already used by another alias`, Code: "stream_key_taken", Field: "stream_key"}})
			return
		case err != nil:
			api.storeFailed(w, "create alias", err)
			return
		}
		api.Logger.Info("alias created", zap.String("alias", created.ID), zap.String("org", orgID), zap.String("type", string(created.Type)))
		writeData(w, http.StatusCreated, viewOf(&created, RoleOwner))
		return
	}
	api.storeFailed(w, "create alias", errors.New("no free alias ID after several attempts"))
}

func (api *API) update(w http.ResponseWriter, r *http.Request, id string) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	p, err := DecodeUpdate(body, api.Rules, api.now())
	if err != nil {
		writeInputError(w, err)
		return
	}
	if !ValidID(id) {
		WriteError(w, http.StatusBadRequest, "alias_not_found", "alias not found")
		return
	}
	ctx, cancel := api.storeContext(r)
	defer cancel()
	a, err := api.Store.UpdateAlias(ctx, orgID, id, p)
	switch {
	case errors.Is(err, ErrNotFound):
		WriteError(w, http.StatusBadRequest, "alias_not_found", "alias not found")
		return
	case errors.Is(err, ErrStreamKeyTaken):
		writeJSON(w, http.StatusBadRequest, ErrorBody{Errors: ErrorDetail{Detail: `"stream_key" is already used by another alias`, Code: "stream_key_taken", Field: "stream_key"}})
		return
	case err != nil:
		api.storeFailed(w, "update alias", err)
		return
	}
	api.Logger.Info("alias updated", zap.String("alias", a.ID), zap.String("org", orgID), zap.Int64("version", a.Version))
	writeData(w, http.StatusOK, viewOf(&a, RoleOwner))
}

func (api *API) remove(w http.ResponseWriter, r *http.Request, id string) {
	orgID, ok := api.organization(w, r)
	if !ok {
		return
	}
	if !ValidID(id) {
		WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	}
	ctx, cancel := api.storeContext(r)
	defer cancel()
	err := api.Store.DeleteAlias(ctx, orgID, id)
	switch {
	case errors.Is(err, ErrNotFound):
		WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
		return
	case err != nil:
		api.storeFailed(w, "delete alias", err)
		return
	}
	api.Logger.Info("alias deleted", zap.String("alias", id), zap.String("org", orgID))
	writeJSON(w, http.StatusOK, map[string]string{"message": "Alias deleted successfully."})
}

// readBody reads at most MaxBodySize bytes; on failure it has answered.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		WriteError(w, http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than 64 KiB")
		return nil, false
	case err != nil:
		WriteError(w, http.StatusBadRequest, "invalid_body", "the request body could not be read")
		return nil, false
	}
	return body, true
}

func (api *API) storeFailed(w http.ResponseWriter, op string, err error) {
	// Store errors name queries and hosts, never parameter values, so
	// they are safe to log.
	api.Logger.Error("alias store unavailable", zap.String("operation", op), zap.Error(err))
	w.Header().Set("Retry-After", "1")
	WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "the alias store is unavailable, try again shortly")
}

func writeInputError(w http.ResponseWriter, err error) {
	var in *InputError
	if errors.As(err, &in) {
		writeJSON(w, in.Status, ErrorBody{Errors: ErrorDetail{Detail: in.Detail, Code: in.Code, Field: in.Field}})
		return
	}
	WriteError(w, http.StatusBadRequest, "invalid_body", err.Error())
}

// unauthorized answers 401 with the challenge of RFC 6750; invalid tells
// that a credential was given but refused.
func unauthorized(w http.ResponseWriter, invalid bool, detail string) {
	challenge := `Bearer realm="linkgate"`
	if invalid {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	WriteError(w, http.StatusUnauthorized, "unauthorized", detail)
}

// ErrorBody is the JSON body of every error linkgate answers.
type ErrorBody struct {
	Errors ErrorDetail `json:"errors"`
}

// ErrorDetail says what went wrong, for people and for programs.
type ErrorDetail struct {
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// Field names the request body member a validation error is about.
	Field string `json:"field,omitempty"`
}

// WriteError writes the JSON error body with status.
func WriteError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, ErrorBody{Errors: ErrorDetail{Detail: detail, Code: code}})
}

type dataEnvelope struct {
	Data aliasView `json:"data"`
}

type listPage struct {
	After   *string        `json:"after"`
	Entries []dataEnvelope `json:"entries"`
}

func writeData(w http.ResponseWriter, status int, v aliasView) {
	writeJSON(w, status, dataEnvelope{Data: v})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"errors":{"detail":"internal error","code":"internal_error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
