package hooks

import (
	"context"
	"net/http"
)

// SRS's HTTP API (SRS 4, 5 and 6): DELETE /api/v1/clients/{id} kicks a
// client by the client_id of its http_hooks calls. SRS answers 200 to
// every call, with its verdict as the JSON code: 0 done, 2049
// (ERROR_RTMP_CLIENT_NOT_FOUND) for a client it no longer has.
const srsClientNotFound = 2049

// maxSRSClientID bounds a client_id: SRS 5 and later write 8 characters,
// SRS 3 and 4 a number.
const maxSRSClientID = 64

// srsKickable reports whether id can name an SRS client in an API path.
func srsKickable(id string) bool {
	if id == "" || len(id) > maxSRSClientID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// kickSRS ends SRS client id.
func (a *API) kickSRS(ctx context.Context, id string) (KickOutcome, error) {
	var reply struct {
		Code *int `json:"code"`
	}
	status, err := a.call(ctx, http.MethodDelete, "/api/v1/clients/"+id, nil, &reply)
	switch {
	case err != nil:
		return KickFailed, err
	case status != http.StatusOK:
		return KickFailed, &callError{code: FailureUnexpectedStatus, status: status}
	case reply.Code == nil:
		return KickFailed, &callError{code: FailureBadResponse, status: status}
	case *reply.Code == 0:
		return KickKicked, nil
	case *reply.Code == srsClientNotFound:
		return KickGone, nil
	}
	return KickFailed, &callError{code: FailureRefused, status: status}
}
