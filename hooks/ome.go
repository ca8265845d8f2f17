package hooks

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/linkgate/linkgate/gate"
)

// HeaderOMESignature carries OvenMediaEngine's signature of the body.
const HeaderOMESignature = "X-OME-Signature"

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

func parseOME(body []byte) (Request, error) {
	var m omeBody
	if err := json.Unmarshal(body, &m); err != nil {
		return Request{}, errors.New("the body is not OvenMediaEngine's JSON object")
	}
	req := Request{ClientIP: m.Client.Address}
	switch m.Request.Status {
	case "closing":
		req.Ack = true
		return req, nil
	case "opening":
	default:
		return Request{}, errors.New("request.status must be opening or closing")
	}
	switch m.Request.Direction {
	case "incoming":
		req.Action = ActionPublish
	case "outgoing":
		req.Action = ActionRead
	default:
		return Request{}, errors.New("request.direction must be incoming or outgoing")
	}
	u, err := url.Parse(m.Request.URL)
	if err != nil {
		return Request{}, errors.New("request.url is not a URL")
	}
	req.AliasID = omeStream(u.Path)
	query := u.RawQuery
	if req.AliasID == "" {
		// SRT has no path: the whole URL is the percent-encoded streamid.
		if sid, _ := gate.QueryValue(query, "streamid"); sid != "" {
			if inner, err := url.Parse(sid); err == nil {
				req.AliasID, query = omeStream(inner.Path), inner.RawQuery
			}
		}
	}
	var c credentials
	c.query(query, queryParams...)
	req.Credential = c.first
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

// omeReply is OvenMediaEngine's answer; a closing call gets {}.
type omeReply struct {
	Allowed *bool `json:"allowed,omitempty"`
	// Lifetime is in milliseconds; 0 would mean forever, so it is never 0.
	Lifetime int64  `json:"lifetime,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// writeOME answers OvenMediaEngine. An admission carries a lifetime that
// ends with the credential or the alias, so OvenMediaEngine closes the
// session then without asking again.
func writeOME(w http.ResponseWriter, a *answer, now time.Time) {
	allowed := a.Admitted()
	switch {
	case a.Reason == gate.ReasonAcknowledged:
		gate.WriteJSON(w, http.StatusOK, omeReply{})
	case allowed:
		gate.WriteJSON(w, http.StatusOK, omeReply{Allowed: &allowed, Lifetime: max(int64(a.Expiry.Sub(now)/time.Millisecond), 1)})
	case a.readError():
		gate.WriteJSON(w, a.Reason.Status(), omeReply{Allowed: &allowed, Reason: a.Detail()})
	default:
		gate.WriteJSON(w, http.StatusOK, omeReply{Allowed: &allowed, Reason: a.Detail()})
	}
}
