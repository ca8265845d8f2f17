package hooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/linkgate/linkgate/gate"
)

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

func parseSRS(body []byte) (Request, error) {
	var m srsBody
	if err := json.Unmarshal(body, &m); err != nil {
		return Request{}, errors.New("the body is not SRS's JSON object")
	}
	req := Request{ClientIP: m.IP, Client: string(m.ClientID)}
	switch m.Action {
	case "on_publish":
		req.Action = ActionPublish
	case "on_play":
		req.Action = ActionRead
	case "":
		return Request{}, errors.New("the body has no action")
	default:
		// on_connect names no stream yet; on_unpublish, on_stop, on_close,
		// on_dvr and the rest report what happened.
		req.Ack = true
		switch m.Action {
		case "on_close", "on_unpublish", "on_stop":
			req.Ended = true
		}
		return req, nil
	}
	req.AliasID = m.Stream
	var c credentials
	c.query(strings.TrimPrefix(m.Param, "?"), queryParams...)
	req.Credential = c.first
	return req, nil
}

// srsReply is SRS's answer: code 0 admits, anything else refuses.
type srsReply struct {
	Code int    `json:"code"`
	Msg  string `json:"msg,omitempty"`
}

// writeSRS answers SRS, which reads only a 200 with a JSON code.
func writeSRS(w http.ResponseWriter, a *answer) {
	if a.Admitted() {
		gate.WriteJSON(w, http.StatusOK, srsReply{})
		return
	}
	gate.WriteJSON(w, http.StatusOK, srsReply{Code: a.Reason.Status(), Msg: a.Detail()})
}
