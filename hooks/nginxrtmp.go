package hooks

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/linkgate/linkgate/gate"
)

// parseNginxRTMP reads nginx-rtmp's form. nginx writes its own fields
// first and appends the client's query after them, so the first value of
// a name is nginx's: a client cannot forge call, name or addr.
func parseNginxRTMP(body []byte) (Request, error) {
	form := string(body)
	call, _ := gate.QueryValue(form, "call")
	var req Request
	req.ClientIP, _ = gate.QueryValue(form, "addr")
	req.Client, _ = gate.QueryValue(form, "clientid")
	switch call {
	case "publish", "update_publish":
		req.Action = ActionPublish
		req.NameMayBeKey = true
	case "play", "update_play":
		if nginxRelay(req.ClientIP) {
			req.Ack = true
			return req, nil
		}
		req.Action = ActionRead
	case "":
		return Request{}, errors.New("the form has no call")
	default:
		// connect, disconnect, done, publish_done, play_done, record_done
		// and update without a stream admit nobody.
		req.Ack = true
		return req, nil
	}
	req.Recheck = strings.HasPrefix(call, "update_")
	req.AliasID, _ = gate.QueryValue(form, "name")
	var c credentials
	c.query(form, queryParams...)
	req.Credential = c.first
	return req, nil
}

// nginxRelay reports whether addr, the addr field nginx writes itself, is
// that of one of nginx's own relay sessions: a push (to another
// application or server) reads the stream locally, as a player would, and
// its addr is the push target's URL, where a client's is always its IP
// address (also behind proxy_protocol, which nginx re-prints). Such a read
// is acknowledged: it carries no credential of its own, and the stream it
// reads is checked through its publisher's calls, whose refusal ends the
// push too.
func nginxRelay(addr string) bool {
	if addr == "" {
		return false
	}
	_, err := netip.ParseAddr(addr)
	return err != nil
}

// writeNginxRTMP answers nginx-rtmp: 2xx admits, 3xx renames the stream to
// Location, anything else refuses (and cuts a running stream on update).
// A publisher that named its stream by its key is renamed to the alias ID
// when it starts, so the key never shows in playback URLs.
func writeNginxRTMP(w http.ResponseWriter, a *answer, req *Request) {
	switch {
	case a.Admitted() && a.ByStreamKey && !req.Recheck:
		w.Header().Set("Location", a.Alias.ID)
		w.WriteHeader(http.StatusFound)
	case a.Admitted():
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, a)
	}
}
