package hooks

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// MediaMTX's Control API, v3 (MediaMTX v1.x). The id of an auth request is
// the connection's for RTMP, SRT and RTSP, and the session's for WebRTC:
// the kick endpoints of RTMP, SRT and WebRTC take it as it is, RTSP's take
// the session the connection carries. An auth request says "rtmp" and
// "rtsp" for their TLS variants too, so both collections are tried, the
// one that knows the ID answering. HLS and playback requests name nothing
// the API can end.

// mediaMTXConns are, by the protocol of an auth request, the collections
// that hold what its id names.
var mediaMTXConns = map[string][]string{
	"rtmp":   {"rtmpconns", "rtmpsconns"},
	"rtsp":   {"rtspconns", "rtspsconns"},
	"srt":    {"srtconns"},
	"webrtc": {"webrtcsessions"},
}

// mediaMTXRTSPSessions are the session collections of the RTSP connection
// collections.
var mediaMTXRTSPSessions = map[string]string{"rtspconns": "rtspsessions", "rtspsconns": "rtspssessions"}

// mediaMTXPageSize is how many items a page of a list asks for.
const mediaMTXPageSize = 500

// maxMediaMTXPages bounds the pages read of one list, whatever pageCount
// the server claims.
const maxMediaMTXPages = 1000

// mediaMTXKickable reports whether the API can end the session of an auth
// request of protocol with this id.
func mediaMTXKickable(protocol, id string) bool {
	return mediaMTXConns[protocol] != nil && validUUID(id)
}

// validUUID reports whether s is a UUID in the lower-case text form
// MediaMTX writes its IDs in. Only such IDs go into an API path.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		default:
			return false
		}
	}
	return true
}

// kickMediaMTX ends the session MediaMTX admitted with protocol and id.
func (a *API) kickMediaMTX(ctx context.Context, protocol, id string) (KickOutcome, error) {
	for _, coll := range mediaMTXConns[protocol] {
		kick := a.kickMediaMTXIn
		if sessions := mediaMTXRTSPSessions[coll]; sessions != "" {
			kick = func(ctx context.Context, coll, id string) (KickOutcome, error) {
				return a.kickMediaMTXRTSP(ctx, coll, sessions, id)
			}
		}
		outcome, err := kick(ctx, coll, id)
		if err != nil || outcome != KickGone {
			return outcome, err
		}
	}
	return KickGone, nil
}

// kickMediaMTXIn kicks id out of a collection: 200 when it did, 404 when
// the collection holds no such ID or the server does not serve it.
func (a *API) kickMediaMTXIn(ctx context.Context, coll, id string) (KickOutcome, error) {
	status, err := a.call(ctx, http.MethodPost, "/v3/"+coll+"/kick/"+id, nil, nil)
	switch {
	case err != nil:
		return KickFailed, err
	case status >= 200 && status < 300:
		return KickKicked, nil
	case status == http.StatusNotFound:
		return KickGone, nil
	}
	return KickFailed, &callError{code: FailureUnexpectedStatus, status: status}
}

// kickMediaMTXRTSP kicks the session of RTSP connection id out of the
// sessions collection. A connection without a session has nothing to
// end: it must set one up, and MediaMTX asks the hook again then.
func (a *API) kickMediaMTXRTSP(ctx context.Context, conns, sessions, id string) (KickOutcome, error) {
	var conn struct {
		Session *string `json:"session"`
	}
	status, err := a.call(ctx, http.MethodGet, "/v3/"+conns+"/get/"+id, nil, &conn)
	switch {
	case err != nil:
		return KickFailed, err
	case status == http.StatusNotFound:
		return KickGone, nil
	case status < 200 || status >= 300:
		return KickFailed, &callError{code: FailureUnexpectedStatus, status: status}
	case conn.Session == nil:
		return KickGone, nil
	case !validUUID(*conn.Session):
		return KickFailed, &callError{code: FailureBadResponse, status: status}
	}
	return a.kickMediaMTXIn(ctx, sessions, *conn.Session)
}

// listMediaMTX returns the IDs MediaMTX holds in the collections of
// protocol. known is false when no collection answered with a list: the
// server serves none of them, or the URL is not its API, and nothing may
// be concluded of an ID's absence.
func (a *API) listMediaMTX(ctx context.Context, protocol string) (ids map[string]bool, known bool, err error) {
	ids = map[string]bool{}
	for _, coll := range mediaMTXConns[protocol] {
		for page := 0; page < maxMediaMTXPages; page++ {
			var list struct {
				PageCount int `json:"pageCount"`
				Items     []struct {
					ID string `json:"id"`
				} `json:"items"`
			}
			query := url.Values{"itemsPerPage": {strconv.Itoa(mediaMTXPageSize)}, "page": {strconv.Itoa(page)}}
			callCtx, cancel := context.WithTimeout(ctx, a.Timeout())
			status, err := a.call(callCtx, http.MethodGet, "/v3/"+coll+"/list", query, &list)
			cancel()
			switch {
			case err != nil:
				return nil, false, err
			case status == http.StatusNotFound:
			case status < 200 || status >= 300:
				return nil, false, &callError{code: FailureUnexpectedStatus, status: status}
			default:
				known = true
				for _, item := range list.Items {
					ids[item.ID] = true
				}
				if page+1 < list.PageCount && len(list.Items) > 0 {
					continue
				}
			}
			break
		}
	}
	return ids, known, nil
}
