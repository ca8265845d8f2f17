package hooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// MediaMTXActions are the MediaMTX actions that name no stream; a hook
// refuses them unless its AllowActions lists them.
var MediaMTXActions = []string{"api", "metrics", "pprof"}

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

func parseMediaMTX(body []byte, prefix string, allow []string) (Request, error) {
	var m mediaMTXBody
	if err := json.Unmarshal(body, &m); err != nil {
		return Request{}, errors.New("the body is not MediaMTX's JSON object")
	}
	req := Request{ClientIP: m.IP, Protocol: m.Protocol}
	if m.ID != nil {
		req.Client = *m.ID
	}
	switch m.Action {
	case "publish":
		req.Action = ActionPublish
	case "read", "playback":
		req.Action = ActionRead
	case "":
		return Request{}, errors.New("the body has no action")
	default:
		req.Ack = slices.Contains(MediaMTXActions, m.Action) && slices.Contains(allow, m.Action)
		if m.Action == "api" {
			req.apiAction, req.apiUser, req.apiPassword = true, m.User, m.Password
		}
		return req, nil
	}
	req.AliasID = mediaMTXAliasID(m.Path, prefix)
	var c credentials
	if req.Action == ActionPublish {
		// A stream key, or a host JWT or owner token told apart by shape,
		// as in alias_auth's Authorization header.
		c.field(gate.KindBearer, m.Password)
	} else {
		// RTSP, RTMP and SRT readers have only the password to carry a
		// JWT, and MediaMTX's own JWT mode reads it there too.
		kind := gate.KindPasscode
		if alias.LooksLikeJWT(m.Password) {
			kind = gate.KindJWT
		}
		c.field(kind, m.Password)
	}
	c.field(gate.KindBearer, m.Token)
	c.query(m.Query, queryParams...)
	req.Credential = c.first
	return req, nil
}

// mediaMTXAliasID is the alias a MediaMTX path names: the single element
// after the prefix's whole elements, or the whole path when it is a single
// element and there is no prefix. Anything else names no alias: taking the
// last element of live/<A>/<B> would admit <B> under <A>'s credentials
// wherever MediaMTX serves the longer path.
func mediaMTXAliasID(path, prefix string) string {
	path = strings.TrimPrefix(path, "/")
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		rest, ok := strings.CutPrefix(path, prefix+"/")
		if !ok {
			return ""
		}
		path = rest
	}
	if strings.Contains(path, "/") || path == "." || path == ".." {
		return ""
	}
	return path
}

// writeMediaMTX answers MediaMTX: any 2xx admits; 401 makes it ask its
// client for credentials, so it is kept for a request that had none.
func writeMediaMTX(w http.ResponseWriter, a *answer) {
	switch {
	case a.Admitted():
		w.WriteHeader(http.StatusNoContent)
	case a.readError(), a.Reason == gate.ReasonNoCredential:
		writeError(w, a)
	default:
		gate.WriteError(w, http.StatusForbidden, a.Reason.Code(), a.Detail())
	}
}
