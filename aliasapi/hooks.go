package aliasapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// Media servers admit RTMP, SRT and RTSP clients that never pass through
// an HTTP proxy, but each can ask an HTTP endpoint first. A HookHandler
// answers one server's questions in that server's format, with the same
// decision alias_auth makes: Gate.Admit.

// Flavour names a media server whose admission hooks linkgate answers.
type Flavour string

// The media servers linkgate answers.
const (
	FlavourMediaMTX  Flavour = "mediamtx"
	FlavourSRS       Flavour = "srs"
	FlavourNginxRTMP Flavour = "nginx_rtmp"
	FlavourOME       Flavour = "ome"
)

// Valid reports whether f is one of the known flavours.
func (f Flavour) Valid() bool {
	switch f {
	case FlavourMediaMTX, FlavourSRS, FlavourNginxRTMP, FlavourOME:
		return true
	}
	return false
}

// Action is what a media client asks to do with a stream.
type Action uint8

// The actions of a hook request.
const (
	// ActionOther is anything but publishing or reading, such as MediaMTX's
	// api, metrics and pprof: Admit never admits it.
	ActionOther Action = iota
	ActionPublish
	ActionRead
)

var actionNames = [...]string{"other", "publish", "read"}

// String returns the action's name for logs.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "other"
}

// MediaMTXActions are the MediaMTX actions that name no stream; a hook
// refuses them unless its AllowActions lists them.
var MediaMTXActions = []string{"api", "metrics", "pprof"}

// MaxHookBodySize bounds a hook request's body: every server's request is
// a few hundred bytes.
const MaxHookBodySize = 64 << 10

// HeaderOMESignature carries OvenMediaEngine's signature of the body.
const HeaderOMESignature = "X-OME-Signature"

// streamKeyBucket is the limiter's "alias" for guesses of stream keys sent
// as stream names. It cannot be an alias ID, so it never shares a count
// with a real alias.
const streamKeyBucket = "\x00stream_key"

// HookRequest is a media server's question, whatever the server.
type HookRequest struct {
	Flavour Flavour
	// AliasID is the alias the stream names. For an nginx-rtmp publisher
	// it may be the stream key instead: see NameMayBeKey.
	AliasID string
	Action  Action
	// Credentials are those the client presented, in the flavour's order.
	// Only the first is checked, as alias_auth checks only the first it
	// finds: trying every one would multiply a guesser's attempts.
	Credentials []Credential
	// ClientIP is the media client's address as the server reports it; the
	// throttling of failed credentials counts per client IP and alias.
	ClientIP string
	// Client is the server's ID of the client's session, for logs.
	Client string
	// Ack marks a call that admits nobody (a stream or connection ended):
	// it is acknowledged without a decision.
	Ack bool
	// Recheck marks a periodic re-check of a running stream (nginx-rtmp's
	// update_*), which cannot rename the stream.
	Recheck bool
	// NameMayBeKey marks an nginx-rtmp publisher's stream name: a name
	// that is no alias ID may be the stream key of one.
	NameMayBeKey bool
}

// Outcomes of a hook decision: a short machine word for logs, metrics and
// the error bodies.
const (
	OutcomeAdmitted      = "admitted"
	OutcomeAcknowledged  = "acknowledged"
	OutcomeNotFound      = "alias_not_found"
	OutcomeNoCredential  = "no_credential"
	OutcomeBadCredential = "bad_credential"
	OutcomeForbidden     = "forbidden"
	OutcomeThrottled     = "too_many_failures"
	OutcomeUnavailable   = "store_unavailable"
	OutcomeActionDenied  = "action_not_allowed"
	// The request could not be read as the server's: no decision was made.
	OutcomeBadSignature = "bad_signature"
	OutcomeBadRequest   = "bad_request"
	OutcomeTooLarge     = "body_too_large"
	OutcomeBadMethod    = "method_not_allowed"
)

// HookDecision is the answer to a HookRequest, before it is put in the
// server's format.
type HookDecision struct {
	// Outcome is one of the Outcome constants.
	Outcome string
	// Status is what alias_auth would answer over HTTP: 200 when the
	// client is admitted or the call acknowledged.
	Status int
	// Detail is a sentence for the server's log; it never holds a secret.
	Detail string
	Alias  *Alias
	Grant  Grant
	// Expiry is when the admission ends: the earliest of the credential's
	// and the alias's expiry. Zero unless admitted.
	Expiry time.Time
	// RetryAfter is how long a throttled client must wait.
	RetryAfter time.Duration
	// Rename is the alias ID an nginx-rtmp stream published under its
	// stream key is renamed to, so the key never shows in playback URLs.
	Rename string

	// unknown tells that no alias has the ID, as opposed to one that is
	// expired or of the other type: only then may the name be a key.
	unknown bool
}

// Admitted reports whether the client may go on: admitted or acknowledged.
func (d *HookDecision) Admitted() bool { return d.Status == http.StatusOK }

func hookDenial(status int, outcome, detail string) HookDecision {
	return HookDecision{Status: status, Outcome: outcome, Detail: detail}
}

var hookNotFound = HookDecision{Status: http.StatusNotFound, Outcome: OutcomeNotFound, Detail: "alias not found"}

// Admit decides a hook request exactly as Check decides an HTTP request for
// a live alias: the alias from the cache, unknown, expired or conference
// aliases not found, the first credential through Authenticate, the role
// against publish or view, public aliases open to viewers only, and
// failures throttled per client IP and alias.
func (g *Gate) Admit(ctx context.Context, h HookRequest) HookDecision {
	if h.Ack {
		return HookDecision{Status: http.StatusOK, Outcome: OutcomeAcknowledged}
	}
	var need Requirement
	switch h.Action {
	case ActionPublish:
		need = RequirePublish
	case ActionRead:
		need = RequireViewer
	default:
		return hookDenial(http.StatusForbidden, OutcomeActionDenied, "this action is not allowed")
	}
	if !ValidID(h.AliasID) {
		d := hookNotFound
		d.unknown = true
		return d
	}
	a, err := g.Alias(ctx, h.AliasID)
	switch {
	case errors.Is(err, ErrNotFound):
		d := hookNotFound
		d.unknown = true
		return d
	case err != nil:
		return g.storeFailed(h.AliasID, err)
	}
	now := g.now()
	if a.Expired(now) || a.Type != TypeLive {
		return hookNotFound
	}
	return g.admitTo(ctx, a, need, h.Credentials, h.ClientIP, now)
}

// admitTo is Check's decision from the credential on, for alias a: judge,
// the same code.
func (g *Gate) admitTo(ctx context.Context, a *Alias, need Requirement, creds []Credential, client string, now time.Time) HookDecision {
	if len(creds) == 0 {
		if a.Public() && need == RequireViewer {
			return HookDecision{Status: http.StatusOK, Outcome: OutcomeAdmitted, Alias: a, Grant: Grant{Role: RoleViewer}, Expiry: a.ExpiredAt}
		}
		return hookDenial(http.StatusUnauthorized, OutcomeNoCredential, "this alias needs a credential")
	}
	v := g.judge(ctx, a, need, creds[0], client, now)
	if v.status != 0 {
		d := hookDenial(v.status, v.reason, v.detail)
		d.RetryAfter = v.retryAfter
		return d
	}
	grant := v.grant
	expiry := a.ExpiredAt
	if !grant.Expiry.IsZero() && grant.Expiry.Before(expiry) {
		expiry = grant.Expiry
	}
	return HookDecision{Status: http.StatusOK, Outcome: OutcomeAdmitted, Alias: a, Grant: grant, Expiry: expiry}
}

// KeyLookup returns the alias whose stream key is key, or ErrNotFound.
type KeyLookup func(ctx context.Context, key string) (*Alias, error)

// admitKeyName admits an nginx-rtmp publisher whose stream name is no
// alias ID but may be a stream key. The name is then a credential: wrong
// names count as failures of the client, in a bucket of their own.
func (g *Gate) admitKeyName(ctx context.Context, find KeyLookup, h HookRequest) HookDecision {
	key := h.AliasID
	if n := utf8.RuneCountInString(key); n < minStreamKeyLength || n > maxStreamKeyLength {
		return hookNotFound
	}
	if g.Limiter != nil {
		if retry, blocked := g.Limiter.Blocked(h.ClientIP, streamKeyBucket, g.now()); blocked {
			d := hookDenial(http.StatusTooManyRequests, OutcomeThrottled, "too many failed attempts, try again later")
			d.RetryAfter = retry
			return d
		}
	}
	a, err := find(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		if g.Limiter != nil {
			g.Limiter.Fail(h.ClientIP, streamKeyBucket, g.now())
		}
		return hookNotFound
	case err != nil:
		return g.storeFailed("", err)
	}
	now := g.now()
	if a.Expired(now) || a.Type != TypeLive {
		return hookNotFound
	}
	// The store matched the key; the decision still goes through
	// Authenticate, which compares it in constant time like any key.
	d := g.admitTo(ctx, a, RequirePublish, []Credential{{Kind: CredentialStreamKey, Value: key}}, h.ClientIP, now)
	if d.Admitted() && !h.Recheck {
		d.Rename = a.ID
	}
	return d
}

func (g *Gate) storeFailed(aliasID string, err error) HookDecision {
	if g.Logger != nil {
		g.Logger.Error("alias store unavailable", zap.String("alias", aliasID), zap.Error(err))
	}
	d := hookDenial(http.StatusServiceUnavailable, OutcomeUnavailable, "the alias store is unavailable, try again shortly")
	d.RetryAfter = time.Second
	return d
}

// HookHandler answers one media server's admission hooks over plain
// net/http: it reads the server's request, decides with Gate.Admit and
// answers in the server's format.
type HookHandler struct {
	Gate    *Gate
	Flavour Flavour
	// PathPrefix (MediaMTX) is the leading path elements removed from a
	// path to get the alias ID; empty takes the last path element.
	PathPrefix string
	// AllowActions (MediaMTX) lists the MediaMTXActions that are
	// acknowledged; the others are refused.
	AllowActions []string
	// Secret (OvenMediaEngine) is the key of the HMAC-SHA1 signature every
	// request must carry; a request without it is refused unread.
	Secret []byte
	// KeyLookup finds an alias by stream key, for nginx-rtmp publishers
	// whose stream name is the key; nil refuses them as not found.
	KeyLookup KeyLookup
	// Decisions, when set, is told the flavour and outcome of every
	// request answered, for metrics. It must not block.
	Decisions func(flavour, outcome string)
	// Logger records decisions: denials at info, the rest at debug.
	Logger *zap.Logger
}

// ServeHTTP answers one hook request.
func (h *HookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, d := h.read(w, r)
	if d.Outcome == "" {
		d = h.Gate.Admit(r.Context(), req)
		if d.unknown && req.NameMayBeKey && h.KeyLookup != nil {
			d = h.Gate.admitKeyName(r.Context(), h.KeyLookup, req)
		}
	}
	switch h.Flavour {
	case FlavourMediaMTX:
		writeMediaMTX(w, &d)
	case FlavourSRS:
		writeSRS(w, &d)
	case FlavourNginxRTMP:
		writeNginxRTMP(w, &d)
	case FlavourOME:
		writeOME(w, &d, h.Gate.now())
	}
	h.record(&req, &d)
}

// read turns r into a HookRequest; on failure the decision says why.
func (h *HookHandler) read(w http.ResponseWriter, r *http.Request) (HookRequest, HookDecision) {
	var body []byte
	switch {
	case r.Method == http.MethodPost:
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHookBodySize))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return HookRequest{}, hookDenial(http.StatusRequestEntityTooLarge, OutcomeTooLarge, "the request body is larger than 64 KiB")
		case err != nil:
			return HookRequest{}, hookDenial(http.StatusBadRequest, OutcomeBadRequest, "the request body could not be read")
		}
	case r.Method == http.MethodGet && h.Flavour == FlavourNginxRTMP:
		// notify_method get sends the form as the query.
		body = []byte(r.URL.RawQuery)
	default:
		w.Header().Set("Allow", http.MethodPost)
		return HookRequest{}, hookDenial(http.StatusMethodNotAllowed, OutcomeBadMethod, "hooks are POST requests")
	}
	if h.Flavour == FlavourOME && !verifyOMESignature(h.Secret, body, r.Header.Get(HeaderOMESignature)) {
		return HookRequest{}, hookDenial(http.StatusUnauthorized, OutcomeBadSignature, "the request is not signed with the hook's secret")
	}
	var req HookRequest
	var err error
	switch h.Flavour {
	case FlavourMediaMTX:
		req, err = parseMediaMTX(body, h.PathPrefix, h.AllowActions)
	case FlavourSRS:
		req, err = parseSRS(body)
	case FlavourNginxRTMP:
		req, err = parseNginxRTMP(body)
	case FlavourOME:
		req, err = parseOME(body)
	default:
		err = errors.New("the hook has no known flavour")
	}
	if err != nil {
		return HookRequest{}, hookDenial(http.StatusBadRequest, OutcomeBadRequest, err.Error())
	}
	if req.ClientIP == "" {
		// Throttling needs some key; the server's own address is the
		// next best thing to the client's.
		req.ClientIP, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	return req, HookDecision{}
}

func (h *HookHandler) record(req *HookRequest, d *HookDecision) {
	if h.Decisions != nil {
		h.Decisions(string(h.Flavour), d.Outcome)
	}
	if h.Logger == nil {
		return
	}
	level, msg := zap.DebugLevel, "media hook answered"
	if !d.Admitted() {
		level, msg = zap.InfoLevel, "media hook denied"
	}
	ce := h.Logger.Check(level, msg)
	if ce == nil {
		return
	}
	// Publishers put stream keys where alias IDs go, by design (nginx-rtmp)
	// or by mistake: a name that was no alias is logged only if it is too
	// short to be a stream key.
	alias := req.AliasID
	switch {
	case d.Alias != nil:
		alias = d.Alias.ID
	case len(alias) >= minStreamKeyLength:
		alias = ""
	}
	ce.Write(
		zap.String("flavour", string(h.Flavour)),
		zap.String("alias", alias),
		zap.String("action", req.Action.String()),
		zap.String("outcome", d.Outcome),
		zap.Int("status", d.Status),
		zap.String("role", d.Grant.Role.String()),
		zap.String("client_ip", req.ClientIP),
		zap.String("client", req.Client),
	)
}

// Credential sources of the query strings media clients send, in the
// order the issue gives them; the names alias_auth reads as JWTs follow.
var queryCredentials = [...]struct {
	param string
	kind  CredentialKind
}{
	{"key", CredentialStreamKey},
	{"passcode", CredentialPasscode},
	{QueryToken, CredentialBearer},
	{QueryJWT, CredentialBearer},
	{QueryAccessToken, CredentialBearer},
}

// appendCredential appends a credential unless its value is empty: the
// servers send empty fields for what the client did not give.
func appendCredential(dst []Credential, kind CredentialKind, value string) []Credential {
	if value == "" {
		return dst
	}
	return append(dst, Credential{Kind: kind, Value: value})
}

func appendQueryCredential(dst []Credential, rawQuery, param string, kind CredentialKind) []Credential {
	v, _ := queryValue(rawQuery, param)
	return appendCredential(dst, kind, v)
}

func appendQueryCredentials(dst []Credential, rawQuery string) []Credential {
	if rawQuery == "" {
		return dst
	}
	for _, c := range queryCredentials {
		dst = appendQueryCredential(dst, rawQuery, c.param, c.kind)
	}
	return dst
}

// mediaMTXBody is what MediaMTX posts with authMethod http. id is null for
// requests without a session; older versions send no userAgent.
type mediaMTXBody struct {
	IP        string  `json:"ip"`
	User      string  `json:"user"`
	Password  string  `json:"password"`
	Token     string  `json:"token"`
	Action    string  `json:"action"`
	Path      string  `json:"path"`
	Protocol  string  `json:"protocol"`
	ID        *string `json:"id"`
	Query     string  `json:"query"`
	UserAgent string  `json:"userAgent"`
}

func parseMediaMTX(body []byte, prefix string, allow []string) (HookRequest, error) {
	var m mediaMTXBody
	if err := json.Unmarshal(body, &m); err != nil {
		return HookRequest{}, errors.New("the body is not MediaMTX's JSON object")
	}
	req := HookRequest{Flavour: FlavourMediaMTX, ClientIP: m.IP}
	if m.ID != nil {
		req.Client = *m.ID
	}
	switch m.Action {
	case "publish":
		req.Action = ActionPublish
	case "read", "playback":
		req.Action = ActionRead
	case "":
		return HookRequest{}, errors.New("the body has no action")
	default:
		req.Ack = slices.Contains(MediaMTXActions, m.Action) && slices.Contains(allow, m.Action)
		return req, nil
	}
	req.AliasID = mediaMTXAliasID(m.Path, prefix)
	creds := make([]Credential, 0, 2)
	if req.Action == ActionPublish {
		// A stream key, or a host JWT or owner token told apart by shape,
		// as in alias_auth's Authorization header.
		creds = appendCredential(creds, CredentialBearer, m.Password)
		creds = appendCredential(creds, CredentialBearer, m.Token)
		creds = appendQueryCredential(creds, m.Query, "key", CredentialStreamKey)
	} else {
		// RTSP, RTMP and SRT readers have only the password to carry a
		// JWT, and MediaMTX's own JWT mode reads it there too.
		kind := CredentialPasscode
		if LooksLikeJWT(m.Password) {
			kind = CredentialJWT
		}
		creds = appendCredential(creds, kind, m.Password)
		creds = appendQueryCredential(creds, m.Query, "passcode", CredentialPasscode)
		creds = appendCredential(creds, CredentialBearer, m.Token)
	}
	creds = appendQueryCredential(creds, m.Query, QueryToken, CredentialBearer)
	creds = appendQueryCredential(creds, m.Query, QueryJWT, CredentialBearer)
	creds = appendQueryCredential(creds, m.Query, QueryAccessToken, CredentialBearer)
	req.Credentials = creds
	return req, nil
}

// mediaMTXAliasID is the path after the prefix's whole elements, or the
// last path element without a prefix.
func mediaMTXAliasID(path, prefix string) string {
	path = strings.TrimPrefix(path, "/")
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return path[strings.LastIndexByte(path, '/')+1:]
	}
	if len(path) <= len(prefix) || path[len(prefix)] != '/' || !strings.HasPrefix(path, prefix) {
		return ""
	}
	return path[len(prefix)+1:]
}

// srsBody is what SRS posts from http_hooks.
type srsBody struct {
	Action   string      `json:"action"`
	ClientID srsClientID `json:"client_id"`
	IP       string      `json:"ip"`
	Stream   string      `json:"stream"`
	// Param is the client's query with its leading "?".
	Param string `json:"param"`
}

// srsClientID is a string in SRS 4 and later, an integer before.
type srsClientID string

func (id *srsClientID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = srsClientID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*id = srsClientID(n)
	return nil
}

func parseSRS(body []byte) (HookRequest, error) {
	var m srsBody
	if err := json.Unmarshal(body, &m); err != nil {
		return HookRequest{}, errors.New("the body is not SRS's JSON object")
	}
	req := HookRequest{Flavour: FlavourSRS, ClientIP: m.IP, Client: string(m.ClientID)}
	switch m.Action {
	case "on_publish":
		req.Action = ActionPublish
	case "on_play":
		req.Action = ActionRead
	case "":
		return HookRequest{}, errors.New("the body has no action")
	default:
		// on_connect names no stream yet; on_unpublish, on_stop, on_close,
		// on_dvr and the rest report what happened.
		req.Ack = true
		return req, nil
	}
	req.AliasID = m.Stream
	req.Credentials = appendQueryCredentials(make([]Credential, 0, 2), strings.TrimPrefix(m.Param, "?"))
	return req, nil
}

// parseNginxRTMP reads nginx-rtmp's form. nginx writes its own fields
// first and appends the client's query after them, so the first value of
// a name is nginx's: a client cannot forge call, name or addr.
func parseNginxRTMP(body []byte) (HookRequest, error) {
	form := string(body)
	call, _ := queryValue(form, "call")
	req := HookRequest{Flavour: FlavourNginxRTMP}
	req.ClientIP, _ = queryValue(form, "addr")
	req.Client, _ = queryValue(form, "clientid")
	switch call {
	case "publish", "update_publish":
		req.Action = ActionPublish
		req.NameMayBeKey = true
	case "play", "update_play":
		req.Action = ActionRead
	case "":
		return HookRequest{}, errors.New("the form has no call")
	default:
		// connect, disconnect, done, publish_done, play_done, record_done
		// and update without a stream admit nobody.
		req.Ack = true
		return req, nil
	}
	req.Recheck = strings.HasPrefix(call, "update_")
	req.AliasID, _ = queryValue(form, "name")
	req.Credentials = appendQueryCredentials(make([]Credential, 0, 2), form)
	return req, nil
}

// omeBody is what OvenMediaEngine's AdmissionWebhooks post.
type omeBody struct {
	Client struct {
		Address string `json:"address"`
	} `json:"client"`
	Request struct {
		Direction string `json:"direction"`
		Status    string `json:"status"`
		URL       string `json:"url"`
	} `json:"request"`
}

func parseOME(body []byte) (HookRequest, error) {
	var m omeBody
	if err := json.Unmarshal(body, &m); err != nil {
		return HookRequest{}, errors.New("the body is not OvenMediaEngine's JSON object")
	}
	req := HookRequest{Flavour: FlavourOME, ClientIP: m.Client.Address}
	switch m.Request.Status {
	case "closing":
		req.Ack = true
		return req, nil
	case "opening":
	default:
		return HookRequest{}, errors.New("request.status must be opening or closing")
	}
	switch m.Request.Direction {
	case "incoming":
		req.Action = ActionPublish
	case "outgoing":
		req.Action = ActionRead
	default:
		return HookRequest{}, errors.New("request.direction must be incoming or outgoing")
	}
	u, err := url.Parse(m.Request.URL)
	if err != nil {
		return HookRequest{}, errors.New("request.url is not a URL")
	}
	req.AliasID = omeStream(u.Path)
	query := u.RawQuery
	if req.AliasID == "" {
		// SRT has no path: the whole URL is the percent-encoded streamid.
		if sid, _ := queryValue(query, "streamid"); sid != "" {
			if inner, err := url.Parse(sid); err == nil {
				req.AliasID, query = omeStream(inner.Path), inner.RawQuery
			}
		}
	}
	req.Credentials = appendQueryCredentials(make([]Credential, 0, 2), query)
	return req, nil
}

// omeStream is the stream of an OvenMediaEngine path /app/stream[/file]:
// the element after the application, or the only element.
func omeStream(path string) string {
	path = strings.Trim(path, "/")
	app, rest, ok := strings.Cut(path, "/")
	if !ok {
		return app
	}
	stream, _, _ := strings.Cut(rest, "/")
	return stream
}

// verifyOMESignature checks signature, base64url(HMAC-SHA1(secret, body)),
// in constant time.
func verifyOMESignature(secret, body []byte, signature string) bool {
	if len(secret) == 0 || signature == "" {
		return false
	}
	given, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(signature, "="))
	if err != nil {
		return false
	}
	mac := hmac.New(sha1.New, secret)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), given)
}

// readError reports a request that was not read as the server's: it is
// answered with its HTTP status in every flavour but SRS.
func (d *HookDecision) readError() bool {
	switch d.Outcome {
	case OutcomeBadSignature, OutcomeBadRequest, OutcomeTooLarge, OutcomeBadMethod:
		return true
	}
	return false
}

// writeMediaMTX answers MediaMTX: any 2xx admits; 401 makes it ask its
// client for credentials, so it is kept for a request that had none.
func writeMediaMTX(w http.ResponseWriter, d *HookDecision) {
	switch {
	case d.Admitted():
		w.WriteHeader(http.StatusNoContent)
	case d.readError():
		WriteError(w, d.Status, d.Outcome, d.Detail)
	case d.Outcome == OutcomeNoCredential:
		unauthorizedHook(w, d)
	default:
		WriteError(w, http.StatusForbidden, d.Outcome, d.Detail)
	}
}

func unauthorizedHook(w http.ResponseWriter, d *HookDecision) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="linkgate"`)
	WriteError(w, http.StatusUnauthorized, d.Outcome, d.Detail)
}

// srsReply is SRS's answer: code 0 admits, anything else refuses.
type srsReply struct {
	Code int    `json:"code"`
	Msg  string `json:"msg,omitempty"`
}

// writeSRS answers SRS, which reads only a 200 with a JSON code.
func writeSRS(w http.ResponseWriter, d *HookDecision) {
	if d.Admitted() {
		writeJSON(w, http.StatusOK, srsReply{})
		return
	}
	writeJSON(w, http.StatusOK, srsReply{Code: d.Status, Msg: d.Detail})
}

// writeNginxRTMP answers nginx-rtmp: 2xx admits, 3xx renames the stream to
// Location, anything else refuses (and cuts a running stream on update).
func writeNginxRTMP(w http.ResponseWriter, d *HookDecision) {
	switch {
	case d.Rename != "":
		w.Header().Set("Location", d.Rename)
		w.WriteHeader(http.StatusFound)
	case d.Admitted():
		w.WriteHeader(http.StatusNoContent)
	case d.Status == http.StatusUnauthorized:
		unauthorizedHook(w, d)
	default:
		if d.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((d.RetryAfter+time.Second-1)/time.Second)))
		}
		WriteError(w, d.Status, d.Outcome, d.Detail)
	}
}

// omeReply is OvenMediaEngine's answer; a closing call gets {}.
type omeReply struct {
	Allowed *bool `json:"allowed,omitempty"`
	// Lifetime is in milliseconds; 0 would mean forever, so it is never 0.
	Lifetime int64  `json:"lifetime,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func writeOME(w http.ResponseWriter, d *HookDecision, now time.Time) {
	allowed := d.Admitted()
	switch {
	case d.Outcome == OutcomeAcknowledged:
		writeJSON(w, http.StatusOK, omeReply{})
	case allowed:
		writeJSON(w, http.StatusOK, omeReply{Allowed: &allowed, Lifetime: max(int64(d.Expiry.Sub(now)/time.Millisecond), 1)})
	case d.readError():
		writeJSON(w, d.Status, omeReply{Allowed: &allowed, Reason: d.Detail})
	default:
		writeJSON(w, http.StatusOK, omeReply{Allowed: &allowed, Reason: d.Detail})
	}
}
