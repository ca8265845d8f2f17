package aliasapi

import (
	"context"
	"net/http"
)

// asOrgKey is the context key under which ServeAs passes the organization.
// It is unexported, so no request that came over HTTP can carry it.
type asOrgKey struct{}

// ServeAs answers r exactly as ServeHTTP answers it for a valid token of
// organization orgID, without reading or checking any token: for a caller
// that knows the organization another way, such as the "caddy linkgate
// alias" commands, which hold the database itself. orgID must name an
// existing organization. No handler calls it: it is not reachable over
// HTTP.
func (api *API) ServeAs(w http.ResponseWriter, r *http.Request, orgID string) {
	api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), asOrgKey{}, orgID)))
}

// servedAs returns the organization ServeAs passed with r.
func servedAs(r *http.Request) (string, bool) {
	orgID, ok := r.Context().Value(asOrgKey{}).(string)
	return orgID, ok
}
