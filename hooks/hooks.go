// Package hooks answers media servers' admission hooks. MediaMTX, SRS,
// nginx-rtmp and OvenMediaEngine admit RTMP, SRT and RTSP clients that
// never pass through an HTTP proxy, but each can ask an HTTP endpoint
// first. A Handler reads one server's question, asks the gate for the
// decision alias_auth makes on live aliases, and answers in that server's
// format. Each server's body, parser and reply live in a file of its own.
package hooks

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"go.uber.org/zap"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

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
	// api, metrics and pprof: never admitted.
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

// MaxBodySize bounds a hook request's body: every server's request is a
// few hundred bytes.
const MaxBodySize = 64 << 10

// Request is a media server's question, whatever the server.
type Request struct {
	// AliasID is the alias the stream names. For an nginx-rtmp publisher
	// it may be the stream key instead: see NameMayBeKey.
	AliasID string
	Action  Action
	// Credential is the first credential the client presented, in the
	// flavour's order. Only it is checked, as alias_auth checks only the
	// first it finds: trying every one would multiply a guesser's attempts.
	Credential gate.Credential
	// ClientIP is the media client's address as the server reports it; the
	// throttling of failed credentials counts per client IP and alias.
	ClientIP string
	// Client is the server's ID of the client's session: MediaMTX's id,
	// SRS's client_id.
	Client string
	// Protocol is the protocol MediaMTX names in its request.
	Protocol string
	// Ack marks a call that admits nobody (a stream or connection ended):
	// it is acknowledged without a decision.
	Ack bool
	// Ended marks a notice that the client's session ended (SRS's
	// on_close, on_unpublish and on_stop).
	Ended bool
	// Recheck marks a periodic re-check of a running stream (nginx-rtmp's
	// update_*), which cannot rename the stream.
	Recheck bool
	// NameMayBeKey marks an nginx-rtmp publisher's stream name: a name
	// that is no alias ID may be the stream key of one.
	NameMayBeKey bool

	// apiUser and apiPassword are the credentials of a call to MediaMTX's
	// own API, which MediaMTX asks the hook about (action api).
	apiUser, apiPassword string
	apiAction            bool
}

// Handler answers one media server's admission hooks over plain net/http.
type Handler struct {
	Gate    *gate.Gate
	Flavour Flavour
	// PathPrefix (MediaMTX) is the leading path elements removed from a
	// path to get the alias ID; empty takes paths of a single element.
	PathPrefix string
	// AllowActions (MediaMTX) lists the MediaMTXActions that are
	// acknowledged; the others are refused.
	AllowActions []string
	// Secret (OvenMediaEngine) is the key of the HMAC-SHA1 signature every
	// request must carry; a request without it is refused unread.
	Secret []byte
	// Sessions (MediaMTX, SRS), when set, tracks the sessions the hook
	// admits and ends them through the server's API when their right to
	// exist ends; MediaMTX's calls to its API with the API's credentials
	// are acknowledged.
	Sessions *Sessions
	// Decisions, when set, is told the flavour and reason of every request
	// answered, for metrics. It must not block.
	Decisions func(flavour Flavour, reason gate.Reason)
	// Logger records decisions: refusals at info, the rest at debug.
	Logger *zap.Logger
}

// answer is a decision and what the reply may say of it.
type answer struct {
	gate.Decision
	// detail replaces the reason's sentence for a request that could not
	// be read: the server's operator needs to know why.
	detail string
}

func (a *answer) Detail() string {
	if a.detail != "" {
		return a.detail
	}
	return a.Reason.Detail()
}

// ServeHTTP answers one hook request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, ans := h.read(w, r)
	if ans.Reason == 0 {
		ans.Decision = h.decide(r.Context(), &req)
		h.session(&req, &ans.Decision)
	}
	switch h.Flavour {
	case FlavourMediaMTX:
		writeMediaMTX(w, &ans)
	case FlavourSRS:
		writeSRS(w, &ans)
	case FlavourNginxRTMP:
		writeNginxRTMP(w, &ans, &req)
	case FlavourOME:
		writeOME(w, &ans, h.Gate.Time())
	}
	h.record(&req, &ans)
}

func (h *Handler) decide(ctx context.Context, req *Request) gate.Decision {
	var need alias.Requirement
	switch {
	case req.Ack:
		return gate.Decision{Reason: gate.ReasonAcknowledged}
	case req.apiAction && h.Sessions != nil:
		return h.apiCall(req)
	case req.Action == ActionPublish:
		need = alias.RequirePublish
	case req.Action == ActionRead:
		need = alias.RequireViewer
	default:
		return gate.Decision{Reason: gate.ReasonActionNotAllowed}
	}
	return h.Gate.Decide(ctx, &gate.Request{
		AliasID:      req.AliasID,
		Type:         alias.TypeLive,
		Need:         need,
		Credential:   req.Credential,
		Client:       req.ClientIP,
		NameMayBeKey: req.NameMayBeKey,
	})
}

// apiCallBucket is the limiter's "alias" for guesses of the api URL's
// password. It cannot be an alias ID.
const apiCallBucket = "\x00mediamtx_api"

// apiCall decides on a call to MediaMTX's own API, which MediaMTX asks
// about: linkgate's, with the user and password of its api URL, is
// acknowledged, and every other refused. Other credentials count as a
// failed guess of the caller, so that the password cannot be guessed
// through MediaMTX's API.
func (h *Handler) apiCall(req *Request) gate.Decision {
	if req.apiUser == "" && req.apiPassword == "" {
		return gate.Decision{Reason: gate.ReasonActionNotAllowed}
	}
	if retry, blocked := h.Gate.Throttled(req.ClientIP, apiCallBucket); blocked {
		return gate.Decision{Reason: gate.ReasonThrottled, RetryAfter: retry}
	}
	if h.Sessions.API().IsCaller(req.apiUser, req.apiPassword) {
		return gate.Decision{Reason: gate.ReasonAcknowledged}
	}
	h.Gate.Failed(req.ClientIP, apiCallBucket)
	return gate.Decision{Reason: gate.ReasonActionNotAllowed}
}

// session tells the sessions what the decision on req started or ended.
func (h *Handler) session(req *Request, d *gate.Decision) {
	switch {
	case h.Sessions == nil:
	case req.Ended:
		h.Sessions.ended(req)
	case d.Admitted() && d.Reason != gate.ReasonAcknowledged:
		h.Sessions.admit(h.Gate, req, d)
	}
}

// read turns r into a Request; on failure the answer says why.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) (Request, answer) {
	var body []byte
	switch {
	case r.Method == http.MethodPost:
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return Request{}, refusal(gate.ReasonBodyTooLarge, "")
		case err != nil:
			return Request{}, refusal(gate.ReasonBadRequest, "the request body could not be read")
		}
	case r.Method == http.MethodGet && h.Flavour == FlavourNginxRTMP:
		// notify_method get sends the form as the query.
		body = []byte(r.URL.RawQuery)
	default:
		w.Header().Set("Allow", http.MethodPost)
		return Request{}, refusal(gate.ReasonMethodNotAllowed, "")
	}
	if h.Flavour == FlavourOME && !verifyOMESignature(h.Secret, body, r.Header.Get(HeaderOMESignature)) {
		return Request{}, refusal(gate.ReasonBadHookSignature, "")
	}
	var req Request
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
		return Request{}, refusal(gate.ReasonBadRequest, err.Error())
	}
	if req.ClientIP == "" {
		// Throttling needs some key; the server's own address is the
		// next best thing to the client's.
		req.ClientIP, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	return req, answer{}
}

func refusal(r gate.Reason, detail string) answer {
	return answer{Decision: gate.Decision{Reason: r}, detail: detail}
}

// readError reports a request that was not read as the server's: it is
// answered with its HTTP status in every flavour but SRS.
func (a *answer) readError() bool {
	switch a.Reason {
	case gate.ReasonBadHookSignature, gate.ReasonBadRequest, gate.ReasonBodyTooLarge, gate.ReasonMethodNotAllowed:
		return true
	}
	return false
}

// writeError answers the reason's status with the JSON error body.
func writeError(w http.ResponseWriter, a *answer) {
	if a.Reason == gate.ReasonNoCredential || a.Reason.BadCredential() {
		w.Header().Set("WWW-Authenticate", `Bearer realm="linkgate"`)
	}
	if a.RetryAfter > 0 {
		w.Header().Set("Retry-After", gate.RetryAfter(a.RetryAfter))
	}
	gate.WriteError(w, a.Reason.Status(), a.Reason.Code(), a.Detail())
}

func (h *Handler) record(req *Request, a *answer) {
	if h.Decisions != nil {
		h.Decisions(h.Flavour, a.Reason)
	}
	if h.Logger == nil {
		return
	}
	level, msg := zap.DebugLevel, "media hook answered"
	if !a.Admitted() {
		level, msg = zap.InfoLevel, "media hook denied"
	}
	ce := h.Logger.Check(level, msg)
	if ce == nil {
		return
	}
	// Publishers put stream keys where alias IDs go, by design (nginx-rtmp)
	// or by mistake: a name that was no alias is logged only if it is too
	// short to be a stream key.
	aliasID := req.AliasID
	switch {
	case a.Alias != nil:
		aliasID = a.Alias.ID
	case len(aliasID) >= alias.MinStreamKeyLength:
		aliasID = ""
	}
	ce.Write(
		zap.String("flavour", string(h.Flavour)),
		zap.String("alias", aliasID),
		zap.String("action", req.Action.String()),
		zap.String("reason", a.Reason.String()),
		zap.Int("status", a.Reason.Status()),
		zap.String("role", a.Grant.Role.String()),
		zap.String("client_ip", req.ClientIP),
		zap.String("client", req.Client),
	)
}

// Credential parameters of the query strings media clients send, in the
// order they are consulted: "key" for publishers' stream keys, then those
// alias_auth reads, in its order (the token parameters, then the
// passcode).
var (
	paramKey    = gate.QueryParam{Name: "key", Kind: gate.KindStreamKey}
	queryParams = append([]gate.QueryParam{paramKey}, gate.HTTPParams...)
)

// credentials collects a client's credentials in a flavour's order; the
// first one present is the one checked.
type credentials struct {
	first gate.Credential
}

// field offers a credential from a body field; servers send empty fields
// for what the client did not give.
func (c *credentials) field(kind gate.Kind, value string) {
	if c.first.Kind == gate.KindNone && value != "" {
		c.first = gate.Credential{Kind: kind, Value: value}
	}
}

// query offers the credentials of a raw query, in the order of params.
func (c *credentials) query(rawQuery string, params ...gate.QueryParam) {
	if c.first.Kind != gate.KindNone {
		return
	}
	if cred, ok := gate.FromQuery(rawQuery, params); ok {
		c.first = cred
	}
}
